"""A video autoencoder that compresses space *and* time: the latent space of chapter 10's diffusion model.

Latent diffusion (Rombach et al. 2022; Stable Video Diffusion, Sora) does not denoise
pixels. An autoencoder first maps a clip to a much smaller latent, the diffusion
model learns the distribution of latents, and the decoder turns a sampled latent
back into frames. The denoiser then spends its steps on *what* is where and how it
moves, not on drawing edges.

:class:`TubeletVAE` cuts a clip into groups of ``tubelet`` consecutive frames and
encodes each group, its frames stacked as channels, with a small convolutional
network (chapter 03's VAE, with time folded into channels):
``(B, T, C, 32, 32) → (B, T/τ, c, 8, 8)``: with ``τ = 10`` a whole clip becomes one
latent frame (chapter 10 prints how many times smaller it is). The latent is
Gaussian, ``q(z | x) = N(μ, σ²)``, with a small KL weight: enough to keep it smooth and
of bounded scale, which a diffusion model needs, not so much that it blurs.
``scale`` (a buffer set after training) standardizes latents to unit variance, the
"scale factor" of Stable Diffusion.
"""

from __future__ import annotations

import torch
from torch import nn

from .blocks import check_video


def _res(width: int) -> nn.Module:
    return _Residual(nn.Sequential(nn.GroupNorm(8, width), nn.SiLU(), nn.Conv2d(width, width, 3, padding=1),
                                   nn.GroupNorm(8, width), nn.SiLU(), nn.Conv2d(width, width, 3, padding=1)))


class _Residual(nn.Module):
    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class TubeletVAE(nn.Module):
    """Clips (B, T, C, size, size) ↔ latents (B, T/τ, latent_channels, size/4, size/4) (chapter 10).

    Args:
        channels, size, frames: the clips.
        tubelet: frames encoded together into one latent frame (``τ``; must divide ``frames``).
        latent_channels: channels ``c`` of a latent frame.
        width: channels of the convolutions at full resolution (×2 at each halving).
    """

    def __init__(self, channels: int = 3, size: int = 32, frames: int = 10, *, tubelet: int = 5,
                 latent_channels: int = 16, width: int = 64) -> None:
        super().__init__()
        if frames % tubelet or size % 4:
            raise ValueError(f"frames ({frames}) must be a multiple of tubelet ({tubelet}), size ({size}) of 4")
        self.channels, self.size, self.frames, self.tubelet = channels, size, frames, tubelet
        self.latent_channels, self.latent_size = latent_channels, size // 4
        cin = tubelet * channels
        w1, w2 = width, 2 * width
        # 32×32 → 16×16 → 8×8; the last 1×1 gives μ and log σ²
        self.encoder = nn.Sequential(
            nn.Conv2d(cin, w1, 3, padding=1), _res(w1),
            nn.Conv2d(w1, w2, 4, stride=2, padding=1), _res(w2),
            nn.Conv2d(w2, w2, 4, stride=2, padding=1), _res(w2),
            nn.GroupNorm(8, w2), nn.SiLU(), nn.Conv2d(w2, 2 * latent_channels, 1))
        self.decoder = nn.Sequential(
            nn.Conv2d(latent_channels, w2, 3, padding=1), _res(w2),
            nn.ConvTranspose2d(w2, w2, 4, stride=2, padding=1), _res(w2),
            nn.ConvTranspose2d(w2, w1, 4, stride=2, padding=1), _res(w1),
            nn.GroupNorm(8, w1), nn.SiLU(), nn.Conv2d(w1, cin, 3, padding=1))
        self.register_buffer("scale", torch.ones(()))  # std of the training latents' μ (set by the recipe)

    def _groups(self, clips: torch.Tensor) -> torch.Tensor:
        """(B, T, C, H, W) → (B·T/τ, τ·C, H, W): each tubelet's frames stacked as channels."""
        B, T, C, H, W = clips.shape
        if T % self.tubelet:
            raise ValueError(f"a clip of {T} frames does not split into tubelets of {self.tubelet}")
        return clips.reshape(B * T // self.tubelet, self.tubelet * C, H, W)

    def encode(self, clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Clips (B, T, C, H, W) in [0, 1] → μ, log σ² (B, T/τ, c, H/4, W/4)."""
        check_video(clips, self.channels, self.size, "TubeletVAE.encode")
        B = clips.shape[0]
        h = self.encoder(2 * self._groups(clips) - 1)  # (B·T/τ, 2c, H/4, W/4)
        mu, logvar = h.reshape(B, -1, 2 * self.latent_channels, *h.shape[-2:]).chunk(2, dim=2)
        return mu, logvar.clamp(-30, 20)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Latents (B, S, c, h, w) → logits of the clip's pixels (B, S·τ, C, H, W)."""
        B, S = z.shape[:2]
        x = self.decoder(z.reshape(B * S, *z.shape[2:]))  # (B·S, τ·C, H, W)
        return x.reshape(B, S * self.tubelet, self.channels, self.size, self.size)

    def forward(self, clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Logits of the reconstruction from a sampled z, and μ, log σ² (for the ELBO)."""
        mu, logvar = self.encode(clips)
        # z = μ + σ ε: the reparameterization trick (chapter 03)
        z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
        return self.decode_logits(z), mu, logvar

    @torch.no_grad()
    def latents(self, clips: torch.Tensor) -> torch.Tensor:
        """Standardized latents μ / scale (B, T/τ, c, h, w) of clips in [0, 1]: what the diffusion model learns."""
        return self.encode(clips)[0] / self.scale

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Standardized latents (B, S, c, h, w) → clips (B, S·τ, C, H, W) in [0, 1]."""
        return torch.sigmoid(self.decode_logits(latents * self.scale))
