"""Reading captions back from video: an attribute classifier for the moving shapes (chapter 06).

A caption-conditioned generator (the text-to-video chapters) is asked for "a red square
moves left; a blue circle moves down". Did it draw that? The simulator knows
the exact attributes of its own clips, so we train a classifier on them: for
every colour of :data:`~vidgen_edu.data.COLORS`, is an object of that colour
present, which shape is it, and which way does it move. Every object of a clip
has its own colour, so the colours name the classifier's slots.

The classifier first *measures* where each colour is (:func:`color_membership`,
:func:`color_tracks`, :func:`color_velocity`), then *learns* to read presence,
shape and direction from a crop around each colour's centre and from its
velocity (:class:`AttributeNet`). :func:`caption_scores` compares its reading of
generated clips with the captions they were asked for; on real clips drawn for
the same captions (:meth:`~vidgen_edu.data.MovingShapes.clips_for_captions`) it
gives the ceiling.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from .checkpoints import cached_train
from .data import COLORS, DIRECTIONS, SHAPES, make_dataset, parse_caption
from .runtime import budget, get_device, seeded
from .train import fit

_COLORS, _SHAPES, _DIRECTIONS = tuple(COLORS), tuple(SHAPES), tuple(DIRECTIONS)
#: the seven colours are the corners of the RGB cube other than black, (7, 3)
CORNERS = torch.tensor(list(COLORS.values()))
#: the training data: the chapters' shapes (4 directions) and the same with all 8 directions
TRAIN_SOURCES: tuple[dict, ...] = ({}, {"directions": _DIRECTIONS})
#: logits of a classifier: presence (B, 7), shape (B, 7, 4), direction (B, 7, 8)
Logits = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def color_membership(clips: torch.Tensor) -> torch.Tensor:
    """How much of each colour every pixel is: clips (B, T, 3, H, W) → (B, T, 7, H, W) in [0, 1].

    The trilinear weights of the pixel's RGB value x on the corners of the cube:
    ``m_c(x) = prod_k (x_k if c_k = 1 else 1 - x_k)``. With black they sum to 1, and a
    pixel of a pure colour has weight 1 on its own corner; a half-covered rim pixel
    shares its weight between its colour and the one behind it.
    """
    x = clips.float().clamp(0.0, 1.0)[:, :, None]  # (B, T, 1, 3, H, W)
    c = CORNERS.to(x.device)[None, None, :, :, None, None]  # (1, 1, 7, 3, 1, 1)
    return torch.where(c > 0.5, x, 1 - x).prod(dim=3)


def color_tracks(m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Centre (B, T, 7, 2) as (x, y) pixels and mass (B, T, 7) of every colour in every frame of m (B, T, 7, H, W)."""
    H, W = m.shape[-2:]
    mass = m.sum(dim=(-2, -1))  # (B, T, 7)
    xs = torch.arange(W, device=m.device) + 0.5  # pixel centres
    ys = torch.arange(H, device=m.device) + 0.5
    # centre = sum_p m(p) p / sum_p m(p)
    cx = (m.sum(dim=-2) * xs).sum(dim=-1) / mass.clamp(min=1e-6)
    cy = (m.sum(dim=-1) * ys).sum(dim=-1) / mass.clamp(min=1e-6)
    return torch.stack([cx, cy], dim=-1), mass


def color_velocity(centres: torch.Tensor, mass: torch.Tensor) -> torch.Tensor:
    """Velocity (B, 7, 2) in pixels per frame: the weighted least-squares slope of the centres (B, T, 7, 2) over t.

    Frame weights ``w_t = (mass_t / max_t mass)^4`` trust the frames where the colour is
    fully visible: a partly hidden object's visible centre is pulled away from its true one.
    """
    w = (mass / mass.amax(dim=1, keepdim=True).clamp(min=1e-6)) ** 4  # (B, T, 7)
    t = torch.arange(mass.shape[1], device=mass.device, dtype=mass.dtype)[None, :, None]  # (1, T, 1)
    sw = w.sum(dim=1, keepdim=True).clamp(min=1e-6)
    t_mean = (w * t).sum(dim=1, keepdim=True) / sw  # (B, 1, 7)
    c_mean = (w[..., None] * centres).sum(dim=1, keepdim=True) / sw[..., None]  # (B, 1, 7, 2)
    dt = t - t_mean  # (B, T, 7)
    # v = sum_t w_t (t - t̄)(c_t - c̄) / sum_t w_t (t - t̄)^2
    return (w * dt)[..., None].mul(centres - c_mean).sum(dim=1) / (w * dt**2).sum(dim=1).clamp(min=1e-6)[..., None]


class AttributeNet(nn.Module):
    """Clips (B, T, 3, H, W) → per colour: presence logit (B, 7), shape (B, 7, 4) and direction logits (B, 7, 8).

    For every colour c and frame, a ``crop × crop`` window of the colour's membership
    around its centre goes through a small 2-D CNN; the features are averaged over the
    frames where c is visible. An MLP shared by all colours reads presence, shape and
    direction from those features, the direction and speed of c's velocity, and
    ``log(1 + mass)``. Any ``T >= 2`` works.
    """

    def __init__(self, width: int = 8, crop: int = 14, feature_dim: int = 32, hidden: int = 64) -> None:
        super().__init__()
        self.crop = crop
        self.cnn = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.ReLU(),  # (N, w, crop, crop)
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.ReLU(),  # (N, 2w, crop/2, crop/2)
            nn.Flatten(), nn.Linear(2 * width * ((crop + 1) // 2) ** 2, feature_dim), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Linear(feature_dim + 4, hidden), nn.ReLU(),
                                  nn.Linear(hidden, 1 + len(_SHAPES) + len(_DIRECTIONS)))

    def crops(self, m: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
        """Windows (B, T, 7, crop, crop) of the memberships m (B, T, 7, H, W) around the centres (B, T, 7, 2)."""
        B, T, C, H, W = m.shape
        k = torch.arange(self.crop, device=m.device) - (self.crop - 1) / 2  # pixel offsets from the centre
        # grid_sample wants coordinates in [-1, 1]: u = 2 x / W - 1 (align_corners=False)
        gx = (centres[..., 0, None] + k) * 2 / W - 1  # (B, T, 7, crop)
        gy = (centres[..., 1, None] + k) * 2 / H - 1
        grid = torch.stack(torch.broadcast_tensors(gx[..., None, :], gy[..., :, None]), dim=-1)  # (.., crop, crop, 2)
        out = F.grid_sample(m.reshape(-1, 1, H, W), grid.reshape(-1, self.crop, self.crop, 2), align_corners=False)
        return out.view(B, T, C, self.crop, self.crop)

    def forward(self, clips: torch.Tensor) -> Logits:
        if clips.dim() != 5 or clips.shape[2] != 3 or clips.shape[1] < 2:
            raise ValueError(f"AttributeNet expects clips (B, T >= 2, 3, H, W), got {tuple(clips.shape)}")
        m = color_membership(clips)  # (B, T, 7, H, W)
        centres, mass = color_tracks(m)  # (B, T, 7, 2), (B, T, 7)
        f = self.cnn(self.crops(m, centres).flatten(0, 2)[:, None]).unflatten(0, mass.shape)  # (B, T, 7, F)
        w = mass / (mass + 1.0)  # ~1 where the colour is visible, ~0 where it is absent
        f = (w[..., None] * f).sum(dim=1) / w.sum(dim=1).clamp(min=1e-6)[..., None]  # (B, 7, F)
        v = color_velocity(centres, mass)  # (B, 7, 2)
        speed = v.norm(dim=-1, keepdim=True)
        z = torch.cat([f, v / (speed + 1e-3), speed, torch.log1p(mass.mean(dim=1))[..., None]], dim=-1)
        out = self.head(z)  # (B, 7, 1 + 4 + 8)
        return out[..., 0], out[..., 1:1 + len(_SHAPES)], out[..., 1 + len(_SHAPES):]


def training_set(num_clips: int, T: int = 10, seed: int = 1) -> TensorDataset:
    """(uint8 clips, presence (N, 7), shape codes (N, 7), direction codes (N, 7)) of MovingShapes clips.

    ``num_clips`` clips of each source of :data:`TRAIN_SOURCES`, the i-th drawn with seed
    ``seed + i`` (from 1: never the clips, seed 0, the generators train on). The shape and
    direction codes of absent colours are -100, which the cross-entropy ignores.
    """
    parts = []
    for i, kwargs in enumerate(TRAIN_SOURCES):
        ds = make_dataset("shapes", "train", num_clips=num_clips, T=T, seed=seed + i, **kwargs)
        rows = torch.arange(num_clips)[:, None]  # (n, 1)
        slot = ds.info["colors"].long()  # (n, K): an object's colour is its slot
        present = torch.zeros(num_clips, len(_COLORS))
        present[rows, slot] = 1.0
        shapes = torch.full((num_clips, len(_COLORS)), -100)
        shapes[rows, slot] = ds.info["shapes"].long()
        directions = torch.full((num_clips, len(_COLORS)), -100)
        directions[rows, slot] = ds.info["directions"].long()
        parts.append((ds.data, present, shapes, directions))
    return TensorDataset(*(torch.cat(x) for x in zip(*parts)))


def train_attribute_net(net: AttributeNet, steps: int, num_clips: int, batch_size: int = 32, lr: float = 3e-3,
                        device: torch.device | str | None = None, seed: int = 0, T: int = 10,
                        data_seed: int = 1) -> list[float]:
    """Binary cross-entropy on presence + cross-entropy on shape and direction of the present colours.

    ``seed`` fixes the shuffling (and nothing else: the caller's random state is left unchanged).
    """

    def loss_fn(model: AttributeNet, batch: list[torch.Tensor]) -> torch.Tensor:
        clips, present, shape, direction = batch
        p, s, d = model(clips.float() / 255.0)
        return (F.binary_cross_entropy_with_logits(p, present)
                + F.cross_entropy(s.flatten(0, 1), shape.flatten())  # -100 (absent) is ignored
                + F.cross_entropy(d.flatten(0, 1), direction.flatten()))

    with seeded(seed), torch.enable_grad():  # also when called under no_grad
        loader = DataLoader(training_set(num_clips, T, data_seed), batch_size=batch_size, shuffle=True,
                            drop_last=True, generator=torch.Generator().manual_seed(seed))
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
        return fit(net, loss_fn, loader, steps, optimizer=opt, scheduler=sched, device=device,
                   desc="attribute classifier")


def attribute_classifier(device: torch.device | str | None = None) -> AttributeNet:
    """The trained :class:`AttributeNet`, from the checkpoint cache ``attribute_classifier`` (trained on first use).

    About a minute on 2 CPU cores; the caller's random state is left unchanged.
    """
    device = torch.device(device) if device is not None else get_device()
    config = dict(steps=budget(full=800, quick=5), num_clips=budget(full=2000, quick=16), lr=3e-3, batch_size=32,
                  width=8, crop=14, feature_dim=32, hidden=64, T=10, sources=TRAIN_SOURCES, data_seed=1, seed=0)

    def train(model: AttributeNet) -> dict:
        start = time.perf_counter()
        history = train_attribute_net(model, config["steps"], config["num_clips"], config["batch_size"],
                                      config["lr"], device, config["seed"], config["T"], config["data_seed"])
        return {"history": history, "train_s": time.perf_counter() - start}

    with seeded(config["seed"]), torch.inference_mode(False), torch.enable_grad():  # the same initial weights
        net = AttributeNet(config["width"], config["crop"], config["feature_dim"], config["hidden"])
        net = cached_train(net, "attribute_classifier", train, config=config)
    return net.to(device).eval()


@torch.no_grad()
def read_attributes(clips: torch.Tensor, net: Callable[[torch.Tensor], Logits] | None = None,
                    batch_size: int = 250) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """What the classifier sees in clips (B, T, 3, H, W): present (B, 7) bool, shape and direction codes (B, 7).

    Codes index :data:`~vidgen_edu.data.SHAPES` and :data:`~vidgen_edu.data.DIRECTIONS`; slot c is
    colour ``list(COLORS)[c]`` (its shape and direction are meaningless where it is absent).
    """
    if not isinstance(clips, torch.Tensor) or clips.dim() != 5 or clips.shape[2] != 3 or clips.shape[1] < 2:
        raise ValueError(f"expected RGB clips (B, T >= 2, 3, H, W), got {getattr(clips, 'shape', clips)}")
    if not torch.isfinite(clips).all():
        raise ValueError("the clips have non-finite values")
    net = attribute_classifier() if net is None else net
    params = list(net.parameters()) if isinstance(net, nn.Module) else []
    device = params[0].device if params else clips.device
    out = [net(c.to(device).float()) for c in clips.split(batch_size)]
    p, s, d = (torch.cat([o[i] for o in out]).cpu() for i in range(3))
    return p > 0, s.argmax(dim=-1), d.argmax(dim=-1)


def predicted_captions(clips: torch.Tensor, net: Callable[[torch.Tensor], Logits] | None = None) -> list[str]:
    """The caption the classifier reads from each clip (B, T, 3, H, W), colours in the order of COLORS."""
    present, shape, direction = read_attributes(clips, net)
    return ["; ".join(f"a {_COLORS[c]} {_SHAPES[shape[b, c]]} moves {_DIRECTIONS[direction[b, c]]}"
                      for c in present[b].nonzero()[:, 0].tolist()) for b in range(len(present))]


def caption_scores(clips: torch.Tensor, captions: Sequence[str],
                   net: Callable[[torch.Tensor], Logits] | None = None) -> dict[str, float]:
    """How well clips (B, T, 3, H, W) show their captions (B strings), as read by the attribute classifier.

    - ``caption_acc``: share of clips where every object of the caption is present with the
      right shape and direction, and no other colour is present;
    - ``color_acc``: share of caption objects whose colour is detected as present;
    - ``shape_acc``, ``direction_acc``: share of caption objects whose shape / direction is
      read right in the slot of their colour.

    ``net`` is any callable returning the logits of :class:`AttributeNet` (default: the
    trained :func:`attribute_classifier`).
    """
    if isinstance(captions, str) or len(captions) != len(clips):
        raise ValueError(f"caption_scores expects one caption per clip: {len(clips)} clips, got {captions!r:.80}")
    parsed = [parse_caption(c) for c in captions]
    for text, objects in zip(captions, parsed):
        if len({color for _, color, _ in objects}) != len(objects):
            raise ValueError(f"every object of a caption must have its own colour, got {text!r}")
    present, shape, direction = read_attributes(clips, net)
    color_ok, shape_ok, direction_ok, caption_ok = [], [], [], []
    for b, objects in enumerate(parsed):
        slots = [_COLORS.index(c) for _, c, _ in objects]
        color_ok += [bool(present[b, c]) for c in slots]
        shape_ok += [shape[b, c].item() == _SHAPES.index(s) for (s, _, _), c in zip(objects, slots)]
        direction_ok += [direction[b, c].item() == _DIRECTIONS.index(d) for (_, _, d), c in zip(objects, slots)]
        expected = torch.zeros(len(_COLORS), dtype=torch.bool)
        expected[slots] = True
        n = len(objects)
        caption_ok.append(all(shape_ok[-n:]) and all(direction_ok[-n:]) and torch.equal(present[b], expected))
    return {"caption_acc": _share(caption_ok), "color_acc": _share(color_ok),
            "shape_acc": _share(shape_ok), "direction_acc": _share(direction_ok)}


@torch.no_grad()
def content_consistency(clips: torch.Tensor, window: int = 5,
                        net: Callable[[torch.Tensor], Logits] | None = None) -> float:
    """Share of clips (B, T, 3, H, W) whose objects keep their colour and shape from start to end.

    Each clip is cut into ``T // window`` windows of ``window`` consecutive frames; the
    classifier reads every window on its own. A clip is consistent when every window shows
    the same set of colours and, for each of them, the same shape. A generator that lets a
    square turn into a circle, or a red object into a blue one, halfway through, is not
    (chapter 08: content fixed per clip is what its content code promises).

    The default, two windows of five frames for the protocol's ten, is one that real clips
    pass nearly always; with windows of two frames the classifier misreads more of the
    windows where the two objects overlap, and real clips fail more often (chapter 08
    prints both).
    """
    if not isinstance(clips, torch.Tensor) or clips.dim() != 5 or clips.shape[2] != 3:
        raise ValueError(f"expected RGB clips (B, T, 3, H, W), got {getattr(clips, 'shape', clips)}")
    B, T = clips.shape[:2]
    n = T // window
    if window < 2 or n < 2:
        raise ValueError(f"content_consistency needs window >= 2 and at least two windows, got T={T}, window={window}")
    windows = clips[:, :n * window].reshape(B * n, window, *clips.shape[2:])  # (B·n, window, 3, H, W)
    present, shape, _ = read_attributes(windows, net)
    present, shape = present.view(B, n, -1), shape.view(B, n, -1)  # (B, n, 7)
    same_colours = (present == present[:, :1]).all(dim=(1, 2))  # (B,)
    same_shapes = ((shape == shape[:, :1]) | ~present).all(dim=(1, 2))  # only where a colour is present
    return (same_colours & same_shapes).float().mean().item()


def _share(flags: list[bool]) -> float:
    return sum(flags) / len(flags)
