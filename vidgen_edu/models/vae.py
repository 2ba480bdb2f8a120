"""Variational autoencoders: the classic MLP VAE and a small convolutional VAE (chapter 03).

Both return ``(logits, mu, logvar)`` from ``forward(x)``, as every model of the
library returns logits (see :mod:`vidgen_edu.models.api`): ``logits`` has the
shape of ``x`` and holds the decoder's pre-sigmoid output, whose sigmoid is the
Bernoulli mean of each pixel; ``mu`` and ``logvar = log σ²`` are the
``(B, latent_dim)`` parameters of the diagonal-Gaussian posterior ``q(z | x)``.
Train with ``elbo_loss(logits, x, mu, logvar, logits=True)``
(:func:`vidgen_edu.losses.elbo_loss`), which is stabler than the BCE of a
saturated sigmoid. ``decode(z)`` gives frames in ``[0, 1]`` (the Bernoulli
means, to look at); ``decode_logits(z)`` the logits.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def reparameterize(
    mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Draw ``z ~ N(mu, diag exp(logvar))`` as a differentiable function of ``mu`` and ``logvar``.

    The noise ``ε ~ N(0, I)`` carries all the randomness, so gradients flow
    through ``mu`` and ``σ`` (the reparameterization trick, chapter 03).
    ``generator`` must live on the device of ``mu``.
    """
    if mu.shape != logvar.shape:
        raise ValueError(f"mu and logvar must have the same shape, got {tuple(mu.shape)} and {tuple(logvar.shape)}")
    # ε ~ N(0, I)
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    # z = μ + σ ⊙ ε,   σ = exp(½ log σ²)
    return mu + torch.exp(0.5 * logvar) * eps


class VAE(nn.Module):
    """The classic fully connected VAE of the PyTorch examples, for flattened frames.

    ``VAE(input_dim=784, latent_dim=20)``: encoder ``input_dim → width = 400`` (ReLU)
    feeding the two heads ``fc21`` (μ) and ``fc22`` (log σ²); decoder
    ``latent_dim → 400`` (ReLU) ``→ input_dim`` (logits; their sigmoid is the
    Bernoulli mean, :meth:`decode`). That is the usual design, and it is what the
    ``pytorch/examples`` ``vae/main.py`` file contains: this module is state-dict
    compatible with that file's model (``fc1, fc21, fc22, fc3, fc4``).

    ``bottleneck_dim=20`` builds the **bottleneck variant** that is often copied
    instead: a second ReLU layer ``400 → 20`` (``fc2``) in front of the heads.
    Chapter 03 explains why that narrow ReLU layer is an odd choice and measures it.

    Input: ``(B, input_dim)`` or frames ``(B, C, H, W)`` with ``C·H·W == input_dim``.
    ``forward(x)`` returns ``(logits, mu, logvar)``, ``logits`` shaped like ``x``.
    """

    def __init__(
        self,
        input_dim: int = 784,
        latent_dim: int = 20,
        width: int = 400,
        bottleneck_dim: int | None = None,
    ) -> None:
        super().__init__()
        for name, value in (("input_dim", input_dim), ("latent_dim", latent_dim), ("width", width)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if bottleneck_dim is not None and (not isinstance(bottleneck_dim, int) or bottleneck_dim < 1):
            raise ValueError(f"bottleneck_dim must be a positive int or None, got {bottleneck_dim!r}")
        self.input_dim = input_dim
        self.latent_dim = latent_dim
        self.width = width
        self.bottleneck_dim = bottleneck_dim
        self.fc1 = nn.Linear(input_dim, width)
        head_in = width
        if bottleneck_dim is not None:
            self.fc2 = nn.Linear(width, bottleneck_dim)
            head_in = bottleneck_dim
        self.fc21 = nn.Linear(head_in, latent_dim)  # μ head
        self.fc22 = nn.Linear(head_in, latent_dim)  # log σ² head
        self.fc3 = nn.Linear(latent_dim, width)
        self.fc4 = nn.Linear(width, input_dim)

    def _flatten(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 2 or math.prod(x.shape[1:]) != self.input_dim:
            raise ValueError(
                f"VAE(input_dim={self.input_dim}) expects x of shape (B, {self.input_dim}) "
                f"or (B, C, H, W) with C*H*W = {self.input_dim}, got {tuple(x.shape)}"
            )
        return x.reshape(x.shape[0], self.input_dim)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The activations the heads read: ``(B, bottleneck_dim)``, or ``(B, width)`` without the bottleneck."""
        h = F.relu(self.fc1(self._flatten(x)))  # (B, width)
        if self.bottleneck_dim is not None:
            h = F.relu(self.fc2(h))  # (B, bottleneck) — non-negative, some units may be dead
        return h

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x -> (mu, logvar)``, each ``(B, latent_dim)``."""
        h = self.features(x)
        return self.fc21(h), self.fc22(h)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """``z (B, latent_dim) ->`` decoder logits ``(B, input_dim)``."""
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"decode expects z of shape (B, {self.latent_dim}), got {tuple(z.shape)}")
        h = F.relu(self.fc3(z))  # (B, width)
        return self.fc4(h)  # (B, input_dim)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``z (B, latent_dim) ->`` Bernoulli means ``(B, input_dim)`` in ``[0, 1]``, the frames to look at."""
        # p(x_i = 1 | z) = σ(logit_i)
        return torch.sigmoid(self.decode_logits(z))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``x -> (logits, mu, logvar)``; ``logits`` has the shape of ``x``, ``z ~ q(z|x)`` is sampled."""
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar)
        return self.decode_logits(z).reshape(x.shape), mu, logvar


class ConvVAE(nn.Module):
    """A small convolutional VAE for square frames ``(B, channels, size, size)`` (default 32×32, C = 1 or 3).

    Encoder: three stride-2 4×4 convolutions (``C → c → 2c → 4c`` channels with
    ``c = width``, ``size → size/8``), flattened into the μ and log σ² heads.
    Decoder: the mirror image with transposed convolutions, ending in logits.
    ``forward(x)`` returns ``(logits, mu, logvar)``, ``logits`` shaped like ``x``.
    """

    def __init__(
        self, channels: int = 1, latent_dim: int = 16, size: int = 32, width: int = 32
    ) -> None:
        super().__init__()
        if not isinstance(channels, int) or channels < 1:
            raise ValueError(f"channels must be a positive int, got {channels!r}")
        if not isinstance(width, int) or width < 1:
            raise ValueError(f"width must be a positive int, got {width!r}")
        if not isinstance(latent_dim, int) or latent_dim < 1:
            raise ValueError(f"latent_dim must be a positive int, got {latent_dim!r}")
        if not isinstance(size, int) or size < 8 or size % 8:
            raise ValueError(f"size must be a positive multiple of 8, got {size!r}")
        c = width
        self.channels, self.latent_dim, self.size, self.width = channels, latent_dim, size, width
        s = size // 8
        self._grid = (4 * c, s, s)
        self.encoder = nn.Sequential(
            nn.Conv2d(channels, c, 4, stride=2, padding=1), nn.ReLU(),  # (B, c, size/2, size/2)
            nn.Conv2d(c, 2 * c, 4, stride=2, padding=1), nn.ReLU(),  # (B, 2c, size/4, size/4)
            nn.Conv2d(2 * c, 4 * c, 4, stride=2, padding=1), nn.ReLU(),  # (B, 4c, size/8, size/8)
            nn.Flatten(),  # (B, 4c·s·s)
        )
        self.fc_mu = nn.Linear(4 * c * s * s, latent_dim)
        self.fc_logvar = nn.Linear(4 * c * s * s, latent_dim)
        self.fc_dec = nn.Linear(latent_dim, 4 * c * s * s)
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(4 * c, 2 * c, 4, stride=2, padding=1), nn.ReLU(),  # (B, 2c, size/4, size/4)
            nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1), nn.ReLU(),  # (B, c, size/2, size/2)
            nn.ConvTranspose2d(c, channels, 4, stride=2, padding=1),  # (B, C, size, size) logits
        )

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        """``(channels, size, size)``, the shape of one frame."""
        return (self.channels, self.size, self.size)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Frames ``(B, C, size, size) -> (mu, logvar)``, each ``(B, latent_dim)``."""
        if x.dim() != 4 or tuple(x.shape[1:]) != self.frame_shape:
            C, H, W = self.frame_shape
            raise ValueError(f"ConvVAE expects frames of shape (B, {C}, {H}, {W}), got {tuple(x.shape)}")
        h = self.encoder(x)  # (B, 4c·s·s)
        return self.fc_mu(h), self.fc_logvar(h)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """``z (B, latent_dim) ->`` decoder logits ``(B, C, size, size)``."""
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"decode expects z of shape (B, {self.latent_dim}), got {tuple(z.shape)}")
        h = F.relu(self.fc_dec(z)).view(z.shape[0], *self._grid)  # (B, 4c, s, s)
        return self.decoder(h)  # (B, C, size, size)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``z (B, latent_dim) ->`` Bernoulli means ``(B, C, size, size)`` in ``[0, 1]``, the frames to look at."""
        # p(x_i = 1 | z) = σ(logit_i)
        return torch.sigmoid(self.decode_logits(z))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``x (B, C, size, size) -> (logits, mu, logvar)``; ``z ~ q(z|x)`` is sampled with the reparameterization."""
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar)
        return self.decode_logits(z), mu, logvar


__all__ = ["ConvVAE", "VAE", "reparameterize"]
