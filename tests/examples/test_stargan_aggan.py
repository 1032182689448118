"""The attention-guided StarGAN example: a tiny run through every stage, exact resume,
the baseline, translation, evaluation, errors and two torchrun processes."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from aggan_testutils import EXAMPLES, subprocess_env
from stargan_aggan import evaluate as evaluate_script
from stargan_aggan import summarize as summarize_script
from stargan_aggan import train as train_script
from stargan_aggan import translate as translate_script
from stargan_aggan.config import ConfigError, load_config
from stargan_aggan.evaluation import by_target

from attnguide.data import make_expression_faces, read_image
from attnguide.data.synthetic_faces import EXPRESSIONS
from attnguide.training import load_checkpoint

TRAIN = EXAMPLES / "stargan_aggan" / "train.py"
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
TINY = [
    *("--size", "32", "--ngf", "4", "--n-blocks", "1", "--ndf", "4"),
    *("--d-layers", "3", "--batch-size", "4", "--n-critic", "2", "--threads", "1"),
    *("--n-samples", "2", "--log-every", "1"),
]
DOMAINS = sorted(EXPRESSIONS)  # a --data-root's domains: its folders, sorted


@pytest.fixture(scope="session")
def expressions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four training and two test identities in every expression, at 32x32."""
    root = tmp_path_factory.mktemp("data") / "expressions"
    return make_expression_faces(root, n_train=4, n_test=2, size=32)


def _args(root: Path, out: Path, *extra: str) -> list[str]:
    return [*TINY, "--data-root", str(root), "--out", str(out), *extra]


@pytest.fixture(scope="module")
def run_dir(expressions: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "sa"
    assert train_script.main(_args(expressions, out, "--epochs", "2", "--decay-epochs", "1")) == 0
    return out


def test_run_folder_holds_everything(run_dir: Path) -> None:
    for name in ("config.json", "losses.jsonl", "losses.png", "samples/final.png", "results.md"):
        assert (run_dir / name).stat().st_size > 0, name
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["steps"] == 8  # 2 epochs of 16 images in batches of 4
    assert metrics["domains"] == DOMAINS
    results = metrics["results"]
    pairs = [f"{a}->{b}" for a in DOMAINS for b in DOMAINS if a != b]
    assert list(results["model"]) == pairs and list(results["copy"]) == pairs
    for key in pairs:
        row = results["model"][key]
        assert {"psnr", "change_psnr", "bg_psnr", "mask_iou", "mask_auroc", "accuracy"} <= set(row)
        assert 0.0 <= row["accuracy"] <= 1.0 and row["n"] == 2
        assert results["copy"][key]["bg_psnr"] == "inf"  # a copy keeps the background
        for kind in ("model", "copy"):  # distances to the real target images, no gt needed
            assert results[kind][key]["fid"] >= 0 and math.isfinite(results[kind][key]["kid"])
    assert set(results["real"]) == set(DOMAINS)
    table = (run_dir / "results.md").read_text()
    assert "| → smiling | AGGAN-StarGAN |" in table and "| neutral->sad | copy input |" in table
    # The critic trains every iteration, the generator every --n-critic 2nd.
    records = [json.loads(x) for x in (run_dir / "losses.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == list(range(1, 9))
    assert all("D/gp" in r for r in records)
    assert ["G/rec" in r for r in records] == [False, True] * 4
    assert all({"G/tv", "G/mask", "mask/mean"} <= set(r) for r in records if "G/rec" in r)


def test_copy_input_scores_what_the_test_split_says(expressions: Path, run_dir: Path) -> None:
    # The copy row of neutral->smiling compares test/neutral with test/smiling itself.
    from attnguide import metrics

    results = json.loads((run_dir / "metrics.json").read_text())["results"]
    names = sorted(p.name for p in (expressions / "test" / "neutral").iterdir())
    a = torch.stack([read_image(expressions / "test" / "neutral" / n) for n in names])
    b = torch.stack([read_image(expressions / "test" / "smiling" / n) for n in names])
    expected = metrics.translation_scores(a, a, target=b)["psnr"].mean()
    assert results["copy"]["neutral->smiling"]["psnr"] == pytest.approx(float(expected))
    means = by_target(results["copy"])["smiling"]
    sources = [results["copy"][f"{s}->smiling"]["psnr"] for s in DOMAINS if s != "smiling"]
    assert means["psnr"] == pytest.approx(sum(sources) / 3)


def test_resume_gives_the_uninterrupted_weights(expressions: Path, tmp_path: Path) -> None:
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    quiet = ["--epochs", "3", "--decay-epochs", "2", "--save-every", "3", "--no-evaluate"]
    quiet += ["--sample-every", "0", "--n-samples", "0", "--log-every", "2"]
    assert train_script.main(_args(expressions, straight, *quiet)) == 0
    # Stopped mid-epoch (iteration 5 of 12, between two loss records), then resumed.
    assert train_script.main(_args(expressions, stopped, *quiet, "--max-steps", "5")) == 0
    assert load_checkpoint(stopped / "checkpoint")["progress"]["step"] == 5
    assert train_script.main(["--resume", str(stopped), "--max-steps", "0"]) == 0
    a, b = load_checkpoint(straight / "checkpoint"), load_checkpoint(stopped / "checkpoint")
    assert a["progress"]["step"] == b["progress"]["step"] == 12
    for name in ("G", "D"):
        for key, value in a[name].items():
            assert torch.equal(value, b[name][key]), f"{name}.{key} differs after resume"
    assert (straight / "losses.jsonl").read_text() == (stopped / "losses.jsonl").read_text()


def test_sigkill_then_resume(expressions: Path, tmp_path: Path) -> None:
    out = tmp_path / "killed"
    args = _args(expressions, out, "--epochs", "200", "--decay-epochs", "1", "--save-every", "2")
    proc = subprocess.Popen(
        [sys.executable, str(TRAIN), *args, "--no-evaluate", "--n-samples", "0"],
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not (out / "checkpoint").exists():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    step = load_checkpoint(out / "checkpoint")["progress"]["step"]
    assert step >= 2
    assert train_script.main(["--resume", str(out), "--max-steps", str(step + 2)]) == 0
    assert load_checkpoint(out / "checkpoint")["progress"]["step"] == step + 2


def test_stargan_baseline_has_no_attention(expressions: Path, tmp_path: Path) -> None:
    out = tmp_path / "stargan"
    assert (
        train_script.main(["--baseline", "stargan", *_args(expressions, out, "--max-steps", "4")])
        == 0
    )
    cfg = json.loads((out / "config.json").read_text())
    assert (cfg["attention"], cfg["tv_weight"], cfg["mask_weight"]) == (False, 0.0, 0.0)
    saved = load_checkpoint(out / "checkpoint")
    assert not any("mask" in k for k in saved["G"])  # StarGAN's generator, unwrapped
    results = json.loads((out / "metrics.json").read_text())["results"]["model"]
    assert "mask_iou" not in results["neutral->smiling"]
    assert "| → sad | StarGAN |" in (out / "results.md").read_text()


def test_evaluate_script_reproduces_the_results(run_dir: Path, tmp_path: Path, capsys) -> None:
    assert evaluate_script.main([str(run_dir), "--pairs", "--json", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "| → surprised | AGGAN-StarGAN |" in out and "| sad->neutral | copy input |" in out
    again = json.loads((tmp_path / "r.json").read_text())
    saved = json.loads((run_dir / "metrics.json").read_text())["results"]
    assert again["model"]["neutral->smiling"]["psnr"] == pytest.approx(
        saved["model"]["neutral->smiling"]["psnr"]
    )


def test_translate_writes_images_and_masks(
    run_dir: Path, expressions: Path, tmp_path: Path, capsys
) -> None:
    inputs, out = expressions / "test" / "neutral", tmp_path / "out"
    assert translate_script.main([str(run_dir), str(inputs), str(out), "--target", "sad"]) == 0
    for name in ("00000.png", "00001.png"):
        assert read_image(out / "images" / name).shape == (3, 32, 32)
        assert (out / "masks" / name).is_file()
    # Nothing is overwritten without --overwrite; a single image works too.
    assert translate_script.main([str(run_dir), str(inputs), str(out), "--target", "sad"]) == 2
    assert "exist already" in capsys.readouterr().err
    one = tmp_path / "one"
    assert (
        translate_script.main(
            [str(run_dir), str(inputs / "00001.png"), str(one), "--target", "smiling"]
        )
        == 0
    )
    assert (one / "images" / "00001.png").is_file()
    assert (
        translate_script.main([str(run_dir), str(inputs), str(tmp_path / "x"), "--target", "angry"])
        == 2
    )
    assert "--target 'angry': the run knows the domains neutral, sad, smiling, surprised" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--size", "30"], "must be a multiple of 4"),
        (["--size", "36"], "must be a multiple of 8"),
        (["--domains", "neutral"], "at least two"),
        (["--domains", "neutral,neutral"], "names a domain twice"),
        (["--domains", "neutral,angry"], "angry"),
        (["--n-critic", "0"], "--n-critic must be at least 1, got 0"),
    ],
)
def test_bad_options_are_refused_before_anything_is_written(
    expressions: Path, tmp_path: Path, capsys, extra: list[str], message: str
) -> None:
    out = tmp_path / "run"
    assert train_script.main([*_args(expressions, out), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (out / "checkpoint").exists()


def test_a_data_root_in_another_layout_is_refused(tmp_path: Path, capsys) -> None:
    (tmp_path / "data" / "train" / "a").mkdir(parents=True)
    assert train_script.main([*_args(tmp_path / "data", tmp_path / "run")]) == 2
    assert "only one domain (a)" in capsys.readouterr().err
    assert train_script.main([*_args(tmp_path / "nowhere", tmp_path / "run")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_resume_refuses_a_changed_configuration(run_dir: Path, capsys) -> None:
    assert train_script.main(["--resume", str(run_dir), "--lr", "0.001"]) == 2
    assert "lr (run: 0.0001, given: 0.001)" in capsys.readouterr().err
    assert train_script.main(["--resume", str(run_dir), "--baseline", "stargan"]) == 2


def test_bf16_autocast_trains_close_to_float32(expressions: Path, tmp_path: Path) -> None:
    from common.distributed import cpu_has_bf16

    if not cpu_has_bf16():
        pytest.skip("this CPU has no bfloat16 kernels (AVX-512 BF16 or AMX)")
    steps = ("--max-steps", "2", "--no-evaluate", "--n-samples", "0")
    runs = {}
    for amp in ("none", "bf16"):
        out = tmp_path / amp
        assert train_script.main(_args(expressions, out, *steps, "--amp", amp)) == 0
        runs[amp] = [json.loads(x) for x in (out / "losses.jsonl").read_text().splitlines()]
    assert [r["step"] for r in runs["bf16"]] == [1, 2]
    # Both steps, critic and generator terms (the penalty's double backward included).
    for ours, full in zip(runs["bf16"], runs["none"], strict=True):
        assert ours.keys() == full.keys()
        for key in (k for k in full if "/" in k):
            assert math.isfinite(ours[key])
            assert ours[key] == pytest.approx(full[key], rel=0.05, abs=0.02), key
    # ...and bfloat16 did run: float32 would give the same losses to the last bit.
    assert runs["bf16"][0]["D/total"] != runs["none"][0]["D/total"]


def test_config_of_an_earlier_version_loads_under_the_new_names(tmp_path: Path) -> None:
    # Earlier versions named the options as StarGAN does (--g-conv-dim, ...); such a run folder
    # still resumes.
    old = {"g_conv_dim": 8, "g_repeat_num": 2, "d_conv_dim": 12, "d_repeat_num": 4, "g_lr": 3e-4}
    (tmp_path / "config.json").write_text(json.dumps(old))
    cfg = load_config(tmp_path / "config.json")
    assert (cfg.ngf, cfg.n_blocks, cfg.ndf, cfg.d_layers, cfg.lr) == (8, 2, 12, 4, 3e-4)
    (tmp_path / "config.json").write_text(json.dumps({"g_lr": 3e-4, "lr": 1e-4}))
    with pytest.raises(ConfigError, match="holds both g_lr and lr, its new name"):
        load_config(tmp_path / "config.json")


def test_summarize_gives_mean_and_range_per_target(tmp_path: Path, capsys) -> None:
    def write(folder: Path, seed: int, psnr: float) -> None:
        folder.mkdir()
        row = {"psnr": psnr, "accuracy": 0.5}
        pairs = {f"{a}->{b}": row for a in ("x", "y") for b in ("x", "y") if a != b}
        copy = {k: {"psnr": 20.0, "bg_psnr": "inf", "accuracy": 0.0} for k in pairs}
        metrics = {
            "config": {"seed": seed, "out": str(folder)},
            "steps_per_second": 2.0,
            "train_seconds": 240.0,
            "eval_seconds": 30.0,
            "results": {"model": pairs, "copy": copy, "real": {"x": {"accuracy": 1.0}}},
        }
        (folder / "metrics.json").write_text(json.dumps(metrics))

    for seed, psnr in enumerate((24.0, 25.0, 29.0)):
        write(tmp_path / f"sa-s{seed}", seed, psnr)
    assert summarize_script.main([f"A={tmp_path}/sa-s*"]) == 0
    table = capsys.readouterr().out
    assert (
        "| → y | A | 3 | 26.00 (24.00–29.00) | – | – | – | – | 0.500 (0.500–0.500) | – | – "
        "| 2.00 | 4.5 min |" in table
    )
    assert "| → x | copy input | 1 | 20.00 | – | ∞ |" in table
    assert "accuracy x 1.000 (mean 1.000)" in table


@pytest.mark.slow  # two processes: ~10 s
def test_torchrun_two_processes_keep_identical_weights(expressions: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    args = _args(expressions, out, "--max-steps", "4", "--no-evaluate", "--n-samples", "0")
    result = subprocess.run(
        [*TORCHRUN, str(TRAIN), *args],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "x 2 processes" in result.stdout
    assert "weights identical on all 2 processes: yes" in result.stdout
    assert load_checkpoint(out / "checkpoint")["world"] == 2
