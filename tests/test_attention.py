"""Attention from scratch equals PyTorch's fused kernel; multi-head attention; shape errors (chapter 05)."""

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from vidgen_edu.models.attention import (
    MultiheadAttention,
    attend_along,
    attention_weights,
    causal_mask,
    scaled_dot_product_attention,
)


def _qkv(lead, L, S, E, Ev, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(*lead, L, E, generator=g, dtype=dtype)
    k = torch.randn(*lead, S, E, generator=g, dtype=dtype)
    v = torch.randn(*lead, S, Ev, generator=g, dtype=dtype)
    return q, k, v


def _tol(dtype):
    return {"atol": 1e-5, "rtol": 1e-5} if dtype == torch.float32 else {"atol": 1e-12, "rtol": 1e-10}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("seed", range(6))
def test_matches_pytorch_on_random_shapes(seed, dtype):
    g = torch.Generator().manual_seed(100 + seed)
    nlead = int(torch.randint(0, 4, (1,), generator=g))
    lead = [int(d) for d in torch.randint(1, 4, (nlead,), generator=g)]
    L, S, E, Ev = (int(d) for d in torch.randint(1, 9, (4,), generator=g))
    q, k, v = _qkv(lead, L, S, E, Ev, dtype, seed)
    ours = scaled_dot_product_attention(q, k, v)
    ref = F.scaled_dot_product_attention(q, k, v)
    assert ours.shape == (*lead, L, Ev)
    torch.testing.assert_close(ours, ref, **_tol(dtype))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_boolean_mask_means_may_attend(dtype):
    q, k, v = _qkv((2, 3), 5, 7, 8, 4, dtype)
    g = torch.Generator().manual_seed(1)
    mask = torch.rand(5, 7, generator=g) > 0.4
    mask[:, 0] = True  # every query may attend somewhere
    ours = scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(ours, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), **_tol(dtype))
    # forbidden keys get exactly zero weight, and changing their values changes nothing
    w = attention_weights(q, k, attn_mask=mask)
    assert torch.all(w[..., ~mask] == 0)
    v2 = v.clone()
    assert (~mask[0]).any()
    v2[..., ~mask[0], :] += 100.0  # perturb the values of keys that query 0 may not see
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v2, attn_mask=mask)[..., 0, :], ours[..., 0, :])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_float_mask_is_added_to_scores(dtype):
    q, k, v = _qkv((2,), 4, 6, 5, 3, dtype)
    bias = torch.randn(2, 4, 6, dtype=dtype, generator=torch.Generator().manual_seed(3))
    bias[0, 1, 2] = float("-inf")
    ours = scaled_dot_product_attention(q, k, v, attn_mask=bias)
    torch.testing.assert_close(ours, F.scaled_dot_product_attention(q, k, v, attn_mask=bias), **_tol(dtype))
    # the bias really is added: scores + b equals explicit softmax
    manual = torch.softmax(q @ k.transpose(-2, -1) / 5 ** 0.5 + bias, dim=-1) @ v
    torch.testing.assert_close(ours, manual, **_tol(dtype))


@pytest.mark.parametrize("L,S", [(5, 5), (3, 7), (7, 3), (1, 4)])
def test_causal_matches_pytorch_also_when_lengths_differ(L, S):
    q, k, v = _qkv((2, 2), L, S, 6, 5, torch.float64)
    ours = scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(ours, F.scaled_dot_product_attention(q, k, v, is_causal=True))
    expected = torch.ones(L, S, dtype=torch.bool).tril()
    assert torch.equal(causal_mask(L, S), expected)
    torch.testing.assert_close(ours, scaled_dot_product_attention(q, k, v, attn_mask=expected))


def test_fully_masked_row_returns_zeros_like_pytorch():
    q, k, v = _qkv((2,), 4, 5, 8, 3)
    mask = torch.ones(4, 5, dtype=torch.bool)
    mask[2] = False
    ours = scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert torch.isfinite(ours).all()
    assert torch.all(ours[:, 2] == 0)
    torch.testing.assert_close(ours, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    # gradients stay finite too
    q.requires_grad_(True)
    scaled_dot_product_attention(q, k, v, attn_mask=mask).sum().backward()
    assert torch.isfinite(q.grad).all()


@pytest.mark.parametrize("scale", [0.0, 0.05, 1.0, 3.0])
def test_custom_scale(scale):
    q, k, v = _qkv((3,), 6, 4, 8, 8, torch.float64)
    ours = scaled_dot_product_attention(q, k, v, scale=scale, is_causal=True)
    torch.testing.assert_close(ours, F.scaled_dot_product_attention(q, k, v, scale=scale, is_causal=True))


def test_leading_dimensions_broadcast():
    q, _, _ = _qkv((2, 3), 4, 5, 8, 6)
    _, k, v = _qkv((1, 3), 4, 5, 8, 6, seed=1)
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v), F.scaled_dot_product_attention(q, k, v))


def test_gradients_match_pytorch():
    q, k, v = _qkv((2, 2), 5, 6, 4, 3, torch.float64)
    mask = torch.ones(5, 6, dtype=torch.bool).tril(1)
    grads = []
    for fn in (scaled_dot_product_attention, F.scaled_dot_product_attention):
        inputs = [t.clone().requires_grad_(True) for t in (q, k, v)]
        (fn(*inputs, attn_mask=mask) ** 2).sum().backward()
        grads.append([t.grad for t in inputs])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b)


def test_weights_are_a_distribution_and_scale_matters():
    q, k, _ = _qkv((), 6, 9, 64, 1)
    w = attention_weights(q * 4, k * 4)
    torch.testing.assert_close(w.sum(-1), torch.ones(6))
    # without the 1/sqrt(d) scale, large-variance scores saturate the softmax (rows near one-hot)
    assert attention_weights(q * 4, k * 4, scale=1.0).amax(-1).mean() > w.amax(-1).mean()


@pytest.mark.parametrize(
    "shapes",
    [
        ((2, 4, 8), (2, 5, 7), (2, 5, 3)),  # E differs between query and key
        ((2, 4, 8), (2, 5, 8), (2, 6, 3)),  # S differs between key and value
        ((8,), (5, 8), (5, 3)),  # query is 1-D
        ((2, 4, 8), (3, 5, 8), (3, 5, 3)),  # leading dims do not broadcast
    ],
)
def test_wrong_shapes_raise_value_error(shapes):
    q, k, v = (torch.randn(*s) for s in shapes)
    with pytest.raises(ValueError):
        scaled_dot_product_attention(q, k, v)


def test_bad_masks_raise_value_error():
    q, k, v = _qkv((2,), 4, 5, 8, 3)
    with pytest.raises(ValueError):
        scaled_dot_product_attention(q, k, v, attn_mask=torch.ones(3, 5, dtype=torch.bool))
    with pytest.raises(ValueError):
        scaled_dot_product_attention(q, k, v, attn_mask=torch.ones(4, 5, dtype=torch.long))
    with pytest.raises(ValueError):
        scaled_dot_product_attention(q, k, v, attn_mask=torch.ones(4, 5, dtype=torch.bool), is_causal=True)
    with pytest.raises(ValueError):
        scaled_dot_product_attention(q, k.double(), v)


# -- multi-head attention ------------------------------------------------------------------------
@pytest.mark.parametrize("fused", [True, False])
def test_multihead_shapes_and_state_dict_compatible_with_pytorch(fused):
    torch.manual_seed(0)
    ref = nn.MultiheadAttention(16, 4, batch_first=True)
    ours = MultiheadAttention(16, 4, fused=fused)
    assert set(ours.state_dict()) == set(ref.state_dict())
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(3, 7, 16)
    ctx = torch.randn(3, 5, 16)
    out = ours(x)
    assert out.shape == (3, 7, 16)
    torch.testing.assert_close(out, ref(x, x, x, need_weights=False)[0], atol=1e-5, rtol=1e-5)
    # cross-attention, L != S
    torch.testing.assert_close(ours(x, ctx), ref(x, ctx, ctx, need_weights=False)[0], atol=1e-5, rtol=1e-5)
    # causal; nn.MultiheadAttention's boolean mask means "may NOT attend", the opposite convention
    allowed = causal_mask(7)
    torch.testing.assert_close(ours(x, is_causal=True), ref(x, x, x, attn_mask=~allowed, need_weights=False)[0],
                               atol=1e-5, rtol=1e-5)


def test_multihead_fused_and_scratch_paths_agree_and_record_weights():
    torch.manual_seed(1)
    mha = MultiheadAttention(12, 3)
    x = torch.randn(2, 6, 12)
    fused = mha(x, is_causal=True)
    mha.fused = False
    scratch = mha(x, is_causal=True)
    torch.testing.assert_close(fused, scratch, atol=1e-5, rtol=1e-5)
    mha.store_weights = True
    recorded = mha(x, is_causal=True)
    torch.testing.assert_close(recorded, fused, atol=1e-5, rtol=1e-5)
    w = mha.last_weights
    assert w.shape == (2, 3, 6, 6)
    assert torch.all(w.triu(1) == 0)  # causal: no weight on later positions
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 3, 6))


def test_multihead_rejects_bad_shapes():
    mha = MultiheadAttention(8, 2)
    with pytest.raises(ValueError):
        mha(torch.randn(2, 5, 6))
    with pytest.raises(ValueError):
        mha(torch.randn(2, 5, 8), torch.randn(3, 5, 8))
    with pytest.raises(ValueError):
        MultiheadAttention(10, 3)


def test_attend_along_equals_attention_on_reshaped_sequences():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 4, 5, 8, generator=g) for _ in range(3))  # (B, T, H, W, D)
    out = attend_along(q, k, v, dim=1, is_causal=True)  # along time
    # reference: per (b, h, w), attention over t
    ref = F.scaled_dot_product_attention(
        *(t.permute(0, 2, 3, 1, 4) for t in (q, k, v)), is_causal=True
    ).permute(0, 3, 1, 2, 4)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(attend_along(q, k, v, dim=3, fused=False), attend_along(q, k, v, dim=3),
                               atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError):
        attend_along(q, k, v, dim=4)
