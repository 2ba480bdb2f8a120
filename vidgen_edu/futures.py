"""Sets of futures compared with sets of futures: the measures of stochastic prediction (chapter 07).

A stochastic predictor answers one past with many futures; the stochastic
simulator can answer it with many *true* futures. Two sets, compared by:

* :func:`future_distance` — ``d(a, b)``: the mean squared difference of two
  futures after a Gaussian blur of every frame. The blur makes ``d`` measure
  *where* the balls are rather than how sharp they are drawn: a slightly soft
  ball in the right place is close, a sharp ball in the wrong place is far.
* :func:`coverage` — the fraction of true futures that some sample matches,
  ``d ≤ τ`` (recall: are all the ways the future can go represented?);
* :func:`precision` — the fraction of samples that match some true future
  (is every sample a way the future can go?);
* :func:`best_of_n_frames` — the per-frame scores of each clip's best sample
  (chapter 06's best-of-N, kept per frame to look at frames after a bounce).

Coverage and precision are the recall and precision of generative modelling
(Sajjadi et al., 2018; Kynkäänniemi et al., 2019), computed here against the
true conditional distribution, which only a simulator can sample.
"""

from __future__ import annotations

import torch

from .metrics import MetricFn, gaussian_window, psnr


def _check_sets(samples: torch.Tensor, truths: torch.Tensor) -> None:
    if samples.dim() != 6 or truths.dim() != 6 or samples.shape[0] != truths.shape[0] \
            or samples.shape[2:] != truths.shape[2:]:
        raise ValueError("expected samples (B, N, T, C, H, W) and true futures (B, K, T, C, H, W) with the same "
                         f"B, T, C, H, W; got {tuple(samples.shape)} and {tuple(truths.shape)}")


def blur(frames: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of every image of ``(..., C, H, W)`` (window 4σ + 1, zero padding); σ = 0: unchanged."""
    if sigma <= 0:
        return frames
    size = 2 * round(2 * sigma) + 1
    g1 = gaussian_window(size, sigma)[size // 2]
    g1 = (g1 / g1.sum()).to(frames)  # (size,), sums to 1
    H, W = frames.shape[-2:]

    def band(n: int) -> torch.Tensor:
        """(n, n): row i holds g1 centred on column i, cut at the borders (zero padding)."""
        offset = torch.arange(n)[None, :] - torch.arange(n)[:, None] + size // 2  # (n, n): j − i + size // 2
        inside = (offset >= 0) & (offset < size)
        return torch.where(inside, g1[offset.clamp(0, size - 1)], torch.zeros((), dtype=g1.dtype))

    # separable: blur the columns, then the rows, each a product with a banded matrix
    return band(H).to(frames.device) @ frames @ band(W).to(frames.device).T


def future_distance(samples: torch.Tensor, truths: torch.Tensor, *, sigma: float = 2.0) -> torch.Tensor:
    """d(sample n, truth k) for every pair of each clip: (B, N, T, C, H, W), (B, K, T, C, H, W) → (B, N, K).

    d(a, b) = mean over frames, channels and pixels of (G_σ * a − G_σ * b)², G_σ a Gaussian blur.
    """
    _check_sets(samples, truths)
    a = blur(samples, sigma).flatten(2).double()  # (B, N, D)
    b = blur(truths, sigma).flatten(2).double()  # (B, K, D)
    # ‖a − b‖² = ‖a‖² + ‖b‖² − 2 a·b, for all pairs at once
    d = (a.pow(2).sum(-1)[:, :, None] + b.pow(2).sum(-1)[:, None, :] - 2 * a @ b.transpose(1, 2))
    return (d.clamp_min(0) / a.shape[-1]).float()


def coverage(distances: torch.Tensor, threshold: float) -> torch.Tensor:
    """Per clip, the fraction of true futures with a sample within ``threshold``: (B, N, K) → (B,)."""
    return (distances.amin(dim=1) <= threshold).float().mean(-1)


def precision(distances: torch.Tensor, threshold: float) -> torch.Tensor:
    """Per clip, the fraction of samples within ``threshold`` of some true future: (B, N, K) → (B,)."""
    return (distances.amin(dim=2) <= threshold).float().mean(-1)


def best_of_n_frames(truth: torch.Tensor, samples: torch.Tensor, metric_fn: MetricFn = psnr) -> torch.Tensor:
    """Per-frame scores of each clip's best sample: truth (B, T, C, H, W), samples (B, N, T, C, H, W) → (B, T).

    The best sample of a clip is the one with the highest ``metric_fn`` averaged over its T frames
    (chapter 06's best-of-N); its per-frame scores are returned so that any subset of frames can be read.
    """
    if truth.dim() != 5 or samples.dim() != 6 or samples.shape[2:] != truth.shape[1:] \
            or samples.shape[0] != truth.shape[0]:
        raise ValueError(f"best_of_n_frames expects truth (B, T, C, H, W) and samples (B, N, T, C, H, W), "
                         f"got {tuple(truth.shape)} and {tuple(samples.shape)}")
    scores = metric_fn(truth[:, None].expand_as(samples), samples).float()  # (B, N, T)
    best = scores.mean(-1).argmax(1)  # (B,): the sample with the best mean over frames
    return scores[torch.arange(len(best)), best]  # (B, T)


def best_of_n_on(truth: torch.Tensor, samples: torch.Tensor, frames: torch.Tensor,
                 metric_fn: MetricFn = psnr) -> torch.Tensor:
    """Best-of-N restricted to some frames of each clip: the best sample's mean score on those frames.

    ``truth`` (B, T, C, H, W), ``samples`` (B, N, T, C, H, W), ``frames`` (B, T) bool → (B',) for the B'
    clips with at least one selected frame. Each sample is scored by ``metric_fn`` averaged over the
    selected frames of its clip, and the best sample of every clip is kept (chapter 07 reads the
    frames after the first bounce, where the true futures part).
    """
    if frames.shape != truth.shape[:2]:
        raise ValueError(f"frames must be (B, T) = {tuple(truth.shape[:2])}, got {tuple(frames.shape)}")
    scores = metric_fn(truth[:, None].expand_as(samples), samples).float()  # (B, N, T)
    keep = frames.any(1)  # clips with a selected frame
    w = frames[keep, None, :].float()  # (B', 1, T)
    per_sample = (scores[keep] * w).sum(-1) / w.sum(-1)  # (B', N): mean over the selected frames
    return per_sample.amax(1)


__all__ = ["best_of_n_frames", "best_of_n_on", "blur", "coverage", "future_distance", "precision"]
