"""Torch datasets of rule-driven clips with fixed, disjoint train / val / test splits.

``VideoDataset`` generates every clip of a split up front (vectorized, a few
seconds for 10,000 clips) and keeps them in one tensor. The splits are
disjoint by construction: split ``s`` of seed ``seed`` draws from its own
random stream ``SeedSequence(seed, spawn_key=(index of s,))``, and for
``"digits"`` each split also uses its own digit writings. Default sizes are
:data:`SPLIT_SIZES` (8,000 / 1,000 / 1,000 clips); ``num_clips`` takes a
prefix of that stream, so a smaller data set is a subset of the larger one.

Clips are stored as 8-bit integers (round(255 x), like a real video file: a
quarter of the memory of float32) and returned as float32 in [0, 1]; pass
``dtype=torch.float32`` to store the exact values. Chapter 02 introduces the
datasets; every later chapter trains on them.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from .balls import BouncingBalls
from .base import VideoSource, check_choice, check_int, check_storage_dtype
from .digits import MovingDigits
from .shapes import MovingShapes
from .stochastic_balls import StochasticBalls

#: The sources ``make_source`` / ``make_dataset`` know by name.
SOURCES: dict[str, type[VideoSource]] = {
    "balls": BouncingBalls,
    "digits": MovingDigits,
    "shapes": MovingShapes,
    "balls-stochastic": StochasticBalls,
}

#: Split names, in the order of their random streams.
SPLITS: tuple[str, ...] = ("train", "val", "test")

#: Clips per split when ``num_clips`` is not given.
SPLIT_SIZES: dict[str, int] = {"train": 8000, "val": 1000, "test": 1000}


def make_source(name: str, **kwargs: Any) -> VideoSource:
    """The source called ``name`` (``"balls"``, ``"digits"``, ``"shapes"``, ``"balls-stochastic"``) built with ``kwargs``."""
    if name not in SOURCES:
        raise ValueError(f"unknown data source {name!r}; valid names: {', '.join(map(repr, SOURCES))}")
    return SOURCES[name](**kwargs)


def split_seed(seed: int, split: str) -> np.random.SeedSequence:
    """The root random stream of ``split`` for ``seed`` (different splits never share a stream)."""
    check_choice(split, "split", SPLITS)
    check_int(seed, "seed", minimum=0)
    return np.random.SeedSequence(int(seed), spawn_key=(SPLITS.index(split),))


class VideoDataset(Dataset):
    """All clips of one split, generated up front; ``ds[i]`` is clip ``i``, ``(T, C, H, W)`` float32 in [0, 1].

    Args:
        source: a name (``"balls"``, ``"digits"``, ``"shapes"``, ``"balls-stochastic"``) or a source object.
        split: ``"train"``, ``"val"`` or ``"test"``.
        num_clips: number of clips (default :data:`SPLIT_SIZES` of the split).
        T: frames per clip.
        seed: the data set's seed; the same seed gives the same tensors.
        dtype: storage type, ``torch.uint8`` (default) or a float type.

    The per-clip ground truth of the source is available as attributes with a
    first axis of length ``num_clips``: ``ds.states`` (balls), ``ds.wall_hits``
    (balls-stochastic), ``ds.labels`` (digits), ``ds.captions`` (shapes), and the
    others listed in ``ds.info``.
    ``ds.data`` is the stored tensor ``(N, T, C, H, W)``; ``ds.clips(idx)``
    returns float32 clips.
    """

    def __init__(
        self,
        source: str | VideoSource,
        split: str = "train",
        num_clips: int | None = None,
        T: int = 20,
        seed: int = 0,
        *,
        dtype: torch.dtype = torch.uint8,
    ) -> None:
        self.split = check_choice(split, "split", SPLITS)
        if isinstance(source, str):
            source = make_source(source)
        elif not isinstance(source, VideoSource):
            names = ", ".join(map(repr, SOURCES))
            raise ValueError(f"source must be a name ({names}) or a VideoSource, got {source!r}")
        self.source = source.for_split(self.split)
        self.name = self.source.name
        self.num_clips = SPLIT_SIZES[self.split] if num_clips is None else check_int(num_clips, "num_clips")
        self.T = check_int(T, "T")
        self.seed = check_int(seed, "seed", minimum=0)
        check_storage_dtype(dtype)
        start = time.perf_counter()
        root = split_seed(self.seed, self.split)
        self.data, self.info = self.source.generate(self.num_clips, self.T, root, dtype=dtype)
        #: seconds spent generating the clips
        self.generation_seconds = time.perf_counter() - start
        for key, value in self.info.items():
            if not hasattr(self, key):  # ds.states, ds.labels, ds.captions, ...
                setattr(self, key, value)

    @property
    def channels(self) -> int:
        """C, the number of colour channels."""
        return self.data.shape[2]

    @property
    def size(self) -> int:
        """H = W, the frame size in pixels."""
        return self.data.shape[-1]

    def __len__(self) -> int:
        return self.num_clips

    def _as_float(self, x: torch.Tensor) -> torch.Tensor:
        return x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()

    def __getitem__(self, i: int) -> torch.Tensor:
        """Clip ``i``, ``(T, C, H, W)`` float32 in [0, 1]."""
        return self._as_float(self.data[i])

    def clips(self, index: Any = slice(None)) -> torch.Tensor:
        """Clips ``(B, T, C, H, W)`` float32 for any index of the first axis (default: all; mind the memory)."""
        return self._as_float(self.data[index])

    def __repr__(self) -> str:
        shape = tuple(self.data.shape)
        return (
            f"VideoDataset({self.source!r}, split={self.split!r}, clips={shape}, "
            f"dtype={self.data.dtype}, seed={self.seed})"
        )


class FramesDataset(Dataset):
    """The frames of a ``VideoDataset`` as single images: ``ds[k]`` is ``(C, H, W)`` float32 in [0, 1].

    Frame ``k`` is frame ``k % T`` of clip ``k // T``. Used by the image
    models (the VAE of chapter 03) that learn one frame at a time.
    """

    def __init__(self, videos: VideoDataset) -> None:
        self.videos = videos
        self.T = videos.T

    def __len__(self) -> int:
        return len(self.videos) * self.T

    def __getitem__(self, k: int) -> torch.Tensor:
        if not -len(self) <= k < len(self):
            raise IndexError(f"frame index {k} out of range for {len(self)} frames")
        k = k % len(self)
        return self.videos._as_float(self.videos.data[k // self.T, k % self.T])


def make_dataset(
    name: str | VideoSource,
    split: str = "train",
    *,
    num_clips: int | None = None,
    T: int = 20,
    seed: int = 0,
    dtype: torch.dtype = torch.uint8,
    **source_kwargs: Any,
) -> VideoDataset:
    """``VideoDataset`` of the source ``name`` built with ``source_kwargs``, e.g.
    ``make_dataset("balls", "val", num_clips=200, num_balls=2)``."""
    source = make_source(name, **source_kwargs) if isinstance(name, str) else name
    return VideoDataset(source, split, num_clips=num_clips, T=T, seed=seed, dtype=dtype)


def frames_dataset(
    name: str | VideoSource,
    split: str = "train",
    *,
    num_clips: int | None = None,
    T: int = 1,
    seed: int = 0,
    dtype: torch.dtype = torch.uint8,
    **source_kwargs: Any,
) -> FramesDataset:
    """Single frames ``(C, H, W)`` of ``num_clips`` clips of ``T`` frames (default ``T=1``: independent frames)."""
    return FramesDataset(make_dataset(name, split, num_clips=num_clips, T=T, seed=seed, dtype=dtype, **source_kwargs))


#: the frame data sets of chapter 03 (frame VAEs), by name → arguments of :func:`make_dataset`
FRAME_SETS: dict[str, dict[str, Any]] = {
    "digits-1": dict(name="digits", num_digits=1),
    "balls": dict(name="balls"),
    "one-ball": dict(name="balls", num_balls=1),
}


def frame_set(name: str, split: str, num_clips: int, frames_per_clip: int = 10) -> torch.Tensor:
    """All frames of ``num_clips`` clips (default seed) of the frame set ``name``: (N·T, C, H, W) float in [0, 1]."""
    if name not in FRAME_SETS:
        raise ValueError(f"unknown frame set {name!r}; valid names: {', '.join(map(repr, FRAME_SETS))}")
    return make_dataset(**FRAME_SETS[name], split=split, num_clips=num_clips, T=frames_per_clip).clips().flatten(0, 1)
