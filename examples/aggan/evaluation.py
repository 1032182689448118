"""Evaluation on a test split, with ground truth where the data set has it.

For the synthetic faces (``root/gt/``): PSNR and MSE of each translation against its
true counterpart, as the paper's Table I (MSE on the 0-255 scale), SSIM, the PSNR of
the background (outside the dilated true change region, against the source: how
untouched identity and background stayed), the PSNR inside the true change region
("change PSNR": whether the expression itself was produced; copying the input scores
well on whole-image PSNR, since the change is small, but not there) and how well the
attention mask matches the true change region (IoU at 0.5, AUROC). Translations are
rounded to 8 bits first, as a saved PNG would be. Without ``gt/`` only the mask
coverage is reported.

A second judge that does not read pixels one by one: a domain classifier trained on
the real training images alone (:func:`train_judge`, from seed 0, the same for every
run on one data set) gives ``accuracy``, the share of translations it assigns to the
target domain; its accuracy on the real test images says how far to trust it. The
same network's pooled features give ``fid`` and ``kid``, the Fréchet and kernel
distances between the translations and the real test images of the target domain
(:func:`attnguide.classifier.feature_distances`): numbers that need no ground truth.
"""

from __future__ import annotations

from pathlib import Path

import torch
from common.summary import cell, markdown_table
from safetensors.torch import load_file, save_file
from torch import Tensor

from attnguide import metrics
from attnguide.classifier import (
    DomainClassifier,
    domain_accuracy,
    feature_distances,
    train_domain_classifier,
)
from attnguide.data import list_images, read_image

from .data import DIRECTIONS, load_test_set
from .model import AGGAN, foreground

__all__ = [
    "COLUMNS",
    "TARGET",
    "evaluate",
    "format_table",
    "judge_accuracy",
    "load_judge",
    "save_judge",
    "scores",
    "train_judge",
]

#: The domain (classifier label: A = 0, B = 1) each direction's translations should show.
TARGET = {"AtoB": 1, "BtoA": 0}


def _domain_images(root: Path, phase: str, size: int) -> tuple[Tensor, Tensor]:
    images, labels = [], []
    for label, domain in enumerate("AB"):
        files = list_images(root / f"{phase}{domain}")
        images += [read_image(p, size=size) for p in files]
        labels += [label] * len(files)
    return torch.stack(images), torch.tensor(labels)


def train_judge(root: Path, size: int, device: torch.device) -> DomainClassifier:
    """The domain classifier of a data set: trained on ``root/trainA`` (label 0) and
    ``root/trainB`` (label 1) at ``size``, from seed 0, 30 epochs."""
    images, labels = _domain_images(root, "train", size)
    return train_domain_classifier(images.to(device), labels.to(device), 2, seed=0)


def judge_accuracy(classifier: DomainClassifier, root: Path, size: int) -> float:
    """The classifier's accuracy on the real test images (``testA``, ``testB``)."""
    images, labels = _domain_images(root, "test", size)
    device = next(classifier.parameters()).device
    return domain_accuracy(classifier, images.to(device), labels.to(device))


def save_judge(classifier: DomainClassifier, path: Path) -> None:
    """Writes the classifier's weights (safetensors)."""
    save_file({k: v.detach().cpu().contiguous() for k, v in classifier.state_dict().items()}, path)


def load_judge(path: Path, device: torch.device) -> DomainClassifier:
    """A classifier written by :func:`save_judge`, in eval mode (nothing is unpickled).
    The global random state is untouched: a resumed run's draws stay exact."""
    with torch.random.fork_rng(devices=[]):
        net = DomainClassifier(2)
    net.load_state_dict(load_file(path))
    return net.to(device).eval()


def _quantised(x: Tensor) -> Tensor:
    # What a saved PNG holds, back in [-1, 1]: the classifier judges that.
    return ((x.float().clamp(-1, 1) + 1) * 127.5).round() / 127.5 - 1


def scores(
    out: Tensor, src: Tensor, target: Tensor | None, change: Tensor | None, mask: Tensor | None
) -> dict[str, Tensor]:
    """Per-image metrics of one batch (:func:`attnguide.metrics.translation_scores` of
    the mask's foreground)."""
    fg = None if mask is None else foreground(mask)
    return metrics.translation_scores(out, src, target=target, change_mask=change, mask=fg)


@torch.no_grad()
def evaluate(
    model: AGGAN,
    root: Path,
    size: int,
    device: torch.device,
    *,
    batch_size: int = 16,
    limit: int = 0,
    reference: bool = True,
    classifier: DomainClassifier | None = None,
    test_sets: dict | None = None,
) -> dict[str, dict[str, float]]:
    """Translates the test split both ways and averages the per-image metrics.

    Args:
        model: The trained networks.
        root: The data set (``testA``, ``testB`` and optionally ``gt/``).
        size: The image size the model was trained at.
        device: Where to run the generators.
        batch_size: Images per forward.
        limit: Evaluate only the first N test images per direction (0: all).
        reference: Also score "copy the input" (the identity map), for scale.
        classifier: A :func:`train_judge` classifier: adds ``accuracy``, the share of
            translations it assigns to the target domain.
        test_sets: The test sets by direction, already loaded (:func:`load_test_set`
            with ``limit``), to evaluate often without reading the files again.

    Returns:
        ``{"AtoB": {...}, "BtoA": {...}}`` and, with ``reference``, ``"AtoB/identity"``,
        ``"BtoA/identity"``; each maps metric names to means over the images (``n``:
        how many).
    """
    results: dict[str, dict[str, float]] = {}
    training = model.training
    model.eval()
    loaded = {
        d: (test_sets or {}).get(d) or load_test_set(root, d, size, limit) for d in DIRECTIONS
    }
    try:
        for direction in DIRECTIONS:
            data = loaded[direction]
            outputs: list[Tensor] = []
            found: dict[str, list[Tensor]] = {}
            copies: dict[str, list[Tensor]] = {}
            for k in range(0, len(data.names), batch_size):
                sl = slice(k, k + batch_size)
                src = data.source[sl].to(device)
                target = None if data.target is None else data.target[sl].to(device)
                change = None if data.change is None else data.change[sl].to(device)
                out, mask, _ = model.translate(src, direction)
                outputs.append(_quantised(out).cpu())
                found_scores = scores(out.float(), src, target, change, mask)
                copy_scores = scores(src, src, target, change, None) if reference else {}
                if classifier is not None:
                    label = TARGET[direction]
                    found_scores["accuracy"] = _hits(classifier, out, label)
                    copy_scores["accuracy"] = _hits(classifier, src, label)
                for name, v in found_scores.items():
                    found.setdefault(name, []).append(v.float().cpu())
                for name, v in copy_scores.items():
                    copies.setdefault(name, []).append(v.float().cpu())
            results[direction] = _means(found, len(data.names))
            if reference:
                results[f"{direction}/identity"] = _means(copies, len(data.names))
            # The real images of the target domain: the other direction's sources.
            real = _quantised(loaded[_OTHER[direction]].source)
            # Both statistics need two images a side (a covariance, a pair in a subset).
            if classifier is not None and min(len(real), len(data.names)) >= 2:
                results[direction].update(feature_distances(classifier, real, torch.cat(outputs)))
                if reference:
                    copied = _quantised(data.source)
                    results[f"{direction}/identity"].update(
                        feature_distances(classifier, real, copied)
                    )
    finally:
        model.train(training)
    return results


_OTHER = {"AtoB": "BtoA", "BtoA": "AtoB"}


def _hits(classifier: DomainClassifier, images: Tensor, label: int) -> Tensor:
    return (classifier.predict(_quantised(images)) == label).float()


def _means(values: dict[str, list[Tensor]], n: int) -> dict[str, float]:
    # PSNR of an unchanged background is +inf; the mean of a mix is then +inf too,
    # which is honest: report it as such rather than dropping those images.
    return {"n": float(n), **{name: float(torch.cat(c).mean()) for name, c in values.items()}}


#: (metric, column header, format) of the results table.
COLUMNS = (
    ("psnr", "PSNR", "{:.2f}"),
    ("mse", "MSE", "{:.1f}"),
    ("ssim", "SSIM", "{:.3f}"),
    ("change_psnr", "change PSNR", "{:.2f}"),
    ("bg_psnr", "bg PSNR", "{:.2f}"),
    ("mask_iou", "mask IoU", "{:.3f}"),
    ("mask_auroc", "mask AUROC", "{:.3f}"),
    ("mask_mean", "mask mean", "{:.3f}"),
    ("accuracy", "classifier", "{:.2f}"),
    ("fid", "FID (judge)", "{:.3f}"),
    ("kid", "KID (judge)", "{:.4f}"),
)


def format_table(results: dict[str, dict[str, float]], *, label: str = "model") -> str:
    """A Markdown table of :func:`evaluate`'s results, one row per direction (and
    reference row), one column per metric; metrics a model has no value for are N/A.
    """
    rows = []
    for key, row in results.items():
        direction, _, kind = key.partition("/")
        who = "copy input (reference)" if kind == "identity" else label
        cells = [DIRECTIONS[direction][2], who]
        rows.append(cells + [cell(row.get(name), fmt) for name, _, fmt in COLUMNS])
    return markdown_table(["direction", "translation"] + [c[1] for c in COLUMNS], rows)
