"""Shared building blocks of the video models: built in chapter 05, reused by later chapters.

- :func:`check_video`: the one layout check of model inputs ``(B, T, C, size, size)``;
- :func:`patchify` / :func:`unpatchify`: frames ↔ flattened ``p × p`` patches;
- :func:`sinusoidal_encoding` and :func:`spacetime_encoding` (fixed), and
  :class:`SpaceTimeEmbedding` (learned), both factorized over ``(t, y, x)``;
- :class:`MLP`, and :class:`Block`: a pre-norm transformer block over a sequence,
  causal or not, optionally conditioned on a vector through adaLN-Zero (DiT);
- :class:`DividedSpaceTimeBlock`: attention over time for each patch position,
  then over space within each frame (TimeSformer's "divided" attention), then an MLP;
- :func:`block_causal_mask` and :func:`count_parameters`.

Sizes use the library's vocabulary: ``width`` is the token width ``D``,
``heads`` the number of attention heads, ``cond_dim`` the width of a
conditioning vector.
"""

from __future__ import annotations

import torch
from torch import nn

from .attention import MultiheadAttention, causal_mask


def check_video(x: torch.Tensor, channels: int, size: int, name: str) -> None:
    """Raise ``ValueError`` unless ``x`` is a video batch ``(B, T, channels, size, size)`` with ``T ≥ 1``.

    ``name`` (the model or method) starts the message. Values are not checked:
    that would cost a device synchronisation on every forward pass.
    """
    if (not isinstance(x, torch.Tensor) or x.dim() != 5 or x.shape[1] < 1
            or tuple(x.shape[2:]) != (channels, size, size)):
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} expects video of shape (B, T, {channels}, {size}, {size}) with T >= 1, "
                         f"got {shape}")


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# -- patches ---------------------------------------------------------------------------------------
def patchify(video: torch.Tensor, patch: int) -> torch.Tensor:
    """Cut every frame into non-overlapping ``patch × patch`` squares: (B, T, C, H, W) → (B, T, N, C·p·p).

    Patches are numbered row by row (``n = y · W/p + x``), pixels inside a patch as
    ``(c, i, j)``, the layout of ``Conv2d(kernel_size=p, stride=p)`` (chapter 05).
    """
    if video.dim() != 5:
        raise ValueError(f"patchify expects video of shape (B, T, C, H, W), got {tuple(video.shape)}")
    B, T, C, H, W = video.shape
    if H % patch or W % patch:
        raise ValueError(f"frame size {H}x{W} is not divisible by the patch size {patch}")
    x = video.reshape(B, T, C, H // patch, patch, W // patch, patch)
    x = x.permute(0, 1, 3, 5, 2, 4, 6)  # (B, T, H/p, W/p, C, p, p)
    return x.reshape(B, T, (H // patch) * (W // patch), C * patch * patch)


def unpatchify(patches: torch.Tensor, patch: int, channels: int, size: int) -> torch.Tensor:
    """Inverse of :func:`patchify` for square frames: (B, T, N, C·p·p) → (B, T, C, size, size)."""
    g = size // patch
    if patches.dim() != 4 or patches.shape[2:] != (g * g, channels * patch * patch):
        raise ValueError(f"unpatchify expects patches of shape (B, T, {g * g}, {channels * patch * patch}), "
                         f"got {tuple(patches.shape)}")
    B, T = patches.shape[:2]
    x = patches.reshape(B, T, g, g, channels, patch, patch)
    x = x.permute(0, 1, 4, 2, 5, 3, 6)  # (B, T, C, H/p, p, W/p, p)
    return x.reshape(B, T, channels, size, size)


# -- positions -------------------------------------------------------------------------------------
def sinusoidal_encoding(positions: torch.Tensor | int, width: int, base: float = 10000.0) -> torch.Tensor:
    """Vaswani et al.'s fixed encoding: positions (n,) or a count n → (n, width).

    ``PE[pos, 2i] = sin(pos · ω_i)``, ``PE[pos, 2i+1] = cos(pos · ω_i)`` with
    ``ω_i = base^(-2i/width)``. Each pair rotates with ``pos`` at its own speed, so
    ``PE[pos + k]`` is a fixed rotation of ``PE[pos]`` (chapter 05 derives it).
    Diffusion models encode their noise level ``t`` with the same function.
    """
    if width % 2:
        raise ValueError(f"width must be even, got {width}")
    if isinstance(positions, int):
        positions = torch.arange(positions)
    pos = positions.to(torch.float64).unsqueeze(-1)  # (n, 1)
    # ω_i = base^(-2i / width), i = 0 .. width/2 - 1
    omega = base ** (-torch.arange(0, width, 2, dtype=torch.float64, device=pos.device) / width)  # (width/2,)
    angle = pos * omega  # (n, width/2)
    pe = torch.stack([angle.sin(), angle.cos()], dim=-1)  # (n, width/2, 2): sin, cos interleaved
    return pe.flatten(-2).to(torch.float32)  # (n, width)


def spacetime_encoding(frames: int, grid: int, width: int) -> torch.Tensor:
    """Factorized fixed encoding of video patches: (frames, grid·grid, width).

    The channels are split into three groups that encode ``t``, ``y`` and ``x``
    with :func:`sinusoidal_encoding` (sizes ``width - 2·(width//3 rounded to even)`` for t,
    the rest split equally between y and x).
    """
    d_xy = (width // 3) // 2 * 2
    d_t = width - 2 * d_xy
    if d_t % 2 or d_xy == 0:
        raise ValueError(f"width must be even and at least 6, got {width}")
    pe_t = sinusoidal_encoding(frames, d_t)[:, None, None, :].expand(frames, grid, grid, d_t)
    pe_y = sinusoidal_encoding(grid, d_xy)[None, :, None, :].expand(frames, grid, grid, d_xy)
    pe_x = sinusoidal_encoding(grid, d_xy)[None, None, :, :].expand(frames, grid, grid, d_xy)
    return torch.cat([pe_t, pe_y, pe_x], dim=-1).reshape(frames, grid * grid, width)


class SpaceTimeEmbedding(nn.Module):
    """Learned factorized positions: ``e(t, y, x) = E_t[t] + E_y[y] + E_x[x]``, (T, N, width) for T ≤ max_frames.

    ``max_frames + 2·grid`` vectors instead of ``max_frames · grid²`` for a full table (chapter 05).
    """

    def __init__(self, max_frames: int, grid: int, width: int) -> None:
        super().__init__()
        self.max_frames, self.grid = max_frames, grid
        self.time = nn.Parameter(torch.randn(max_frames, width) * 0.02)
        self.row = nn.Parameter(torch.randn(grid, width) * 0.02)
        self.col = nn.Parameter(torch.randn(grid, width) * 0.02)

    def forward(self, frames: int) -> torch.Tensor:
        """Positions of ``frames`` frames: (frames, grid², width)."""
        if not 1 <= frames <= self.max_frames:
            raise ValueError(f"this embedding knows 1..{self.max_frames} frames, asked for {frames}")
        g = self.grid
        space = (self.row[:, None, :] + self.col[None, :, :]).reshape(g * g, -1)  # (N, D)
        return self.time[:frames, None, :] + space[None]  # (T, N, D)


# -- blocks ----------------------------------------------------------------------------------------
class MLP(nn.Sequential):
    """The position-wise feed-forward layer ``W_2 GELU(W_1 x)``, hidden width ``ratio · width``."""

    def __init__(self, width: int, ratio: int = 4) -> None:
        super().__init__(nn.Linear(width, ratio * width), nn.GELU(), nn.Linear(ratio * width, width))


class Modulation(nn.Linear):
    """adaLN-Zero (Peebles & Xie, 2023): a conditioning vector (B, cond_dim) → ``chunks`` vectors (B, 1, width).

    A block uses them as shift ``β``, scale ``γ`` and gate ``α`` of its sublayers. Weights
    and bias start at zero, so every ``α`` is 0 and a conditioned block starts as the identity.
    """

    def __init__(self, cond_dim: int, width: int, chunks: int) -> None:
        super().__init__(cond_dim, chunks * width)
        self.chunks = chunks
        nn.init.zeros_(self.weight)
        nn.init.zeros_(self.bias)

    def forward(self, cond: torch.Tensor) -> tuple[torch.Tensor, ...]:  # type: ignore[override]
        if not isinstance(cond, torch.Tensor) or cond.dim() != 2 or cond.shape[1] != self.in_features:
            shape = tuple(cond.shape) if isinstance(cond, torch.Tensor) else type(cond).__name__
            raise ValueError(f"cond must have shape (B, {self.in_features}), got {shape}")
        return super().forward(cond).unsqueeze(1).chunk(self.chunks, dim=-1)  # chunks × (B, 1, width)


def modulate(h: torch.Tensor, shift: torch.Tensor | None, scale: torch.Tensor | None) -> torch.Tensor:
    """``h · (1 + γ) + β`` (adaLN); ``h`` itself for an unconditioned block (``shift is None``)."""
    return h if shift is None else h * (1 + scale) + shift


def gated(y: torch.Tensor, gate: torch.Tensor | None) -> torch.Tensor:
    """``α ⊙ y`` (adaLN-Zero's residual gate); ``y`` itself for an unconditioned block."""
    return y if gate is None else gate * y


def _modulation(ada: Modulation | None, cond: torch.Tensor | None, chunks: int,
                name: str) -> tuple[torch.Tensor | None, ...]:
    """``ada(cond)``, or ``chunks`` Nones for a block built without ``cond_dim``; a missing or extra cond raises."""
    if ada is None:
        if cond is not None:
            raise ValueError(f"{name} was built without cond_dim, so it takes no cond")
        return (None,) * chunks
    if cond is None:
        raise ValueError(f"{name} was built with cond_dim={ada.in_features}: pass cond (B, {ada.in_features})")
    return ada(cond)


class Block(nn.Module):
    """Pre-norm transformer block over a sequence (B, L, width) (chapter 05).

    ``x ← x + Attn(LN(x))``, then ``x ← x + MLP(LN(x))``. Normalizing *before* each
    sublayer keeps the residual path an identity, which trains stably with only a
    short learning-rate warm-up (Xiong et al., 2020).

    Args:
        width, heads, mlp_ratio: token width, attention heads, MLP expansion.
        fused: attention through PyTorch's fused kernel or from scratch (same numbers).
        causal: token ``i`` attends to tokens ``≤ i`` only (otherwise pass ``attn_mask`` or nothing).
        cond_dim: if given, the block takes a conditioning vector ``cond`` (B, cond_dim)
            (a diffusion step, a class, a caption embedding) and uses adaLN-Zero, as DiT:
            ``x ← x + α₁ ⊙ Attn(LN(x)(1 + γ₁) + β₁)``, ``x ← x + α₂ ⊙ MLP(LN(x)(1 + γ₂) + β₂)``
            with ``(β, γ, α)`` a zero-initialised linear function of ``cond`` (the layer
            norms then have no learned affine part of their own). At initialisation the
            block is the identity.
    """

    def __init__(self, width: int, heads: int, mlp_ratio: int = 4, fused: bool = True, causal: bool = False,
                 cond_dim: int | None = None) -> None:
        super().__init__()
        affine = cond_dim is None  # with adaLN, γ and β come from the condition
        self.causal = causal
        self.norm1 = nn.LayerNorm(width, elementwise_affine=affine)
        self.attn = MultiheadAttention(width, heads, fused=fused)
        self.norm2 = nn.LayerNorm(width, elementwise_affine=affine)
        self.mlp = MLP(width, mlp_ratio)
        self.ada = None if cond_dim is None else Modulation(cond_dim, width, chunks=6)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None,
                attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, L, width), cond (B, cond_dim) if built with ``cond_dim`` → (B, L, width)."""
        if self.causal and attn_mask is not None:
            raise ValueError("a causal Block takes no attn_mask (build it with causal=False to pass a mask)")
        b1, g1, a1, b2, g2, a2 = _modulation(self.ada, cond, 6, "Block")  # each (B, 1, D) or None
        # x ← x + α₁ ⊙ Attn(LN(x)·(1 + γ₁) + β₁)
        h = modulate(self.norm1(x), b1, g1)
        x = x + gated(self.attn(h, attn_mask=attn_mask, is_causal=self.causal), a1)  # (B, L, D)
        # x ← x + α₂ ⊙ MLP(LN(x)·(1 + γ₂) + β₂)
        return x + gated(self.mlp(modulate(self.norm2(x), b2, g2)), a2)


class DividedSpaceTimeBlock(nn.Module):
    """Divided space-time attention on video tokens (B, T, N, width), as in TimeSformer (chapter 05).

    1. time: each patch position attends to the same position in frames ``≤ t``
       (``causal=True``, for prediction) or in all frames, cost ``O(N·T²)``;
    2. space: each token attends to all patches of its own frame, cost ``O(T·N²)``;
    3. MLP. All three are pre-norm residual sublayers.

    With ``causal=True`` the output at frame ``t`` depends on frames ``≤ t`` only; after
    the spatial step a token has seen, in two hops, every patch of every earlier frame.
    ``cond_dim`` adds adaLN-Zero conditioning as in :class:`Block` (three ``(β, γ, α)``).
    """

    def __init__(self, width: int, heads: int, mlp_ratio: int = 4, fused: bool = True, causal: bool = True,
                 cond_dim: int | None = None) -> None:
        super().__init__()
        affine = cond_dim is None
        self.causal = causal
        self.norm_t = nn.LayerNorm(width, elementwise_affine=affine)
        self.attn_t = MultiheadAttention(width, heads, fused=fused)
        self.norm_s = nn.LayerNorm(width, elementwise_affine=affine)
        self.attn_s = MultiheadAttention(width, heads, fused=fused)
        self.norm_m = nn.LayerNorm(width, elementwise_affine=affine)
        self.mlp = MLP(width, mlp_ratio)
        self.ada = None if cond_dim is None else Modulation(cond_dim, width, chunks=9)

    def _mods(self, cond: torch.Tensor | None, T: int, N: int) -> list[torch.Tensor | None]:
        """The nine ``(β, γ, α)`` vectors laid out for the time (B·N, 1, D) and space (B·T, 1, D) sequences."""
        mods = _modulation(self.ada, cond, 9, "DividedSpaceTimeBlock")
        if self.ada is None:
            return list(mods)
        # time sequences are ordered (clip, patch), space sequences (clip, frame): repeat each clip's vector
        return [m.repeat_interleave(N, 0) for m in mods[:3]] + [m.repeat_interleave(T, 0) for m in mods[3:]]

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, T, N, width), cond (B, cond_dim) if built with ``cond_dim`` → (B, T, N, width)."""
        B, T, N, D = x.shape
        bt, gt, at, bs, gs, as_, bm, gm, am = self._mods(cond, T, N)
        # time: sequences of length T, one per (clip, patch position)
        xt = x.transpose(1, 2).reshape(B * N, T, D)  # (B·N, T, D)
        xt = xt + gated(self.attn_t(modulate(self.norm_t(xt), bt, gt), is_causal=self.causal), at)
        # space: sequences of length N, one per (clip, frame)
        xs = xt.reshape(B, N, T, D).transpose(1, 2).reshape(B * T, N, D)  # (B·T, N, D)
        xs = xs + gated(self.attn_s(modulate(self.norm_s(xs), bs, gs)), as_)
        xs = xs + gated(self.mlp(modulate(self.norm_m(xs), bm, gm)), am)
        return xs.reshape(B, T, N, D)

    def step(self, x: torch.Tensor, past: torch.Tensor | None = None,
             cond: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The same block for one new frame: x (B, 1, N, width) → (B, 1, N, width), given the earlier frames.

        ``past`` (B·N, t, width) holds the normalized time-attention inputs of the ``t``
        earlier frames (``None`` for the first frame); the returned cache has the new
        frame appended. Equal to :meth:`forward` on the whole clip, at the cost of
        one frame (plus projecting the cached keys and values). Causal blocks only.
        """
        if not self.causal:
            raise ValueError("step() feeds frames one at a time, which needs causal=True")
        B, _, N, D = x.shape
        bt, gt, at, bs, gs, as_, bm, gm, am = self._mods(cond, 1, N)
        xt = x.reshape(B * N, 1, D)  # (B·N, 1, D)
        h = modulate(self.norm_t(xt), bt, gt)
        ctx = h if past is None else torch.cat([past, h], dim=1)  # (B·N, t+1, D)
        # the newest frame may look at every cached frame: no mask needed
        xt = xt + gated(self.attn_t(h, context=ctx), at)
        xs = xt.reshape(B, N, D)
        xs = xs + gated(self.attn_s(modulate(self.norm_s(xs), bs, gs)), as_)
        xs = xs + gated(self.mlp(modulate(self.norm_m(xs), bm, gm)), am)
        return xs.reshape(B, 1, N, D), ctx


def block_causal_mask(frames: int, tokens_per_frame: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Boolean (T·N, T·N) mask for full space-time attention: token of frame t sees all tokens of frames ≤ t."""
    frame_mask = causal_mask(frames, device=device)  # (T, T)
    return frame_mask.repeat_interleave(tokens_per_frame, 0).repeat_interleave(tokens_per_frame, 1)


__all__ = [
    "MLP", "Block", "DividedSpaceTimeBlock", "Modulation", "SpaceTimeEmbedding", "block_causal_mask",
    "check_video", "count_parameters", "gated", "modulate", "patchify", "sinusoidal_encoding",
    "spacetime_encoding", "unpatchify",
]
