"""An all-at-once predictor: every future frame from the stacked context in one pass (chapter 04).

A recurrent predictor (:mod:`vidgen_edu.models.predictor`) makes one frame at a
time and feeds it back, so its own errors become its next input (exposure bias),
and its training loop is a Python loop over time. SimVP (Gao et al., 2022) drops
the recurrence: encode each context frame, **stack** the ``Tc`` feature maps
along the channel axis, let a plain convolutional *translator* map them to
``Tf`` future feature maps, and decode every future frame at once::

    context (B, Tc, C, S, S) ─ encoder, per frame ─▶ (B, Tc·w, g, g) ─ translator ─▶ (B, Tf·w, g, g)
        ─ decoder, per frame (+ skip: the last context frame's features) ─▶ logits (B, Tf, C, S, S)

Time is just channels here: the translator sees all context frames at every
position and mixes them with 3×3 convolutions; there is nothing to unroll.
Training is one forward pass per clip, which is why the model learns fast on a CPU.

It keeps the :class:`vidgen_edu.models.api.FramePredictor` contract:
``rollout(context, horizon)`` predicts ``horizon`` frames (several passes,
each fed the last ``Tc`` frames, when ``horizon > Tf``), and ``forward(frames)``
returns causal next-frame logits by predicting from every prefix.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .blocks import check_video


def _norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with groups of (up to) 8 channels: independent of the batch, unlike BatchNorm."""
    return nn.GroupNorm(max(1, channels // 8), channels)


class TranslatorBlock(nn.Module):
    """A residual block of the translator: x + W₂ GELU(W₁ ∗ GroupNorm(x)), at constant shape (N, width, g, g).

    ``W₁`` is a 3×3 convolution (mixes neighbouring positions), ``W₂`` a 1×1 one
    (mixes channels, i.e. frames and features). ``W₂`` starts at zero, so every
    block starts as the identity.
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm = _norm(width)
        self.conv = nn.Conv2d(width, width, 3, padding=1)
        self.mix = nn.Conv2d(width, width, 1)
        nn.init.zeros_(self.mix.weight)
        nn.init.zeros_(self.mix.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mix(F.gelu(self.conv(self.norm(x))))


class SimVPPredictor(nn.Module):
    """Encoder → translator over stacked frames → decoder, predicting ``future`` frames at once.

    Args:
        channels, size: frame shape ``(channels, size, size)``; ``size`` divisible by 4.
        context: context frames the model reads (``Tc``); shorter contexts are padded
            on the left with copies of their first frame.
        future: frames predicted by one pass (``Tf``).
        width: feature channels per frame in the encoder/decoder (``w``).
        hidden: channels of the translator.
        depth: residual blocks in the translator.

    Shapes: the encoder folds 2×2 pixels into channels (space-to-depth), then halves
    the grid again with a strided convolution: ``g = size / 4``, 8×8 for 32×32 frames.
    """

    def __init__(self, channels: int = 1, size: int = 32, context: int = 10, future: int = 10,
                 width: int = 64, hidden: int = 128, depth: int = 6, patch: int = 4) -> None:
        super().__init__()
        if size % patch:
            raise ValueError(f"size must be divisible by patch, got size={size}, patch={patch}")
        if context < 1 or future < 1:
            raise ValueError(f"context and future must be >= 1, got {context}, {future}")
        self.channels, self.size, self.context, self.future = channels, size, context, future
        self.width, self.hidden, self.depth, self.patch = width, hidden, depth, patch
        w, p = width, patch
        # per frame: (N, C, S, S) → features (N, w, g, g), g = S / patch
        self.encoder = nn.Sequential(
            nn.PixelUnshuffle(p),  # (N, C·p², g, g): p×p pixels folded into channels (space-to-depth)
            nn.Conv2d(channels * p * p, w, 3, padding=1), _norm(w), nn.GELU(),
            nn.Conv2d(w, w, 3, padding=1), _norm(w), nn.GELU(),
        )
        # the translator: (B, Tc·w, g, g) → (B, Tf·w, g, g)
        self.lift = nn.Conv2d(context * w, hidden, 1)
        self.blocks = nn.Sequential(*[TranslatorBlock(hidden) for _ in range(depth)])
        self.lower = nn.Sequential(_norm(hidden), nn.Conv2d(hidden, future * w, 1))
        # per future frame: its code (N, w, g, g) beside the skip (N, w, g, g) → logits (N, C, S, S)
        self.decoder = nn.Sequential(
            nn.Conv2d(2 * w, w, 3, padding=1), _norm(w), nn.GELU(),
            nn.Conv2d(w, w, 3, padding=1), _norm(w), nn.GELU(),
            nn.Conv2d(w, channels * p * p, 1),
            nn.PixelShuffle(p),  # depth-to-space: back to (N, C, S, S)
        )
        # start dark: the frames are mostly black background, so sigmoid(−4) ≈ 0.02 is a good first guess
        nn.init.constant_(self.decoder[-2].bias, -4.0)

    # -- the one pass -------------------------------------------------------------------------------
    def _pad(self, context: torch.Tensor) -> torch.Tensor:
        """The last ``Tc`` frames of context (B, T, C, S, S), left-padded with its first frame if T < Tc."""
        T = context.shape[1]
        if T >= self.context:
            return context[:, T - self.context:]
        first = context[:, :1].expand(-1, self.context - T, -1, -1, -1)
        return torch.cat([first, context], dim=1)

    def predict_logits(self, context: torch.Tensor) -> torch.Tensor:
        """Logits of the ``future`` frames after context (B, T, C, S, S): (B, Tf, C, S, S), with gradients."""
        check_video(context, self.channels, self.size, "SimVPPredictor")
        x = self._pad(context)  # (B, Tc, C, S, S)
        B, Tc = x.shape[:2]
        feats = self.encoder(x.flatten(0, 1))  # (B·Tc, w, g, g)
        g = feats.shape[-1]
        stacked = feats.reshape(B, Tc * self.width, g, g)  # time becomes channels
        out = self.lower(self.blocks(self.lift(stacked)))  # (B, Tf·w, g, g)
        out = out.reshape(B * self.future, self.width, g, g)  # one code per future frame
        # the skip: the last context frame's features, given to every future frame's decoder
        skip = feats.reshape(B, Tc, self.width, g, g)[:, -1]  # (B, w, g, g)
        skip = skip.repeat_interleave(self.future, dim=0)  # (B·Tf, w, g, g)
        logits = self.decoder(torch.cat([out, skip], dim=1))  # (B·Tf, C, S, S)
        return logits.reshape(B, self.future, *logits.shape[1:])

    # -- the FramePredictor contract -------------------------------------------------------------
    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """Teacher-forcing logits (B, T, C, S, S): ``logits[:, t]`` predicts frame ``t + 1`` from frames ``0..t``.

        Every prefix is a context of its own (padded as in :meth:`predict_logits`); the first
        predicted frame of each is kept. T passes' worth of work, batched: for the contract and
        for tests, not for training (training uses :meth:`predict_logits`).
        """
        check_video(frames, self.channels, self.size, "SimVPPredictor")
        B, T = frames.shape[:2]
        windows = torch.stack([self._pad(frames[:, :t + 1]) for t in range(T)], dim=1)  # (B, T, Tc, C, S, S)
        logits = self.predict_logits(windows.flatten(0, 1))[:, 0]  # (B·T, C, S, S)
        return logits.reshape(frames.shape)

    @torch.no_grad()
    def rollout(self, context: torch.Tensor, horizon: int) -> torch.Tensor:
        """Frames in [0, 1] (B, horizon, C, S, S) after context (B, Tc, C, S, S): one pass per ``future`` frames."""
        check_video(context, self.channels, self.size, "SimVPPredictor.rollout")
        if horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {horizon}")
        frames = context
        preds: list[torch.Tensor] = []
        while sum(p.shape[1] for p in preds) < horizon:
            block = torch.sigmoid(self.predict_logits(frames))  # (B, Tf, C, S, S)
            preds.append(block)
            frames = torch.cat([frames, block], dim=1)
        return torch.cat(preds, dim=1)[:, :horizon]


__all__ = ["SimVPPredictor", "TranslatorBlock"]
