"""The all-at-once predictor (chapter 04), its training symmetries, and SSIM as a loss."""

from __future__ import annotations

import pytest
import torch

from vidgen_edu.data import make_dataset
from vidgen_edu.data.augment import random_symmetry
from vidgen_edu.evaluation import PREDICTION
from vidgen_edu.metrics import ssim
from vidgen_edu.models.api import FramePredictor
from vidgen_edu.models.simvp import SimVPPredictor, TranslatorBlock


@pytest.fixture
def model() -> SimVPPredictor:
    torch.manual_seed(0)
    return SimVPPredictor(context=4, future=3, width=8, hidden=16, depth=2).eval()


def test_is_a_frame_predictor_with_the_contract_shapes(model):
    assert isinstance(model, FramePredictor)
    clips = torch.rand(2, 4, 1, 32, 32)
    logits = model.predict_logits(clips)
    assert logits.shape == (2, 3, 1, 32, 32) and logits.requires_grad
    frames = model.rollout(clips, 3)
    assert frames.shape == (2, 3, 1, 32, 32) and not frames.requires_grad
    assert 0 <= frames.min() and frames.max() <= 1
    torch.testing.assert_close(frames, torch.sigmoid(logits.detach()))  # one pass: the same frames


def test_rollout_beyond_one_pass_feeds_its_own_frames_back(model):
    clips = torch.rand(2, 4, 1, 32, 32)
    frames = model.rollout(clips, 7)  # 3 + 3 + 1: three passes
    assert frames.shape == (2, 7, 1, 32, 32)
    second = model.rollout(torch.cat([clips, frames[:, :3]], dim=1), 3)  # the second pass by hand
    torch.testing.assert_close(frames[:, 3:6], second)


def test_short_context_is_padded_with_its_first_frame(model):
    clip = torch.rand(1, 2, 1, 32, 32)
    padded = torch.cat([clip[:, :1], clip[:, :1], clip], dim=1)  # 4 frames: the first one repeated
    torch.testing.assert_close(model.rollout(clip, 3), model.rollout(padded, 3))
    longer = torch.cat([torch.rand(1, 5, 1, 32, 32), padded], dim=1)  # only the last 4 frames count
    torch.testing.assert_close(model.rollout(longer, 3), model.rollout(padded, 3))


def test_forward_predicts_each_next_frame_from_its_prefix(model):
    clips = torch.rand(2, 6, 1, 32, 32)
    logits = model(clips)
    assert logits.shape == clips.shape
    for t in (0, 3, 5):
        torch.testing.assert_close(logits[:, t], model.predict_logits(clips[:, :t + 1])[:, 0],
                                   atol=1e-5, rtol=1e-5)


def test_bad_inputs_raise_clear_errors(model):
    with pytest.raises(ValueError, match=r"\(B, T, 1, 32, 32\)"):
        model.rollout(torch.rand(2, 4, 3, 32, 32), 3)
    with pytest.raises(ValueError, match="horizon"):
        model.rollout(torch.rand(2, 4, 1, 32, 32), 0)
    with pytest.raises(ValueError, match="divisible"):
        SimVPPredictor(size=30)
    with pytest.raises(ValueError, match="context and future"):
        SimVPPredictor(future=0)


def test_translator_blocks_start_as_the_identity():
    block = TranslatorBlock(16)
    x = torch.randn(2, 16, 8, 8)
    torch.testing.assert_close(block(x), x)


def test_an_untrained_model_predicts_dark_frames(model):
    """The output bias starts at −4: frames are mostly black, sigmoid(−4) ≈ 0.018."""
    frames = model.rollout(torch.zeros(2, 4, 1, 32, 32), 3)
    assert frames.mean() < 0.1


def test_a_few_steps_fit_one_batch():
    torch.manual_seed(0)
    net = SimVPPredictor(context=4, future=2, width=8, hidden=16, depth=2)
    clips = make_dataset("balls", "train", num_clips=4, T=6, seed=0).clips()
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(60):
        logits = net.predict_logits(clips[:, :4])
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, clips[:, 4:])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


# -- the symmetries ------------------------------------------------------------------------------
def test_symmetries_rearrange_pixels_and_never_change_values():
    clips = make_dataset("balls", "train", num_clips=64, T=5, seed=0).clips()
    out = random_symmetry(clips, torch.Generator().manual_seed(0))
    assert out.shape == clips.shape
    torch.testing.assert_close(out.flatten(1).sort(dim=1).values, clips.flatten(1).sort(dim=1).values)
    changed = (out != clips).flatten(1).any(1)
    assert 0 < changed.sum() < len(clips)  # some clips kept, most not (1/16 are the identity)


def test_each_symmetry_is_one_of_the_sixteen():
    clip = torch.rand(1, 3, 1, 8, 8)
    candidates = []
    for t in (False, True):
        for tr in (False, True):
            for fy in (False, True):
                for fx in (False, True):
                    c = clip.flip(-1) if fx else clip
                    c = c.flip(-2) if fy else c
                    c = c.transpose(-1, -2) if tr else c
                    candidates.append(c.flip(1) if t else c)
    g = torch.Generator().manual_seed(1)
    seen = set()
    for _ in range(200):
        out = random_symmetry(clip, g)
        matches = [i for i, c in enumerate(candidates) if torch.equal(out, c)]
        assert matches
        seen.add(matches[0])
    assert len(seen) == 16


def test_digits_keep_their_orientation_without_flips():
    clips = torch.rand(32, 4, 1, 8, 8)
    out = random_symmetry(clips, torch.Generator().manual_seed(0), flips=False)
    for a, b in zip(clips, out):
        assert torch.equal(a, b) or torch.equal(a.flip(0), b)  # the same clip, forwards or backwards


def test_symmetries_reject_bad_shapes():
    with pytest.raises(ValueError, match="B, T, C, H, W"):
        random_symmetry(torch.rand(3, 1, 8, 8))
    with pytest.raises(ValueError, match="square"):
        random_symmetry(torch.rand(2, 3, 1, 8, 6))
    random_symmetry(torch.rand(2, 3, 1, 8, 6), flips=False)  # time reversal alone is fine


# -- SSIM as a loss -------------------------------------------------------------------------------
def test_ssim_with_gradients_matches_the_metric():
    torch.manual_seed(0)
    x, y = torch.rand(3, 2, 1, 16, 16), torch.rand(3, 2, 1, 16, 16)
    x.requires_grad_(True)
    value = ssim(x, y, grad=True)
    assert value.dtype == torch.float32 and value.requires_grad
    torch.testing.assert_close(value.detach(), ssim(x, y), atol=1e-5, rtol=1e-5)
    (1 - value.mean()).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_ssim_gradient_agrees_with_finite_differences():
    torch.manual_seed(0)
    x = torch.rand(1, 1, 12, 12, dtype=torch.float64, requires_grad=True)
    y = torch.rand(1, 1, 12, 12, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda a: ssim(a, y, grad=True), (x,))


def test_empty_frame_baseline_is_black():
    clips = torch.rand(2, 20, 1, 32, 32)
    empty = PREDICTION.empty_frame(clips)
    assert empty.shape == (2, PREDICTION.horizon, 1, 32, 32) and empty.max() == 0
