"""A video GAN in the spirit of MoCoGAN (chapter 08): content fixed per clip, motion per frame, two critics.

The generator splits a clip into what it shows and how it moves:

- a **content** code ``z_c ~ N(0, I)``, drawn once per clip;
- a **motion** code ``m_t`` per frame, the state of a GRU driven by fresh noise
  ``ε_t ~ N(0, I)`` at every step (its start ``m_0`` comes from its own noise);
- one frame decoder, shared by all frames: ``x_t = dec([z_c, m_t, e])``, with
  ``e`` the caption's embedding when the model is conditional.

Two discriminators judge it: an **image** critic on single frames (are they
real-looking pictures?) and a **video** critic on whole clips (3-D convolutions:
is the motion real?). Both use spectral normalization; with captions, both add
a **projection** term ``⟨embed(y), φ(x)⟩`` (Miyato & Koyama, 2018), so a clip is
judged *with* its caption: the right picture with the wrong caption scores low.

Written from the papers (Tulyakov et al., 2018; Miyato et al., 2018); the
reference code of MoCoGAN is licensed for non-commercial use only.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import spectral_norm

from ..data.shapes import COLORS, DIRECTIONS, SHAPES, parse_caption
from .blocks import check_video

_COLORS, _SHAPES, _DIRECTIONS = tuple(COLORS), tuple(SHAPES), tuple(DIRECTIONS)


# -- the losses of the two players ---------------------------------------------------------------
def d_hinge_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Hinge loss of the discriminator: ``E[max(0, 1 − D(x))] + E[max(0, 1 + D(G(z)))]``, scores (B,) each."""
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def g_hinge_loss(fake: torch.Tensor) -> torch.Tensor:
    """Hinge loss of the generator: ``−E[D(G(z))]`` (it raises the critic's score of its samples)."""
    return -fake.mean()


def d_bce_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The original discriminator loss on logits: ``−E[log σ(D(x))] − E[log(1 − σ(D(G(z))))]``."""
    # −log σ(a) = softplus(−a) and −log(1 − σ(a)) = softplus(a)
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def g_minimax_loss(fake: torch.Tensor) -> torch.Tensor:
    """The minimax generator loss on logits: ``E[log(1 − σ(D(G(z))))]``, which saturates when D wins."""
    return -F.softplus(fake).mean()


def g_nonsaturating_loss(fake: torch.Tensor) -> torch.Tensor:
    """The non-saturating generator loss on logits: ``−E[log σ(D(G(z)))]``."""
    return F.softplus(-fake).mean()


# -- captions ------------------------------------------------------------------------------------
class CaptionEmbedding(nn.Module):
    """Captions (B strings) → (B, objects · 3 · width): each object's colour, shape and direction embedded.

    Object ``k`` of the caption fills slot ``k`` (the first object is painted at the
    back, so order matters); missing objects leave their slot at zero. An object is
    the sum of three learned vectors, one per attribute, concatenated over the slots.
    """

    def __init__(self, width: int = 16, objects: int = 2) -> None:
        super().__init__()
        self.width, self.objects = width, objects
        self.color = nn.Embedding(len(_COLORS), width)
        self.shape = nn.Embedding(len(_SHAPES), width)
        self.direction = nn.Embedding(len(_DIRECTIONS), width)
        self.dim = objects * 3 * width

    def codes(self, captions: list[str]) -> torch.Tensor:
        """Integer codes (B, objects, 3): colour, shape, direction per object; −1 for an empty slot."""
        out = torch.full((len(captions), self.objects, 3), -1, dtype=torch.long)
        for b, text in enumerate(captions):
            objects = parse_caption(text)
            if len(objects) > self.objects:
                raise ValueError(f"caption {text!r} has {len(objects)} objects; this model reads at most "
                                 f"{self.objects}")
            for k, (shape, color, direction) in enumerate(objects):
                out[b, k] = torch.tensor([_COLORS.index(color), _SHAPES.index(shape), _DIRECTIONS.index(direction)])
        return out

    def forward(self, captions: list[str]) -> torch.Tensor:
        codes = self.codes(captions).to(self.color.weight.device)  # (B, K, 3)
        present = (codes[..., :1] >= 0).float()  # (B, K, 1)
        c = codes.clamp(min=0)
        e = torch.cat([self.color(c[..., 0]), self.shape(c[..., 1]), self.direction(c[..., 2])], dim=-1)
        return (e * present).flatten(1)  # (B, K · 3 · width)


class AddCoords(nn.Module):
    """Append the pixel coordinates as two channels, x and y in [−1, 1] (CoordConv, Liu et al., 2018).

    (N, c, H, W) → (N, c + 2, H, W). A convolution is translation-invariant: alone it cannot
    turn "the ball is at x = 0.3" (a number in the latent code) into "draw it in column 20".
    With the coordinates as inputs it can compare the two at every pixel.
    """

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        N, _, H, W = h.shape
        ys = torch.linspace(-1, 1, H, device=h.device, dtype=h.dtype)
        xs = torch.linspace(-1, 1, W, device=h.device, dtype=h.dtype)
        grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"))  # (2, H, W): x then y
        return torch.cat([h, grid.expand(N, 2, H, W)], dim=1)


# -- the generator -------------------------------------------------------------------------------
class Codes(NamedTuple):
    """The random inputs of one batch of clips: content (B, content_dim), motion start (B, motion_dim),
    motion noise (B, T, noise_dim)."""

    content: torch.Tensor
    motion0: torch.Tensor
    noise: torch.Tensor


class MotionContentGenerator(nn.Module):
    """Codes (content, motion per frame, caption) → logits of a clip (B, T, C, H, W).

    The frame decoder maps ``[z_c, m_t, e]`` to a 4×4 map, doubles it with
    transposed convolutions to ``size / 2`` and unfolds 4 channels per pixel into
    2×2 pixels (PixelShuffle) for the full size.
    """

    def __init__(self, channels: int, size: int, *, width: int = 32, content_dim: int = 32,
                 motion_dim: int = 16, noise_dim: int = 8, cond_dim: int = 0) -> None:
        super().__init__()
        if size % 8 or size < 16:
            raise ValueError(f"size must be a multiple of 8 and at least 16, got {size}")
        self.channels, self.size = channels, size
        self.content_dim, self.motion_dim, self.noise_dim, self.cond_dim = content_dim, motion_dim, noise_dim, cond_dim
        self.motion_start = nn.Linear(motion_dim + cond_dim, motion_dim)
        # the GRU reads fresh noise every frame (stochastic motion), or, with noise_dim = 0, the motion code
        # z_m itself every frame: the whole trajectory is then a function of z_m (deterministic worlds)
        self.motion = nn.GRUCell((noise_dim or motion_dim) + cond_dim, motion_dim)
        ups = []
        c, s = 4 * width, 4
        while s < size // 2:  # 4×4 → size/2 × size/2, halving the channels as the map doubles
            ups += [AddCoords(), nn.ConvTranspose2d(c + 2, max(c // 2, width), 4, stride=2, padding=1),
                    nn.GroupNorm(8, max(c // 2, width)), nn.ReLU()]
            c, s = max(c // 2, width), 2 * s
        self.stem = nn.Sequential(nn.Linear(content_dim + motion_dim + cond_dim, 4 * width * 16),
                                  nn.Unflatten(1, (4 * width, 4, 4)), nn.GroupNorm(8, 4 * width), nn.ReLU())
        self.ups = nn.Sequential(*ups)
        self.out = nn.Sequential(AddCoords(), nn.Conv2d(c + 2, 4 * channels, 3, padding=1), nn.PixelShuffle(2))
        # start dark: the scenes are mostly black background, so the first frames should be too
        nn.init.constant_(self.out[1].bias, -3.0)

    def draw(self, n: int, T: int, generator: torch.Generator | None = None,
             device: torch.device | str = "cpu") -> Codes:
        """Fresh random codes for ``n`` clips of ``T`` frames (drawn on the CPU, so seeds agree across devices)."""
        z_c = torch.randn(n, self.content_dim, generator=generator)
        z_m = torch.randn(n, self.motion_dim, generator=generator)
        eps = torch.randn(n, T, self.noise_dim, generator=generator)
        return Codes(z_c.to(device), z_m.to(device), eps.to(device))

    def motion_codes(self, codes: Codes, e: torch.Tensor | None = None) -> torch.Tensor:
        """The GRU's states m_1..m_T (B, T, motion_dim) from the noise (and the caption embedding e)."""
        B, T, _ = codes.noise.shape
        extra = [] if e is None else [e]
        h = torch.tanh(self.motion_start(torch.cat([codes.motion0, *extra], dim=1)))  # m_0
        states = []
        for t in range(T):
            # m_t = GRU([ε_t, e], m_{t−1})   (ε_t = z_m when noise_dim = 0)
            eps = codes.noise[:, t] if self.noise_dim else codes.motion0
            h = self.motion(torch.cat([eps, *extra], dim=1), h)
            states.append(h)
        return torch.stack(states, dim=1)

    def forward(self, codes: Codes, e: torch.Tensor | None = None, window: slice | None = None) -> torch.Tensor:
        """Logits of all T frames, or of the frames in ``window`` only (the motion GRU still runs from t = 1)."""
        if (e is None) != (self.cond_dim == 0):
            raise ValueError("a conditional generator needs a caption embedding e, an unconditional one takes none")
        m = self.motion_codes(codes, e)  # (B, T, motion_dim)
        if window is not None:
            m = m[:, window]  # (B, W, motion_dim): decode only the frames a critic will see
        B, T, _ = m.shape
        parts = [codes.content[:, None].expand(B, T, -1), m]
        if e is not None:
            parts.append(e[:, None].expand(B, T, -1))
        h = self.stem(torch.cat(parts, dim=-1).flatten(0, 1))  # (B·T, 4w, 4, 4)
        logits = self.out(self.ups(h))  # (B·T, C, size, size)
        return logits.view(B, T, self.channels, self.size, self.size)


# -- the discriminators --------------------------------------------------------------------------
def _sn(module: nn.Module) -> nn.Module:
    """Spectral normalization: the layer's weight divided by its largest singular value (power iteration)."""
    return spectral_norm(module)


def minibatch_std(h: torch.Tensor, group: int = 4) -> torch.Tensor:
    """Append one feature map: how much the samples of a small group differ (Karras et al., 2018).

    h (N, c, *spatial) → (N, c + 1, *spatial). The new channel is the standard deviation over
    a group of ``group`` samples, averaged over channels and positions. A batch of identical
    samples (mode collapse) shows a 0 there, which real batches never do, so the critic can
    punish it.
    """
    N = h.shape[0]
    g = min(group, N)
    while N % g:
        g -= 1
    y = h.view(g, N // g, *h.shape[1:]).std(dim=0, unbiased=False)  # (N/g, c, *spatial)
    y = y.flatten(1).mean(dim=1).repeat(g)  # (N,): sample i is in group i mod (N / g)
    return torch.cat([h, y.view(N, 1, *([1] * (h.dim() - 2))).expand(N, 1, *h.shape[2:])], dim=1)


class ImageCritic(nn.Module):
    """Frames (N, C, H, W) in [0, 1] → scores (N,): spectrally normalized convolutions, + projection."""

    def __init__(self, channels: int, size: int, *, width: int = 32, cond_dim: int = 0) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.PixelUnshuffle(2), _sn(nn.Conv2d(4 * channels, width, 3, padding=1)),
                                   nn.LeakyReLU(0.2)]
        c, s = width, size // 2
        while s > 4:  # size/2 → 4, doubling the channels as the map halves
            layers += [_sn(nn.Conv2d(c, 2 * c, 4, stride=2, padding=1)), nn.LeakyReLU(0.2)]
            c, s = 2 * c, s // 2
        self.features = nn.Sequential(*layers)
        self.last = nn.Sequential(_sn(nn.Conv2d(c + 1, c, 3, padding=1)), nn.LeakyReLU(0.2))
        self.score = _sn(nn.Linear(c, 1))
        self.project = _sn(nn.Linear(cond_dim, c, bias=False)) if cond_dim else None

    def forward(self, x: torch.Tensor, e: torch.Tensor | None = None) -> torch.Tensor:
        phi = self.last(minibatch_std(self.features(2 * x - 1))).sum(dim=(-2, -1))  # (N, c): sum-pooled features
        # D(x, y) = w·φ(x) + ⟨V e(y), φ(x)⟩
        out = self.score(phi).squeeze(1)
        if self.project is not None and e is not None:
            out = out + (self.project(e) * phi).sum(dim=1)
        return out


class VideoCritic(nn.Module):
    """Clips (B, T, C, H, W) in [0, 1] → scores (B,): 3-D convolutions over time and space, + projection."""

    def __init__(self, channels: int, size: int, *, width: int = 32, cond_dim: int = 0) -> None:
        super().__init__()
        self.unshuffle = nn.PixelUnshuffle(2)
        layers: list[nn.Module] = [_sn(nn.Conv3d(4 * channels, width, (3, 3, 3), padding=1)), nn.LeakyReLU(0.2)]
        c, s = width, size // 2
        while s > 4:  # halve space each layer and time once every layer (3-frame kernels)
            layers += [_sn(nn.Conv3d(c, 2 * c, (3, 4, 4), stride=(2, 2, 2), padding=(1, 1, 1))), nn.LeakyReLU(0.2)]
            c, s = 2 * c, s // 2
        self.features = nn.Sequential(*layers)
        self.last = nn.Sequential(_sn(nn.Conv3d(c + 1, c, 3, padding=1)), nn.LeakyReLU(0.2))
        self.score = _sn(nn.Linear(c, 1))
        self.project = _sn(nn.Linear(cond_dim, c, bias=False)) if cond_dim else None

    def forward(self, x: torch.Tensor, e: torch.Tensor | None = None) -> torch.Tensor:
        B, T, C, H, W = x.shape
        h = self.unshuffle((2 * x - 1).flatten(0, 1)).view(B, T, 4 * C, H // 2, W // 2).transpose(1, 2)
        phi = self.last(minibatch_std(self.features(h))).sum(dim=(-3, -2, -1))  # (B, c)
        out = self.score(phi).squeeze(1)
        if self.project is not None and e is not None:
            out = out + (self.project(e) * phi).sum(dim=1)
        return out


# -- the whole model -----------------------------------------------------------------------------
class VideoGAN(nn.Module):
    """Generator + image critic + video critic; a ``VideoGenerator`` (``sample``) of the library contract.

    ``conditional=True`` reads captions of the moving shapes (``sample(n, cond=captions)``).
    """

    def __init__(self, channels: int = 1, size: int = 32, frames: int = 10, *, width: int = 32,
                 critic_width: int = 32, content_dim: int = 32, motion_dim: int = 16, noise_dim: int = 8,
                 conditional: bool = False, embed_width: int = 16, objects: int = 2, film_shots: int = 5,
                 film_clips: int = 4) -> None:
        super().__init__()
        self.channels, self.size, self.frames = channels, size, frames
        # the generator and the critics read captions through embeddings of their own (each trained by its player)
        self.embed = CaptionEmbedding(embed_width, objects) if conditional else None
        self.critic_embed = CaptionEmbedding(embed_width, objects) if conditional else None
        cond_dim = self.embed.dim if self.embed is not None else 0
        self.generator = MotionContentGenerator(channels, size, width=width, content_dim=content_dim,
                                        motion_dim=motion_dim, noise_dim=noise_dim, cond_dim=cond_dim)
        self.image_critic = ImageCritic(channels, size, width=critic_width, cond_dim=cond_dim)
        self.video_critic = VideoCritic(channels, size, width=critic_width, cond_dim=cond_dim)
        # the training film: clips of a few fixed codes at a few steps of training, as uint8 frames
        # (snapshots, clips, T, C, H, W), filled by the recipe's loop and saved with the weights
        self.register_buffer("film", torch.zeros(film_shots, film_clips, frames, channels, size, size,
                                                 dtype=torch.uint8))
        self.register_buffer("film_steps", torch.zeros(film_shots, dtype=torch.long))

    @property
    def conditional(self) -> bool:
        return self.embed is not None

    def embedding(self, cond: list[str] | None, n: int, critic: bool = False) -> torch.Tensor | None:
        """The captions' embedding (n, cond_dim) of the generator (or of the critics), or None if unconditional."""
        if self.embed is None:
            if cond is not None:
                raise ValueError("this GAN is unconditional; use cond=None")
            return None
        if cond is None or isinstance(cond, str) or len(cond) != n:
            raise ValueError(f"a conditional GAN needs n = {n} captions in cond, got {cond!r:.80}")
        return (self.critic_embed if critic else self.embed)(list(cond))

    def generate(self, codes: Codes, cond: list[str] | None = None, window: slice | None = None) -> torch.Tensor:
        """Frames (B, T, C, H, W) in [0, 1] from given codes (or the frames of ``window``), with gradients."""
        e = self.embedding(cond, codes.content.shape[0])
        return torch.sigmoid(self.generator(codes, e, window))

    @torch.no_grad()
    def sample(self, n: int, T: int | None = None, *, cond: list[str] | None = None,
               generator: torch.Generator | None = None, codes: Codes | None = None) -> torch.Tensor:
        """``n`` clips (n, T, C, H, W) in [0, 1]; ``codes`` fixes the content and motion noise (see ``draw``).

        A conditional model given ``cond=None`` draws its captions as the data does (random objects,
        colours and directions, from ``generator``), so ``sample(n)`` always works.
        """
        T = self.frames if T is None else T
        if self.conditional and cond is None:
            from ..data.shapes import MovingShapes

            seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
            cond = MovingShapes().sample_batch(n, T=2, seed=seed, return_captions=True)[1]
        if codes is None:
            codes = self.generator.draw(n, T, generator, self.device)
        return self.generate(Codes(*(c.to(self.device) for c in codes)), cond).float()

    def generator_parameters(self) -> list[nn.Parameter]:
        """What the generator's optimizer updates: the generator and its caption embedding."""
        return [*self.generator.parameters(), *(self.embed.parameters() if self.embed is not None else [])]

    def critic_parameters(self) -> list[nn.Parameter]:
        """What the critics' optimizer updates: both critics and their caption embedding."""
        extra = self.critic_embed.parameters() if self.critic_embed is not None else []
        return [*self.image_critic.parameters(), *self.video_critic.parameters(), *extra]

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def critics(self, clips: torch.Tensor, cond: list[str] | None = None, *,
                frames: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores of the image critic (B, F) on ``frames`` (indices; default all T) and of the video critic (B,)."""
        check_video(clips, self.channels, self.size, "clips")
        e = self.embedding(cond, clips.shape[0], critic=True)
        picked = clips if frames is None else clips[:, frames]  # (B, F, C, H, W)
        B, F_ = picked.shape[:2]
        e_frames = None if e is None else e[:, None].expand(B, F_, -1).flatten(0, 1)
        image = self.image_critic(picked.flatten(0, 1), e_frames).view(B, F_)
        return image, self.video_critic(clips, e)


__all__ = ["CaptionEmbedding", "Codes", "ImageCritic", "VideoCritic", "MotionContentGenerator", "VideoGAN",
           "d_bce_loss", "d_hinge_loss", "g_hinge_loss", "g_minimax_loss", "g_nonsaturating_loss"]
