"""Evaluation metrics: image fidelity, attention-mask quality and distribution distances.

- :func:`mse`, :func:`psnr`, :func:`ssim`: translated image against ground truth (mse
  and psnr also inside a ``region``, e.g. the true change region).
- :func:`mask_iou`, :func:`mask_auroc`: a predicted attention mask against the
  ground-truth change region.
- :func:`background_psnr`: how untouched everything outside the change region stayed.
- :func:`frechet_distance`, :func:`kernel_inception_distance`: FID / KID statistics of
  features from a ``feature_extractor`` you supply (nothing is downloaded).
- :mod:`attnguide.classifier` has the judge that reads no pixel one by one: a small
  classifier trained on real images of each domain, and the share of translations it
  assigns to their target domain.
- :func:`translation_scores`: all of the above that a batch's ground truth allows, per
  image, on 8-bit translations.

Non-finite masks: a function that thresholds or ranks a mask (:func:`mask_iou`,
:func:`mask_auroc`, a float ``region`` or ``change_mask``) refuses NaN and infinities
with a ``ValueError``, since no decision about them is right; arithmetic on images
propagates them, as everywhere in attnguide: nothing turns a non-finite value into a
finite result silently.

Value ranges are explicit. Images in [-1, 1] (what the generators output) have
``data_range=2.0``; 8-bit images as floats in [0, 255] have ``data_range=255.0``.
The AGGAN paper's Table I reports MSE on the 0-255 scale: ``mse(fake, real,
data_range=2.0)`` gives that number for [-1, 1] tensors. The paper measured saved
8-bit images; to match it exactly, quantise first (``((x + 1) * 127.5).round()``
with ``data_range=255.0``).

Per-image metrics take ``reduction="mean" | "sum" | "none"``; ``"none"`` returns one
value per sample, ``"mean"`` averages those (the mean of per-image PSNRs, as papers
report it, not the PSNR of the pooled error).
"""

from attnguide.metrics._distances import frechet_distance, kernel_inception_distance
from attnguide.metrics._fidelity import background_psnr, mse, psnr, ssim
from attnguide.metrics._masks import mask_auroc, mask_iou
from attnguide.metrics._scores import translation_scores

__all__ = [
    "background_psnr",
    "frechet_distance",
    "kernel_inception_distance",
    "mask_auroc",
    "mask_iou",
    "mse",
    "psnr",
    "ssim",
    "translation_scores",
]
