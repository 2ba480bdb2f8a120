"""Chapter 03's rows: the convolutional VAE on single frames, and the mean-frame baseline.

The recipe of ``book/03_vae.md`` ("A convolutional VAE", "How good is it?"): frames
of 2,000 training and 200 test clips of 10 frames (default seeds); ConvVAE with a 16-D
latent (2-D on the single ball), width 16, 1,500 steps of batches of 64, Adam at 1e-3,
Bernoulli likelihood. Scores: −ELBO in nats per held-out frame (one sample of z,
``torch.manual_seed(0)``) and the PSNR of the reconstruction decoded at z = μ.
"""

from __future__ import annotations

import time

import torch
from torch.utils.data import DataLoader

from vidgen_edu.bench import Metrics, register
from vidgen_edu.data import make_dataset
from vidgen_edu.losses import elbo_loss, reconstruction_nll
from vidgen_edu.metrics import psnr
from vidgen_edu.models.vae import ConvVAE
from vidgen_edu.runtime import budget, seed_everything
from vidgen_edu.train import fit

TASK = "frame VAE"
T = 10
#: dataset name in the leaderboard → (make_dataset arguments, latent dimension of its ConvVAE)
SETS = {
    "digits-1": (dict(name="digits", num_digits=1), 16),
    "balls": (dict(name="balls"), 16),
    "one-ball": (dict(name="balls", num_balls=1), 2),
}


def frames(dataset: str, split: str) -> torch.Tensor:
    """All frames of the chapter's clips of `split`, (N·T, 1, 32, 32)."""
    num_clips = budget(full=2000, quick=40) if split == "train" else budget(full=200, quick=10)
    return make_dataset(**SETS[dataset][0], split=split, num_clips=num_clips, T=T).clips().flatten(0, 1)


def vae_loss(model, x):
    recon, mu, logvar = model(x)
    return elbo_loss(recon, x, mu, logvar).loss


@torch.no_grad()
def evaluate(model: ConvVAE, test: torch.Tensor, device: torch.device, batch: int = 1000) -> Metrics:
    """Mean over frames of the −ELBO (nats) and of the PSNR (dB) of the reconstruction at z = μ."""
    model.eval()
    torch.manual_seed(0)  # the one-sample ELBO estimate draws z
    neg_elbo, scores = [], []
    for x in test.split(batch):
        x = x.to(device)
        recon, mu, logvar = model(x)
        neg_elbo.append(elbo_loss(recon, x, mu, logvar, reduction="none").loss)
        scores.append(psnr(model.decode(mu).reshape(x.shape), x))
    return {"neg_elbo_nats": torch.cat(neg_elbo).mean().item(), "psnr_db": torch.cat(scores).mean().item()}


def conv_vae(dataset: str, device: torch.device) -> Metrics:
    train = frames(dataset, "train")
    steps = budget(full=1500, quick=5)
    seed_everything(0)
    model = ConvVAE(in_channels=1, latent_dim=SETS[dataset][1], base_channels=16)
    loader = DataLoader(train, batch_size=64, shuffle=True, drop_last=True, generator=torch.Generator().manual_seed(0))
    start = time.perf_counter()
    fit(model, vae_loss, loader, steps, lr=1e-3, device=device, desc=f"ConvVAE on {dataset}")
    seconds = time.perf_counter() - start
    params = sum(p.numel() for p in model.parameters())
    return {**evaluate(model, frames(dataset, "test"), device), "train_s": seconds, "params": params}


def mean_frame(dataset: str, device: torch.device) -> Metrics:
    """Every test frame predicted as the mean training frame: the Bernoulli NLL (KL = 0) and the PSNR."""
    test = frames(dataset, "test")
    p = frames(dataset, "train").mean(dim=0, keepdim=True).clamp(1e-6, 1 - 1e-6).expand_as(test)  # Bernoulli means
    return {"neg_elbo_nats": reconstruction_nll(p, test).mean().item(), "psnr_db": psnr(p, test).mean().item(),
            "train_s": 0.0, "params": 0}


for _name in SETS:
    register("conv-vae", dataset=_name, task=TASK, chapter="03")(lambda device, n=_name: conv_vae(n, device))
    register("mean-frame", dataset=_name, task=TASK, chapter="03")(lambda device, n=_name: mean_frame(n, device))
