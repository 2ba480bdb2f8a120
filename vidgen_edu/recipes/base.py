"""What a recipe is: every hyperparameter of a trained model in one frozen dataclass, plus its loop.

A recipe says how to build a model, which loss it minimizes, and how it is
trained (data, optimizer, schedule, steps). Its fields are the whole story:
their fingerprint (:func:`vidgen_edu.checkpoints.fingerprint`) names the cache
file, so ``dataclasses.replace(recipe, lr=1e-4)`` is another model, trained and
cached separately, and a changed recipe is never served a stale file.

Subclasses implement :meth:`Recipe.build`, :meth:`Recipe.loss` and
:meth:`Recipe.fit`; the base class does the rest (seeding, threads, timing,
caching). ``name`` and ``chapter`` are metadata, not part of the fingerprint.
"""

from __future__ import annotations

import dataclasses
import time
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..checkpoints import (
    CheckpointError,
    cache_path,
    fingerprint,
    load_checkpoint,
    read_info,
    save_checkpoint,
    write_info,
)
from ..data.base import single_threaded
from ..runtime import get_device, seed_everything

#: fields that describe a recipe but do not change the trained model
METADATA = ("name", "chapter")


@dataclass(frozen=True, kw_only=True)
class Recipe:
    """Base class of the book's recipes (see the module docstring)."""

    name: str  # registry name: what the model is, e.g. "convgru_predictor_balls"
    chapter: str  # the chapter that teaches it (metadata)
    seed: int = 0  # seeds the initial weights and the order of the batches
    cpu_threads: int | None = None  # 1: train on one CPU thread (tiny tensors); None: PyTorch's default

    # -- what a subclass writes ---------------------------------------------------------------
    def build(self) -> nn.Module:
        """A fresh, untrained model (call after seeding: its initial weights come from the global RNG)."""
        raise NotImplementedError

    def loss(self, model: nn.Module, batch: Any) -> torch.Tensor:
        """The scalar training loss of one batch (``fit``'s ``loss_fn``)."""
        raise NotImplementedError

    def fit(self, model: nn.Module, device: torch.device) -> list[float] | dict[str, list[float]]:
        """Train ``model`` in place on ``device`` (data, optimizer, schedule); return the loss of every step.

        A recipe with several losses (a GAN's two players) returns a dict of such lists.
        """
        raise NotImplementedError

    # -- what every recipe gets -----------------------------------------------------------------
    def fingerprint(self) -> str:
        """12 hex digits that change whenever a field other than the metadata changes."""
        return fingerprint({f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                            if f.name not in METADATA} | {"__class__": type(self).__name__})

    def initial(self) -> nn.Module:
        """The untrained model, seeded with :attr:`seed`: the same initial weights in every run."""
        seed_everything(self.seed)
        return self.build()

    def train(self, device: torch.device | str | None = None) -> tuple[nn.Module, dict[str, Any]]:
        """Build and train now (no cache): the model in eval mode and ``{"history", "train_s", "device"}``."""
        device = torch.device(device) if device is not None else get_device()
        model = self.initial()
        start = time.perf_counter()
        with single_threaded() if self.cpu_threads == 1 else nullcontext():
            history = self.fit(model, device)
        if isinstance(history, dict):
            history = {k: [float(v) for v in h] for k, h in history.items()}
        else:
            history = [float(v) for v in history]
        info = {"history": history, "train_s": time.perf_counter() - start,
                "device": str(device)}
        return model.eval(), info

    def load_or_train(self, device: torch.device | str | None = None, *, retrain: bool = False) -> nn.Module:
        """The trained model on ``device``: from the cache if this exact recipe was trained before, else trained now."""
        device = torch.device(device) if device is not None else get_device()
        path = cache_path(self.name, self.fingerprint())
        if path.exists() and not retrain:
            model = self.initial()
            try:
                load_checkpoint(path, model)
                return model.to(device).eval()
            except CheckpointError:
                pass  # damaged or stale: train again
        model, info = self.train(device)
        save_checkpoint(model, path)
        write_info(path, info | {"recipe": self.name, "fingerprint": self.fingerprint()})
        return model.to(device).eval()

    def info(self) -> dict[str, Any]:
        """What the cached training run recorded (``history``, ``train_s``, ``device``); ``{}`` if never trained."""
        return read_info(cache_path(self.name, self.fingerprint()))
