"""Chapter 05's rows: the VideoTransformer (divided space-time attention) as a next-frame predictor.

The recipe of ``book/05_attention.md`` ("Training on bouncing balls"): chapter 04's
clips (2,000 training, 500 test, seed 0), teacher forcing on all 19 next-frame
predictions, 1,000 steps on balls and 400 on digits in batches of 8, Adam at 2e-3
with a 50-step linear warm-up and a cosine decay, gradient clipping at 1.
"""

from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from vidgen_edu.bench import (
    CONTEXT,
    HORIZON,
    Metrics,
    evaluate_prediction,
    predict_future,
    prediction_clips,
    register,
)
from vidgen_edu.models.transformer import VideoTransformer, count_parameters
from vidgen_edu.runtime import budget, seed_everything
from vidgen_edu.train import fit

TASK = f"prediction {CONTEXT}→{HORIZON}"
CONFIG = dict(channels=1, size=32, patch=8, dim=96, depth=3, heads=4, max_frames=20)
LR, WARMUP = 2e-3, 50


def next_frame_loss(model, clips):
    """BCE between logits[:, t] and frames[:, t+1] for every t of the clip (teacher forcing)."""
    logits = model(clips)  # (B, T, C, H, W)
    return F.binary_cross_entropy_with_logits(logits[:, :-1], clips[:, 1:])


def transformer(name: str, device: torch.device) -> Metrics:
    train_set = prediction_clips(name, "train", budget(full=2000, quick=32))
    steps = {"balls": budget(full=1000, quick=3), "digits": budget(full=400, quick=3)}[name]
    gen = seed_everything(0)
    loader = DataLoader(train_set, batch_size=budget(full=8, quick=4), shuffle=True, drop_last=True, generator=gen)
    net = VideoTransformer(**CONFIG)
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    # linear warm-up over WARMUP steps, then a cosine decay to 0 at the last step
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / WARMUP) * 0.5 * (1 + math.cos(math.pi * min(s / steps, 1.0))))
    start = time.perf_counter()
    fit(net, next_frame_loss, loader, steps, optimizer=opt, device=device, grad_clip=1.0,
        callback=lambda *_: sched.step(), every=1, desc=f"transformer on {name}")
    seconds = time.perf_counter() - start

    clips = prediction_clips(name, "test", budget(full=500, quick=8)).clips()  # (B, 20, 1, 32, 32)
    pred = predict_future(net, clips, device)
    return {**evaluate_prediction(clips[:, CONTEXT:], pred), "train_s": seconds, "params": count_parameters(net)}


for _name in ("balls", "digits"):
    register("transformer-divided", dataset=_name, task=TASK, chapter="05")(
        lambda device, n=_name: transformer(n, device))
