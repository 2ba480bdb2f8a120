"""Scaled dot-product attention from scratch, and multi-head attention on top (chapter 05).

:func:`scaled_dot_product_attention` has the signature and the semantics of
``torch.nn.functional.scaled_dot_product_attention`` (without dropout):

- ``query`` (..., L, E), ``key`` (..., S, E), ``value`` (..., S, Ev) → (..., L, Ev);
  leading dimensions broadcast against each other, ``L`` may differ from ``S``
  and ``Ev`` from ``E``;
- a **boolean** ``attn_mask`` (broadcastable to (..., L, S)) says where a query
  *may attend* (True = allowed); a **float** mask is *added* to the scores;
- ``is_causal=True`` allows query ``i`` to see keys ``j <= i`` (PyTorch's
  top-left aligned lower triangle ``ones(L, S).tril()``, also when ``L != S``);
- ``scale`` defaults to ``1 / sqrt(E)``;
- a query row that may attend to no key at all returns zeros instead of NaN,
  as PyTorch's CPU kernel does (checked with torch 2.13; the tests compare).

:class:`MultiheadAttention` is state-dict compatible with
``torch.nn.MultiheadAttention`` (``in_proj_weight``, ``in_proj_bias``,
``out_proj``). It dispatches to PyTorch's fused kernel by default and to the
from-scratch function with ``fused=False`` or when the attention weights are
recorded for a figure; the two give the same numbers.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def causal_mask(L: int, S: int | None = None, device: torch.device | str | None = None) -> torch.Tensor:
    """Boolean (L, S) mask, True where query ``i`` may attend to key ``j``, i.e. ``j <= i``.

    Top-left aligned like PyTorch's ``is_causal``: with ``L != S`` row ``i`` still
    sees keys ``0..i`` (not the last ``i + 1`` keys).
    """
    S = L if S is None else S
    return torch.ones(L, S, dtype=torch.bool, device=device).tril()


def _check_qkv(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> None:
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.dim() < 2:
            raise ValueError(f"{name} must have shape (..., length, features), got {tuple(t.shape)}")
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(f"query (..., L, E) and key (..., S, E) need the same E, "
                         f"got {tuple(query.shape)} and {tuple(key.shape)}")
    if key.shape[-2] != value.shape[-2]:
        raise ValueError(f"key (..., S, E) and value (..., S, Ev) need the same S, "
                         f"got {tuple(key.shape)} and {tuple(value.shape)}")
    if not (query.dtype == key.dtype == value.dtype):
        raise ValueError(f"query, key and value need the same dtype, got {query.dtype}, {key.dtype}, {value.dtype}")
    try:
        torch.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    except RuntimeError as err:
        raise ValueError(f"leading dimensions of query {tuple(query.shape)}, key {tuple(key.shape)} and "
                         f"value {tuple(value.shape)} do not broadcast") from err


def attention_weights(
    query: torch.Tensor,
    key: torch.Tensor,
    attn_mask: torch.Tensor | None = None,
    is_causal: bool = False,
    scale: float | None = None,
) -> torch.Tensor:
    """The attention weights ``softmax(q kᵀ · scale + mask)``: (..., L, E), (..., S, E) → (..., L, S).

    Each row sums to 1 over the keys it may attend to (and is all zeros when it may
    attend to none). Same mask rules as :func:`scaled_dot_product_attention`.
    """
    L, S = query.shape[-2], key.shape[-2]
    if attn_mask is not None and is_causal:
        raise ValueError("pass either attn_mask or is_causal=True, not both (as in PyTorch)")
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    # s_ij = (q_i · k_j) · scale, by default 1/√E so that s_ij has unit variance for unit-variance q, k
    scores = query @ key.transpose(-2, -1) * scale  # (..., L, S)
    if is_causal:
        attn_mask = causal_mask(L, S, device=query.device)
    if attn_mask is not None:
        if not isinstance(attn_mask, torch.Tensor):
            raise TypeError(f"attn_mask must be a torch.Tensor, got {type(attn_mask).__name__}")
        try:
            torch.broadcast_shapes(attn_mask.shape, scores.shape)
        except RuntimeError as err:
            raise ValueError(f"attn_mask of shape {tuple(attn_mask.shape)} does not broadcast to the scores "
                             f"(..., L, S) = {tuple(scores.shape)}") from err
        if attn_mask.dtype == torch.bool:
            # a forbidden pair gets score -inf, so exp(-inf) = 0 weight
            scores = scores.masked_fill(~attn_mask, float("-inf"))
        elif attn_mask.is_floating_point():
            scores = scores + attn_mask  # additive bias, e.g. 0 / -inf, or a learned relative bias
        else:
            raise ValueError(f"attn_mask must be bool (True = may attend) or float (added), got {attn_mask.dtype}")
    # a row with no allowed key would be softmax(-inf, ..., -inf) = 0/0 = NaN; PyTorch returns zeros there
    empty = scores.amax(dim=-1, keepdim=True) == float("-inf")  # (..., L, 1)
    scores = scores.masked_fill(empty, 0.0)
    # a_ij = exp(s_ij) / Σ_j' exp(s_ij')   (softmax subtracts the row maximum internally, so no overflow)
    weights = torch.softmax(scores, dim=-1)
    return weights.masked_fill(empty, 0.0)


def scaled_dot_product_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attn_mask: torch.Tensor | None = None,
    is_causal: bool = False,
    scale: float | None = None,
) -> torch.Tensor:
    """Attention from scratch: (..., L, E), (..., S, E), (..., S, Ev) → (..., L, Ev).

    ``out_i = Σ_j softmax_j(q_i · k_j · scale + mask_ij) v_j``. Same semantics as
    ``torch.nn.functional.scaled_dot_product_attention`` without dropout (see the
    module docstring). Raises ``ValueError`` for shapes that do not fit.
    """
    _check_qkv(query, key, value)
    weights = attention_weights(query, key, attn_mask, is_causal, scale)  # (..., L, S)
    # out_i = Σ_j a_ij v_j: a weighted average of the values
    return weights @ value  # (..., L, Ev)


class MultiheadAttention(nn.Module):
    """Multi-head attention on sequences (B, L, D) (chapter 05).

    ``head_h = Attention(x W_q^h, c W_k^h, c W_v^h)`` for ``h = 1..num_heads``, each
    of width ``D / num_heads``; the heads are concatenated and mixed by ``out_proj``.
    ``c`` is ``x`` itself (self-attention) unless a ``context`` is given (cross-attention).

    Parameters are named and stacked as in ``torch.nn.MultiheadAttention`` (q, k, v
    rows of ``in_proj_weight``), so ``load_state_dict`` works both ways. **Mask
    convention differs from nn.MultiheadAttention**: here, as in
    ``F.scaled_dot_product_attention``, a boolean True means *may attend*.

    Args:
        fused: compute attention with PyTorch's fused kernel (default) or with
            :func:`scaled_dot_product_attention` from scratch (same numbers).

    Set ``store_weights = True`` to keep the last attention weights (B, heads, L, S)
    in ``last_weights`` for figures; that run takes the from-scratch path.
    """

    def __init__(self, embed_dim: int, num_heads: int, bias: bool = True, fused: bool = True) -> None:
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.fused = fused
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim))  # rows: W_q, W_k, W_v
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * embed_dim)) if bias else None
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.store_weights = False
        self.last_weights: torch.Tensor | None = None
        nn.init.xavier_uniform_(self.in_proj_weight)  # as nn.MultiheadAttention
        if bias:
            nn.init.zeros_(self.out_proj.bias)

    def _split(self, t: torch.Tensor) -> torch.Tensor:
        return t.unflatten(-1, (self.num_heads, self.head_dim)).transpose(1, 2)  # (B, heads, L, Dh)

    def forward(
        self,
        x: torch.Tensor,
        context: torch.Tensor | None = None,
        attn_mask: torch.Tensor | None = None,
        is_causal: bool = False,
    ) -> torch.Tensor:
        """Queries from ``x`` (B, L, D), keys and values from ``context`` (B, S, D) or ``x``; returns (B, L, D).

        ``attn_mask`` broadcasts to (B, heads, L, S): an (L, S) mask applies to all
        clips and heads.
        """
        if x.dim() != 3 or x.shape[-1] != self.embed_dim:
            raise ValueError(f"MultiheadAttention expects x of shape (B, L, {self.embed_dim}), got {tuple(x.shape)}")
        c = x if context is None else context
        if c.dim() != 3 or c.shape[0] != x.shape[0] or c.shape[-1] != self.embed_dim:
            raise ValueError(f"context must have shape ({x.shape[0]}, S, {self.embed_dim}), got {tuple(c.shape)}")
        if context is None:
            # self-attention: q = x W_qᵀ + b_q, k = x W_kᵀ + b_k, v = x W_vᵀ + b_v in one matrix product
            q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)  # each (B, L, D)
        else:
            w_q, w_kv = self.in_proj_weight.split([self.embed_dim, 2 * self.embed_dim])
            b_q, b_kv = (None, None) if self.in_proj_bias is None else self.in_proj_bias.split(
                [self.embed_dim, 2 * self.embed_dim])
            q = F.linear(x, w_q, b_q)  # (B, L, D)
            k, v = F.linear(c, w_kv, b_kv).chunk(2, dim=-1)  # each (B, S, D)
        # cut every role into heads of width D / heads
        q, k, v = self._split(q), self._split(k), self._split(v)  # (B, heads, L or S, Dh)
        if self.store_weights:
            weights = attention_weights(q, k, attn_mask, is_causal)  # (B, heads, L, S)
            self.last_weights = weights.detach()
            out = weights @ v
        elif self.fused:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, is_causal=is_causal)
        else:
            out = scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, is_causal=is_causal)
        B, _, L, _ = out.shape
        out = out.transpose(1, 2).reshape(B, L, self.embed_dim)  # concatenate the heads: (B, L, D)
        return self.out_proj(out)


def attend_along(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    dim: int,
    is_causal: bool = False,
    fused: bool = True,
) -> torch.Tensor:
    """Attention along one axis of a token grid; every other axis acts as a batch axis (chapter 05).

    ``query``, ``key``, ``value`` are (B, ..., D) grids of the same shape, e.g. video tokens
    (B, T, H, W, D); ``dim`` names the axis tokens attend along (``1`` = time,
    ``2`` = rows, ...; not the last one). Divided space-time attention and axial
    attention are compositions of this: cost ``O(n_axis²)`` per line instead of
    ``O((T·H·W)²)`` for the whole grid.
    """
    if not (query.shape == key.shape == value.shape) or query.dim() < 3:
        raise ValueError(f"attend_along expects query, key, value of one shape (B, ..., D), "
                         f"got {tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}")
    dim = dim % query.dim()
    if dim in (0, query.dim() - 1):
        raise ValueError(f"dim must be an axis between batch and features, got {dim} for shape {tuple(query.shape)}")
    attend = F.scaled_dot_product_attention if fused else scaled_dot_product_attention
    # move the attended axis next to the features: (..., n_axis, D), other axes become leading batch axes
    q, k, v = (t.movedim(dim, -2) for t in (query, key, value))
    out = attend(q, k, v, is_causal=is_causal)
    return out.movedim(-2, dim)
