"""Bouncing balls: discs that fly, hit the walls and each other elastically, and are drawn softly.

The data set of Sutskever, Hinton & Taylor (2009), the first benchmark of
learned video models, rebuilt so that each step can be taught on its own
(chapter 02):

1. ``initial_conditions`` draws non-overlapping positions and random velocities;
2. ``simulate`` integrates the motion with ``substeps`` Euler steps per frame,
   reflecting balls off the four walls and resolving ball-ball contacts with
   :func:`collide` (an elastic collision along the line of centres);
3. ``render`` draws every ball as an anti-aliased disc and combines the balls
   by a pixelwise max.

Coordinates are in pixels: ``x`` grows to the right (columns), ``y`` grows
downwards (rows), the frame covers ``[0, size]^2`` and pixel ``(row i, col j)``
has its centre at ``(x, y) = (j + 1/2, i + 1/2)``. A state is
``(x, y, vx, vy)`` with velocities in pixels per frame.

Masses: ``mass="area"`` (default) gives ball ``i`` the mass ``m_i = r_i^2``
(proportional to the area of the disc; with equal radii all masses are equal,
as in the original data set), ``mass="equal"`` gives every ball mass 1, and a
sequence gives explicit masses. Ball-ball collisions conserve total momentum
``sum_i m_i v_i`` and kinetic energy ``sum_i m_i |v_i|^2 / 2``; a wall flips
one velocity component, so it conserves the kinetic energy but not the
momentum.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from .base import (
    Info,
    Seed,
    VideoSource,
    as_tensor,
    check_int,
    check_positive,
    check_range,
    draw_in_chunks,
    store,
)

# Placement of the balls: candidates drawn per clip and round, and rounds before giving up.
_CANDIDATES = 16
_ROUNDS = 64
# Frames rendered at once (keeps the (frames, N, H, W) temporary small enough for the CPU caches).
_RENDER_FRAMES = 512


def _dot(a: Any, b: Any) -> Any:
    """<a, b> over the last axis of length 2 (works for NumPy arrays and torch tensors alike)."""
    return a[..., 0] * b[..., 0] + a[..., 1] * b[..., 1]


def collide(p1: Any, v1: Any, p2: Any, v2: Any, m1: Any = 1.0, m2: Any = 1.0) -> tuple[Any, Any]:
    """New velocities ``(v1', v2')`` after an elastic collision of two discs centred at ``p1``, ``p2``.

    Positions and velocities have shape ``(..., 2)`` (NumPy arrays or torch
    tensors, lists are turned into NumPy arrays); masses are numbers or arrays of
    shape ``(...)``. Only the velocity components along the line of centres
    ``p1 - p2`` change, and they change so that momentum and kinetic energy are
    conserved (derived in chapter 02). Two discs at the same point have no line
    of centres and keep their velocities. The formula applies whether or not the
    discs approach each other; the simulator calls it only when they do.
    """
    if not any(isinstance(x, torch.Tensor) for x in (p1, v1, p2, v2, m1, m2)):
        p1, v1, p2, v2 = (np.asarray(x, dtype=np.float64) for x in (p1, v1, p2, v2))
        m1, m2 = np.asarray(m1, dtype=np.float64), np.asarray(m2, dtype=np.float64)
    d = p1 - p2  # (..., 2) line of centres
    dv = v1 - v2  # (..., 2) relative velocity
    dist2 = _dot(d, d)  # (...)
    # s = <v1 - v2, p1 - p2> / |p1 - p2|^2   (0 when the centres coincide: d = 0 there)
    s = _dot(dv, d) / (dist2 + (dist2 == 0))
    # v1' = v1 - 2 m2 / (m1 + m2) <v1 - v2, p1 - p2> / |p1 - p2|^2 (p1 - p2)
    v1_new = v1 - (2 * m2 / (m1 + m2) * s)[..., None] * d
    # v2' = v2 - 2 m1 / (m1 + m2) <v2 - v1, p2 - p1> / |p2 - p1|^2 (p2 - p1)   (= v2 + 2 m1/(m1+m2) s d)
    v2_new = v2 + (2 * m1 / (m1 + m2) * s)[..., None] * d
    return v1_new, v2_new


def _float64_copy(x: Any) -> np.ndarray:
    """A float64 NumPy copy of an array-like or a (CPU or GPU) torch tensor."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy().astype(np.float64)
    return np.array(x, dtype=np.float64)


def _as_radii(radius: float | Sequence[float], num_balls: int) -> np.ndarray:
    if isinstance(radius, (int, float, np.integer, np.floating)) and not isinstance(radius, bool):
        radii = [check_positive(radius, "radius")] * num_balls
    else:
        radii = [check_positive(r, "radius") for r in radius]
        if len(radii) != num_balls:
            raise ValueError(f"radius has {len(radii)} entries but num_balls = {num_balls}; give one radius per ball")
    return np.asarray(radii, dtype=np.float64)


def _as_masses(mass: str | Sequence[float], radii: np.ndarray) -> np.ndarray:
    if isinstance(mass, str):
        if mass == "area":
            return radii**2
        if mass == "equal":
            return np.ones_like(radii)
        raise ValueError(f"unknown mass {mass!r}; valid: 'area', 'equal' or a sequence of positive masses")
    masses = np.asarray([check_positive(m, "mass") for m in mass], dtype=np.float64)
    if len(masses) != len(radii):
        raise ValueError(f"mass has {len(masses)} entries but there are {len(radii)} balls; give one mass per ball")
    return masses


def _wall_bounce(p: np.ndarray, v: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Reflect balls that crossed a wall (in place): x -> 2 lo - x with v_x -> |v_x|, and the mirror image at hi.

    Returns the inward normal of the wall each ball hit, ``(n, N, 2)`` with
    entries in {-1, 0, +1}: ``+1`` on an axis where the ball crossed ``lo``,
    ``-1`` where it crossed ``hi``, ``0`` where it hit nothing (both axes
    nonzero: a corner).
    """
    below = p < lo  # (n, N, 2)
    np.copyto(p, 2 * lo - p, where=below)
    np.copyto(v, np.abs(v), where=below)
    above = p > hi
    np.copyto(p, 2 * hi - p, where=above)
    np.copyto(v, -np.abs(v), where=above)
    # a ball faster than the frame is wide could overshoot twice; keep it inside regardless
    np.clip(p, lo, hi, out=p)
    return np.where(above, -1, below.astype(np.int8))  # (n, N, 2)


def _pair_bounce(p: np.ndarray, v: np.ndarray, i: int, j: int, r: np.ndarray, m: np.ndarray) -> None:
    """Collide balls i and j where they touch and approach, then push overlapping pairs apart (in place)."""
    d = p[:, i] - p[:, j]  # (n, 2)
    r_sum = r[i] + r[j]
    (idx,) = np.nonzero(_dot(d, d) < r_sum**2)  # the few clips where i and j touch
    if len(idx) == 0:
        return
    d = d[idx]  # (k, 2) line of centres, from j to i
    pi, vi, pj, vj = p[idx, i], v[idx, i], p[idx, j], v[idx, j]  # (k, 2) each
    # they approach when <v_i - v_j, p_i - p_j> < 0; receding pairs are left alone (no sticking)
    hit = (_dot(vi - vj, d) < 0)[:, None]  # (k, 1)
    vi_new, vj_new = collide(pi, vi, pj, vj, m[i], m[j])
    v[idx, i] = np.where(hit, vi_new, vi)
    v[idx, j] = np.where(hit, vj_new, vj)
    # A finite time step lets discs overlap by up to |v_i - v_j| dt before the contact is seen.
    # Move both apart along the line of centres, keeping their centre of mass: velocities,
    # hence momentum and energy, are untouched.
    dist = np.sqrt(_dot(d, d))  # (k,)
    safe = np.where(dist > 0, dist, 1.0)
    overlap = np.where(dist > 0, r_sum - dist, 0.0)  # (k,)
    n_hat = d / safe[:, None]  # (k, 2) unit vector from j to i
    p[idx, i] = pi + (m[j] / (m[i] + m[j]) * overlap)[:, None] * n_hat
    p[idx, j] = pj - (m[i] / (m[i] + m[j]) * overlap)[:, None] * n_hat


def simulate_balls(
    positions: Any,
    velocities: Any,
    T: int,
    *,
    size: float,
    radii: Sequence[float] | np.ndarray,
    masses: Sequence[float] | np.ndarray | None = None,
    substeps: int = 8,
    wall: Callable[[int, np.ndarray, np.ndarray], None] | None = None,
) -> torch.Tensor:
    """Integrate bouncing balls for ``T`` frames; returns states ``(..., T, N, 4)`` = ``(x, y, vx, vy)``.

    ``positions`` and ``velocities`` have shape ``(N, 2)`` or ``(n, N, 2)``
    (NumPy or torch; computed in float64, returned as float32). Frame ``0`` is
    the initial state; between frames, ``substeps`` Euler steps of
    ``dt = 1 / substeps`` move the balls, bounce them off the walls and
    resolve ball-ball contacts in pair order (see the module docstring).

    ``wall`` (optional) is called as ``wall(t, v, normal)`` in every sub-step
    between frames ``t - 1`` and ``t``, right after the elastic wall reflection
    and before the ball-ball contacts: ``v (n, N, 2)`` are the float64
    velocities (``n = 1`` for unbatched input), which the hook may overwrite
    in place, and ``normal (n, N, 2)`` is the inward normal of the wall each
    ball just hit (see :func:`_wall_bounce`; all zero for a ball that hit
    nothing). Chapter 07's :class:`StochasticBalls` uses it to give a ball a
    random new velocity at every wall hit; ``None`` keeps the elastic walls.
    """
    T = check_int(T, "T")
    substeps = check_int(substeps, "substeps")
    p = _float64_copy(positions)  # (N, 2) or (n, N, 2); the caller's arrays are left alone
    v = _float64_copy(velocities)
    if p.ndim not in (2, 3) or p.shape[-1] != 2 or v.shape != p.shape:
        raise ValueError(
            f"positions and velocities must both have shape (N, 2) or (n, N, 2); got {p.shape} and {v.shape}"
        )
    single = p.ndim == 2
    if single:
        p, v = p[None], v[None]
    N = p.shape[1]
    r = np.asarray(radii, dtype=np.float64).reshape(-1)
    if r.shape != (N,):
        raise ValueError(f"radii must have one entry per ball ({N}), got shape {r.shape}")
    m = np.ones(N) if masses is None else np.asarray(masses, dtype=np.float64).reshape(-1)
    if m.shape != (N,) or (m <= 0).any():
        raise ValueError(f"masses must be {N} positive numbers, got {masses!r}")
    lo = r[:, None]  # (N, 1): a ball stays r away from each wall
    hi = size - lo
    eps = 1e-9
    if (p < lo - eps).any() or (p > hi + eps).any():
        raise ValueError(f"every ball must start inside the frame: r <= x, y <= size - r (size = {size})")

    pairs = [(i, j) for i in range(N) for j in range(i + 1, N)]
    dt = 1.0 / substeps
    states = np.empty((p.shape[0], T, N, 4))  # (n, T, N, 4)
    for t in range(T):
        if t > 0:
            for _ in range(substeps):
                # x <- x + dt v   (explicit Euler; exact between collisions since v is constant)
                p += dt * v
                normal = _wall_bounce(p, v, lo, hi)  # (n, N, 2)
                if wall is not None:
                    wall(t, v, normal)
                for i, j in pairs:
                    _pair_bounce(p, v, i, j, r, m)
                np.clip(p, lo, hi, out=p)
        states[:, t, :, :2] = p
        states[:, t, :, 2:] = v
    out = torch.from_numpy(states.astype(np.float32))
    return out[0] if single else out


def render_balls(positions: Any, *, size: int, radii: Sequence[float] | np.ndarray, edge: float = 1.0) -> torch.Tensor:
    """Draw balls at ``positions (..., N, 2)`` (or states ``(..., N, 4)``) as frames ``(..., 1, size, size)``.

    Each ball is a disc with an anti-aliased rim ``edge`` pixels wide
    (``edge=0``: hard edge); overlapping balls combine by a pixelwise max, so
    the values stay in [0, 1].
    """
    pos = as_tensor(positions, torch.float32)
    if pos.ndim < 2 or pos.shape[-1] not in (2, 4):
        raise ValueError(f"positions must have shape (..., N, 2) (or states (..., N, 4)), got {tuple(pos.shape)}")
    pos = pos[..., :2]
    lead, N = pos.shape[:-2], pos.shape[-2]
    r = torch.as_tensor(np.asarray(radii, dtype=np.float32)).reshape(-1)
    if r.shape != (N,):
        raise ValueError(f"radii must have one entry per ball ({N}), got shape {tuple(r.shape)}")
    edge = check_positive(edge, "edge", allow_zero=True)
    flat = pos.reshape(-1, N, 2)  # (F, N, 2)
    grid = torch.arange(size, dtype=torch.float32) + 0.5  # pixel centres
    equal_radii = bool((r == r[0]).all())
    frames = torch.empty((flat.shape[0], size, size))  # (F, H, W)
    for start in range(0, flat.shape[0], _RENDER_FRAMES):
        c = flat[start : start + _RENDER_FRAMES]  # (f, N, 2)
        dx2 = (grid - c[..., 0:1]) ** 2  # (f, N, W)
        dy2 = (grid - c[..., 1:2]) ** 2  # (f, N, H)
        if equal_radii:
            # all r_i = r: max_i (r - d_i) = r - sqrt(min_i d_i^2), one square root per pixel instead of N
            d2 = (dy2[..., :, None] + dx2[..., None, :]).amin(dim=1)  # (f, H, W)
            depth = r[0] - d2.sqrt_()
        else:
            # d_i(x) = |x - p_i|, distance of each pixel centre to each ball centre
            d = (dy2[..., :, None] + dx2[..., None, :]).sqrt_()  # (f, N, H, W)
            # max_i (r_i - d_i): the pixel's depth inside the deepest ball (max commutes with the ramp below)
            depth = (r[:, None, None] - d).amax(dim=1)  # (f, H, W)
        if edge > 0:
            # I = clip((r - d) / edge + 1/2, 0, 1): a linear ramp across the rim, 1/2 on the circle
            frames[start : start + len(c)] = depth.div_(edge).add_(0.5).clamp_(0.0, 1.0)
        else:
            frames[start : start + len(c)] = (depth >= 0).float()
    return frames.reshape(*lead, 1, size, size)


class BouncingBalls(VideoSource):
    """Balls bouncing in a box (Sutskever-style); clips ``(T, 1, size, size)`` in [0, 1].

    Args:
        num_balls: number of balls N.
        size: frame height = width in pixels.
        radius: one radius for all balls, or one per ball (pixels).
        speed: initial speed in pixels per frame, a number or a range ``(low, high)``
            drawn uniformly per ball; directions are uniform on the circle.
        mass: ``"area"`` (m = r^2), ``"equal"``, or one mass per ball.
        substeps: Euler sub-steps per frame (more: more exact collisions).
        edge: width of the anti-aliased rim in pixels (0: hard edge).

    ``sample(T, seed, return_states=True)`` also returns the ground-truth states
    ``(T, N, 4)`` = ``(x, y, vx, vy)``. Chapter 02 builds it step by step.
    """

    name = "balls"
    channels = 1
    info_key = "states"

    def __init__(
        self,
        num_balls: int = 3,
        size: int = 32,
        radius: float | Sequence[float] = 3.0,
        speed: float | tuple[float, float] = 1.5,
        mass: str | Sequence[float] = "area",
        substeps: int = 8,
        edge: float = 1.0,
    ) -> None:
        self.num_balls = check_int(num_balls, "num_balls")
        self.size = check_int(size, "size")
        self.radii = _as_radii(radius, self.num_balls)  # (N,)
        too_big = self.radii[2 * self.radii >= self.size]
        if len(too_big):
            raise ValueError(
                f"a ball of radius {too_big[0]:g} does not fit in a {self.size}x{self.size} frame "
                f"(needs 2 * radius < size); use a smaller radius or a larger size"
            )
        self.speed = check_range(speed, "speed", allow_zero=True)
        self.mass = mass
        self.masses = _as_masses(mass, self.radii)  # (N,)
        self.substeps = check_int(substeps, "substeps")
        self.edge = check_positive(edge, "edge", allow_zero=True)
        self._radius_arg = radius
        # After collisions a ball can be faster than it started, at most sqrt(sum m / m_i) v_max
        # (all kinetic energy in it). A sub-step must move it less than the smallest radius,
        # or two balls could pass through each other between two checks.
        v_bound = self.speed[1] * math.sqrt(self.masses.sum() / self.masses.min())
        if v_bound / self.substeps > self.radii.min():
            need = math.ceil(v_bound / self.radii.min())
            raise ValueError(
                f"speed {self.speed[1]:g} px/frame with substeps={self.substeps} can move a ball "
                f"{v_bound / self.substeps:.2f} px per sub-step, more than the smallest radius "
                f"{self.radii.min():g}: balls could tunnel through each other; use substeps >= {need} or a lower speed"
            )
        # Fail now, not in the middle of a data set, when the balls cannot be placed without overlap.
        self._draw_initial(64, np.random.default_rng(0))

    def config(self) -> dict[str, Any]:
        return {
            "num_balls": self.num_balls,
            "size": self.size,
            "radius": self._radius_arg,
            "speed": self.speed if self.speed[0] != self.speed[1] else self.speed[0],
            "mass": self.mass,
            "substeps": self.substeps,
            "edge": self.edge,
        }

    def _draw_initial(self, m: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Non-overlapping positions (placed ball by ball, by rejection) and random velocities, ``(m, N, 2)`` each."""
        N, r, S = self.num_balls, self.radii, self.size
        pos = np.empty((m, N, 2))
        for k in range(N):
            todo = np.arange(m)  # clips still without a place for ball k
            for _ in range(_ROUNDS):
                cand = r[k] + (S - 2 * r[k]) * rng.random((len(todo), _CANDIDATES, 2))  # (t, K, 2)
                # a candidate is free when |c - p_j| >= r_k + r_j for every ball j already placed
                d2 = ((cand[:, :, None, :] - pos[todo, None, :k, :]) ** 2).sum(-1)  # (t, K, k)
                free = (d2 >= (r[k] + r[:k]) ** 2).all(-1)  # (t, K)
                found = free.any(1)
                first = free.argmax(1)
                pos[todo[found], k] = cand[found, first[found]]
                todo = todo[~found]
                if len(todo) == 0:
                    break
            else:
                raise ValueError(
                    f"could not place {N} balls of radii {r.tolist()} without overlap in a {S}x{S} frame "
                    f"(no free spot for ball {k} after {_ROUNDS * _CANDIDATES} tries); "
                    f"use fewer or smaller balls or a larger size"
                )
        angle = rng.uniform(0.0, 2 * math.pi, (m, N))
        speed = rng.uniform(self.speed[0], self.speed[1], (m, N))
        # v = |v| (cos a, sin a)
        vel = speed[..., None] * np.stack([np.cos(angle), np.sin(angle)], axis=-1)  # (m, N, 2)
        return {"positions": pos, "velocities": vel}

    def initial_conditions(self, n: int, seed: Seed = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """Initial positions and velocities of ``n`` clips, ``(n, N, 2)`` each (float64, pixels and pixels/frame)."""
        n = check_int(n, "n")
        init = draw_in_chunks(n, seed, self._draw_initial)
        return torch.from_numpy(init["positions"]), torch.from_numpy(init["velocities"])

    def simulate(self, positions: Any, velocities: Any, T: int) -> torch.Tensor:
        """States ``(..., T, N, 4)`` from initial positions and velocities ``(..., N, 2)`` (:func:`simulate_balls`)."""
        return simulate_balls(
            positions, velocities, T, size=self.size, radii=self.radii, masses=self.masses, substeps=self.substeps
        )

    def render(self, states: Any) -> torch.Tensor:
        """Frames ``(..., 1, H, W)`` from positions ``(..., N, 2)`` or states ``(..., N, 4)`` (:func:`render_balls`)."""
        return render_balls(states, size=self.size, radii=self.radii, edge=self.edge)

    def kinetic_energy(self, states: torch.Tensor) -> torch.Tensor:
        """Total kinetic energy sum_i m_i |v_i|^2 / 2 of states ``(..., N, 4)`` -> ``(...)``."""
        m = torch.as_tensor(self.masses, dtype=states.dtype)
        return 0.5 * (m * (states[..., 2] ** 2 + states[..., 3] ** 2)).sum(-1)

    def momentum(self, states: torch.Tensor) -> torch.Tensor:
        """Total momentum sum_i m_i v_i of states ``(..., N, 4)`` -> ``(..., 2)``."""
        m = torch.as_tensor(self.masses, dtype=states.dtype)
        return (m[:, None] * states[..., 2:]).sum(-2)

    def _generate(self, n: int, T: int, seed: Seed, dtype: torch.dtype) -> tuple[torch.Tensor, Info]:
        """``n`` clips ``(n, T, 1, H, W)`` and ``{"states": (n, T, N, 4)}``; vectorized over clips."""
        p0, v0 = self.initial_conditions(n, seed)
        states = self.simulate(p0, v0, T)  # (n, T, N, 4)
        return self._render_clips(states, dtype), {"states": states}

    def _render_clips(self, states: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """Clips ``(n, T, 1, H, W)`` stored as ``dtype`` from states ``(n, T, N, 4)``, rendered a few clips at a time."""
        n, T = states.shape[:2]
        video = torch.empty((n, T, 1, self.size, self.size), dtype=dtype)
        step = max(1, _RENDER_FRAMES // T)
        for start in range(0, n, step):
            store(video[start : start + step], self.render(states[start : start + step]))
        return video

    def sample(self, T: int = 20, seed: Seed = 0, return_states: bool = False) -> Any:
        """One clip ``(T, 1, H, W)``; with ``return_states`` also its states ``(T, N, 4)``."""
        return self._sample(T, seed, return_states)

    def sample_batch(self, n: int, T: int = 20, seed: Seed = 0, return_states: bool = False) -> Any:
        """``n`` clips ``(n, T, 1, H, W)``; with ``return_states`` also states ``(n, T, N, 4)``."""
        return self._sample_batch(n, T, seed, return_states)
