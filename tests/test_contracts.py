"""Contract tests over every registered recipe (quick mode): what other code and the chapters rely on.

Shapes and ranges, same seed → same weights on the CPU, the checkpoint round
trip, causality of predictors, reproducible sampling of generators.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from vidgen_edu import recipes
from vidgen_edu.evaluation import RealClips
from vidgen_edu.models.api import FramePredictor, VideoGenerator
from vidgen_edu.models.diffusion import ToyVelocityNet
from vidgen_edu.models.video_vae import TubeletVAE
from vidgen_edu.runtime import Budget

NAMES = recipes.names()


def _steps_recorded(history: list[float] | dict[str, list[float]]) -> int:
    """Steps in a training history: a list of losses, or a dict of them (e.g. a GAN's players), all as long."""
    if isinstance(history, dict):
        lengths = {len(h) for h in history.values()}
        assert len(lengths) == 1, f"the losses of one run have different lengths: {lengths}"
        return lengths.pop()
    return len(history)


@pytest.fixture(scope="module")
def quick_cache(tmp_path_factory):
    """Quick mode and an empty cache for the whole module; trained models are shared by the tests."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VIDGEN_QUICK", "1")
        mp.setenv("VIDGEN_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def trained(quick_cache):
    return {name: recipes.load(name, "cpu") for name in NAMES}


def test_there_are_recipes_and_their_names_say_what_they_are():
    assert {"conv_vae_digits", "convgru_predictor_balls", "video_transformer_balls"} <= set(NAMES)
    for name in NAMES:
        r = recipes.get(name)
        assert r.name == name and not any(f"ch{c}" in name for c in "0123456789")
        assert dataclasses.is_dataclass(r) and r.chapter.isdigit()
        with pytest.raises(dataclasses.FrozenInstanceError):
            r.seed = 1  # type: ignore[misc]


def test_unknown_recipe_names_the_known_ones():
    with pytest.raises(KeyError, match="conv_vae_digits"):
        recipes.get("no_such_model")


@pytest.mark.parametrize("name", NAMES)
def test_fingerprint_covers_every_field_but_the_metadata(name):
    r = recipes.get(name)
    assert r.fingerprint() == dataclasses.replace(r).fingerprint()
    assert r.fingerprint() == dataclasses.replace(r, name="renamed", chapter="99").fingerprint()
    assert r.fingerprint() != dataclasses.replace(r, seed=r.seed + 1).fingerprint()
    more = Budget(full=r.steps.full, quick=r.steps.quick + 1)
    assert r.fingerprint() != dataclasses.replace(r, steps=more).fingerprint()


@pytest.mark.parametrize("name", NAMES)
def test_model_outputs_have_the_contract_shapes_and_ranges(name, trained):
    model = trained[name]
    assert not model.training
    if isinstance(model, FramePredictor):
        clips = torch.rand(2, 6, model.channels, model.size, model.size)
        logits = model(clips)
        assert logits.shape == clips.shape and logits.requires_grad  # logits, with a graph
        future = model.rollout(clips[:, :4], 3)
        assert future.shape == (2, 3, model.channels, model.size, model.size)
        assert future.min() >= 0 and future.max() <= 1 and not future.requires_grad
        with pytest.raises(ValueError):
            model(torch.rand(2, 6, model.channels + 1, model.size, model.size))
    elif isinstance(model, VideoGenerator):  # sample gives frames in [0, 1], reproducible with a generator
        a = model.sample(2, 6, generator=torch.Generator().manual_seed(3))
        b = model.sample(2, 6, generator=torch.Generator().manual_seed(3))
        assert a.shape == (2, 6, model.channels, model.size, model.size) and torch.equal(a, b)
        assert a.min() >= 0 and a.max() <= 1 and not a.requires_grad
        with pytest.raises(ValueError):  # a caption for an unconditional model, or one too few for a conditional
            model.sample(2, 6, cond=["a red square moves left"])
    elif isinstance(model, TubeletVAE):  # a video autoencoder: clips ↔ latents (B, T/τ, c, h, w)
        clips = torch.rand(2, model.frames, model.channels, model.size, model.size)
        logits, mu, logvar = model(clips)
        latent = (2, model.frames // model.tubelet, model.latent_channels, model.latent_size, model.latent_size)
        assert logits.shape == clips.shape and mu.shape == logvar.shape == latent
        frames = model.decode(model.latents(clips))
        assert frames.shape == clips.shape and frames.min() >= 0 and frames.max() <= 1 and not frames.requires_grad
        with pytest.raises(ValueError):
            model(torch.rand(2, model.frames, model.channels + 1, model.size, model.size))
    elif isinstance(model, ToyVelocityNet):  # a 2-D velocity field v(x, t, label)
        v = model(torch.randn(5, 2), torch.rand(5), torch.arange(5))
        assert v.shape == (5, 2) and torch.isfinite(v).all()
        with pytest.raises(ValueError):
            model(torch.randn(5, 3), torch.rand(5))
    else:  # a frame VAE: forward gives (logits, mu, logvar), decode gives frames in [0, 1]
        x = torch.rand(5, 1, 32, 32)
        logits, mu, logvar = model(x)
        assert logits.shape == x.shape and mu.shape == logvar.shape == (5, model.latent_dim)
        frames = model.decode(mu)  # (5, 1, 32, 32), or (5, 1024) for the MLP: reshape fails on a wrong size
        assert frames.reshape(x.shape).min() >= 0 and frames.max() <= 1
        torch.testing.assert_close(frames, torch.sigmoid(model.decode_logits(mu)))  # decode = sigmoid ∘ logits


@pytest.mark.parametrize("name", [n for n in NAMES if "predictor" in n or "transformer" in n])
def test_predictors_are_causal(name, trained):
    """Changing frame t+1 leaves the prediction of frame t+1 from frames <= t unchanged (and changes later ones)."""
    model = trained[name]
    torch.manual_seed(0)
    clips = torch.rand(2, 8, 1, 32, 32)
    t = 4
    changed = clips.clone()
    changed[:, t + 1] = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        a, b = model(clips), model(changed)
    assert torch.equal(a[:, :t + 1], b[:, :t + 1])
    assert not torch.equal(a[:, t + 1:], b[:, t + 1:])


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_weights_on_cpu(name, trained):
    r = recipes.get(name)
    again, info = r.train("cpu")  # trained anew, with the same seed as the fixture's model
    for (key, x), (_, y) in zip(trained[name].state_dict().items(), again.state_dict().items()):
        assert torch.equal(x, y), key
    assert _steps_recorded(info["history"]) == r.steps.quick and info["train_s"] > 0


def test_another_seed_gives_other_weights(trained):
    r = recipes.get("conv_vae_one_ball")
    other, _ = dataclasses.replace(r, seed=1).train("cpu")
    assert any(not torch.equal(x, y) for x, y in zip(trained[r.name].state_dict().values(),
                                                     other.state_dict().values()))


@pytest.mark.parametrize("name", NAMES)
def test_checkpoint_round_trip(name, trained, quick_cache):
    r = recipes.get(name)
    again = recipes.load(r, "cpu")  # from the cache the fixture filled
    for (key, x), (_, y) in zip(trained[name].state_dict().items(), again.state_dict().items()):
        assert torch.equal(x, y), key
    assert _steps_recorded(recipes.info(name)["history"]) == r.steps.quick


@pytest.mark.parametrize("generator", [RealClips("balls"), RealClips("shapes")], ids=["real-balls", "real-shapes"])
def test_generators_honour_the_generator_argument(generator):
    # (the registered recipes whose model is a VideoGenerator, the GANs, are checked the same way above)
    assert isinstance(generator, VideoGenerator)
    a = generator.sample(3, 5, generator=torch.Generator().manual_seed(7))
    b = generator.sample(3, 5, generator=torch.Generator().manual_seed(7))
    c = generator.sample(3, 5, generator=torch.Generator().manual_seed(8))
    assert a.shape == (3, 5, generator.channels, generator.size, generator.size)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.min() >= 0 and a.max() <= 1


def test_registered_generators_sample_reproducibly(trained):
    """Every recipe whose model is a VideoGenerator: same generator seed, same clips, in [0, 1], no graph."""
    generators = {name: model for name, model in trained.items() if isinstance(model, VideoGenerator)}
    if not generators:
        pytest.skip("no recipe is a VideoGenerator yet (the generative chapters add them)")
    for name, model in generators.items():
        a = model.sample(2, generator=torch.Generator().manual_seed(0))
        b = model.sample(2, generator=torch.Generator().manual_seed(0))
        assert torch.equal(a, b) and a.min() >= 0 and a.max() <= 1 and not a.requires_grad, name


def test_shapes_generator_follows_captions():
    caps = ["a red square moves left; a blue circle moves down",
            "a green cross moves up; a yellow triangle moves right"]
    clips = RealClips("shapes").sample(2, 6, cond=caps, generator=torch.Generator().manual_seed(0))
    assert clips.shape == (2, 6, 3, 32, 32)

    def has(clip, rgb):  # some pixel of the clip has (almost) exactly this colour
        return ((clip - torch.tensor(rgb)[:, None, None]).abs().amax(1) < 0.05).any()

    assert has(clips[0], (1.0, 0.0, 0.0)) and has(clips[0], (0.0, 0.0, 1.0))  # red and blue ...
    assert not has(clips[0], (0.0, 1.0, 0.0)) and not has(clips[0], (1.0, 1.0, 0.0))  # ... and no green, no yellow
    assert has(clips[1], (0.0, 1.0, 0.0)) and has(clips[1], (1.0, 1.0, 0.0)) and not has(clips[1], (1.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="captions"):
        RealClips("shapes").sample(3, 6, cond=caps)
