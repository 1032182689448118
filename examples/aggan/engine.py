"""The training step and loop of AGGAN: one generator step, then one discriminator step.

A :class:`Trainer` holds one run's networks, optimizers, schedules, image pools, data
and progress. :meth:`Trainer.fit` trains until the last epoch, ``--max-steps`` or a
stop signal, checkpointing every ``--save-every`` steps, at every epoch's end and when
stopped; :meth:`Trainer.restore` continues a run from its checkpoint exactly.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
from common.checkpoints import write_checkpoint
from common.config import ConfigError
from common.distributed import Distributed, autocast, to_cpu
from common.loop import EpochLoop, LossLog, Progress, set_requires_grad
from common.rundir import CHECKPOINT
from torch import Tensor

from attnguide.losses import curriculum_rate
from attnguide.training import (
    ImagePool,
    capture_rng_state,
    linear_decay,
    restore_rng_state,
)

from .checkpointing import load_networks, read_checkpoint
from .config import TrainConfig
from .data import TrainData
from .model import Augmented, Discriminators, Generators, build_model
from .objective import discriminator_loss, generator_loss, loss_weights

__all__ = ["Trainer"]


class Trainer(EpochLoop):
    """One AGGAN training run on this process.

    Args:
        cfg: The validated configuration.
        data_root: The training data set.
        run_dir: Where checkpoints go (written by rank 0).
        dist: This process's place in the run.
        device: Where it trains.
    """

    def __init__(
        self,
        cfg: TrainConfig,
        data_root: Path,
        run_dir: Path,
        dist: Distributed,
        device: torch.device,
    ) -> None:
        self.cfg, self.run_dir, self.dist, self.device = cfg, run_dir, dist, device
        self.memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
        self.autocast = autocast(device, cfg.amp)
        self.data = TrainData(cfg, data_root, rank=dist.rank, world=dist.world)
        self.model = build_model(cfg).to(device, memory_format=self.memory_format)
        adam = {"betas": (cfg.beta1, cfg.beta2), "fused": cfg.fused_adam or None}
        self.opt_G = torch.optim.Adam(self.model.generator_parameters(), lr=cfg.lr, **adam)
        d_lr = cfg.lr if cfg.d_lr is None else cfg.d_lr
        self.opt_D = torch.optim.Adam(self.model.discriminator_parameters(), lr=d_lr, **adam)
        constant, decay = cfg.epochs - cfg.decay_epochs, max(cfg.decay_epochs, 1)
        self.sched_G = linear_decay(self.opt_G, constant_epochs=constant, decay_epochs=decay)
        self.sched_D = linear_decay(self.opt_D, constant_epochs=constant, decay_epochs=decay)
        # Each process keeps its own history of fakes, seeded apart.
        seed = cfg.seed * 1_000_003 + 7919 * (dist.rank + 1)
        self.pool_X = ImagePool(cfg.pool_size, generator=torch.Generator().manual_seed(seed))
        self.pool_Y = ImagePool(cfg.pool_size, generator=torch.Generator().manual_seed(seed + 1))
        self.augment_rng = torch.Generator().manual_seed(seed + 2)
        self.schedulers = [self.sched_G, self.sched_D]
        self.progress = Progress()
        self.losses = LossLog(cfg.log_every)
        self._views()

    def _views(self) -> None:
        """Compiled and distributed views of the same parameters, for the step."""
        run = self.model.training_networks()
        if self.cfg.d_augment != "none":
            color = self.cfg.d_augment == "all"
            run = {
                n: Augmented(m, color=color, generator=self.augment_rng) if n[0] == "D" else m
                for n, m in run.items()
            }
        generators = Generators(
            run["G_xy"],
            run["G_yx"],
            attention=self.model.attention,
            identity=self.cfg.identity_weight > 0,
            batched=self.cfg.batch_passes,
        )
        self.generators = self.dist.wrap(generators, self.device)
        discriminators = Discriminators(run, batched=self.cfg.batch_passes)
        self.discriminators = self.dist.wrap(discriminators, self.device)
        # The generator step scores its fakes with these (compiled when compiling), not
        # with the DistributedDataParallel view: no gradient flows to D there.
        self.judges = {name: net for name, net in run.items() if name.startswith("D")}
        self._weights = loss_weights(self.cfg)
        self._g_objective, self._d_objective = (
            self._generator_objective,
            self._discriminator_objective,
        )
        if self.cfg.compile:
            # Two graphs, one per half of the step (forward and loss; the backward is
            # compiled with it): far fewer and larger than a graph per network. Under
            # DDP, dynamo splits them at the gradient buckets.
            # An epoch's smaller last batch would otherwise recompile with a symbolic
            # batch size, which inductor cannot lower here (a sympy comparison it
            # cannot decide); a static graph per batch size costs one more compile.
            opts = {
                "backend": self.cfg.compile_backend,
                "fullgraph": not self.dist.enabled,
                "dynamic": False,
            }
            self._g_objective = torch.compile(self._g_objective, **opts)
            self._d_objective = torch.compile(self._d_objective, **opts)

    def _generator_objective(self, x: Tensor, y: Tensor, r: float) -> tuple[Any, ...]:
        with self.autocast:
            to_y, to_x = self.generators(x, y)
            total, terms = generator_loss(self.cfg, self.judges, x, y, to_y, to_x, r, self._weights)
        return total, terms, to_y, to_x

    def _discriminator_objective(
        self, x: Tensor, y: Tensor, fake_x: Tensor, fake_y: Tensor, masks: Any
    ) -> tuple[Tensor, dict[str, Tensor]]:
        with self.autocast:
            scores = self.discriminators(x, y, fake_x, fake_y, masks)
        return discriminator_loss(self.cfg, scores)

    # ------------------------------------------------------------------ checkpoints

    def _state(self) -> dict[str, Any]:
        progress = dataclasses.replace(
            self.progress, elapsed=self.progress.elapsed + self._segment()
        )
        return {
            **self.model.networks(),
            "opt_G": self.opt_G,
            "opt_D": self.opt_D,
            "sched_G": self.sched_G,
            "sched_D": self.sched_D,
            "rng": capture_rng_state(),
            "progress": dataclasses.asdict(progress),
            "losses": self.losses.state_dict(),
            "config": dataclasses.asdict(self.cfg),
        }

    def save(self) -> None:
        """Writes the checkpoint (rank 0), atomically: a kill mid-write keeps the last one.

        With several processes every one must call it: each contributes its image pools.
        """
        pools = self.dist.gather(
            {
                "pool_X": to_cpu(self.pool_X.state_dict()),
                "pool_Y": to_cpu(self.pool_Y.state_dict()),
                "augment_rng": self.augment_rng.get_state(),
            }
        )
        if self.dist.main:
            write_checkpoint(self.run_dir / CHECKPOINT, {**self._state(), "pools": pools})

    def restore(self, path: Path) -> None:
        """Continues from the checkpoint at ``path``: every state, exactly.

        Raises:
            ConfigError: the checkpoint is damaged, of another configuration or of a run
                with another number of processes.
        """
        saved = read_checkpoint(path, self.device, training=True)
        load_networks(self.model, self.cfg, saved, path)
        pools = saved["pools"]
        if len(pools) != self.dist.world:
            raise ConfigError(
                f"--resume {path.parent}: the run was trained by {len(pools)} process(es) "
                f"and this is {self.dist.world}; resume it with as many (the data order and "
                "the image pools are per process)"
            )
        try:
            self.opt_G.load_state_dict(saved["opt_G"])
            self.opt_D.load_state_dict(saved["opt_D"])
            self.sched_G.load_state_dict(saved["sched_G"])
            self.sched_D.load_state_dict(saved["sched_D"])
            self.pool_X.load_state_dict(pools[self.dist.rank]["pool_X"])
            self.pool_Y.load_state_dict(pools[self.dist.rank]["pool_Y"])
            if "augment_rng" in pools[self.dist.rank]:  # checkpoints of version 0.2 lack it
                self.augment_rng.set_state(pools[self.dist.rank]["augment_rng"])
            restore_rng_state(saved["rng"])
            self.losses.load_state_dict(saved["losses"])
        except (KeyError, TypeError, ValueError) as err:
            raise ConfigError(
                f"the checkpoint {path} holds a state this run cannot take: {err}"
            ) from None
        self.progress = Progress(**saved["progress"])

    # ------------------------------------------------------------------------ steps

    def _to_device(self, t: Tensor) -> Tensor:
        return t.to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format)

    def train_step(self, x: Tensor, y: Tensor, r: float) -> dict[str, Tensor]:
        """One generator step then one discriminator step; returns detached losses."""
        model = self.model
        d_params = model.discriminator_parameters()

        set_requires_grad(d_params, False)
        g_total, g_terms, to_y, to_x = self._g_objective(x, y, r)
        self.opt_G.zero_grad(set_to_none=True)
        g_total.backward()
        self.opt_G.step()
        model.update_ema(self.progress.step)
        set_requires_grad(d_params, True)

        masks = None
        if model.attention:
            fake_y, fake_mask_y = self.pool_Y.query(
                to_y.image.detach().float(), to_y.mask.detach().float()
            )
            fake_x, fake_mask_x = self.pool_X.query(
                to_x.image.detach().float(), to_x.mask.detach().float()
            )
            masks = {
                "real_x": to_x.mask.detach(),
                "real_y": to_y.mask.detach(),
                "fake_x": fake_mask_x,
                "fake_y": fake_mask_y,
            }
        else:
            fake_y = self.pool_Y.query(to_y.image.detach().float())
            fake_x = self.pool_X.query(to_x.image.detach().float())
        d_total, d_losses = self._d_objective(x, y, fake_x, fake_y, masks)
        self.opt_D.zero_grad(set_to_none=True)
        d_total.backward()
        self.opt_D.step()

        logs = {f"G/{k}": v.detach() for k, v in g_terms.items()}
        logs.update({f"D/{k}": v.detach() for k, v in d_losses.items()})
        if model.attention:
            logs["mask/mean"] = (to_y.mask.float().mean() + to_x.mask.float().mean()).detach() / 2
        return logs

    # ------------------------------------------------------------------------- loop

    # ------------------------------------------------------------------------- loop

    def epoch_extras(self, epoch: int) -> dict[str, float]:
        """The curriculum's r of ``epoch`` (Eq. 9)."""
        cfg = self.cfg
        r = curriculum_rate(
            epoch, warmup_epochs=cfg.warmup_epochs, warmup_rate=cfg.warmup_rate, rate=cfg.rate
        )
        return {"r": r}

    def train_batch(self, batch: dict[str, Any], extras: dict[str, float]) -> dict[str, Tensor]:
        return self.train_step(
            self._to_device(batch["A"]), self._to_device(batch["B"]), extras["r"]
        )

    def learning_rate(self) -> float:
        return self.opt_G.param_groups[0]["lr"]
