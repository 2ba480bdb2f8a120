"""Recipe: the frame VAEs of chapter 03 (convolutional, and the fully connected one), trained on the ELBO.

A VAE of single frames: frames of the training clips, shuffled, in batches.
The loss is the β-VAE objective ``−E_q[log p(x|z)] + β KL(q(z|x) ‖ N(0, I))``
(β = 1: the negative ELBO) with one sample of z per frame; chapter 03's
experiments are variants of these recipes (``dataclasses.replace``): β, KL
warm-up, free bits, a Gaussian likelihood, the MLP with a ReLU bottleneck.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import DataLoader

from ..data import frame_set
from ..losses import elbo_loss
from ..models.vae import VAE, ConvVAE
from ..runtime import Budget
from ..train import fit
from . import register
from .base import Recipe


@dataclass(frozen=True, kw_only=True)
class FrameVAERecipe(Recipe):
    data: str = "digits-1"  # a key of vidgen_edu.data.FRAME_SETS: "digits-1", "balls", "one-ball"
    train_clips: Budget = Budget(full=2000, quick=40)  # training clips (default seed) ...
    frames_per_clip: int = 10  # ... of this many frames, all used as training frames
    model: str = "conv"  # "conv": ConvVAE; "mlp": the fully connected VAE on flattened frames
    latent_dim: int = 16  # dimensions of z
    width: int = 16  # ConvVAE: channels of the first layer; MLP: hidden units
    bottleneck_dim: int | None = None  # MLP only: the classic extra ReLU layer in front of the heads
    likelihood: str = "bernoulli"  # p(x|z): "bernoulli" or "gaussian" (chapter 03, posterior collapse)
    sigma: float = 1.0  # standard deviation of the Gaussian likelihood
    beta: float = 1.0  # weight of the KL term (β-VAE)
    kl_warmup: float = 0.0  # > 0: β ramps linearly from 0 to beta over this fraction of the steps
    free_bits: float = 0.0  # > 0: nats per latent dimension that cost nothing (Kingma et al. 2016)
    batch_size: int = 64
    lr: float = 1e-3  # Adam
    steps: Budget = Budget(full=1500, quick=5)

    def build(self) -> nn.Module:
        if self.model == "conv":
            return ConvVAE(channels=1, latent_dim=self.latent_dim, width=self.width)
        if self.model == "mlp":
            return VAE(input_dim=32 * 32, width=self.width, latent_dim=self.latent_dim,
                       bottleneck_dim=self.bottleneck_dim)
        raise ValueError(f"model must be 'conv' or 'mlp', got {self.model!r}")

    def loss(self, model: nn.Module, x: torch.Tensor, beta: float | None = None) -> torch.Tensor:
        """The β-VAE loss of a batch of frames x (B, 1, 32, 32), in nats per frame."""
        logits, mu, logvar = model(x)  # logits like x, mu and logvar (B, latent_dim)
        beta = self.beta if beta is None else beta
        return elbo_loss(logits, x, mu, logvar, logits=True, beta=beta, likelihood=self.likelihood,
                         sigma=self.sigma, free_bits=self.free_bits).loss

    def fit(self, model: nn.Module, device: torch.device) -> list[float]:
        frames = frame_set(self.data, "train", self.train_clips.value, self.frames_per_clip)  # (N·T, 1, 32, 32)
        loader = DataLoader(frames, batch_size=self.batch_size, shuffle=True, drop_last=True,
                            generator=torch.Generator().manual_seed(self.seed))
        steps = self.steps.value
        step = 0

        def loss_fn(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
            nonlocal step
            # KL warm-up: β_s = β · min(1, s / (kl_warmup · steps))
            ramp = min(1.0, step / (self.kl_warmup * steps)) if self.kl_warmup > 0 else 1.0
            step += 1
            return self.loss(model, x, beta=self.beta * ramp)

        return fit(model, loss_fn, loader, steps, lr=self.lr, device=device, desc=self.name)


DIGITS = register(FrameVAERecipe(name="conv_vae_digits", chapter="03", data="digits-1"))
BALLS = register(FrameVAERecipe(name="conv_vae_balls", chapter="03", data="balls"))
ONE_BALL = register(FrameVAERecipe(name="conv_vae_one_ball", chapter="03", data="one-ball", latent_dim=2))
MLP_DIGITS = register(FrameVAERecipe(name="mlp_vae_digits", chapter="03", data="digits-1", model="mlp",
                                     latent_dim=20, width=400, batch_size=128, steps=Budget(full=1000, quick=5)))
