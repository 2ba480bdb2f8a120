"""vidgen_edu.recipes: the cache is keyed by the recipe's fields, never serves a stale file, records the run."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from vidgen_edu import recipes
from vidgen_edu.checkpoints import cache_path, fingerprint
from vidgen_edu.runtime import Budget


@pytest.fixture()
def quick(monkeypatch, tmp_path):
    monkeypatch.setenv("VIDGEN_QUICK", "1")
    monkeypatch.setenv("VIDGEN_CACHE", str(tmp_path))
    return tmp_path


def _weights(model):
    return [p.detach().clone() for p in model.state_dict().values()]


def test_load_trains_once_then_serves_the_cache(quick):
    r = recipes.get("conv_vae_one_ball")
    first = recipes.load(r.name, "cpu")
    path = cache_path(r.name, r.fingerprint())
    assert path.exists() and path.name == f"conv_vae_one_ball-{r.fingerprint()}-quick.pt"
    stamp = path.stat().st_mtime_ns
    second = recipes.load(r.name, "cpu")
    assert path.stat().st_mtime_ns == stamp  # not trained again
    assert all(torch.equal(a, b) for a, b in zip(_weights(first), _weights(second)))
    info = recipes.info(r.name)
    assert len(info["history"]) == r.steps.quick and info["train_s"] > 0 and info["device"] == "cpu"


def test_a_changed_field_trains_a_new_model_into_a_new_file(quick):
    r = recipes.get("conv_vae_one_ball")
    base = recipes.load(r, "cpu")
    variant = dataclasses.replace(r, lr=3e-3)
    assert variant.fingerprint() != r.fingerprint()
    changed = recipes.load(variant, "cpu")
    assert cache_path(variant.name, variant.fingerprint()).exists()
    assert not all(torch.equal(a, b) for a, b in zip(_weights(base), _weights(changed)))
    assert len(list(quick.glob("conv_vae_one_ball-*-quick.pt"))) == 2


def test_a_damaged_cache_file_is_retrained_not_served(quick):
    r = recipes.get("conv_vae_one_ball")
    good = recipes.load(r, "cpu")
    cache_path(r.name, r.fingerprint()).write_bytes(b"not a checkpoint")
    again = recipes.load(r, "cpu")
    assert all(torch.equal(a, b) for a, b in zip(_weights(good), _weights(again)))  # retrained, same seed


def test_quick_and_full_models_never_share_a_file(monkeypatch, tmp_path):
    r = recipes.get("conv_vae_one_ball")
    monkeypatch.setenv("VIDGEN_CACHE", str(tmp_path))
    monkeypatch.setenv("VIDGEN_QUICK", "1")
    quick_path = cache_path(r.name, r.fingerprint())
    monkeypatch.setenv("VIDGEN_QUICK", "0")
    assert cache_path(r.name, r.fingerprint()) != quick_path


def test_fingerprint_is_stable_and_rejects_what_it_cannot_hash():
    assert fingerprint({"a": 1, "b": (2.0, "x")}) == fingerprint({"b": [2.0, "x"], "a": 1})
    assert fingerprint(Budget(full=1, quick=2)) != fingerprint(Budget(full=1, quick=3))
    assert len(fingerprint(recipes.get("conv_vae_balls"))) == 12
    with pytest.raises(TypeError, match="cannot hash"):
        fingerprint({"f": object()})


def test_register_refuses_a_different_recipe_under_a_taken_name():
    r = recipes.get("conv_vae_balls")
    assert recipes.register(r) is r  # the same recipe again is fine
    with pytest.raises(ValueError, match="already registered"):
        recipes.register(dataclasses.replace(r, lr=1.0))
    with pytest.raises(TypeError):
        recipes.register("conv_vae_balls")  # type: ignore[arg-type]


def test_source_shows_the_training_loop_once():
    text = recipes.source("convgru_predictor_balls")
    assert "def fit(" in text and "def loss(" in text and "class ConvGRUPredictorRecipe" in text
    assert type(recipes.show("video_transformer_digits")).__name__ == "Code"
