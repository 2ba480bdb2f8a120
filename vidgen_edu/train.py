"""The one training loop every chapter uses (chapter 01 introduces it).

``fit`` is deliberately small: draw a batch, move it to the device, compute
the loss the chapter defines, step the optimizer, record the loss. Everything
a chapter needs to see (a progress bar with the live loss, a preview every N
steps, the loss history to plot) and nothing it has to fight.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm.auto import tqdm

from .runtime import get_device

LossFn = Callable[[nn.Module, Any], torch.Tensor]


@dataclass(frozen=True)
class Every:
    """A callback with its period: ``fn(step, model, history)`` runs after every ``period``-th step.

    ``fit(..., callbacks=[Every(100, show_samples), Every(500, save)])``. A period is
    required: a bare function in ``callbacks`` is an error, not a callback that never runs.
    """

    period: int
    fn: Callable[[int, nn.Module, list[float]], None]

    def __post_init__(self) -> None:
        if not isinstance(self.period, int) or isinstance(self.period, bool) or self.period < 1:
            raise ValueError(f"Every(period, fn): period must be a positive int, got {self.period!r}")
        if not callable(self.fn):
            raise TypeError(f"Every(period, fn): fn must be callable, got {type(self.fn).__name__}")


def ema_of(model: nn.Module, decay: float = 0.999) -> AveragedModel:
    """An exponential moving average of ``model``'s weights, for ``fit(..., ema=...)``.

    After each optimizer step ``θ_ema ← decay · θ_ema + (1 − decay) · θ`` (buffers are
    copied). Use ``ema.module`` as the model: generators (GANs, diffusion samplers) are
    evaluated with the averaged weights, which are smoother than the last step's.
    """
    if not 0.0 < decay < 1.0:
        raise ValueError(f"decay must be in (0, 1), got {decay}")
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def to_device(batch: Any, device: torch.device) -> Any:
    """Move a tensor, or a tuple/list/dict of them (nested), to ``device``; leave other values as they are."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        moved = [to_device(v, device) for v in batch]
        return type(batch)(moved) if isinstance(batch, list) else tuple(moved)
    return batch


def _forever(data: Iterable[Any]) -> Iterator[Any]:
    """Cycle over ``data``, starting a new pass (and so a new shuffle) when one ends."""
    while True:
        empty = True
        for batch in data:
            empty = False
            yield batch
        if empty:
            raise ValueError("fit() got an empty data iterable: it yielded no batch")


def fit(
    model: nn.Module,
    loss_fn: LossFn,
    data: Iterable[Any],
    steps: int,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    lr: float = 1e-3,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    device: torch.device | str | None = None,
    amp: bool = False,
    callbacks: Sequence[Every] = (),
    grad_clip: float | None = None,
    ema: AveragedModel | None = None,
    progress: bool = True,
    desc: str = "train",
) -> list[float]:
    """Train ``model`` for ``steps`` optimizer steps and return the loss of every step.

    Args:
        model: moved to ``device`` and put in train mode.
        loss_fn: ``loss_fn(model, batch) -> scalar tensor``; the batch is already on the device.
        data: any iterable of batches (a ``DataLoader``, a list of tensors); restarted when exhausted.
        steps: number of optimizer steps (not epochs).
        optimizer: defaults to ``Adam(model.parameters(), lr)``.
        device: defaults to :func:`vidgen_edu.runtime.get_device`.
        scheduler: a learning-rate scheduler of ``optimizer``, stepped after every optimizer step.
        amp: bfloat16 autocast on CUDA (ignored elsewhere, so chapters can pass it unconditionally).
        callbacks: :class:`Every` ``(period, fn)``; ``fn(step, model, history)`` runs after every
            ``period``-th step (previews, checkpoints).
        grad_clip: clip the global gradient norm to this value.
        ema: an :func:`ema_of` the model, updated after every optimizer step.
        progress: show a tqdm bar with the live (smoothed) loss.

    Raises:
        ValueError: for ``steps < 1``, a non-scalar or non-finite loss.
        TypeError: for a callback that is not an :class:`Every`.
    """
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    for cb in callbacks:
        if not isinstance(cb, Every):
            raise TypeError(f"callbacks must be Every(period, fn) objects, got {cb!r}: "
                            "say how often it runs, e.g. Every(100, fn)")
    device = torch.device(device) if device is not None else get_device()
    model.to(device).train()
    if optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    use_amp = amp and device.type == "cuda"

    history: list[float] = []
    smooth = math.nan
    batches = _forever(data)
    bar = tqdm(range(1, steps + 1), desc=desc, disable=not progress, leave=True, mininterval=0.5)
    for step in bar:
        batch = to_device(next(batches), device)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
            loss = loss_fn(model, batch)
        if loss.dim() != 0:
            raise ValueError(f"loss_fn must return a scalar tensor, got shape {tuple(loss.shape)}")
        if not torch.isfinite(loss):
            raise ValueError(f"loss became {loss.item()} at step {step}: lower the learning rate or check the data")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        if ema is not None:
            ema.update_parameters(model)

        value = loss.item()
        history.append(value)
        # exponential moving average, so the bar shows a readable trend rather than noise
        smooth = value if math.isnan(smooth) else 0.95 * smooth + 0.05 * value
        if progress and (step % 10 == 0 or step == steps):
            bar.set_postfix(loss=f"{smooth:.4g}")
        for cb in callbacks:
            if step % cb.period == 0:
                cb.fn(step, model, history)
    bar.close()
    model.eval()
    if ema is not None:
        ema.eval()
    return history
