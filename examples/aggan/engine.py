"""The training engine: devices, DistributedDataParallel, the step, checkpoints, resume.

One :class:`Trainer` runs one training run. ``torchrun --nproc_per_node=N train.py``
makes it DistributedDataParallel (NCCL on GPUs, gloo on CPU) with a sharded data order;
only rank 0 writes files. Checkpoints (every ``--save-every`` steps, every epoch, on
Ctrl-C) hold everything a run depends on, so ``--resume`` continues exactly.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import math
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from attnguide.data import UnpairedImageFolder
from attnguide.losses import AdversarialLoss, curriculum_rate
from attnguide.training import (
    ImagePool,
    capture_rng_state,
    linear_decay,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)

from .config import (
    RESUMABLE,
    ConfigError,
    TrainConfig,
    config_diff,
    load_config,
    validate_config,
)
from .data import EpochPlan, KeyedPairs, check_layout, list_images, prepare_data_root
from .model import (
    AGGAN,
    Discriminators,
    Generators,
    build_model,
    generator_objective,
    generator_terms,
)

__all__ = [
    "CHECKPOINT",
    "Distributed",
    "Trainer",
    "check_checkpoint_fits",
    "load_networks",
    "resolve_device",
]

CHECKPOINT = "checkpoint"  # the run folder's latest checkpoint (a directory)


# ----------------------------------------------------------------------------- devices


@dataclass
class Distributed:
    """Where this process stands in a (possibly one-process) run."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()


def resolve_device(cfg: TrainConfig, local_rank: int = 0) -> torch.device:
    """The device ``cfg.device`` names ("auto": CUDA when available), checked.

    Raises:
        ConfigError: CUDA is asked for but absent, or ``--amp bf16`` without CUDA.
    """
    name = cfg.device
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(
            f"--device {cfg.device!r} is not a device (try cpu, cuda, cuda:1)"
        ) from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {cfg.device}: CUDA is not available on this machine")
        if device.index is None:
            device = torch.device("cuda", local_rank)
    elif device.type != "cpu":
        raise ConfigError(f"--device {cfg.device!r}: only cpu and cuda devices are supported")
    if cfg.amp == "bf16" and device.type != "cuda":
        raise ConfigError(
            f"--amp bf16 needs a CUDA device, but this run is on {device.type}; drop --amp "
            "(CPU runs train in float32) or run on a GPU"
        )
    return device


def setup_distributed(cfg: TrainConfig) -> tuple[Distributed, torch.device]:
    """Joins the process group torchrun set up, if any, and picks this rank's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    d = Distributed(
        rank=int(os.environ.get("RANK", "0")),
        world=world,
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
    )
    device = resolve_device(cfg, d.local_rank)
    if d.enabled and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
            dist.init_process_group("nccl", device_id=device)
        else:
            dist.init_process_group("gloo")
    return d, device


# ------------------------------------------------------------------------ checkpoints


def check_checkpoint_fits(model: AGGAN, saved: dict[str, Any], where: str) -> None:
    """Raises a message listing every network, key and shape where ``saved`` (a loaded
    checkpoint) and ``model`` disagree.

    Raises:
        ConfigError: the checkpoint comes from a different configuration.
    """
    problems: list[str] = []
    networks = model.networks()
    names = ("G_xy", "G_yx", "D_X", "D_Y", "D_XA", "D_YA")
    for name in names:
        if name in networks and name not in saved:
            problems.append(f"{name}: in the model, not in the checkpoint")
        elif name in saved and name not in networks:
            problems.append(f"{name}: in the checkpoint, not in the model")
    for name in names:
        if name not in networks or name not in saved:
            continue
        ours, theirs = networks[name].state_dict(), saved[name]
        for key in sorted(set(ours) - set(theirs)):
            problems.append(f"{name}.{key}: missing from the checkpoint")
        for key in sorted(set(theirs) - set(ours)):
            problems.append(f"{name}.{key}: not in the model")
        for key in sorted(set(ours) & set(theirs)):
            if tuple(ours[key].shape) != tuple(theirs[key].shape):
                problems.append(
                    f"{name}.{key}: checkpoint shape {tuple(theirs[key].shape)}, "
                    f"model shape {tuple(ours[key].shape)}"
                )
    if not problems:
        return
    message = [f"the checkpoint {where} does not fit the model of this configuration:"]
    saved_cfg = saved.get("config")
    if isinstance(saved_cfg, dict):
        known = {f.name for f in dataclasses.fields(TrainConfig)}
        ckpt_cfg = TrainConfig(**{k: v for k, v in saved_cfg.items() if k in known})
        diff = config_diff(ckpt_cfg, model.cfg)
        if diff:
            message.append(
                "  differing options (checkpoint -> now): "
                + ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in sorted(diff.items()))
            )
    shown = problems[:12]
    message += [f"  {p}" for p in shown]
    if len(problems) > len(shown):
        message.append(f"  ... and {len(problems) - len(shown)} more differences")
    raise ConfigError("\n".join(message))


def load_networks(model: AGGAN, saved: dict[str, Any], where: str) -> None:
    """Loads the networks of a loaded checkpoint into ``model`` after checking they fit."""
    check_checkpoint_fits(model, saved, where)
    for name, net in model.networks().items():
        net.load_state_dict(saved[name])


# ------------------------------------------------------------------------- the trainer


def _requires_grad(params: list[nn.Parameter], flag: bool) -> None:
    for p in params:
        p.requires_grad_(flag)


def _unwrap(module: nn.Module) -> nn.Module:
    return module.module if isinstance(module, DistributedDataParallel) else module


def _has_checkpoint(path: Path) -> bool:
    # A kill between the two renames of an atomic save leaves the previous checkpoint
    # beside the path; load_checkpoint finds it there.
    return path.is_dir() or (path.parent / f".{path.name}.old").is_dir()


def _check_writable(folder: Path) -> None:
    """Creates ``folder`` and proves a file can be written there, before any work."""
    probe = folder / ".write-test"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise ConfigError(
            f"cannot write to the output folder {folder}: {err.strerror or err}; choose "
            "another --out"
        ) from None


class _Stop:
    """Turns SIGINT/SIGTERM into a request to stop after the current step."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _Stop:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not the main thread
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested = True
        # A second Ctrl-C interrupts at once.
        signal.signal(signum, self._previous.get(signum, signal.SIG_DFL))

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


class Trainer:
    """One AGGAN training run.

    Args:
        cfg: The configuration (validated here).
        resume: A run folder to continue; ``cfg`` then holds that run's configuration
            with the allowed overrides applied (see :func:`resume_config`).
        quiet: No progress bar (tests).
    """

    def __init__(self, cfg: TrainConfig, *, resume: Path | None = None, quiet: bool = False):
        self.cfg = validate_config(cfg)
        self.quiet = quiet
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.dist, self.device = setup_distributed(cfg)
        self.autocast = (
            torch.autocast("cuda", dtype=torch.bfloat16)
            if cfg.amp == "bf16"
            else contextlib.nullcontext()
        )
        self.memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format

        # Everything that can fail on bad input fails before anything is written.
        if resume is not None:
            self.run_dir = resume
        elif cfg.out is not None:
            self.run_dir = Path(cfg.out)
        else:
            stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
            self.run_dir = Path("runs") / f"aggan-{stamp}"
        if resume is not None and not _has_checkpoint(resume / CHECKPOINT):
            raise ConfigError(f"--resume {resume}: there is no checkpoint in that folder")
        if resume is None and (self.run_dir / "config.json").exists():
            raise ConfigError(
                f"{self.run_dir} already holds a run; continue it with --resume {self.run_dir} "
                "or choose another --out"
            )
        self.tensorboard = None
        if cfg.tensorboard and self.dist.main:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise ConfigError(
                    "--tensorboard needs the tensorboard package: pip install tensorboard"
                ) from None
            self._summary_writer_cls = SummaryWriter
        if cfg.data_root is not None:
            check_layout(Path(cfg.data_root))
        if self.dist.main:
            _check_writable(self.run_dir)
        self.data_root = prepare_data_root(cfg, build=self.dist.main)
        self.dist.barrier()
        self.data_root = prepare_data_root(cfg, build=False)

        folder = UnpairedImageFolder(
            self.data_root,
            "train",
            load_size=cfg.size,
            crop_size=cfg.size,
            flip=False,
            serial=True,
        )
        n_a = len(list_images(self.data_root / "trainA"))
        n_b = len(list_images(self.data_root / "trainB"))
        if cfg.train_limit:
            n_a, n_b = min(n_a, cfg.train_limit), min(n_b, cfg.train_limit)
        self.pairs = KeyedPairs(folder)
        self.plan = EpochPlan(
            n_a,
            n_b,
            batch_size=cfg.batch_size,
            seed=cfg.seed,
            rank=self.dist.rank,
            world=self.dist.world,
            flip=cfg.flip,
        )

        self.model = build_model(cfg).to(self.device, memory_format=self.memory_format)
        nets = self.model.networks()
        self.adversarial = AdversarialLoss(mode=cfg.gan_mode)
        betas = (cfg.beta1, cfg.beta2)
        self.opt_G = torch.optim.Adam(self.model.generator_parameters(), lr=cfg.lr, betas=betas)
        self.opt_D = torch.optim.Adam(self.model.discriminator_parameters(), lr=cfg.lr, betas=betas)
        constant = cfg.epochs - cfg.decay_epochs
        decay = max(cfg.decay_epochs, 1)
        self.sched_G = linear_decay(self.opt_G, constant_epochs=constant, decay_epochs=decay)
        self.sched_D = linear_decay(self.opt_D, constant_epochs=constant, decay_epochs=decay)
        # Each process keeps its own history of fakes, seeded apart.
        seed = cfg.seed * 1_000_003 + 7919 * (self.dist.rank + 1)
        self.pool_X = ImagePool(cfg.pool_size, generator=torch.Generator().manual_seed(seed))
        self.pool_Y = ImagePool(cfg.pool_size, generator=torch.Generator().manual_seed(seed + 1))

        self.epoch = 0  # the epoch in progress
        self.batch = 0  # batches of it already done
        self.step = 0  # steps done in all
        self.elapsed = 0.0  # seconds of training in earlier segments of this run
        self.history: list[dict[str, float]] = []
        # Loss sums of the steps since the last record: checkpointed, so the first
        # record after a resume averages the same steps as an uninterrupted run's.
        self.pending: dict[str, Tensor] = {}
        self.pending_count = 0

        if resume is not None:
            self._restore(resume / CHECKPOINT)

        # Compiled and distributed views of the same parameters.
        run = {n: torch.compile(m) if cfg.compile else m for n, m in nets.items()}
        generators = Generators(run["G_xy"], run["G_yx"], attention=self.model.attention)
        self.discriminators = Discriminators(
            run["D_X"], run["D_Y"], run.get("D_XA"), run.get("D_YA"), gan_mode=cfg.gan_mode
        )
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.generators: nn.Module = DistributedDataParallel(generators, device_ids=ids)
            self.discriminators_ddp: nn.Module = DistributedDataParallel(
                self.discriminators, device_ids=ids
            )
        else:
            self.generators, self.discriminators_ddp = generators, self.discriminators

    # ------------------------------------------------------------------ checkpoints

    def _state(self) -> dict[str, Any]:
        return {
            **self.model.networks(),
            "opt_G": self.opt_G,
            "opt_D": self.opt_D,
            "sched_G": self.sched_G,
            "sched_D": self.sched_D,
            "rng": capture_rng_state(),
            "progress": {
                "epoch": self.epoch,
                "batch": self.batch,
                "step": self.step,
                "elapsed": self.elapsed + self._segment_time(),
            },
            "history": self.history,
            "pending": {"sums": self.pending, "count": self.pending_count},
            "config": dataclasses.asdict(self.cfg),
        }

    def _segment_time(self) -> float:
        start = getattr(self, "_segment_start", None)
        return 0.0 if start is None else time.perf_counter() - start

    def _gather_pools(self) -> list[dict[str, Any]] | None:
        """Every process's image pools, indexed by rank, on rank 0 (None elsewhere).

        Each process keeps its own history of fakes, so an exact resume needs them all,
        not rank 0's alone. They travel on the CPU (object collectives pickle them).
        """

        def cpu(state: dict[str, Any]) -> dict[str, Any]:
            return {k: v.cpu() if isinstance(v, Tensor) else v for k, v in state.items()}

        mine = {"pool_X": cpu(self.pool_X.state_dict()), "pool_Y": cpu(self.pool_Y.state_dict())}
        if not self.dist.enabled:
            return [mine]
        pools: list[Any] | None = [None] * self.dist.world if self.dist.main else None
        dist.gather_object(mine, pools, dst=0)
        return pools

    def save(self) -> None:
        """Writes the checkpoint (rank 0), atomically: a kill mid-write keeps the last one.

        With several processes every one must call it: each contributes its image pools.
        """
        pools = self._gather_pools()
        if self.dist.main:
            save_checkpoint(self.run_dir / CHECKPOINT, {**self._state(), "pools": pools})

    def _restore(self, path: Path) -> None:
        saved = load_checkpoint(path, map_location=self.device)
        load_networks(self.model, saved, str(path))
        self.opt_G.load_state_dict(saved["opt_G"])
        self.opt_D.load_state_dict(saved["opt_D"])
        self.sched_G.load_state_dict(saved["sched_G"])
        self.sched_D.load_state_dict(saved["sched_D"])
        pools = saved["pools"]
        if len(pools) != self.dist.world:
            raise ConfigError(
                f"--resume {path.parent}: the run was trained by {len(pools)} process(es) "
                f"and this is {self.dist.world}; resume it with as many (the data order and "
                "the image pools are per process)"
            )
        self.pool_X.load_state_dict(pools[self.dist.rank]["pool_X"])
        self.pool_Y.load_state_dict(pools[self.dist.rank]["pool_Y"])
        restore_rng_state(saved["rng"])
        progress = saved["progress"]
        self.epoch, self.batch, self.step = progress["epoch"], progress["batch"], progress["step"]
        self.elapsed = progress["elapsed"]
        self.history = list(saved["history"])
        self.pending = dict(saved["pending"]["sums"])
        self.pending_count = saved["pending"]["count"]

    # ------------------------------------------------------------------------ steps

    def _loader(self, epoch: int, start: int) -> DataLoader:
        return DataLoader(
            self.pairs,
            batch_sampler=self.plan.batches(epoch, start),
            num_workers=self.cfg.workers,
            # A private generator: creating the loader must not draw from the global
            # RNG, or a resumed epoch would differ from an uninterrupted one.
            generator=torch.Generator(),
            pin_memory=self.device.type == "cuda",
        )

    def _to_device(self, t: Tensor) -> Tensor:
        return t.to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format)

    def train_step(self, x: Tensor, y: Tensor, r: float) -> dict[str, Tensor]:
        """One generator step then one discriminator step; returns detached losses."""
        cfg, model = self.cfg, self.model
        d_params = model.discriminator_parameters()

        _requires_grad(d_params, False)
        with self.autocast:
            to_y, to_x = self.generators(x, y)
            terms = generator_terms(
                cfg, self.discriminators, model.attention, self.adversarial, x, y, to_y, to_x
            )
        total, weighted = generator_objective(cfg, terms, r)
        self.opt_G.zero_grad(set_to_none=True)
        total.backward()
        self.opt_G.step()
        _requires_grad(d_params, True)

        if model.attention:
            fake_y, fake_mask_y = self.pool_Y.query(
                to_y.image.detach().float(), to_y.mask.detach().float()
            )
            fake_x, fake_mask_x = self.pool_X.query(
                to_x.image.detach().float(), to_x.mask.detach().float()
            )
            masks = {
                "real_mask_x": to_x.mask.detach(),
                "real_mask_y": to_y.mask.detach(),
                "fake_mask_x": fake_mask_x,
                "fake_mask_y": fake_mask_y,
            }
        else:
            fake_y = self.pool_Y.query(to_y.image.detach().float())
            fake_x = self.pool_X.query(to_x.image.detach().float())
            masks = {}
        with self.autocast:
            d_losses = self.discriminators_ddp(x, y, fake_x, fake_y, **masks)
        d_total = torch.stack(list(d_losses.values())).sum()
        self.opt_D.zero_grad(set_to_none=True)
        d_total.backward()
        self.opt_D.step()

        logs = {f"G/{k}": v.detach() for k, v in weighted.items()}
        logs.update({f"D/{k}": v.detach() for k, v in d_losses.items()})
        if model.attention:
            logs["mask/mean"] = (to_y.mask.float().mean() + to_x.mask.float().mean()).detach() / 2
        return logs

    # ------------------------------------------------------------------------- loop

    def _stop_agreed(self, stop: _Stop) -> bool:
        flag = stop.requested
        if self.dist.enabled:
            # Every process must stop after the same step, or one would wait forever
            # in the next step's all-reduce.
            t = torch.tensor([int(flag)], device=self.device)
            dist.all_reduce(t, op=dist.ReduceOp.MAX)
            flag = bool(t.item())
        return flag

    def _end_epoch(self) -> None:
        self.sched_G.step()
        self.sched_D.step()
        self.epoch += 1
        self.batch = 0
        self.save()

    def total_steps(self) -> int:
        total = self.cfg.epochs * len(self.plan)
        return min(total, self.cfg.max_steps) if self.cfg.max_steps else total

    def fit(
        self,
        on_log: Callable[[Trainer, dict[str, float]], None] | None = None,
        on_step: Callable[[Trainer], None] | None = None,
    ) -> str:
        """Trains until the last epoch, ``--max-steps`` or a stop signal (SIGINT, SIGTERM).

        A checkpoint is written every ``save_every`` steps, at the end of every epoch
        and when stopping early.

        Args:
            on_log: Called (rank 0) with each record of averaged losses.
            on_step: Called (rank 0) after every step.

        Returns:
            ``"done"``, ``"max_steps"`` or ``"interrupted"``.
        """
        cfg = self.cfg
        bar = None
        if self.dist.main and not self.quiet:
            from tqdm.auto import tqdm

            bar = tqdm(
                total=self.total_steps(),
                initial=self.step,
                unit="step",
                dynamic_ncols=True,
                mininterval=1.0,
                desc="train",
            )
        # A run that already reached --max-steps (resumed without raising it) has
        # nothing to do; checked before a step, not only after one.
        outcome = "max_steps" if cfg.max_steps and self.step >= cfg.max_steps else "done"
        self._segment_start = time.perf_counter()
        with _Stop() as stop:
            while self.epoch < cfg.epochs and outcome == "done":
                epoch = self.epoch
                r = curriculum_rate(
                    epoch,
                    warmup_epochs=cfg.warmup_epochs,
                    warmup_rate=cfg.warmup_rate,
                    rate=cfg.rate,
                )
                for x, y in self._loader(epoch, self.batch):
                    logs = self.train_step(self._to_device(x), self._to_device(y), r)
                    self.batch += 1
                    self.step += 1
                    sums = self.pending
                    for k, v in logs.items():
                        sums[k] = sums[k] + v if k in sums else v
                    self.pending_count += 1
                    if self.step % cfg.log_every == 0:
                        record = {k: float(v) / self.pending_count for k, v in sums.items()}
                        record.update(
                            step=self.step, epoch=epoch, r=r, lr=self.opt_G.param_groups[0]["lr"]
                        )
                        self.history.append(record)
                        self.pending, self.pending_count = {}, 0
                        if bar is not None:
                            d = sum(v for k, v in record.items() if k.startswith("D/"))
                            bar.set_postfix(G=f"{record['G/total']:.3f}", D=f"{d:.3f}", r=r)
                        if on_log is not None and self.dist.main:
                            on_log(self, record)
                    if bar is not None:
                        bar.update(1)
                    if on_step is not None and self.dist.main:
                        on_step(self)
                    if cfg.max_steps and self.step >= cfg.max_steps:
                        outcome = "max_steps"
                    elif self._stop_agreed(stop):
                        outcome = "interrupted"
                    if outcome != "done":
                        self.save()
                        break
                    # At an epoch's last batch the epoch's own checkpoint follows.
                    due = cfg.save_every and self.step % cfg.save_every == 0
                    if due and self.batch < len(self.plan):
                        self.save()
                else:
                    self._end_epoch()
        if bar is not None:
            bar.close()
        self.elapsed += self._segment_time()
        self._segment_start = None
        return outcome

    def networks_equal_across_ranks(self) -> bool:
        """Whether every process holds bit-identical weights (True without DDP)."""
        if not self.dist.enabled:
            return True
        flat = torch.cat([p.detach().reshape(-1).float() for p in self.model.parameters()])
        reference = flat.clone()
        dist.broadcast(reference, src=0)
        same = torch.tensor([int(torch.equal(reference, flat))], device=flat.device)
        dist.all_reduce(same, op=dist.ReduceOp.MIN)
        return bool(same.item())


def resume_config(run_dir: Path, overrides: dict[str, Any]) -> TrainConfig:
    """The configuration of the run in ``run_dir`` with ``overrides`` applied.

    Only options that do not change what the run computes may differ (see
    ``config.RESUMABLE``); anything else is refused with the list of differences.

    Raises:
        ConfigError: ``run_dir`` is not a run folder, or an override changes the run.
    """
    if not (run_dir / "config.json").is_file():
        raise ConfigError(
            f"--resume {run_dir}: no config.json there; give the run folder a previous "
            "train.py wrote"
        )
    saved = load_config(run_dir / "config.json")
    changed = {
        k: (getattr(saved, k), v)
        for k, v in overrides.items()
        if k not in RESUMABLE and getattr(saved, k) != v
    }
    if changed:
        raise ConfigError(
            f"--resume {run_dir}: these options would change the run and cannot differ from "
            "the saved configuration: "
            + ", ".join(f"{k} (run: {a!r}, given: {b!r})" for k, (a, b) in sorted(changed.items()))
        )
    return dataclasses.replace(saved, **{**overrides, "out": str(run_dir)})


def format_duration(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    return f"{m}m{s:02d}s" if m else f"{seconds:.1f}s"


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, default=_json_default) + "\n")


def _json_default(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load_trained(
    run_dir: Path | None,
    *,
    checkpoint: Path | None = None,
    config: Path | None = None,
    device: str = "auto",
) -> tuple[TrainConfig, AGGAN, torch.device]:
    """The trained networks of a run, for translation and evaluation.

    Args:
        run_dir: A run folder (its ``config.json`` and ``checkpoint``), or None when
            both ``checkpoint`` and ``config`` are given.
        checkpoint: A checkpoint directory other than the run's latest.
        config: A ``config.json`` other than the run's.
        device: Where to put the networks ("auto": CUDA when available).

    Raises:
        ConfigError: a file is missing, or the checkpoint does not fit the configuration
            (the message lists the differing keys and shapes).
    """
    if run_dir is not None and not run_dir.is_dir():
        raise ConfigError(f"{run_dir} is not a run folder (it does not exist)")
    config = config or (run_dir / "config.json" if run_dir is not None else None)
    checkpoint = checkpoint or (run_dir / CHECKPOINT if run_dir is not None else None)
    if config is None or checkpoint is None:
        raise ConfigError("give a run folder, or both --checkpoint and --config")
    cfg = load_config(config)
    target = resolve_device(dataclasses.replace(cfg, device=device, amp="none"))
    try:
        saved = load_checkpoint(checkpoint, map_location=target)
    except (FileNotFoundError, ValueError) as err:
        raise ConfigError(f"cannot load the checkpoint {checkpoint}: {err}") from None
    model = build_model(cfg)
    load_networks(model, saved, str(checkpoint))
    return cfg, model.to(target).eval(), target
