"""translate.py --weights FILE --arch NAME: the authors' published checkpoints."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from aggan import translate as translate_script

from attnguide.nets import AGGANGenerator, AttentionGANGenerator


def _digests(folder: Path) -> dict[Path, bytes]:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*.png"))}


@pytest.mark.parametrize(
    ("arch", "build"), [("attentiongan", AttentionGANGenerator), ("aggan", AGGANGenerator)]
)
def test_translates_a_folder_with_a_torch_save_checkpoint_and_never_overwrites(
    arch: str, build, faces: Path, tmp_path: Path, capsys
) -> None:
    torch.manual_seed(0)
    path = tmp_path / "latest_net_G.pth"
    torch.save(build().state_dict(), path)  # the authors' layout: a bare state dict
    out = tmp_path / "out"
    argv = ["--weights", str(path), "--arch", arch, str(faces / "testA"), str(out)]
    argv += ["--size", "32", "--device", "cpu"]
    assert translate_script.main(argv) == 0
    names = sorted(p.name for p in (faces / "testA").iterdir())
    for kind in ("images", "masks", "content"):
        assert sorted(p.name for p in (out / kind).iterdir()) == names
    before = _digests(out)
    # A second run refuses to overwrite, and changes nothing.
    assert translate_script.main(argv) == 2
    assert "exist already" in capsys.readouterr().err
    assert _digests(out) == before


def test_weights_that_would_run_code_are_refused_and_run_nothing(
    faces: Path, tmp_path: Path, capsys
) -> None:
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    path = tmp_path / "latest_net_G.pth"
    torch.save({"conv1.weight": torch.zeros(1), "x": Payload()}, path)
    argv = ["--weights", str(path), "--arch", "attentiongan", str(faces / "testA")]
    assert translate_script.main([*argv, str(tmp_path / "out"), "--device", "cpu"]) == 2
    assert "would run code to load" in capsys.readouterr().err
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_weights_of_another_architecture_are_refused_with_the_differences(
    faces: Path, tmp_path: Path, capsys
) -> None:
    path = tmp_path / "netG_A2B.pth"
    torch.save(AGGANGenerator(ngf=4, n_blocks=1).state_dict(), path)
    argv = ["--weights", str(path), "--arch", "aggan", str(faces / "testA"), str(tmp_path / "o")]
    assert translate_script.main([*argv, "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "does not fit --arch aggan" in err and "in the module, not in the weights" in err


def test_stargan_example_translates_with_the_multi_domain_checkpoint(
    faces: Path, tmp_path: Path, capsys
) -> None:
    from stargan_aggan import translate as stargan_translate

    from attnguide.nets import AGGANMultiGenerator

    torch.manual_seed(0)
    path = tmp_path / "200000-G.ckpt"  # the authors' solver: torch.save(G.state_dict())
    torch.save(AGGANMultiGenerator(c_dim=8).state_dict(), path)  # RaFD: 8 expressions
    out = tmp_path / "out"
    argv = ["--weights", str(path), "--arch", "aggan-multi", str(faces / "testA"), str(out)]
    argv += ["--size", "32", "--device", "cpu"]
    assert stargan_translate.main([*argv, "--target", "4"]) == 0
    names = sorted(p.name for p in (faces / "testA").iterdir())
    for kind in ("images", "masks"):
        assert sorted(p.name for p in (out / kind).iterdir()) == names
    before = _digests(out)
    assert stargan_translate.main([*argv, "--target", "4"]) == 2
    assert "exist already" in capsys.readouterr().err
    assert _digests(out) == before
    assert stargan_translate.main([*argv, "--target", "8", "--overwrite"]) == 2
    assert "the weights know 8 domains (0 to 7)" in capsys.readouterr().err
