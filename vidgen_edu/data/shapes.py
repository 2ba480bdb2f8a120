"""Moving shapes: coloured squares, circles, triangles and crosses gliding in straight lines, with captions.

Each clip comes with a sentence that describes it, e.g.
``"a red square moves left; a blue circle moves down"``, which makes this the
data set of the text-to-video chapters. To keep every caption true for the
whole clip, a shape never bounces: its speed and start are drawn so that it
stays inside the frame for all ``T`` frames (a longer clip means slower
shapes). Shapes are drawn as anti-aliased signed-distance shapes in RGB and
painted in order (later shapes in front) on a black background.

Directions follow image conventions: ``x`` grows to the right, ``y`` grows
downwards, so ``"up"`` means towards row 0. Chapter 02 introduces the data.
:func:`parse_caption` reads a caption back and
:meth:`MovingShapes.clips_for_captions` draws real clips for given captions,
the tools of chapter 06 for scoring caption-conditioned generators.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .base import (
    Info,
    Seed,
    VideoSource,
    as_tensor,
    check_choice,
    check_int,
    check_positive,
    check_range,
    draw_in_chunks,
    store,
)

#: Shape names, in the order of the integer codes in ``info["shapes"]``.
SHAPES: tuple[str, ...] = ("square", "circle", "triangle", "cross")

#: Named colours (RGB in [0, 1]), in the order of the integer codes in ``info["colors"]``.
COLORS: dict[str, tuple[float, float, float]] = {
    "red": (1.0, 0.0, 0.0),
    "green": (0.0, 1.0, 0.0),
    "blue": (0.0, 0.0, 1.0),
    "yellow": (1.0, 1.0, 0.0),
    "cyan": (0.0, 1.0, 1.0),
    "magenta": (1.0, 0.0, 1.0),
    "white": (1.0, 1.0, 1.0),
}

_S = math.sqrt(0.5)
#: Unit direction vectors (x right, y down), in the order of the codes in ``info["directions"]``.
DIRECTIONS: dict[str, tuple[float, float]] = {
    "left": (-1.0, 0.0),
    "right": (1.0, 0.0),
    "up": (0.0, -1.0),
    "down": (0.0, 1.0),
    "up-left": (-_S, -_S),
    "up-right": (_S, -_S),
    "down-left": (-_S, _S),
    "down-right": (_S, _S),
}

_SHAPE_NAMES = SHAPES
_COLOR_NAMES = tuple(COLORS)
_DIRECTION_NAMES = tuple(DIRECTIONS)
_RENDER_FRAMES = 512


def shape_sdf(shape: str, dx: torch.Tensor, dy: torch.Tensor, half: float) -> torch.Tensor:
    """Signed distance (pixels; < 0 inside) to a shape of half-size ``half`` centred at the origin.

    ``dx`` and ``dy`` are pixel offsets from the centre (any broadcastable shapes).
    The triangle points up; the cross has arms a third of its size thick.
    """
    if shape == "square":
        # d = max(|dx|, |dy|) - h
        return torch.maximum(dx.abs(), dy.abs()) - half
    if shape == "circle":
        # d = sqrt(dx^2 + dy^2) - h
        return (dx * dx + dy * dy).sqrt() - half
    if shape == "triangle":
        # apex (0, -h), base corners (+-h, h): inside the base line dy <= h and the two
        # slanted sides 2|dx| - dy - h <= 0 (a normal of length sqrt(5))
        return torch.maximum(dy - half, (2 * dx.abs() - dy - half) / math.sqrt(5.0))
    if shape == "cross":
        # union (min) of a horizontal and a vertical bar, each 2h long and 2h/3 thick
        a = half / 3
        ax, ay = dx.abs(), dy.abs()
        return torch.minimum(torch.maximum(ax - half, ay - a), torch.maximum(ax - a, ay - half))
    raise ValueError(f"unknown shape {shape!r}; valid: {', '.join(map(repr, SHAPES))}")


def _names(value: Sequence[str] | None, what: str, valid: Sequence[str], default: Sequence[str]) -> tuple[str, ...]:
    if value is None:
        return tuple(default)
    if isinstance(value, str):
        value = (value,)
    names = tuple(value)
    if not names:
        raise ValueError(f"{what} must name at least one of {', '.join(map(repr, valid))}")
    for v in names:
        check_choice(v, what.rstrip("s"), tuple(valid))
    if len(set(names)) != len(names):
        raise ValueError(f"{what} has repeated names: {names}")
    return names


def caption(shapes: Sequence[str], colors: Sequence[str], directions: Sequence[str]) -> str:
    """``"a red square moves left; a blue circle moves down"`` from parallel lists of names."""
    return "; ".join(f"a {c} {s} moves {d}" for s, c, d in zip(shapes, colors, directions))


def parse_caption(text: str) -> list[tuple[str, str, str]]:
    """The objects of a caption in the grammar of :func:`caption`, as ``(shape, color, direction)`` triples.

    ``"a red square moves left; a blue circle moves down"`` gives
    ``[("square", "red", "left"), ("circle", "blue", "down")]``. Objects are separated
    by ``;`` and each reads ``a <color> <shape> moves <direction>`` with names from
    :data:`COLORS`, :data:`SHAPES` and :data:`DIRECTIONS`; extra spaces are ignored.
    Anything else raises ``ValueError`` naming the part that does not parse.
    Chapter 06 uses it to score caption-conditioned generators.
    """
    if not isinstance(text, str):
        raise ValueError(f"a caption must be a str, got {type(text).__name__}")
    objects = []
    for part in text.split(";"):
        words = part.split()
        if not words:
            raise ValueError(f"caption {text!r} has an empty object (nothing between two ';' or at an end)")
        if len(words) != 5 or words[0] != "a" or words[3] != "moves":
            raise ValueError(
                f"{part.strip()!r} in caption {text!r} is not of the form 'a <color> <shape> moves <direction>'"
            )
        _, color, shape, _, direction = words
        for word, what, valid in (
            (color, "colour", _COLOR_NAMES), (shape, "shape", _SHAPE_NAMES), (direction, "direction", _DIRECTION_NAMES)
        ):
            if word not in valid:
                raise ValueError(f"unknown {what} {word!r} in caption {text!r}; valid: {', '.join(valid)}")
        objects.append((shape, color, direction))
    return objects


class MovingShapes(VideoSource):
    """Coloured shapes moving in straight lines, RGB clips ``(T, 3, size, size)`` with a caption each.

    Args:
        num_shapes: shapes per clip (each of a different colour).
        size: frame height = width in pixels.
        shape_size: side of a shape's bounding box in pixels.
        speed: pixels per frame, a number or a range ``(low, high)``; lowered
            per clip when needed so the shape stays inside for all ``T`` frames.
        shapes, colors, directions: the names to draw from (default: all
            shapes, ``red green blue yellow``, and ``left right up down``);
            see :data:`SHAPES`, :data:`COLORS`, :data:`DIRECTIONS`.
        edge: width of the anti-aliased rim in pixels (0: hard edge).

    ``sample(T, seed, return_caption=True)`` also returns the caption;
    ``generate`` also gives the codes ``shapes``, ``colors``, ``directions``
    ``(n, K)`` (indices into the module's name lists) and the centres
    ``positions`` ``(n, T, K, 2)``.
    """

    name = "shapes"
    channels = 3
    info_key = "captions"

    def __init__(
        self,
        num_shapes: int = 2,
        size: int = 32,
        shape_size: int = 10,
        speed: float | tuple[float, float] = (0.5, 1.0),
        shapes: Sequence[str] | None = None,
        colors: Sequence[str] | None = None,
        directions: Sequence[str] | None = None,
        edge: float = 1.0,
    ) -> None:
        self.num_shapes = check_int(num_shapes, "num_shapes")
        self.size = check_int(size, "size")
        self.shape_size = check_int(shape_size, "shape_size")
        if self.shape_size >= self.size:
            raise ValueError(
                f"shape_size = {self.shape_size} leaves no room to move in a {self.size}x{self.size} frame; "
                f"use shape_size < size"
            )
        self.speed = check_range(speed, "speed")
        self.shapes = _names(shapes, "shapes", SHAPES, SHAPES)
        self.colors = _names(colors, "colors", _COLOR_NAMES, ("red", "green", "blue", "yellow"))
        self.directions = _names(directions, "directions", _DIRECTION_NAMES, ("left", "right", "up", "down"))
        if self.num_shapes > len(self.colors):
            raise ValueError(
                f"num_shapes = {self.num_shapes} but only {len(self.colors)} colours {self.colors}: "
                f"every shape of a clip gets its own colour, so give more colours or fewer shapes"
            )
        self.edge = check_positive(edge, "edge", allow_zero=True)

    def config(self) -> dict[str, Any]:
        return {
            "num_shapes": self.num_shapes,
            "size": self.size,
            "shape_size": self.shape_size,
            "speed": self.speed if self.speed[0] != self.speed[1] else self.speed[0],
            "shapes": self.shapes,
            "colors": self.colors,
            "directions": self.directions,
            "edge": self.edge,
        }

    def _draw_initial(self, m: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Codes of shape, colour (distinct within a clip) and direction, plus uniforms for speed and start."""
        K = self.num_shapes
        shape_codes = np.array([SHAPES.index(s) for s in self.shapes])
        color_codes = np.array([_COLOR_NAMES.index(c) for c in self.colors])
        dir_codes = np.array([_DIRECTION_NAMES.index(d) for d in self.directions])
        # distinct colours per clip: the first K of a random permutation
        perm = np.argsort(rng.random((m, len(color_codes))), axis=1)[:, :K]
        return {
            "shapes": shape_codes[rng.integers(0, len(shape_codes), (m, K))],
            "colors": color_codes[perm],
            "directions": dir_codes[rng.integers(0, len(dir_codes), (m, K))],
            # speed and start as uniforms in [0, 1): mapped to pixels once T is known
            "u_speed": rng.random((m, K)),
            "u_start": rng.random((m, K, 2)),
        }

    def _trajectories(self, init: dict[str, np.ndarray], T: int) -> np.ndarray:
        """Centres ``(n, T, K, 2)`` of straight-line motions that stay inside the frame for ``T`` frames."""
        h = self.shape_size / 2
        room = self.size - self.shape_size  # the centre moves within [h, size - h]
        u = np.array(list(DIRECTIONS.values()))[init["directions"]]  # (n, K, 2) unit directions
        speed = self.speed[0] + (self.speed[1] - self.speed[0]) * init["u_speed"]  # (n, K)
        if T > 1:
            # the path |u_x| s (T - 1) must fit in the room along each axis
            speed = np.minimum(speed, room / ((T - 1) * np.abs(u).max(-1)))
        # total displacement D = s (T - 1) u; the start c0 is uniform where c0 and c0 + D are inside
        D = (speed * max(T - 1, 0))[..., None] * u  # (n, K, 2)
        low = h + np.maximum(0.0, -D)
        high = self.size - h - np.maximum(0.0, D)
        c0 = low + (high - low) * init["u_start"]  # (n, K, 2)
        t = np.arange(T, dtype=np.float64)
        # c_t = c_0 + t s u
        return c0[:, None] + t[None, :, None, None] * (speed[..., None] * u)[:, None]  # (n, T, K, 2)

    def render(self, positions: Any, shapes: Any, colors: Any) -> torch.Tensor:
        """Frames ``(n, T, 3, H, W)`` of shapes ``(n, K)`` (codes) with colours ``(n, K)`` at centres ``(n, T, K, 2)``.

        Shapes are painted in order k = 0, 1, ... : ``frame <- (1 - alpha) frame + alpha rgb``.
        """
        pos = as_tensor(positions, torch.float32)
        shapes = as_tensor(shapes, torch.long)
        colors = as_tensor(colors, torch.long)
        if (
            pos.ndim != 4 or pos.shape[-1] != 2
            or shapes.shape != (pos.shape[0], pos.shape[2]) or colors.shape != shapes.shape
        ):
            raise ValueError(
                "positions must be (n, T, K, 2) and shapes, colors (n, K); got "
                f"{tuple(pos.shape)}, {tuple(shapes.shape)}, {tuple(colors.shape)}"
            )
        if shapes.numel() and (shapes.min() < 0 or shapes.max() >= len(SHAPES)):
            raise ValueError(f"shape codes must be indices into SHAPES (0..{len(SHAPES) - 1})")
        if colors.numel() and (colors.min() < 0 or colors.max() >= len(COLORS)):
            raise ValueError(f"colour codes must be indices into COLORS (0..{len(COLORS) - 1})")
        n, T, K, _ = pos.shape
        S, h = self.size, self.shape_size / 2
        F_ = n * T  # frames
        rgb_table = torch.tensor(list(COLORS.values()))  # (num colours, 3)
        grid = torch.arange(S, dtype=torch.float32) + 0.5  # pixel centres
        video = torch.zeros(F_, 3, S, S)
        for k in range(K):
            c = pos[:, :, k].reshape(F_, 2)  # (F, 2) centres of the k-th shapes
            dx = grid - c[:, 0:1]  # (F, W) offsets of pixel centres from the shape centre
            dy = grid - c[:, 1:2]  # (F, H)
            code = shapes[:, k].repeat_interleave(T)  # (F,)
            alpha = torch.empty(F_, S, S)
            for sc in code.unique().tolist():
                idx = (code == sc).nonzero()[:, 0]  # frames whose k-th shape has this code
                sdf = shape_sdf(SHAPES[sc], dx[idx][:, None, :], dy[idx][:, :, None], h)  # (m, H, W)
                if self.edge > 0:
                    # alpha = clip(1/2 - d / edge, 0, 1): a linear ramp across the rim, 1/2 on the outline
                    alpha[idx] = (0.5 - sdf / self.edge).clamp_(0.0, 1.0)
                else:
                    alpha[idx] = (sdf <= 0).float()
            rgb = rgb_table[colors[:, k]].repeat_interleave(T, dim=0)[:, :, None, None]  # (F, 3, 1, 1)
            # painter's algorithm: frame <- (1 - alpha) frame + alpha rgb
            video = torch.lerp(video, rgb.expand_as(video), alpha[:, None])
        return video.reshape(n, T, 3, S, S)

    def _generate(self, n: int, T: int, seed: Seed, dtype: torch.dtype) -> tuple[torch.Tensor, Info]:
        """``n`` clips ``(n, T, 3, H, W)``, their ``captions`` and codes / centres (see the class docstring)."""
        init = draw_in_chunks(n, seed, self._draw_initial)
        positions = torch.from_numpy(self._trajectories(init, T).astype(np.float32))  # (n, T, K, 2)
        shapes, colors, directions = (torch.from_numpy(init[k]) for k in ("shapes", "colors", "directions"))
        video = torch.empty((n, T, 3, self.size, self.size), dtype=dtype)
        step = max(1, _RENDER_FRAMES // T)
        for start in range(0, n, step):
            s = slice(start, start + step)
            store(video[s], self.render(positions[s], shapes[s], colors[s]))
        captions = [
            caption(
                [SHAPES[c] for c in shapes[i].tolist()],
                [_COLOR_NAMES[c] for c in colors[i].tolist()],
                [_DIRECTION_NAMES[c] for c in directions[i].tolist()],
            )
            for i in range(n)
        ]
        info = {
            "captions": captions,
            "shapes": shapes,
            "colors": colors,
            "directions": directions,
            "positions": positions,
        }
        return video, info

    def clips_for_captions(
        self, captions: Sequence[str], T: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Real clips ``(n, T, 3, H, W)``, one per caption, that the caption describes truly.

        The caption fixes each object's shape, colour and direction (painted in caption
        order, the first at the back); its speed and start are drawn from ``generator``
        (default: a generator seeded 0; the global random state is never used) and
        follow the rule of the data set (:meth:`_trajectories`: straight lines that stay
        inside the frame). Captions may have different numbers of objects. These are
        the ceiling of caption-conditioned generation (chapter 06).
        """
        T = check_int(T, "T")
        if isinstance(captions, str) or len(captions) == 0:
            raise ValueError(f"captions must be a non-empty list of str, got {captions!r}")
        parsed = [parse_caption(c) for c in captions]
        gen = generator if generator is not None else torch.Generator().manual_seed(0)
        # uniforms (K, 3) for speed and start, drawn caption by caption: clip i does not depend on the grouping
        uniforms = [torch.rand(len(objs), 3, generator=gen, dtype=torch.float64).numpy() for objs in parsed]
        video = torch.empty((len(parsed), T, 3, self.size, self.size))
        step = max(1, _RENDER_FRAMES // T)
        for K in sorted({len(objs) for objs in parsed}):  # one batch per number of objects
            idx = [i for i, objs in enumerate(parsed) if len(objs) == K]
            u = np.stack([uniforms[i] for i in idx])  # (m, K, 3)
            init = {
                "shapes": np.array([[_SHAPE_NAMES.index(s) for s, _, _ in parsed[i]] for i in idx]),  # (m, K)
                "colors": np.array([[_COLOR_NAMES.index(c) for _, c, _ in parsed[i]] for i in idx]),
                "directions": np.array([[_DIRECTION_NAMES.index(d) for _, _, d in parsed[i]] for i in idx]),
                "u_speed": u[..., 0],  # (m, K)
                "u_start": u[..., 1:],  # (m, K, 2)
            }
            positions = torch.from_numpy(self._trajectories(init, T).astype(np.float32))  # (m, T, K, 2)
            for start in range(0, len(idx), step):
                s = slice(start, start + step)
                video[idx[s]] = self.render(positions[s], init["shapes"][s], init["colors"][s])
        return video

    def sample(self, T: int = 20, seed: Seed = 0, return_caption: bool = False) -> Any:
        """One clip ``(T, 3, H, W)``; with ``return_caption`` also its caption (a str)."""
        return self._sample(T, seed, return_caption)

    def sample_batch(self, n: int, T: int = 20, seed: Seed = 0, return_captions: bool = False) -> Any:
        """``n`` clips ``(n, T, 3, H, W)``; with ``return_captions`` also a list of ``n`` captions."""
        return self._sample_batch(n, T, seed, return_captions)
