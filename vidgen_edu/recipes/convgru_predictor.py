"""Recipe: the ConvGRU next-frame predictor of chapter 04, trained with scheduled sampling.

Clips of 20 frames; the loss is the binary cross-entropy of all 19 next-frame
predictions. The first ``context`` inputs are always true frames; after them
the model is fed the true frame with probability ``p`` and its own prediction
otherwise, with ``p`` falling from 1 to 0 during training (scheduled sampling,
Bengio et al. 2015), so that it learns to read its own imperfect frames, as it
must in a free-running rollout.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader

from ..data import make_dataset
from ..models.predictor import NextFramePredictor
from ..runtime import Budget
from ..train import fit
from . import register
from .base import Recipe


def teacher_prob(frac: float, start: float = 0.2, end: float = 0.6) -> float:
    """Probability of feeding the true frame at fraction ``frac`` of training: 1, then linear down to 0."""
    return min(1.0, max(0.0, (end - frac) / (end - start)))


@dataclass(frozen=True, kw_only=True)
class ConvGRUPredictorRecipe(Recipe):
    data: str = "balls"  # "balls" or "digits" (vidgen_edu.data.make_dataset)
    train_clips: Budget = Budget(full=2000, quick=48)  # training clips (split "train", seed 0)
    frames: int = 20  # frames per training clip
    context: int = 10  # inputs that are always true frames
    hidden_size: int = 32  # ConvGRU state channels
    width: int = 32  # channels of the frame encoder/decoder
    patch: int = 4  # space-to-depth factor: the ConvGRU runs on an 8×8 grid
    batch_size: int = 16
    lr: float = 2e-3  # peak of the one-cycle schedule (Adam)
    warmup: float = 0.1  # fraction of the steps spent warming the learning rate up
    grad_clip: float = 1.0  # clip the global gradient norm
    ss_start: float = 0.2  # scheduled sampling: p = 1 until this fraction of training ...
    ss_end: float = 0.6  # ... then falls linearly to 0 here, and stays 0
    steps: Budget = Budget(full=400, quick=3)  # optimizer steps
    cpu_threads: int | None = 1  # tiny tensors: one thread is fastest (chapter 04)

    def build(self) -> NextFramePredictor:
        return NextFramePredictor(core="convgru", hidden_size=self.hidden_size, width=self.width, patch=self.patch)

    def loss(self, model: NextFramePredictor, clips: torch.Tensor, p: float = 1.0,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """BCE of the 19 next-frame predictions of clips (B, 20, C, H, W), feeding truth with probability p."""
        logits = model.scheduled(clips, self.context, p, generator=generator)  # (B, 19, C, H, W): frames 1..19
        return F.binary_cross_entropy_with_logits(logits, clips[:, 1:])

    def fit(self, model: NextFramePredictor, device: torch.device) -> list[float]:
        train = make_dataset(self.data, "train", num_clips=self.train_clips.value, T=self.frames, seed=0)
        loader = DataLoader(train, batch_size=self.batch_size, shuffle=True, drop_last=True,
                            generator=torch.Generator().manual_seed(self.seed))
        steps = self.steps.value
        coins = torch.Generator().manual_seed(self.seed)  # scheduled sampling's coin flips
        step = 0

        def loss_fn(model: NextFramePredictor, clips: torch.Tensor) -> torch.Tensor:
            nonlocal step
            p = teacher_prob(step / steps, self.ss_start, self.ss_end)
            step += 1
            return self.loss(model, clips, p, coins)

        opt = torch.optim.Adam(model.parameters(), lr=self.lr)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=self.lr, total_steps=steps, pct_start=self.warmup)
        return fit(model, loss_fn, loader, steps, optimizer=opt, scheduler=sched, device=device,
                   grad_clip=self.grad_clip, desc=f"{self.name}")


BALLS = register(ConvGRUPredictorRecipe(name="convgru_predictor_balls", chapter="04", data="balls"))
DIGITS = register(ConvGRUPredictorRecipe(name="convgru_predictor_digits", chapter="04", data="digits"))
