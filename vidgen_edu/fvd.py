"""FVD-lite: a Fréchet video distance in the feature space of a network trained here (chapter 06).

The Fréchet video distance (FVD, Unterthiner et al. 2018) embeds real and
generated clips with a pretrained video network (I3D), fits a Gaussian to each
set of embeddings and reports the Fréchet distance between the two Gaussians.
I3D cannot be downloaded in this book, so FVD-lite swaps in a small 3-D CNN,
:class:`VideoFeatureNet`, trained on the procedural data. There are two nets:

- ``"grey"`` (one channel: balls and digits) learns to tell the two data sets
  apart and to read off where the objects are and how they move (:func:`clip_targets`);
- ``"rgb"`` (three channels: moving shapes, one data set) learns which colours,
  shapes and directions are present in a clip (:data:`RGB_LABELS`, multi-label),
  the same motion summary, and the velocity of every colour (:func:`color_targets`).
  Without the last, its features were nearly blind to colour (clips whose shapes
  were all yellow scored like real ones); with it, they see colour, at the price
  of a larger distance between two real sets (chapter 06 shows both).

Neither is ever shown a corrupted clip: the chapter checks that they still rank
shuffled, frozen and noisy video as worse than real video (:func:`corrupt`
makes them). Training is seeded without touching the caller's random state.

Clips are ``(B, T, C, H, W)`` in [0, 1]; the feature nets take any ``T >= 2``
and were trained on ``T = 10``, the length of the predicted futures.
"""

from __future__ import annotations

import time

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from .checkpoints import cached_train
from .data import COLORS, DIRECTIONS, SHAPES, make_dataset
from .metrics import frechet_distance, gaussian_stats
from .runtime import budget, get_device, seeded
from .train import fit

#: the (grey-scale) data sets the grey feature net knows; its label head has one logit each
FAMILIES = ("balls", "digits")
#: the labels of the RGB net's multi-label head: colours, shapes and directions present in a clip
RGB_LABELS = (*COLORS, *SHAPES, *DIRECTIONS)
#: the feature nets, by the channels they read: "grey" (C = 1) and "rgb" (C = 3)
KINDS = {"grey": 1, "rgb": 3}
#: clip length the feature nets are trained on
CLIP_FRAMES = 10


class VideoFeatureNet(nn.Module):
    """A small 3-D CNN: clips (B, T, C, 32, 32) → features (B, feature_dim).

    Three 3×3×3 convolutions (each halves the frame, the last one also halves
    time), an average over time, then a linear map of the 4×4 grid of
    channels to the features. Two heads sit on the features during training: the
    labels of the clip (``num_classes`` logits: the data set for the grey net, the
    attributes present for the RGB net; the head keeps the name of its first use)
    and ``num_targets`` motion targets (regression: :func:`clip_targets`, and for the
    RGB net also :func:`color_targets`). FVD-lite uses the features, not the heads.
    """

    def __init__(self, channels: int = 1, width: int = 16, feature_dim: int = 64, size: int = 32,
                 num_classes: int = len(FAMILIES), num_targets: int = 5) -> None:
        super().__init__()
        if size % 8:
            raise ValueError(f"size must be divisible by 8, got {size}")
        self.channels, self.size = channels, size
        self.convs = nn.Sequential(
            nn.Conv3d(channels, width, 3, stride=(1, 2, 2), padding=1), nn.ReLU(),  # (B, w, T, 16, 16)
            nn.Conv3d(width, 2 * width, 3, stride=(1, 2, 2), padding=1), nn.ReLU(),  # (B, 2w, T, 8, 8)
            nn.Conv3d(2 * width, 4 * width, 3, stride=2, padding=1), nn.ReLU(),  # (B, 4w, T/2, 4, 4)
        )
        self.project = nn.Linear(4 * width * (size // 8) ** 2, feature_dim)
        self.family_head = nn.Linear(feature_dim, num_classes)
        self.motion_head = nn.Linear(feature_dim, num_targets)

    def features(self, clips: torch.Tensor) -> torch.Tensor:
        """The embedding FVD-lite uses: (B, T, C, H, W) → (B, feature_dim)."""
        if clips.dim() != 5 or clips.shape[2:] != (self.channels, self.size, self.size) or clips.shape[1] < 2:
            raise ValueError(f"VideoFeatureNet expects clips (B, T >= 2, {self.channels}, {self.size}, {self.size}), "
                             f"got {tuple(clips.shape)}")
        h = self.convs(clips.transpose(1, 2))  # Conv3d wants (B, C, T, H, W) → (B, 4w, T', 4, 4)
        h = h.mean(dim=2).flatten(1)  # average over time, keep the 4×4 layout: (B, 4w·16)
        return self.project(h)  # (B, feature_dim)

    def forward(self, clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Training heads: label logits (B, num_classes) and motion targets (B, num_targets)."""
        f = F.relu(self.features(clips))
        return self.family_head(f), self.motion_head(f)


def clip_targets(dataset) -> torch.Tensor:
    """Motion summary of every clip of a ``VideoDataset``: (N, 5) = mean x, mean y, speed, mean vx, mean vy.

    Averages over objects and frames, in units of the frame size (positions) and
    pixels per frame (velocities); order-free, so the objects need no matching.
    Balls give their simulator states; digits and shapes their positions, whose
    frame-to-frame differences are the velocities.
    """
    if "states" in dataset.info:  # balls: (N, T, K, 4) = x, y, vx, vy
        states = dataset.info["states"].float()
        pos, vel = states[..., :2], states[..., 2:]
    elif "positions" in dataset.info:  # digits, shapes: (N, T, K, 2)
        pos = dataset.info["positions"].float()
        vel = pos[:, 1:] - pos[:, :-1]  # (N, T-1, K, 2)
    else:
        raise ValueError(f"no positions or states in the info of {dataset!r}")
    mean_pos = pos.mean(dim=(1, 2)) / dataset.size  # (N, 2)
    speed = vel.norm(dim=-1).mean(dim=(1, 2))  # (N,)
    mean_vel = vel.mean(dim=(1, 2))  # (N, 2)
    return torch.cat([mean_pos, speed[:, None], mean_vel], dim=1)


def color_targets(dataset) -> torch.Tensor:
    """The velocity of each colour in every clip of a shapes ``VideoDataset``: (N, 2 · len(COLORS)).

    For every colour of :data:`~vidgen_edu.data.COLORS`, ``(x_T - x_1) / (T - 1)`` of the
    object of that colour in pixels per frame (its shapes move in straight lines); zeros
    where the colour is absent. Targets that bind colour to motion.
    """
    pos = dataset.info["positions"].float()  # (N, T, K, 2)
    velocity = (pos[:, -1] - pos[:, 0]) / max(pos.shape[1] - 1, 1)  # (N, K, 2)
    out = torch.zeros(len(dataset), len(COLORS), 2)
    out[torch.arange(len(dataset))[:, None], dataset.info["colors"].long()] = velocity  # into the colour slots
    return out.flatten(1)


def attribute_labels(dataset) -> torch.Tensor:
    """Multi-hot labels (N, len(RGB_LABELS)) of a shapes ``VideoDataset``: colours, shapes, directions present."""
    n = len(dataset)
    offsets = {"colors": 0, "shapes": len(COLORS), "directions": len(COLORS) + len(SHAPES)}
    labels = torch.zeros(n, len(RGB_LABELS))
    for key, offset in offsets.items():
        labels.scatter_(1, offset + dataset.info[key].long(), 1.0)  # codes (N, K) → ones at their columns
    return labels


def training_set(num_clips: int, T: int = CLIP_FRAMES, seed: int = 1, kind: str = "grey") -> TensorDataset:
    """(uint8 clips, labels, standardized motion targets) of the training clips of a feature net.

    ``"grey"``: ``num_clips`` clips per family, labelled with the family index, targets
    :func:`clip_targets`; ``"rgb"``: ``num_clips`` shapes clips, labelled by
    :func:`attribute_labels`, targets :func:`clip_targets` and :func:`color_targets`.
    Seed 1, so the feature net never sees the clips (seed 0) the chapters' models train on.
    """
    if kind == "grey":
        sets = [make_dataset(name, "train", num_clips=num_clips, T=T, seed=seed) for name in FAMILIES]
        labels = torch.cat([torch.full((num_clips,), k) for k in range(len(FAMILIES))])
    elif kind == "rgb":
        sets = [make_dataset("shapes", "train", num_clips=num_clips, T=T, seed=seed)]
        labels = attribute_labels(sets[0])
    else:
        raise ValueError(f"kind must be one of {tuple(KINDS)}, got {kind!r}")
    y = torch.cat([clip_targets(ds) for ds in sets])
    if kind == "rgb":
        y = torch.cat([y, color_targets(sets[0])], dim=1)
    y = (y - y.mean(0)) / y.std(0).clamp(min=1e-6)  # standardized, so the regressions weigh the same
    return TensorDataset(torch.cat([ds.data for ds in sets]), labels, y)


def train_feature_net(net: VideoFeatureNet, steps: int, num_clips: int, batch_size: int = 32,
                      lr: float = 2e-3, device: torch.device | str | None = None, seed: int = 0) -> list[float]:
    """Train both heads: the label loss (cross-entropy for grey, binary cross-entropy per label for
    RGB) + squared error on the motion targets. The data follow from ``net.channels``.

    Seeded by ``seed`` (the shuffling) without changing the caller's random state.
    """
    kind = {c: k for k, c in KINDS.items()}.get(net.channels)
    if kind is None:
        raise ValueError(f"a feature net has 1 (grey) or 3 (RGB) channels, got {net.channels}")

    def loss_fn(model: VideoFeatureNet, batch: list[torch.Tensor]) -> torch.Tensor:
        clips, labels, target = batch
        logits, motion = model(clips.float() / 255.0)
        if kind == "grey":
            label_loss = F.cross_entropy(logits, labels)
        else:  # multi-label: one binary cross-entropy per label, averaged
            label_loss = F.binary_cross_entropy_with_logits(logits, labels)
        return label_loss + F.mse_loss(motion, target)

    with seeded(seed), torch.enable_grad():  # also when called under no_grad
        data = training_set(num_clips, kind=kind)
        loader = DataLoader(data, batch_size=batch_size, shuffle=True, drop_last=True,
                            generator=torch.Generator().manual_seed(seed))
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
        return fit(net, loss_fn, loader, steps, optimizer=opt, scheduler=sched, device=device,
                   desc=f"FVD-lite {kind} feature net")


def feature_net(kind: str = "grey", device: torch.device | str | None = None) -> VideoFeatureNet:
    """The trained feature net ``"grey"`` (balls, digits) or ``"rgb"`` (shapes), from the checkpoint cache.

    Trained on first use (about a minute each on 2 CPU cores) and cached as ``fvd_lite_<kind>``,
    keyed by every training hyperparameter. The caller's random state is left unchanged.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be 'grey' or 'rgb', got {kind!r} (the device is the second argument)")
    device = torch.device(device) if device is not None else get_device()
    steps = budget(full=600, quick=5)
    num_clips = budget(full=2000, quick=16) if kind == "grey" else budget(full=4000, quick=32)
    num_classes = len(FAMILIES) if kind == "grey" else len(RGB_LABELS)
    num_targets = 5 if kind == "grey" else 5 + 2 * len(COLORS)
    config = dict(kind=kind, steps=steps, num_clips=num_clips, lr=2e-3, batch_size=32, width=16,
                  feature_dim=64, num_classes=num_classes, num_targets=num_targets, seed=0)

    def train(model: VideoFeatureNet) -> dict:
        start = time.perf_counter()
        history = train_feature_net(model, steps, num_clips, batch_size=config["batch_size"], lr=config["lr"],
                                    device=device, seed=config["seed"])
        return {"history": history, "train_s": time.perf_counter() - start}

    with seeded(config["seed"]), torch.inference_mode(False), torch.enable_grad():  # the same initial weights
        net = VideoFeatureNet(KINDS[kind], config["width"], config["feature_dim"], num_classes=num_classes,
                              num_targets=num_targets)
        net = cached_train(net, f"fvd_lite_{kind}", train, config=config)
    return net.to(device).eval()


@torch.no_grad()
def video_features(net: VideoFeatureNet, clips: torch.Tensor, batch_size: int = 250) -> torch.Tensor:
    """Embed clips (N, T, C, H, W) in batches: → (N, feature_dim) on the CPU."""
    device = next(net.parameters()).device
    return torch.cat([net.features(c.to(device).float()).cpu() for c in clips.split(batch_size)])


def fvd_lite(real: torch.Tensor, fake: torch.Tensor, net: VideoFeatureNet | None = None) -> float:
    """Fréchet distance between Gaussians fitted to the features of two sets of clips (N, T, C, H, W).

    Without ``net``, grey clips (C = 1) use ``feature_net("grey")`` and RGB clips (C = 3)
    ``feature_net("rgb")``. Needs a few hundred clips per set for a stable covariance (the
    features have 64 dimensions); with few clips even two real sets are far apart (chapter 06).
    """
    for name, x in (("real", real), ("fake", fake)):
        if x.dim() != 5 or x.shape[2] not in KINDS.values():
            raise ValueError(f"fvd_lite expects clips (N, T, C, H, W) with C = 1 (grey) or 3 (RGB), "
                             f"got {name} {tuple(x.shape)}")
    if real.shape[2:] != fake.shape[2:]:
        raise ValueError(f"fvd_lite compares clips of one frame layout (C, H, W), "
                         f"got real {tuple(real.shape)} and fake {tuple(fake.shape)}")
    if net is None:
        net = feature_net("grey" if real.shape[2] == 1 else "rgb")
    mu1, s1 = gaussian_stats(video_features(net, real))
    mu2, s2 = gaussian_stats(video_features(net, fake))
    return frechet_distance(mu1, s1, mu2, s2)


def corrupt(clips: torch.Tensor, kind: str, amount: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Damage clips (B, T, C, H, W) for the sanity checks of a video metric; ``amount`` in [0, 1].

    - ``"shuffle"``: a random ``amount`` share of the frame positions (at least two) trade
      frames so that every chosen frame leaves its place: a derangement, one cycle through
      the chosen positions in random order (the same frames, in a wrong order);
    - ``"freeze"``: the last ``amount`` share of the frames repeat the frame before them;
    - ``"noise"``: Gaussian noise of standard deviation ``amount``, clipped to [0, 1].

    ``amount = 0`` returns the clips unchanged.
    """
    if clips.dim() != 5:
        raise ValueError(f"corrupt expects clips (B, T, C, H, W), got {tuple(clips.shape)}")
    if not 0.0 <= amount <= 1.0:
        raise ValueError(f"amount must be in [0, 1], got {amount}")
    B, T = clips.shape[:2]
    out = clips.clone()
    if kind == "shuffle":
        k = min(max(round(amount * T), 2), T) if amount > 0 else 0  # one frame alone cannot move
        for b in range(B):
            picked = torch.randperm(T, generator=generator)[:k]  # positions that trade frames, in random order
            # position picked[i] receives the frame of picked[i + 1] (cyclically): no frame stays in place
            out[b, picked] = clips[b, picked.roll(-1)]
    elif kind == "freeze":
        k = min(round(amount * T), T - 1)  # the first frame always stays
        if k:
            out[:, T - k:] = clips[:, T - k - 1:T - k]
    elif kind == "noise":
        noise = torch.randn(clips.shape, generator=generator)
        out = (clips + amount * noise.to(clips.device)).clamp(0.0, 1.0)
    else:
        raise ValueError(f"kind must be 'shuffle', 'freeze' or 'noise', got {kind!r}")
    return out
