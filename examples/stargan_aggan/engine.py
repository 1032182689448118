"""The training step and loop of the attention-guided StarGAN: a critic step every
iteration, a generator step every ``n_critic``-th, as StarGAN's ``solver.py``.

A :class:`Trainer` holds one run's networks, optimizers, schedules, data and progress.
:meth:`Trainer.fit` trains until the last epoch, ``--max-steps`` or a stop signal,
checkpointing every ``--save-every`` iterations, at every epoch's end and when
stopped; :meth:`Trainer.restore` continues a run from its checkpoint exactly. With
several processes (torchrun) every process trains on its shard of each batch order and
the gradients are averaged before each optimizer step, so the weights stay identical.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
from common.checkpoints import TRAINING_ENTRIES, check_fits, read_checkpoint, write_checkpoint
from common.config import ConfigError
from common.distributed import Distributed, autocast
from common.loop import EpochLoop, LossLog, Progress, set_requires_grad
from common.rundir import CHECKPOINT
from torch import Tensor

from attnguide.training import (
    capture_rng_state,
    linear_decay,
    restore_rng_state,
)

from .config import TrainConfig
from .data import TrainData
from .model import NAMES, build_model
from .objective import discriminator_loss, generator_loss

__all__ = ["ENTRIES", "Trainer"]

#: What a training checkpoint holds beyond the networks, and the type of each entry.
ENTRIES = {**TRAINING_ENTRIES, "domains": list, "world": int}


class Trainer(EpochLoop):
    """One training run on this process.

    Args:
        cfg: The validated configuration.
        data_root: The training data set.
        domains: Its domains, in label order.
        run_dir: Where checkpoints go (written by rank 0).
        dist: This process's place in the run.
        device: Where it trains.
    """

    def __init__(
        self,
        cfg: TrainConfig,
        data_root: Path,
        domains: list[str],
        run_dir: Path,
        dist: Distributed,
        device: torch.device,
    ) -> None:
        self.cfg, self.domains, self.run_dir = cfg, domains, run_dir
        self.dist, self.device = dist, device
        # The global stream draws the targets and the penalty's interpolation weights;
        # it is the same on every process and saved in the checkpoint.
        torch.manual_seed(cfg.seed)
        self.data = TrainData(cfg, data_root, domains, rank=dist.rank, world=dist.world)
        self.model = build_model(cfg, len(domains)).to(device)
        betas = (cfg.beta1, cfg.beta2)
        self.opt_G = torch.optim.Adam(self.model.G.parameters(), lr=cfg.lr, betas=betas)
        self.opt_D = torch.optim.Adam(self.model.D.parameters(), lr=cfg.d_lr, betas=betas)
        constant, decay = cfg.epochs - cfg.decay_epochs, max(cfg.decay_epochs, 1)
        self.sched_G = linear_decay(self.opt_G, constant_epochs=constant, decay_epochs=decay)
        self.sched_D = linear_decay(self.opt_D, constant_epochs=constant, decay_epochs=decay)
        self.schedulers = [self.sched_G, self.sched_D]
        self.progress = Progress()
        self.losses = LossLog(cfg.log_every)
        # The losses' forward passes run under autocast; backward and the optimizer
        # steps stay outside it, as torch.autocast asks.
        self.autocast = autocast(device, cfg.amp)

    # ------------------------------------------------------------------ checkpoints

    def save(self) -> None:
        """Writes the checkpoint (rank 0), atomically: a kill mid-write keeps the last one."""
        if not self.dist.main:
            return
        progress = dataclasses.replace(
            self.progress, elapsed=self.progress.elapsed + self._segment()
        )
        state = {
            **self.model.networks(),
            "opt_G": self.opt_G,
            "opt_D": self.opt_D,
            "sched_G": self.sched_G,
            "sched_D": self.sched_D,
            "rng": capture_rng_state(),
            "progress": dataclasses.asdict(progress),
            "losses": self.losses.state_dict(),
            "config": dataclasses.asdict(self.cfg),
            "domains": list(self.domains),
            "world": self.dist.world,
        }
        write_checkpoint(self.run_dir / CHECKPOINT, state)

    def restore(self, path: Path) -> None:
        """Continues from the checkpoint at ``path``: every state, exactly.

        Raises:
            ConfigError: the checkpoint is damaged, of another configuration, other
                domains or another number of processes.
        """
        saved = read_checkpoint(path, self.device, entries=ENTRIES)
        check_fits(self.model.networks(), NAMES, self.cfg, saved, path)
        if saved["domains"] != self.domains:
            raise ConfigError(
                f"--resume {path.parent}: the run was trained on the domains "
                f"{', '.join(map(str, saved['domains']))}, the data set now has "
                f"{', '.join(self.domains)}"
            )
        if saved["world"] != self.dist.world:
            raise ConfigError(
                f"--resume {path.parent}: the run was trained by {saved['world']} "
                f"process(es) and this is {self.dist.world}; resume it with as many (the data "
                "order is per process)"
            )
        try:
            for name, net in self.model.networks().items():
                net.load_state_dict(saved[name])
            self.opt_G.load_state_dict(saved["opt_G"])
            self.opt_D.load_state_dict(saved["opt_D"])
            self.sched_G.load_state_dict(saved["sched_G"])
            self.sched_D.load_state_dict(saved["sched_D"])
            restore_rng_state(saved["rng"])
            self.losses.load_state_dict(saved["losses"])
        except (KeyError, TypeError, ValueError, RuntimeError) as err:
            raise ConfigError(
                f"the checkpoint {path} holds a state this run cannot take: {err}"
            ) from None
        self.progress = Progress(**saved["progress"])

    # ------------------------------------------------------------------------ steps

    def train_step(self, x: Tensor, labels: Tensor, step: int) -> dict[str, Tensor]:
        """Iteration ``step`` (counted from 1): a critic step, then a generator step when
        ``step`` is a multiple of ``n_critic``; returns the detached losses."""
        cfg, model = self.cfg, self.model
        # StarGAN's targets: the batch's own labels, shuffled.
        targets = labels[torch.randperm(labels.shape[0]).to(labels.device)]

        with self.autocast:
            d_total, d_terms = discriminator_loss(cfg, model, x, labels, targets)
        self.opt_D.zero_grad(set_to_none=True)
        d_total.backward()
        d_params = list(model.D.parameters())
        self.dist.average_gradients(d_params)
        self.opt_D.step()
        logs = {f"D/{k}": v.detach() for k, v in d_terms.items()}

        if step % cfg.n_critic == 0:
            set_requires_grad(d_params, False)
            with self.autocast:
                g_total, g_terms, mask = generator_loss(cfg, model, x, labels, targets)
            self.opt_G.zero_grad(set_to_none=True)
            g_total.backward()
            self.dist.average_gradients(list(model.G.parameters()))
            self.opt_G.step()
            set_requires_grad(d_params, True)
            logs.update({f"G/{k}": v.detach() for k, v in g_terms.items()})
            if mask is not None:
                logs["mask/mean"] = mask.detach().mean()
        return logs

    # ------------------------------------------------------------------------- loop

    def train_batch(self, batch: Any, extras: dict[str, float]) -> dict[str, Tensor]:
        images, labels = batch
        return self.train_step(
            images.to(self.device), labels.to(self.device), self.progress.step + 1
        )

    def learning_rate(self) -> float:
        return self.opt_G.param_groups[0]["lr"]
