"""Recipe: the all-at-once (SimVP-like) predictor of chapter 04: ten context frames in, ten future frames out.

One forward pass per clip predicts all ten future frames (no feedback, so no
exposure bias and no loop over time). The loss is the binary cross-entropy of
the ten predicted frames plus ``ssim_weight · (1 − SSIM)``: the cross-entropy
alone rewards a faint grey haze wherever the model is unsure, which costs little
squared error but ruins the structure of a mostly black frame (chapter 04
measures both). Every training clip is shown under a random symmetry of the
simulator (:func:`vidgen_edu.data.augment.random_symmetry`); the learning rate
warms up, then follows a cosine to zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader

from ..data import make_dataset
from ..data.augment import random_symmetry
from ..metrics import ssim
from ..models.simvp import SimVPPredictor
from ..runtime import Budget
from ..train import fit
from . import register
from .base import Recipe


@dataclass(frozen=True, kw_only=True)
class SimVPPredictorRecipe(Recipe):
    data: str = "balls"  # "balls" or "digits" (vidgen_edu.data.make_dataset)
    train_clips: Budget = Budget(full=4000, quick=64)  # training clips of 20 frames (split "train", seed 0)
    context: int = 10  # frames in
    future: int = 10  # frames out, all at once
    width: int = 32  # feature channels per frame
    hidden: int = 128  # channels of the translator
    depth: int = 6  # residual blocks of the translator
    patch: int = 4  # space-to-depth factor: everything runs on an 8×8 grid
    batch_size: int = 16
    lr: float = 3e-3  # peak learning rate (AdamW)
    weight_decay: float = 0.01
    warmup: float = 0.05  # fraction of the steps spent warming the learning rate up
    grad_clip: float = 1.0  # clip the global gradient norm
    ssim_weight: float = 1.0  # loss = BCE + ssim_weight · (1 − SSIM)
    flips: bool = True  # mirror and transpose training clips (balls: yes; digits: a mirrored 2 is no digit)
    reverse: bool = True  # play training clips backwards (the physics is reversible)
    steps: Budget = Budget(full=1800, quick=3)  # optimizer steps

    def build(self) -> SimVPPredictor:
        return SimVPPredictor(context=self.context, future=self.future, width=self.width, hidden=self.hidden,
                              depth=self.depth, patch=self.patch)

    def loss(self, model: SimVPPredictor, clips: torch.Tensor) -> torch.Tensor:
        """BCE + ssim_weight · (1 − SSIM) of the predicted futures of clips (B, context + future, C, H, W)."""
        truth = clips[:, self.context:self.context + self.future]  # (B, Tf, C, H, W)
        logits = model.predict_logits(clips[:, :self.context])  # (B, Tf, C, H, W)
        bce = F.binary_cross_entropy_with_logits(logits, truth)
        if not self.ssim_weight:
            return bce
        return bce + self.ssim_weight * (1 - ssim(torch.sigmoid(logits), truth, grad=True).mean())

    def fit(self, model: SimVPPredictor, device: torch.device) -> list[float]:
        train = make_dataset(self.data, "train", num_clips=self.train_clips.value, T=self.context + self.future,
                             seed=0)
        loader = DataLoader(train, batch_size=self.batch_size, shuffle=True, drop_last=True,
                            generator=torch.Generator().manual_seed(self.seed))
        steps = self.steps.value
        coins = torch.Generator().manual_seed(self.seed)  # the symmetries' coin flips

        def loss_fn(model: SimVPPredictor, clips: torch.Tensor) -> torch.Tensor:
            return self.loss(model, random_symmetry(clips, coins, flips=self.flips, reverse=self.reverse))

        def schedule(step: int) -> float:  # linear warm-up, then a cosine from 1 to 0
            warm = max(1, round(self.warmup * steps))
            if step < warm:
                return (step + 1) / warm
            return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, steps - warm)))

        opt = torch.optim.AdamW(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
        return fit(model, loss_fn, loader, steps, optimizer=opt, scheduler=sched, device=device,
                   grad_clip=self.grad_clip, desc=f"{self.name}")


BALLS = register(SimVPPredictorRecipe(name="simvp_predictor_balls", chapter="04", data="balls"))
DIGITS = register(SimVPPredictorRecipe(name="simvp_predictor_digits", chapter="04", data="digits", flips=False))
