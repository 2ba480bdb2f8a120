"""FVD-lite (chapter 06): the feature net, the corruptions, and the sanity ordering of the distance."""

from __future__ import annotations

import pytest
import torch

from vidgen_edu import fvd
from vidgen_edu.data import make_dataset


@pytest.fixture(scope="module")
def trained_net() -> fvd.VideoFeatureNet:
    torch.manual_seed(0)
    net = fvd.VideoFeatureNet()
    fvd.train_feature_net(net, steps=80, num_clips=128, device="cpu")
    return net.eval()


@pytest.fixture(scope="module")
def real_sets() -> tuple[torch.Tensor, torch.Tensor]:
    a = make_dataset("balls", "val", num_clips=300, T=10, seed=0).clips()
    b = make_dataset("balls", "test", num_clips=300, T=10, seed=0).clips()
    return a, b


def test_features_shape_and_bad_input() -> None:
    net = fvd.VideoFeatureNet()
    assert net.features(torch.rand(3, 10, 1, 32, 32)).shape == (3, 64)
    assert net.features(torch.rand(2, 4, 1, 32, 32)).shape == (2, 64)  # any T >= 2
    logits, motion = net(torch.rand(2, 10, 1, 32, 32))
    assert logits.shape == (2, len(fvd.FAMILIES)) and motion.shape == (2, 5)
    for bad in (torch.rand(3, 10, 32, 32), torch.rand(3, 10, 3, 32, 32), torch.rand(3, 1, 1, 32, 32)):
        with pytest.raises(ValueError):
            net.features(bad)


def test_clip_targets_match_the_simulator() -> None:
    ds = make_dataset("balls", "test", num_clips=4, T=6, seed=0)
    y = fvd.clip_targets(ds)
    states = ds.states.float()  # (4, 6, 3, 4)
    assert y.shape == (4, 5)
    torch.testing.assert_close(y[:, 0], states[..., 0].mean(dim=(1, 2)) / ds.size)
    torch.testing.assert_close(y[:, 2], states[..., 2:].norm(dim=-1).mean(dim=(1, 2)))
    digits = make_dataset("digits", "test", num_clips=4, T=6, seed=0)
    assert fvd.clip_targets(digits).shape == (4, 5) and torch.isfinite(fvd.clip_targets(digits)).all()


def test_corrupt_semantics() -> None:
    clips = torch.arange(2 * 10, dtype=torch.float32).reshape(2, 10, 1, 1, 1).expand(2, 10, 1, 4, 4) / 20
    g = torch.Generator().manual_seed(0)
    for kind in ("shuffle", "freeze", "noise"):
        assert torch.equal(fvd.corrupt(clips, kind, 0.0, generator=g), clips)
    shuffled = fvd.corrupt(clips, "shuffle", 1.0, generator=g)
    # the same frames, in another order
    assert torch.equal(shuffled.sort(dim=1).values, clips.sort(dim=1).values)
    assert not torch.equal(shuffled, clips)
    frozen = fvd.corrupt(clips, "freeze", 0.3)
    assert torch.equal(frozen[:, :7], clips[:, :7]) and torch.equal(frozen[:, 7:], clips[:, 6:7].expand(2, 3, 1, 4, 4))
    assert torch.equal(fvd.corrupt(clips, "freeze", 1.0)[:, 1:], clips[:, :1].expand(2, 9, 1, 4, 4))
    for amount, moved in [(0.1, 2), (0.2, 2), (0.5, 5), (1.0, 10)]:  # a derangement: every chosen frame moves
        for _ in range(20):
            out = fvd.corrupt(clips, "shuffle", amount, generator=g)
            changed = (out != clips).flatten(2).any(-1)  # (B, T): frames no longer in their place
            assert changed.sum(1).tolist() == [moved, moved], (amount, changed)
            assert torch.equal(out.sort(dim=1).values, clips.sort(dim=1).values)
    noisy = fvd.corrupt(clips, "noise", 0.5, generator=g)
    assert noisy.min() >= 0 and noisy.max() <= 1 and not torch.equal(noisy, clips)
    with pytest.raises(ValueError):
        fvd.corrupt(clips, "blur", 0.5)
    with pytest.raises(ValueError):
        fvd.corrupt(clips, "noise", 1.5)
    with pytest.raises(ValueError):
        fvd.corrupt(clips[0], "noise", 0.5)


def test_fvd_lite_sanity_ordering(trained_net, real_sets) -> None:
    """Real vs real is smallest; each corruption scores worse, and worse as it grows."""
    real_a, real_b = real_sets
    g = torch.Generator().manual_seed(0)
    base = fvd.fvd_lite(real_a, real_b, trained_net)
    for kind, amounts in {"noise": (0.1, 0.3, 1.0), "freeze": (0.3, 0.6, 0.9)}.items():
        scores = [fvd.fvd_lite(real_a, fvd.corrupt(real_b, kind, a, generator=g), trained_net) for a in amounts]
        assert base < scores[0] < scores[1] < scores[2], f"{kind}: real vs real {base:.3f}, damaged {scores}"
    assert fvd.fvd_lite(real_a, real_a, trained_net) == pytest.approx(0.0, abs=1e-6)


@pytest.fixture()
def quick(monkeypatch, tmp_path):
    monkeypatch.setenv("VIDGEN_QUICK", "1")
    monkeypatch.setenv("VIDGEN_CACHE", str(tmp_path))


def test_feature_nets_quick_leave_the_global_rng_alone(quick, tmp_path) -> None:
    torch.manual_seed(7)
    state = torch.get_rng_state()
    grey, rgb = fvd.feature_net("grey", "cpu"), fvd.feature_net("rgb", "cpu")
    assert torch.equal(torch.get_rng_state(), state)
    assert grey.channels == 1 and rgb.channels == 3
    assert sorted(p.name.split("-")[0] for p in tmp_path.glob("*.pt")) == ["fvd_lite_grey", "fvd_lite_rgb"]
    logits, targets = rgb(torch.rand(2, 10, 3, 32, 32))
    assert logits.shape == (2, len(fvd.RGB_LABELS)) and targets.shape == (2, 5 + 2 * 7)
    shapes = make_dataset("shapes", "test", num_clips=8, T=10, seed=0).clips()
    assert fvd.fvd_lite(shapes, shapes) == pytest.approx(0.0, abs=1e-6)  # net picked from C = 3
    with pytest.raises(ValueError):
        fvd.feature_net("cpu")  # the kind comes first
    with pytest.raises(ValueError):
        fvd.fvd_lite(torch.rand(4, 10, 2, 32, 32), torch.rand(4, 10, 2, 32, 32))


def test_attribute_labels_and_color_targets() -> None:
    ds = make_dataset("shapes", "test", num_clips=5, T=6, seed=0)
    labels = fvd.attribute_labels(ds)
    assert labels.shape == (5, len(fvd.RGB_LABELS)) and (labels.sum(1) <= 6).all()
    for b, text in enumerate(ds.captions):
        assert {fvd.RGB_LABELS[i] for i in labels[b].nonzero()[:, 0].tolist()} == set(
            w for w in text.replace(";", " ").split() if w not in ("a", "moves"))
    v = fvd.color_targets(ds).view(5, 7, 2)
    c = ds.colors[:, 0].long()
    torch.testing.assert_close(v[torch.arange(5), c], ds.positions[:, 1, 0] - ds.positions[:, 0, 0])
