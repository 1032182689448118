"""The domain classifier: it learns separable data, judges by domain, refuses bad input."""

from __future__ import annotations

import pytest
import torch

from attnguide import metrics
from attnguide.classifier import (
    DomainClassifier,
    domain_accuracy,
    feature_distances,
    train_domain_classifier,
)


def _two_domains(n: int = 16, size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """Domain 0 has a dark square at the bottom centre, domain 1 a bright one: the
    difference is small and local, as a mouth is, on random backgrounds."""
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2 * n, 3, size, size, generator=g) * 0.6 - 0.3
    s = size // 4
    x[:n, :, -2 * s : -s, s : 3 * s] = -1.0
    x[n:, :, -2 * s : -s, s : 3 * s] = 1.0
    return x, torch.tensor([0] * n + [1] * n)


def test_learns_separable_data_and_generalises() -> None:
    x, y = _two_domains()
    net = train_domain_classifier(x, y, epochs=15, batch_size=8)
    held_x, held_y = _two_domains(n=20)
    held_x = held_x.roll(1, 0)  # other backgrounds for each label
    held_y = held_y.roll(1, 0)
    assert domain_accuracy(net, held_x, held_y) >= 0.95
    assert not net.training


def test_training_is_deterministic_and_leaves_global_rng_alone() -> None:
    x, y = _two_domains(n=4)
    torch.manual_seed(5)
    before = torch.random.get_rng_state()
    a = train_domain_classifier(x, y, epochs=2, batch_size=4, seed=3)
    assert torch.equal(torch.random.get_rng_state(), before)
    b = train_domain_classifier(x, y, epochs=2, batch_size=4, seed=3)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(va, vb), k


def test_accuracy_with_one_target_for_all() -> None:
    x, y = _two_domains(n=4)
    net = train_domain_classifier(x, y, epochs=10, batch_size=4)
    predicted = net.predict(x)
    assert domain_accuracy(net, x, 1) == pytest.approx(float((predicted == 1).float().mean()))
    assert domain_accuracy(net, x, y) == pytest.approx(float((predicted == y).float().mean()))


def test_predict_keeps_mode_and_handles_empty_batches() -> None:
    net = DomainClassifier(3).train()
    assert net.predict(torch.zeros(0, 3, 16, 16)).shape == (0,)
    assert net.predict(torch.zeros(5, 3, 16, 16), batch_size=2).shape == (5,)
    assert net.training


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        (torch.tensor([0.0, 1.0]), "integer class indices"),
        (torch.tensor([0, -1]), ">= 0"),
        (torch.tensor([0, 1, 1]), "labels"),
    ],
)
def test_bad_labels_are_refused(labels: torch.Tensor, match: str) -> None:
    with pytest.raises((TypeError, ValueError), match=match):
        train_domain_classifier(torch.zeros(2, 3, 16, 16), labels)


def test_one_domain_and_out_of_range_labels_are_refused() -> None:
    with pytest.raises(ValueError, match="at least two domains"):
        train_domain_classifier(torch.zeros(2, 3, 16, 16), torch.tensor([0, 0]))
    with pytest.raises(ValueError, match="n_domains is 2"):
        train_domain_classifier(torch.zeros(2, 3, 16, 16), torch.tensor([0, 2]), 2)
    with pytest.raises(ValueError, match="n_domains"):
        DomainClassifier(1)
    with pytest.raises(TypeError, match="targets"):
        domain_accuracy(DomainClassifier(2), torch.zeros(2, 3, 16, 16), 1.0)


def test_embed_is_what_the_head_reads_and_keeps_the_mode() -> None:
    torch.manual_seed(0)
    net = DomainClassifier(3, width=4).train()
    x = torch.rand(5, 3, 16, 16) * 2 - 1
    feats = net.embed(x, batch_size=2)
    assert feats.shape == (5, 32) and net.training
    torch.testing.assert_close(net.eval().head(feats), net(x))
    assert net.embed(x[:0]).shape == (0, 32)


def test_feature_distances_are_the_metrics_on_embedded_features() -> None:
    torch.manual_seed(0)
    net = DomainClassifier(2).eval()
    real = torch.rand(30, 3, 16, 16) * 2 - 1
    fake = (real + 0.4).clamp(-1, 1)
    got = feature_distances(net, real, fake, num_subsets=7, seed=3)
    fr, ff = net.embed(real), net.embed(fake)
    g = torch.Generator().manual_seed(3)
    assert got == {
        "fid": float(metrics.frechet_distance(fr, ff)),
        "kid": float(metrics.kernel_inception_distance(fr, ff, num_subsets=7, generator=g)),
    }
    assert feature_distances(net, real, fake, num_subsets=7, seed=3) == got  # seeded
    same = feature_distances(net, real, real)
    assert abs(same["fid"]) < 1e-3 * got["fid"] and same["kid"] < got["kid"]


@pytest.mark.parametrize(
    ("real", "fake", "match"),
    [
        (torch.zeros(1, 3, 16, 16), torch.zeros(4, 3, 16, 16), "'real' must hold at least 2"),
        (torch.zeros(4, 3, 16, 16), torch.zeros(4, 3, 32, 32), "images of one size"),
        (torch.zeros(4, 16, 16), torch.zeros(4, 3, 16, 16), "'real'"),
    ],
)
def test_feature_distances_refuse_bad_sets(real, fake, match) -> None:
    with pytest.raises(ValueError, match=match):
        feature_distances(DomainClassifier(2), real, fake)
