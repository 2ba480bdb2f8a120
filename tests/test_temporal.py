"""Temporal coherence metrics (chapter 06): flicker, object counts, ball physics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from vidgen_edu import temporal
from vidgen_edu.data import make_dataset
from vidgen_edu.fvd import corrupt


@pytest.fixture(scope="module")
def balls() -> torch.Tensor:
    return make_dataset("balls", "test", num_clips=16, T=20).clips()  # (16, 20, 1, 32, 32), 3 balls


def test_flicker_known_cases() -> None:
    constant = torch.full((2, 8, 3, 4, 4), 0.3)
    assert torch.equal(temporal.flicker(constant), torch.zeros(2))
    black = torch.zeros(1, 8, 1, 4, 4)
    assert temporal.flicker(black).item() == 0.0  # defined, no NaN
    alternating = torch.zeros(1, 8, 1, 4, 4)
    alternating[:, ::2] = 1.0  # S_t = 16, 0, 16, 0, ...: std / mean = 8 / 8
    assert temporal.flicker(alternating).item() == pytest.approx(1.0)
    assert temporal.flicker(torch.rand(3, 5, 1, 8, 8)).shape == (3,)


def test_count_objects_matches_scipy() -> None:
    g = torch.Generator().manual_seed(0)
    grey = torch.rand(40, 1, 24, 24, generator=g)
    bright = (grey[:, 0] > 0.7).numpy()
    expected4 = [ndimage.label(b)[1] for b in bright]  # scipy's default: 4-connectivity
    expected8 = [ndimage.label(b, structure=np.ones((3, 3)))[1] for b in bright]
    assert temporal.count_objects(grey, threshold=0.7).tolist() == expected4
    assert temporal.count_objects(grey, threshold=0.7, connectivity=8).tolist() == expected8
    # colour frames: blobs of each colour (the set of channels above the threshold) counted apart
    rgb = torch.rand(20, 3, 16, 16, generator=g)
    code = ((rgb > 0.6).long() * torch.tensor([1, 2, 4])[:, None, None]).sum(1).numpy()  # (20, 16, 16)
    expected = [sum(ndimage.label(c == k)[1] for k in range(1, 8)) for c in code]
    assert temporal.count_objects(rgb, threshold=0.6).tolist() == expected


def test_count_objects_synthetic_blobs() -> None:
    frame = torch.zeros(1, 16, 16)
    frame[0, 1:4, 1:4] = 1.0  # a square
    frame[0, 8:14, 10] = 0.9  # a bar
    frame[0, 4, 4] = 0.8  # touches the square only at a corner
    assert temporal.count_objects(frame).item() == 3  # 4-connectivity: a corner does not connect
    assert temporal.count_objects(frame, connectivity=8).item() == 2
    assert temporal.count_objects(frame, threshold=0.85).item() == 2  # the dim pixel is background
    touching = torch.zeros(3, 8, 8)
    touching[0, 2:5, 1:4] = 1.0  # a red square
    touching[1, 2:5, 4:7] = 1.0  # a green one right next to it
    assert temporal.count_objects(touching).item() == 2  # different colours: two objects
    assert temporal.count_objects(touching.amax(0, keepdim=True)).item() == 1  # in grey they merge
    assert temporal.count_objects(torch.zeros(2, 3, 1, 8, 8)).shape == (2, 3)
    spiral = torch.zeros(1, 20, 20)  # a long snake: one blob, however it winds
    spiral[0, ::2] = 1.0
    spiral[0, 1::4, -1] = 1.0
    spiral[0, 3::4, 0] = 1.0
    assert temporal.count_objects(spiral).item() == 1


def test_count_consistency(balls) -> None:
    real = temporal.count_consistency(balls, 3)
    assert 0.5 < real <= 1.0  # touching balls merge into one blob, so real clips may score below 1
    assert temporal.count_consistency(balls, torch.full((16,), 3)) == real
    assert temporal.count_consistency(torch.zeros_like(balls), 3) == 0.0
    with pytest.raises(ValueError):
        temporal.count_consistency(balls, torch.full((5,), 3))


def test_fold_and_fit_bounces() -> None:
    u = torch.tensor([3.0, 10.0, 29.0, 31.0, 56.0])
    torch.testing.assert_close(temporal.fold(u, 3.0, 29.0), torch.tensor([3.0, 10.0, 29.0, 27.0, 4.0]))
    t = torch.arange(12, dtype=torch.float32)
    truth = temporal.fold(torch.stack([20 + 2.3 * t, 10 - 1.1 * t, 4 + 0.0 * t]), 3.0, 29.0)  # (3, 12), with bounces
    torch.testing.assert_close(temporal.fit_bounces(truth, 3.0, 29.0), truth, atol=0.02, rtol=0)


def test_physics_px_real_versus_damaged(balls) -> None:
    g = torch.Generator().manual_seed(0)
    real = temporal.physics_px(balls, 3)
    assert 0.0 < real < 2.0  # collisions between balls are not in the model: small but not 0
    for damaged in (corrupt(balls, "shuffle", 1.0, generator=g), corrupt(balls, "noise", 0.3, generator=g)):
        assert temporal.physics_px(damaged, 3) > 2 * real
    assert temporal.physics_px(corrupt(balls, "freeze", 0.5), 3) > real


def test_bad_shapes_raise(balls) -> None:
    for fn in (temporal.flicker, lambda c: temporal.count_consistency(c, 3), lambda c: temporal.physics_px(c, 3)):
        with pytest.raises(ValueError, match="B, T"):
            fn(balls[0])  # a single clip (T, C, H, W)
    with pytest.raises(ValueError):
        temporal.physics_px(balls.expand(-1, -1, 3, -1, -1), 3)  # RGB
    with pytest.raises(ValueError):
        temporal.physics_px(balls, 5)  # too many balls to match
    with pytest.raises(ValueError):
        temporal.physics_px(balls[:, :2], 3)  # too few frames to fit a motion
    with pytest.raises(ValueError):
        temporal.flicker(torch.full((1, 4, 1, 8, 8), float("nan")))
    with pytest.raises(ValueError):
        temporal.count_objects(torch.zeros(8, 8))
    with pytest.raises(ValueError):
        temporal.count_objects(torch.zeros(1, 8, 8), connectivity=6)
