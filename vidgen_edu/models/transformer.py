"""A small causal video transformer with divided space-time attention (chapter 05).

The pieces, in the order the chapter builds them (all but the model live in
:mod:`vidgen_edu.models.blocks`, shared with later chapters, and are re-exported here):

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

The model is a :class:`vidgen_edu.models.api.FramePredictor`, like chapter 04's
``NextFramePredictor``: ``forward(frames)`` returns next-frame **logits** with
``logits[:, t]`` predicting ``frames[:, t + 1]``, and ``rollout(context, horizon)``
returns frames in [0, 1] under ``torch.no_grad()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from .attention import MultiheadAttention
from .blocks import (
    MLP,
    Block,
    DividedSpaceTimeBlock,
    SpaceTimeEmbedding,
    block_causal_mask,
    check_video,
    count_parameters,
    patchify,
    sinusoidal_encoding,
    spacetime_encoding,
    unpatchify,
)


# -- the model -------------------------------------------------------------------------------------
class VideoTransformer(nn.Module):
    """Causal next-frame predictor on patches (chapter 05).

    Args:
        channels, size: frame shape ``(channels, size, size)``.
        patch: patch side; the frame becomes ``N = (size/patch)²`` tokens.
        width, depth, heads, mlp_ratio: token width, number of blocks, attention heads, MLP expansion.
        max_frames: the longest context the learned time embedding covers (rollout slides a window).
        attention: ``"divided"`` (time then space in every block) or ``"full"`` (one block-causal
            attention over all ``T·N`` tokens; cost grows as ``(T·N)²``).
        fused: attention through PyTorch's fused kernel (default) or the from-scratch function.

    ``forward(frames)`` gives next-frame **logits**; train with
    ``binary_cross_entropy_with_logits(logits[:, :-1], frames[:, 1:])``.
    """

    def __init__(self, channels: int = 1, size: int = 32, patch: int = 8, width: int = 96, depth: int = 3,
                 heads: int = 4, mlp_ratio: int = 4, max_frames: int = 20, attention: str = "divided",
                 fused: bool = True) -> None:
        super().__init__()
        if size % patch:
            raise ValueError(f"size ({size}) must be divisible by patch ({patch})")
        if attention not in ("divided", "full"):
            raise ValueError(f"attention must be 'divided' or 'full', got {attention!r}")
        self.channels, self.size, self.patch, self.attention = channels, size, patch, attention
        self.grid, self.max_frames = size // patch, max_frames
        self.width, self.depth, self.heads = width, depth, heads
        patch_dim = channels * patch * patch
        self.embed = nn.Linear(patch_dim, width)  # = Conv2d(C, width, kernel_size=p, stride=p) on each frame
        self.pos = SpaceTimeEmbedding(max_frames, self.grid, width)
        block = DividedSpaceTimeBlock if attention == "divided" else Block
        self.blocks = nn.ModuleList(block(width, heads, mlp_ratio, fused=fused) for _ in range(depth))
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, patch_dim)  # token of frame t → logits of the same patch in frame t+1

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: frames (B, T, C, S, S) → logits (B, T, C, S, S); ``logits[:, t]`` predicts frame t+1."""
        check_video(frames, self.channels, self.size, "VideoTransformer")
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
        check_video(context, self.channels, self.size, "VideoTransformer.rollout")
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


__all__ = [
    "MLP", "Block", "DividedSpaceTimeBlock", "SpaceTimeEmbedding", "VideoTransformer", "block_causal_mask",
    "count_parameters", "patchify", "sinusoidal_encoding", "spacetime_encoding", "spacetime_route",
    "unpatchify",
]
