"""translation_scores: the metrics of 8-bit translations, as the ground truth allows."""

from __future__ import annotations

import pytest
import torch

import attnguide.metrics
from attnguide.metrics import (
    background_psnr,
    mask_auroc,
    mask_iou,
    mse,
    psnr,
    ssim,
)

# ------------------------------------------------------------------ translation_scores


def _translation_case(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    source = torch.rand(3, 3, 16, 16, generator=g) * 2 - 1
    change = torch.zeros(3, 1, 16, 16, dtype=torch.bool)
    change[..., 3:9, 4:10] = True
    target = torch.where(change, torch.rand(3, 3, 16, 16, generator=g) * 2 - 1, source)
    out = target + 0.05 * torch.randn(3, 3, 16, 16, generator=g)
    mask = torch.rand(3, 1, 16, 16, generator=g)
    return out, source, target, change, mask


def test_translation_scores_are_the_metrics_of_the_8_bit_images() -> None:
    from attnguide.data import to_uint8

    out, source, target, change, mask = _translation_case()
    s = attnguide.metrics.translation_scores(
        out, source, target=target, change_mask=change, mask=mask
    )
    o8, s8, t8 = (to_uint8(x).float() for x in (out, source, target))
    expected = {
        "psnr": psnr(o8, t8, data_range=255.0, reduction="none"),
        "mse": mse(o8, t8, data_range=255.0, reduction="none"),
        "ssim": ssim(o8, t8, data_range=255.0, reduction="none"),
        "change_psnr": psnr(o8, t8, data_range=255.0, region=change, reduction="none"),
        "bg_psnr": background_psnr(o8, s8, change, data_range=255.0, reduction="none"),
        "mask_iou": mask_iou(mask, change, threshold=0.5, reduction="none"),
        "mask_auroc": mask_auroc(mask, change, reduction="none"),
        "mask_mean": mask.flatten(1).mean(1),
    }
    assert s.keys() == expected.keys()
    for name, value in expected.items():
        assert s[name].shape == (3,)
        torch.testing.assert_close(s[name], value, msg=name)


@pytest.mark.parametrize(
    ("given", "keys"),
    [
        ((), set()),
        (("target",), {"psnr", "mse", "ssim"}),
        (("change_mask",), {"bg_psnr"}),
        (("mask",), {"mask_mean"}),
        (("change_mask", "mask"), {"bg_psnr", "mask_iou", "mask_auroc", "mask_mean"}),
    ],
)
def test_translation_scores_score_what_the_ground_truth_allows(given, keys) -> None:
    out, source, target, change, mask = _translation_case()
    truth = {"target": target, "change_mask": change, "mask": mask}
    s = attnguide.metrics.translation_scores(out, source, **{k: truth[k] for k in given})
    assert set(s) == keys


def test_translation_scores_refuse_mismatched_shapes() -> None:
    out, source, target, _change, mask = _translation_case()
    with pytest.raises(ValueError, match="'target'"):
        attnguide.metrics.translation_scores(out, source, target=target[:2])
    with pytest.raises(ValueError, match="'mask'"):
        attnguide.metrics.translation_scores(out, source, mask=mask[..., :8])
    with pytest.raises(ValueError, match="'mask'"):
        attnguide.metrics.translation_scores(out, source, mask=mask.expand(-1, 2, -1, -1))
