"""Train AGGAN (Tang et al.) on the built-in synthetic faces or any CycleGAN-layout data.

    python examples/aggan/train.py                       # the CPU main job, < 10 minutes
    python examples/aggan/train.py --baseline cyclegan   # CycleGAN as its authors train it
    python examples/aggan/train.py --paper --data-root D # the paper's configuration
    torchrun --nproc_per_node=2 examples/aggan/train.py ...   # DistributedDataParallel
    python examples/aggan/train.py --resume runs/aggan-...    # continue a run exactly

The run folder's files are listed in ``rundir.py``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch
from common import config as common
from common.config import ConfigError
from common.distributed import setup_distributed
from common.loop import progress_bar, say_stopped
from common.rundir import RunFolder, check_tensorboard, write_json, write_summary
from common.visuals import eval_curves, loss_curves

from aggan.config import (
    BASELINES,
    PAPER,
    PRESETS,
    TrainConfig,
    validate_config,
)
from aggan.curves import CURVES
from aggan.data import DIRECTIONS, load_test_set, prepare_data_root
from aggan.engine import Trainer
from aggan.evaluation import (
    evaluate,
    format_table,
    judge_accuracy,
    load_judge,
    save_judge,
    train_judge,
)
from aggan.pretrained import initialise_from, read_pretrained
from aggan.visuals import sample_grid
from attnguide.training import EvalLog

__all__ = ["build_parser", "config_from_args", "main", "run"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="train.py",
        description="Train AGGAN: attention-guided generators and discriminators, cycle, "
        "pixel and attention losses, the paper's curriculum. Defaults: the CPU main job on "
        "the built-in synthetic faces.",
    )
    preset = parser.add_mutually_exclusive_group()
    preset.add_argument(
        "--paper",
        action="store_true",
        help="start from the paper's configuration: "
        + ", ".join(f"{k}={v}" for k, v in PAPER.items()),
    )
    preset.add_argument(
        "--baseline", choices=sorted(BASELINES), help="train a baseline as its authors do"
    )
    preset.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        help="a longer recipe of the main job: "
        + "; ".join(
            f"{k}: " + ", ".join(f"{o}={v}" for o, v in p.items()) for k, p in PRESETS.items()
        ),
    )
    common.add_run_options(parser, TrainConfig)
    return parser


def config_from_args(args: argparse.Namespace) -> tuple[TrainConfig, Path | None]:
    """The configuration the command line asks for, and the run to resume (or None).

    Explicit options win over ``--config``, which wins over ``--paper``/``--baseline``,
    which win over the defaults. With ``--resume`` the run's own configuration is the
    base.
    """
    presets = {
        "--paper": PAPER if args.paper else None,
        "--baseline": BASELINES[args.baseline] if args.baseline else None,
        "--preset": PRESETS[args.preset] if args.preset else None,
    }
    return common.choose_config(args, TrainConfig, presets)


def run(
    cfg: TrainConfig,
    resume: Path | None = None,
    *,
    quiet: bool = False,
    overwrite: bool = False,
) -> int:
    """Trains, then (rank 0) writes samples, loss curves and the evaluation.

    ``overwrite`` (``--overwrite``) lets a new run start in an ``--out`` folder that
    holds other files; the run folder is locked while this process trains in it.

    Returns:
        The exit status: 0, or 130 when stopped by Ctrl-C/SIGTERM (checkpoint saved).
    """
    started = time.perf_counter()
    cfg = validate_config(cfg)
    check_tensorboard(cfg.tensorboard)
    folder = RunFolder.choose(cfg.out, resume, prefix="aggan", overwrite=overwrite)
    dist, device = setup_distributed(cfg.device, cfg.amp)
    try:
        status = _train(cfg, resume, folder, dist, device, started, quiet)
    finally:
        folder.release()  # the run folder's lock, taken in folder.prepare
    # Not on an error: a barrier there would wait for processes that never arrive.
    dist.close()
    return status


def _train(cfg, resume, folder, dist, device, started, quiet) -> int:
    """The body of :func:`run` once the process group is set up."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    root = prepare_data_root(cfg, build=dist.main)
    dist.barrier()
    pretrained = None
    if cfg.init_from is not None and resume is None:
        pretrained = read_pretrained(Path(cfg.init_from), epoch=cfg.init_epoch)
    samples = None
    if dist.main and cfg.n_samples:
        samples = [
            load_test_set(root, d, cfg.size, cfg.n_samples).source.to(device)
            for d in ("AtoB", "BtoA")
        ]
    trainer = Trainer(cfg, root, folder.path, dist, device)
    if resume is not None:
        trainer.restore(folder.checkpoint)
    elif pretrained is not None:
        loaded = initialise_from(trainer.model, pretrained, cfg.init_from)
        if dist.main:
            print(f"started from {cfg.init_from}: {', '.join(loaded)}", flush=True)
    p = trainer.progress
    bar = None
    if dist.main:
        folder.prepare(cfg, trainer.losses.history, tensorboard=cfg.tensorboard)
        print(
            f"run folder {folder.path} | data {root} | device {device}"
            + (f" x {dist.world} processes" if dist.enabled else "")
            + f" | {trainer.total_steps()} steps ({cfg.epochs} epochs of {len(trainer.data)})"
            + (f" | resuming at step {p.step}" if resume else ""),
            flush=True,
        )
        if not quiet:
            bar = progress_bar(trainer.total_steps(), p.step, "step")
    judge = _judge(cfg, folder, root, device) if dist.main else None
    during = None
    if dist.main and cfg.eval_every:
        during = _EvalDuring(cfg, trainer, folder, root, judge, resume is not None)
        if p.step == 0:
            during(trainer)

    def on_step(t: Trainer, record: dict[str, float] | None) -> None:
        if not dist.main:
            return
        if record is not None:
            folder.log(record)
            if bar is not None:
                d = sum(v for k, v in record.items() if k.startswith("D/"))
                bar.set_postfix(G=f"{record['G/total']:.3f}", D=f"{d:.3f}", r=record["r"])
        if bar is not None:
            bar.update(1)
        if during is not None and p.step % cfg.eval_every == 0:
            during(t)
        if samples is not None and cfg.sample_every and p.step % cfg.sample_every == 0:
            sample_grid(
                t.model, *samples, folder.samples / f"step-{p.step:07d}.png", title=f"step {p.step}"
            )

    outcome = trainer.fit(on_step)
    if bar is not None:
        bar.close()
    folder.close()
    if outcome == "interrupted":
        if dist.main:
            say_stopped(p.step, folder.path, folder.checkpoint, "examples/aggan/train.py", "step")
        return 130
    dist.check_same_weights(trainer.model)
    if dist.main:
        _finish(cfg, trainer, folder, root, samples, outcome, started, judge, during)
    return 0


def _judge(cfg: TrainConfig, folder: RunFolder, root: Path, device: torch.device):
    """The run's domain classifier (``classifier.safetensors``): trained on the real
    training images at the start of a run, read back when it resumes."""
    if not cfg.classifier or not (cfg.evaluate or cfg.eval_every):
        return None
    path = folder.path / "classifier.safetensors"
    if path.is_file():
        return load_judge(path, device)
    t0 = time.perf_counter()
    judge = train_judge(root, cfg.size, device)
    folder.path.mkdir(parents=True, exist_ok=True)
    save_judge(judge, path)
    accuracy = judge_accuracy(judge, root, cfg.size)
    seconds = round(time.perf_counter() - t0, 1)
    write_json(folder.path / "classifier.json", {"test_accuracy": accuracy, "seconds": seconds})
    print(f"domain classifier: {accuracy:.3f} accurate on the real test images", flush=True)
    return judge


class _EvalDuring:
    """Evaluation every ``--eval-every`` steps on the first ``--eval-images`` test pairs,
    appended to ``eval.jsonl`` with the training time so far (evaluations excluded)."""

    def __init__(self, cfg, trainer, folder, root, judge, resumed: bool) -> None:
        self.cfg, self.root, self.judge = cfg, root, judge
        self.log = EvalLog(
            folder.path / "eval.jsonl",
            resume_step=trainer.progress.step if resumed else None,
        )
        self.spent = self.log.eval_seconds
        self.sets = {d: load_test_set(root, d, cfg.size, cfg.eval_images) for d in DIRECTIONS}

    def __call__(self, trainer) -> None:
        t0 = time.perf_counter()
        p = trainer.progress
        results = evaluate(
            trainer.model,
            self.root,
            self.cfg.size,
            trainer.device,
            classifier=self.judge,
            test_sets=self.sets,
            reference=not self.log.records,
        )
        self.spent += time.perf_counter() - t0
        seconds = max(0.0, p.elapsed + trainer._segment() - self.spent)
        self.log.append(p.step, seconds, results, eval_seconds=self.spent)


def _finish(cfg, trainer, folder, root, samples, outcome, started, judge, during) -> None:
    """The final sample grid, loss curves, evaluation, metrics.json and results.md."""
    p = trainer.progress
    if samples is not None:
        sample_grid(
            trainer.model, *samples, folder.samples / "final.png", title=f"step {p.step} (final)"
        )
    loss_curves(trainer.losses.records(), folder.path / "losses.png")
    if during is not None and during.log.records:
        records = during.log.records
        eval_curves(
            [(DIRECTIONS[d][2], records, d) for d in DIRECTIONS],
            folder.path / "curves.png",
            metrics=CURVES,
            references=[("copy input", records[0].get("AtoB/identity", {}))],
        )
    summary = {
        "outcome": outcome,
        "steps": p.step,
        "epochs_done": p.epoch,
        "train_seconds": round(p.elapsed, 1),
        "steps_per_second": round(p.step / p.elapsed, 2) if p.elapsed else None,
        "config": dataclasses.asdict(cfg),
    }
    table = None
    if cfg.evaluate:
        t0 = time.perf_counter()
        summary["results"] = evaluate(
            trainer.model, root, cfg.size, trainer.device, classifier=judge
        )
        summary["eval_seconds"] = round(time.perf_counter() - t0, 1)
        if judge is not None:
            summary["classifier"] = json.loads((folder.path / "classifier.json").read_text())
        label = "AGGAN" if cfg.attention_generator else "baseline (no attention)"
        table = format_table(summary["results"], label=label)
        (folder.path / "results.md").write_text(table + "\n")
    write_summary(folder, summary, started=started, table=table, root=root, unit="step")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        cfg, resume = config_from_args(args)
        return run(cfg, resume, overwrite=args.overwrite)
    except ConfigError as err:
        print(f"train.py: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
