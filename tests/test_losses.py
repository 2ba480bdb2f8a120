"""Tests of vidgen_edu.losses against torch.distributions and by Monte Carlo."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Bernoulli, Independent, Normal, kl_divergence

from vidgen_edu.losses import (
    elbo_loss,
    free_bits_kl,
    kl_normal,
    kl_normal_std,
    reconstruction_nll,
)

SHAPES = [(1, 1), (4, 3), (7, 20), (3, 2, 5), (2, 4, 3, 3)]


def _torch_kl(mu_q, logvar_q, mu_p, logvar_p):
    """Reference: torch.distributions, summed over every dim but the batch."""
    q = Independent(Normal(mu_q, (0.5 * logvar_q).exp()), mu_q.dim() - 1)
    p = Independent(Normal(mu_p, (0.5 * logvar_p).exp()), mu_p.dim() - 1)
    return kl_divergence(q, p)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_kl_normal_std_matches_torch(shape, dtype):
    g = torch.Generator().manual_seed(sum(shape))
    mu = 2 * torch.randn(shape, generator=g, dtype=dtype)
    logvar = 3 * torch.randn(shape, generator=g, dtype=dtype)
    ours = kl_normal_std(mu, logvar)
    ref = _torch_kl(mu, logvar, torch.zeros_like(mu), torch.zeros_like(logvar))
    assert ours.shape == (shape[0],)
    assert ours.dtype == dtype
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_kl_normal_matches_torch(shape, dtype):
    g = torch.Generator().manual_seed(100 + sum(shape))
    mu_q, mu_p = (2 * torch.randn(shape, generator=g, dtype=dtype) for _ in range(2))
    lv_q, lv_p = (3 * torch.randn(shape, generator=g, dtype=dtype) for _ in range(2))
    ours = kl_normal(mu_q, lv_q, mu_p, lv_p)
    ref = _torch_kl(mu_q, lv_q, mu_p, lv_p)
    assert ours.shape == (shape[0],)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_extreme_logvars_are_finite_and_correct(dtype):
    # every pair of extreme log-variances in [-30, 30], for q and for p
    grid = torch.tensor([-30.0, -10.0, 0.0, 10.0, 30.0], dtype=dtype)
    lv_q, lv_p = torch.meshgrid(grid, grid, indexing="ij")
    lv_q, lv_p = lv_q.reshape(-1, 1), lv_p.reshape(-1, 1)  # (25, 1)
    mu_q = torch.full_like(lv_q, 1.5)
    mu_p = torch.full_like(lv_q, -0.5)
    ours = kl_normal(mu_q, lv_q, mu_p, lv_p)
    assert torch.isfinite(ours).all()
    # reference in float64 from the formula with exact exp/log values
    lq, lp, mq, mp = (t.double() for t in (lv_q, lv_p, mu_q, mu_p))
    ref = 0.5 * (lp - lq + (lq.exp() + (mq - mp) ** 2) / lp.exp() - 1)
    torch.testing.assert_close(ours.double(), ref.sum(1), rtol=1e-5, atol=1e-4)

    std = kl_normal_std(mu_q, lv_q)
    assert torch.isfinite(std).all()
    torch.testing.assert_close(std, kl_normal(mu_q, lv_q, torch.zeros_like(mu_q), torch.zeros_like(lv_q)))


def test_kl_std_equals_general_kl_with_standard_prior():
    g = torch.Generator().manual_seed(0)
    mu, lv = torch.randn(5, 8, generator=g), torch.randn(5, 8, generator=g)
    torch.testing.assert_close(kl_normal_std(mu, lv), kl_normal(mu, lv, torch.zeros(8), torch.zeros(8)))


def test_kl_properties():
    g = torch.Generator().manual_seed(1)
    mu, lv = torch.randn(64, 4, generator=g), torch.randn(64, 4, generator=g)
    # zero iff equal
    torch.testing.assert_close(kl_normal(mu, lv, mu, lv), torch.zeros(64))
    assert torch.allclose(kl_normal_std(torch.zeros(3, 4), torch.zeros(3, 4)), torch.zeros(3))
    # non-negative
    mu2, lv2 = torch.randn(64, 4, generator=g), torch.randn(64, 4, generator=g)
    assert (kl_normal(mu, lv, mu2, lv2) >= 0).all()
    # asymmetric
    assert not torch.allclose(kl_normal(mu, lv, mu2, lv2), kl_normal(mu2, lv2, mu, lv))


def test_kl_monte_carlo_agrees():
    g = torch.Generator().manual_seed(2)
    mu_q, lv_q = torch.tensor([[0.3, -1.0]]), torch.tensor([[-0.5, 0.4]])
    mu_p, lv_p = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.2, -0.3]])
    q = Normal(mu_q, (0.5 * lv_q).exp())
    p = Normal(mu_p, (0.5 * lv_p).exp())
    z = q.mean + q.stddev * torch.randn(200_000, 2, generator=g)
    samples = (q.log_prob(z) - p.log_prob(z)).sum(1)  # log q(z)/p(z)
    est, se = samples.mean(), samples.std() / math.sqrt(len(samples))
    closed = kl_normal(mu_q, lv_q, mu_p, lv_p)[0]
    assert abs(est - closed) < 4 * se


def test_per_dim_and_broadcast_prior():
    g = torch.Generator().manual_seed(3)
    mu, lv = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g)
    per_dim = kl_normal_std(mu, lv, per_dim=True)
    assert per_dim.shape == (6, 5)
    torch.testing.assert_close(per_dim.sum(1), kl_normal_std(mu, lv))
    mp, lp = torch.randn(5, generator=g), torch.randn(5, generator=g)
    torch.testing.assert_close(kl_normal(mu, lv, mp, lp), kl_normal(mu, lv, mp.expand(6, 5), lp.expand(6, 5)))


@pytest.mark.parametrize(
    "mu_shape, lv_shape",
    [((4,), (4,)), ((4, 3), (4, 2)), ((4, 3), (3, 4))],
)
def test_kl_bad_shapes_raise(mu_shape, lv_shape):
    with pytest.raises(ValueError, match=r"\(B, \*latent\)"):
        kl_normal_std(torch.zeros(mu_shape), torch.zeros(lv_shape))


def test_kl_normal_bad_prior_shape_raises():
    with pytest.raises(ValueError, match=r"\(B, \*latent\)"):
        kl_normal(torch.zeros(4, 3), torch.zeros(4, 3), torch.zeros(5), torch.zeros(5))
    with pytest.raises(ValueError, match=r"\(B, \*latent\)"):
        kl_normal(torch.zeros(1, 3), torch.zeros(1, 3), torch.zeros(4, 3), torch.zeros(4, 3))


def test_bernoulli_nll_matches_torch():
    g = torch.Generator().manual_seed(4)
    x = (torch.rand(3, 1, 4, 4, generator=g) > 0.5).float()
    logits = torch.randn(3, 1, 4, 4, generator=g)
    ref = -Independent(Bernoulli(logits=logits), 3).log_prob(x)
    torch.testing.assert_close(reconstruction_nll(logits, x, "bernoulli", logits=True), ref)
    torch.testing.assert_close(reconstruction_nll(torch.sigmoid(logits), x, "bernoulli"), ref, rtol=1e-4, atol=1e-4)


def test_gaussian_nll_matches_torch():
    g = torch.Generator().manual_seed(5)
    x, m = torch.rand(3, 10, generator=g), torch.rand(3, 10, generator=g)
    for sigma in (0.1, 1.0):
        ref = -Independent(Normal(m, sigma), 1).log_prob(x)
        torch.testing.assert_close(reconstruction_nll(m, x, "gaussian", sigma=sigma), ref)


def test_reconstruction_bad_inputs():
    with pytest.raises(ValueError, match="same shape"):
        reconstruction_nll(torch.rand(2, 3), torch.rand(2, 4))
    with pytest.raises(ValueError, match="likelihood"):
        reconstruction_nll(torch.rand(2, 3), torch.rand(2, 3), "poisson")
    with pytest.raises(ValueError, match="sigma"):
        reconstruction_nll(torch.rand(2, 3), torch.rand(2, 3), "gaussian", sigma=0.0)


def test_elbo_loss_reductions_and_beta():
    g = torch.Generator().manual_seed(6)
    x = torch.rand(5, 1, 8, 8, generator=g)
    recon = torch.rand(5, 1, 8, 8, generator=g).clamp(0.01, 0.99)
    mu, lv = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    per = elbo_loss(recon, x, mu, lv, reduction="none")
    rec = reconstruction_nll(recon, x)
    kl = kl_normal_std(mu, lv)
    torch.testing.assert_close(per.loss, rec + kl)
    assert per.loss.shape == (5,)
    mean = elbo_loss(recon, x, mu, lv)
    torch.testing.assert_close(mean.loss, (rec + kl).mean())
    torch.testing.assert_close(elbo_loss(recon, x, mu, lv, reduction="sum").loss, (rec + kl).sum())
    b = elbo_loss(recon, x, mu, lv, beta=4.0)
    torch.testing.assert_close(b.loss, (rec + 4 * kl).mean())
    torch.testing.assert_close(b.kl, kl.mean())
    # a learned prior equal to N(0, I) changes nothing
    prior = (torch.zeros(3), torch.zeros(3))
    torch.testing.assert_close(elbo_loss(recon, x, mu, lv, prior=prior).loss, mean.loss)
    with pytest.raises(ValueError, match="batch size"):
        elbo_loss(recon, x, mu[:4], lv[:4])
    with pytest.raises(ValueError, match="reduction"):
        elbo_loss(recon, x, mu, lv, reduction="avg")


def test_free_bits():
    kl_dims = torch.tensor([[0.0, 2.0, 0.1], [0.2, 4.0, 0.1]])  # batch means 0.1, 3.0, 0.1
    torch.testing.assert_close(free_bits_kl(kl_dims, 0.5), torch.tensor(0.5 + 3.0 + 0.5))
    torch.testing.assert_close(free_bits_kl(kl_dims, 0.0), kl_dims.mean(0).sum())
    # below the threshold a dimension gets no gradient, above it does
    mu = torch.tensor([[0.1, 3.0], [0.1, 3.0]], requires_grad=True)
    lv = torch.zeros(2, 2)
    x = torch.full((2, 4), 0.5)
    out = elbo_loss(x.clone(), x, mu, lv, free_bits=0.5)
    out.loss.backward()
    assert mu.grad[:, 0].abs().sum() == 0
    assert mu.grad[:, 1].abs().sum() > 0
    with pytest.raises(ValueError, match="reduction"):
        elbo_loss(x, x, mu, lv, free_bits=0.5, reduction="none")
