"""Bad input to the AGGAN example: a clear message, exit status 2, and nothing lost."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from aggan import evaluate as evaluate_script
from aggan import train as train_script
from aggan import translate as translate_script
from aggan.config import load_config, save_config
from aggan_testutils import TINY


def fails(script, argv: list[str], capsys, message: str) -> str:
    capsys.readouterr()
    assert script.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err, err
    return err


def digest(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` and its content hash: to prove nothing changed."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def trained(faces: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "run"
    argv = [*TINY, "--data-root", str(faces), "--out", str(out), "--max-steps", "2"]
    assert train_script.main([*argv, "--no-evaluate", "--n-samples", "0"]) == 0
    return out


def test_missing_data_root(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    fails(
        train_script,
        [*TINY, "--data-root", str(tmp_path / "nowhere"), "--out", str(out)],
        capsys,
        f"--data-root {tmp_path / 'nowhere'} does not exist; give a folder in the CycleGAN "
        "layout (trainA, trainB, testA, testB)",
    )
    assert not out.exists()


def test_config_file_with_a_value_of_the_wrong_type(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # where the built-in faces would be rendered
    config = tmp_path / "config.json"
    config.write_text('{"epochs": 2.5}')
    out = tmp_path / "out"
    fails(
        train_script,
        ["--config", str(config), "--out", str(out)],
        capsys,
        "--epochs must be an integer, got 2.5 (float)",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]


def test_wrong_folder_layout(tmp_path: Path, faces: Path, capsys) -> None:
    root = tmp_path / "flat"
    root.mkdir()
    for p in sorted((faces / "trainA").iterdir())[:2]:
        shutil.copy(p, root / p.name)
    (root / "trainA").mkdir()
    shutil.copy(faces / "trainA" / "00000.png", root / "trainA")
    (root / "testB").mkdir()
    err = fails(
        train_script,
        [*TINY, "--data-root", str(root), "--out", str(tmp_path / "out")],
        capsys,
        f"--data-root {root} is not in the CycleGAN layout: {root / 'trainB'} is missing; ",
    )
    assert f"{root / 'testA'} is missing; {root / 'testB'} holds no images" in err
    assert "Expected root/trainA, root/trainB, root/testA, root/testB with images" in err
    assert "found: 00000.png, 00001.png, testB/, trainA/" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("size", "hint"), [("30", "28 or 32"), ("66", "64 or 68")])
def test_size_the_generator_cannot_take(tmp_path: Path, faces: Path, capsys, size, hint) -> None:
    out = tmp_path / "out"
    fails(
        train_script,
        [*TINY, "--data-root", str(faces), "--out", str(out), "--size", size],
        capsys,
        f"--size {size}: the ResNet generator downsamples twice and upsamples twice, so the "
        f"size must be a multiple of 4 (for example {hint})",
    )
    assert not out.exists()


def test_unwritable_output_folder(tmp_path: Path, faces: Path, capsys) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    fails(
        train_script,
        [*TINY, "--data-root", str(faces), "--out", str(blocker / "run")],
        capsys,
        f"cannot write to the output folder {blocker / 'run'}: ",
    )
    assert blocker.read_text() == "not a folder"
    # Somewhere nothing can be created, whoever runs the tests (root included).
    fails(
        train_script,
        [*TINY, "--data-root", str(faces), "--out", "/proc/attnguide-run"],
        capsys,
        "cannot write to the output folder /proc/attnguide-run: ",
    )


def test_bf16_needs_a_gpu_or_a_cpu_with_bf16_kernels(
    tmp_path: Path, faces: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    import common.distributed

    monkeypatch.setattr(common.distributed, "cpu_has_bf16", lambda: False)
    argv = [*TINY, "--data-root", str(faces), "--out", str(tmp_path / "o")]
    fails(
        train_script,
        [*argv, "--amp", "bf16", "--device", "cpu"],
        capsys,
        "--amp bf16 on the CPU needs bfloat16 kernels (AVX-512 BF16 or AMX), which this CPU lacks",
    )
    assert not (tmp_path / "o").exists()


def test_output_folder_holding_a_run_is_not_overwritten(trained: Path, faces: Path, capsys) -> None:
    before = digest(trained)
    fails(
        train_script,
        [*TINY, "--data-root", str(faces), "--out", str(trained)],
        capsys,
        f"{trained} already holds a run; continue it with --resume {trained} or choose "
        "another --out",
    )
    assert digest(trained) == before


def test_resume_with_options_that_change_the_run(trained: Path, capsys) -> None:
    before = digest(trained)
    fails(
        train_script,
        ["--resume", str(trained), "--ngf", "8", "--no-pixel-loss"],
        capsys,
        f"--resume {trained}: these options would change the run and cannot differ from the "
        "saved configuration: ngf (run: 4, given: 8), pixel_loss (run: True, given: False)",
    )
    assert digest(trained) == before


def test_resume_a_checkpoint_of_another_configuration(
    trained: Path, tmp_path: Path, capsys
) -> None:
    # A run folder whose config.json no longer matches its checkpoint.
    run = tmp_path / "edited"
    shutil.copytree(trained, run)
    cfg = load_config(run / "config.json")
    save_config(cfg.__class__(**{**cfg.__dict__, "ngf": 6, "masks": 2}), run / "config.json")
    before = digest(run)
    err = fails(
        train_script,
        ["--resume", str(run)],
        capsys,
        f"the checkpoint {run / 'checkpoint'} does not fit the model of this configuration:",
    )
    assert "differing options (checkpoint -> now): masks: 1 -> 2, ngf: 4 -> 6" in err
    assert "shape (4, 3, 7, 7) in the weights, (6, 3, 7, 7) in the module" in err
    assert "more differences" in err
    assert digest(run) == before


def test_resume_without_checkpoint(tmp_path: Path, capsys) -> None:
    fails(
        train_script,
        ["--resume", str(tmp_path)],
        capsys,
        f"--resume {tmp_path}: no config.json there",
    )
    save_config(load_config_default(), tmp_path / "config.json")
    fails(
        train_script, ["--resume", str(tmp_path)], capsys, "there is no checkpoint in that folder"
    )


def load_config_default():
    from aggan.config import TrainConfig

    return TrainConfig(size=32, ngf=4, n_blocks=1, ndf=4)


def test_evaluate_with_a_config_that_does_not_fit(trained: Path, tmp_path: Path, capsys) -> None:
    cfg = load_config(trained / "config.json")
    save_config(
        cfg.__class__(**{**cfg.__dict__, "attention_discriminator": False, "n_blocks": 2}),
        tmp_path / "other.json",
    )
    err = fails(
        evaluate_script,
        [str(trained), "--config", str(tmp_path / "other.json")],
        capsys,
        "does not fit the model of this configuration:",
    )
    assert "attention_discriminator: True -> False, n_blocks: 1 -> 2" in err
    assert "D_XA: in the checkpoint, not in the model" in err
    assert "in the module, not in the weights" in err


def test_translate_bad_folders(trained: Path, tmp_path: Path, capsys) -> None:
    fails(
        translate_script,
        [str(trained), str(tmp_path / "none"), str(tmp_path / "o")],
        capsys,
        f"input folder {tmp_path / 'none'} does not exist",
    )
    (tmp_path / "empty").mkdir()
    fails(
        translate_script,
        [str(trained), str(tmp_path / "empty"), str(tmp_path / "o")],
        capsys,
        f"input folder {tmp_path / 'empty'} holds no images",
    )
    fails(
        evaluate_script,
        [str(tmp_path / "no-run")],
        capsys,
        f"{tmp_path / 'no-run'} is not a run folder",
    )


def usage_error(script, argv: list[str], capsys, message: str) -> None:
    """argparse refuses the value itself: exit status 2 and the option named."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        script.main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err, err


def test_numbers_out_of_range_are_refused(
    trained: Path, faces: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "o"
    args = [str(trained), str(faces / "testA"), str(out)]
    usage_error(
        translate_script,
        [*args, "--batch-size", "-1"],
        capsys,
        "--batch-size: must be at least 1, got -1",
    )
    usage_error(
        translate_script,
        [*args, "--batch-size", "0"],
        capsys,
        "--batch-size: must be at least 1, got 0",
    )
    assert not out.exists()
    usage_error(
        evaluate_script, [str(trained), "--limit", "-1"], capsys, "--limit: must be at least 0"
    )
    for flag in ("--lr", "--mask-bias", "--cycle-weight"):
        for value in ("inf", "nan", "1e999"):
            usage_error(train_script, [flag, value], capsys, f"{flag}: must be a finite number")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--threads", "10000"], "--threads 10000: this machine has"),
        (["--beta2", "1"], "--beta2 must be below 1, got 1.0"),
        (["--lr", "0"], "--lr must be positive, got 0.0"),
        (["--workers", "-1"], "--workers must be in [0, 64], got -1"),
    ],
)
def test_nothing_is_written_before_the_config_is_valid(
    faces: Path, tmp_path: Path, capsys, flags: list[str], message: str
) -> None:
    out = tmp_path / "out"
    fails(
        train_script, [*TINY, "--data-root", str(faces), "--out", str(out), *flags], capsys, message
    )
    assert not out.exists()


def test_a_config_file_with_a_non_finite_number(tmp_path: Path, capsys) -> None:
    (tmp_path / "c.json").write_text('{"lr": 1e999}')
    out = tmp_path / "out"
    fails(
        train_script,
        ["--config", str(tmp_path / "c.json"), "--out", str(out)],
        capsys,
        "--lr must be a finite number, got inf",
    )
    (tmp_path / "c.json").write_text('{"lr": Infinity}')
    fails(
        train_script, ["--config", str(tmp_path / "c.json")], capsys, "is not valid JSON: Infinity"
    )
    assert not out.exists()


def test_translate_never_loses_an_output(
    trained: Path, faces: Path, tmp_path: Path, capsys
) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(faces / "testA" / "00000.png", inputs / "x.png")
    from PIL import Image

    with Image.open(faces / "testA" / "00001.png") as im:
        im.save(inputs / "x.jpg")
    out = tmp_path / "out"
    fails(
        translate_script,
        [str(trained), str(inputs), str(out)],
        capsys,
        f"{inputs / 'x.jpg'} and {inputs / 'x.png'} would both be written as x.png",
    )
    assert not out.exists()
    (inputs / "x.jpg").rename(inputs / "y.jpg")
    assert translate_script.main([str(trained), str(inputs), str(out)]) == 0
    before = digest(out)
    assert sorted(before) == [f"{k}/{n}.png" for k in ("content", "images", "masks") for n in "xy"]
    fails(translate_script, [str(trained), str(inputs), str(out)], capsys, "exist already, e.g.")
    assert digest(out) == before
    assert translate_script.main([str(trained), str(inputs), str(out), "--overwrite"]) == 0


def test_a_crafted_pickle_in_a_run_folder_is_never_executed(
    trained: Path, tmp_path: Path, capsys
) -> None:
    import os

    import torch

    run = tmp_path / "received"
    shutil.copytree(trained, run)
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    # What attnguide 0.1 loaded with torch.load(weights_only=False).
    for f in (run / "checkpoint").iterdir():
        f.unlink()
    torch.save({"format": 1, "config": Payload()}, run / "checkpoint" / "state.pt")
    for script, argv in (
        (evaluate_script, [str(run)]),
        (translate_script, [str(run), str(tmp_path), str(tmp_path / "o")]),
        (train_script, ["--resume", str(run)]),
    ):
        fails(
            script,
            argv,
            capsys,
            "the pickle that attnguide 0.1 wrote, which this version never loads",
        )
    assert not marker.exists()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda c: (c / "attnguide-checkpoint.json").write_text("{"), "is not valid JSON"),
        (
            lambda c: (c / "G_xy.safetensors").write_bytes(b"12345678"),
            "is not a valid safetensors file",
        ),
        (lambda c: (c / "state.safetensors").unlink(), "'state.safetensors' is missing"),
    ],
)
def test_a_damaged_checkpoint_is_one_line(
    trained: Path, tmp_path: Path, capsys, damage, message
) -> None:
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    damage(run / "checkpoint")
    for script, argv in ((evaluate_script, [str(run)]), (train_script, ["--resume", str(run)])):
        err = fails(script, argv, capsys, message)
        assert err.count("\n") == 1 and "Traceback" not in err


def test_a_checkpoint_missing_an_entry_is_named(trained: Path, tmp_path: Path, capsys) -> None:
    import json

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    manifest = run / "checkpoint" / "attnguide-checkpoint.json"
    data = json.loads(manifest.read_text())
    data["names"].remove("progress")
    del data["values"]["progress"]
    manifest.write_text(json.dumps(data))
    fails(train_script, ["--resume", str(run)], capsys, "lacks 'progress'")


def test_paths_that_are_files_are_named_as_such(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # where the built-in faces would be rendered
    afile = tmp_path / "afile"
    afile.write_text("x")
    fails(
        train_script, [*TINY, "--out", str(afile)], capsys, f"--out {afile} is a file, not a folder"
    )
    assert not (tmp_path / "datasets").exists()  # refused before the data was rendered
    fails(evaluate_script, [str(afile)], capsys, f"{afile} is not a run folder (a file)")
    fails(
        translate_script,
        [str(afile), str(afile), str(tmp_path / "o")],
        capsys,
        f"input folder {afile} is a file, not a folder",
    )
