"""Train AGGAN (Tang et al.) on the built-in synthetic faces or any CycleGAN-layout data.

    python examples/aggan/train.py                       # the CPU main job, < 10 minutes
    python examples/aggan/train.py --paper --data-root D # the paper's configuration
    python examples/aggan/train.py --no-attention-generator   # CycleGAN baseline
    torchrun --nproc_per_node=2 examples/aggan/train.py ...   # DistributedDataParallel
    python examples/aggan/train.py --resume runs/aggan-...    # continue a run exactly

A run folder holds config.json, checkpoint/ (the latest, written atomically every
--save-every steps, every epoch and on Ctrl-C), samples/*.png, losses.jsonl,
losses.png, metrics.json and results.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

# With more busy threads than free cores, OpenMP's default spin-waiting makes small
# convolutions many times slower; passive waiting costs little when the cores are free.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aggan.config import (
    PAPER,
    ConfigError,
    TrainConfig,
    add_config_arguments,
    explicit_overrides,
    load_config,
)
from aggan.engine import Trainer, format_duration, resume_config, write_json

__all__ = ["build_parser", "config_from_args", "main", "run"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="train.py",
        description="Train AGGAN: attention-guided generators and discriminators, "
        "cycle, pixel and attention losses, the paper's curriculum. Defaults: the CPU "
        "main job on the built-in synthetic faces; --paper: the paper's configuration.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--paper",
        action="store_true",
        help="start from the paper's configuration: "
        + ", ".join(f"{k}={v}" for k, v in PAPER.items()),
    )
    parser.add_argument("--config", type=Path, help="start from a saved config.json")
    parser.add_argument(
        "--resume", type=Path, metavar="RUN_DIR", help="continue the run in RUN_DIR exactly"
    )
    add_config_arguments(parser)
    return parser


def config_from_args(args: argparse.Namespace) -> tuple[TrainConfig, Path | None]:
    """The configuration the command line asks for, and the run to resume (or None).

    Explicit options win over ``--config``, which wins over ``--paper``, which wins over
    the defaults. With ``--resume`` the run's own configuration is the base.
    """
    overrides = explicit_overrides(args)
    if args.resume is not None:
        if args.paper or args.config:
            raise ConfigError(
                "--resume continues a run with its own configuration; drop --paper and --config"
            )
        return resume_config(args.resume, overrides), args.resume
    base = TrainConfig()
    if args.paper:
        base = dataclasses.replace(base, **PAPER)
    if args.config is not None:
        base = load_config(args.config)
    return dataclasses.replace(base, **overrides), None


def run(cfg: TrainConfig, resume: Path | None = None, *, quiet: bool = False) -> int:
    """Trains, then (rank 0) writes samples, loss curves and the evaluation.

    Returns:
        The exit status: 0, or 130 when stopped by Ctrl-C/SIGTERM (checkpoint saved).
    """
    started = time.perf_counter()
    trainer = Trainer(cfg, resume=resume, quiet=quiet)
    cfg, run_dir, main = trainer.cfg, trainer.run_dir, trainer.dist.main
    from aggan.evaluation import evaluate, format_table, load_test_set
    from aggan.visuals import loss_curves, sample_grid

    samples = None
    if main:
        from aggan.config import save_config

        save_config(cfg, run_dir / "config.json")
        # The loss log restarts from what the checkpoint holds: a killed run may have
        # logged steps after its last checkpoint, and those are trained again.
        with open(run_dir / "losses.jsonl", "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in trainer.history)
        if cfg.n_samples:
            samples = tuple(
                load_test_set(trainer.data_root, d, cfg.size, cfg.n_samples).source.to(
                    trainer.device
                )
                for d in ("AtoB", "BtoA")
            )
        print(
            f"run folder {run_dir} | data {trainer.data_root} | device {trainer.device}"
            f"{f' x {trainer.dist.world} processes' if trainer.dist.enabled else ''} | "
            f"{trainer.total_steps()} steps ({cfg.epochs} epochs of {len(trainer.plan)})"
            + (f" | resuming at step {trainer.step}" if resume else ""),
            flush=True,
        )
    writer = None
    if main and cfg.tensorboard:
        writer = trainer._summary_writer_cls(log_dir=str(run_dir / "tensorboard"))

    def on_log(t: Trainer, record: dict[str, float]) -> None:
        with open(run_dir / "losses.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        if writer is not None:
            for k, v in record.items():
                if k != "step":
                    writer.add_scalar(k, v, record["step"])

    def on_step(t: Trainer) -> None:
        if samples is not None and cfg.sample_every and t.step % cfg.sample_every == 0:
            sample_grid(
                t.model,
                *samples,
                run_dir / "samples" / f"step-{t.step:07d}.png",
                title=f"step {t.step}",
            )

    outcome = trainer.fit(on_log=on_log, on_step=on_step)
    if writer is not None:
        writer.close()
    if outcome == "interrupted":
        if main:
            print(
                f"stopped at step {trainer.step}; checkpoint saved in {run_dir / 'checkpoint'}. "
                f"Continue with: python examples/aggan/train.py --resume {run_dir}",
                file=sys.stderr,
                flush=True,
            )
        return 130
    if trainer.dist.enabled:
        same = trainer.networks_equal_across_ranks()
        if main:
            answer = "yes" if same else "NO"
            print(f"weights identical on all {trainer.dist.world} processes: {answer}", flush=True)
        if not same:
            raise RuntimeError("the processes' weights diverged; DistributedDataParallel broke")
    if not main:
        return 0

    if samples is not None:
        sample_grid(
            trainer.model,
            *samples,
            run_dir / "samples" / "final.png",
            title=f"step {trainer.step} (final)",
        )
    loss_curves(trainer.history, run_dir / "losses.png")
    train_time = trainer.elapsed
    summary = {
        "outcome": outcome,
        "steps": trainer.step,
        "epochs_done": trainer.epoch,
        "train_seconds": round(train_time, 1),
        "config": dataclasses.asdict(cfg),
    }
    if cfg.evaluate:
        t0 = time.perf_counter()
        results = evaluate(trainer.model, trainer.data_root, cfg.size, trainer.device)
        summary["eval_seconds"] = round(time.perf_counter() - t0, 1)
        summary["results"] = results
        label = "AGGAN" if cfg.attention_generator else "baseline (no attention)"
        table = format_table(results, label=label)
        (run_dir / "results.md").write_text(table + "\n")
    summary["wall_seconds_this_process"] = round(time.perf_counter() - started, 1)
    write_json(run_dir / "metrics.json", summary)
    print(
        f"trained {trainer.step} steps in {format_duration(train_time)}; "
        f"this process ran {format_duration(summary['wall_seconds_this_process'])}",
        flush=True,
    )
    if cfg.evaluate:
        print(f"\nTest split of {trainer.data_root}:\n\n{table}\n", flush=True)
    print(f"outputs in {run_dir}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        cfg, resume = config_from_args(args)
        return run(cfg, resume)
    except ConfigError as err:
        print(f"train.py: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
