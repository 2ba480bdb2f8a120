"""Reading ball positions back from frames: a physical-plausibility check for predicted video (chapter 06).

Pixel metrics say how *similar* a predicted clip is to the truth; they do not
say whether its balls move like balls. For BouncingBalls the simulator knows
the true positions, so we can recover the positions from the predicted frames
(:func:`estimate_ball_positions`) and compare them with the ground-truth
states (:func:`position_error`): an error in pixels per predicted frame.

Coordinates follow the simulator: ``(x, y)`` in pixels, pixel ``(i, j)`` (row,
column) has its centre at ``(j + 0.5, i + 0.5)``.
"""

from __future__ import annotations

import itertools

import torch


def estimate_ball_positions(frames: torch.Tensor, num_balls: int, iters: int = 10,
                            sharpen: float = 2.0) -> torch.Tensor:
    """Ball centres from grey frames by intensity-weighted k-means: (..., 1, H, W) → (..., num_balls, 2).

    Each pixel is a point at its centre with weight ``intensity ** sharpen`` (the power
    lets a blurry prediction's bright core count more than its halo). Start: the
    brightest pixel, then repeatedly the pixel with the largest weight × squared
    distance to the centres so far (a deterministic k-means++). Then ``iters`` rounds
    of: give each pixel to its nearest centre, move each centre to the weighted mean
    of its pixels. Overlapping balls merge into one blob, which no method can split
    reliably; a frame with no bright pixel gives arbitrary centres.
    """
    if frames.dim() < 3 or frames.shape[-3] != 1:
        raise ValueError(f"estimate_ball_positions expects grey frames (..., 1, H, W), got {tuple(frames.shape)}")
    if num_balls < 1:
        raise ValueError(f"num_balls must be >= 1, got {num_balls}")
    *lead, _, H, W = frames.shape
    w = frames.reshape(-1, H * W).float().clamp(min=0) ** sharpen  # (M, HW) pixel weights
    ys, xs = torch.meshgrid(torch.arange(H, dtype=torch.float32) + 0.5, torch.arange(W, dtype=torch.float32) + 0.5,
                            indexing="ij")
    points = torch.stack([xs.flatten(), ys.flatten()], dim=-1).to(frames.device)  # (HW, 2) as (x, y)
    # deterministic k-means++ start
    centres = [points[w.argmax(dim=1)]]  # [(M, 2)]
    for _ in range(num_balls - 1):
        d2 = torch.stack([((points[None] - c[:, None]) ** 2).sum(-1) for c in centres]).amin(0)  # (M, HW)
        centres.append(points[(w * d2).argmax(dim=1)])
    c = torch.stack(centres, dim=1)  # (M, N, 2)
    p2 = (points**2).sum(-1)  # (HW,)
    for _ in range(iters):
        # squared distances |p − c|² = |p|² − 2 p·c + |c|², (M, HW, N)
        d2 = p2[None, :, None] - 2 * points[None] @ c.transpose(1, 2) + (c**2).sum(-1)[:, None, :]
        owner = torch.nn.functional.one_hot(d2.argmin(-1), num_balls).to(w.dtype)  # (M, HW, N)
        wo = w[..., None] * owner  # weight of pixel p in cluster k, (M, HW, N)
        mass = wo.sum(1)  # (M, N)
        # centre_k = Σ_p w_p [p belongs to k] p / Σ_p w_p [p belongs to k]; an empty cluster keeps its place
        moved = wo.transpose(1, 2) @ points / mass.clamp(min=1e-12)[..., None]  # (M, N, 2)
        c = torch.where(mass[..., None] > 1e-12, moved, c)
    return c.reshape(*lead, num_balls, 2)


def position_error(estimated: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """Mean distance in pixels between estimated and true centres, under the best matching: (..., N, 2) → (...).

    Balls look alike, so the estimate's k-th centre need not be the k-th ball; every
    permutation of the N balls is tried (N! of them, fine for a handful of balls).
    """
    if estimated.shape != true.shape or estimated.dim() < 2 or estimated.shape[-1] != 2:
        raise ValueError(f"position_error expects two tensors (..., N, 2) of one shape, "
                         f"got {tuple(estimated.shape)} and {tuple(true.shape)}")
    n = true.shape[-2]
    if n > 6:
        raise ValueError(f"position_error tries all N! matchings; N = {n} is too many")
    errors = [(estimated[..., list(p), :] - true).norm(dim=-1).mean(-1) for p in itertools.permutations(range(n))]
    return torch.stack(errors).amin(0)
