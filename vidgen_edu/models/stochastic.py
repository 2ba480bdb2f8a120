"""A stochastic next-frame predictor: a latent variable per frame, a learned prior, many futures (chapter 07).

The model of chapter 04 (encoder → ConvGRU → decoder, with a path that copies
the previous frame) gets a latent variable ``z_t`` per frame, as in SVG-LP
(Denton & Fergus, 2018) and the variational RNN (Chung et al., 2015). With
``d_{t-1}`` the recurrent state after frames ``x_0 .. x_{t-1}``:

* prior      p(z_t | x_{<t})   = N(μ_p, σ_p²),  (μ_p, log σ_p²) = prior_net(d_{t-1})
* posterior  q(z_t | x_{≤t})   = N(μ_q, σ_q²),  (μ_q, log σ_q²) = posterior_net(d_{t-1}, enc(x_t))
* decoder    p(x_t | x_{<t}, z_{≤t}): Bernoulli logits = dec(d_{t-1}, z_t) merged with x_{t-1}
* state      d_t = ConvGRU([enc(x_t), z_t], d_{t-1})

Training draws ``z_t`` from the posterior, which has seen the true frame; at
test time the context frames still use the posterior (they are observed) and
every future frame draws ``z_t`` from the learned prior. ``z`` is a small
feature map (``latent_dim`` channels on the ``g × g`` grid of the ConvGRU), so
each ball's bounce can be drawn where the ball is.

SVG keeps three separate LSTMs (predictor, prior, posterior); here the prior
and the posterior are convolutions on the predictor's own state, the VRNN
design, which costs one recurrence instead of three and has the same ELBO.
``latent_dim=0`` switches ``z`` off: the same network becomes a deterministic
predictor, the ablation of chapter 07.

The model is a :class:`vidgen_edu.models.api.FramePredictor`: ``forward``
returns next-frame logits with ``z`` at the prior's mean (causal, deterministic);
``rollout`` draws one future with a fixed seed (reproducible);
:meth:`StochasticPredictor.sample` draws many; :meth:`StochasticPredictor.trace`
is the training pass, with ``z`` from the posterior.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .blocks import check_video
from .recurrent import ConvGRUCell


@dataclass
class Trace:
    """What a pass over a clip computed, per predicted frame ``t = 1 .. T-1`` (all ``(B, T-1, ...)``)."""

    logits: torch.Tensor  # (B, T-1, C, S, S): logits of frames 1 .. T-1
    mu_q: torch.Tensor | None  # (B, T-1, Z, g, g) posterior means (None when latent_dim = 0)
    logvar_q: torch.Tensor | None  # posterior log-variances
    mu_p: torch.Tensor | None  # prior means
    logvar_p: torch.Tensor | None  # prior log-variances


class StochasticPredictor(nn.Module):
    """Predict frames one at a time with a latent ``z_t`` per frame and a learned prior (chapter 07).

    Args:
        channels, size: frame shape ``(channels, size, size)``; ``size`` divisible by ``patch``.
        width: channels of the frame encoder/decoder.
        hidden_size: ConvGRU state channels.
        latent_dim: channels of ``z_t`` on the ``g × g`` grid (``g = size / patch``); 0 = deterministic.
        patch: space-to-depth factor (pixels folded into channels before the encoder).
    """

    def __init__(self, channels: int = 1, size: int = 32, width: int = 32, hidden_size: int = 32,
                 latent_dim: int = 4, patch: int = 4) -> None:
        super().__init__()
        if size % patch:
            raise ValueError(f"size must be divisible by patch, got size={size}, patch={patch}")
        if latent_dim < 0:
            raise ValueError(f"latent_dim must be >= 0 (0 switches z off), got {latent_dim}")
        self.channels, self.size, self.width, self.patch = channels, size, width, patch
        self.hidden_size, self.latent_dim = hidden_size, latent_dim
        f, Z, H = width, latent_dim, hidden_size
        self.encoder = nn.Sequential(  # (N, C, S, S) → (N, f, g, g)
            nn.PixelUnshuffle(patch),
            nn.Conv2d(channels * patch * patch, f, 3, padding=1), nn.ReLU(),
            nn.Conv2d(f, f, 3, padding=1), nn.ReLU(),
        )
        self.core = ConvGRUCell(f + Z, H, kernel_size=3)  # d_t = ConvGRU([enc(x_t), z_t], d_{t-1})
        if Z:
            self.prior_net = nn.Conv2d(H, 2 * Z, 3, padding=1)  # d_{t-1} → (μ_p, log σ_p²)
            self.posterior_net = nn.Conv2d(H + f, 2 * Z, 3, padding=1)  # [d_{t-1}, enc(x_t)] → (μ_q, log σ_q²)
        self.decoder = nn.Sequential(  # [d_{t-1}, z_t] (N, H + Z, g, g) → (N, C, S, S) logits
            nn.Conv2d(H + Z, f, 3, padding=1), nn.ReLU(),
            nn.Conv2d(f, f, 3, padding=1), nn.ReLU(),
            nn.Conv2d(f, channels * patch * patch, 1),
            nn.PixelShuffle(patch),
        )
        # the last layer also sees the previous frame: "this pixel stays as it is" is cheap (chapter 04)
        self.merge = nn.Conv2d(2 * channels, channels, 3, padding=1)
        self._init_merge(gain=8.0)

    def _init_merge(self, gain: float) -> None:
        """Start as "decoder output + copy of the previous frame": logit = up + gain·(x − 1/2) (chapter 04)."""
        C = self.channels
        with torch.no_grad():
            self.merge.weight.zero_()
            self.merge.bias.fill_(-gain / 2)
            for c in range(C):
                self.merge.weight[c, c, 1, 1] = 1.0
                self.merge.weight[c, C + c, 1, 1] = gain

    @property
    def grid(self) -> int:
        """g: side of the feature grid, ``size / patch``."""
        return self.size // self.patch

    # -- pieces -----------------------------------------------------------------------------------
    def _gaussian(self, params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, 2Z, g, g) → μ, log σ² (N, Z, g, g) each; the log-variance is kept in [-10, 6] for stability."""
        mu, logvar = params.chunk(2, dim=1)
        return mu, logvar.clamp(-10.0, 6.0)

    def _decode(self, d: torch.Tensor, z: torch.Tensor | None, prev: torch.Tensor) -> torch.Tensor:
        """State d_{t-1} (N, H, g, g), z_t (N, Z, g, g) and frame x_{t-1} (N, C, S, S) → logits of x_t."""
        up = self.decoder(d if z is None else torch.cat([d, z], dim=1))
        return self.merge(torch.cat([up, prev], dim=1))

    def _step(self, e: torch.Tensor, z: torch.Tensor | None, d: torch.Tensor | None) -> torch.Tensor:
        """d_t = ConvGRU([enc(x_t), z_t], d_{t-1})."""
        return self.core(e if z is None else torch.cat([e, z], dim=1), d)

    def _draw(self, mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """z = μ + σ ε with ε ~ N(0, I) from ``generator`` (drawn on the CPU, so any device gives the same z)."""
        eps = torch.randn(mu.shape, generator=generator).to(mu.device) if generator is not None \
            else torch.randn_like(mu)
        # z = μ + exp(½ log σ²) ε   (the reparameterization of chapter 03)
        return mu + (0.5 * logvar).exp() * eps

    # -- training ---------------------------------------------------------------------------------
    def trace(self, frames: torch.Tensor, *, teacher_prob: float = 1.0, context: int = 1,
              generator: torch.Generator | None = None) -> Trace:
        """One pass over clips (B, T, C, S, S) with z from the posterior: logits and Gaussians of frames 1..T-1.

        The state reads the true frame ``x_t`` for the first ``context`` frames; after them it reads
        the true frame with probability ``teacher_prob`` (one coin per clip and step) and the model's
        own prediction otherwise (scheduled sampling, chapter 04). The posterior always sees the true
        frame: it is the "encoder" of the per-frame VAE.
        """
        check_video(frames, self.channels, self.size, "StochasticPredictor")
        B, T = frames.shape[:2]
        if T < 2:
            raise ValueError(f"StochasticPredictor needs clips of at least 2 frames, got T={T}")
        enc = self.encoder(frames.flatten(0, 1)).unflatten(0, (B, T))  # (B, T, f, g, g)
        free = teacher_prob < 1.0  # some inputs after the context may be the model's own frames
        d = self._step(enc[:, 0], self._zeros_z(B, frames), None)  # d_0: the first frame, z_0 = 0
        states, zs, logits, mq, lq, mp, lp = [], [], [], [], [], [], []
        prev = frames[:, 0]
        for t in range(1, T):
            z = None
            if self.latent_dim:
                mu_p, logvar_p = self._gaussian(self.prior_net(d))  # p(z_t | x_{<t})
                mu_q, logvar_q = self._gaussian(self.posterior_net(torch.cat([d, enc[:, t]], dim=1)))  # q(z_t | x_{≤t})
                z = self._draw(mu_q, logvar_q, generator)
                mq.append(mu_q), lq.append(logvar_q), mp.append(mu_p), lp.append(logvar_p)
            states.append(d), zs.append(z)
            fed, e = frames[:, t], enc[:, t]
            if free:  # decode now: the next input may be this prediction
                logit = self._decode(d, z, prev)  # (B, C, S, S): logits of x_t
                logits.append(logit)
                if t >= context:
                    coin = torch.rand(B, 1, 1, 1, generator=generator).to(frames.device) < teacher_prob
                    fed = torch.where(coin, frames[:, t], torch.sigmoid(logit))
                    e = self.encoder(fed)
                prev = fed
            d = self._step(e, z, d)
        if free:
            out = torch.stack(logits, dim=1)
        else:  # teacher forcing: decode every frame in one batch
            zcat = None if z is None else torch.stack(zs, dim=1).flatten(0, 1)
            out = self._decode(torch.stack(states, dim=1).flatten(0, 1), zcat,
                               frames[:, :-1].flatten(0, 1)).unflatten(0, (B, T - 1))
        stack = (lambda xs: torch.stack(xs, dim=1) if xs else None)  # noqa: E731
        return Trace(out, stack(mq), stack(lq), stack(mp), stack(lp))

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """Teacher forcing with z at the prior's mean: frames (B, T, C, S, S) → next-frame logits (B, T, C, S, S).

        ``logits[:, t]`` predicts frame ``t + 1`` from frames ``0..t`` only, with ``z_{t+1}`` set to the
        mean of the learned prior p(z_{t+1} | x_{≤t}): the model's single most likely next frame,
        deterministic and causal (the ``FramePredictor`` contract). Training uses :meth:`trace`,
        which draws ``z`` from the posterior; sampling uses :meth:`sample`.
        """
        check_video(frames, self.channels, self.size, "StochasticPredictor")
        B, T = frames.shape[:2]
        enc = self.encoder(frames.flatten(0, 1)).unflatten(0, (B, T))  # (B, T, f, g, g)
        d, z, logits = None, self._zeros_z(B, frames), []
        for t in range(T):
            d = self._step(enc[:, t], z, d)  # d_t has read x_0 .. x_t
            z = self._gaussian(self.prior_net(d))[0] if self.latent_dim else None  # mean of p(z_{t+1} | x_{≤t})
            logits.append(self._decode(d, z, frames[:, t]))  # logits of x_{t+1}
        return torch.stack(logits, dim=1)

    def _zeros_z(self, B: int, like: torch.Tensor) -> torch.Tensor | None:
        g = self.grid
        return like.new_zeros(B, self.latent_dim, g, g) if self.latent_dim else None

    # -- prediction -------------------------------------------------------------------------------
    def _condition(self, context: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """Read the context (B, Tc, C, S, S) with z from the posterior: the state d after its last frame."""
        B, Tc = context.shape[:2]
        enc = self.encoder(context.flatten(0, 1)).unflatten(0, (B, Tc))
        d = self._step(enc[:, 0], self._zeros_z(B, context), None)
        for t in range(1, Tc):
            z = None
            if self.latent_dim:
                z = self._draw(*self._gaussian(self.posterior_net(torch.cat([d, enc[:, t]], dim=1))), generator)
            d = self._step(enc[:, t], z, d)
        return d

    @torch.no_grad()
    def sample(self, context: torch.Tensor, horizon: int, num_samples: int = 1, *,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``num_samples`` futures of each context (B, Tc, C, S, S) → (B, num_samples, horizon, C, S, S) in [0, 1].

        Every future frame draws ``z_t`` from the learned prior and feeds its prediction (probabilities) back.
        """
        check_video(context, self.channels, self.size, "StochasticPredictor.sample")
        if horizon < 1 or num_samples < 1:
            raise ValueError(f"horizon and num_samples must be >= 1, got {horizon} and {num_samples}")
        B = context.shape[0]
        if not self.latent_dim and num_samples > 1:  # z off: every "sample" is the same future
            return self.sample(context, horizon, 1).expand(-1, num_samples, -1, -1, -1, -1)
        # every sample reads the context on its own (its own posterior draws): (B·S, Tc, C, S, S)
        ctx = context.repeat_interleave(num_samples, dim=0)
        d = self._condition(ctx, generator)
        prev = ctx[:, -1]
        frames = []
        for _ in range(horizon):
            z = None
            if self.latent_dim:
                z = self._draw(*self._gaussian(self.prior_net(d)), generator)  # z_t ~ p(z_t | x_{<t})
            frame = torch.sigmoid(self._decode(d, z, prev))  # (B·S, C, S, S)
            frames.append(frame)
            d = self._step(self.encoder(frame), z, d)
            prev = frame
        return torch.stack(frames, dim=1).unflatten(0, (B, num_samples))

    @torch.no_grad()
    def rollout(self, context: torch.Tensor, horizon: int, *, seed: int = 0) -> torch.Tensor:
        """One future per context (B, horizon, C, S, S), drawn with a fixed ``seed`` (reproducible, as the API asks)."""
        return self.sample(context, horizon, 1, generator=torch.Generator().manual_seed(seed))[:, 0]


__all__ = ["StochasticPredictor", "Trace"]
