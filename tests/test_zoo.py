"""vidgen_edu.zoo: a chapter's recipe, trained once and then loaded by later chapters and the benchmark."""

from __future__ import annotations

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
