"""FVD-lite: a Fréchet video distance in the feature space of a network trained here (chapter 06).

The Fréchet video distance (FVD, Unterthiner et al. 2018) embeds real and
generated clips with a pretrained video network (I3D), fits a Gaussian to each
set of embeddings and reports the Fréchet distance between the two Gaussians.
I3D cannot be downloaded in this book, so FVD-lite swaps in a small 3-D CNN,
:class:`VideoFeatureNet`, trained on the procedural data to tell the data
sets apart and to read off where the objects are and how they move
(:func:`clip_targets`). It is never shown a corrupted clip: the chapter checks
that it still ranks shuffled, frozen and noisy video as worse than real video
(:func:`corrupt` makes them).

Clips are ``(B, T, C, H, W)`` in [0, 1]; the feature net takes any ``T >= 2``
and was trained on ``T = 10``, the length of the predicted futures.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from .checkpoints import cached_train
from .data import make_dataset
from .metrics import frechet_distance, gaussian_stats
from .runtime import budget, get_device, seed_everything
from .train import fit

#: the (grey-scale) data sets the feature net knows; its classification head has one logit each
FAMILIES = ("balls", "digits")
#: clip length the feature net is trained on
CLIP_FRAMES = 10


class VideoFeatureNet(nn.Module):
    """A small 3-D CNN: clips (B, T, C, 32, 32) → features (B, feature_dim).

    Three 3×3×3 convolutions (each halves the frame, the last one also halves
    time), an average over time, then a linear map of the 4×4 grid of
    channels to the features. Two heads sit on the features during training: the
    data set (classification) and the motion summary of :func:`clip_targets`
    (regression). FVD-lite uses the features, not the heads.
    """

    def __init__(self, channels: int = 1, width: int = 16, feature_dim: int = 64, size: int = 32) -> None:
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
        self.family_head = nn.Linear(feature_dim, len(FAMILIES))
        self.motion_head = nn.Linear(feature_dim, 5)

    def features(self, clips: torch.Tensor) -> torch.Tensor:
        """The embedding FVD-lite uses: (B, T, C, H, W) → (B, feature_dim)."""
        if clips.dim() != 5 or clips.shape[2:] != (self.channels, self.size, self.size) or clips.shape[1] < 2:
            raise ValueError(f"VideoFeatureNet expects clips (B, T >= 2, {self.channels}, {self.size}, {self.size}), "
                             f"got {tuple(clips.shape)}")
        h = self.convs(clips.transpose(1, 2))  # Conv3d wants (B, C, T, H, W) → (B, 4w, T', 4, 4)
        h = h.mean(dim=2).flatten(1)  # average over time, keep the 4×4 layout: (B, 4w·16)
        return self.project(h)  # (B, feature_dim)

    def forward(self, clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Training heads: data-set logits (B, len(FAMILIES)) and motion summary (B, 5)."""
        f = F.relu(self.features(clips))
        return self.family_head(f), self.motion_head(f)


def clip_targets(dataset) -> torch.Tensor:
    """Motion summary of every clip of a ``VideoDataset``: (N, 5) = mean x, mean y, speed, mean vx, mean vy.

    Averages over objects and frames, in units of the frame size (positions) and
    pixels per frame (velocities); order-free, so the objects need no matching.
    Balls give their simulator states; digits their positions, whose
    frame-to-frame differences are the velocities.
    """
    if "states" in dataset.info:  # balls: (N, T, K, 4) = x, y, vx, vy
        states = dataset.info["states"].float()
        pos, vel = states[..., :2], states[..., 2:]
    elif "positions" in dataset.info:  # digits: (N, T, K, 2)
        pos = dataset.info["positions"].float()
        vel = pos[:, 1:] - pos[:, :-1]  # (N, T-1, K, 2)
    else:
        raise ValueError(f"no positions or states in the info of {dataset!r}")
    mean_pos = pos.mean(dim=(1, 2)) / dataset.size  # (N, 2)
    speed = vel.norm(dim=-1).mean(dim=(1, 2))  # (N,)
    mean_vel = vel.mean(dim=(1, 2))  # (N, 2)
    return torch.cat([mean_pos, speed[:, None], mean_vel], dim=1)


def training_set(num_clips: int, T: int = CLIP_FRAMES, seed: int = 1) -> TensorDataset:
    """(clips, family index, standardized motion targets) of ``num_clips`` training clips per family.

    Seed 1, so the feature net never sees the clips (seed 0) the chapters' models train on.
    """
    clips, families, targets = [], [], []
    for k, name in enumerate(FAMILIES):
        ds = make_dataset(name, "train", num_clips=num_clips, T=T, seed=seed)
        clips.append(ds.data)  # uint8 (n, T, 1, 32, 32)
        families.append(torch.full((num_clips,), k))
        targets.append(clip_targets(ds))
    y = torch.cat(targets)
    y = (y - y.mean(0)) / y.std(0)  # standardized, so the five regressions weigh the same
    return TensorDataset(torch.cat(clips), torch.cat(families), y)


def train_feature_net(net: VideoFeatureNet, steps: int, num_clips: int, batch_size: int = 32,
                      lr: float = 2e-3, device: torch.device | str | None = None, seed: int = 0) -> list[float]:
    """Train both heads: cross-entropy on the data set + squared error on the motion summary."""
    gen = seed_everything(seed)
    loader = DataLoader(training_set(num_clips), batch_size=batch_size, shuffle=True, drop_last=True, generator=gen)

    def loss_fn(model: VideoFeatureNet, batch: list[torch.Tensor]) -> torch.Tensor:
        clips, family, target = batch
        logits, motion = model(clips.float() / 255.0)
        return F.cross_entropy(logits, family) + F.mse_loss(motion, target)

    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    return fit(net, loss_fn, loader, steps, optimizer=opt, device=device, callback=lambda *_: sched.step(),
               every=1, desc="FVD-lite feature net")


def feature_net(device: torch.device | str | None = None) -> VideoFeatureNet:
    """The trained feature net, from the checkpoint cache (trained on first use: about a minute on 2 CPU cores)."""
    device = torch.device(device) if device is not None else get_device()
    steps, num_clips = budget(full=600, quick=5), budget(full=2000, quick=16)
    seed_everything(0)  # the initial weights too: the same net whoever trains it first
    net = cached_train(VideoFeatureNet(), "fvd_lite_features",
                       lambda m: train_feature_net(m, steps, num_clips, device=device))
    return net.to(device).eval()


@torch.no_grad()
def video_features(net: VideoFeatureNet, clips: torch.Tensor, batch_size: int = 250) -> torch.Tensor:
    """Embed clips (N, T, C, H, W) in batches: → (N, feature_dim) on the CPU."""
    device = next(net.parameters()).device
    return torch.cat([net.features(c.to(device).float()).cpu() for c in clips.split(batch_size)])


def fvd_lite(real: torch.Tensor, fake: torch.Tensor, net: VideoFeatureNet | None = None) -> float:
    """Fréchet distance between Gaussians fitted to the features of two sets of clips (N, T, C, H, W).

    Needs a few hundred clips per set for a stable covariance (the features have 64
    dimensions); with few clips even two real sets are far apart (chapter 06).
    """
    net = feature_net() if net is None else net
    mu1, s1 = gaussian_stats(video_features(net, real))
    mu2, s2 = gaussian_stats(video_features(net, fake))
    return frechet_distance(mu1, s1, mu2, s2)


def corrupt(clips: torch.Tensor, kind: str, amount: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Damage clips (B, T, C, H, W) for the sanity checks of a video metric; ``amount`` in [0, 1].

    - ``"shuffle"``: a random ``amount`` share of the frame positions swap their frames
      (the same frames, in a wrong order);
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
        k = round(amount * T)
        for b in range(B):
            picked = torch.randperm(T, generator=generator)[:k]  # positions that trade frames
            out[b, picked] = clips[b, picked[torch.randperm(k, generator=generator)]]
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
