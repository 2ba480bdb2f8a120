"""The registry behind ``make bench``: one reproducible command for every quality claim (chapter 06).

An entry is one row of the leaderboard: a model on a data set, scored by a
protocol of :mod:`vidgen_edu.evaluation`. A file in ``benchmarks/entries/``
registers rows in a few lines; it never edits the harness (``benchmarks/run.py``)::

    from vidgen_edu.bench import register_recipe
    from vidgen_edu.evaluation import PREDICTION

    register_recipe("convgru_predictor_balls", PREDICTION, model="convgru", dataset="balls")

A recipe row trains its recipe at full budget (:mod:`vidgen_edu.recipes`, fresh,
which also refreshes the cache the chapters load from) and scores it with the
protocol; a baseline row is any function ``run(device) -> metrics``, registered
with :func:`register`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import torch

from .evaluation import Metrics

RunFn = Callable[[torch.device], Metrics]


@dataclass(frozen=True)
class Entry:
    """One row of the leaderboard: a model on a data set, evaluated by ``run(device)``."""

    name: str
    dataset: str
    task: str
    chapter: str
    run: RunFn = field(compare=False)

    @property
    def key(self) -> str:
        return f"{self.chapter}/{self.dataset}/{self.name}"


REGISTRY: dict[str, Entry] = {}


def register(name: str, *, dataset: str, task: str, chapter: str) -> Callable[[RunFn], RunFn]:
    """Decorator that adds ``fn(device) -> metrics`` to :data:`REGISTRY` under ``chapter/dataset/name``."""

    def decorate(fn: RunFn) -> RunFn:
        entry = Entry(name=name, dataset=dataset, task=task, chapter=chapter, run=fn)
        if entry.key in REGISTRY and REGISTRY[entry.key].run is not fn:
            raise ValueError(f"benchmark entry {entry.key!r} is registered twice")
        REGISTRY[entry.key] = entry
        return fn

    return decorate


def register_recipe(recipe: str, protocol: Any, *, model: str, dataset: str, **evaluate_kw: Any) -> RunFn:
    """A row for a recipe: train it now (full budget, into the cache), then score it.

    The score is ``protocol.evaluate(model, dataset, device, **evaluate_kw)``, with ``protocol`` one of
    ``PREDICTION``, ``GENERATION``, ``RECONSTRUCTION``; the row adds ``train_s`` and ``params``.
    """
    from . import recipes

    r = recipes.get(recipe)

    def run(device: torch.device) -> Metrics:
        net = r.load_or_train(device, retrain=True)
        metrics = protocol.evaluate(net, dataset, device, **evaluate_kw)
        params = sum(p.numel() for p in net.parameters())
        return {**metrics, "train_s": r.info()["train_s"], "params": params}

    run.recipe = recipe  # type: ignore[attr-defined]  # which recipe the row benchmarks (tests check all are)
    return register(model, dataset=dataset, task=protocol.task, chapter=r.chapter)(run)


def leaderboard(kind: str = "cpu") -> str | None:
    """The leaderboard table ``make bench`` last wrote for a kind of device ("cpu", "cuda"), as Markdown; None if none.

    The tables ship inside the package (``vidgen_edu/leaderboard/``), so they are found from a
    checkout, a wheel or a Colab install alike.
    """
    path = resources.files("vidgen_edu") / "leaderboard" / f"{kind}.md"
    return path.read_text() if path.is_file() else None
