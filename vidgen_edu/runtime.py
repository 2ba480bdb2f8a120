"""Where code runs and how long it trains: device choice, seeding, quick mode.

Every chapter asks this module, never the environment directly, so that one
switch (``VIDGEN_QUICK=1``) shrinks all training budgets for CI and nbval, and
one variable (``VIDGEN_DEVICE``) moves every chapter to another device.
Chapter 00 (Preface) explains how to use it.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np
import torch

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}


def get_device(name: str | None = None) -> torch.device:
    """Pick the device: ``name`` if given, else ``$VIDGEN_DEVICE``, else cuda > mps > cpu.

    A requested device that is not available raises ``ValueError`` instead of
    failing later inside a kernel.
    """
    name = name or os.environ.get("VIDGEN_DEVICE") or None
    if name is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested but CUDA is not available on this machine")
    if device.type == "mps" and not (
        getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    ):
        raise ValueError(f"device {name!r} requested but MPS is not available on this machine")
    return device


def is_quick() -> bool:
    """True when ``VIDGEN_QUICK`` is set to 1/true/yes/on (CI, nbval, a first read)."""
    return os.environ.get("VIDGEN_QUICK", "").strip().lower() in _TRUE


def budget(full: T, quick: T) -> T:
    """The training budget for this run: ``quick`` in quick mode, otherwise ``full``.

    Chapters never branch on the mode themselves; they write
    ``steps = budget(full=1500, quick=10)``.
    """
    return quick if is_quick() else full


@dataclass(frozen=True)
class Budget(Generic[T]):
    """A budget that is resolved when it is used: ``Budget(full=400, quick=3).value``.

    Recipes store their budgets this way, so one recipe object serves both modes
    and its fingerprint covers both numbers (:mod:`vidgen_edu.recipes`).
    """

    full: T
    quick: T

    @property
    def value(self) -> T:
        """``quick`` in quick mode, otherwise ``full`` (see :func:`budget`)."""
        return budget(self.full, self.quick)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and PyTorch; return a CPU ``torch.Generator`` seeded the same.

    On the CPU, the same seed then gives the same data and the same trained
    numbers. GPU kernels may still differ in the last bits between runs.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


@contextmanager
def seeded(seed: int | None, device: torch.device | str | None = None) -> Iterator[None]:
    """Run the block with random numbers of its own; the caller's random state is restored after it.

    With ``seed``, the CPU generator (initial weights, shuffling) is seeded inside the block.
    The CPU state is always restored, and so is a CUDA ``device``'s. (``torch.manual_seed``
    would also reseed CUDA generators that a CPU-only fork does not restore.) The metric nets
    of chapter 06 and the evaluation protocols use it, so evaluating a model never changes the
    numbers a reader's next cell draws.
    """
    device = torch.device(device) if device is not None else None
    devices = [device] if device is not None and device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        if seed is not None:
            torch.default_generator.manual_seed(seed)
        yield


def cache_dir() -> Path:
    """Folder for cached checkpoints (``$VIDGEN_CACHE``, default ``~/.cache/vidgen-edu``); created if absent."""
    path = Path(os.environ.get("VIDGEN_CACHE") or Path.home() / ".cache" / "vidgen-edu")
    path.mkdir(parents=True, exist_ok=True)
    return path


def describe() -> str:
    """One line that says where this run happens, for the top of every chapter."""
    device = get_device()
    mode = "quick" if is_quick() else "full"
    threads = torch.get_num_threads()
    return f"torch {torch.__version__} | device: {device} | CPU threads: {threads} | mode: {mode}"
