"""What every rule-driven video source shares: seeding, argument checks, the sampling API.

A *source* (``BouncingBalls``, ``MovingDigits``, ``MovingShapes``) turns a seed
into clips. All randomness is drawn up front as *initial conditions*; after
that the rules (physics, bouncing, straight-line motion) are deterministic.
Initial conditions are drawn in fixed chunks of :data:`DRAW_CHUNK` clips, chunk
``c`` from its own stream ``SeedSequence(seed, spawn_key=(..., c))``, so clip
``i`` of a seed is the same however many clips are asked for:
``sample_batch(10, T, seed)[:3] == sample_batch(3, T, seed)``.
Chapter 02 (rule-driven video) walks through this module's sources.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Union

import numpy as np
import torch

#: Initial conditions are drawn this many clips at a time, one random stream per chunk.
DRAW_CHUNK = 256

#: A seed: a non-negative int, a NumPy ``SeedSequence``, or a ``torch.Generator`` (one int is drawn from it).
Seed = Union[int, np.random.SeedSequence, torch.Generator]

Info = dict[str, Any]


def as_seed_sequence(seed: Seed) -> np.random.SeedSequence:
    """Turn ``seed`` into a NumPy ``SeedSequence`` (the root of all random draws of a call)."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, torch.Generator):
        seed = int(torch.randint(0, 2**62, (1,), generator=seed).item())
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int (or a torch.Generator), got {seed!r}")
    return np.random.SeedSequence(int(seed))


def draw_in_chunks(
    n: int, seed: Seed, draw: Callable[[int, np.random.Generator], dict[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """Call ``draw(DRAW_CHUNK, rng_c)`` for chunk c = 0, 1, ... and keep the first ``n`` rows.

    ``draw`` returns a dict of arrays whose first axis has length ``DRAW_CHUNK``.
    Every chunk is drawn whole, from its own stream, so row ``i`` does not depend on ``n``.
    """
    root = as_seed_sequence(seed)
    parts = []
    for c in range(math.ceil(n / DRAW_CHUNK)):
        child = np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, c))
        parts.append(draw(DRAW_CHUNK, np.random.default_rng(child)))
    return {k: np.concatenate([p[k] for p in parts])[:n] for k in parts[0]}


# ---------------------------------------------------------------- argument checks


def check_int(value: Any, name: str, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``, else ``ValueError`` naming the argument."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def check_positive(value: Any, name: str, allow_zero: bool = False) -> float:
    """``value`` as a finite float > 0 (or >= 0 with ``allow_zero``), else ``ValueError``."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(x) or x < 0 or (x == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")
    return x


def check_range(value: float | Sequence[float], name: str, allow_zero: bool = False) -> tuple[float, float]:
    """A number ``v`` or a pair ``(lo, hi)`` as ``(lo, hi)`` with ``0 < lo <= hi`` (``0 <=`` with ``allow_zero``)."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        lo = hi = check_positive(value, name, allow_zero)
    else:
        try:
            lo_, hi_ = value  # type: ignore[misc]
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a number or a pair (low, high), got {value!r}") from None
        lo, hi = check_positive(lo_, name, allow_zero), check_positive(hi_, name, allow_zero)
        if lo > hi:
            raise ValueError(f"{name} = {value!r}: low must be <= high")
    return lo, hi


def check_choice(value: Any, name: str, choices: Sequence[str]) -> str:
    """``value`` if it is one of ``choices``, else ``ValueError`` listing them."""
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; valid: {', '.join(map(repr, choices))}")
    return value


def as_tensor(x: Any, dtype: torch.dtype) -> torch.Tensor:
    """``x`` (list, NumPy array, tensor on any device) as a CPU tensor of ``dtype``."""
    return torch.as_tensor(x, dtype=dtype).detach().cpu()


def as_numpy(x: Any) -> np.ndarray:
    """``x`` (list, NumPy array, tensor on any device) as a NumPy array."""
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def check_storage_dtype(dtype: torch.dtype) -> torch.dtype:
    """``dtype`` if clips can be stored in it (a floating type or ``torch.uint8``), else ``ValueError``."""
    if not isinstance(dtype, torch.dtype) or not (dtype.is_floating_point or dtype == torch.uint8):
        raise ValueError(f"dtype must be a floating torch dtype or torch.uint8, got {dtype!r}")
    return dtype


def store(dest: torch.Tensor, video: torch.Tensor) -> None:
    """Write float ``video`` in [0, 1] into ``dest``: floats as they are, ``torch.uint8`` as round(255 x).

    ``video`` is a temporary and may be overwritten.
    """
    if dest.dtype == torch.uint8:
        # round(255 x) within the byte range (copy_ truncates towards zero, hence the + 1/2)
        dest.copy_(video.mul_(255.0).add_(0.5).clamp_(0.0, 255.0))
    else:
        dest.copy_(video)


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """Run torch on one CPU thread inside the block, then restore the thread count.

    Generating data is many small tensor operations; on a busy machine, threads
    waiting for each other made them ~25x slower than one thread (measured on 2
    shared cores), and one thread is as fast on an idle laptop.
    """
    threads = torch.get_num_threads()
    if threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class VideoSource:
    """Base class of the rule-driven sources: ``generate`` plus the convenience samplers.

    Subclasses set ``name``, ``channels``, ``size`` and ``info_key`` (the name of
    the per-clip ground truth their ``sample`` can return) and implement
    ``_generate`` (``generate`` checks the arguments and runs it on one thread).
    """

    name: str = "source"
    channels: int = 1
    size: int = 32
    #: The key of ``generate``'s info that ``sample(..., return_<info_key>=True)`` returns.
    info_key: str = ""

    def generate(
        self, n: int, T: int = 20, seed: Seed = 0, *, dtype: torch.dtype = torch.float32
    ) -> tuple[torch.Tensor, Info]:
        """``n`` clips ``(n, T, C, H, W)`` stored as ``dtype`` and a dict of per-clip ground truth (first axis ``n``).

        ``dtype`` is float32 (default), another float type, or ``torch.uint8``
        (round(255 x)). Clip ``i`` does not depend on ``n``.
        """
        n, T = check_int(n, "n"), check_int(T, "T")
        check_storage_dtype(dtype)
        with single_threaded():
            return self._generate(n, T, seed, dtype)

    def _generate(self, n: int, T: int, seed: Seed, dtype: torch.dtype) -> tuple[torch.Tensor, Info]:
        raise NotImplementedError

    def _sample_batch(self, n: int, T: int, seed: Seed, return_info: bool) -> Any:
        video, info = self.generate(n, T, seed)
        return (video, info[self.info_key]) if return_info else video

    def _sample(self, T: int, seed: Seed, return_info: bool) -> Any:
        video, info = self.generate(1, T, seed)
        return (video[0], info[self.info_key][0]) if return_info else video[0]

    def sample_batch(self, n: int, T: int = 20, seed: Seed = 0) -> torch.Tensor:
        """``n`` clips ``(n, T, C, H, W)``, float32 in [0, 1]; clip ``i`` does not depend on ``n``."""
        return self._sample_batch(n, T, seed, False)

    def sample(self, T: int = 20, seed: Seed = 0) -> torch.Tensor:
        """One clip ``(T, C, H, W)``, float32 in [0, 1]; equal to ``sample_batch(n, T, seed)[0]``."""
        return self._sample(T, seed, False)

    def for_split(self, split: str) -> VideoSource:
        """The source to use for a dataset split (a copy restricted to that split's assets, or ``self``)."""
        return self

    def config(self) -> dict[str, Any]:
        """The constructor arguments (for ``repr`` and for rebuilding a copy)."""
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"
