"""Recipe: the stochastic predictor of chapter 07 (a latent per frame, learned prior), and its ablation.

Clips of 15 frames of the stochastic balls (at each wall hit a ball leaves in
a random direction). The loss is the negative ELBO per predicted frame, in
nats: the Bernoulli reconstruction of frame ``t`` plus β times the KL from the
posterior q(z_t | x_{≤t}) to the learned prior p(z_t | x_{<t}), averaged over
the 14 predicted frames. β = 1 is the ELBO itself; it is reached after a
linear warm-up from 0 (chapter 03's remedy against posterior collapse).
Scheduled sampling (chapter 04) teaches the recurrence to read its own frames.
The same recipe with ``latent_dim=0`` is the deterministic ablation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader

from ..data import make_dataset
from ..losses import kl_normal
from ..models.stochastic import StochasticPredictor
from ..runtime import Budget
from ..train import fit
from . import register
from .base import Recipe
from .convgru_predictor import teacher_prob


@dataclass(frozen=True, kw_only=True)
class StochasticPredictorRecipe(Recipe):
    data: str = "balls-stochastic"  # vidgen_edu.data.make_dataset name
    train_clips: Budget = Budget(full=4000, quick=48)  # training clips (split "train", seed 0)
    frames: int = 15  # frames per training clip: 5 to read, 10 to predict (the test horizon)
    context: int = 5  # inputs that are always true frames (velocity is read from 2-3 frames)
    latent_dim: int = 4  # channels of z_t on the 8×8 grid; 0 = the deterministic ablation
    hidden_size: int = 40  # ConvGRU state channels
    width: int = 40  # channels of the frame encoder/decoder
    patch: int = 4  # space-to-depth factor: the recurrence runs on an 8×8 grid
    beta: float = 1.0  # weight of the KL term after the warm-up (1 = the ELBO)
    kl_warmup: float = 0.3  # fraction of training over which β rises linearly from 0
    batch_size: int = 16
    lr: float = 2e-3  # peak of the one-cycle schedule (Adam)
    warmup: float = 0.1  # fraction of the steps spent warming the learning rate up
    grad_clip: float = 1.0
    ss_start: float = 0.3  # scheduled sampling: feed true frames until here ...
    ss_end: float = 0.7  # ... then own predictions more and more, only them from here
    steps: Budget = Budget(full=600, quick=3)  # optimizer steps
    cpu_threads: int | None = None  # two threads: 1.5× faster than one for these map sizes

    def build(self) -> StochasticPredictor:
        return StochasticPredictor(width=self.width, hidden_size=self.hidden_size,
                                   latent_dim=self.latent_dim, patch=self.patch)

    def terms(self, model: StochasticPredictor, clips: torch.Tensor, p: float = 1.0,
              generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Reconstruction and KL in nats per predicted frame, each (B, T-1), for clips (B, T, C, H, W)."""
        tr = model.trace(clips, teacher_prob=p, context=self.context, generator=generator)
        # −log p(x_t | x_{<t}, z_{≤t}): Bernoulli, summed over the pixels of a frame
        recon = F.binary_cross_entropy_with_logits(tr.logits, clips[:, 1:], reduction="none").flatten(2).sum(-1)
        if not model.latent_dim:
            return recon, torch.zeros_like(recon)
        # KL( q(z_t | x_{≤t}) ‖ p(z_t | x_{<t}) ): two diagonal Gaussians (chapter 03), summed over z's entries
        B, T1 = recon.shape
        kl = kl_normal(tr.mu_q.flatten(0, 1), tr.logvar_q.flatten(0, 1),
                       tr.mu_p.flatten(0, 1), tr.logvar_p.flatten(0, 1)).view(B, T1)
        return recon, kl

    def loss(self, model: StochasticPredictor, clips: torch.Tensor, p: float = 1.0, beta: float | None = None,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """β-weighted negative ELBO per predicted frame (nats), averaged over clips and frames."""
        recon, kl = self.terms(model, clips, p, generator)
        beta = self.beta if beta is None else beta
        return (recon + beta * kl).mean()

    def fit(self, model: StochasticPredictor, device: torch.device) -> list[float]:
        train = make_dataset(self.data, "train", num_clips=self.train_clips.value, T=self.frames, seed=0)
        loader = DataLoader(train, batch_size=self.batch_size, shuffle=True, drop_last=True,
                            generator=torch.Generator().manual_seed(self.seed))
        steps = self.steps.value
        noise = torch.Generator().manual_seed(self.seed)  # z draws and scheduled sampling's coins
        step = 0

        def loss_fn(model: StochasticPredictor, clips: torch.Tensor) -> torch.Tensor:
            nonlocal step
            frac = step / steps
            p = teacher_prob(frac, self.ss_start, self.ss_end)
            # β(s) = β · min(1, s / warm-up): the KL term is switched on gradually
            beta = self.beta * min(1.0, frac / self.kl_warmup) if self.kl_warmup > 0 else self.beta
            step += 1
            return self.loss(model, clips, p, beta, noise)

        opt = torch.optim.Adam(model.parameters(), lr=self.lr)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=self.lr, total_steps=steps, pct_start=self.warmup)
        return fit(model, loss_fn, loader, steps, optimizer=opt, scheduler=sched, device=device,
                   grad_clip=self.grad_clip, desc=self.name)


BALLS = register(StochasticPredictorRecipe(name="stochastic_predictor_balls", chapter="07"))
#: the same network and training with z switched off: what the latent variable adds
DETERMINISTIC_BALLS = register(StochasticPredictorRecipe(name="deterministic_predictor_balls", chapter="07",
                                                         latent_dim=0))
