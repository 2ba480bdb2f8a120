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

Prediction rows (chapters 04 onwards) share one protocol, kept here so every
chapter measures the same thing: clips of :data:`CONTEXT` + :data:`HORIZON`
frames from :func:`prediction_clips`, free-running predictions from
:func:`predict_future`, scored by :func:`evaluate_prediction`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from .data import VideoDataset, make_dataset
from .fvd import fvd_lite
from .metrics import per_horizon, psnr, ssim

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


#: The prediction protocol of chapters 04 onwards: the first CONTEXT frames of a clip are given,
#: the next HORIZON frames are predicted.
CONTEXT, HORIZON = 10, 10


def prediction_clips(name: str, split: str, num_clips: int) -> VideoDataset:
    """The fixed clips of the prediction protocol: ``num_clips`` clips of ``CONTEXT + HORIZON`` frames, seed 0.

    A smaller ``num_clips`` (quick mode) gives a prefix of the same clips.
    """
    return make_dataset(name, split, num_clips=num_clips, T=CONTEXT + HORIZON, seed=0)


@torch.no_grad()
def predict_future(model: nn.Module, clips: torch.Tensor, device: torch.device, *, batch: int = 250) -> torch.Tensor:
    """Free-running predictions of the last ``HORIZON`` frames of every clip from its first ``CONTEXT``.

    ``clips`` is ``(B, CONTEXT + HORIZON, C, H, W)``; ``model.rollout(context, horizon)`` runs on
    ``device`` in chunks of ``batch`` clips. Returns ``(B, HORIZON, C, H, W)`` on the CPU.
    """
    model = model.to(device).eval()
    chunks = [model.rollout(c[:, :CONTEXT].to(device), HORIZON).cpu() for c in clips.split(batch)]
    return torch.cat(chunks)


def evaluate_prediction(truth: torch.Tensor, pred: torch.Tensor, *, fvd: bool = True) -> Metrics:
    """Quality of predicted futures ``pred`` against the true ones, both ``(B, K, C, H, W)`` in [0, 1].

    Returns ``psnr_db`` (mean over clips and the K predicted frames), ``psnr_k1_db`` and
    ``psnr_k{K}_db`` (mean over clips, first and last predicted frame), ``ssim`` (mean over
    clips and frames) and, with ``fvd``, ``fvd_lite``: the Fréchet distance between the
    feature statistics of the predicted and the true futures (:mod:`vidgen_edu.fvd`, grey
    32×32 clips only). Chapter 04 introduces PSNR per horizon; chapter 06 compares the metrics.
    """
    curve = per_horizon(psnr, truth, pred)  # (K,): mean PSNR over clips, per frame ahead
    metrics = {
        "psnr_db": curve.mean().item(),
        "psnr_k1_db": curve[0].item(),
        f"psnr_k{len(curve)}_db": curve[-1].item(),
        "ssim": per_horizon(ssim, truth, pred).mean().item(),
    }
    if fvd:
        metrics["fvd_lite"] = fvd_lite(truth, pred)
    return metrics
