"""The AGGAN example's configuration: JSON round trip, command line, presets, checks."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from aggan.config import (
    PAPER,
    ConfigError,
    TrainConfig,
    config_diff,
    load_config,
    resume_config,
    save_config,
    validate_config,
)
from aggan.train import build_parser, config_from_args


def parse(*argv: str) -> tuple[TrainConfig, object]:
    return config_from_args(build_parser().parse_args(list(argv)))


def test_defaults_keep_the_papers_objective() -> None:
    cfg = TrainConfig()
    assert (cfg.gan_weight, cfg.cycle_weight, cfg.pixel_weight, cfg.tv_weight) == (
        0.5,
        10.0,
        1.0,
        1e-6,
    )
    assert (cfg.warmup_rate, cfg.rate, cfg.gan_mode, cfg.pool_size) == (0.01, 0.5, "lsgan", 50)
    assert (cfg.beta1, cfg.beta2, cfg.flip) == (0.5, 0.999, True)
    assert cfg.d_head == "pool"
    # The CPU main job's optimisation (see the example's README for the experiments).
    assert (cfg.lr, cfg.d_lr, cfg.batch_size, cfg.mask_bias) == (2e-4, 5e-4, 4, -3.0)


def test_paper_preset_restores_the_papers_optimiser() -> None:
    cfg, _ = parse("--paper")
    assert (cfg.lr, cfg.d_lr, cfg.batch_size, cfg.mask_bias) == (1e-4, None, 1, 0.0)
    assert (cfg.size, cfg.epochs, cfg.decay_epochs, cfg.warmup_epochs) == (256, 200, 100, 10)
    cfg, _ = parse("--baseline", "cyclegan")
    assert (cfg.lr, cfg.d_lr, cfg.batch_size, cfg.warmup_epochs) == (2e-4, None, 1, 0)


def test_json_round_trip(tmp_path) -> None:
    cfg = dataclasses.replace(TrainConfig(), ngf=7, masks=3, data_root="x", tv_loss=False)
    save_config(cfg, tmp_path / "c.json")
    assert load_config(tmp_path / "c.json") == cfg
    assert json.loads((tmp_path / "c.json").read_text())["ngf"] == 7


def test_json_with_unknown_or_broken_content_is_refused(tmp_path) -> None:
    (tmp_path / "bad.json").write_text('{"ngf": 4, "nfg": 5}')
    with pytest.raises(ConfigError, match="unknown options: nfg"):
        load_config(tmp_path / "bad.json")
    (tmp_path / "broken.json").write_text("{ngf")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(tmp_path / "broken.json")
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.json")


def test_every_field_is_an_option_and_booleans_have_a_no_form() -> None:
    help_text = build_parser().format_help()
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        assert flag in help_text
        if f.type == "bool":
            assert "--no-" + f.name.replace("_", "-") in help_text


def test_command_line_overrides_preset_overrides_defaults(tmp_path) -> None:
    cfg, resume = parse("--paper", "--ngf", "8", "--no-attention-discriminator", "--masks", "2")
    assert resume is None
    assert cfg.size == PAPER["size"] == 256 and cfg.n_blocks == 9 and cfg.epochs == 200
    assert cfg.ngf == 8 and cfg.masks == 2 and cfg.attention_discriminator is False
    save_config(dataclasses.replace(TrainConfig(), ngf=5, size=48), tmp_path / "c.json")
    cfg, _ = parse("--config", str(tmp_path / "c.json"), "--size", "40")
    assert (cfg.ngf, cfg.size) == (5, 40)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"size": 30}, r"--size 30: .* multiple of 4 \(for example 28 or 32\)"),
        ({"size": 16}, r"--size 16: a discriminator with --d-layers 3 needs images of at least 24"),
        ({"ngf": 0}, r"--ngf must be in \[1, 1024\], got 0"),
        ({"decay_epochs": 9, "epochs": 4}, "--decay-epochs 9 is more than --epochs 4"),
        ({"beta1": 1.5}, r"--beta1 must be below 1, got 1.5"),
        ({"beta2": 1.0}, r"--beta2 must be below 1, got 1.0"),
        ({"lr": math.inf}, r"--lr must be a finite number, got inf"),
        ({"lr": 0.0}, r"--lr must be positive, got 0.0"),
        ({"mask_bias": math.inf}, r"--mask-bias must be a finite number, got inf"),
        ({"cycle_weight": math.nan}, r"--cycle-weight must be a finite number, got nan"),
        ({"rate": 1.5}, r"--rate must be in \[0, 1\], got 1.5"),
        ({"threads": 10000}, r"--threads 10000: this machine has \d+ cores"),
        ({"workers": 1000}, r"--workers must be in \[0, 64\], got 1000"),
        ({"n_samples": -1}, r"--n-samples must be in \[0, 64\], got -1"),
        ({"attention_generator": False, "masks": 2}, "--masks 2 needs attention-guided"),
        ({"d_head": "avg"}, "--d-head must be one of"),
        ({"save_every": -1}, "--save-every must be at least 0, got -1"),
        # What a hand-edited config.json can hold: refused by name, before anything runs.
        ({"size": "64"}, r"--size must be an integer, got '64' \(str\)"),
        ({"epochs": 2.5}, r"--epochs must be an integer, got 2.5 \(float\)"),
        ({"seed": True}, r"--seed must be an integer, got True \(bool\)"),
        ({"lr": "1e-4"}, r"--lr must be a number, got '1e-4' \(str\)"),
        ({"flip": 1}, r"--flip must be true or false, got 1 \(int\)"),
        ({"out": 3}, r"--out must be a string or null, got 3 \(int\)"),
        ({"device": None}, r"--device must be a string, got None \(NoneType\)"),
    ],
)
def test_invalid_options_are_named(changes, message) -> None:
    with pytest.raises(ConfigError, match=message):
        validate_config(dataclasses.replace(TrainConfig(), **changes))


def test_config_diff_lists_changed_fields() -> None:
    a = TrainConfig()
    b = dataclasses.replace(a, ngf=8, pixel_loss=False)
    assert config_diff(a, b) == {"ngf": (a.ngf, 8), "pixel_loss": (True, False)}


def test_resume_accepts_how_it_runs_but_not_what_it_computes(tmp_path) -> None:
    saved = dataclasses.replace(TrainConfig(), ngf=4)
    cfg = resume_config(saved, {"max_steps": 9, "threads": 1}, tmp_path)
    assert (cfg.max_steps, cfg.threads, cfg.ngf, cfg.out) == (9, 1, 4, str(tmp_path))
    with pytest.raises(ConfigError, match=r"ngf \(run: 4, given: 8\), seed \(run: 0, given: 3\)"):
        resume_config(saved, {"ngf": 8, "seed": 3, "max_steps": 2}, tmp_path)
    with pytest.raises(ConfigError, match=r"no config\.json there"):
        parse("--resume", str(tmp_path / "elsewhere"))
