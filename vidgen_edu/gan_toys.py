"""GANs in one and two dimensions: the experiments of chapter 08 that fit in a few seconds on a CPU.

Video GANs are hard to look inside; a GAN on the real line or the plane is not.
This module holds four small experiments, each a handful of functions:

1. **The optimal discriminator.** For a fixed generator with density ``q`` and
   data density ``p``, the best discriminator is ``D*(x) = p(x) / (p(x) + q(x))``
   (Goodfellow et al., 2014), and at ``D*`` the GAN value is ``2 · JS(p ‖ q) − log 4``.
   :func:`optimal_discriminator`, :func:`js_divergence_1d` and
   :func:`gan_value_at_optimum` compute both sides on 1-D Gaussians;
   :func:`train_discriminator_1d` shows a small network learning ``D*`` from samples.
2. **Saturation.** :func:`generator_gradients` differentiates each generator loss
   with respect to the critic's logit ``a = D(G(z))``: the minimax loss gives no
   gradient exactly when the generator is worst (``a → −∞``).
3. **Mode collapse.** :func:`train_toy_gan` trains a generator on a ring of
   Gaussians (:func:`ring_mixture`) and :func:`mode_coverage` counts the modes it
   reaches; :func:`spectral_norm_bound` reads the largest singular value that
   spectral normalization holds at 1.
4. **Wasserstein in 1-D.** :func:`wasserstein_1d`: sort both samples and compare.

A 1-D Gaussian is written as a pair ``(mean, std)``. Everything is seeded
explicitly (a ``seed`` or a ``torch.Generator``) and never touches the caller's
global random state, so the same call gives the same numbers on the CPU.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from .models.gan import d_bce_loss, d_hinge_loss, g_hinge_loss, g_minimax_loss, g_nonsaturating_loss
from .runtime import seeded

Gaussian1D = tuple[float, float]  # (mean, std)
GANLoss = Literal["hinge", "nonsaturating", "minimax"]
GAN_LOSSES: tuple[str, ...] = ("hinge", "nonsaturating", "minimax")


# -- 1. the optimal discriminator on 1-D Gaussians ------------------------------------------------
def _check_gaussian(g: Gaussian1D, name: str) -> tuple[float, float]:
    if len(g) != 2 or not float(g[1]) > 0:
        raise ValueError(f"{name} must be a Gaussian (mean, std) with std > 0, got {g!r}")
    return float(g[0]), float(g[1])


def _gaussian_log_pdf(x: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    # log N(x; μ, σ²) = −(x − μ)² / (2σ²) − log σ − ½ log 2π
    return -((x - mean) ** 2) / (2 * std**2) - math.log(std) - 0.5 * math.log(2 * math.pi)


def gaussian_pdf(x: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """The density of ``N(mean, std²)`` at every element of ``x`` (any shape, same shape out)."""
    if not std > 0:
        raise ValueError(f"gaussian_pdf: std must be > 0, got {std}")
    return _gaussian_log_pdf(x, float(mean), float(std)).exp()


def _log_optimal_discriminator(x: torch.Tensor, p: Gaussian1D, q: Gaussian1D) -> tuple[torch.Tensor, torch.Tensor]:
    """log D*(x) and log(1 − D*(x)), computed from log-densities so that neither underflows."""
    log_p = _gaussian_log_pdf(x, *_check_gaussian(p, "p"))
    log_q = _gaussian_log_pdf(x, *_check_gaussian(q, "q"))
    log_sum = torch.logaddexp(log_p, log_q)  # log(p + q)
    return log_p - log_sum, log_q - log_sum


def optimal_discriminator(x: torch.Tensor, p: Gaussian1D = (0.0, 1.0), q: Gaussian1D = (2.0, 1.0)) -> torch.Tensor:
    """The best discriminator between data ``p`` and generator ``q``: ``D*(x) = p(x) / (p(x) + q(x))``.

    ``x`` has any shape; the output has the same shape, values in ``[0, 1]``. For
    two Gaussians of equal std its logit ``log p(x) − log q(x)`` is linear in ``x``.
    """
    log_d, _ = _log_optimal_discriminator(x, p, q)
    return log_d.exp()


def _default_grid(p: Gaussian1D, q: Gaussian1D, points: int = 20001) -> torch.Tensor:
    """(points,) float64, covering both Gaussians to 12 standard deviations (the tails beyond are < 1e-30)."""
    (mp, sp), (mq, sq) = _check_gaussian(p, "p"), _check_gaussian(q, "q")
    lo, hi = min(mp - 12 * sp, mq - 12 * sq), max(mp + 12 * sp, mq + 12 * sq)
    return torch.linspace(lo, hi, points, dtype=torch.float64)


def js_divergence_1d(p: Gaussian1D, q: Gaussian1D, *, grid: torch.Tensor | None = None) -> float:
    """Jensen–Shannon divergence ``JS(p ‖ q)`` of two 1-D Gaussians, in nats, by the trapezoid rule.

    ``JS(p ‖ q) = ½ KL(p ‖ m) + ½ KL(q ‖ m)`` with ``m = (p + q) / 2``; it lies in
    ``[0, log 2]``. ``grid`` (a sorted 1-D tensor) defaults to 20 001 points
    covering both densities to 12 std.
    """
    x = (_default_grid(p, q) if grid is None else grid).double()  # (N,)
    log_p = _gaussian_log_pdf(x, *_check_gaussian(p, "p"))
    log_q = _gaussian_log_pdf(x, *_check_gaussian(q, "q"))
    # log m = log((p + q) / 2)
    log_m = torch.logaddexp(log_p, log_q) - math.log(2)
    # JS = ½ ∫ p log(p / m) dx + ½ ∫ q log(q / m) dx
    integrand = 0.5 * log_p.exp() * (log_p - log_m) + 0.5 * log_q.exp() * (log_q - log_m)
    return float(torch.trapezoid(integrand, x))


def gan_value_at_optimum(p: Gaussian1D, q: Gaussian1D, *, grid: torch.Tensor | None = None) -> float:
    """The GAN value at the optimal discriminator, ``V(D*) = E_p[log D*(x)] + E_q[log(1 − D*(x))]``, in nats.

    Integrated numerically on ``grid`` (as in :func:`js_divergence_1d`). Chapter 08
    derives ``V(D*) = 2 · JS(p ‖ q) − log 4``: ``−log 4`` when ``q = p``, ``0`` when
    they do not overlap.
    """
    x = (_default_grid(p, q) if grid is None else grid).double()  # (N,)
    log_d, log_not_d = _log_optimal_discriminator(x, p, q)
    p_x, q_x = gaussian_pdf(x, *p), gaussian_pdf(x, *q)
    # V(D*) = ∫ p(x) log D*(x) + q(x) log(1 − D*(x)) dx
    return float(torch.trapezoid(p_x * log_d + q_x * log_not_d, x))


def _mlp(sizes: list[int], *, spectral: bool = False, slope: float = 0.0) -> nn.Sequential:
    """Linear layers of the given sizes with (leaky) ReLUs between them; ``spectral`` wraps every Linear."""
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        linear = nn.Linear(fan_in, fan_out)
        layers.append(spectral_norm(linear) if spectral else linear)
        if i < len(sizes) - 2:
            layers.append(nn.LeakyReLU(slope) if slope > 0 else nn.ReLU())
    return nn.Sequential(*layers)


def train_discriminator_1d(p: Gaussian1D = (0.0, 1.0), q: Gaussian1D = (2.0, 1.0), *, steps: int = 300,
                           batch: int = 256, lr: float = 1e-2, seed: int = 0) -> nn.Module:
    """Train a small MLP (1 → 32 → 32 → 1, logits) to tell samples of ``p`` (real) from ``q`` (fake).

    Every step draws fresh samples of both and takes one Adam step on
    :func:`~vidgen_edu.models.gan.d_bce_loss`. The model maps ``(B, 1)`` to
    logits ``(B, 1)``; ``sigmoid`` of its output approaches :func:`optimal_discriminator`.
    """
    (mp, sp), (mq, sq) = _check_gaussian(p, "p"), _check_gaussian(q, "q")
    if steps < 0 or batch < 1:
        raise ValueError(f"train_discriminator_1d: need steps >= 0 and batch >= 1, got {steps}, {batch}")
    with seeded(seed):
        model = _mlp([1, 32, 32, 1])
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        real = mp + sp * torch.randn(batch, 1, generator=g)  # (B, 1) ~ p
        fake = mq + sq * torch.randn(batch, 1, generator=g)  # (B, 1) ~ q
        # max_D E_p[log σ(D(x))] + E_q[log(1 − σ(D(x)))]: minimize the BCE
        loss = d_bce_loss(model(real).squeeze(1), model(fake).squeeze(1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()


# -- 2. saturation of the minimax loss ------------------------------------------------------------
def generator_gradients(logits: torch.Tensor) -> dict[str, torch.Tensor]:
    """The derivative of each generator loss with respect to the critic's logit ``a = D(G(z))``.

    ``logits`` is ``(N,)``; each entry of the returned dict is ``(N,)``, by autograd:

    * ``"minimax"``: ``d/da log(1 − σ(a)) = −σ(a)``, which tends to 0 as ``a → −∞``:
      when the discriminator confidently rejects the fakes (early in training),
      the minimax generator gets no gradient.
    * ``"nonsaturating"``: ``d/da [−log σ(a)] = −(1 − σ(a))``, which tends to −1 as
      ``a → −∞``: the worst fakes get the strongest push.
    * ``"hinge"``: ``d/da [−a] = −1`` everywhere.

    The generator *descends* these losses, so a negative derivative raises ``a``.
    """
    if logits.dim() != 1:
        raise ValueError(f"generator_gradients: expected logits of shape (N,), got {tuple(logits.shape)}")
    losses = {"minimax": g_minimax_loss, "nonsaturating": g_nonsaturating_loss, "hinge": g_hinge_loss}
    out = {}
    for name, loss_fn in losses.items():
        a = logits.detach().clone().requires_grad_(True)  # (N,)
        # each loss is a mean over the batch; N · mean = Σ_i ℓ(a_i), whose gradient is ℓ'(a_i) per entry
        (grad,) = torch.autograd.grad(loss_fn(a) * a.numel(), a)
        out[name] = grad
    return out


# -- 3. mode collapse on a ring of Gaussians ------------------------------------------------------
def ring_centres(modes: int = 8, radius: float = 2.0) -> torch.Tensor:
    """The centres of ``modes`` Gaussians evenly spaced on a circle: ``(modes, 2)``."""
    if not isinstance(modes, int) or modes < 1:
        raise ValueError(f"ring_centres: modes must be an int >= 1, got {modes!r}")
    # c_k = r (cos 2πk/K, sin 2πk/K)
    angle = 2 * math.pi * torch.arange(modes) / modes  # (K,)
    return radius * torch.stack([angle.cos(), angle.sin()], dim=1)


def ring_mixture(n: int, modes: int = 8, radius: float = 2.0, std: float = 0.05,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` samples ``(n, 2)`` of an equal-weight mixture of ``N(c_k, std² I)``, ``c_k`` the :func:`ring_centres`."""
    if n < 0 or not std >= 0:
        raise ValueError(f"ring_mixture: need n >= 0 and std >= 0, got n={n}, std={std}")
    centres = ring_centres(modes, radius)  # (K, 2)
    k = torch.randint(modes, (n,), generator=generator)  # (n,): which mode
    return centres[k] + std * torch.randn(n, 2, generator=generator)


class ToyGenerator(nn.Module):
    """Noise ``(B, latent_dim)`` → points ``(B, 2)``: an MLP with ``depth`` hidden layers of ``width``."""

    def __init__(self, latent_dim: int = 2, width: int = 64, depth: int = 3) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.net = _mlp([latent_dim] + [width] * depth + [2])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)  # (B, 2)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` points ``(n, 2)`` from ``z ~ N(0, I)`` drawn with ``generator``."""
        z = torch.randn(n, self.latent_dim, generator=generator).to(next(self.parameters()).device)
        return self(z)


class ToyCritic(nn.Module):
    """Points ``(B, 2)`` → scores ``(B,)`` (logits): an MLP with leaky ReLUs.

    With ``spectral=True`` every Linear is wrapped in spectral normalization
    (Miyato et al., 2018): its weight is divided by its largest singular value,
    so each layer, and the whole critic, is at most 1-Lipschitz.
    """

    def __init__(self, width: int = 64, depth: int = 2, *, spectral: bool = False) -> None:
        super().__init__()
        self.spectral = spectral
        self.net = _mlp([2] + [width] * depth + [1], spectral=spectral, slope=0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)  # (B,)


@dataclass
class ToyRun:
    """The result of :func:`train_toy_gan`."""

    generator: ToyGenerator
    critic: ToyCritic
    d_losses: list[float]  # the critic's loss at every step
    g_losses: list[float]  # the generator's loss at every step
    snapshots: dict[int, torch.Tensor] = field(default_factory=dict)  # step → (n, 2) samples of a fixed latent
    seconds: float = 0.0  # wall-clock time of the training loop


def _losses(loss: str):
    if loss == "hinge":
        return d_hinge_loss, g_hinge_loss
    if loss == "nonsaturating":
        return d_bce_loss, g_nonsaturating_loss
    if loss == "minimax":
        return d_bce_loss, g_minimax_loss
    raise ValueError(f"unknown GAN loss {loss!r}; expected one of {', '.join(map(repr, GAN_LOSSES))}")


def train_toy_gan(loss: GANLoss = "hinge", spectral: bool = False, *, steps: int = 1000, batch: int = 256,
                  lr: float = 3e-3, betas: tuple[float, float] = (0.0, 0.99), width: int = 64,
                  latent_dim: int = 2, modes: int = 8, radius: float = 2.0, std: float = 0.05, seed: int = 0,
                  snapshots: tuple[int, ...] = (0, 250, 500, 1000), snapshot_size: int = 1000) -> ToyRun:
    """Train a :class:`ToyGenerator` against a :class:`ToyCritic` on :func:`ring_mixture` data.

    Each step is one critic step then one generator step (Adam, the same ``lr`` and
    ``betas`` for both), each on a fresh batch. ``loss`` picks the pair of losses:
    ``"hinge"`` (:func:`d_hinge_loss` / :func:`g_hinge_loss`), ``"nonsaturating"``
    or ``"minimax"`` (both with :func:`d_bce_loss`). ``snapshots`` lists the steps
    (0 = before training, ``steps`` = the end) at which the generator's samples of
    one fixed latent batch ``(snapshot_size, latent_dim)`` are kept.

    The defaults (1000 steps, width 64, Adam ``lr=3e-3``, ``betas=(0.0, 0.99)``)
    take a few seconds on one CPU thread. With the DCGAN optimizer
    (``lr=1e-3``, ``betas=(0.5, 0.999)``) the generator is still collapsed after
    1000 steps, its mass hopping from one mode to the next between snapshots;
    dropping the momentum (``beta1 = 0``) matters more here than the loss
    (chapter 08 measures it).
    """
    d_loss_fn, g_loss_fn = _losses(loss)
    if steps < 0 or batch < 1 or modes < 1:
        raise ValueError(f"train_toy_gan: need steps >= 0, batch >= 1, modes >= 1, got {steps}, {batch}, {modes}")
    with seeded(seed):
        gen = ToyGenerator(latent_dim, width)
        critic = ToyCritic(width, spectral=spectral)
    g = torch.Generator().manual_seed(seed)
    z_fixed = torch.randn(snapshot_size, latent_dim, generator=g)  # (n, latent_dim), the same at every snapshot
    opt_d = torch.optim.Adam(critic.parameters(), lr=lr, betas=betas)
    opt_g = torch.optim.Adam(gen.parameters(), lr=lr, betas=betas)
    run = ToyRun(gen, critic, [], [])

    def snap(step: int) -> None:
        if step in snapshots:
            with torch.no_grad():
                run.snapshots[step] = gen(z_fixed)

    start = time.perf_counter()
    snap(0)
    for step in range(1, steps + 1):
        # the critic: real points up, fake points down (the generator is held fixed: detach)
        real = ring_mixture(batch, modes, radius, std, generator=g)  # (B, 2)
        fake = gen(torch.randn(batch, latent_dim, generator=g)).detach()  # (B, 2)
        d_loss = d_loss_fn(critic(real), critic(fake))
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        # the generator: move its points where the critic now scores them higher
        fake = gen(torch.randn(batch, latent_dim, generator=g))  # (B, 2)
        g_loss = g_loss_fn(critic(fake))
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        run.d_losses.append(d_loss.item())
        run.g_losses.append(g_loss.item())
        snap(step)
    run.seconds = time.perf_counter() - start
    gen.eval()
    critic.eval()
    return run


def mode_coverage(samples: torch.Tensor, centres: torch.Tensor, std: float) -> tuple[int, float]:
    """How many modes ``samples`` reach, and how many of them land on a mode.

    ``samples`` ``(n, 2)``, ``centres`` ``(K, 2)``. A sample is *on* mode ``k`` if it
    lies within ``3 · std`` of ``c_k``. Returns ``(modes_hit, quality)``: the number
    of modes that hold at least 1% of the samples, and the fraction of samples on
    some mode (a generator that covers every mode with blurry points has many
    modes hit and a low quality; a collapsed one, the reverse).
    """
    if samples.dim() != 2 or centres.dim() != 2 or samples.shape[1] != centres.shape[1] or len(samples) == 0:
        raise ValueError(f"mode_coverage: expected samples (n, 2) with n >= 1 and centres (K, 2), "
                         f"got {tuple(samples.shape)} and {tuple(centres.shape)}")
    if not std > 0:
        raise ValueError(f"mode_coverage: std must be > 0, got {std}")
    near = torch.cdist(samples.double(), centres.double()) <= 3 * std  # (n, K)
    modes_hit = int((near.double().mean(0) >= 0.01).sum())
    quality = float(near.any(1).double().mean())
    return modes_hit, quality


def spectral_norm_bound(layer: nn.Module) -> float:
    """The largest singular value ``σ_max`` of a layer's effective weight (after any parametrization).

    For a convolution the weight ``(out, in, *kernel)`` is read as the matrix
    ``(out, in · ∏kernel)``, the matrix that spectral normalization divides by its
    ``σ_max`` (for a transposed convolution, ``(out, in · ∏kernel)`` after moving
    the output channels first). Reading the weight does not run a power iteration.
    """
    was_training = layer.training
    layer.eval()  # in eval mode a spectral_norm parametrization reuses its vectors u, v without updating them
    try:
        with torch.no_grad():
            w = getattr(layer, "weight", None)
    finally:
        layer.train(was_training)
    if not isinstance(w, torch.Tensor):
        raise ValueError(f"spectral_norm_bound: {type(layer).__name__} has no weight tensor")
    w = w.detach()
    if isinstance(layer, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
        w = w.transpose(0, 1)
    matrix = w.reshape(w.shape[0], -1).double() if w.dim() > 1 else w.double()[None]
    # σ_max(W) = ‖W‖₂, the operator 2-norm
    return float(torch.linalg.matrix_norm(matrix, ord=2))


# -- 4. Wasserstein distance in one dimension ----------------------------------------------------
def wasserstein_1d(a_samples: torch.Tensor, b_samples: torch.Tensor) -> torch.Tensor:
    """W₁ between the empirical distributions of two equal-size 1-D samples ``(n,)``: a scalar.

    In one dimension the optimal transport pairs the i-th smallest point of one
    sample with the i-th smallest of the other: ``W₁ = (1/n) Σ_i |a_(i) − b_(i)|``.
    """
    if a_samples.dim() != 1 or a_samples.shape != b_samples.shape or len(a_samples) == 0:
        raise ValueError(f"wasserstein_1d: expected two samples of the same shape (n,), n >= 1, "
                         f"got {tuple(a_samples.shape)} and {tuple(b_samples.shape)}")
    # W₁ = mean_i |a_(i) − b_(i)|, a_(i) the i-th order statistic
    return (a_samples.sort().values - b_samples.sort().values).abs().mean()


__all__ = [
    "GAN_LOSSES",
    "ToyCritic",
    "ToyGenerator",
    "ToyRun",
    "gan_value_at_optimum",
    "gaussian_pdf",
    "generator_gradients",
    "js_divergence_1d",
    "mode_coverage",
    "optimal_discriminator",
    "ring_centres",
    "ring_mixture",
    "spectral_norm_bound",
    "train_discriminator_1d",
    "train_toy_gan",
    "wasserstein_1d",
]
