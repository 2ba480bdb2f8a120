"""Chapter 10's video denoiser and video autoencoder: layouts against PyTorch, conditioning, guidance, sampling."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vidgen_edu.models.blocks import patchify
from vidgen_edu.models.dit import FlowVideoGenerator, VideoDiT, tubelets, untubelets
from vidgen_edu.models.video_vae import TubeletVAE

CAPS = ["a red square moves left; a blue circle moves up", "a green cross moves down"]


def _net(**kw) -> VideoDiT:
    torch.manual_seed(0)
    net = VideoDiT(**{"channels": 3, "size": 8, "frames": 4, "patch": 2, "width": 32, "depth": 2, "heads": 2} | kw)
    nn.init.normal_(net.head.weight, std=0.02)  # the zero-initialized head would hide every dependence
    for block in net.blocks:
        nn.init.normal_(block.ada.weight, std=0.02)
    return net.eval()


def test_tubelets_round_trip_and_match_patchify_for_one_frame():
    x = torch.randn(2, 6, 3, 8, 8)
    for tau in (1, 2, 3):
        assert torch.equal(untubelets(tubelets(x, tau, 4), tau, 4, 3, 8), x)
    assert torch.equal(tubelets(x, 1, 4), patchify(x, 4))


def test_tubelet_embedding_equals_conv3d():
    """A linear map of each tubelet is a Conv3d with kernel = stride = (τ, p, p) (ViViT's tubelet embedding)."""
    torch.manual_seed(0)
    conv = nn.Conv3d(3, 16, kernel_size=(2, 4, 4), stride=(2, 4, 4))
    linear = nn.Linear(2 * 3 * 4 * 4, 16)
    with torch.no_grad():  # Conv3d weight (D, C, τ, p, p) → tubelet order (τ, C, p, p)
        linear.weight.copy_(conv.weight.permute(0, 2, 1, 3, 4).reshape(16, -1))
        linear.bias.copy_(conv.bias)
    x = torch.randn(2, 6, 3, 8, 8)
    ours = linear(tubelets(x, 2, 4))  # (B, T/τ, N, D)
    ref = conv(x.transpose(1, 2)).flatten(3).permute(0, 2, 3, 1)  # (B, D, T/τ, 2, 2) → (B, T/τ, N, D)
    torch.testing.assert_close(ours, ref)


def test_dit_shapes_and_zero_initial_velocity():
    net = VideoDiT(3, 8, 4, patch=2, width=32, depth=2, heads=2, caption_len=11)
    x = torch.randn(2, 4, 3, 8, 8)
    words = net.encode_captions(CAPS, 2, x.device)
    v = net(x, torch.rand(2), words)
    assert v.shape == x.shape and torch.equal(v, torch.zeros_like(v))  # adaLN-Zero and a zero head: v = 0


def test_dit_sees_the_caption_the_time_and_every_frame():
    net = _net(caption_len=11, pooled=True)
    x = torch.randn(2, 4, 3, 8, 8)
    t = torch.full((2,), 0.5)
    words = net.encode_captions(CAPS, 2, x.device)
    v = net(x, t, words)
    assert not torch.allclose(v, net(x, t, words.flip(0)))  # another caption, another velocity
    assert not torch.allclose(v, net(x, t + 0.3, words))
    y = x.clone()
    y[:, -1] += 1.0  # change only the last frame: full attention reaches the first frame's output
    assert not torch.allclose(v[:, 0], net(y, t, words)[:, 0])


def test_dit_bad_inputs():
    net = _net(caption_len=11)
    with pytest.raises(ValueError, match="VideoDiT"):
        net(torch.randn(2, 4, 1, 8, 8), torch.rand(2))
    with pytest.raises(ValueError, match="t must"):
        net(torch.randn(2, 4, 3, 8, 8), torch.rand(3))
    with pytest.raises(ValueError, match="captions"):
        net.encode_captions(CAPS[:1], 2, torch.device("cpu"))
    with pytest.raises(ValueError, match="unknown word"):
        net.encode_captions(["a purple square moves left"], 1, torch.device("cpu"))
    with pytest.raises(ValueError, match="caption_len=0"):
        _net()(torch.randn(1, 4, 3, 8, 8), torch.rand(1), torch.zeros(1, 11, dtype=torch.long))
    with pytest.raises(ValueError, match="multiple"):
        VideoDiT(3, 8, 5, tubelet=2)


def test_guidance_one_is_the_conditional_velocity_zero_the_unconditional_and_w_mixes_linearly():
    gen = FlowVideoGenerator(_net(caption_len=11))
    x, t = torch.randn(2, 4, 3, 8, 8), torch.rand(2)
    words = gen.net.encode_captions(CAPS, 2, x.device)
    cond, uncond = gen.net(x, t, words), gen.net(x, t, torch.zeros_like(words))
    torch.testing.assert_close(gen.velocity(x, t, words, 1.0), cond)
    torch.testing.assert_close(gen.velocity(x, t, words, 3.0), uncond + 3.0 * (cond - uncond))
    torch.testing.assert_close(gen.velocity(x, t, words, 0.0), uncond)  # w = 0: the unconditional model alone


def test_sampling_is_reproducible_in_range_and_checks_its_arguments():
    gen = FlowVideoGenerator(_net(caption_len=11))
    a = gen.sample(2, cond=CAPS, steps=3, guidance=2.0, generator=torch.Generator().manual_seed(1))
    b = gen.sample(2, cond=CAPS, steps=3, guidance=2.0, generator=torch.Generator().manual_seed(1))
    c = gen.sample(2, cond=CAPS, steps=3, guidance=2.0, generator=torch.Generator().manual_seed(2))
    assert a.shape == (2, 4, 3, 8, 8) and torch.equal(a, b) and not torch.equal(a, c)
    assert a.min() >= 0 and a.max() <= 1 and not a.requires_grad
    assert gen.sample(2, 3, steps=2, solver="heun").shape == (2, 3, 3, 8, 8)  # shorter clips: the first frames
    for bad in ({"T": 5}, {"solver": "rk4"}, {"steps": 0}, {"cond": CAPS[:1]}):
        with pytest.raises(ValueError):
            gen.sample(2, **bad)
    with pytest.raises(ValueError, match="unconditional"):
        FlowVideoGenerator(_net()).sample(2, cond=CAPS)


def test_a_generator_with_an_exact_velocity_reaches_the_data():
    """With v(x, t) = (x_1 − x)/(1 − t), the field of a single data point x_1, Euler lands on x_1 exactly."""
    target = torch.rand(1, 4, 3, 8, 8) * 2 - 1

    class Exact(nn.Module):
        channels, size, frames, tokenizer = 3, 8, 4, None

        def forward(self, x, t, words=None, known=None):
            return (target - x) / (1 - t).clamp_min(1e-6).view(-1, 1, 1, 1, 1)

    gen = FlowVideoGenerator(_net())
    gen.net = Exact()
    torch.testing.assert_close(gen.sample(1, steps=5), (target + 1) / 2)


def test_tubelet_vae_shapes_scale_and_bad_inputs():
    torch.manual_seed(0)
    vae = TubeletVAE(3, 32, 10, tubelet=5, latent_channels=4, width=16).eval()
    clips = torch.rand(2, 10, 3, 32, 32)
    logits, mu, logvar = vae(clips)
    assert logits.shape == clips.shape and mu.shape == logvar.shape == (2, 2, 4, 8, 8)
    vae.scale.fill_(2.0)
    torch.testing.assert_close(vae.latents(clips), vae.encode(clips)[0] / 2.0)
    z = vae.latents(clips)
    torch.testing.assert_close(vae.decode(z), torch.sigmoid(vae.decode_logits(2.0 * z)))
    assert "scale" in vae.state_dict()
    with pytest.raises(ValueError):
        vae.encode(torch.rand(2, 10, 1, 32, 32))
    with pytest.raises(ValueError, match="tubelets"):
        vae.encode(torch.rand(2, 7, 3, 32, 32))
    with pytest.raises(ValueError, match="multiple"):
        TubeletVAE(3, 32, 10, tubelet=4)


def test_tubelets_are_encoded_independently():
    """Changing the frames of one tubelet changes only its own latent frame."""
    torch.manual_seed(0)
    vae = TubeletVAE(1, 32, 10, tubelet=5, latent_channels=4, width=16).eval()
    clips = torch.rand(1, 10, 1, 32, 32)
    other = clips.clone()
    other[:, 5:] = torch.rand(1, 5, 1, 32, 32)
    a, b = vae.encode(clips)[0], vae.encode(other)[0]
    assert torch.equal(a[:, 0], b[:, 0]) and not torch.equal(a[:, 1], b[:, 1])


def test_generator_refuses_a_vae_that_does_not_match_the_network():
    vae = TubeletVAE(3, 32, 10, tubelet=10, latent_channels=8, width=16)
    with pytest.raises(ValueError, match="latents"):
        FlowVideoGenerator(VideoDiT(4, 8, 1, patch=2, width=32, depth=1, heads=2), vae)
    gen = FlowVideoGenerator(VideoDiT(8, 8, 1, patch=2, width=32, depth=1, heads=2), vae)
    assert (gen.channels, gen.size, gen.frames) == (3, 32, 10)
    assert gen.sample(2, steps=2).shape == (2, 10, 3, 32, 32)


def _masked_flow() -> FlowVideoGenerator:
    torch.manual_seed(0)
    vae = TubeletVAE(1, 32, 10, tubelet=5, latent_channels=4, width=16).eval()
    net = VideoDiT(4, 8, 2, patch=2, width=32, depth=2, heads=2, masking=True)
    nn.init.normal_(net.head.weight, std=0.02)
    for block in net.blocks:
        nn.init.normal_(block.ada.weight, std=0.02)
    return FlowVideoGenerator(net, vae).eval()


def test_known_frames_change_the_velocity_and_are_checked():
    flow = _masked_flow()
    nn.init.normal_(flow.net.known)
    x, t = torch.randn(2, 2, 4, 8, 8), torch.rand(2)
    known = torch.tensor([[True, False], [True, False]])
    assert not torch.allclose(flow.net(x, t, None, known), flow.net(x, t))
    with pytest.raises(ValueError, match="known must"):
        flow.net(x, t, None, known[:, :1])
    with pytest.raises(ValueError, match="masking=False"):
        _net()(torch.randn(1, 4, 3, 8, 8), torch.rand(1), None, torch.zeros(1, 4, dtype=torch.bool))


def test_given_latent_frames_stay_fixed_through_sampling():
    flow = _masked_flow()
    context = torch.randn(3, 1, 4, 8, 8)
    for solver in ("euler", "heun"):
        z = flow.sample_latents(3, steps=4, solver=solver, context=context, generator=torch.Generator().manual_seed(0))
        assert torch.equal(z[:, :1], context) and not torch.equal(z[:, 1:], context)
    with pytest.raises(ValueError, match="context"):
        flow.sample_latents(3, steps=2, context=torch.randn(3, 2, 4, 8, 8))  # every frame given: nothing to generate


def test_flow_predictor_returns_futures_in_the_stochastic_layout():
    from vidgen_edu.models.dit import FlowPredictor

    pred = FlowPredictor(_masked_flow(), steps=2)
    context = torch.rand(2, 5, 1, 32, 32)
    a = pred.sample(context, 5, 3, generator=torch.Generator().manual_seed(0))
    b = pred.sample(context, 5, 3, generator=torch.Generator().manual_seed(0))
    assert a.shape == (2, 3, 5, 1, 32, 32) and torch.equal(a, b) and a.min() >= 0 and a.max() <= 1
    assert not torch.equal(a[:, 0], a[:, 1])  # different futures of one context
    with pytest.raises(ValueError, match="tubelets"):
        pred.sample(torch.rand(2, 4, 1, 32, 32), 5, 1)
    with pytest.raises(ValueError, match="masking"):
        FlowPredictor(FlowVideoGenerator(_net()))
