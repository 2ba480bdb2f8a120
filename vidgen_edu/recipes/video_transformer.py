"""Recipe: the video transformer of chapter 05 (divided space-time attention), a next-frame predictor.

Teacher forcing on clips of 20 frames: the loss is the binary cross-entropy
between the logits at every position t and the true frame t + 1 (all 19 at
once, thanks to the causal attention). Adam with a linear warm-up and a cosine
decay of the learning rate, gradient clipping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader

from ..data import make_dataset
from ..models.transformer import VideoTransformer
from ..runtime import Budget
from ..train import fit
from . import register
from .base import Recipe


@dataclass(frozen=True, kw_only=True)
class VideoTransformerRecipe(Recipe):
    data: str = "balls"  # "balls" or "digits" (vidgen_edu.data.make_dataset)
    train_clips: Budget = Budget(full=2000, quick=32)  # training clips (split "train", seed 0)
    frames: int = 20  # frames per training clip (= the model's max_frames)
    patch: int = 8  # a 32×32 frame becomes 4×4 = 16 tokens
    width: int = 96  # token width
    depth: int = 3  # divided space-time blocks
    heads: int = 4
    attention: str = "divided"  # "divided" (time, then space) or "full" (block-causal over all tokens)
    batch_size: Budget = Budget(full=8, quick=4)
    lr: float = 2e-3  # Adam, peak learning rate
    warmup: int = 50  # steps of linear warm-up, then a cosine decay to 0 at the last step
    grad_clip: float = 1.0
    steps: Budget = Budget(full=1000, quick=3)

    def build(self) -> VideoTransformer:
        return VideoTransformer(channels=1, size=32, patch=self.patch, width=self.width, depth=self.depth,
                                heads=self.heads, max_frames=self.frames, attention=self.attention)

    def loss(self, model: VideoTransformer, clips: torch.Tensor) -> torch.Tensor:
        """BCE between logits[:, t] and frames[:, t+1] for every t of clips (B, T, C, H, W)."""
        logits = model(clips)  # (B, T, C, H, W)
        return F.binary_cross_entropy_with_logits(logits[:, :-1], clips[:, 1:])

    def fit(self, model: VideoTransformer, device: torch.device) -> list[float]:
        train = make_dataset(self.data, "train", num_clips=self.train_clips.value, T=self.frames, seed=0)
        loader = DataLoader(train, batch_size=self.batch_size.value, shuffle=True, drop_last=True,
                            generator=torch.Generator().manual_seed(self.seed))
        steps = self.steps.value
        opt = torch.optim.Adam(model.parameters(), lr=self.lr)
        # lr(s) = lr · min(1, (s + 1) / warmup) · ½ (1 + cos(π s / steps))
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: min(1.0, (s + 1) / self.warmup) * 0.5 * (1 + math.cos(math.pi * min(s / steps, 1.0))))
        return fit(model, self.loss, loader, steps, optimizer=opt, scheduler=sched, device=device,
                   grad_clip=self.grad_clip, desc=self.name)


BALLS = register(VideoTransformerRecipe(name="video_transformer_balls", chapter="05", data="balls"))
DIGITS = register(VideoTransformerRecipe(name="video_transformer_digits", chapter="05", data="digits",
                                         steps=Budget(full=400, quick=3)))
