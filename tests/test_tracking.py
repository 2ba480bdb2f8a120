"""Ball positions read back from frames (chapter 06): accuracy on rendered balls, matching, bad input."""

from __future__ import annotations

import pytest
import torch

from vidgen_edu.data import BouncingBalls, make_dataset
from vidgen_edu.tracking import estimate_ball_positions, position_error


def test_estimates_the_simulator_positions_on_true_frames() -> None:
    ds = make_dataset("balls", "test", num_clips=20, T=8, seed=0)
    est = estimate_ball_positions(ds.clips(), num_balls=3)  # (20, 8, 3, 2)
    assert est.shape == (20, 8, 3, 2)
    err = position_error(est, ds.states[..., :2].float())  # (20, 8)
    assert err.shape == (20, 8)
    assert err.max().item() < 0.1  # sub-pixel: the renderer's discs are symmetric about their centres


def test_single_ball_anywhere_and_leading_dims() -> None:
    source = BouncingBalls(num_balls=1, radius=2.5)
    positions = torch.tensor([[[5.0, 7.5]], [[20.25, 11.0]], [[16.0, 26.5]]])  # (3, N=1, 2)
    frames = source.render(positions)  # (3, 1, 32, 32)
    est = estimate_ball_positions(frames, 1)
    torch.testing.assert_close(est, positions, atol=0.05, rtol=0)


def test_position_error_tries_every_matching() -> None:
    true = torch.tensor([[[1.0, 1.0], [10.0, 10.0], [20.0, 5.0]]])  # (1, 3, 2)
    swapped = true[:, [2, 0, 1]] + torch.tensor([0.0, 3.0])  # same balls, other order, 3 px lower
    assert position_error(swapped, true).item() == pytest.approx(3.0)
    assert position_error(true, true).item() == 0.0


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValueError):
        estimate_ball_positions(torch.rand(2, 3, 32, 32), 2)  # 3 channels
    with pytest.raises(ValueError):
        estimate_ball_positions(torch.rand(2, 1, 32, 32), 0)
    with pytest.raises(ValueError):
        position_error(torch.rand(2, 3, 2), torch.rand(2, 2, 2))
    with pytest.raises(ValueError):
        position_error(torch.rand(2, 7, 2), torch.rand(2, 7, 2))  # 7! matchings: refused
