"""A small causal video transformer with divided space-time attention (chapter 05).

The pieces, in the order the chapter builds them:

- :func:`patchify` / :func:`unpatchify`: frames ↔ flattened ``p × p`` patches;
- :func:`sinusoidal_encoding` and :func:`spacetime_encoding` (fixed), and
  :class:`SpaceTimeEmbedding` (learned), both factorized over ``(t, y, x)``;
- :class:`Block`: a pre-norm transformer block over a sequence;
- :class:`DividedSpaceTimeBlock`: causal attention over time for each patch
  position, then attention over space within each frame (TimeSformer's
  "divided" attention), then an MLP;
- :class:`VideoTransformer`: predicts the patches of frame ``t + 1`` from
  frames ``1..t``, trained in parallel over all ``t`` with teacher forcing, and
  run autoregressively by :meth:`VideoTransformer.rollout`.

The model follows the interface of chapter 04's ``NextFramePredictor``:
``forward(frames)`` returns next-frame **logits** with ``logits[:, t]``
predicting ``frames[:, t + 1]``, and ``rollout(context, horizon)`` returns
frames in [0, 1].
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from .attention import MultiheadAttention, causal_mask


def _check_video(x: torch.Tensor, channels: int, size: int, name: str) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 5 or x.shape[2:] != (channels, size, size):
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} expects video of shape (B, T, {channels}, {size}, {size}), got {shape}")


# -- patches ---------------------------------------------------------------------------------------
def patchify(video: torch.Tensor, patch: int) -> torch.Tensor:
    """Cut every frame into non-overlapping ``patch × patch`` squares: (B, T, C, H, W) → (B, T, N, C·p·p).

    Patches are numbered row by row (``n = y · W/p + x``), pixels inside a patch as
    ``(c, i, j)``, the layout of ``Conv2d(kernel_size=p, stride=p)``.
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
def sinusoidal_encoding(positions: torch.Tensor | int, dim: int, base: float = 10000.0) -> torch.Tensor:
    """Vaswani et al.'s fixed encoding: positions (n,) or a count n → (n, dim).

    ``PE[pos, 2i] = sin(pos · ω_i)``, ``PE[pos, 2i+1] = cos(pos · ω_i)`` with
    ``ω_i = base^(-2i/dim)``. Each pair rotates with ``pos`` at its own speed, so
    ``PE[pos + k]`` is a fixed rotation of ``PE[pos]`` (chapter 05 derives it).
    """
    if dim % 2:
        raise ValueError(f"dim must be even, got {dim}")
    if isinstance(positions, int):
        positions = torch.arange(positions)
    pos = positions.to(torch.float64).unsqueeze(-1)  # (n, 1)
    # ω_i = base^(-2i / dim), i = 0 .. dim/2 - 1
    omega = base ** (-torch.arange(0, dim, 2, dtype=torch.float64) / dim)  # (dim/2,)
    angle = pos * omega  # (n, dim/2)
    pe = torch.stack([angle.sin(), angle.cos()], dim=-1)  # (n, dim/2, 2): sin, cos interleaved
    return pe.flatten(-2).to(torch.float32)  # (n, dim)


def spacetime_encoding(frames: int, grid: int, dim: int) -> torch.Tensor:
    """Factorized fixed encoding of video patches: (frames, grid·grid, dim).

    The channels are split into three groups that encode ``t``, ``y`` and ``x``
    with :func:`sinusoidal_encoding` (sizes ``dim - 2·(dim//3 rounded to even)`` for t,
    the rest split equally between y and x).
    """
    d_xy = (dim // 3) // 2 * 2
    d_t = dim - 2 * d_xy
    if d_t % 2 or d_xy == 0:
        raise ValueError(f"dim must be even and at least 6, got {dim}")
    pe_t = sinusoidal_encoding(frames, d_t)[:, None, None, :].expand(frames, grid, grid, d_t)
    pe_y = sinusoidal_encoding(grid, d_xy)[None, :, None, :].expand(frames, grid, grid, d_xy)
    pe_x = sinusoidal_encoding(grid, d_xy)[None, None, :, :].expand(frames, grid, grid, d_xy)
    return torch.cat([pe_t, pe_y, pe_x], dim=-1).reshape(frames, grid * grid, dim)


class SpaceTimeEmbedding(nn.Module):
    """Learned factorized positions: ``e(t, y, x) = E_t[t] + E_y[y] + E_x[x]``, (T, N, D) for T ≤ max_frames.

    ``max_frames + 2·grid`` vectors instead of ``max_frames · grid²`` for a full table.
    """

    def __init__(self, max_frames: int, grid: int, dim: int) -> None:
        super().__init__()
        self.max_frames, self.grid = max_frames, grid
        self.time = nn.Parameter(torch.randn(max_frames, dim) * 0.02)
        self.row = nn.Parameter(torch.randn(grid, dim) * 0.02)
        self.col = nn.Parameter(torch.randn(grid, dim) * 0.02)

    def forward(self, frames: int) -> torch.Tensor:
        """Positions of ``frames`` frames: (frames, grid², dim)."""
        if not 1 <= frames <= self.max_frames:
            raise ValueError(f"this embedding knows 1..{self.max_frames} frames, asked for {frames}")
        g = self.grid
        space = (self.row[:, None, :] + self.col[None, :, :]).reshape(g * g, -1)  # (N, D)
        return self.time[:frames, None, :] + space[None]  # (T, N, D)


# -- blocks ----------------------------------------------------------------------------------------
class MLP(nn.Sequential):
    """The position-wise feed-forward layer ``W_2 GELU(W_1 x)``, hidden width ``ratio · dim``."""

    def __init__(self, dim: int, ratio: int = 4) -> None:
        super().__init__(nn.Linear(dim, ratio * dim), nn.GELU(), nn.Linear(ratio * dim, dim))


class Block(nn.Module):
    """Pre-norm transformer block over a sequence (B, L, D) (chapter 05).

    ``x ← x + Attn(LN(x))``, then ``x ← x + MLP(LN(x))``. Normalizing *before* each
    sublayer keeps the residual path an identity, which trains stably with only a
    short learning-rate warm-up (Xiong et al., 2020).
    """

    def __init__(self, dim: int, heads: int, mlp_ratio: int = 4, fused: bool = True) -> None:
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim), MultiheadAttention(dim, heads, fused=fused)
        self.norm2, self.mlp = nn.LayerNorm(dim), MLP(dim, mlp_ratio)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None, is_causal: bool = False) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), attn_mask=attn_mask, is_causal=is_causal)  # (B, L, D)
        return x + self.mlp(self.norm2(x))


class DividedSpaceTimeBlock(nn.Module):
    """Divided space-time attention on video tokens (B, T, N, D), as in TimeSformer (chapter 05).

    1. time: each patch position attends to the same position in frames ``≤ t`` (causal), cost ``O(N·T²)``;
    2. space: each token attends to all patches of its own frame, cost ``O(T·N²)``;
    3. MLP. All three are pre-norm residual sublayers.

    Output at frame ``t`` depends on frames ``≤ t`` only; after the spatial step a
    token has seen, in two hops, every patch of every earlier frame.
    """

    def __init__(self, dim: int, heads: int, mlp_ratio: int = 4, fused: bool = True) -> None:
        super().__init__()
        self.norm_t, self.attn_t = nn.LayerNorm(dim), MultiheadAttention(dim, heads, fused=fused)
        self.norm_s, self.attn_s = nn.LayerNorm(dim), MultiheadAttention(dim, heads, fused=fused)
        self.norm_m, self.mlp = nn.LayerNorm(dim), MLP(dim, mlp_ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, N, D = x.shape
        # time: sequences of length T, one per (clip, patch position)
        xt = x.transpose(1, 2).reshape(B * N, T, D)  # (B·N, T, D)
        xt = xt + self.attn_t(self.norm_t(xt), is_causal=True)
        # space: sequences of length N, one per (clip, frame)
        xs = xt.reshape(B, N, T, D).transpose(1, 2).reshape(B * T, N, D)  # (B·T, N, D)
        xs = xs + self.attn_s(self.norm_s(xs))
        xs = xs + self.mlp(self.norm_m(xs))
        return xs.reshape(B, T, N, D)

    def step(self, x: torch.Tensor, past: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The same block for one new frame: x (B, 1, N, D) → (B, 1, N, D), given the earlier frames.

        ``past`` (B·N, t, D) holds the normalized time-attention inputs of the ``t``
        earlier frames (``None`` for the first frame); the returned cache has the new
        frame appended. Equal to :meth:`forward` on the whole clip, at the cost of
        one frame (plus projecting the cached keys and values).
        """
        B, _, N, D = x.shape
        xt = x.reshape(B * N, 1, D)  # (B·N, 1, D)
        h = self.norm_t(xt)
        ctx = h if past is None else torch.cat([past, h], dim=1)  # (B·N, t+1, D)
        # the newest frame may look at every cached frame: no mask needed
        xt = xt + self.attn_t(h, context=ctx)
        xs = xt.reshape(B, N, D)
        xs = xs + self.attn_s(self.norm_s(xs))
        xs = xs + self.mlp(self.norm_m(xs))
        return xs.reshape(B, 1, N, D), ctx


def block_causal_mask(frames: int, tokens_per_frame: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Boolean (T·N, T·N) mask for full space-time attention: token of frame t sees all tokens of frames ≤ t."""
    frame_mask = causal_mask(frames, device=device)  # (T, T)
    return frame_mask.repeat_interleave(tokens_per_frame, 0).repeat_interleave(tokens_per_frame, 1)


# -- the model -------------------------------------------------------------------------------------
class VideoTransformer(nn.Module):
    """Causal next-frame predictor on patches (chapter 05).

    Args:
        channels, size: frame shape ``(channels, size, size)``.
        patch: patch side; the frame becomes ``N = (size/patch)²`` tokens.
        dim, depth, heads, mlp_ratio: transformer width, number of blocks, heads, MLP expansion.
        max_frames: the longest context the learned time embedding covers (rollout slides a window).
        attention: ``"divided"`` (time then space in every block) or ``"full"`` (one block-causal
            attention over all ``T·N`` tokens; cost grows as ``(T·N)²``).
        fused: attention through PyTorch's fused kernel (default) or the from-scratch function.

    ``forward(frames)`` gives next-frame **logits**; train with
    ``binary_cross_entropy_with_logits(logits[:, :-1], frames[:, 1:])``.
    """

    def __init__(self, channels: int = 1, size: int = 32, patch: int = 8, dim: int = 96, depth: int = 3,
                 heads: int = 4, mlp_ratio: int = 4, max_frames: int = 20, attention: str = "divided",
                 fused: bool = True) -> None:
        super().__init__()
        if size % patch:
            raise ValueError(f"size ({size}) must be divisible by patch ({patch})")
        if attention not in ("divided", "full"):
            raise ValueError(f"attention must be 'divided' or 'full', got {attention!r}")
        self.channels, self.size, self.patch, self.attention = channels, size, patch, attention
        self.grid, self.max_frames = size // patch, max_frames
        patch_dim = channels * patch * patch
        self.embed = nn.Linear(patch_dim, dim)  # = Conv2d(C, dim, kernel_size=p, stride=p) on each frame
        self.pos = SpaceTimeEmbedding(max_frames, self.grid, dim)
        block = DividedSpaceTimeBlock if attention == "divided" else Block
        self.blocks = nn.ModuleList(block(dim, heads, mlp_ratio, fused=fused) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, patch_dim)  # token of frame t → logits of the same patch in frame t+1

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: frames (B, T, C, S, S) → logits (B, T, C, S, S); ``logits[:, t]`` predicts frame t+1."""
        _check_video(frames, self.channels, self.size, "VideoTransformer")
        B, T = frames.shape[:2]
        x = self.embed(patchify(frames, self.patch)) + self.pos(T)  # (B, T, N, D)
        if self.attention == "divided":
            for blk in self.blocks:
                x = blk(x)
        else:
            N, D = x.shape[2:]
            mask = block_causal_mask(T, N, device=x.device)  # (T·N, T·N)
            x = x.reshape(B, T * N, D)
            for blk in self.blocks:
                x = blk(x, attn_mask=mask)
            x = x.reshape(B, T, N, D)
        logits = self.head(self.norm(x))  # (B, T, N, C·p·p)
        return unpatchify(logits, self.patch, self.channels, self.size)

    @torch.no_grad()
    def rollout(self, context: torch.Tensor, horizon: int, use_cache: bool = True) -> torch.Tensor:
        """Autoregressive prediction: context (B, Tc, C, S, S) → ``horizon`` frames (B, horizon, C, S, S) in [0, 1].

        Each predicted frame (its probabilities, not a sample) is appended to the input.
        With divided attention and ``use_cache`` the blocks keep the time-attention inputs
        of earlier frames, so each new frame costs one frame of compute instead of a
        forward pass over the whole clip (same numbers). When the clip grows past
        ``max_frames`` only the latest ``max_frames`` frames are kept as input.
        """
        _check_video(context, self.channels, self.size, "VideoTransformer.rollout")
        if horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {horizon}")
        if self.attention != "divided" or not use_cache:
            frames, preds = context, []
            for _ in range(horizon):
                nxt = torch.sigmoid(self.forward(frames[:, -self.max_frames:])[:, -1])  # (B, C, S, S)
                preds.append(nxt)
                frames = torch.cat([frames, nxt.unsqueeze(1)], dim=1)
            return torch.stack(preds, dim=1)

        def start(window: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
            """Feed the frames of ``window`` one at a time; return the last logits and the caches."""
            caches: list[torch.Tensor | None] = [None] * len(self.blocks)
            for t in range(window.shape[1]):
                logits = self.step(window[:, t], t, caches)
            return logits, caches

        frames = context[:, -self.max_frames:]
        logits, caches = start(frames)
        preds = []
        for k in range(horizon):
            nxt = torch.sigmoid(logits)  # (B, C, S, S)
            preds.append(nxt)
            if k == horizon - 1:
                break
            frames = torch.cat([frames, nxt.unsqueeze(1)], dim=1)
            if frames.shape[1] > self.max_frames:  # positions would run out: re-encode the latest window
                frames = frames[:, -self.max_frames:]
                logits, caches = start(frames)
            else:
                logits = self.step(nxt, frames.shape[1] - 1, caches)
        return torch.stack(preds, dim=1)

    def step(self, frame: torch.Tensor, t: int, caches: list[torch.Tensor | None]) -> torch.Tensor:
        """Feed frame ``t`` (B, C, S, S) of a clip whose earlier frames are in ``caches``; return next-frame logits.

        ``caches`` holds one entry per block (start with ``[None] * depth``) and is updated
        in place. Divided attention only; :meth:`rollout` uses it.
        """
        if self.attention != "divided":
            raise ValueError("step() needs attention='divided'; use forward() for full attention")
        if not 0 <= t < self.max_frames:
            raise ValueError(f"frame index t must be in [0, {self.max_frames}), got {t}")
        x = self.embed(patchify(frame.unsqueeze(1), self.patch)) + self.pos(t + 1)[t:]  # (B, 1, N, D)
        for i, blk in enumerate(self.blocks):
            x, caches[i] = blk.step(x, caches[i])
        logits = self.head(self.norm(x))  # (B, 1, N, C·p·p)
        return unpatchify(logits, self.patch, self.channels, self.size)[:, 0]

    @contextmanager
    def recording(self) -> Iterator[list[MultiheadAttention]]:
        """Inside ``with model.recording() as attns:`` every attention layer keeps its weights.

        ``attns`` lists the attention modules in order (for divided attention: time and
        space of block 0, then block 1, ...); after a forward pass each one's
        ``last_weights`` holds (batch', heads, L, S). This path runs from scratch.
        """
        attns = [m for m in self.modules() if isinstance(m, MultiheadAttention)]
        for m in attns:
            m.store_weights = True
        try:
            yield attns
        finally:
            for m in attns:
                m.store_weights = False

    @torch.no_grad()
    def attention_maps(self, frames: torch.Tensor) -> dict[str, torch.Tensor]:
        """Attention weights of every layer for clips (B, T, C, S, S).

        Divided attention returns ``"time"`` (depth, B, heads, N, T, T) — for each patch
        position, query frame → key frame — and ``"space"`` (depth, B, heads, T, N, N).
        Full attention returns ``"full"`` (depth, B, heads, T·N, T·N).
        """
        B, T = frames.shape[:2]
        N = self.grid * self.grid
        with self.recording() as attns:
            self.forward(frames)
            weights = [m.last_weights for m in attns]
            for m in attns:
                m.last_weights = None
        if self.attention == "full":
            return {"full": torch.stack(weights)}
        H = weights[0].shape[1]
        time = torch.stack([w.reshape(B, N, H, T, T).transpose(1, 2) for w in weights[0::2]])
        space = torch.stack([w.reshape(B, T, H, N, N).transpose(1, 2) for w in weights[1::2]])
        return {"time": time, "space": space}


def spacetime_route(time: torch.Tensor, space: torch.Tensor, t: int, n: int) -> torch.Tensor:
    """Where query token (frame ``t``, patch ``n``) draws from, through one divided block: (T, N).

    ``time`` (T, T) per patch as (N, T, T) and ``space`` (T, N, N) are one block's weights
    (one clip, one head or a head average). After the spatial hop the token mixes
    patches ``n'`` of frame ``t``, each of which mixed frames ``t'`` of its own position:
    ``route[t', n'] = space[t, n, n'] · time[n', t, t']``. The route sums to 1 and is zero
    for ``t' > t``. (It ignores that values and output projections also mix features.)
    """
    return space[t, n][None, :] * time[:, t, :].transpose(0, 1)  # (T, N)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = [
    "Block", "DividedSpaceTimeBlock", "SpaceTimeEmbedding", "VideoTransformer", "block_causal_mask",
    "count_parameters", "patchify", "sinusoidal_encoding", "spacetime_encoding", "spacetime_route",
    "unpatchify",
]
