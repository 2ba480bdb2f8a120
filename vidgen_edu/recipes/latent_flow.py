"""Recipes: chapter 10's latent video flow models (a video autoencoder, then a diffusion transformer on its latents).

Two stages, as in Stable Video Diffusion and Sora, each its own cached recipe:

1. ``tubelet_vae_<data>``: a :class:`~vidgen_edu.models.video_vae.TubeletVAE` learns to
   squeeze a 10-frame clip into latent frames of ``latent_channels × 8 × 8`` (one for the
   shapes, τ = 10; two for the balls, τ = 5) and back
   (Bernoulli likelihood of the pixels, as chapter 03, plus ``β`` times the KL term).
   Afterwards its ``scale`` is set to the standard deviation of the training latents.
2. ``latent_flow_<data>``: a :class:`~vidgen_edu.models.dit.VideoDiT` learns the flow from
   ``N(0, I)`` to the standardized latents ``z_1`` of the frozen autoencoder:
   ``E‖v_θ(z_t, t, caption) − (z_1 − z_0)‖²``, ``z_t = (1 − t) z_0 + t z_1``, ``t`` logit-normal.
   With captions, a caption is replaced by "no caption" with probability
   ``caption_dropout``, so one network gives both velocities that classifier-free
   guidance mixes. An EMA of the weights is what samples.

What the choices are for, from our prototype runs on shapes (200 test captions,
20 Euler steps, guidance w = 3, one CPU thread, about 200 s for the transformer):

- the transformer on pixels (8 × 8 patches, 171 tokens): 531 steps in 240 s, noise-like
  clips (FVD-lite about 400), direction at chance;
- on a latent of two frames (τ = 5): the two halves of a clip drew different objects;
- on one latent frame of 32 channels (KL weight 1e-3): blotches (direction 0.24);
- 8 channels, KL weight 0.05: direction 0.38; a KL weight of 0.3 blurs the autoencoder
  (its reconstructions read direction 0.88 instead of 0.96) and gave 0.36;
- the caption also pooled into the adaLN vector (SD3's second route): 0.45;
- a wider, deeper transformer (192 × 6): fewer steps in the time, 0.35;
- the recipe below in the prototype's training loop (constant learning rates, 3,650 steps of
  32 clips on two threads, 240 s): colour 0.96, direction 0.68 (0.94 and 0.40 without guidance).

The balls (unconditional; 200 generated clips against 200 test clips, 20 Euler steps, two
threads; the protocol wants FVD-lite <= 10 and three balls in >= 0.8 of the frames):

- one latent frame per clip (τ = 10), 3,600 steps: FVD-lite 13.4, three balls in 0.45 of the
  frames; neither a deeper transformer, a learning rate of 2e-3, 30,000 training clips,
  training times shifted toward the noise or uniform, nor latents drawn from q(z | x) did
  better than 12.4 and 0.51 (1-latent-pixel patches: 23.8);
- starting the ODE of that model from a noised *real* latent at time t: three balls in 0.47
  of the frames from t = 0, 0.75 from t = 0.4, 0.81 from t = 0.6: the number of balls is
  settled early in sampling, and often wrongly;
- two latent frames (τ = 5): the reconstructions score FVD-lite 1.25 and 0.85 (τ = 10: 3.9
  and 0.83 on the protocol's 500 clips); the flow model (2,000 steps) 2.19 and 0.41, with
  3,000 steps 2.21 and 0.44; guiding it with a weaker copy of itself (autoguidance, Karras
  et al. 2024; 500 steps, w = 1.5-3) left the count at 0.40-0.42, and so did standardizing
  each latent channel on its own (their standard deviations range from 0.15 to 1.4): 0.42.

So the balls recipes use τ = 5: the frames look right, and the count of balls is the open gap.

Both stages train at a constant learning rate. With the autoencoder's rate decayed to 0
along a cosine, it stayed in an early phase in which every frame shows each object smeared
along its whole path (reconstructions at 19.5 dB whose direction the reader got right 0.39
of the time); at a constant rate it got past that phase in each of three runs (22.8-24.0 dB,
direction 0.95-0.96). The EMA of the transformer's weights does the averaging that a
decaying rate would do.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from ..data import make_dataset
from ..models.diffusion import flow_path, flow_target, sample_t
from ..models.dit import FlowVideoGenerator, VideoDiT
from ..models.video_vae import TubeletVAE
from ..runtime import Budget
from ..train import ema_of, fit
from . import register
from .base import Recipe

CAPTION_LEN = 11  # word tokens of a two-object caption (vidgen_edu.text.CaptionTokenizer)


def _channels(data: str) -> int:
    return 3 if data == "shapes" else 1


@dataclass(frozen=True, kw_only=True)
class TubeletVAERecipe(Recipe):
    data: str = "shapes"  # vidgen_edu.data.make_dataset name
    frames: int = 10  # frames per clip (the generation protocol's length)
    tubelet: int = 10  # frames per latent frame
    latent_channels: int = 8
    width: int = 32  # channels at full resolution
    beta: float = 0.05  # weight of the KL term (1 = the ELBO)
    train_clips: Budget = Budget(full=6000, quick=32)
    batch_size: int = 32
    lr: float = 2e-3  # AdamW, constant
    steps: Budget = Budget(full=600, quick=3)

    def build(self) -> TubeletVAE:
        return TubeletVAE(_channels(self.data), 32, self.frames, tubelet=self.tubelet,
                          latent_channels=self.latent_channels, width=self.width)

    def clips(self) -> torch.Tensor:
        """The training clips (N, T, C, 32, 32) in [0, 1]."""
        return make_dataset(self.data, "train", num_clips=self.train_clips.value, T=self.frames, seed=0).clips()

    def batches(self, clips: torch.Tensor) -> Iterator[torch.Tensor]:
        g = torch.Generator().manual_seed(self.seed)
        while True:
            yield clips[torch.randint(0, len(clips), (self.batch_size,), generator=g)]

    def loss(self, model: TubeletVAE, x: torch.Tensor) -> torch.Tensor:
        """Negative β-ELBO per clip: ``−log p(x | z) + β KL(q(z | x) ‖ N(0, I))``."""
        logits, mu, logvar = model(x)
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)
        # KL(N(μ, σ²) ‖ N(0, 1)) = ½ Σ (μ² + σ² − 1 − log σ²)
        kl = 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum() / len(x)
        return rec + self.beta * kl

    def fit(self, model: TubeletVAE, device: torch.device) -> list[float]:
        clips = self.clips()
        opt = torch.optim.AdamW(model.parameters(), lr=self.lr)  # a constant rate (see the module docstring)
        history = fit(model, self.loss, self.batches(clips), self.steps.value, optimizer=opt, device=device,
                      desc=self.name)
        model.eval()
        with torch.no_grad():  # standardize: the diffusion model expects latents of unit scale
            mu = torch.cat([model.encode(c.to(device))[0] for c in clips[:2000].split(250)])
            model.scale.fill_(mu.std().item())
        return history


@dataclass(frozen=True, kw_only=True)
class LatentFlowRecipe(Recipe):
    vae: str = "tubelet_vae_shapes"  # the autoencoder's recipe (trained first, then frozen)
    captions: bool = True  # condition on the clips' captions (shapes only)
    caption_dropout: float = 0.1  # probability of "no caption" in training (classifier-free guidance)
    pooled: bool = True  # the caption also enters the adaLN vector
    patch: int = 2  # latent pixels per token side
    width: int = 128
    depth: int = 4
    heads: int = 4
    batch_size: int = 32
    lr: float = 1e-3  # AdamW, constant
    ema: float = 0.995
    steps: Budget = Budget(full=3600, quick=3)

    def autoencoder(self) -> TubeletVAERecipe:
        from . import get

        return get(self.vae)

    def build(self) -> FlowVideoGenerator:
        ae = self.autoencoder()
        vae = ae.build()
        net = VideoDiT(vae.latent_channels, vae.latent_size, ae.frames // ae.tubelet, patch=self.patch,
                       width=self.width, depth=self.depth, heads=self.heads,
                       caption_len=CAPTION_LEN if self.captions else 0, pooled=self.pooled)
        return FlowVideoGenerator(net, vae)

    def batches(self, z: torch.Tensor, words: torch.Tensor | None) -> Iterator[dict[str, torch.Tensor]]:
        """Endless batches ``{z0, z1, t, words}``: latents, noise, times, caption tokens (some dropped)."""
        g = torch.Generator().manual_seed(self.seed)
        while True:
            i = torch.randint(0, len(z), (self.batch_size,), generator=g)
            batch = {"z1": z[i], "z0": torch.randn(z[i].shape, generator=g),
                     "t": sample_t(self.batch_size, generator=g)}
            if words is not None:
                w = words[i].clone()
                w[torch.rand(self.batch_size, generator=g) < self.caption_dropout] = 0  # all padding: no caption
                batch["words"] = w
            yield batch

    def loss(self, model: FlowVideoGenerator, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Flow matching on latents: ``mean ‖v_θ(z_t, t, caption) − (z_1 − z_0)‖²``."""
        z_t = flow_path(batch["z0"], batch["z1"], batch["t"])  # (B, S, c, h, w)
        v = model.net(z_t, batch["t"], batch.get("words"))
        # L = E ‖v_θ(z_t, t, y) − (z_1 − z_0)‖²
        return ((v - flow_target(batch["z0"], batch["z1"])) ** 2).mean()

    def fit(self, model: FlowVideoGenerator, device: torch.device) -> list[float]:
        from . import load

        ae = self.autoencoder()
        model.vae.load_state_dict(load(ae, device).state_dict())
        model.vae.requires_grad_(False)
        data = make_dataset(ae.data, "train", num_clips=ae.train_clips.value, T=ae.frames, seed=0)
        with torch.no_grad():
            z = torch.cat([model.vae.to(device).latents(c.to(device)).cpu() for c in data.clips().split(250)])
        words = model.net.tokenizer.encode(list(data.info["captions"])) if self.captions else None
        opt = torch.optim.AdamW(model.net.parameters(), lr=self.lr)  # a constant rate; the EMA does the averaging
        ema = ema_of(model, self.ema)
        history = fit(model, self.loss, self.batches(z, words), self.steps.value, optimizer=opt, device=device,
                      ema=ema, desc=self.name)
        model.load_state_dict(ema.module.state_dict())  # sample with the averaged weights
        return history


@dataclass(frozen=True, kw_only=True)
class MaskedFlowRecipe(LatentFlowRecipe):
    """The latent flow model with its first latent frames sometimes given: a generator and a predictor (MCVD).

    In a share ``context_prob`` of the training clips the first ``context`` latent frames
    enter clean (``z_t = z_1`` there, marked by the network's "known" vector) and the loss
    counts only the other frames; the rest are plain generation. Sampling with the
    context's latents fixed then continues a clip (:class:`~vidgen_edu.models.dit.FlowPredictor`).
    """

    context: int = 1  # latent frames that may be given (one tubelet: 10 frames)
    context_prob: float = 0.5  # share of training clips whose first frames are given

    def build(self) -> FlowVideoGenerator:
        ae = self.autoencoder()
        vae = ae.build()
        net = VideoDiT(vae.latent_channels, vae.latent_size, ae.frames // ae.tubelet, patch=self.patch,
                       width=self.width, depth=self.depth, heads=self.heads, masking=True)
        return FlowVideoGenerator(net, vae)

    def batches(self, z: torch.Tensor, words: torch.Tensor | None) -> Iterator[dict[str, torch.Tensor]]:
        g = torch.Generator().manual_seed(self.seed + 1)
        for batch in super().batches(z, words):
            known = torch.zeros(self.batch_size, z.shape[1], dtype=torch.bool)
            known[:, :self.context] = (torch.rand(self.batch_size, generator=g) < self.context_prob)[:, None]
            yield batch | {"known": known}

    def loss(self, model: FlowVideoGenerator, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Flow matching on the frames that are not given: ``Σ_unknown ‖v_θ − (z_1 − z_0)‖² / #unknown``."""
        known = batch["known"]  # (B, S)
        mask = known[:, :, None, None, None]
        z_t = torch.where(mask, batch["z1"], flow_path(batch["z0"], batch["z1"], batch["t"]))  # given frames clean
        v = model.net(z_t, batch["t"], None, known)
        err = ((v - flow_target(batch["z0"], batch["z1"])) ** 2).masked_fill(mask, 0.0)
        return err.sum() / (~mask).expand_as(err).sum()


VAE_SHAPES = register(TubeletVAERecipe(name="tubelet_vae_shapes", chapter="10", data="shapes"))
# The balls: two latent frames of 5 frames each (see "The balls" in the module docstring); 16 clips a
# step are 32 tubelets, as for the shapes, and 2,400 steps of a 32-token transformer fit the budget.
VAE_BALLS = register(TubeletVAERecipe(name="tubelet_vae_balls", chapter="10", data="balls", tubelet=5,
                                      batch_size=16))
SHAPES = register(LatentFlowRecipe(name="latent_flow_shapes", chapter="10"))
BALLS = register(LatentFlowRecipe(name="latent_flow_balls", chapter="10", vae="tubelet_vae_balls", captions=False,
                                  pooled=False, steps=Budget(full=2400, quick=3)))
# 20-frame clips: two tubelets a clip, so 16 clips a step (32 tubelets), and fewer transformer steps (32 tokens).
VAE_STOCHASTIC = register(TubeletVAERecipe(name="tubelet_vae_balls_stochastic", chapter="10", data="balls-stochastic",
                                           frames=20, batch_size=16))
STOCHASTIC = register(MaskedFlowRecipe(name="masked_flow_balls_stochastic", chapter="10",
                                       vae="tubelet_vae_balls_stochastic", captions=False, pooled=False,
                                       steps=Budget(full=2400, quick=3)))
