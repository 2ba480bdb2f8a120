"""Stochastic bouncing balls: the walls throw a ball back in a random direction.

The data of chapter 07 (stochastic video prediction), the balls version of
the "Stochastic Moving MNIST" protocol (Denton & Fergus, 2018). Between two
wall hits everything is as in :class:`~vidgen_edu.data.balls.BouncingBalls`:
straight lines and elastic ball-ball collisions. At each wall hit the ball
leaves with a new random velocity:

* its direction makes an angle ``theta ~ Uniform(-max_angle, +max_angle)``
  with the wall's inward normal (at a corner, where both coordinates cross a
  wall in the same sub-step, the normal is the inward diagonal);
* its speed is ``s ~ Uniform(speed)``;
* its position is mirrored back inside, as for an elastic wall.

So the future of a clip is predictable until the next wall hit and uncertain
after it: a model that predicts one blurry mean future is visibly wrong, a
model that samples futures can be right. The state ``(x, y, vx, vy)`` of
the balls at a frame is Markov, so :meth:`StochasticBalls.futures` can draw
the true conditional distribution of the future given that state, which the
chapter compares with a model's samples.

All randomness is drawn up front (see :mod:`vidgen_edu.data.base`): with
the initial conditions, each clip draws a table of :attr:`StochasticBalls.table_size`
bounce outcomes per ball; the k-th wall hit of a ball uses entry
``k mod table_size`` of its table. After that the simulation is a
deterministic function of the initial state and the tables.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .balls import BouncingBalls, _dot, _float64_copy, simulate_balls
from .base import Info, Seed, as_seed_sequence, check_int, check_positive, draw_in_chunks

#: Spawn key of the random stream of :meth:`StochasticBalls.futures` under its seed, far from the
#: chunk indices 0, 1, ... that clips use, so futures never reuse the random numbers of clips.
_FUTURES_STREAM = 2**31 - 1


class StochasticBalls(BouncingBalls):
    """Bouncing balls whose walls send a ball off in a random direction at a random speed.

    Args:
        num_balls, size, radius, mass, substeps, edge: as in :class:`BouncingBalls`.
        speed: range ``(low, high)`` (or one number) of the initial speeds and of the
            speed a ball leaves a wall with, pixels per frame (``low > 0``).
        max_angle: the largest angle, in degrees, between the direction a ball leaves a
            wall in and the wall's inward normal; the angle is uniform in
            ``(-max_angle, max_angle)``, ``0 < max_angle < 90``.

    ``generate`` returns the clips and ``{"states": (n, T, N, 4), "wall_hits": (n, T, N)}``,
    ``wall_hits[j, t, i]`` telling whether ball ``i`` of clip ``j`` hit a wall between
    frames ``t - 1`` and ``t`` (frame 0: False). Up to its first wall hit a clip equals
    the :class:`BouncingBalls` clip of the same seed and arguments. The inherited
    ``simulate`` is the elastic (deterministic) simulator; :meth:`simulate_bounces`
    is the stochastic one, given the bounce tables. Chapter 07 trains stochastic
    predictors on these clips and scores their samples against :meth:`futures`.
    """

    name = "balls-stochastic"
    #: Bounce outcomes drawn per ball; a ball's k-th wall hit uses entry k mod table_size. A ball
    #: at 2 px/frame in the default 32-px frame hits a wall about once every 6 frames at most, so
    #: the table repeats only in clips of well over 100 frames. It does not depend on T, so a
    #: shorter clip of a seed is the start of a longer one.
    table_size: int = 32

    def __init__(
        self,
        num_balls: int = 2,
        size: int = 32,
        radius: float | Sequence[float] = 3.0,
        speed: float | tuple[float, float] = (1.0, 2.0),
        mass: str | Sequence[float] = "area",
        substeps: int = 8,
        edge: float = 1.0,
        max_angle: float = 75.0,
    ) -> None:
        super().__init__(num_balls, size, radius, speed, mass, substeps, edge)
        if self.speed[0] <= 0:
            raise ValueError(f"speed must be > 0 (got {speed!r}): a ball that leaves a wall at speed 0 stays there")
        self.max_angle = check_positive(max_angle, "max_angle")
        if self.max_angle >= 90:
            raise ValueError(
                f"max_angle must be in (0, 90) degrees, got {max_angle!r}: at 90 degrees a ball could leave "
                f"a wall parallel to it"
            )

    def config(self) -> dict[str, Any]:
        return {**super().config(), "max_angle": self.max_angle}

    def _draw_bounces(self, shape: tuple[int, ...], rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Bounce tables ``bounce_angle`` (radians) and ``bounce_speed``, each ``(*shape, N, table_size)``."""
        u = rng.random((*shape, 2, self.num_balls, self.table_size))  # (*shape, 2, N, M) uniform in [0, 1)
        a = math.radians(self.max_angle)
        lo, hi = self.speed
        # theta ~ U(-a, a),  s ~ U(lo, hi)
        return {"bounce_angle": a * (2 * u[..., 0, :, :] - 1), "bounce_speed": lo + (hi - lo) * u[..., 1, :, :]}

    def _draw_clips(self, m: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Initial conditions (as :class:`BouncingBalls`, from the same stream) then bounce tables of ``m`` clips."""
        return {**self._draw_initial(m, rng), **self._draw_bounces((m,), rng)}

    def simulate_bounces(
        self, positions: Any, velocities: Any, T: int, bounce_angle: Any, bounce_speed: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """States ``(n, T, N, 4)`` and wall hits ``(n, T, N)`` from initial ``(n, N, 2)`` and tables ``(n, N, M)``.

        The deterministic core of this source: :func:`simulate_balls` with a
        ``wall`` hook that gives the k-th wall hit of ball ``i`` in clip ``j``
        the velocity ``bounce_speed[j, i, k mod M]`` at the angle
        ``bounce_angle[j, i, k mod M]`` (radians) from the inward normal.
        """
        T = check_int(T, "T")
        p = _float64_copy(positions)  # (n, N, 2)
        angle, speed = _float64_copy(bounce_angle), _float64_copy(bounce_speed)  # (n, N, M) each
        if p.ndim != 3:
            raise ValueError(f"positions must have shape (n, N, 2), got {p.shape}")
        n, N = p.shape[:2]
        if angle.ndim != 3 or angle.shape[:2] != (n, N) or angle.shape[2] < 1 or speed.shape != angle.shape:
            raise ValueError(
                f"bounce_angle and bounce_speed must both have shape (n, N, M) = ({n}, {N}, M) with M >= 1; "
                f"got {angle.shape} and {speed.shape}"
            )
        M = angle.shape[2]
        count = np.zeros((n, N), dtype=np.int64)  # wall hits of each ball so far
        hits = np.zeros((n, T, N), dtype=bool)

        def random_wall(t: int, v: np.ndarray, normal: np.ndarray) -> None:
            """Overwrite the velocity of every ball that just hit a wall with its next table entry."""
            c, b = np.nonzero(normal.any(-1))  # clip and ball index of each hit in this sub-step
            if len(c) == 0:
                return
            k = count[c, b] % M  # (h,) table entry of each hit, wrapping around after M hits
            nrm = normal[c, b].astype(np.float64)  # (h, 2)
            nrm /= np.sqrt(_dot(nrm, nrm))[:, None]  # unit inward normal (the diagonal at a corner)
            cos, sin = np.cos(angle[c, b, k]), np.sin(angle[c, b, k])  # (h,)
            # v' = s R(theta) n = s (cos(theta) n_x - sin(theta) n_y, sin(theta) n_x + cos(theta) n_y)
            v[c, b, 0] = speed[c, b, k] * (cos * nrm[:, 0] - sin * nrm[:, 1])
            v[c, b, 1] = speed[c, b, k] * (sin * nrm[:, 0] + cos * nrm[:, 1])
            count[c, b] += 1
            hits[c, t, b] = True

        states = simulate_balls(
            p,
            velocities,
            T,
            size=self.size,
            radii=self.radii,
            masses=self.masses,
            substeps=self.substeps,
            wall=random_wall,
        )
        return states, torch.from_numpy(hits)

    def _generate(self, n: int, T: int, seed: Seed, dtype: torch.dtype) -> tuple[torch.Tensor, Info]:
        """``n`` clips ``(n, T, 1, H, W)`` and ``{"states": (n, T, N, 4), "wall_hits": (n, T, N)}``."""
        draws = draw_in_chunks(n, seed, self._draw_clips)
        states, hits = self.simulate_bounces(
            draws["positions"], draws["velocities"], T, draws["bounce_angle"], draws["bounce_speed"]
        )
        return self._render_clips(states, dtype), {"states": states, "wall_hits": hits}

    def futures(self, states: Any, K: int, horizon: int, seed: Seed = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """``K`` independent true futures of each state: states ``(n, K, horizon, N, 4)``, hits ``(n, K, horizon, N)``.

        ``states (n, N, 4)`` is the state at some frame ``c`` (e.g. ``ds.states[:, c]``
        at the last context frame); future frame ``h`` is frame ``c + 1 + h``. Each
        future has fresh bounce tables, drawn up front from ``seed`` (reproducible;
        future ``(j, k)`` does not depend on ``n``, ``K`` or ``horizon``). Because the
        state is Markov, every future equals the clip's own continuation (up to the
        float32 rounding of stored states) until the first wall hit after frame ``c``,
        and the ``K`` futures differ only from there on. Chapter 07 compares a
        model's samples with these futures.
        """
        K, horizon = check_int(K, "K"), check_int(horizon, "horizon")
        s = _float64_copy(states)
        if s.ndim != 3 or s.shape[1:] != (self.num_balls, 4):
            raise ValueError(
                f"states must have shape (n, N, 4) = (n, {self.num_balls}, 4): (x, y, vx, vy) of every ball "
                f"at one frame; got {s.shape} (for a single state use states[None])"
            )
        n, N = s.shape[:2]
        lo = self.radii[:, None]  # (N, 1)
        hi = self.size - lo
        p, v = s[..., :2], s[..., 2:]  # (n, N, 2) each
        if (p < lo - 1e-4).any() or (p > hi + 1e-4).any():
            raise ValueError(f"every ball must be inside the frame: r <= x, y <= size - r (size = {self.size})")
        p = np.clip(p, lo, hi)  # undo the float32 rounding of stored states at the walls
        root = as_seed_sequence(seed)
        stream = np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, _FUTURES_STREAM))

        def draw(m: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
            # drawn (K, m, ...) so that future k is the same for any K; then rows first for draw_in_chunks
            return {key: np.moveaxis(a, 0, 1) for key, a in self._draw_bounces((K, m), rng).items()}

        tables = draw_in_chunks(n, stream, draw)  # (n, K, N, M) each
        # every state repeated K times: (n, N, 2) -> (n * K, N, 2)
        p_rep, v_rep = (np.repeat(x, K, axis=0) for x in (p, v))
        out, hits = self.simulate_bounces(
            p_rep,
            v_rep,
            horizon + 1,  # frame 0 is the given state
            tables["bounce_angle"].reshape(n * K, N, -1),
            tables["bounce_speed"].reshape(n * K, N, -1),
        )
        return out.reshape(n, K, horizon + 1, N, 4)[:, :, 1:], hits.reshape(n, K, horizon + 1, N)[:, :, 1:]

    def future_clips(self, states: Any, K: int, horizon: int, seed: Seed = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`futures` rendered: clips ``(n, K, horizon, 1, H, W)`` float32 and wall hits ``(n, K, horizon, N)``."""
        future_states, hits = self.futures(states, K, horizon, seed)
        return self.render(future_states), hits
