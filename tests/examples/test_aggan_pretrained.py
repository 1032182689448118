"""Upgrading a trained CycleGAN into AGGAN: --init-from a run, upstream .pth or safetensors."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
import torch
from _generators import NLayerDiscriminator
from _generators import ResnetGenerator as UpstreamGenerator
from aggan import train as train_script
from aggan.checkpointing import load_trained
from aggan.config import TrainConfig, load_config
from aggan.model import build_model
from aggan.pretrained import initialise_from, read_pretrained
from aggan_testutils import TINY
from common.config import ConfigError


@pytest.fixture(scope="module")
def cyclegan_run(faces: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "cyclegan"
    argv = [*TINY, "--data-root", str(faces), "--out", str(out), "--max-steps", "3"]
    assert (
        train_script.main([*argv, "--baseline", "cyclegan", "--no-evaluate", "--n-samples", "0"])
        == 0
    )
    return out


def _upgraded(cyclegan_run: Path, **changes) -> TrainConfig:
    base = load_config(cyclegan_run / "config.json")
    return dataclasses.replace(
        TrainConfig(),
        **{k: getattr(base, k) for k in ("size", "ngf", "n_blocks", "ndf", "d_head", "data_root")},
        init_from=str(cyclegan_run),
        **changes,
    )


def test_a_large_mask_bias_reproduces_the_cyclegans_translations_at_step_0(
    cyclegan_run: Path, faces: Path
) -> None:
    _, baseline, _ = load_trained(cyclegan_run, device="cpu")
    cfg = _upgraded(cyclegan_run, mask_bias=10.0)
    model = build_model(cfg).eval()
    loaded = initialise_from(model, read_pretrained(cyclegan_run), str(cyclegan_run))
    assert loaded == ["G_xy", "G_yx", "D_X", "D_Y", "D_XA (from D_X)", "D_YA (from D_Y)"]
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    for direction in ("AtoB", "BtoA"):
        theirs = baseline.translate(x, direction)[0]
        ours, mask, _ = model.translate(x, direction)
        # The mask is sigmoid(10) = 0.99995 everywhere: the CycleGAN's output, to 1e-4.
        assert (ours - theirs).abs().max() < 1e-4
        assert bool((mask > 0.9999).all())
    with torch.no_grad():
        image, mask = x, torch.rand(2, 1, 32, 32)
        # The attention-guided discriminators score as the vanilla ones at step 0.
        assert torch.equal(model.D_XA(image, mask), baseline.D_X(image))
        assert torch.equal(model.D_YA(image, mask), baseline.D_Y(image))


def test_train_py_starts_from_the_run_and_trains_on(
    cyclegan_run: Path, faces: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "upgraded"
    argv = [
        *TINY,
        "--data-root",
        str(faces),
        "--out",
        str(out),
        "--max-steps",
        "2",
        "--d-head",
        "patch",
    ]
    assert (
        train_script.main(
            [*argv, "--init-from", str(cyclegan_run), "--mask-bias", "6", "--no-evaluate"]
        )
        == 0
    )
    assert (
        f"started from {cyclegan_run}: G_xy, G_yx, D_X, D_Y, D_XA (from D_X)"
        in capsys.readouterr().out
    )


def _upstream_files(folder: Path, *, ngf: int = 4, ndf: int = 4) -> None:
    """What CycleGAN's own code writes: plain state dicts saved by torch.save."""
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(3)
    for name in ("G_A", "G_B"):
        torch.save(
            UpstreamGenerator(ngf=ngf, n_blocks=1).state_dict(), folder / f"latest_net_{name}.pth"
        )
    for name in ("D_A", "D_B"):
        torch.save(
            NLayerDiscriminator(ndf=ndf, n_layers=3).state_dict(), folder / f"latest_net_{name}.pth"
        )


def test_upstream_cyclegan_checkpoints_load_by_their_names(tmp_path: Path) -> None:
    _upstream_files(tmp_path / "horse2zebra")
    found = read_pretrained(tmp_path / "horse2zebra")
    assert sorted(found) == ["D_X", "D_Y", "G_xy", "G_yx"]
    cfg = dataclasses.replace(TrainConfig(), size=32, ngf=4, n_blocks=1, ndf=4, d_head="patch")
    model = build_model(cfg)
    initialise_from(model, found, "horse2zebra")
    # G_A (A -> B) is our G_xy, D_A (judging B) our D_Y; keys unchanged inside the head.
    g_a = torch.load(tmp_path / "horse2zebra" / "latest_net_G_A.pth", weights_only=True)
    d_a = torch.load(tmp_path / "horse2zebra" / "latest_net_D_A.pth", weights_only=True)
    for key, value in g_a.items():
        assert torch.equal(model.G_xy.generator.state_dict()[key], value), key
    for key, value in d_a.items():
        assert torch.equal(model.D_Y.state_dict()[key], value), key
        assert torch.equal(model.D_YA.discriminator.state_dict()[key], value), key
    assert not model.D_YA.mask_conv.weight.any()


def test_another_architecture_is_refused_with_the_keys_that_differ(tmp_path: Path) -> None:
    _upstream_files(tmp_path / "wide", ngf=8)
    cfg = dataclasses.replace(TrainConfig(), size=32, ngf=4, n_blocks=1, ndf=4, d_head="patch")
    with pytest.raises(
        ConfigError, match=r"the weights of G_xy do not fit this configuration's ResnetGenerator"
    ) as info:
        initialise_from(build_model(cfg), read_pretrained(tmp_path / "wide"), "wide")
    assert (
        "G_xy.model.1.weight: shape (8, 3, 7, 7) in the weights, (4, 3, 7, 7) in the module"
        in str(info.value)
    )
    pooled = dataclasses.replace(cfg, ngf=8, d_head="pool")
    with pytest.raises(ConfigError, match=r"the weights of D_Y do not fit") as info:
        initialise_from(build_model(pooled), read_pretrained(tmp_path / "wide"), "wide")
    assert "in the weights, not in the module" in str(info.value)


def test_sources_that_are_none_of_the_layouts_or_would_run_code(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        ConfigError, match=r"no weights for G_xy, G_yx there. Expected a run folder"
    ):
        read_pretrained(tmp_path / "empty")
    with pytest.raises(ConfigError, match="not a folder"):
        read_pretrained(tmp_path / "missing")
    evil = tmp_path / "evil"
    _upstream_files(evil)
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    torch.save({"model.1.weight": Payload()}, evil / "latest_net_G_B.pth")
    with pytest.raises(
        ConfigError, match=r"latest_net_G_B\.pth' holds objects that would run code"
    ):
        read_pretrained(evil)
    assert not marker.exists()


def test_evaluate_at_start_scores_the_cyclegan_for_a_large_mask_bias(
    cyclegan_run: Path, faces: Path, tmp_path: Path, capsys
) -> None:
    from aggan import evaluate as evaluate_script

    out = tmp_path / "upgraded"
    argv = [*TINY, "--data-root", str(faces), "--out", str(out), "--max-steps", "1"]
    argv += ["--d-head", "patch", "--init-from", str(cyclegan_run), "--mask-bias", "10"]
    assert train_script.main([*argv, "--no-evaluate", "--n-samples", "0"]) == 0
    theirs, start, end = tmp_path / "cyclegan.json", tmp_path / "start.json", tmp_path / "end.json"
    assert evaluate_script.main([str(cyclegan_run), "--device", "cpu", "--json", str(theirs)]) == 0
    assert (
        evaluate_script.main([str(out), "--at-start", "--device", "cpu", "--json", str(start)]) == 0
    )
    assert evaluate_script.main([str(out), "--device", "cpu", "--json", str(end)]) == 0
    import json

    theirs, start, end = (json.loads(p.read_text()) for p in (theirs, start, end))
    for direction in ("AtoB", "BtoA"):
        # Step 0 of the upgrade is the CycleGAN (to the mask's 0.99995), not the step after.
        assert start[direction]["psnr"] == pytest.approx(theirs[direction]["psnr"], abs=0.01)
        assert start[direction]["mask_mean"] > 0.9999
        assert end[direction] != start[direction]
    capsys.readouterr()
    assert evaluate_script.main([str(cyclegan_run), "--at-start", "--device", "cpu"]) == 2
    assert "started from random weights (no --init-from)" in capsys.readouterr().err


def _tiny_cfg() -> TrainConfig:
    return dataclasses.replace(TrainConfig(), size=32, ngf=4, n_blocks=1, ndf=4, d_head="patch")


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_generator_weights_are_refused_by_key(tmp_path: Path, bad: float) -> None:
    folder = tmp_path / "nan"
    _upstream_files(folder)
    g = torch.load(folder / "latest_net_G_A.pth", weights_only=True)
    torch.save({k: torch.full_like(v, bad) for k, v in g.items()}, folder / "latest_net_G_A.pth")
    with pytest.raises(
        ConfigError, match=r"latest_net_G_A\.pth' holds NaN or infinite values in \d+ tensor"
    ):
        read_pretrained(folder)


def test_non_finite_weights_in_a_run_folder_are_refused_by_name(
    cyclegan_run: Path, tmp_path: Path
) -> None:
    import shutil

    from attnguide.training import load_checkpoint, save_checkpoint

    run = tmp_path / "run"
    shutil.copytree(cyclegan_run, run)
    state = load_checkpoint(run / "checkpoint")
    state["G_xy"] = {k: torch.full_like(v, float("nan")) for k, v in state["G_xy"].items()}

    save_checkpoint(run / "checkpoint", state)
    with pytest.raises(ConfigError, match=r"the weights of G_xy hold NaN or infinite values"):
        read_pretrained(run)


def test_weights_of_another_dtype_are_refused_by_key(tmp_path: Path) -> None:
    folder = tmp_path / "ints"
    _upstream_files(folder)
    g = torch.load(folder / "latest_net_G_A.pth", weights_only=True)
    torch.save({k: v.to(torch.int64) for k, v in g.items()}, folder / "latest_net_G_A.pth")
    with pytest.raises(ConfigError, match=r"the weights of G_xy do not fit") as info:
        initialise_from(build_model(_tiny_cfg()), read_pretrained(folder), "ints")
    assert "G_xy.model.1.weight: dtype int64 in the weights, float32 in the module" in str(
        info.value
    )


def test_a_text_file_named_like_a_checkpoint_is_refused_by_name(tmp_path: Path) -> None:
    folder = tmp_path / "text"
    _upstream_files(folder)
    (folder / "latest_net_G_A.pth").write_text("see https://example.org for the weights\n")
    with pytest.raises(ConfigError, match=r"latest_net_G_A\.pth' is not a weights file"):
        read_pretrained(folder)
