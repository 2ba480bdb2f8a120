"""Moving digits: the Moving-MNIST protocol with scikit-learn's bundled 8x8 digits.

Srivastava, Mansimov & Salakhutdinov (2015) made video by letting MNIST
digits glide at constant speed inside a box, bounce off its edges and overlap
by a pixelwise max. MNIST would need a download, so here the digits are the
1,797 handwritten 8x8 digits that ship with scikit-learn
(``sklearn.datasets.load_digits``), upscaled bilinearly to ``digit_size``
pixels. Positions are continuous; a digit at a fractional position is drawn
by bilinear interpolation, so the motion is smooth rather than jumping by
whole pixels.

The images are split by index into disjoint writings: ``train`` = images
0-1436, ``val`` = 1437-1616, ``test`` = 1617-1796 (80/10/10, every class
present in each), so held-out clips show digits no model has seen.
Chapter 02 introduces the data; later chapters predict and generate it.
"""

from __future__ import annotations

import functools
import importlib.util
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .base import (
    Info,
    Seed,
    VideoSource,
    as_numpy,
    as_tensor,
    check_choice,
    check_int,
    check_range,
    draw_in_chunks,
    store,
)

#: Index ranges [start, stop) of the digit images used by each split.
DIGIT_SPLITS: dict[str, tuple[int, int]] = {
    "train": (0, 1437),
    "val": (1437, 1617),
    "test": (1617, 1797),
    "all": (0, 1797),
}

# Frames pasted at once (keeps temporaries small).
_RENDER_FRAMES = 1024


def _read_bundled_csv() -> np.ndarray | None:
    """The rows of scikit-learn's ``digits.csv.gz`` (64 pixels + label), read without importing scikit-learn.

    Importing ``sklearn.datasets`` costs about a second; this reads the same file
    ``load_digits`` reads. Returns ``None`` if the file is not where it used to be.
    """
    spec = importlib.util.find_spec("sklearn")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz"
    if not path.is_file():
        return None
    rows = np.loadtxt(path, delimiter=",")
    return rows if rows.shape == (1797, 65) else None


@functools.lru_cache(maxsize=1)
def _load_digits() -> tuple[torch.Tensor, torch.Tensor]:
    rows = _read_bundled_csv()
    if rows is not None:
        images_np, labels_np = rows[:, :64].reshape(-1, 8, 8), rows[:, 64]
    else:
        from sklearn.datasets import load_digits  # bundled with scikit-learn: nothing is downloaded

        data = load_digits()
        images_np, labels_np = data.images, data.target
    # pixel values are counts 0..16 (of a 4x4 block of a 32x32 bitmap): / 16 maps them to [0, 1]
    images = torch.from_numpy(images_np.astype(np.float32) / 16.0)  # (1797, 8, 8)
    labels = torch.from_numpy(labels_np.astype(np.int64))  # (1797,)
    return images, labels


def digits_8x8(split: str = "all") -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's handwritten digits: images ``(N, 8, 8)`` float32 in [0, 1] and labels ``(N,)`` int64.

    ``split`` is ``"all"`` (N = 1797) or ``"train"``/``"val"``/``"test"``
    (the disjoint index ranges of :data:`DIGIT_SPLITS`). Returns copies.
    """
    check_choice(split, "split", tuple(DIGIT_SPLITS))
    start, stop = DIGIT_SPLITS[split]
    images, labels = _load_digits()
    return images[start:stop].clone(), labels[start:stop].clone()


def upscale_digits(images: torch.Tensor, digit_size: int) -> torch.Tensor:
    """Bilinear upscaling of digit images ``(N, h, w)`` to ``(N, digit_size, digit_size)``, max of each = 1."""
    if images.ndim != 3:
        raise ValueError(f"images must have shape (N, h, w), got {tuple(images.shape)}")
    digit_size = check_int(digit_size, "digit_size")
    big = F.interpolate(images[:, None].float(), size=(digit_size, digit_size), mode="bilinear", align_corners=False)
    big = big[:, 0].clamp(0.0, 1.0)
    # normalise each digit to [0, 1] with its brightest pixel at 1, as MNIST digits are
    return big / big.amax(dim=(1, 2), keepdim=True).clamp_min(1e-6)


@functools.lru_cache(maxsize=4)
def _upscaled(digit_size: int) -> torch.Tensor:
    """All 1797 digits upscaled to ``(1797, digit_size, digit_size)`` (cached; never modified)."""
    return upscale_digits(_load_digits()[0], digit_size)


def bounce_in_box(positions: np.ndarray, velocities: np.ndarray, T: int, high: float) -> np.ndarray:
    """Constant-velocity motion inside ``[0, high]^2``, reflecting off the edges; ``(..., 2)`` -> ``(..., T, 2)``.

    Each frame ``p <- p + v``; a coordinate that leaves ``[0, high]`` is mirrored
    back inside and its velocity component changes sign (Moving MNIST's rule).
    """
    p = np.array(positions, dtype=np.float64)
    v = np.array(velocities, dtype=np.float64)
    out = np.empty((T, *p.shape))
    for t in range(T):
        if t > 0:
            p += v
            below, above = p < 0, p > high
            # mirror: p -> -p at 0 and p -> 2 high - p at high; the velocity component flips
            p = np.where(below, -p, np.where(above, 2 * high - p, p))
            v = np.where(below | above, -v, v)
            p = np.clip(p, 0.0, high)
        out[t] = p
    return np.moveaxis(out, 0, -2)  # (..., T, 2)


class MovingDigits(VideoSource):
    """Moving-MNIST-style clips ``(T, 1, size, size)`` made of scikit-learn's 8x8 digits.

    Args:
        num_digits: digits per clip (combined by a pixelwise max).
        size: frame height = width in pixels.
        digit_size: side of an upscaled digit in pixels (<= size).
        speed: pixels per frame, a number or a range ``(low, high)`` drawn
            per digit; directions are uniform on the circle.
        split: which digit writings to use, ``"train"``, ``"val"``, ``"test"`` or
            ``"all"`` (see :data:`DIGIT_SPLITS`); ``VideoDataset`` sets it to its split.

    ``sample(T, seed, return_labels=True)`` also returns the digit classes
    ``(num_digits,)``; ``generate`` also gives ``image_index`` (into
    :func:`digits_8x8`'s ``"all"`` images) and ``positions`` ``(n, T, K, 2)``
    (top-left corner ``(x, y)`` of each digit, pixels).
    """

    name = "digits"
    channels = 1
    info_key = "labels"

    def __init__(
        self,
        num_digits: int = 2,
        size: int = 32,
        digit_size: int = 16,
        speed: float | tuple[float, float] = 1.5,
        split: str = "train",
    ) -> None:
        self.num_digits = check_int(num_digits, "num_digits")
        self.size = check_int(size, "size")
        self.digit_size = check_int(digit_size, "digit_size")
        if self.digit_size > self.size:
            raise ValueError(
                f"digit_size = {self.digit_size} does not fit in a {self.size}x{self.size} frame; "
                f"use digit_size <= size"
            )
        self.speed = check_range(speed, "speed", allow_zero=True)
        self.split = check_choice(split, "split", tuple(DIGIT_SPLITS))
        self.image_range = DIGIT_SPLITS[self.split]
        self._images = _upscaled(self.digit_size)  # (1797, d, d), shared and never modified
        _, self._labels = _load_digits()

    def config(self) -> dict[str, Any]:
        return {
            "num_digits": self.num_digits,
            "size": self.size,
            "digit_size": self.digit_size,
            "speed": self.speed if self.speed[0] != self.speed[1] else self.speed[0],
            "split": self.split,
        }

    def for_split(self, split: str) -> MovingDigits:
        """The same source drawing its digits from ``split``'s images."""
        return MovingDigits(**{**self.config(), "split": split})

    @property
    def images(self) -> torch.Tensor:
        """The upscaled digit images this source draws from, ``(N_split, digit_size, digit_size)``."""
        start, stop = self.image_range
        return self._images[start:stop].clone()

    def _draw_initial(self, m: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        K, room = self.num_digits, self.size - self.digit_size
        start, stop = self.image_range
        index = rng.integers(start, stop, (m, K))
        pos = rng.random((m, K, 2)) * room  # top-left corners, uniform in [0, room]^2
        angle = rng.uniform(0.0, 2 * math.pi, (m, K))
        speed = rng.uniform(self.speed[0], self.speed[1], (m, K))
        vel = speed[..., None] * np.stack([np.cos(angle), np.sin(angle)], axis=-1)  # (m, K, 2)
        return {"image_index": index, "positions": pos, "velocities": vel}

    def trajectories(self, positions: Any, velocities: Any, T: int) -> torch.Tensor:
        """Top-left corners ``(..., T, K, 2)`` from initial ``(..., K, 2)`` positions and velocities."""
        T = check_int(T, "T")
        traj = bounce_in_box(as_numpy(positions), as_numpy(velocities), T, self.size - self.digit_size)
        return torch.from_numpy(np.swapaxes(traj, -2, -3).astype(np.float32))  # (..., K, T, 2) -> (..., T, K, 2)

    def render(self, positions: Any, image_index: Any) -> torch.Tensor:
        """Frames ``(n, T, 1, H, W)`` with digit ``image_index[:, k]`` at top-left ``positions[:, :, k]``.

        ``positions`` is ``(n, T, K, 2)`` (pixels, inside ``[0, size - digit_size]``),
        ``image_index`` is ``(n, K)`` (indices into all 1797 digits). Digits
        combine by a pixelwise max.
        """
        pos = as_tensor(positions, torch.float32)
        index = as_tensor(image_index, torch.long)
        if pos.ndim != 4 or pos.shape[-1] != 2 or index.shape != (pos.shape[0], pos.shape[2]):
            raise ValueError(
                "positions must be (n, T, K, 2) and image_index (n, K); "
                f"got {tuple(pos.shape)} and {tuple(index.shape)}"
            )
        n, T, K, _ = pos.shape
        S, d = self.size, self.digit_size
        room = S - d
        if (pos < -1e-4).any() or (pos > room + 1e-4).any():
            raise ValueError(f"positions must lie in [0, size - digit_size] = [0, {room}]")
        pos = pos.clamp(0, room)
        frames = torch.zeros(n * T, S * S)  # (F, H * W)
        offsets = torch.arange(d + 1)
        clip_of_frame = torch.arange(n * T) // T
        for start in range(0, n * T, _RENDER_FRAMES):
            f = slice(start, start + _RENDER_FRAMES)
            out = frames[f]  # (f, H * W), a view
            for k in range(K):
                c = pos[:, :, k].reshape(n * T, 2)[f]  # (f, 2)
                ix, iy = c[:, 0].floor().long(), c[:, 1].floor().long()
                fx, fy = (c[:, 0] - ix)[:, None, None], (c[:, 1] - iy)[:, None, None]  # (f, 1, 1)
                P = F.pad(self._images[index[clip_of_frame[f], k]], (1, 1, 1, 1))  # (f, d + 2, d + 2), zero border
                # bilinear shift by (fx, fy): Q[a, b] = sum_ij P[a - i, b - j] w_i(fy) w_j(fx), w_0 = 1 - f, w_1 = f
                # (lerp(a, b, w) = (1 - w) a + w b)
                R = torch.lerp(P[:, :, 1:], P[:, :, :-1], fx)  # (f, d + 2, d + 1) shifted along x
                Q = torch.lerp(R[:, 1:, :], R[:, :-1, :], fy)  # (f, d + 1, d + 1) shifted along y
                # The last row/column of Q has weight fy (fx), which is 0 whenever it would fall outside
                # the frame (p <= size - d); clamping its index there only takes a max with 0.
                rows = (iy[:, None] + offsets).clamp_(max=S - 1)  # (f, d + 1)
                cols = (ix[:, None] + offsets).clamp_(max=S - 1)
                flat = (rows[:, :, None] * S + cols[:, None, :]).reshape(len(c), -1)  # (f, (d + 1)^2)
                # pixelwise max with what is already drawn (the other digits)
                out.scatter_reduce_(1, flat, Q.reshape(len(c), -1), reduce="amax")
        return frames.clamp_(0.0, 1.0).reshape(n, T, 1, S, S)

    def _generate(self, n: int, T: int, seed: Seed, dtype: torch.dtype) -> tuple[torch.Tensor, Info]:
        """``n`` clips ``(n, T, 1, H, W)`` and ``{"labels", "image_index": (n, K), "positions": (n, T, K, 2)}``."""
        init = draw_in_chunks(n, seed, self._draw_initial)
        positions = self.trajectories(init["positions"], init["velocities"], T)  # (n, T, K, 2)
        index = torch.from_numpy(init["image_index"])  # (n, K)
        video = torch.empty((n, T, 1, self.size, self.size), dtype=dtype)
        step = max(1, _RENDER_FRAMES // T)
        for start in range(0, n, step):
            s = slice(start, start + step)
            store(video[s], self.render(positions[s], index[s]))
        return video, {"labels": self._labels[index], "image_index": index, "positions": positions}

    def sample(self, T: int = 20, seed: Seed = 0, return_labels: bool = False) -> Any:
        """One clip ``(T, 1, H, W)``; with ``return_labels`` also its digit classes ``(num_digits,)``."""
        return self._sample(T, seed, return_labels)

    def sample_batch(self, n: int, T: int = 20, seed: Seed = 0, return_labels: bool = False) -> Any:
        """``n`` clips ``(n, T, 1, H, W)``; with ``return_labels`` also labels ``(n, num_digits)``."""
        return self._sample_batch(n, T, seed, return_labels)
