"""The causal video transformer and the shared blocks: patches, positions, causality, adaLN, rollout (chapter 05)."""

import pytest
import torch
from torch import nn

from vidgen_edu.models import blocks
from vidgen_edu.models.transformer import (
    Block,
    DividedSpaceTimeBlock,
    SpaceTimeEmbedding,
    VideoTransformer,
    block_causal_mask,
    count_parameters,
    patchify,
    sinusoidal_encoding,
    spacetime_encoding,
    spacetime_route,
    unpatchify,
)


def _video(B=2, T=5, C=1, S=16, seed=0):
    return torch.rand(B, T, C, S, S, generator=torch.Generator().manual_seed(seed))


def _small(attention="divided", fused=True, C=1):
    torch.manual_seed(0)
    return VideoTransformer(channels=C, size=16, patch=4, width=24, depth=2, heads=3, max_frames=8,
                            attention=attention, fused=fused).eval()


def test_patchify_roundtrip_and_conv_layout():
    x = _video(C=3)
    p = patchify(x, 4)
    assert p.shape == (2, 5, 16, 48)
    torch.testing.assert_close(unpatchify(p, 4, 3, 16), x)
    # a Linear on patches equals a stride-p convolution on frames (same weights, reshaped)
    conv = nn.Conv2d(3, 7, kernel_size=4, stride=4, bias=False)
    lin = conv.weight.detach().reshape(7, -1)
    via_conv = conv(x.flatten(0, 1)).flatten(2).transpose(1, 2).reshape(2, 5, 16, 7)
    torch.testing.assert_close(p @ lin.T, via_conv, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError):
        patchify(x, 5)
    with pytest.raises(ValueError):
        patchify(x[0], 4)


def test_sinusoidal_encoding_values_and_relative_offset():
    pe = sinusoidal_encoding(50, 16)
    assert pe.shape == (50, 16)
    torch.testing.assert_close(pe[:, 0], torch.arange(50.0).sin())
    torch.testing.assert_close(pe[:, 1], torch.arange(50.0).cos())
    # PE[pos + k] = M_k PE[pos] with M_k block-diagonal 2x2 rotations that do not depend on pos
    k = 7
    omega = 10000.0 ** (-torch.arange(0, 16, 2, dtype=torch.float64) / 16)
    c, s = (k * omega).cos(), (k * omega).sin()
    M = torch.zeros(16, 16, dtype=torch.float64)
    for i in range(8):
        M[2 * i:2 * i + 2, 2 * i:2 * i + 2] = torch.stack([torch.stack([c[i], s[i]]), torch.stack([-s[i], c[i]])])
    pe64 = pe.double()
    torch.testing.assert_close(pe64[:-k] @ M.T, pe64[k:], atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError):
        sinusoidal_encoding(4, 7)


def test_spacetime_encodings_shapes_and_factorization():
    pe = spacetime_encoding(6, 4, 24)
    assert pe.shape == (6, 16, 24)
    # tokens of the same frame share the time part; different frames differ there
    assert torch.equal(pe[2, 0, :8], pe[2, 15, :8])
    assert not torch.equal(pe[2, 0, :8], pe[3, 0, :8])
    emb = SpaceTimeEmbedding(max_frames=8, grid=4, width=12)
    e = emb(5)
    assert e.shape == (5, 16, 12)
    torch.testing.assert_close(e[3, 6] - e[1, 6], emb.time[3] - emb.time[1])
    with pytest.raises(ValueError):
        emb(9)


@pytest.mark.parametrize("attention", ["divided", "full"])
def test_forward_shapes_and_parameter_count(attention):
    model = _small(attention)
    x = _video()
    assert model(x).shape == x.shape
    assert count_parameters(model) == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("attention", ["divided", "full"])
def test_perturbing_a_future_frame_leaves_earlier_outputs_unchanged(attention):
    model = _small(attention)
    x = _video(T=6)
    y = x.clone()
    y[:, 4] = torch.rand_like(y[:, 4])  # change frame 4 only
    out_x, out_y = model(x), model(y)
    torch.testing.assert_close(out_x[:, :4], out_y[:, :4], atol=1e-6, rtol=1e-6)
    assert (out_x[:, 4:] - out_y[:, 4:]).abs().max() > 1e-4  # and the model does look at frame 4 later


def test_gradient_of_an_early_output_ignores_later_frames():
    model = _small()
    x = _video(T=5).requires_grad_(True)
    model(x)[:, 2].sum().backward()
    assert torch.all(x.grad[:, 3:] == 0)
    assert x.grad[:, :3].abs().sum() > 0


@pytest.mark.parametrize("attention", ["divided", "full"])
def test_fused_and_from_scratch_paths_give_the_same_numbers(attention):
    fused, scratch = _small(attention, fused=True), _small(attention, fused=False)
    scratch.load_state_dict(fused.state_dict())
    x = _video()
    torch.testing.assert_close(fused(x), scratch(x), atol=1e-5, rtol=1e-5)


def test_divided_block_is_causal_in_time_and_full_in_space():
    torch.manual_seed(0)
    blk = DividedSpaceTimeBlock(8, 2).eval()
    x = torch.randn(1, 4, 6, 8)
    y = x.clone()
    y[0, 1, 5] += torch.randn(8)  # one token of frame 1 (not a constant shift: LayerNorm would remove it)
    d = (blk(x) - blk(y)).abs().sum(-1)[0]  # (T, N)
    assert torch.all(d[0] == 0)  # frame 0 does not see frame 1
    assert torch.all(d[1:] > 1e-3)  # every token of frames >= 1 does (space mixes all patches)


def test_block_with_block_causal_mask():
    mask = block_causal_mask(3, 2)
    assert mask.shape == (6, 6)
    assert mask[1, 0] and mask[0, 1] and not mask[1, 2] and mask[5, 0]
    torch.manual_seed(0)
    blk = Block(8, 2).eval()
    x = torch.randn(2, 6, 8)
    assert blk(x, attn_mask=mask).shape == (2, 6, 8)


def test_rollout_shape_range_and_consistency_with_forward():
    model = _small()
    ctx = _video(T=4)
    pred = model.rollout(ctx, horizon=6)  # grows past max_frames=8: sliding window
    assert pred.shape == (2, 6, 1, 16, 16)
    assert pred.min() >= 0 and pred.max() <= 1
    with torch.no_grad():
        first = torch.sigmoid(model(ctx)[:, -1])
        second = torch.sigmoid(model(torch.cat([ctx, first[:, None]], 1))[:, -1])
    torch.testing.assert_close(pred[:, 0], first)
    torch.testing.assert_close(pred[:, 1], second)
    with pytest.raises(ValueError):
        model.rollout(ctx, horizon=0)


def test_attention_maps_shapes_causality_and_route():
    model = _small()
    x = _video(T=5)
    maps = model.attention_maps(x)
    T, N = 5, 16
    assert maps["time"].shape == (2, 2, 3, N, T, T)  # (depth, B, heads, N, T, T)
    assert maps["space"].shape == (2, 2, 3, T, N, N)
    assert torch.all(maps["time"].triu(1) == 0)
    torch.testing.assert_close(maps["space"].sum(-1), torch.ones(2, 2, 3, T, N))
    assert all(not m.store_weights and m.last_weights is None for m in model.modules() if hasattr(m, "store_weights"))
    route = spacetime_route(maps["time"][0, 0, 1], maps["space"][0, 0, 1], t=3, n=5)
    assert route.shape == (T, N)
    torch.testing.assert_close(route.sum(), torch.tensor(1.0))
    assert torch.all(route[4:] == 0)
    full = _small("full").attention_maps(x)["full"]
    assert full.shape == (2, 2, 3, T * N, T * N)
    assert torch.all(full[..., ~block_causal_mask(T, N)] == 0)


def test_training_step_reduces_loss():
    torch.manual_seed(0)
    model = _small().train()
    x = (_video(T=4) > 0.7).float()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(15):
        loss = nn.functional.binary_cross_entropy_with_logits(model(x)[:, :-1], x[:, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.05


def test_bad_inputs_raise_value_error():
    model = _small()
    with pytest.raises(ValueError):
        model(torch.rand(2, 5, 1, 15, 15))
    with pytest.raises(ValueError):
        model(torch.rand(5, 1, 16, 16))
    with pytest.raises(ValueError):
        model(torch.rand(2, 9, 1, 16, 16))  # longer than max_frames
    with pytest.raises(ValueError):
        VideoTransformer(size=16, patch=5)
    with pytest.raises(ValueError):
        VideoTransformer(attention="axial")
    with pytest.raises(ValueError):
        unpatchify(torch.rand(2, 5, 15, 16), 4, 1, 16)


def test_cached_rollout_equals_recomputing_the_whole_clip():
    model = _small()
    ctx = _video(T=3)
    for horizon in (1, 5, 8):  # 3 + 8 > max_frames = 8: the window slides
        cached = model.rollout(ctx, horizon)
        plain = model.rollout(ctx, horizon, use_cache=False)
        torch.testing.assert_close(cached, plain, atol=1e-5, rtol=1e-5)
    x = _video(T=4)
    caches = [None] * len(model.blocks)
    with torch.no_grad():
        steps = torch.stack([model.step(x[:, t], t, caches) for t in range(4)], dim=1)
        torch.testing.assert_close(steps, model(x), atol=1e-5, rtol=1e-5)


def test_transformer_reexports_the_shared_blocks():
    """Chapter 05 imports the pieces from ``transformer``; they are the ones in ``blocks``."""
    from vidgen_edu.models import transformer
    for name in ("Block", "DividedSpaceTimeBlock", "SpaceTimeEmbedding", "MLP", "block_causal_mask",
                 "count_parameters", "patchify", "unpatchify", "sinusoidal_encoding", "spacetime_encoding"):
        assert getattr(transformer, name) is getattr(blocks, name), name
        assert name in transformer.__all__, name


def test_rollout_runs_without_gradients():
    model = _small().train()
    with torch.enable_grad():
        future = model.rollout(_video(T=3), horizon=2)
    assert not future.requires_grad


@pytest.mark.parametrize("fused", [True, False])
def test_causal_block_equals_a_causal_mask(fused):
    torch.manual_seed(0)
    causal = Block(8, 2, fused=fused, causal=True).eval()
    plain = Block(8, 2, fused=fused).eval()
    plain.load_state_dict(causal.state_dict())
    x = torch.randn(2, 5, 8)
    torch.testing.assert_close(causal(x), plain(x, attn_mask=torch.ones(5, 5, dtype=torch.bool).tril()),
                               atol=1e-6, rtol=1e-6)
    y = x.clone()
    y[:, 3] += 1.0
    torch.testing.assert_close(causal(y)[:, :3], causal(x)[:, :3], atol=1e-6, rtol=1e-6)
    with pytest.raises(ValueError):
        causal(x, attn_mask=torch.ones(5, 5, dtype=torch.bool))


def test_adaln_block_starts_as_identity_and_then_uses_the_condition():
    torch.manual_seed(0)
    blk = Block(8, 2, cond_dim=3)
    assert "ada.weight" in blk.state_dict() and "norm1.weight" not in blk.state_dict()
    x, c = torch.randn(2, 5, 8), torch.randn(2, 3)
    torch.testing.assert_close(blk(x, c), x, atol=0, rtol=0)  # adaLN-Zero: every gate is 0
    with torch.no_grad():
        blk.ada.weight.normal_()
    out = blk(x, c)
    assert out.shape == x.shape and not torch.allclose(out, x)
    assert not torch.allclose(out, blk(x, c + 1.0))  # the condition changes the output
    # each clip is modulated by its own condition only
    torch.testing.assert_close(blk(x[:1], c[:1]), out[:1], atol=1e-6, rtol=1e-5)
    # gradients reach the modulation from step 1 (its output gates the sublayers)
    blk2 = Block(8, 2, cond_dim=3)
    blk2(x, c).pow(2).sum().backward()
    assert blk2.ada.weight.grad.abs().sum() > 0


def test_conditioning_is_checked():
    torch.manual_seed(0)
    x = torch.randn(2, 5, 8)
    with pytest.raises(ValueError, match="cond_dim"):
        Block(8, 2)(x, torch.randn(2, 3))  # an unconditioned block takes no cond
    with pytest.raises(ValueError, match="cond"):
        Block(8, 2, cond_dim=3)(x)
    with pytest.raises(ValueError, match=r"\(B, 3\)"):
        Block(8, 2, cond_dim=3)(x, torch.randn(2, 4))
    with pytest.raises(ValueError):
        DividedSpaceTimeBlock(8, 2, cond_dim=3)(torch.randn(2, 3, 4, 8))


def test_conditioned_divided_block_identity_step_and_bidirectional_time():
    torch.manual_seed(0)
    blk = DividedSpaceTimeBlock(8, 2, cond_dim=3).eval()
    x, c = torch.randn(2, 4, 6, 8), torch.randn(2, 3)
    torch.testing.assert_close(blk(x, c), x, atol=0, rtol=0)
    with torch.no_grad():
        blk.ada.weight.normal_()
    out = blk(x, c)
    torch.testing.assert_close(blk(x[1:], c[1:]), out[1:], atol=1e-5, rtol=1e-5)  # per-clip modulation
    # frame by frame with the cache equals the whole clip, conditioned too
    past, steps = None, []
    for t in range(4):
        y, past = blk.step(x[:, t:t + 1], past, c)
        steps.append(y)
    torch.testing.assert_close(torch.cat(steps, dim=1), out, atol=1e-5, rtol=1e-5)
    # causal=False: frame 0 sees frame 3 (a diffusion model denoises all frames together)
    both = DividedSpaceTimeBlock(8, 2, causal=False).eval()
    y = x.clone()
    y[:, 3] += torch.randn(6, 8)
    assert (both(x)[:, 0] - both(y)[:, 0]).abs().max() > 1e-4
    with pytest.raises(ValueError):
        both.step(x[:, :1])


def test_check_video_names_the_expected_shape():
    blocks.check_video(torch.zeros(2, 3, 1, 8, 8), 1, 8, "M")
    for bad in (torch.zeros(3, 1, 8, 8), torch.zeros(2, 3, 3, 8, 8), torch.zeros(2, 0, 1, 8, 8), [1, 2]):
        with pytest.raises(ValueError, match=r"M expects video of shape \(B, T, 1, 8, 8\)"):
            blocks.check_video(bad, 1, 8, "M")
