"""Temporal coherence of generated video, one clip at a time: flicker, object counts, ball physics (chapter 06).

FVD-lite (:mod:`vidgen_edu.fvd`) compares whole *sets* of clips. The metrics
here ask of every single clip whether it behaves like video of the simulator:

- :func:`flicker`: does the total brightness jump from frame to frame?
- :func:`count_objects`, :func:`count_consistency`: do objects neither vanish
  nor multiply (counted as blobs of one colour)?
- :func:`physics_px`: do bouncing balls move like balls, in straight lines
  folded back at the walls?

None of them is 0 (or 1) on real clips, because real clips are not ideal
either: touching balls merge into one blob, balls collide with each other.
So each is reported next to its value on real clips, the ceiling a generator
can reach. Clips are ``(B, T, C, H, W)`` floats in [0, 1].
"""

from __future__ import annotations

import itertools

import torch
from torch.nn import functional as F

from .tracking import estimate_ball_positions

#: frames labelled at once by :func:`count_objects` (bounds the memory of the int64 label maps)
_CHUNK = 4096


def _check_clips(clips: torch.Tensor, name: str, channels: int | None = None, min_frames: int = 1) -> None:
    c = "C" if channels is None else str(channels)
    if (not isinstance(clips, torch.Tensor) or clips.dim() != 5 or clips.shape[1] < min_frames
            or (channels is not None and clips.shape[2] != channels)):
        got = tuple(clips.shape) if isinstance(clips, torch.Tensor) else type(clips).__name__
        raise ValueError(f"{name} expects clips (B, T >= {min_frames}, {c}, H, W), got {got}")
    if not torch.isfinite(clips).all():
        raise ValueError(f"{name} got non-finite values in its clips")


def flicker(clips: torch.Tensor) -> torch.Tensor:
    """Coefficient of variation over time of each clip's total brightness: (B, T, C, H, W) → (B,).

    With ``S_t`` the sum of the pixels of frame ``t``, the flicker is ``std_t(S_t) / mean_t(S_t)``
    (population standard deviation): 0 when the brightness stays constant, as it nearly does
    when objects move over a black background; an all-black clip has flicker 0.
    """
    _check_clips(clips, "flicker")
    s = clips.float().sum(dim=(2, 3, 4))  # S_t, (B, T)
    mean, std = s.mean(dim=1), s.std(dim=1, correction=0)  # (B,)
    # flicker = std_t(S_t) / mean_t(S_t), defined as 0 for a black clip (mean 0)
    return torch.where(mean > 0, std / mean.clamp(min=1e-12), torch.zeros_like(mean))


def count_objects(frames: torch.Tensor, threshold: float = 0.5, connectivity: int = 4) -> torch.Tensor:
    """Number of connected blobs of one colour in every frame: (..., C, H, W) → (...) int64.

    A pixel's colour is the set of its channels above ``threshold`` (for grey frames:
    bright or not); pixels with no channel above it are background. Two pixels are
    connected when they have the same colour and share a side (``connectivity=4``, the
    default, as ``scipy.ndimage.label``) or also a corner (``8``). So touching shapes of
    different colours count as two, touching grey balls as one. Each pixel starts with its
    own label (its index + 1); repeatedly, every pixel takes the largest label among itself
    and its same-coloured neighbours, and the label of the pixel its label names (a
    shortcut that halves long chains), until nothing changes. Then each blob carries the
    label of its largest pixel, and counting blobs is counting the pixels whose label is their own.
    """
    if not isinstance(frames, torch.Tensor) or frames.dim() < 3:
        raise ValueError(f"count_objects expects frames (..., C, H, W), got {getattr(frames, 'shape', frames)}")
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity!r}")
    *lead, C, H, W = frames.shape
    bits = 2 ** torch.arange(C, device=frames.device).view(C, 1, 1)
    colour = ((frames > threshold).int() * bits).sum(dim=-3, dtype=torch.int32).reshape(-1, H, W)  # (N, H, W)
    steps = [(0, 1), (0, -1), (1, 0), (-1, 0)]
    if connectivity == 8:
        steps += [(1, 1), (1, -1), (-1, 1), (-1, -1)]
    windows = [(slice(None), slice(1 + dy, 1 + dy + H), slice(1 + dx, 1 + dx + W)) for dy, dx in steps]
    ids = torch.arange(1, H * W + 1, device=frames.device, dtype=torch.int32).reshape(1, H, W)
    counts = []
    for code in colour.split(_CHUNK):  # 0 = background
        mask = code > 0
        padded_code = F.pad(code, (1, 1, 1, 1))  # (n, H + 2, W + 2), background around the frame
        # same[:, k]: the neighbour in direction k is part of the pixel's blob (same colour, not background)
        same = torch.stack([(padded_code[w] == code) & mask for w in windows], dim=1)  # (n, K, H, W)
        label = torch.where(mask, ids, 0)  # (n, H, W); 0 on the background
        active = torch.arange(len(code), device=frames.device)  # frames whose labels still change
        while active.numel():
            old, linked = label[active], same[active]
            padded = F.pad(old, (1, 1, 1, 1))
            new = old
            for k, w in enumerate(windows):  # the largest label among the pixel and its blob's neighbours
                new = torch.maximum(new, padded[w] * linked[:, k])
            flat = new.flatten(1)  # (a, HW): the pixel with id L holds a label >= L of the same blob
            new = torch.maximum(new, flat.gather(1, (flat.long() - 1).clamp(min=0)).view_as(new)) * mask[active]
            label[active] = new
            active = active[(new != old).flatten(1).any(dim=1)]  # a frame that did not change is done
        counts.append((mask & (label == ids)).sum(dim=(1, 2)))  # one root per blob
    return torch.cat(counts).reshape(lead)


def count_consistency(clips: torch.Tensor, counts: int | torch.Tensor, threshold: float = 0.5) -> float:
    """Fraction of frames whose :func:`count_objects` equals the clip's true number of objects.

    ``clips`` (B, T, C, H, W); ``counts`` one int for all clips or a (B,) tensor. Real clips
    score below 1: touching grey objects (and overlapping ones of any colour) merge into one
    blob, and a digit's strokes can break into several.
    """
    _check_clips(clips, "count_consistency")
    counts = torch.as_tensor(counts, dtype=torch.long)
    if counts.dim() == 0:
        counts = counts.expand(clips.shape[0])
    if counts.shape != clips.shape[:1]:
        raise ValueError(f"counts must be an int or a tensor of shape ({clips.shape[0]},), got {tuple(counts.shape)}")
    found = count_objects(clips, threshold)  # (B, T)
    return (found == counts.to(found.device)[:, None]).float().mean().item()


def track_balls(clips: torch.Tensor, num_balls: int) -> torch.Tensor:
    """Ball centres in every frame, linked over time: (B, T, 1, H, W) → (B, T, K, 2) as (x, y) pixels.

    :func:`~vidgen_edu.tracking.estimate_ball_positions` finds K centres per frame in no
    particular order; frame by frame, they are reordered by the permutation with the
    smallest total distance to the previous frame's centres (all K! of them, K <= 4).
    """
    _check_clips(clips, "track_balls", channels=1)
    if not 1 <= num_balls <= 4:
        raise ValueError(f"num_balls must be 1 to 4 (all K! matchings are tried), got {num_balls}")
    pos = estimate_ball_positions(clips, num_balls)  # (B, T, K, 2)
    perms = torch.tensor(list(itertools.permutations(range(num_balls))), device=pos.device)  # (P, K)
    linked = [pos[:, 0]]
    for t in range(1, pos.shape[1]):
        candidates = pos[:, t][:, perms]  # (B, P, K, 2): every order of frame t's centres
        cost = (candidates - linked[-1][:, None]).norm(dim=-1).sum(dim=-1)  # (B, P) total distance
        linked.append(candidates[torch.arange(len(cost)), cost.argmin(dim=1)])
    return torch.stack(linked, dim=1)


def fold(u: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """Fold free straight-line positions into the box [lo, hi], as the walls reflect a ball.

    The triangle wave ``f(u) = lo + L - |((u - lo) mod 2L) - L|`` with ``L = hi - lo``:
    ``f(u) = u`` inside, mirrored at each wall outside.
    """
    L = hi - lo
    return lo + L - ((u - lo).remainder(2 * L) - L).abs()


def fit_bounces(x: torch.Tensor, lo: float, hi: float, max_speed: float = 3.0, rounds: int = 3) -> torch.Tensor:
    """The best bouncing motion ``x̂_t = fold(x0 + v t)`` of each series x (N, T), in least squares → x̂ (N, T).

    The squared error is not convex in (x0, v) (a bounce can sit at many places), so it is
    minimized by grid search: x0 in [lo, hi] every 0.5 px and v in [-max_speed, max_speed]
    every 0.05 px/frame, then ``rounds`` grids 5 times finer around the best point.
    """
    N, T = x.shape
    t = torch.arange(T, dtype=torch.float32, device=x.device)
    x0 = torch.arange(lo, hi + 1e-6, 0.5, device=x.device)  # (A,)
    v = torch.arange(-max_speed, max_speed + 1e-6, 0.05, device=x.device)  # (V,)
    grid = torch.cartesian_prod(x0, v)[None].expand(N, -1, -1)  # (N, G, 2) candidates (x0, v)
    step = torch.tensor([0.5, 0.05], device=x.device)
    for r in range(rounds + 1):
        best = []
        for xs, g in zip(x.split(64), grid.split(64)):  # 64 series at a time bounds the (n, G, T) memory
            # E(x0, v) = sum_t (x_t - fold(x0 + v t))^2
            err = (xs[:, None, :] - fold(g[..., :1] + g[..., 1:] * t, lo, hi)).pow(2).sum(dim=-1)  # (n, G)
            best.append(g[torch.arange(len(g)), err.argmin(dim=1)])  # (n, 2)
        best = torch.cat(best)  # (N, 2)
        if r < rounds:  # an 11 x 11 grid spanning one step of the last grid around the best point
            step = step / 5
            offsets = torch.cartesian_prod(*(torch.arange(-5, 6, device=x.device) * s for s in step))  # (121, 2)
            grid = best[:, None] + offsets[None]
    return fold(best[:, :1] + best[:, 1:] * t, lo, hi)


def physics_px(clips: torch.Tensor, num_balls: int, radius: float = 3.0, max_speed: float = 3.0) -> float:
    """How far tracked balls stray from straight-line motion with wall bounces, in pixels (bouncing balls).

    Track the K balls of every clip (:func:`track_balls`), fit each ball and axis the best
    ``fold(x0 + v t)`` in the box ``[radius, size - radius]`` (:func:`fit_bounces`; the
    simulator's walls), and return the mean distance between tracked and fitted centres,
    over balls, frames and clips. Real clips give a small nonzero value: ball-ball
    collisions change velocities mid-clip and overlapping balls confuse the tracker.
    Shuffled frames, noise or a clip frozen halfway give large values; a clip frozen
    from its first frame fits ``v = 0`` exactly and scores 0 (the chapter pairs this
    metric with the others for that reason).
    """
    _check_clips(clips, "physics_px", channels=1, min_frames=3)
    B, T, _, H, W = clips.shape
    if not 0 < radius < min(H, W) / 2:
        raise ValueError(f"radius must be in (0, {min(H, W) / 2}), got {radius}")
    tracks = track_balls(clips, num_balls).float()  # (B, T, K, 2)
    series = tracks.permute(3, 0, 2, 1)  # (2, B, K, T): x then y series of every ball
    fitted = torch.stack([
        fit_bounces(series[axis].reshape(-1, T), radius, extent - radius, max_speed).reshape(B, num_balls, T)
        for axis, extent in enumerate((W, H))
    ]).permute(1, 3, 2, 0)  # (B, T, K, 2)
    return (tracks - fitted).norm(dim=-1).mean().item()
