"""Quality metrics for predicted and generated video (chapters 04 and 06).

Every frame metric (:func:`mse`, :func:`psnr`, :func:`ssim`) takes images or
videos whose last three dimensions are ``(C, H, W)`` and returns **one value
per image**, keeping the leading dimensions: a batch of clips
``(B, T, C, H, W)`` gives ``(B, T)``. :func:`per_horizon` turns such a metric
into a curve over the prediction horizon, averaged over clips.

Distribution metrics compare *sets* of videos: :func:`frechet_distance`
between two Gaussians (the core of FID and FVD; the features come from
:mod:`vidgen_edu.fvd`). For stochastic models, :func:`best_of_n` and
:func:`diversity` score a set of samples per context (chapter 06 explains how
best-of-N inflates scores).
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


def gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Normalized 2-D Gaussian window ``(size, size)`` in float64, the outer product of two 1-D ones."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def _band(g1: torch.Tensor, n: int) -> torch.Tensor:
    """(n − k + 1, n) matrix whose row i holds the 1-D window g1 (length k) at columns i .. i + k − 1."""
    k = len(g1)
    band = torch.zeros(n - k + 1, n, dtype=g1.dtype, device=g1.device)
    for i in range(n - k + 1):
        band[i, i:i + k] = g1
    return band


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, window: int = 11, sigma: float = 1.5,
         k1: float = 0.01, k2: float = 0.03, *, grad: bool = False) -> torch.Tensor:
    """Structural similarity (Wang et al., 2004) of each image: ``(..., C, H, W)`` → ``(...)``, 1 = identical.

    Local means, variances and the covariance are Gaussian-weighted averages over an
    ``window × window`` neighbourhood (σ = ``sigma``); the SSIM map

        SSIM = (2 μx μy + C1)(2 σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2)),  C_i = (k_i · data_range)²

    is averaged over the *valid* positions (no padding) and the channels. Agrees with
    ``skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=...)``. Frames must be at least ``window`` pixels.

    As a metric it is computed in float64 without gradients. ``grad=True`` keeps the
    autograd graph and the inputs' dtype, so that ``1 − ssim(pred, truth, grad=True)``
    can be a training loss (chapter 04's all-at-once predictor).
    """
    _check_pair(x, y, "ssim")
    if data_range <= 0:
        raise ValueError(f"data_range must be positive, got {data_range}")
    *lead, C, H, W = x.shape
    if H < window or W < window:
        raise ValueError(f"ssim needs frames of at least {window}x{window} pixels, got {H}x{W}")
    # every (image, channel) becomes one single-channel image: (M, 1, H, W), in float64 for the metric
    a = x.reshape(-1, 1, H, W)
    b = y.reshape(-1, 1, H, W)
    if not grad:
        a, b = a.detach().double(), b.detach().double()
    # the Gaussian window is separable, g(i, j) = g1(i) g1(j): one 1-D pass down the rows, one along the columns
    g1 = gaussian_window(window, sigma)[window // 2]
    g1 = (g1 / g1.sum()).to(a.device, a.dtype)  # (window,), sums to 1

    # the five local averages in one batch: x, y, x², y², xy → (5M, 1, H − window + 1, W − window + 1),
    # valid positions only
    # each 1-D pass is a product with a banded matrix, band_n[i, i:i + window] = g1 (float64 matmuls are fast)
    band_h = _band(g1, H)  # (H − window + 1, H)
    band_w = _band(g1, W)
    stats = band_h @ torch.cat([a, b, a * a, b * b, a * b]) @ band_w.T
    mu_x, mu_y, e_xx, e_yy, e_xy = stats.chunk(5)
    # σx² = E[x²] − μx², σxy = E[xy] − μx μy (population statistics, weights sum to 1)
    var_x = e_xx - mu_x**2
    var_y = e_yy - mu_y**2
    cov = e_xy - mu_x * mu_y
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    per_channel = ssim_map.mean(dim=(-3, -2, -1))  # (M,)
    per_image = per_channel.reshape(*lead, C).mean(-1)
    return per_image if grad else per_image.to(torch.float32)


def _sqrt_psd(m: torch.Tensor) -> torch.Tensor:
    """Square root of a symmetric positive semi-definite matrix by eigendecomposition (negative eigenvalues → 0)."""
    vals, vecs = torch.linalg.eigh((m + m.T) / 2)
    return (vecs * vals.clamp(min=0).sqrt()) @ vecs.T


def frechet_distance(mu1: torch.Tensor, sigma1: torch.Tensor, mu2: torch.Tensor, sigma2: torch.Tensor) -> float:
    """Fréchet (2-Wasserstein²) distance between N(mu1, sigma1) and N(mu2, sigma2).

        d² = ‖μ1 − μ2‖² + tr(Σ1 + Σ2 − 2 (Σ1^½ Σ2 Σ1^½)^½)

    ``(Σ1^½ Σ2 Σ1^½)^½`` has the same trace as the ``(Σ1 Σ2)^½`` of the usual
    formula, but is the root of a *symmetric* PSD matrix, so two symmetric
    eigendecompositions in float64 give it stably even for singular or nearly
    singular covariances (no complex parts, no NaN). The result is clamped at 0.
    """
    mu1, mu2 = (torch.as_tensor(m, dtype=torch.float64).flatten() for m in (mu1, mu2))
    s1, s2 = (torch.as_tensor(s, dtype=torch.float64) for s in (sigma1, sigma2))
    d = mu1.numel()
    if mu2.numel() != d or s1.shape != (d, d) or s2.shape != (d, d):
        raise ValueError(f"frechet_distance expects means (d,) and covariances (d, d) of one d, got "
                         f"{tuple(mu1.shape)}, {tuple(s1.shape)}, {tuple(mu2.shape)}, {tuple(s2.shape)}")
    root1 = _sqrt_psd(s1)
    cross = _sqrt_psd(root1 @ s2 @ root1)  # (Σ1^½ Σ2 Σ1^½)^½
    value = (mu1 - mu2).pow(2).sum() + torch.trace(s1) + torch.trace(s2) - 2 * torch.trace(cross)
    return max(float(value), 0.0)


def gaussian_stats(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``(d,)`` and covariance ``(d, d)`` (unbiased, float64) of features ``(n, d)``, n ≥ 2."""
    if features.dim() != 2 or features.shape[0] < 2:
        raise ValueError(f"gaussian_stats expects features of shape (n >= 2, d), got {tuple(features.shape)}")
    f = features.double()
    return f.mean(0), torch.cov(f.T).reshape(f.shape[1], f.shape[1])


def best_of_n(metric_fn: MetricFn, truth: torch.Tensor, samples: torch.Tensor,
              higher_is_better: bool = True) -> torch.Tensor:
    """Best-of-N score per clip: truth (B, T, C, H, W), samples (N, B, T, C, H, W) → (B,).

    Each sample is scored by ``metric_fn`` averaged over its T frames; each clip keeps
    the best of its N samples. The protocol peeks at the truth to choose, so it rewards
    a model for *covering* the true future among many guesses — and rewards pure
    diversity as well: the score rises with N even for samples that ignore the context.
    """
    if truth.dim() != 5 or samples.dim() != 6 or samples.shape[1:] != truth.shape:
        raise ValueError(f"best_of_n expects truth (B, T, C, H, W) and samples (N, B, T, C, H, W), "
                         f"got {tuple(truth.shape)} and {tuple(samples.shape)}")
    scores = torch.stack([metric_fn(truth, s).float().mean(-1) for s in samples])  # (N, B)
    return scores.amax(0) if higher_is_better else scores.amin(0)


def diversity(samples: torch.Tensor) -> torch.Tensor:
    """Mean pairwise dissimilarity ``1 − SSIM`` between N samples: (N, B, T, C, H, W) → (B,).

    0 when all samples are equal (a deterministic model); larger when the samples differ.
    Diversity alone is no virtue: noise is diverse too. Read it next to a quality score.
    """
    if samples.dim() != 6 or samples.shape[0] < 2:
        raise ValueError(f"diversity expects samples of shape (N >= 2, B, T, C, H, W), got {tuple(samples.shape)}")
    n = samples.shape[0]
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    dis = torch.stack([1.0 - ssim(samples[i], samples[j]).mean(-1) for i, j in pairs])  # (pairs, B)
    return dis.mean(0)
