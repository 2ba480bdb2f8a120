"""Frame-quality metrics for predicted and generated video (chapter 04 onwards).

Every metric takes images or videos whose last three dimensions are
``(C, H, W)`` and returns **one value per image**, keeping the leading
dimensions: a batch of clips ``(B, T, C, H, W)`` gives ``(B, T)``.
:func:`per_horizon` turns such a metric into a curve over the prediction
horizon, averaged over clips.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

MetricFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _check_pair(x: torch.Tensor, y: torch.Tensor, name: str) -> None:
    if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError(f"{name} expects two torch tensors, got {type(x).__name__} and {type(y).__name__}")
    if x.dim() < 3:
        raise ValueError(f"{name} expects images of shape (..., C, H, W), got {tuple(x.shape)}")
    if x.shape != y.shape:
        raise ValueError(f"{name} expects two tensors of the same shape (..., C, H, W), "
                         f"got {tuple(x.shape)} and {tuple(y.shape)}")


def mse(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean squared error of each image: ``(..., C, H, W)`` → ``(...)``."""
    _check_pair(x, y, "mse")
    diff = x.float() - y.float()
    return diff.pow(2).mean(dim=(-3, -2, -1))


def psnr(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB of each image: ``(..., C, H, W)`` → ``(...)``.

    PSNR = 10 log10(data_range² / MSE). Higher is better; identical images give
    ``+inf`` (no warning). ``data_range`` is the span of pixel values (1 for [0, 1]).
    """
    if data_range <= 0:
        raise ValueError(f"data_range must be positive, got {data_range}")
    err = mse(x, y).double()  # float64 so a tiny MSE does not round to 0 before the log
    # 10 log10(R² / MSE), written so that MSE = 0 gives +inf without a division by zero
    value = 10.0 * (2.0 * torch.log10(torch.tensor(float(data_range), dtype=torch.float64)) - torch.log10(err))
    return value.to(torch.float32)


def per_horizon(metric_fn: MetricFn, truth: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
    """Average ``metric_fn`` over clips at every time step: a curve ``(T,)`` over the horizon.

    ``truth`` and ``pred`` are ``(B, T, C, H, W)`` (or a single clip ``(T, C, H, W)``);
    ``metric_fn(truth_t, pred_t)`` gets the frames of step ``t`` for all clips
    and returns per-image values (or their mean), e.g. :func:`psnr` or :func:`mse`.
    """
    if not isinstance(truth, torch.Tensor) or not isinstance(pred, torch.Tensor):
        raise TypeError("per_horizon expects torch tensors for truth and pred")
    if truth.dim() == 4:
        truth, pred = truth.unsqueeze(0), pred.unsqueeze(0)
    if truth.dim() != 5 or truth.shape != pred.shape:
        raise ValueError("per_horizon expects truth and pred of the same shape (B, T, C, H, W) or (T, C, H, W), "
                         f"got {tuple(truth.shape)} and {tuple(pred.shape)}")
    values = [metric_fn(truth[:, t], pred[:, t]).float().mean() for t in range(truth.shape[1])]
    return torch.stack(values)  # (T,)
