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


def attribute_targets(codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Caption codes (B, K, 3) → per colour: presence (B, 7) in {0, 1}, shape and direction (B, 7), −1 if absent."""
    B, K, _ = codes.shape
    present = torch.zeros(B, len(_COLORS), device=codes.device)
    shape = torch.full((B, len(_COLORS)), -1, dtype=torch.long, device=codes.device)
    direction = shape.clone()
    for k in range(K):
        b = (codes[:, k, 0] >= 0).nonzero()[:, 0]  # clips whose caption has a k-th object
        c = codes[b, k, 0]
        present[b, c] = 1.0
        shape[b, c], direction[b, c] = codes[b, k, 1], codes[b, k, 2]
    return present, shape, direction


def attribute_loss(logits: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of a critic's auxiliary logits (B, 7 · (1 + 4 + 8)) against what captions (codes) ask for.

    Per colour: is it present (binary), and if it is, its shape (4 classes) and direction (8).
    """
    present, shape, direction = attribute_targets(codes)
    z = logits.view(len(logits), len(_COLORS), 1 + len(_SHAPES) + len(_DIRECTIONS))
    loss = F.binary_cross_entropy_with_logits(z[..., 0], present)
    loss = loss + F.cross_entropy(z[..., 1:1 + len(_SHAPES)].flatten(0, 1), shape.flatten(), ignore_index=-1)
    return loss + F.cross_entropy(z[..., 1 + len(_SHAPES):].flatten(0, 1), direction.flatten(), ignore_index=-1)


#: logits of the auxiliary classifier: per colour, presence + shapes + directions
AUX_LOGITS = len(_COLORS) * (1 + len(_SHAPES) + len(_DIRECTIONS))


# -- captions ------------------------------------------------------------------------------------
def caption_codes(captions: list[str], objects: int = 2) -> torch.Tensor:
    """Integer codes (B, objects, 3) of captions: colour, shape, direction per object; −1 for an empty slot."""
    out = torch.full((len(captions), objects, 3), -1, dtype=torch.long)
    for b, text in enumerate(captions):
        parsed = parse_caption(text)
        if len(parsed) > objects:
            raise ValueError(f"caption {text!r} has {len(parsed)} objects; this model reads at most {objects}")
        for k, (shape, color, direction) in enumerate(parsed):
            out[b, k] = torch.tensor([_COLORS.index(color), _SHAPES.index(shape), _DIRECTIONS.index(direction)])
    return out


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
        return caption_codes(captions, self.objects)

    def slots(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Per object: embeddings (B, K, 3 · width), [colour, shape, direction], and presence (B, K) in {0, 1}."""
        codes = self.codes(captions).to(self.color.weight.device)  # (B, K, 3)
        present = (codes[..., 0] >= 0).float()  # (B, K)
        c = codes.clamp(min=0)
        e = torch.cat([self.color(c[..., 0]), self.shape(c[..., 1]), self.direction(c[..., 2])], dim=-1)
        return e * present[..., None], present

    def forward(self, captions: list[str]) -> torch.Tensor:
        return self.slots(captions)[0].flatten(1)  # (B, K · 3 · width)


class ObjectSetEmbedding(nn.Module):
    """Captions (B strings) → (B, width): the sum over the caption's objects of one vector per object kind.

    An object kind is a (colour, shape, direction) triple, so "a red square; a blue circle"
    and "a red circle; a blue square" get different vectors: summing one vector per
    *attribute* instead would give both the same (it loses which colour goes with which
    shape). The sum does not depend on the objects' order. The critics read captions
    this way; :class:`CaptionEmbedding` gives the codes.
    """

    def __init__(self, width: int = 64, objects: int = 2) -> None:
        super().__init__()
        self.objects = objects
        self.kind = nn.Embedding(len(_COLORS) * len(_SHAPES) * len(_DIRECTIONS), width)
        self.dim = width

    def forward(self, captions: list[str]) -> torch.Tensor:
        codes = caption_codes(captions, self.objects).to(self.kind.weight.device)  # (B, K, 3)
        present = (codes[..., :1] >= 0).float()  # (B, K, 1)
        c = codes.clamp(min=0)
        kind = (c[..., 0] * len(_SHAPES) + c[..., 1]) * len(_DIRECTIONS) + c[..., 2]  # (B, K)
        return (self.kind(kind) * present).sum(dim=1)  # (B, width)


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
    """Codes (content, motion per frame, caption) → a clip (B, T, C, H, W) in [0, 1].

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
        """All T frames in [0, 1], or the frames in ``window`` only (the motion GRU still runs from t = 1)."""
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
        return torch.sigmoid(logits).view(B, T, self.channels, self.size, self.size)


def resample(src: torch.Tensor, scale: float, offset: torch.Tensor, out: int) -> torch.Tensor:
    """src (N, C, h, w) read at ``q = scale · u + offset`` for every point u of an (out × out) grid → (N, C, out, out).

    Coordinates in [−1, 1] grid units (``align_corners=False``), bilinear, zero outside: a
    translation and a zoom, differentiable in the offset (N, 2), x then y.
    """
    theta = torch.zeros(len(src), 2, 3, device=src.device, dtype=src.dtype)
    theta[:, 0, 0] = theta[:, 1, 1] = scale
    theta[:, :, 2] = offset
    grid = F.affine_grid(theta, [len(src), src.shape[1], out, out], align_corners=False)
    return F.grid_sample(src, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


class LayeredGenerator(nn.Module):
    """Captions' objects → a clip (B, T, 3, H, W) in [0, 1], drawn as moving sprites, one per object.

    For each object k of the caption:

    - **content**: a sprite decoder draws it once per clip, from its colour and shape
      embeddings and a content code ``z_c,k``: an RGB picture and an opacity α, (4, s, s)
      with ``s = sprite`` pixels (transposed convolutions, 4×4 → s×s);
    - **motion**: a GRU, started from its direction embedding and a motion code ``z_m,k``,
      gives a velocity per frame, ``v_t = a · tanh(W m_t)``, and the position is their sum,
      ``p_t = p_0 + Σ_{τ≤t} v_τ``;
    - the sprite is pasted at ``p_t`` (a translation by ``grid_sample``, so the position gets
      gradients) and painted over the frame in caption order,
      ``x ← (1 − α) x + α rgb``, on a black background;
    - with ``margin = m``, each object's whole path is shifted by the least translation that
      keeps its centres in ``[m, size − m]``, as the simulator keeps its shapes inside the frame.

    Content cannot change within a clip here: a frame is the same sprites at new places.
    """

    def __init__(self, size: int = 32, *, sprite: int = 16, width: int = 32, content_dim: int = 16,
                 motion_dim: int = 16, noise_dim: int = 0, embed_width: int = 16, objects: int = 2,
                 max_speed: float = 2.0, margin: float | None = None) -> None:
        super().__init__()
        if sprite % 4 or not 8 <= sprite <= size:
            raise ValueError(f"sprite must be a multiple of 4 between 8 and size = {size}, got {sprite}")
        self.channels, self.size, self.sprite, self.objects = 3, size, sprite, objects
        self.content_dim, self.motion_dim, self.noise_dim = content_dim, motion_dim, noise_dim
        self.max_speed = max_speed  # pixels per frame
        self.margin = margin  # None: paths anywhere; else each path shifted into [margin, size − margin]
        self.embed = CaptionEmbedding(embed_width, objects)
        ups: list[nn.Module] = []
        s = 4
        while s < sprite:  # 4×4 → sprite×sprite
            ups += [nn.ConvTranspose2d(width, width, 4, stride=2, padding=1), nn.GroupNorm(8, width), nn.ReLU()]
            s *= 2
        self.draw_sprite = nn.Sequential(
            nn.Linear(content_dim + 2 * embed_width, width * 16), nn.Unflatten(1, (width, 4, 4)),
            nn.GroupNorm(8, width), nn.ReLU(), *ups, nn.Conv2d(width, 4, 3, padding=1))
        self.start = nn.Linear(motion_dim + embed_width, motion_dim + 2)  # m_0 and p_0
        self.motion = nn.GRUCell((noise_dim or motion_dim) + embed_width, motion_dim)
        self.velocity = nn.Linear(motion_dim, 2)

    def draw(self, n: int, T: int, generator: torch.Generator | None = None,
             device: torch.device | str = "cpu") -> Codes:
        """Codes for ``n`` clips: content (n, K, content_dim), motion (n, K, motion_dim), noise (n, T, K, noise_dim)."""
        K = self.objects
        z_c = torch.randn(n, K, self.content_dim, generator=generator)
        z_m = torch.randn(n, K, self.motion_dim, generator=generator)
        eps = torch.randn(n, T, K, self.noise_dim, generator=generator)
        return Codes(z_c.to(device), z_m.to(device), eps.to(device))

    def sprites(self, codes: Codes, e: torch.Tensor) -> torch.Tensor:
        """Sprites (B, K, 4, s, s): RGB in [0, 1] and opacity α in [0, 1], from content codes and embeddings."""
        B, K, _ = codes.content.shape
        w = self.embed.width
        h = torch.cat([codes.content, e[..., :2 * w]], dim=-1).flatten(0, 1)  # colour and shape, (B·K, ...)
        return torch.sigmoid(self.draw_sprite(h)).view(B, K, 4, self.sprite, self.sprite)

    def positions(self, codes: Codes, e: torch.Tensor, T: int) -> torch.Tensor:
        """Centres (B, T, K, 2) in pixels, x then y: the GRU's :meth:`paths`, kept inside the frame."""
        return self.keep_inside(self.paths(codes, e, T))

    def paths(self, codes: Codes, e: torch.Tensor, T: int) -> torch.Tensor:
        """The GRU's centres (B, T, K, 2) in pixels, x then y, from the motion codes and direction embeddings."""
        B, K, _ = codes.motion0.shape
        w = self.embed.width
        d = e[..., 2 * w:].flatten(0, 1)  # (B·K, w) direction
        z_m = codes.motion0.flatten(0, 1)
        start = self.start(torch.cat([z_m, d], dim=-1))
        h, p = torch.tanh(start[:, :-2]), (0.5 + 0.35 * torch.tanh(start[:, -2:])) * self.size  # m_0, p_0
        out = [p]
        for t in range(1, T):
            # m_t = GRU([ε_t or z_m, e_dir], m_{t−1});  p_t = p_{t−1} + a tanh(W m_t)
            eps = codes.noise[:, t].flatten(0, 1) if self.noise_dim else z_m
            h = self.motion(torch.cat([eps, d], dim=-1), h)
            p = p + self.max_speed * torch.tanh(self.velocity(h))
            out.append(p)
        return torch.stack(out, dim=1).view(B, K, T, 2).transpose(1, 2)  # (B, T, K, 2)

    def keep_inside(self, p: torch.Tensor) -> torch.Tensor:
        """Paths (B, T, K, 2) shifted inside ``[margin, size − margin]`` (unchanged when ``margin`` is None).

        The simulator's shapes never leave the frame: each path (not each frame) moves by the
        least translation that brings its extremes inside the box (zero for a path already inside).
        """
        if self.margin is None:
            return p
        lo, hi = p.amin(dim=1, keepdim=True), p.amax(dim=1, keepdim=True)  # (B, 1, K, 2)
        # p_t + max(0, m − min_τ p_τ) − max(0, max_τ p_τ − (S − m))
        return p + F.relu(self.margin - lo) - F.relu(hi - (self.size - self.margin))

    def paste(self, sprites: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
        """Sprites (B, K, 4, s, s) placed at centres (B, T, K, 2) → layers (B, T, K, 4, H, W)."""
        B, T, K, _ = centres.shape
        S, r = self.size, self.sprite / self.size  # the sprite's half-width in [−1, 1] units is r
        c = (2 * centres / S - 1).reshape(-1, 2)  # (B·T·K, 2) centres in grid units (align_corners=False)
        src = sprites[:, None].expand(B, T, K, 4, self.sprite, self.sprite).reshape(-1, 4, self.sprite, self.sprite)
        # read the sprite at q = (u − c) / r for every output point u
        return resample(src, 1 / r, -c / r, S).view(B, T, K, 4, S, S)

    def forward(self, codes: Codes, e: torch.Tensor, present: torch.Tensor,
                window: slice | None = None) -> torch.Tensor:
        """Frames (B, T, 3, H, W) in [0, 1] (or those of ``window``); e (B, K, 3·width), present (B, K)."""
        T = codes.noise.shape[1]
        centres = self.positions(codes, e, T)  # (B, T, K, 2)
        if window is not None:
            centres = centres[:, window]
        sprites = self.sprites(codes, e)  # (B, K, 4, s, s)
        self.last_opacity = sprites[:, :, 3] * present[:, :, None, None]  # (B, K, s, s), for an opacity penalty
        self.last_centres = centres  # (B, T', K, 2), for the object critic
        layers = self.paste(sprites, centres)  # (B, T', K, 4, H, W)
        frame = torch.zeros_like(layers[:, :, 0, :3])
        for k in range(layers.shape[2]):
            # painter's algorithm: x ← (1 − α) x + α rgb, in caption order (an absent object has α = 0)
            alpha = layers[:, :, k, 3:] * present[:, k, None, None, None, None]
            frame = torch.lerp(frame, layers[:, :, k, :3], alpha)
        return frame


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


def projection_score(score: nn.Module, project: nn.Module | None, phi: torch.Tensor,
                     e: torch.Tensor | None) -> torch.Tensor:
    """A critic's score (N,) from its features φ (N, c): ``w·φ(x) + b``, plus ``⟨V e(y), φ(x)⟩`` with a caption."""
    # D(x, y) = w·φ(x) + b + ⟨V e(y), φ(x)⟩  (score is the linear layer w, b; project is V)
    out = score(phi).squeeze(1)
    if project is not None and e is not None:
        out = out + (project(e) * phi).sum(dim=1)
    return out


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
        return projection_score(self.score, self.project, phi, e)


def object_crops(frames: torch.Tensor, centres: torch.Tensor, size: int) -> torch.Tensor:
    """Windows (B·T·K, C, size, size) of frames (B, T, C, H, W) centred on centres (B, T, K, 2) (pixels, x then y)."""
    B, T, K, _ = centres.shape
    C, H = frames.shape[2], frames.shape[-1]
    c = (2 * centres / H - 1).reshape(-1, 2)  # (B·T·K, 2) in grid units (align_corners=False)
    src = frames[:, :, None].expand(B, T, K, C, H, H).reshape(-1, C, H, H)
    return resample(src, size / H, c, size)  # a window of `size` pixels around each centre


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
        return projection_score(self.score, self.project, phi, e)


class AttributeReader(nn.Module):
    """Clips (B, T, 3, H, W) in [0, 1] → logits (B, AUX_LOGITS): per colour, present? which shape? which way?

    The auxiliary classifier of AC-GAN (Odena et al., 2017), kept apart from the critics: a
    plain CNN trained on *real* clips against their captions (no spectral norm, so it learns
    at the speed of ordinary supervised training). It reads the first and the last frame of a
    clip stacked as six channels: the shapes are in either, the direction in their difference.
    The generator is trained to make it read the caption it was asked for.
    """

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(6, width, 3, padding=1), nn.ReLU(),  # (B, w, 32, 32)
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1), nn.ReLU(),  # (B, 2w, 16, 16)
            nn.Conv2d(2 * width, 2 * width, 4, stride=2, padding=1), nn.ReLU(),  # (B, 2w, 8, 8)
            nn.Conv2d(2 * width, 4 * width, 3, padding=1), nn.ReLU())  # (B, 4w, 8, 8)
        self.head = nn.Linear(4 * width, AUX_LOGITS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.cat([x[:, 0], x[:, -1]], dim=1) * 2 - 1  # (B, 6, H, W)
        return self.head(self.net(h).amax(dim=(-2, -1)))  # the strongest response anywhere: (B, AUX_LOGITS)


# -- the whole model -----------------------------------------------------------------------------
class VideoGAN(nn.Module):
    """Generator + image critic + video critic; a ``VideoGenerator`` (``sample``) of the library contract.

    ``conditional=True`` reads captions of the moving shapes (``sample(n, cond=captions)``).
    ``layered=True`` (conditional only) draws with a :class:`LayeredGenerator`, one sprite per
    object, instead of the :class:`MotionContentGenerator`'s whole frames.
    """

    def __init__(self, channels: int = 1, size: int = 32, frames: int = 10, *, width: int = 32,
                 critic_width: int = 32, content_dim: int = 32, motion_dim: int = 16, noise_dim: int = 8,
                 conditional: bool = False, layered: bool = False, aux: bool = False, embed_width: int = 16,
                 objects: int = 2, sprite: int = 16, margin: float | None = None, crop: int = 0,
                 reader_width: int = 32, film_shots: int = 5, film_clips: int = 4) -> None:
        super().__init__()
        if (layered or aux) and not (conditional and channels == 3):
            raise ValueError("layered=True and aux=True read the objects of captions: they need conditional=True "
                             "and channels=3")
        if crop and not layered:
            raise ValueError("crop > 0 (the object critic) needs layered=True: it crops around the sprites' positions")
        self.channels, self.size, self.frames, self.layered = channels, size, frames, layered
        # the generator and the critics read captions through embeddings of their own (each trained by its player)
        if layered:
            self.generator = LayeredGenerator(size, sprite=sprite, width=width, content_dim=content_dim,
                                              motion_dim=motion_dim, noise_dim=noise_dim, embed_width=embed_width,
                                              objects=objects, margin=margin)
            self.embed = self.generator.embed
        else:
            self.embed = CaptionEmbedding(embed_width, objects) if conditional else None
            self.generator = MotionContentGenerator(channels, size, width=width, content_dim=content_dim,
                                                    motion_dim=motion_dim, noise_dim=noise_dim,
                                                    cond_dim=self.embed.dim if conditional else 0)
        self.critic_embed = ObjectSetEmbedding(4 * embed_width, objects) if conditional else None
        critic_dim = self.critic_embed.dim if conditional else 0
        self.image_critic = ImageCritic(channels, size, width=critic_width, cond_dim=critic_dim)
        self.video_critic = VideoCritic(channels, size, width=critic_width, cond_dim=critic_dim)
        self.reader = AttributeReader(reader_width) if aux else None
        # crop > 0 (layered only): a third critic judges windows of crop × crop pixels around each object
        self.crop = crop
        self.object_critic = ImageCritic(channels, crop, width=critic_width) if crop else None
        # the training film: clips of a few fixed codes at a few steps of training, as uint8 frames
        # (snapshots, clips, T, C, H, W), filled by the recipe's loop and saved with the weights
        self.register_buffer("film", torch.zeros(film_shots, film_clips, frames, channels, size, size,
                                                 dtype=torch.uint8))
        self.register_buffer("film_steps", torch.zeros(film_shots, dtype=torch.long))

    @property
    def conditional(self) -> bool:
        return self.embed is not None

    def _check_cond(self, cond: list[str] | None, n: int) -> None:
        if self.embed is None:
            if cond is not None:
                raise ValueError("this GAN is unconditional; use cond=None")
        elif cond is None or isinstance(cond, str) or len(cond) != n:
            raise ValueError(f"a conditional GAN needs n = {n} captions in cond, got {cond!r:.80}")

    def embedding(self, cond: list[str] | None, n: int, critic: bool = False) -> torch.Tensor | None:
        """The captions' embedding (n, dim) of the generator (or of the critics), or None if unconditional."""
        self._check_cond(cond, n)
        if self.embed is None:
            return None
        return (self.critic_embed if critic else self.embed)(list(cond))

    def generate(self, codes: Codes, cond: list[str] | None = None, window: slice | None = None) -> torch.Tensor:
        """Frames (B, T, C, H, W) in [0, 1] from given codes (or the frames of ``window``), with gradients."""
        n = codes.content.shape[0]
        if self.layered:
            self._check_cond(cond, n)
            e, present = self.embed.slots(list(cond))  # (B, K, 3w), (B, K)
            return self.generator(codes, e, present, window)
        return self.generator(codes, self.embedding(cond, n), window)

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
        extra = self.embed.parameters() if self.embed is not None and not self.layered else []
        return [*self.generator.parameters(), *extra]

    def critic_parameters(self) -> list[nn.Parameter]:
        """What the critics' optimizer updates: the critics (image, video, object) and their caption embedding."""
        extra = self.critic_embed.parameters() if self.critic_embed is not None else []
        objects = self.object_critic.parameters() if self.object_critic is not None else []
        return [*self.image_critic.parameters(), *self.video_critic.parameters(), *objects, *extra]

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


__all__ = ["AUX_LOGITS", "AttributeReader", "CaptionEmbedding", "Codes", "ImageCritic", "LayeredGenerator",
           "MotionContentGenerator", "ObjectSetEmbedding", "VideoCritic", "VideoGAN", "attribute_loss",
           "attribute_targets", "caption_codes", "d_bce_loss", "d_hinge_loss", "g_hinge_loss", "g_minimax_loss",
           "g_nonsaturating_loss", "object_crops", "projection_score", "resample"]
