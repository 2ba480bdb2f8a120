"""A diffusion transformer for video: the denoiser of chapter 10 (DiT, Peebles & Xie 2023; Latte, Sora).

The network :class:`VideoDiT` reads a noisy clip ``x_t`` at noise level ``t`` and
returns the velocity ``v_θ(x_t, t)`` of the flow from noise to data (chapter 10
derives why regressing ``x_1 − x_0`` gives it). Its pieces:

- the clip is cut into *tubelets*, ``tubelet`` frames × ``patch × patch`` pixels, each
  one token (Latte, ViViT); positions are learned and factorized over ``(t, y, x)``
  (:class:`~vidgen_edu.models.blocks.SpaceTimeEmbedding`);
- the caption's word tokens (:class:`~vidgen_edu.text.CaptionTokenizer`) are
  embedded and put *in front of* the video tokens, and every transformer block attends
  over both (in-context conditioning, as MMDiT and chapter 05's prefix do): a video
  token at a red object can look up the word after "red"'s shape and direction;
- the noise level ``t`` enters every block through adaLN-Zero (chapter 05's
  :class:`~vidgen_edu.models.blocks.Block` with ``cond_dim``), optionally with the
  caption pooled into the same vector (``pooled``, SD3's second route for text);
- with ``masking``, some token frames may be given clean, marked by a learned vector
  (MCVD's masked frames: the same network generates and predicts).

:class:`FlowVideoGenerator` wraps the network as a ``VideoGenerator``: ``sample(n,
cond=captions, steps=…, guidance=…, solver=…)`` integrates the ODE from noise
and decodes the result, through the video autoencoder when the network works on
latents (:mod:`vidgen_edu.models.video_vae`). :class:`FlowPredictor` turns a masked
one into a stochastic predictor for chapter 07's protocol.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..text import CaptionTokenizer
from .blocks import Block, Modulation, SpaceTimeEmbedding, check_video, modulate, sinusoidal_encoding
from .diffusion import euler, guided, heun
from .video_vae import TubeletVAE


def tubelets(video: torch.Tensor, tubelet: int, patch: int) -> torch.Tensor:
    """(B, T, C, H, W) → (B, T/τ, N, τ·C·p·p): non-overlapping blocks of τ frames × p × p pixels."""
    B, T, C, H, W = video.shape
    if T % tubelet or H % patch or W % patch:
        raise ValueError(f"a clip of {T} frames of {H}x{W} does not split into tubelets of {tubelet} frames "
                         f"x {patch}x{patch} pixels")
    x = video.reshape(B, T // tubelet, tubelet, C, H // patch, patch, W // patch, patch)
    x = x.permute(0, 1, 4, 6, 2, 3, 5, 7)  # (B, T/τ, H/p, W/p, τ, C, p, p)
    return x.reshape(B, T // tubelet, (H // patch) * (W // patch), tubelet * C * patch * patch)


def untubelets(tokens: torch.Tensor, tubelet: int, patch: int, channels: int, size: int) -> torch.Tensor:
    """Inverse of :func:`tubelets`: (B, T/τ, N, τ·C·p·p) → (B, T, C, size, size)."""
    B, S = tokens.shape[:2]
    g = size // patch
    x = tokens.reshape(B, S, g, g, tubelet, channels, patch, patch)
    x = x.permute(0, 1, 4, 5, 2, 6, 3, 7)  # (B, T/τ, τ, C, H/p, p, W/p, p)
    return x.reshape(B, S * tubelet, channels, size, size)


class VideoDiT(nn.Module):
    """Velocity network ``v_θ(x_t, t, caption)`` on clips (B, T, C, size, size) (chapter 10).

    Args:
        channels, size, frames: the clips (``frames`` is the longest clip it knows).
        patch, tubelet: a token covers ``tubelet`` frames × ``patch × patch`` pixels.
        width, depth, heads: the transformer.
        caption_len: word tokens of a caption (0: an unconditional model).
        pooled: also add the pooled caption to the adaLN vector (SD3's second route).
        masking: learn a "known frame" vector, for clips whose first frames are given clean
            (prediction by masking, as MCVD: the same network generates and predicts).
    """

    def __init__(self, channels: int = 3, size: int = 32, frames: int = 10, *, patch: int = 4, tubelet: int = 1,
                 width: int = 128, depth: int = 4, heads: int = 4, caption_len: int = 0,
                 pooled: bool = False, masking: bool = False) -> None:
        super().__init__()
        if frames % tubelet or size % patch:
            raise ValueError(f"frames ({frames}) must be a multiple of tubelet ({tubelet}) and size ({size}) of "
                             f"patch ({patch})")
        self.channels, self.size, self.frames = channels, size, frames
        self.patch, self.tubelet, self.width = patch, tubelet, width
        self.grid = size // patch
        token_dim = tubelet * channels * patch * patch
        self.embed = nn.Linear(token_dim, width)
        self.pos = SpaceTimeEmbedding(frames // tubelet, self.grid, width)
        # t ∈ [0, 1] → sinusoid of 1000·t → MLP: the adaLN conditioning vector (B, width)
        self.time = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
        self.tokenizer = CaptionTokenizer(caption_len) if caption_len else None
        if self.tokenizer is not None:
            self.words = nn.Embedding(len(self.tokenizer), width)  # token 0 = padding = "no caption"
            self.word_pos = nn.Parameter(torch.randn(caption_len, width) * 0.02)
            # SD3's second route: the caption, pooled to one vector, joins t in every block's adaLN
            self.pool = (nn.Sequential(nn.Linear(caption_len * width, width), nn.SiLU(), nn.Linear(width, width))
                         if pooled else None)
        self.known = nn.Parameter(torch.zeros(width)) if masking else None  # added to the tokens of given frames
        self.blocks = nn.ModuleList(Block(width, heads, cond_dim=width) for _ in range(depth))
        self.norm = nn.LayerNorm(width, elementwise_affine=False)
        self.final_ada = Modulation(width, width, chunks=2)
        self.head = nn.Linear(width, token_dim)
        nn.init.zeros_(self.head.weight)  # starts predicting v = 0
        nn.init.zeros_(self.head.bias)

    def encode_captions(self, captions: Sequence[str] | None, batch: int, device: torch.device) -> torch.Tensor:
        """Word tokens (B, caption_len): the captions' tokens, or all padding ("no caption") where ``None``."""
        if self.tokenizer is None:
            raise ValueError("this VideoDiT was built with caption_len=0: it takes no captions")
        if captions is None:
            return torch.zeros(batch, self.tokenizer.length, dtype=torch.long, device=device)
        if len(captions) != batch:
            raise ValueError(f"expected {batch} captions, got {len(captions)}")
        return self.tokenizer.encode(list(captions)).to(device)

    def forward(self, x: torch.Tensor, t: torch.Tensor, words: torch.Tensor | None = None,
                known: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, T, C, H, W) at time t (B,) in [0, 1], caption tokens words (B, L) → velocity (B, T, C, H, W).

        ``words = None`` for a captioned model means "no caption" (all padding). ``known``
        (B, T/τ) bool marks token frames that hold clean data (a ``masking=True`` network);
        the velocity there means nothing and is ignored by the loss and the sampler.
        """
        check_video(x, self.channels, self.size, "VideoDiT")
        B, T = x.shape[:2]
        if t.shape != (B,):
            raise ValueError(f"t must have shape ({B},), got {tuple(t.shape)}")
        h = self.embed(tubelets(x, self.tubelet, self.patch))  # (B, S, N, D), S = T/τ
        S, N = h.shape[1:3]
        h = h + self.pos(S)
        if known is not None:
            if self.known is None:
                raise ValueError("this VideoDiT was built with masking=False: it takes no known frames")
            if known.shape != (B, S):
                raise ValueError(f"known must have shape ({B}, {S}), got {tuple(known.shape)}")
            h = h + known[:, :, None, None].to(h.dtype) * self.known  # (B, S, N, D)
        h = h.reshape(B, S * N, -1)  # (B, S·N, D)
        L = 0
        if self.tokenizer is not None:
            if words is None:
                words = torch.zeros(B, self.tokenizer.length, dtype=torch.long, device=x.device)
            L = words.shape[1]
            h = torch.cat([self.words(words) + self.word_pos[:L], h], dim=1)  # (B, L + S·N, D)
        elif words is not None:
            raise ValueError("this VideoDiT was built with caption_len=0: it takes no words")
        # c = MLP(PE(1000 t)): the noise level as the blocks' conditioning vector
        c = self.time(sinusoidal_encoding(1000 * t.float(), self.width).to(x.device, h.dtype))  # (B, D)
        if self.tokenizer is not None and self.pool is not None:
            c = c + self.pool((self.words(words) + self.word_pos[:L]).flatten(1))
        for block in self.blocks:
            h = block(h, c)
        shift, scale = self.final_ada(c)
        out = self.head(modulate(self.norm(h[:, L:]), shift, scale))  # (B, S·N, τ·C·p·p)
        return untubelets(out.reshape(B, S, N, -1), self.tubelet, self.patch, self.channels, self.size)


class FlowVideoGenerator(nn.Module):
    """A ``VideoGenerator`` that integrates a :class:`VideoDiT`'s flow from noise to clips (chapter 10).

    Without ``vae`` the network works on pixels, data scaled to ``[-1, 1]`` (``x_1 = 2·clip − 1``).
    With a :class:`~vidgen_edu.models.video_vae.TubeletVAE` it works on the autoencoder's
    standardized latents, and a sampled latent is decoded into a clip (latent diffusion).
    Noise is ``x_0 ~ N(0, I)`` either way.
    """

    def __init__(self, net: VideoDiT, vae: TubeletVAE | None = None) -> None:
        super().__init__()
        self.net, self.vae = net, vae
        if vae is None:
            self.channels, self.size, self.frames = net.channels, net.size, net.frames
        else:
            want = (vae.latent_channels, vae.latent_size, vae.frames // vae.tubelet)
            if (net.channels, net.size, net.frames) != want:
                raise ValueError(f"the network works on ({net.channels} channels, {net.size}², {net.frames} "
                                 f"frames) but the autoencoder's latents are {want}")
            self.channels, self.size, self.frames = vae.channels, vae.size, vae.frames

    def velocity(self, x: torch.Tensor, t: torch.Tensor, words: torch.Tensor | None = None,
                 guidance: float = 1.0, known: torch.Tensor | None = None) -> torch.Tensor:
        """The velocity ``v_θ(x, t, y)``; with ``guidance = w ≠ 1``, ``v_∅ + w (v_y − v_∅)`` (one batched pass)."""
        if words is None or guidance == 1.0:
            return self.net(x, t, words, known)
        blank = torch.zeros_like(words)  # all padding: "no caption"
        if guidance == 0.0:  # w = 0 is the unconditional velocity v_∅ alone
            return self.net(x, t, blank, known)
        both = self.net(torch.cat([x, x]), torch.cat([t, t]), torch.cat([words, blank]),
                        None if known is None else torch.cat([known, known]))
        cond, uncond = both.chunk(2)
        return guided(cond, uncond, guidance)

    @torch.no_grad()
    def sample_latents(self, n: int, *, cond: list[str] | None = None, generator: torch.Generator | None = None,
                       steps: int = 20, guidance: float = 1.0, solver: str = "euler",
                       trajectory: bool = False, context: torch.Tensor | None = None) -> torch.Tensor:
        """What the ODE reaches from ``N(0, I)``: (n, S, c, h, w) latents (pixels in [-1, 1] without a vae).

        With ``trajectory=True``, every state instead: (steps + 1, n, S, c, h, w).
        ``context`` (n, k, c, h, w): the first ``k`` latent frames, given (a ``masking=True``
        network); they stay fixed (velocity 0) while the rest is generated around them.
        """
        if solver not in ("euler", "heun"):
            raise ValueError(f"solver must be 'euler' or 'heun', got {solver!r}")
        if not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps must be a positive int, got {steps!r}")
        device = next(self.parameters(), torch.empty(0)).device  # (a parameter-free field in the tests: CPU)
        if cond is not None and self.net.tokenizer is None:
            raise ValueError("this generator is unconditional: use cond=None")
        words = self.net.encode_captions(cond, n, device) if cond is not None else None
        net = self.net
        x0 = torch.randn((n, net.frames, net.channels, net.size, net.size), generator=generator).to(device)
        known = None
        if context is not None:
            k = context.shape[1]
            if context.shape != (n, k, *x0.shape[2:]) or not 0 < k < net.frames:
                raise ValueError(f"context must be latents (n={n}, k < {net.frames}, {net.channels}, {net.size}, "
                                 f"{net.size}), got {tuple(context.shape)}")
            known = torch.zeros(n, net.frames, dtype=torch.bool, device=device)
            known[:, :k] = True
            x0[:, :k] = context.to(device)

        def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            v = self.velocity(x, t, words, guidance, known)
            return v if known is None else v.masked_fill(known[:, :, None, None, None], 0.0)  # given frames stay

        out = (euler if solver == "euler" else heun)(velocity, x0, steps, trajectory=trajectory)
        return out[1] if trajectory else out

    @torch.no_grad()
    def decode(self, x: torch.Tensor) -> torch.Tensor:
        """Latents (or pixels in [-1, 1]) (n, S, c, h, w) → clips (n, T, C, H, W) in [0, 1]."""
        if self.vae is None:
            return ((x + 1) / 2).clamp(0, 1).float()
        return self.vae.decode(x).float()

    @torch.no_grad()
    def sample(self, n: int, T: int | None = None, *, cond: list[str] | None = None,
               generator: torch.Generator | None = None, steps: int = 20, guidance: float = 1.0,
               solver: str = "euler") -> torch.Tensor:
        """``n`` clips (n, T ≤ frames, C, H, W) in [0, 1] from ``steps`` ODE steps (``solver`` "euler" or "heun").

        ``cond``: n captions, or None (for a captioned model: the "no caption" velocity);
        ``guidance``: the classifier-free guidance scale ``w`` (1 = the conditional velocity
        alone). The same ``generator`` seed gives the same clips.
        """
        T = self.frames if T is None else T
        if not 1 <= T <= self.frames:
            raise ValueError(f"this generator makes clips of up to {self.frames} frames, asked for T={T}")
        clips = self.decode(self.sample_latents(n, cond=cond, generator=generator, steps=steps, guidance=guidance,
                                                solver=solver))
        return clips[:, :T]  # a shorter clip is the start of a full one


class FlowPredictor(nn.Module):
    """A masked-frames :class:`FlowVideoGenerator` as a stochastic predictor (chapter 07's protocol).

    ``sample(context, horizon, num_samples)`` encodes the context frames into the first
    latent frames, generates the rest ``num_samples`` times, and decodes the future
    (the same network that generates whole clips, with its first frames given: MCVD).
    ``steps`` Euler steps per future: 10 by default, since the stochastic protocol draws
    20 futures for each of its 200 clips (chapter 10 and the leaderboard use this default).
    """

    def __init__(self, flow: FlowVideoGenerator, steps: int = 10, solver: str = "euler") -> None:
        super().__init__()
        if flow.vae is None or flow.net.known is None:
            raise ValueError("FlowPredictor needs a latent FlowVideoGenerator whose network has masking=True")
        self.flow, self.steps, self.solver = flow, steps, solver
        self.channels, self.size = flow.channels, flow.size

    @torch.no_grad()
    def sample(self, context: torch.Tensor, horizon: int, num_samples: int = 1,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Futures (n, num_samples, horizon, C, H, W) in [0, 1] of context clips (n, k, C, H, W)."""
        vae = self.flow.vae
        check_video(context, self.channels, self.size, "FlowPredictor.sample")
        n, k = context.shape[:2]
        if k % vae.tubelet or k + horizon > vae.frames:
            raise ValueError(f"context of {k} frames + horizon {horizon}: the context must be whole tubelets of "
                             f"{vae.tubelet} frames and the clip at most {vae.frames} frames")
        device = next(self.parameters()).device
        z = vae.latents(context.to(device).float()).repeat_interleave(num_samples, 0)  # (n·K, k/τ, c, h, w)
        latents = self.flow.sample_latents(n * num_samples, generator=generator, steps=self.steps,
                                           solver=self.solver, context=z)
        future = self.flow.decode(latents)[:, k:k + horizon]  # (n·K, horizon, C, H, W)
        return future.reshape(n, num_samples, horizon, *future.shape[2:])
