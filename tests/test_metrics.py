"""Frame metrics: PSNR, MSE and per-horizon curves (chapter 04)."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from vidgen_edu.metrics import mse, per_horizon, psnr


def test_psnr_matches_definition_and_keeps_leading_dims() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 1, 8, 8, generator=g)
    y = (x + 0.1 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    value = psnr(x, y)
    assert value.shape == (2, 3)
    for b in range(2):
        for t in range(3):
            m = ((x[b, t] - y[b, t]) ** 2).mean().item()
            assert value[b, t].item() == pytest.approx(10 * math.log10(1 / m), abs=1e-4)


def test_psnr_single_image_scalar_and_data_range() -> None:
    x = torch.zeros(3, 4, 4)
    y = torch.full((3, 4, 4), 0.1)  # MSE = 0.01
    assert psnr(x, y).shape == ()
    assert psnr(x, y).item() == pytest.approx(20.0, abs=1e-4)
    # on a 0..255 scale the same relative error gives the same PSNR
    assert psnr(255 * x, 255 * y, data_range=255.0).item() == pytest.approx(20.0, abs=1e-3)


def test_psnr_identical_is_inf_without_warning() -> None:
    x = torch.rand(4, 1, 5, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = psnr(x, x.clone())
    assert value.shape == (4,) and torch.isinf(value).all() and (value > 0).all()


def test_psnr_orders_by_error() -> None:
    x = torch.rand(1, 8, 8)
    assert psnr(x, x + 0.01) > psnr(x, x + 0.1)


def test_mse_and_psnr_bad_input() -> None:
    with pytest.raises(ValueError):
        psnr(torch.rand(1, 8, 8), torch.rand(1, 8, 9))
    with pytest.raises(ValueError):
        psnr(torch.rand(8, 8), torch.rand(8, 8))  # no channel dimension
    with pytest.raises(ValueError):
        psnr(torch.rand(1, 8, 8), torch.rand(1, 8, 8), data_range=0)
    with pytest.raises(TypeError):
        mse(torch.rand(1, 2, 2).numpy(), torch.rand(1, 2, 2))


def test_per_horizon_averages_over_clips() -> None:
    truth = torch.zeros(2, 3, 1, 4, 4)
    pred = torch.zeros(2, 3, 1, 4, 4)
    pred[0, 1] = 0.5  # clip 0, step 1: MSE 0.25
    pred[:, 2] = 0.1  # both clips, step 2: MSE 0.01
    curve = per_horizon(mse, truth, pred)
    assert curve.shape == (3,)
    torch.testing.assert_close(curve, torch.tensor([0.0, 0.125, 0.01]))
    curve_psnr = per_horizon(psnr, truth, pred)
    assert torch.isinf(curve_psnr[0]) and curve_psnr[2].item() == pytest.approx(20.0, abs=1e-4)
    # a single clip (T, C, H, W) works too
    torch.testing.assert_close(per_horizon(mse, truth[0], pred[0]), torch.tensor([0.0, 0.25, 0.01]))


def test_per_horizon_shape_mismatch() -> None:
    with pytest.raises(ValueError):
        per_horizon(mse, torch.zeros(2, 3, 1, 4, 4), torch.zeros(2, 4, 1, 4, 4))
    with pytest.raises(ValueError):
        per_horizon(mse, torch.zeros(3, 4, 4), torch.zeros(3, 4, 4))
