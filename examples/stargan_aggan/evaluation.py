"""Evaluation on the test split: every (source, target) pair of domains.

For each ordered pair, the test images of the source domain are translated to the
target and scored by :func:`attnguide.metrics.translation_scores`: with a paired test
split (the built-in faces: ``test/<d>/NNNNN.png`` is one identity in every domain)
against the true counterpart (PSNR, MSE, SSIM), inside the true change region (change
PSNR) and outside it against the source (background PSNR); the attention mask against
the true change mask (IoU, AUROC). ``accuracy`` is the fraction of translations that
the separately trained :class:`~stargan_aggan.classifier.DomainClassifier` assigns to
the target domain; ``fid`` and ``kid`` are the distances between the translations and
the real test images of the target on that classifier's features
(:func:`attnguide.classifier.feature_distances`), which need no ground truth. "Copy
input" rows score the untouched source, for scale.
"""

from __future__ import annotations

from pathlib import Path

import torch
from common.summary import cell, markdown_table
from torch import Tensor

from attnguide import metrics
from attnguide.classifier import feature_distances

from .classifier import DomainClassifier
from .config import TrainConfig
from .data import load_test_images, true_change
from .model import StarGANModel

__all__ = ["COLUMNS", "by_target", "evaluate", "format_pairs", "format_targets", "label_of"]


def label_of(cfg: TrainConfig) -> str:
    """The name of a run's model in the results tables."""
    return "AGGAN-StarGAN" if cfg.attention else "StarGAN"


def _means(values: dict[str, list[Tensor]], n: int) -> dict[str, float]:
    return {"n": float(n), **{k: float(torch.cat(v).mean()) for k, v in values.items()}}


@torch.no_grad()
def evaluate(
    model: StarGANModel,
    root: Path,
    domains: list[str],
    size: int,
    device: torch.device,
    classifier: DomainClassifier | None = None,
    *,
    batch_size: int = 32,
    limit: int = 0,
) -> dict[str, dict[str, dict[str, float]]]:
    """Translates the test images of every domain to every other domain and averages
    the per-image scores.

    Returns:
        ``{"model": {"a->b": scores}, "copy": {"a->b": scores}, "real": {domain:
        {"accuracy": ...}}}``: the translations, the copy-input reference and (with a
        classifier) the classifier's accuracy on the real test images of each domain.
    """
    test = load_test_images(root, domains, size, limit)
    results: dict[str, dict[str, dict[str, float]]] = {"model": {}, "copy": {}, "real": {}}
    training = model.training
    model.eval()
    try:
        for s, source_name in enumerate(domains):
            images = test.images[s]
            if classifier is not None:
                predicted = classifier.predict(images.to(device)).cpu()
                results["real"][source_name] = {
                    "n": float(len(images)),
                    "accuracy": float((predicted == s).float().mean()),
                }
            for t, target_name in enumerate(domains):
                if t == s:
                    continue
                target = test.images[t] if test.paired else None
                change = true_change(root, source_name, target_name, test.names[s], size)
                found: dict[str, list[Tensor]] = {}
                copies: dict[str, list[Tensor]] = {}
                translated: list[Tensor] = []
                for k in range(0, len(images), batch_size):
                    src = images[k : k + batch_size].to(device)
                    labels = torch.full((len(src),), t, device=device)
                    out, mask = model.translate(src, labels)
                    part = slice(k, k + batch_size)
                    truth = {
                        "target": None if target is None else target[part].to(device),
                        "change_mask": None if change is None else change[part].to(device),
                    }
                    for name, v in metrics.translation_scores(out, src, mask=mask, **truth).items():
                        found.setdefault(name, []).append(v.cpu())
                    for name, v in metrics.translation_scores(src, src, **truth).items():
                        copies.setdefault(name, []).append(v.cpu())
                    if classifier is not None:
                        # 8-bit, as a saved translation would be classified.
                        out8 = ((out.clamp(-1, 1) + 1) * 127.5).round() / 127.5 - 1
                        found.setdefault("accuracy", []).append(
                            (classifier.predict(out8) == t).float().cpu()
                        )
                        translated.append(out8.cpu())
                if classifier is not None:
                    # The copy is the source itself, classified once above.
                    copies["accuracy"] = [(predicted == t).float()]
                key = f"{source_name}->{target_name}"
                results["model"][key] = _means(found, len(images))
                results["copy"][key] = _means(copies, len(images))
                # Both statistics need two images a side (a covariance, a pair in a subset).
                real = test.images[t]
                if classifier is not None and min(len(real), len(images)) >= 2:
                    fake = torch.cat(translated)
                    results["model"][key].update(feature_distances(classifier, real, fake))
                    results["copy"][key].update(feature_distances(classifier, real, images))
    finally:
        model.train(training)
    return results


#: (metric, column header, format) of the results tables.
COLUMNS = (
    ("psnr", "PSNR", "{:.2f}"),
    ("change_psnr", "change PSNR", "{:.2f}"),
    ("bg_psnr", "bg PSNR", "{:.2f}"),
    ("mask_iou", "mask IoU", "{:.3f}"),
    ("mask_auroc", "mask AUROC", "{:.3f}"),
    ("accuracy", "accuracy", "{:.3f}"),
    ("fid", "FID (judge)", "{:.3f}"),
    ("kid", "KID (judge)", "{:.4f}"),
)


def by_target(pairs: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Per target domain, the mean over its source domains of each pair's scores (a
    background PSNR of +inf in any pair makes the mean +inf, as it is)."""
    grouped: dict[str, list[dict[str, float]]] = {}
    for key, row in pairs.items():
        grouped.setdefault(key.split("->")[1], []).append(row)
    return {
        target: {
            name: sum(float(r[name]) for r in rows) / len(rows)
            for name in rows[0]
            if all(name in r for r in rows)
        }
        for target, rows in grouped.items()
    }


def _table(rows: list[tuple[str, str, dict[str, float]]], first: str) -> str:
    header = [first, "translation"] + [c[1] for c in COLUMNS]
    return markdown_table(
        header,
        [[key, who] + [cell(row.get(n), fmt) for n, _, fmt in COLUMNS] for key, who, row in rows],
    )


def format_targets(results: dict, *, label: str) -> str:
    """A Markdown table: per target domain, the model and copy-input rows (means over
    the source domains), then the classifier's accuracy on the real test images."""
    model, copy = by_target(results["model"]), by_target(results["copy"])
    rows = []
    for target in model:
        rows += [(f"→ {target}", label, model[target]), (f"→ {target}", "copy input", copy[target])]
    rows += [(d, "real test images", r) for d, r in results["real"].items()]
    return _table(rows, "target")


def format_pairs(results: dict, *, label: str) -> str:
    """A Markdown table with one row per (source, target) pair and translation."""
    rows = []
    for key in results["model"]:
        rows += [(key, label, results["model"][key]), (key, "copy input", results["copy"][key])]
    return _table(rows, "pair")
