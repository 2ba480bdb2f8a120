"""KL divergences and the pieces of the (β-)ELBO, in nats (chapter 03 derives them).

Conventions, used by every function here:

* A batch of posterior parameters ``mu``, ``logvar`` has shape ``(B, *latent)``
  (usually ``(B, D)``); ``logvar`` is the log of the *variance*, ``log σ²``.
* KL terms and negative log-likelihoods are **summed over the latent / data
  dimensions** and returned **per sample**, shape ``(B,)``. Averaging over the
  batch is the caller's (or :func:`elbo_loss`'s) job, so that "nats per frame"
  keeps its meaning whatever the batch size.
* Everything stays finite for ``logvar`` in ``[-30, 30]`` in float32 and
  float64: variances only ever appear as differences of log-variances inside
  ``exp``.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F

Likelihood = Literal["bernoulli", "gaussian"]
Reduction = Literal["mean", "sum", "none"]


def _check_pair(mu: torch.Tensor, logvar: torch.Tensor, what: str) -> None:
    if mu.shape != logvar.shape:
        raise ValueError(
            f"{what}: mu and logvar must have the same shape (B, *latent), "
            f"got {tuple(mu.shape)} and {tuple(logvar.shape)}"
        )
    if mu.dim() < 2:
        raise ValueError(
            f"{what}: expected mu, logvar of shape (B, *latent), e.g. (B, D), got {tuple(mu.shape)}"
        )


def _sum_per_sample(t: torch.Tensor) -> torch.Tensor:
    """Sum every dimension but the first: (B, ...) -> (B,)."""
    return t.flatten(1).sum(dim=1)


def kl_normal_std(mu: torch.Tensor, logvar: torch.Tensor, *, per_dim: bool = False) -> torch.Tensor:
    """KL( N(mu, diag σ²) ‖ N(0, I) ) per sample, in nats.

    Args:
        mu, logvar: ``(B, *latent)``; ``logvar = log σ²``.
        per_dim: return the ``(B, *latent)`` terms instead of their sum
            (to count active units or apply free bits).

    Returns:
        ``(B,)`` (or ``(B, *latent)`` with ``per_dim=True``).
    """
    _check_pair(mu, logvar, "kl_normal_std")
    # KL_j = ½ ( μ_j² + σ_j² − 1 − log σ_j² )
    terms = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)
    return terms if per_dim else _sum_per_sample(terms)


def kl_normal(
    mu_q: torch.Tensor,
    logvar_q: torch.Tensor,
    mu_p: torch.Tensor,
    logvar_p: torch.Tensor,
    *,
    per_dim: bool = False,
) -> torch.Tensor:
    """KL( N(mu_q, diag σ_q²) ‖ N(mu_p, diag σ_p²) ) per sample, in nats.

    ``mu_q``, ``logvar_q`` are ``(B, *latent)``; the prior parameters ``mu_p``,
    ``logvar_p`` must broadcast to that shape (``(B, *latent)`` for a learned,
    per-sample prior, or ``(*latent,)`` for one prior shared by the batch).

    Returns:
        ``(B,)`` (or ``(B, *latent)`` with ``per_dim=True``).
    """
    _check_pair(mu_q, logvar_q, "kl_normal (q)")
    try:
        shape = torch.broadcast_shapes(mu_q.shape, logvar_q.shape, mu_p.shape, logvar_p.shape)
    except RuntimeError as err:
        raise ValueError(
            f"kl_normal: prior parameters of shapes {tuple(mu_p.shape)}, {tuple(logvar_p.shape)} "
            f"do not broadcast to the posterior shape (B, *latent) = {tuple(mu_q.shape)}"
        ) from err
    if shape != mu_q.shape:
        raise ValueError(
            f"kl_normal: prior parameters must broadcast to the posterior shape (B, *latent) = "
            f"{tuple(mu_q.shape)}, got {tuple(mu_p.shape)}, {tuple(logvar_p.shape)}"
        )
    # KL_j = ½ ( log σ_p² − log σ_q² + (σ_q² + (μ_q − μ_p)²) / σ_p² − 1 )
    # written with differences of log-variances so exp never overflows for |logvar| ≤ 30
    var_ratio = (logvar_q - logvar_p).exp()  # σ_q² / σ_p²
    mahalanobis = (mu_q - mu_p).pow(2) * (-logvar_p).exp()  # (μ_q − μ_p)² / σ_p²
    terms = 0.5 * (var_ratio + mahalanobis - 1.0 - (logvar_q - logvar_p))
    return terms if per_dim else _sum_per_sample(terms)


def reconstruction_nll(
    recon: torch.Tensor,
    x: torch.Tensor,
    likelihood: Likelihood = "bernoulli",
    *,
    sigma: float = 1.0,
    logits: bool = False,
) -> torch.Tensor:
    """−log p(x | z) per sample, summed over the data dimensions, in nats: ``(B, ...) -> (B,)``.

    * ``"bernoulli"``: binary cross-entropy, each pixel a Bernoulli with mean
      ``recon`` (or ``sigmoid(recon)`` with ``logits=True``). For grey values
      in ``(0, 1)`` this is the conventional BCE bound, not a normalized
      density (the *continuous Bernoulli* fixes that; chapter 03 discusses it).
    * ``"gaussian"``: ``N(x; recon, sigma² I)`` including the ``log(2π σ²)``
      constant, so the value is a true negative log-density. Up to that
      constant and the factor ``1 / (2 sigma²)`` it is the summed squared error.
    """
    if recon.shape != x.shape:
        raise ValueError(
            f"reconstruction_nll: recon and x must have the same shape (B, ...), "
            f"got {tuple(recon.shape)} and {tuple(x.shape)}"
        )
    if x.dim() < 2:
        raise ValueError(f"reconstruction_nll: expected a batch (B, ...), got shape {tuple(x.shape)}")
    if likelihood == "bernoulli":
        if logits:
            nll = F.binary_cross_entropy_with_logits(recon, x, reduction="none")
        else:
            # F.binary_cross_entropy clamps log(p) at −100, so a saturated sigmoid stays finite
            nll = F.binary_cross_entropy(recon, x, reduction="none")
    elif likelihood == "gaussian":
        if sigma <= 0:
            raise ValueError(f"reconstruction_nll: sigma must be > 0, got {sigma}")
        mean = torch.sigmoid(recon) if logits else recon
        # −log N(x; m, σ²) = (x − m)² / (2σ²) + ½ log(2π σ²)
        nll = (x - mean).pow(2) / (2 * sigma**2) + 0.5 * math.log(2 * math.pi * sigma**2)
    else:
        raise ValueError(f"likelihood must be 'bernoulli' or 'gaussian', got {likelihood!r}")
    return _sum_per_sample(nll)


def free_bits_kl(kl_per_dim: torch.Tensor, lam: float) -> torch.Tensor:
    """The free-bits KL of Kingma et al. (2016): ``Σ_j max(λ, mean_batch KL_j)``, a scalar.

    ``kl_per_dim`` is ``(B, *latent)`` (from ``per_dim=True``). Each latent
    dimension gets ``lam`` nats "for free": below that, its KL has no gradient,
    so the optimizer has no reason to switch the unit off.
    """
    if kl_per_dim.dim() < 2:
        raise ValueError(f"free_bits_kl: expected per-dimension KL of shape (B, *latent), got {tuple(kl_per_dim.shape)}")
    if lam < 0:
        raise ValueError(f"free_bits_kl: lam must be >= 0, got {lam}")
    per_dim_mean = kl_per_dim.mean(dim=0)  # (*latent,)
    return per_dim_mean.clamp(min=lam).sum()


class ELBOTerms(NamedTuple):
    """The loss and its two parts, reduced the same way (see :func:`elbo_loss`)."""

    loss: torch.Tensor  # recon + β·kl   (the negative ELBO when β = 1 and free_bits = 0)
    recon: torch.Tensor  # −E_q[log p(x|z)], one-sample estimate
    kl: torch.Tensor  # KL(q(z|x) ‖ p(z)), exact


def elbo_loss(
    recon: torch.Tensor,
    x: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    *,
    beta: float = 1.0,
    likelihood: Likelihood = "bernoulli",
    sigma: float = 1.0,
    logits: bool = False,
    free_bits: float = 0.0,
    prior: tuple[torch.Tensor, torch.Tensor] | None = None,
    reduction: Reduction = "mean",
) -> ELBOTerms:
    """The β-VAE loss ``−E_q[log p(x|z)] + β KL(q(z|x) ‖ p(z))`` (β = 1: the negative ELBO).

    Args:
        recon: decoder output for ``z ~ q(z|x)``, same shape as ``x`` (``(B, ...)``).
        x: the data, ``(B, ...)``, values in ``[0, 1]`` for the Bernoulli likelihood.
        mu, logvar: posterior parameters ``(B, *latent)``.
        beta: weight of the KL term (β-VAE; KL warm-up ramps it from 0 to 1).
        likelihood, sigma, logits: see :func:`reconstruction_nll`.
        free_bits: if ``> 0``, replace the KL by :func:`free_bits_kl` (needs ``reduction="mean"``).
        prior: ``(mu_p, logvar_p)`` of a diagonal Gaussian prior; default ``N(0, I)``.
        reduction: each term is first **summed over data / latent dimensions**
            (nats per sample); then ``"mean"`` averages over the batch (the
            default: nats per frame), ``"sum"`` sums, ``"none"`` keeps ``(B,)``.

    Returns:
        ``ELBOTerms(loss, recon, kl)``, each a scalar (or ``(B,)`` for ``"none"``).
    """
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    if x.shape[0] != mu.shape[0]:
        raise ValueError(
            f"elbo_loss: x (B, ...) and mu (B, *latent) must share the batch size, "
            f"got {tuple(x.shape)} and {tuple(mu.shape)}"
        )
    rec = reconstruction_nll(recon, x, likelihood, sigma=sigma, logits=logits)  # (B,)
    if prior is None:
        kl_dims = kl_normal_std(mu, logvar, per_dim=True)  # (B, *latent)
    else:
        kl_dims = kl_normal(mu, logvar, prior[0], prior[1], per_dim=True)
    kl = _sum_per_sample(kl_dims)  # (B,)

    if free_bits > 0:
        if reduction != "mean":
            raise ValueError("free_bits needs reduction='mean' (it is defined on the batch-averaged KL)")
        kl_train = free_bits_kl(kl_dims, free_bits)
        rec_m, kl_m = rec.mean(), kl.mean()
        return ELBOTerms(rec_m + beta * kl_train, rec_m, kl_m)

    # −ELBO_β(x) = −log p(x|z) + β KL(q(z|x) ‖ p(z)),   z ~ q(z|x)
    loss = rec + beta * kl
    if reduction == "mean":
        return ELBOTerms(loss.mean(), rec.mean(), kl.mean())
    if reduction == "sum":
        return ELBOTerms(loss.sum(), rec.sum(), kl.sum())
    return ELBOTerms(loss, rec, kl)


__all__ = [
    "ELBOTerms",
    "elbo_loss",
    "free_bits_kl",
    "kl_normal",
    "kl_normal_std",
    "reconstruction_nll",
]
