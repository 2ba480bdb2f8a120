"""A deterministic next-frame predictor: frame encoder → recurrent core → frame decoder (chapter 04).

Given frames ``x_1 .. x_t`` it predicts ``x_{t+1}``. Trained with teacher
forcing (the true frame is fed at every step), it is run *free* at test time:
after the conditioning frames it feeds its own predictions back to predict K
future frames. Scheduled sampling (Bengio et al., 2015) mixes the two during
training so the model learns to cope with its own mistakes.

The core is a GRU over a vector code of each frame (``core="gru"``) or a
ConvGRU over a feature map (``core="convgru"``). With ``core="gru"`` the model
uses PyTorch's fused ``nn.GRU`` by default; ``from_scratch=True`` swaps in
:class:`vidgen_edu.models.recurrent.GRU`, which has the same parameters and
gives the same numbers, only slower.

The model is a :class:`vidgen_edu.models.api.FramePredictor`: ``forward(frames)``
returns next-frame **logits**, ``rollout(context, horizon)`` frames in [0, 1]
under ``torch.no_grad()``. The recurrent state is exposed by
:meth:`NextFramePredictor.forward_with_state` and :meth:`NextFramePredictor.step`.
"""

from __future__ import annotations

import torch
from torch import nn

from .blocks import check_video
from .recurrent import GRU, ConvGRUCell


class NextFramePredictor(nn.Module):
    """Predict the next frame of a video, one step at a time (chapter 04).

    Args:
        channels, size: frame shape ``(channels, size, size)``; ``size`` divisible by ``patch``.
        hidden_size: GRU state size (``core="gru"``) or ConvGRU state channels (``core="convgru"``).
        width: channels of the convolutional encoder/decoder.
        core: ``"gru"`` (vector state) or ``"convgru"`` (state is a ``g × g`` map, ``g = size / patch``).
        patch: side of the pixel blocks folded into channels (space-to-depth) before the encoder.
        num_layers: stacked GRU layers (``core="gru"`` only).
        from_scratch: use the from-scratch ``GRU`` instead of ``nn.GRU`` (same numbers).

    The model outputs **logits**; ``torch.sigmoid`` turns them into frames in [0, 1]
    and ``binary_cross_entropy_with_logits`` is the matching training loss.
    The last layer also sees the input frame, so "this pixel stays as it is" is
    easy to express and the network can spend its capacity on the change.
    """

    def __init__(self, channels: int = 1, size: int = 32, hidden_size: int = 256, width: int = 32,
                 core: str = "gru", num_layers: int = 1, patch: int = 4, from_scratch: bool = False) -> None:
        super().__init__()
        if size % patch:
            raise ValueError(f"size must be divisible by patch, got size={size}, patch={patch}")
        if core not in ("gru", "convgru"):
            raise ValueError(f"core must be 'gru' or 'convgru', got {core!r}")
        self.channels, self.size, self.patch, self.core_type = channels, size, patch, core
        self.hidden_size, self.num_layers, self.from_scratch = hidden_size, num_layers, from_scratch
        self.width = width
        f, g = width, size // patch  # feature channels, side of the coarse grid
        # space-to-depth: each patch×patch block becomes one cell with C·patch² channels, so every
        # convolution below runs on a g×g grid (16× fewer positions than the frame for patch=4)
        self.encoder = nn.Sequential(  # (N, C, S, S) → (N, f, g, g)
            nn.PixelUnshuffle(patch),
            nn.Conv2d(channels * patch * patch, f, 3, padding=1), nn.ReLU(),
            nn.Conv2d(f, f, 3, padding=1), nn.ReLU(),
        )
        if core == "gru":
            code = f * g * g
            gru_cls = GRU if from_scratch else nn.GRU
            self.core = gru_cls(code, hidden_size, num_layers=num_layers, batch_first=True)
            self.readout = nn.Linear(hidden_size, code)  # state → (f, g, g) feature map
        else:
            self.core = ConvGRUCell(f, hidden_size, kernel_size=3)
            self.readout = nn.Conv2d(hidden_size, f, 3, padding=1)
        self.decoder = nn.Sequential(  # (N, f, g, g) → (N, C, S, S)
            nn.ReLU(),
            nn.Conv2d(f, f, 3, padding=1), nn.ReLU(),
            nn.Conv2d(f, channels * patch * patch, 1),
            nn.PixelShuffle(patch),  # depth-to-space: back to full resolution
        )
        # the last layer also sees the input frame: a cheap path for "this pixel stays as it is"
        self.merge = nn.Conv2d(2 * channels, channels, 3, padding=1)
        self._init_merge(gain=8.0)

    def _init_merge(self, gain: float) -> None:
        """Start as "decoder output + copy of the input frame": logit = up + gain·(x − 1/2).

        sigmoid(gain·(x − 1/2)) is ≈ 0.02 for x = 0 and ≈ 0.98 for x = 1, so the untrained model
        predicts "nothing moves" (the copy-last-frame baseline) and learns the change from there.
        """
        C = self.channels
        with torch.no_grad():
            self.merge.weight.zero_()
            self.merge.bias.fill_(-gain / 2)
            for c in range(C):
                self.merge.weight[c, c, 1, 1] = 1.0  # the decoder's logit, passed through
                self.merge.weight[c, C + c, 1, 1] = gain  # the input frame, as a logit

    # -- pieces -----------------------------------------------------------------------------------
    def _decode(self, state: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
        """Core output (N, hidden) or (N, hidden, g, g) and input frame (N, C, S, S) → next-frame logits."""
        feat = self.readout(state)
        if self.core_type == "gru":
            g = self.size // self.patch
            feat = feat.view(feat.shape[0], -1, g, g)  # (N, f, g, g)
        up = self.decoder(feat)  # (N, C, S, S)
        return self.merge(torch.cat([up, frame], dim=1))  # (N, C, S, S) logits

    def init_state(self, batch: int, device: torch.device | None = None) -> torch.Tensor:
        """The zero state: (L, B, hidden) for the GRU core, (B, hidden, g, g) for ConvGRU (g = size / patch)."""
        if self.core_type == "gru":
            return torch.zeros(self.num_layers, batch, self.hidden_size, device=device)
        g = self.size // self.patch
        return torch.zeros(batch, self.hidden_size, g, g, device=device)

    def step(self, frame: torch.Tensor, h: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One step: frame ``x_t`` (B, C, S, S) and state → logits of ``x_{t+1}`` (B, C, S, S) and new state."""
        logits, h = self.forward_with_state(frame.unsqueeze(1), h)
        return logits[:, 0], h

    # -- the three ways to run it ------------------------------------------------------------------
    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: true frames (B, T, C, S, S) in, next-frame logits (B, T, C, S, S) out.

        ``logits[:, t]`` predicts ``frames[:, t + 1]`` from frames ``0..t``; the state
        starts at zero. :meth:`forward_with_state` also takes and returns the state.
        """
        return self.forward_with_state(frames)[0]

    def forward_with_state(self, frames: torch.Tensor,
                           h: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`forward` from state ``h`` (``None``: zeros); returns the logits and the final state.

        ``frames`` (B, T, C, S, S) → ``logits`` (B, T, C, S, S) and ``h``: (L, B, hidden)
        for the GRU core, (B, hidden, g, g) for ConvGRU (see :meth:`init_state`).
        """
        check_video(frames, self.channels, self.size, "NextFramePredictor")
        B, T = frames.shape[:2]
        flat = frames.reshape(B * T, *frames.shape[2:])  # (B·T, C, S, S)
        codes = self.encoder(flat)  # (B·T, f, g, g): every frame encoded at once
        if self.core_type == "gru":
            codes = codes.reshape(B, T, -1)  # (B, T, code)
            states, h = self.core(codes, h)  # (B, T, hidden), (L, B, hidden)
            states = states.reshape(B * T, -1)
        else:
            codes = codes.reshape(B, T, *codes.shape[1:])
            out = []
            for t in range(T):  # no fused kernel for a ConvGRU: a Python loop
                h = self.core(codes[:, t], h)  # (B, hidden, g, g)
                out.append(h)
            states = torch.stack(out, dim=1).flatten(0, 1)  # (B·T, hidden, g, g)
        logits = self._decode(states, flat)
        return logits.reshape(frames.shape), h

    @torch.no_grad()
    def rollout(self, context: torch.Tensor, horizon: int) -> torch.Tensor:
        """Free-running prediction: condition on ``context`` (B, Tc, C, S, S), predict ``horizon`` frames.

        Returns frames in [0, 1], (B, horizon, C, S, S), without gradients. Each predicted
        frame (its probabilities, not a sample) is fed back as the next input. Training
        through fed-back predictions is :meth:`scheduled`'s job.
        """
        check_video(context, self.channels, self.size, "NextFramePredictor.rollout")
        if horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {horizon}")
        logits, h = self.forward_with_state(context)
        frame = torch.sigmoid(logits[:, -1])  # (B, C, S, S): prediction of the first future frame
        preds = [frame]
        for _ in range(horizon - 1):
            logit, h = self.step(frame, h)
            frame = torch.sigmoid(logit)
            preds.append(frame)
        return torch.stack(preds, dim=1)

    def scheduled(self, clip: torch.Tensor, n_context: int, teacher_prob: float,
                  generator: torch.Generator | None = None) -> torch.Tensor:
        """Scheduled sampling over a whole clip (B, T, C, S, S) → logits (B, T−1, C, S, S) of frames 1..T−1.

        The first ``n_context`` frames are always the true ones. After them, each step
        feeds the true frame with probability ``teacher_prob`` (one coin per clip and step)
        and the model's own previous prediction otherwise. ``teacher_prob = 1`` is
        teacher forcing, ``0`` is a free-running rollout; gradients flow through the
        fed-back predictions.
        """
        check_video(clip, self.channels, self.size, "NextFramePredictor.scheduled")
        B, T = clip.shape[:2]
        if not 1 <= n_context < T:
            raise ValueError(f"n_context must be in [1, T-1] = [1, {T - 1}], got {n_context}")
        logits, h = self.forward_with_state(clip[:, :n_context])  # context steps in parallel, (B, Tc, C, S, S)
        out = [logits]
        logit = logits[:, -1]
        for t in range(n_context, T - 1):
            own = torch.sigmoid(logit)
            coin = torch.rand(B, 1, 1, 1, generator=generator).to(clip.device) < teacher_prob
            frame = torch.where(coin, clip[:, t], own)  # (B, C, S, S)
            logit, h = self.step(frame, h)
            out.append(logit.unsqueeze(1))
        return torch.cat(out, dim=1)


__all__ = ["NextFramePredictor"]
