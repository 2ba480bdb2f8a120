"""The registry behind ``make bench``: one reproducible command for every quality claim.

A chapter adds a row to the book's leaderboard by *registering* a function
that trains its model at full budget with a fixed seed and evaluates it on the
fixed test set; it never edits the harness (``benchmarks/run.py``). Chapter 06
explains the metrics and shows the resulting table.

    from vidgen_edu.bench import register

    @register("convgru", dataset="balls", task="prediction 10→10", chapter="04")
    def convgru(device):
        ...train, evaluate...
        return {"psnr": 23.1, "ssim": 0.81, "params": 120_000}
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

Metrics = dict[str, float]
RunFn = Callable[[torch.device], Metrics]


@dataclass(frozen=True)
class Entry:
    """One row of the leaderboard: a model on a dataset, evaluated by ``run(device)``."""

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
