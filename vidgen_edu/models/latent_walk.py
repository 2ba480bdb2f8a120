"""A frame VAE as a (crude) video generator: decode a straight walk between two random latent codes.

Chapter 03 made its first video this way, between the codes of two real frames.
As a :class:`~vidgen_edu.models.api.VideoGenerator` it draws both ends from the
prior, ``z_a, z_b ~ N(0, I)``, and decodes ``z(t) = (1 − t) z_a + t z_b`` at ``T``
evenly spaced ``t`` in [0, 1]. Nothing in it knows about motion: it is the
baseline that a real video generator (chapter 08 onwards) must beat.
"""

from __future__ import annotations

import torch
from torch import nn


class LatentWalk(nn.Module):
    """``sample(n, T)`` clips (n, T, C, H, W) decoded along straight lines in the latent space of a frame VAE.

    ``vae`` is a trained :class:`~vidgen_edu.models.vae.ConvVAE` (``decode`` gives frames in [0, 1]).
    """

    def __init__(self, vae: nn.Module, frames: int = 10) -> None:
        super().__init__()
        self.vae, self.frames = vae, frames
        self.channels, self.size, self.latent_dim = vae.channels, vae.size, vae.latent_dim

    @torch.no_grad()
    def sample(self, n: int, T: int | None = None, *, cond: list[str] | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        if cond is not None:
            raise ValueError("a latent walk is unconditional; use cond=None")
        T = self.frames if T is None else T
        device = next(self.vae.parameters()).device
        ends = torch.randn(2, n, self.latent_dim, generator=generator).to(device)  # z_a, z_b: (2, n, D)
        t = torch.linspace(0, 1, T, device=device)[None, :, None]  # (1, T, 1)
        # z(t) = (1 − t) z_a + t z_b
        z = (1 - t) * ends[0][:, None] + t * ends[1][:, None]  # (n, T, D)
        frames = self.vae.decode(z.flatten(0, 1))  # (n·T, C, H, W)
        return frames.view(n, T, self.channels, self.size, self.size)


__all__ = ["LatentWalk"]
