"""The model contracts of vidgen_edu.models.api, checked on every frame predictor of the library."""

from __future__ import annotations

import pytest
import torch

from vidgen_edu.models.api import FramePredictor, VideoGenerator, check_samples
from vidgen_edu.models.predictor import NextFramePredictor
from vidgen_edu.models.transformer import VideoTransformer
from vidgen_edu.models.vae import VAE, ConvVAE

C, S = 1, 16

PREDICTORS = {
    "gru": lambda: NextFramePredictor(channels=C, size=S, hidden_size=8, width=4, core="gru"),
    "gru-scratch": lambda: NextFramePredictor(channels=C, size=S, hidden_size=8, width=4, core="gru",
                                              from_scratch=True),
    "convgru": lambda: NextFramePredictor(channels=C, size=S, hidden_size=4, width=4, core="convgru"),
    "transformer": lambda: VideoTransformer(channels=C, size=S, patch=4, width=12, depth=2, heads=2, max_frames=8),
    "transformer-full": lambda: VideoTransformer(channels=C, size=S, patch=4, width=12, depth=1, heads=2,
                                                 max_frames=8, attention="full"),
    "transformer-rgb": lambda: VideoTransformer(channels=3, size=8, patch=4, width=12, depth=1, heads=2,
                                                max_frames=8),
}


@pytest.fixture(params=sorted(PREDICTORS))
def predictor(request) -> torch.nn.Module:
    torch.manual_seed(0)
    return PREDICTORS[request.param]()


def _clip(model, B: int = 2, T: int = 6, seed: int = 0) -> torch.Tensor:
    return torch.rand(B, T, model.channels, model.size, model.size, generator=torch.Generator().manual_seed(seed))


def test_is_a_frame_predictor(predictor):
    assert isinstance(predictor, FramePredictor)
    assert not isinstance(predictor, VideoGenerator)
    assert isinstance(predictor.channels, int) and isinstance(predictor.size, int)


def test_forward_returns_logits_of_the_input_shape(predictor):
    x = _clip(predictor)
    logits = predictor(x)
    assert isinstance(logits, torch.Tensor) and logits.shape == x.shape
    assert logits.requires_grad  # forward is for training: gradients flow


def test_rollout_gives_frames_without_gradients(predictor):
    ctx = _clip(predictor, T=3)
    with torch.enable_grad():
        future = predictor.rollout(ctx, 4)
    check_samples(future, 2, 4, predictor.channels, predictor.size, name="rollout")
    assert future.grad_fn is None
    assert torch.equal(future, predictor.rollout(ctx, 4))  # deterministic


def test_rollout_first_frame_is_sigmoid_of_forward(predictor):
    ctx = _clip(predictor, T=3)
    with torch.no_grad():
        first = torch.sigmoid(predictor(ctx)[:, -1])
    torch.testing.assert_close(predictor.rollout(ctx, 1)[:, 0], first, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("t", [0, 2, 4])
def test_forward_is_causal(predictor, t):
    """Changing frame t + 1 leaves logits[:, :t + 1] (predictions made before seeing it) unchanged."""
    predictor.eval()
    x = _clip(predictor)
    y = x.clone()
    y[:, t + 1] = torch.rand(y[:, t + 1].shape, generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        out_x, out_y = predictor(x), predictor(y)
    torch.testing.assert_close(out_y[:, :t + 1], out_x[:, :t + 1], atol=1e-6, rtol=1e-6)
    assert (out_y[:, t + 1] - out_x[:, t + 1]).abs().max() > 1e-5  # and it does look at frame t + 1


def test_bad_shapes_raise_value_error(predictor):
    C, S = predictor.channels, predictor.size
    bad = [
        torch.rand(3, C, S, S),  # a clip without the batch axis
        torch.rand(2, 3, C + 1, S, S),  # wrong channels
        torch.rand(2, 3, C, S, S // 2),  # not square
        torch.rand(2, 3, C, 2 * S, 2 * S),  # wrong size
        torch.rand(2, 0, C, S, S),  # no frames
    ]
    for x in bad:
        with pytest.raises(ValueError, match=rf"\(B, T, {C}, {S}, {S}\)"):
            predictor(x)
        with pytest.raises(ValueError):
            predictor.rollout(x, 2)
    with pytest.raises(ValueError):
        predictor.rollout(_clip(predictor, T=2), 0)


def test_vaes_are_not_frame_predictors():
    """A VAE works on frames, not clips: it returns (logits, mu, logvar) and has no rollout."""
    assert not isinstance(VAE(), FramePredictor)
    assert not isinstance(ConvVAE(width=4), FramePredictor)


class _NoiseGenerator(torch.nn.Module):
    """The smallest VideoGenerator: uniform noise; ``cond`` is ignored but checked."""

    def __init__(self, channels: int = 3, size: int = 8, frames: int = 5) -> None:
        super().__init__()
        self.channels, self.size, self.frames = channels, size, frames

    @torch.no_grad()
    def sample(self, n, T=None, *, cond=None, generator=None, steps: int = 1):
        if cond is not None and len(cond) != n:
            raise ValueError(f"cond must hold {n} captions, got {len(cond)}")
        T = self.frames if T is None else T
        return torch.rand(n, T, self.channels, self.size, self.size, generator=generator)


def test_video_generator_protocol_and_check_samples():
    gen = _NoiseGenerator()
    assert isinstance(gen, VideoGenerator) and not isinstance(gen, FramePredictor)
    a = gen.sample(2, generator=torch.Generator().manual_seed(0))
    check_samples(a, 2, gen.frames, 3, 8)
    b = gen.sample(2, cond=["a red square moves left", "a blue circle moves down"],
                   generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    check_samples(gen.sample(3, T=2), 3, 2, 3, 8)


@pytest.mark.parametrize("x,match", [
    (torch.rand(2, 4, 3, 8, 8), "shape"),  # wrong n
    (torch.rand(3, 4, 3, 8, 8) * 2, r"\[0, 1\]"),
    (torch.full((3, 4, 3, 8, 8), float("nan")), "NaN"),
    (torch.rand(3, 4, 3, 8, 8, requires_grad=True), "no_grad"),
    (torch.ones(3, 4, 3, 8, 8, dtype=torch.uint8), "float"),
    ([0.5], "shape"),
])
def test_check_samples_rejects(x, match):
    with pytest.raises(ValueError, match=match):
        check_samples(x, 3, 4, 3, 8)
