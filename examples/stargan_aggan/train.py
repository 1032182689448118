"""Train an attention-guided StarGAN (AGGAN's RaFD experiment) on the built-in
expression faces or any RaFD-style data set.

    python examples/stargan_aggan/train.py                      # the CPU job, < 10 minutes
    python examples/stargan_aggan/train.py --baseline stargan   # plain StarGAN, same budget
    python examples/stargan_aggan/train.py --data-root D --size 128 --ngf 64 ...
    torchrun --nproc_per_node=2 examples/stargan_aggan/train.py ...  # several processes
    python examples/stargan_aggan/train.py --resume runs/stargan-...  # continue exactly

The run folder's files are listed in ``common/rundir.py``.
"""

from __future__ import annotations

import argparse
import dataclasses
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
from common.rundir import RunFolder, write_summary
from common.visuals import loss_curves

from stargan_aggan.classifier import train_classifier
from stargan_aggan.config import (
    BASELINES,
    TrainConfig,
    validate_config,
)
from stargan_aggan.data import load_test_images, prepare_data_root
from stargan_aggan.engine import Trainer
from stargan_aggan.evaluation import evaluate, format_pairs, format_targets, label_of
from stargan_aggan.visuals import sample_grid, sample_inputs

__all__ = ["build_parser", "config_from_args", "main", "run"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="train.py",
        description="Train StarGAN, attention-guided (AttentionHead around its generator, a "
        "mask-conditioned critic) or plain (--baseline stargan). Defaults: the CPU job on "
        "the built-in expression faces.",
    )
    parser.add_argument(
        "--baseline", choices=sorted(BASELINES), help="train a baseline as its authors do"
    )
    common.add_run_options(parser, TrainConfig)
    return parser


def config_from_args(args: argparse.Namespace) -> tuple[TrainConfig, Path | None]:
    """The configuration the command line asks for, and the run to resume (or None).

    Explicit options win over ``--config``, which wins over ``--baseline``, which wins
    over the defaults. With ``--resume`` the run's own configuration is the base.
    """
    presets = {"--baseline": BASELINES[args.baseline] if args.baseline else None}
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
    folder = RunFolder.choose(cfg.out, resume, prefix="stargan", overwrite=overwrite)
    dist, device = setup_distributed(cfg.device, cfg.amp)
    try:
        status = _train(cfg, resume, folder, dist, device, started, quiet)
    finally:
        folder.release()  # the run folder's lock, taken in folder.prepare
    dist.close()
    return status


def _train(cfg, resume, folder, dist, device, started, quiet) -> int:
    """The body of :func:`run` once the process group is set up."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if dist.main:
        root, domains = prepare_data_root(cfg, build=True)
    dist.barrier()
    if not dist.main:
        root, domains = prepare_data_root(cfg, build=False)
    samples = None
    if dist.main and cfg.n_samples:
        test = load_test_images(root, domains, cfg.size, cfg.n_samples)
        images, labels = sample_inputs(test.images, cfg.n_samples)
        samples = (images.to(device), labels)
    trainer = Trainer(cfg, root, domains, folder.path, dist, device)
    if resume is not None:
        trainer.restore(folder.checkpoint)
    p = trainer.progress
    bar = None
    if dist.main:
        folder.prepare(cfg, trainer.losses.history, tensorboard=False)
        print(
            f"run folder {folder.path} | data {root} ({', '.join(domains)}) | device {device}"
            + (f" x {dist.world} processes" if dist.enabled else "")
            + f" | {trainer.total_steps()} iterations ({cfg.epochs} epochs of {len(trainer.data)})"
            + (f" | resuming at iteration {p.step}" if resume else ""),
            flush=True,
        )
        if not quiet:
            bar = progress_bar(trainer.total_steps(), p.step, "it")

    def on_step(t: Trainer, record: dict[str, float] | None) -> None:
        if not dist.main:
            return
        if record is not None:
            folder.log(record)
            if bar is not None and "G/total" in record:
                bar.set_postfix(G=f"{record['G/total']:.3f}", D=f"{record['D/total']:.3f}")
        if bar is not None:
            bar.update(1)
        if samples is not None and cfg.sample_every and p.step % cfg.sample_every == 0:
            sample_grid(
                t.model,
                *samples,
                domains,
                folder.samples / f"step-{p.step:07d}.png",
                title=f"iteration {p.step}",
            )

    outcome = trainer.fit(on_step)
    if bar is not None:
        bar.close()
    folder.close()
    if outcome == "interrupted":
        if dist.main:
            script = "examples/stargan_aggan/train.py"
            say_stopped(p.step, folder.path, folder.checkpoint, script, "iteration")
        return 130
    dist.check_same_weights(trainer.model)
    if dist.main:
        _finish(cfg, trainer, folder, root, domains, samples, outcome, started)
    return 0


def _finish(cfg, trainer, folder, root, domains, samples, outcome, started) -> None:
    """The final sample grid, loss curves, evaluation, metrics.json and results.md."""
    p = trainer.progress
    if samples is not None:
        sample_grid(
            trainer.model,
            *samples,
            domains,
            folder.samples / "final.png",
            title=f"iteration {p.step} (final)",
        )
    loss_curves(trainer.losses.records(), folder.path / "losses.png", log_scale=False)
    summary = {
        "outcome": outcome,
        "steps": p.step,
        "epochs_done": p.epoch,
        "train_seconds": round(p.elapsed, 1),
        "steps_per_second": round(p.step / p.elapsed, 2) if p.elapsed else None,
        "domains": domains,
        "config": dataclasses.asdict(cfg),
    }
    tables = None
    if cfg.evaluate:
        t0 = time.perf_counter()
        classifier = train_classifier(root, domains, cfg.size, trainer.device)
        summary["results"] = evaluate(
            trainer.model, root, domains, cfg.size, trainer.device, classifier
        )
        summary["eval_seconds"] = round(time.perf_counter() - t0, 1)
        label = label_of(cfg)
        tables = (
            format_targets(summary["results"], label=label),
            format_pairs(summary["results"], label=label),
        )
        (folder.path / "results.md").write_text(
            "## By target domain (mean over the sources)\n\n"
            + tables[0]
            + "\n\n## By pair\n\n"
            + tables[1]
            + "\n"
        )
    table = None if tables is None else tables[0]
    write_summary(folder, summary, started=started, table=table, root=root, unit="iteration")


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
