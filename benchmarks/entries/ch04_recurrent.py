"""Chapter 04's rows: the ConvGRU next-frame predictor and the baselines of its table.

The recipe of ``book/04_recurrent.md`` ("A next-frame predictor", "Measuring the
predictions"): 2,000 training and 500 test clips of 20 frames (seed 0), 400 steps of
batches of 16 under scheduled sampling, Adam with a one-cycle learning rate (peak
2e-3), gradient clipping at 1, one CPU thread for training and rollouts as in the
chapter. The constant-velocity row is the chapter's oracle baseline (true ball states).
"""

from __future__ import annotations

import torch

from vidgen_edu import zoo
from vidgen_edu.bench import (
    CONTEXT,
    HORIZON,
    Metrics,
    evaluate_prediction,
    predict_future,
    prediction_clips,
    register,
)
from vidgen_edu.data import VideoDataset
from vidgen_edu.data.base import single_threaded
from vidgen_edu.models.predictor import NextFramePredictor
from vidgen_edu.runtime import budget, seed_everything
from vidgen_edu.zoo import CH04_MODEL_KW, train_ch04_predictor

TASK = f"prediction {CONTEXT}→{HORIZON}"


def held_out(name: str) -> VideoDataset:
    """The chapter's 500 held-out clips of 20 frames."""
    return prediction_clips(name, "test", budget(full=500, quick=32))


def convgru(name: str, device: torch.device) -> Metrics:
    seed_everything(0)
    model = NextFramePredictor(**CH04_MODEL_KW)
    seconds = train_ch04_predictor(model, name, device)
    clips = held_out(name).clips()  # (B, 20, 1, 32, 32)
    with single_threaded():
        pred = predict_future(model, clips, device)
    params = sum(p.numel() for p in model.parameters())
    return {**evaluate_prediction(clips[:, CONTEXT:], pred), "train_s": seconds, "params": params}


def copy_last_frame(name: str, device: torch.device) -> Metrics:
    clips = held_out(name).clips()  # (B, 20, 1, 32, 32)
    pred = clips[:, CONTEXT - 1:CONTEXT].expand(-1, HORIZON, -1, -1, -1)  # the last context frame, repeated
    return {**evaluate_prediction(clips[:, CONTEXT:], pred), "train_s": 0.0, "params": 0}


@register("constant-velocity-oracle", dataset="balls", task=TASK, chapter="04")
def constant_velocity(device: torch.device) -> Metrics:
    """Balls moved in straight lines from their *true* state at the last context frame: an oracle."""
    test = held_out("balls")
    pred = zoo.constant_velocity(test)  # (B, K, 1, H, W)
    return {**evaluate_prediction(test.clips()[:, CONTEXT:], pred), "train_s": 0.0, "params": 0}


for _name in ("balls", "digits"):
    register("convgru", dataset=_name, task=TASK, chapter="04")(lambda device, n=_name: convgru(n, device))
    register("copy-last-frame", dataset=_name, task=TASK, chapter="04")(
        lambda device, n=_name: copy_last_frame(n, device))
