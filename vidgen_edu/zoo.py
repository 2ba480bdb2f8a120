"""The book's models, by name: a chapter's recipe or baseline in one function (chapters 05, 06, benchmarks).

A chapter teaches its training loop in its own cells; a *later* chapter or a
benchmark entry that needs the same trained model calls the function here. It
reproduces the chapter's recipe exactly (data, seeds, budget, optimizer), and
:func:`ch04_predictor` goes through :func:`vidgen_edu.checkpoints.cached_train`
under the name chapter 04 uses, so a model trained by one of them is loaded by
the others.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader

from .bench import CONTEXT, HORIZON, prediction_clips
from .checkpoints import cached_train
from .data import VideoDataset
from .data.base import single_threaded
from .models.predictor import NextFramePredictor
from .runtime import budget, get_device, seed_everything
from .train import fit

#: chapter 04's predictor
CH04_MODEL_KW = dict(core="convgru", hidden_size=32, features=32)


def teacher_prob(frac: float, start: float = 0.2, end: float = 0.6) -> float:
    """Chapter 04's scheduled sampling: probability of feeding the true frame at fraction ``frac`` of training."""
    return min(1.0, max(0.0, (end - frac) / (end - start)))


def scheduled_sampling_loss(steps: int, seed: int = 0) -> Callable[[NextFramePredictor, torch.Tensor], torch.Tensor]:
    """``loss_fn(model, clips)`` for ``fit``: BCE of all next-frame predictions under scheduled sampling."""
    gen = torch.Generator().manual_seed(seed)
    step = 0

    def loss_fn(model: NextFramePredictor, clips: torch.Tensor) -> torch.Tensor:
        nonlocal step
        p = teacher_prob(step / steps)
        step += 1
        logits = model.scheduled(clips, CONTEXT, p, generator=gen)  # (B, 19, C, H, W): predicts frames 1..19
        return F.binary_cross_entropy_with_logits(logits, clips[:, 1:])

    return loss_fn


def train_ch04_predictor(model: NextFramePredictor, name: str, device: torch.device | str | None = None) -> float:
    """Chapter 04's recipe on ``"balls"`` or ``"digits"``; trains ``model`` in place and returns the wall seconds.

    2,000 training clips of 20 frames (seed 0), 400 steps of batches of 16 under
    scheduled sampling, Adam with a one-cycle learning rate (peak 2e-3), gradient
    clipping at 1, one CPU thread (tiny tensors: one thread is fastest, chapter 04).
    """
    steps = budget(full=400, quick=3)
    loader = DataLoader(prediction_clips(name, "train", budget(full=2000, quick=48)), batch_size=16, shuffle=True,
                        drop_last=True, generator=torch.Generator().manual_seed(0))
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps, pct_start=0.1)
    start = time.perf_counter()
    with single_threaded():
        fit(model, scheduled_sampling_loss(steps), loader, steps, optimizer=opt, device=device, grad_clip=1.0,
            callback=lambda *_: sched.step(), every=1, desc=f"chapter 04 predictor on {name}")
    return time.perf_counter() - start


def ch04_predictor(name: str, device: torch.device | str | None = None) -> NextFramePredictor:
    """Chapter 04's trained ConvGRU predictor for ``"balls"`` or ``"digits"``: from the cache, or trained now.

    Cached as ``ch04_predictor_<name>``, the name chapter 04 uses.
    """
    device = torch.device(device) if device is not None else get_device()
    seed_everything(0)
    model = NextFramePredictor(**CH04_MODEL_KW)
    model = cached_train(model, f"ch04_predictor_{name}", lambda m: train_ch04_predictor(m, name, device))
    return model.to(device).eval()


def constant_velocity(dataset: VideoDataset) -> torch.Tensor:
    """Chapter 04's oracle baseline for bouncing balls: (N, HORIZON, 1, H, W).

    Every ball moves in a straight line from its *true* state at the last context
    frame, ``p_{9+k} = p_9 + k v_9``, ignoring walls and collisions. It reads the
    simulator's state, so it is an oracle, not a competitor.
    """
    if "states" not in dataset.info:
        raise ValueError(f"constant_velocity needs a bouncing-balls data set with states, got {dataset!r}")
    states = dataset.states[:, CONTEXT - 1]  # (N, balls, 4): x, y, vx, vy at frame 9
    k = torch.arange(1, HORIZON + 1, dtype=states.dtype)[None, :, None, None]  # (1, K, 1, 1)
    positions = states[:, None, :, :2] + k * states[:, None, :, 2:]  # (N, K, balls, 2)
    return dataset.source.render(positions)  # (N, K, 1, H, W)
