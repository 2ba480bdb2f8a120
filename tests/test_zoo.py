"""vidgen_edu.zoo: a chapter's recipe, trained once and then loaded by later chapters and the benchmark."""

from __future__ import annotations

import pytest
import torch

from vidgen_edu import zoo
from vidgen_edu.models.predictor import NextFramePredictor


def test_ch04_predictor_trains_once_then_loads(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("VIDGEN_QUICK", "1")  # 3 training steps
    monkeypatch.setenv("VIDGEN_CACHE", str(tmp_path))
    first = zoo.ch04_predictor("balls", "cpu")
    assert isinstance(first, NextFramePredictor) and not first.training
    assert (tmp_path / "ch04_predictor_balls-quick.pt").exists()
    second = zoo.ch04_predictor("balls", "cpu")  # from the cache: the same weights
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items()):
        assert torch.equal(a, b), name


def test_recipe_is_deterministic(monkeypatch) -> None:
    monkeypatch.setenv("VIDGEN_QUICK", "1")
    weights = []
    for _ in range(2):
        torch.manual_seed(0)
        model = NextFramePredictor(**zoo.CH04_MODEL_KW)
        seconds = zoo.train_ch04_predictor(model, "digits", "cpu")
        assert seconds > 0
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert torch.equal(weights[0], weights[1])


def test_teacher_prob_schedule() -> None:
    assert zoo.teacher_prob(0.0) == 1.0 and zoo.teacher_prob(0.2) == 1.0
    assert abs(zoo.teacher_prob(0.4) - 0.5) < 1e-12
    assert zoo.teacher_prob(0.6) == 0.0 and zoo.teacher_prob(1.0) == 0.0


def test_constant_velocity_oracle_is_exact_until_something_bounces() -> None:
    from vidgen_edu.bench import CONTEXT, HORIZON, prediction_clips
    from vidgen_edu.metrics import psnr

    test = prediction_clips("balls", "test", 16)
    pred = zoo.constant_velocity(test)
    truth = test.clips()[:, CONTEXT:]
    assert pred.shape == truth.shape == (16, HORIZON, 1, 32, 32)
    one_ahead = psnr(truth[:, 0], pred[:, 0])  # (16,): one step of straight-line motion
    assert one_ahead.median() > 40  # exact (up to 8-bit storage) unless a ball hit a wall or another ball
    assert psnr(truth, pred).mean(0)[-1] < one_ahead.median()  # ten frames ahead, bounces break it
    with pytest.raises(ValueError, match="states"):
        zoo.constant_velocity(prediction_clips("digits", "test", 2))
