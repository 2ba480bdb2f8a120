"""Tests of vidgen_edu.gan_toys: closed forms, the JS identity, saturation, mode counting, spectral norm."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.distributions import Normal
from torch.nn.utils.parametrizations import spectral_norm

from vidgen_edu.gan_toys import (
    GAN_LOSSES,
    ToyCritic,
    gan_value_at_optimum,
    gaussian_pdf,
    generator_gradients,
    js_divergence_1d,
    mode_coverage,
    optimal_discriminator,
    ring_centres,
    ring_mixture,
    spectral_norm_bound,
    train_discriminator_1d,
    train_toy_gan,
    wasserstein_1d,
)

PAIRS = [((0.0, 1.0), (2.0, 1.0)), ((0.0, 1.0), (0.0, 3.0)), ((-1.0, 0.5), (4.0, 2.0)), ((1.0, 1.0), (1.0, 1.0))]


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small nets: one thread is fastest and the same on every machine
    yield
    torch.set_num_threads(threads)


# -- 1. the optimal discriminator ------------------------------------------------------------------
def test_gaussian_pdf_matches_torch():
    x = torch.linspace(-5, 5, 101, dtype=torch.float64)
    torch.testing.assert_close(gaussian_pdf(x, 0.5, 1.5), Normal(0.5, 1.5).log_prob(x).exp())
    with pytest.raises(ValueError, match="std must be > 0"):
        gaussian_pdf(x, 0.0, 0.0)


def test_optimal_discriminator_closed_form():
    x = torch.linspace(-3, 5, 81, dtype=torch.float64)
    # N(0, 1) against N(2, 1): log p − log q = −x²/2 + (x − 2)²/2 = 2 − 2x, so D* = σ(2 − 2x)
    torch.testing.assert_close(optimal_discriminator(x, (0.0, 1.0), (2.0, 1.0)), torch.sigmoid(2 - 2 * x))
    # q = p: the discriminator can do no better than a coin
    torch.testing.assert_close(optimal_discriminator(x, (1.0, 2.0), (1.0, 2.0)), torch.full_like(x, 0.5))
    # far in the tails both densities underflow, D* must not be NaN
    far = torch.tensor([-1e3, 1e3], dtype=torch.float64)
    assert torch.isfinite(optimal_discriminator(far, (0.0, 1.0), (2.0, 1.0))).all()
    with pytest.raises(ValueError, match="std > 0"):
        optimal_discriminator(x, (0.0, -1.0), (2.0, 1.0))


@pytest.mark.parametrize("p, q", PAIRS)
def test_js_identity(p, q):
    js = js_divergence_1d(p, q)
    assert 0.0 <= js <= math.log(2) + 1e-12
    assert js == pytest.approx(js_divergence_1d(q, p), abs=1e-10)  # symmetric
    # V(D*) = 2 JS(p ‖ q) − log 4
    assert gan_value_at_optimum(p, q) == pytest.approx(2 * js - math.log(4), abs=1e-8)


def test_js_limits():
    assert js_divergence_1d((0.0, 1.0), (0.0, 1.0)) == pytest.approx(0.0, abs=1e-10)
    # no overlap: JS = log 2, and the GAN value reaches its top, 0
    assert js_divergence_1d((0.0, 1.0), (100.0, 1.0)) == pytest.approx(math.log(2), abs=1e-8)
    assert gan_value_at_optimum((0.0, 1.0), (100.0, 1.0)) == pytest.approx(0.0, abs=1e-8)


def test_gan_value_by_monte_carlo():
    p, q = (0.0, 1.0), (2.0, 1.0)
    g = torch.Generator().manual_seed(0)
    xp = torch.randn(200_000, generator=g, dtype=torch.float64)  # ~ p
    xq = 2 + torch.randn(200_000, generator=g, dtype=torch.float64)  # ~ q
    d_p, d_q = optimal_discriminator(xp, p, q), optimal_discriminator(xq, p, q)
    mc = float(d_p.log().mean() + (1 - d_q).log().mean())
    assert mc == pytest.approx(gan_value_at_optimum(p, q), abs=0.01)


def test_trained_discriminator_approaches_optimum():
    p, q = (0.0, 1.0), (2.0, 1.0)
    model = train_discriminator_1d(p, q, seed=0)
    x = torch.linspace(-3, 5, 401)  # (N,)
    with torch.no_grad():
        learned = torch.sigmoid(model(x[:, None])).squeeze(1)  # (N,)
    assert (learned - optimal_discriminator(x, p, q)).abs().mean() < 0.05


def test_trained_discriminator_is_deterministic():
    x = torch.linspace(-3, 5, 9)[:, None]
    a = train_discriminator_1d(steps=20, seed=3)(x)
    b = train_discriminator_1d(steps=20, seed=3)(x)
    torch.testing.assert_close(a, b, rtol=0, atol=0)


# -- 2. saturation ---------------------------------------------------------------------------------
def test_generator_gradients_closed_forms():
    a = torch.linspace(-10, 10, 41, dtype=torch.float64)
    grads = generator_gradients(a)
    assert set(grads) == {"minimax", "nonsaturating", "hinge"}
    # d/da log(1 − σ(a)) = −σ(a);  d/da [−log σ(a)] = −(1 − σ(a));  d/da [−a] = −1
    torch.testing.assert_close(grads["minimax"], -torch.sigmoid(a))
    torch.testing.assert_close(grads["nonsaturating"], -(1 - torch.sigmoid(a)))
    torch.testing.assert_close(grads["hinge"], -torch.ones_like(a))


def test_minimax_saturates_where_nonsaturating_does_not():
    grads = generator_gradients(torch.tensor([-10.0]))  # D confidently rejects the fake
    assert abs(grads["minimax"].item()) < 1e-4
    assert grads["nonsaturating"].item() == pytest.approx(-1.0, abs=1e-4)
    with pytest.raises(ValueError, match=r"\(N,\)"):
        generator_gradients(torch.zeros(2, 3))


# -- 3. mode collapse ------------------------------------------------------------------------------
def test_ring_centres_and_mixture():
    centres = ring_centres(8, 2.0)
    assert centres.shape == (8, 2)
    torch.testing.assert_close(centres.norm(dim=1), torch.full((8,), 2.0))
    a = ring_mixture(500, generator=torch.Generator().manual_seed(1))
    b = ring_mixture(500, generator=torch.Generator().manual_seed(1))
    assert a.shape == (500, 2)
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_mode_coverage_on_hand_made_samples():
    centres = ring_centres(8, 2.0)
    one = centres[3].expand(100, 2)  # every sample on mode 3
    assert mode_coverage(one, centres, 0.05) == (1, 1.0)
    every = centres.repeat(10, 1)  # (80, 2): ten samples on each mode
    assert mode_coverage(every, centres, 0.05) == (8, 1.0)
    nowhere = torch.zeros(50, 2)  # the middle of the ring, far from every mode
    assert mode_coverage(nowhere, centres, 0.05) == (0, 0.0)
    # half on a mode, half nowhere: one mode, quality ½
    assert mode_coverage(torch.cat([one[:50], nowhere]), centres, 0.05) == (1, 0.5)
    # a mode holding under 1% of the samples is not hit
    few = torch.cat([centres[0].expand(999, 2), centres[1:2]])  # 1 sample of 1000 on mode 1
    assert mode_coverage(few, centres, 0.05)[0] == 1


def test_mode_coverage_of_the_data_itself():
    std = 0.05
    data = ring_mixture(20_000, std=std, generator=torch.Generator().manual_seed(0))
    hit, quality = mode_coverage(data, ring_centres(8, 2.0), std)
    assert hit == 8
    # a 2-D Gaussian puts 1 − exp(−3²/2) of its mass within 3σ of its centre
    assert quality == pytest.approx(1 - math.exp(-4.5), abs=0.005)


@pytest.mark.parametrize("loss", GAN_LOSSES)
@pytest.mark.parametrize("spectral", [False, True])
def test_train_toy_gan_runs(loss, spectral):
    run = train_toy_gan(loss, spectral, steps=5, batch=32, snapshots=(0, 5), snapshot_size=16)
    assert len(run.d_losses) == len(run.g_losses) == 5
    assert all(math.isfinite(v) for v in run.d_losses + run.g_losses)
    assert sorted(run.snapshots) == [0, 5]
    assert run.snapshots[5].shape == (16, 2)


def test_train_toy_gan_is_deterministic_and_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    kw = dict(steps=30, batch=64, snapshots=(0, 30), snapshot_size=64)
    a = train_toy_gan("nonsaturating", seed=7, **kw)
    b = train_toy_gan("nonsaturating", seed=7, **kw)
    c = train_toy_gan("nonsaturating", seed=8, **kw)
    assert torch.equal(torch.random.get_rng_state(), state)
    for step in (0, 30):
        torch.testing.assert_close(a.snapshots[step], b.snapshots[step], rtol=0, atol=0)
    assert a.d_losses == b.d_losses and a.g_losses == b.g_losses
    assert not torch.equal(a.snapshots[30], c.snapshots[30])


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="unknown GAN loss 'wasserstein'"):
        train_toy_gan("wasserstein", steps=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="modes must be an int >= 1"):
        ring_centres(0)
    with pytest.raises(ValueError, match="modes must be an int >= 1"):
        ring_mixture(10, modes=0)
    with pytest.raises(ValueError, match="modes >= 1"):
        train_toy_gan("hinge", modes=0, steps=1)
    with pytest.raises(ValueError, match=r"samples \(n, 2\)"):
        mode_coverage(torch.zeros(10), ring_centres(8), 0.05)
    with pytest.raises(ValueError, match="std must be > 0"):
        mode_coverage(torch.zeros(10, 2), ring_centres(8), 0.0)


@pytest.mark.parametrize(
    "make",
    [lambda: nn.Linear(16, 32), lambda: nn.Conv2d(3, 8, 3), lambda: nn.ConvTranspose2d(8, 4, 4)],
    ids=["linear", "conv", "conv-transpose"],
)
def test_spectral_norm_bound_is_one(make):
    with torch.random.fork_rng():
        torch.manual_seed(0)
        layer = make()
        with torch.no_grad():
            layer.weight.mul_(5.0)  # far from 1 before normalization
        raw = spectral_norm_bound(layer)
        wrapped = spectral_norm(layer)
        x = torch.randn(2, 16) if isinstance(layer, nn.Linear) else torch.randn(2, layer.in_channels, 8, 8)
    assert raw > 2.0
    wrapped.train()
    for _ in range(20):  # one power iteration per forward pass
        wrapped(x)
    assert spectral_norm_bound(wrapped) == pytest.approx(1.0, abs=1e-2)
    assert wrapped.training  # reading the bound leaves the mode as it was


def test_spectral_norm_bound_of_a_plain_layer_and_reading_is_pure():
    layer = nn.Linear(5, 7)
    top = float(torch.linalg.svdvals(layer.weight.detach()).max())
    assert spectral_norm_bound(layer) == pytest.approx(top, rel=1e-6)
    wrapped = spectral_norm(nn.Linear(5, 7))
    u = wrapped.parametrizations.weight[0]._u.clone()
    spectral_norm_bound(wrapped)
    assert torch.equal(wrapped.parametrizations.weight[0]._u, u)  # no power iteration ran
    with pytest.raises(ValueError, match="no weight"):
        spectral_norm_bound(nn.ReLU())


def test_spectral_critic_layers_are_normalized():
    with torch.random.fork_rng():  # the same initial weights whatever ran before (power iteration speed varies)
        torch.manual_seed(0)
        critic = ToyCritic(width=32, spectral=True)
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
    for _ in range(30):
        critic(x)
    linears = [m for m in critic.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 3
    assert all(spectral_norm_bound(m) == pytest.approx(1.0, abs=1e-2) for m in linears)


# -- 4. Wasserstein in 1-D -------------------------------------------------------------------------
def test_wasserstein_1d_of_a_shift():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(20_000, generator=g, dtype=torch.float64)
    # the same sample shifted: exactly the shift
    assert float(wasserstein_1d(a, a + 0.7)) == pytest.approx(0.7, abs=1e-12)
    # an independent sample of N(0.5, 1): W₁(N(0, 1), N(0.5, 1)) = 0.5, up to sampling error
    b = 0.5 + torch.randn(20_000, generator=g, dtype=torch.float64)
    assert float(wasserstein_1d(a, b)) == pytest.approx(0.5, abs=0.03)
    scipy_stats = pytest.importorskip("scipy.stats")
    assert float(wasserstein_1d(a, b)) == pytest.approx(scipy_stats.wasserstein_distance(a.numpy(), b.numpy()))
    with pytest.raises(ValueError, match="same shape"):
        wasserstein_1d(a, b[:10])
