"""End-to-end runs of the AGGAN example on a tiny faces set: train, evaluate, translate."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from aggan import evaluate as evaluate_script
from aggan import train as train_script
from aggan import translate as translate_script
from aggan.config import load_config
from aggan.model import build_model
from aggan_testutils import TINY
from PIL import Image

from attnguide.training import load_checkpoint, read_eval_log


def train(argv: list[str]) -> int:
    return train_script.main([*TINY, *argv])


@pytest.fixture(scope="module")
def run_dir(faces: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny AGGAN trained for two epochs of six steps."""
    out = tmp_path_factory.mktemp("runs") / "aggan"
    argv = ["--data-root", str(faces), "--out", str(out), "--epochs", "2", "--decay-epochs", "1"]
    assert train([*argv, "--warmup-epochs", "1", "--sample-every", "5"]) == 0
    return out


def test_run_folder_holds_everything(run_dir: Path, faces: Path) -> None:
    cfg = load_config(run_dir / "config.json")
    assert (cfg.size, cfg.ngf, cfg.epochs, cfg.data_root) == (32, 4, 2, str(faces))
    saved = load_checkpoint(run_dir / "checkpoint")
    assert {"G_xy", "G_yx", "D_X", "D_Y", "D_XA", "D_YA"} <= set(saved)
    assert saved["progress"]["step"] == 12 and saved["progress"]["epoch"] == 2
    # The learning rate decayed to zero over the last epoch, as configured.
    assert saved["sched_G"]["last_epoch"] == 2
    # Training moved the weights away from their initialisation.
    init = build_model(cfg).G_xy.state_dict()
    assert any(not torch.equal(init[k], v) for k, v in saved["G_xy"].items())

    records = [json.loads(line) for line in (run_dir / "losses.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == list(range(1, 13))
    assert {"G/total", "G/gan", "G/agan", "G/cycle", "G/pixel", "G/tv", "D/D_XA"} <= set(records[0])
    assert records[0]["r"] == 0.01 and records[-1]["r"] == 0.5
    for r in records:  # Eq. 9: the weighted terms add up to the total
        parts = sum(v for k, v in r.items() if k.startswith("G/") and k != "G/total")
        assert math.isclose(parts, r["G/total"], rel_tol=1e-5)

    grids = sorted(p.name for p in (run_dir / "samples").iterdir())
    assert grids == ["final.png", "step-0000005.png", "step-0000010.png"]
    with Image.open(run_dir / "samples" / "final.png") as img:
        # two rows (A->B, B->A) of five 96-pixel cells
        assert img.width > 5 * 96 and img.height > 2 * 96
    with Image.open(run_dir / "losses.png") as img:
        assert img.width >= 600 and img.height >= 3 * 200  # three panels

    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["outcome"] == "done" and metrics["steps"] == 12
    for direction in ("AtoB", "BtoA"):
        row = metrics["results"][direction]
        assert row["n"] == 3
        assert {"psnr", "mse", "ssim", "change_psnr", "bg_psnr", "mask_iou", "mask_auroc"} <= set(
            row
        )
        assert math.isclose(row["psnr"], 10 * math.log10(255**2 / row["mse"]), rel_tol=0.05)
        # copying the input keeps the background exactly
        assert metrics["results"][f"{direction}/identity"]["bg_psnr"] in (math.inf, "inf")
    table = (run_dir / "results.md").read_text()
    assert "| A->B (neutral -> smiling) | AGGAN |" in table
    assert "| copy input (reference) |" in table


def test_evaluate_draws_error_figures(run_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "errors.png"
    assert (
        evaluate_script.main([str(run_dir), "--error-figure", str(out), "--figure-rows", "2"]) == 0
    )
    for direction in ("AtoB", "BtoA"):
        with Image.open(tmp_path / f"errors-{direction}.png") as img:
            # five columns: input, mask, output, truth, error; two rows of faces
            assert img.width > 5 * 100 and img.height > 2 * 100


def test_cyclegan_baseline_is_trained_as_its_authors_do(faces: Path, tmp_path: Path) -> None:
    out = tmp_path / "cyclegan"
    argv = [
        "--data-root",
        str(faces),
        "--out",
        str(out),
        "--max-steps",
        "2",
        "--baseline",
        "cyclegan",
    ]
    assert train([*argv, "--no-evaluate", "--n-samples", "0"]) == 0
    cfg = load_config(out / "config.json")
    assert not cfg.attention_generator and cfg.objective == "cyclegan" and cfg.d_head == "patch"
    assert (cfg.lr, cfg.gan_weight, cfg.cycle_weight, cfg.identity_weight) == (2e-4, 1.0, 10.0, 0.5)
    record = json.loads((out / "losses.jsonl").read_text().splitlines()[0])
    assert {"G/gan", "G/cycle", "G/identity", "G/total", "D/D_X", "D/D_Y"} == {
        k for k in record if k.startswith(("G/", "D/"))
    }
    # CycleGAN's objective: gan + 10 cycle + 0.5 * 10 identity, no curriculum factor.
    parts = record["G/gan"] + record["G/cycle"] + record["G/identity"]
    assert math.isclose(parts, record["G/total"], rel_tol=1e-5)


def test_evaluate_script_reproduces_the_results(run_dir: Path, capsys) -> None:
    capsys.readouterr()
    assert evaluate_script.main([str(run_dir), "--json", str(run_dir / "again.json")]) == 0
    assert capsys.readouterr().out.strip() == (run_dir / "results.md").read_text().strip()
    saved = json.loads((run_dir / "metrics.json").read_text())["results"]
    assert json.loads((run_dir / "again.json").read_text()) == saved


def test_translate_script_writes_images_masks_and_contents(
    run_dir: Path, faces: Path, tmp_path: Path
) -> None:
    assert (
        translate_script.main(
            [str(run_dir), str(faces / "testB"), str(tmp_path), "--direction", "BtoA"]
        )
        == 0
    )
    names = sorted(p.name for p in (faces / "testB").iterdir())
    for folder in ("images", "masks", "content"):
        assert sorted(p.name for p in (tmp_path / folder).iterdir()) == names
    with (
        Image.open(tmp_path / "masks" / names[0]) as m,
        Image.open(tmp_path / "images" / names[0]) as i,
    ):
        assert (m.mode, m.size, i.mode, i.size) == ("L", (32, 32), "RGB", (32, 32))


def test_baseline_without_attention(faces: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "base"
    argv = [
        "--data-root",
        str(faces),
        "--out",
        str(out),
        "--max-steps",
        "3",
        "--no-attention-generator",
    ]
    assert train(argv) == 0
    saved = load_checkpoint(out / "checkpoint")
    assert not {"D_XA", "D_YA"} & set(saved)
    record = json.loads((out / "losses.jsonl").read_text().splitlines()[0])
    assert "G/agan" not in record and "G/tv" not in record and "G/pixel" in record
    # No mask: the mask columns of the table say so.
    assert "| A->B (neutral -> smiling) | baseline (no attention) |" in capsys.readouterr().out
    row = json.loads((out / "metrics.json").read_text())["results"]["AtoB"]
    assert "mask_iou" not in row and "psnr" in row


@pytest.mark.parametrize(
    ("flags", "present", "absent"),
    [
        (["--no-attention-discriminator"], {"G/gan", "G/tv"}, {"G/agan", "D/D_XA"}),
        (["--no-pixel-loss", "--no-tv-loss"], {"G/agan"}, {"G/pixel", "G/tv"}),
    ],
)
def test_ablations_drop_their_terms(faces: Path, tmp_path: Path, flags, present, absent) -> None:
    argv = ["--data-root", str(faces), "--out", str(tmp_path / "r"), "--max-steps", "1"]
    assert train([*argv, "--no-evaluate", "--n-samples", "0", *flags]) == 0
    record = json.loads((tmp_path / "r" / "losses.jsonl").read_text())
    assert present <= set(record) and not absent & set(record)


def test_a_run_shorter_than_log_every_still_logs_its_last_step(faces: Path, tmp_path: Path) -> None:
    out = tmp_path / "short"
    argv = ["--data-root", str(faces), "--out", str(out), "--max-steps", "3", "--log-every", "25"]
    assert train([*argv, "--no-evaluate", "--n-samples", "0"]) == 0
    records = [json.loads(line) for line in (out / "losses.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [3]


def test_multiple_masks(faces: Path, tmp_path: Path) -> None:
    out = tmp_path / "k3"
    assert (
        train(["--data-root", str(faces), "--out", str(out), "--max-steps", "2", "--masks", "3"])
        == 0
    )
    row = json.loads((out / "metrics.json").read_text())["results"]["AtoB"]
    assert 0 <= row["mask_iou"] <= 1 and 0 < row["mask_mean"] < 1


def test_a_training_pair_decodes_two_images(
    faces: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import attnguide.data.folder as folder

    decoded: list[str] = []
    real = folder.load_rgb

    def counting(path):
        decoded.append(str(path))
        return real(path)

    monkeypatch.setattr(folder, "load_rgb", counting)
    argv = ["--data-root", str(faces), "--out", str(tmp_path / "r"), "--max-steps", "3"]
    assert train([*argv, "--no-evaluate", "--n-samples", "0", "--batch-size", "2"]) == 0
    # Three steps of two pairs: one A and one B image decoded per pair, nothing twice.
    assert len(decoded) == 3 * 2 * 2
    assert sum("trainA" in p for p in decoded) == sum("trainB" in p for p in decoded) == 6


def test_bf16_autocast_on_a_cpu_with_bf16_kernels(faces: Path, tmp_path: Path) -> None:
    from common.distributed import cpu_has_bf16

    if not cpu_has_bf16():
        pytest.skip("this CPU has no bfloat16 kernels")
    out = tmp_path / "bf16"
    argv = ["--data-root", str(faces), "--out", str(out), "--max-steps", "2", "--amp", "bf16"]
    assert train([*argv, "--device", "cpu", "--n-samples", "0"]) == 0
    record = json.loads((out / "losses.jsonl").read_text().splitlines()[-1])
    assert all(math.isfinite(v) for v in record.values())
    assert math.isfinite(json.loads((out / "metrics.json").read_text())["results"]["AtoB"]["psnr"])


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")
def test_cuda_bf16_channels_last(faces: Path, tmp_path: Path) -> None:
    out = tmp_path / "cuda"
    argv = ["--data-root", str(faces), "--out", str(out), "--max-steps", "3", "--device", "cuda"]
    assert train([*argv, "--amp", "bf16", "--channels-last"]) == 0
    record = json.loads((out / "losses.jsonl").read_text().splitlines()[-1])
    assert all(math.isfinite(v) for v in record.values())
    row = json.loads((out / "metrics.json").read_text())["results"]["AtoB"]
    assert math.isfinite(row["psnr"])


def test_without_data_root_the_builtin_faces_are_rendered_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    # The main job takes no arguments: the faces appear in ./datasets on first use.
    monkeypatch.chdir(tmp_path)
    argv = ["--max-steps", "1", "--train-limit", "4", "--out", "run"]
    assert train(argv) == 0
    root = tmp_path / "datasets" / "faces-32"
    for part in ("trainA", "trainB", "testA", "testB", "gt/testA", "gt/testB", "gt/mask"):
        assert any((root / part).glob("*.png")), part
    assert f"data {Path('datasets') / 'faces-32'}" in capsys.readouterr().out
    rendered = {p: p.stat().st_mtime_ns for p in (root / "trainA").glob("*.png")}
    assert train([*argv[:-1], "run2"]) == 0
    assert {p: p.stat().st_mtime_ns for p in (root / "trainA").glob("*.png")} == rendered
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["results"]["AtoB"]["n"] == 200


def test_batched_passes_and_fused_adam_compute_the_reference_step(
    faces: Path, tmp_path: Path
) -> None:
    """The speed options keep the math: the first steps' losses agree with the plain
    step to float rounding (later ones drift apart, as any change of rounding makes a
    GAN's trajectory drift)."""
    records = {}
    for name, flags in (
        ("reference", ["--no-batch-passes", "--no-fused-adam"]),
        ("fast", ["--batch-passes", "--fused-adam"]),
    ):
        out = tmp_path / name
        argv = ["--data-root", str(faces), "--out", str(out), "--max-steps", "3"]
        assert train([*argv, "--batch-size", "2", "--no-evaluate", "--n-samples", "0", *flags]) == 0
        records[name] = [
            json.loads(line) for line in (out / "losses.jsonl").read_text().splitlines()
        ]
    for a, b in zip(records["reference"], records["fast"], strict=True):
        assert set(a) == set(b)
        for key in a:
            assert math.isclose(a[key], b[key], rel_tol=1e-4, abs_tol=1e-7), (a["step"], key)


_LEVERS = ["--ema", "0.9", "--d-augment", "all", "--upsample", "resize"]


def test_evaluation_during_training_writes_curves(faces: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    argv = ["--data-root", str(faces), "--out", str(out), "--epochs", "1", "--decay-epochs", "0"]
    argv += ["--sample-every", "0"]
    assert train([*argv, "--eval-every", "2", "--eval-images", "2", *_LEVERS]) == 0
    records = read_eval_log(out / "eval.jsonl")
    assert [r["step"] for r in records] == [0, 2, 4, 6]
    seconds = [r["seconds"] for r in records]
    assert seconds == sorted(seconds) and seconds[0] == 0.0
    for r in records:
        for direction in ("AtoB", "BtoA"):
            assert r[direction]["n"] == 2  # the first --eval-images pairs
            assert 0.0 <= r[direction]["accuracy"] <= 1.0
            assert {"psnr", "change_psnr", "bg_psnr", "mask_iou", "mask_auroc"} <= set(r[direction])
    # Copying the input is scored once, for the curves' reference lines.
    assert "AtoB/identity" in records[0] and "AtoB/identity" not in records[1]
    with Image.open(out / "curves.png") as img:
        assert img.width > 1000 and img.height > 400
    judge = json.loads((out / "classifier.json").read_text())
    assert 0.0 <= judge["test_accuracy"] <= 1.0
    final = json.loads((out / "metrics.json").read_text())
    assert final["classifier"] == judge
    for row in ("AtoB", "AtoB/identity", "BtoA", "BtoA/identity"):
        assert final["results"][row]["fid"] >= 0 and math.isfinite(final["results"][row]["kid"])
    saved = load_checkpoint(out / "checkpoint")
    assert {"G_xy_ema", "G_yx_ema"} <= set(saved)
    # The averages moved with the generators but are not them.
    assert any(not torch.equal(saved["G_xy_ema"][k], v) for k, v in saved["G_xy"].items())


def test_evaluation_subsets_are_the_first_test_images(faces: Path) -> None:
    from aggan.data import load_test_set

    a, b = load_test_set(faces, "AtoB", 32, 2), load_test_set(faces, "AtoB", 32, 0)
    assert a.names == b.names[:2]
    assert torch.equal(a.source, b.source[:2]) and torch.equal(a.change, b.change[:2])


def test_resume_with_the_levers_is_exact_and_logs_each_evaluation_once(
    faces: Path, tmp_path: Path
) -> None:
    base = ["--data-root", str(faces), "--epochs", "2", "--sample-every", "0", "--no-evaluate"]
    base += ["--eval-every", "4", "--eval-images", "1", "--save-every", "3", *_LEVERS]
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert train([*base, "--out", str(straight)]) == 0
    assert train([*base, "--out", str(split), "--max-steps", "7"]) == 0
    # A killed run may have evaluated after its last checkpoint: resuming drops that.
    log = split / "eval.jsonl"
    log.write_text(log.read_text() + '{"step": 8, "seconds": 1.0}\n')
    assert train(["--resume", str(split), "--max-steps", "12"]) == 0
    a, b = load_checkpoint(straight / "checkpoint"), load_checkpoint(split / "checkpoint")
    for name in ("G_xy", "G_yx", "D_X", "D_Y", "D_XA", "D_YA", "G_xy_ema", "G_yx_ema"):
        for key, value in a[name].items():
            assert torch.equal(value, b[name][key]), f"{name}.{key}"
    steps = [r["step"] for r in read_eval_log(log)]
    assert steps == [0, 4, 8, 12]
    assert (
        read_eval_log(straight / "eval.jsonl")[-1]["AtoB"]["psnr"]
        == read_eval_log(log)[-1]["AtoB"]["psnr"]
    )
