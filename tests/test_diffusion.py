"""Tests of vidgen_edu.models.diffusion and the flow_matching_toy recipe (chapter 10).

Forward processes against their closed forms, the exact velocity of the 2-D mixture against
Monte Carlo, the orders of the ODE samplers, exact ends of DDPM/DDIM on a point mass, guidance
and the conversions, bad input, and a short training run.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from vidgen_edu import recipes
from vidgen_edu.data.base import single_threaded
from vidgen_edu.models.diffusion import (
    DiffusionSchedule,
    GaussianMixture2D,
    ToyVelocityNet,
    circle_means,
    euler,
    flow_path,
    flow_score,
    flow_target,
    flow_to_data,
    flow_to_noise,
    guided,
    heun,
    sample_t,
)
from vidgen_edu.runtime import Budget

#: a mixture whose mean is not 0 and whose components differ, for the moment checks
SKEWED = GaussianMixture2D(means=((0.0, 0.0), (2.0, 1.0), (4.0, -1.0)), std=0.5)


@pytest.fixture(autouse=True)
def _one_thread():
    with single_threaded():  # small tensors: one thread is fastest and the same on every machine
        yield


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# -- DDPM forward process ------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_schedule_is_a_decreasing_signal_fraction(kind):
    s = DiffusionSchedule(kind=kind)
    a = s.alpha_bar
    assert a.shape == s.betas.shape == s.alphas.shape == (300,)
    assert ((s.betas > 0) & (s.betas < 1)).all()
    assert ((a > 0) & (a < 1)).all() and (a[1:] < a[:-1]).all()
    torch.testing.assert_close(a, torch.cumprod(s.alphas.double(), 0).float())
    snr = s.snr(torch.arange(300))
    torch.testing.assert_close(snr, (a.double() / (1 - a.double())).float(), rtol=1e-3, atol=0)  # ᾱ ≈ 1: float32
    assert (snr[1:] < snr[:-1]).all()
    assert a[-1] < 1e-3  # x_{T−1} is almost pure noise


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_q_sample_marginal_matches_the_chain_of_single_steps(kind):
    """Running q(x_t | x_{t−1}) step by step gives mean √ᾱ_t x0 and variance 1 − ᾱ_t, as q_sample does."""
    s = DiffusionSchedule(kind=kind)
    g = _gen(0)
    n = 100_000
    x0 = torch.tensor([1.0, -2.0])
    x = x0.expand(n, 2).clone()
    checks = {0: None, 50: None, 150: None, 299: None}
    for t, beta in enumerate(s.betas.tolist()):
        # x_t = √(1 − β_t) x_{t−1} + √β_t ε
        x = math.sqrt(1 - beta) * x + math.sqrt(beta) * torch.randn(n, 2, generator=g)
        if t in checks:
            checks[t] = x.clone()
    for t, xt in checks.items():
        a = float(s.alpha_bar[t])
        direct = s.q_sample(x0.expand(n, 2), torch.full((n,), t), torch.randn(n, 2, generator=g))
        for sample in (xt, direct):
            torch.testing.assert_close(sample.mean(0), math.sqrt(a) * x0, atol=0.015, rtol=0)
            torch.testing.assert_close(sample.var(0), torch.full((2,), 1 - a), atol=0.015, rtol=0.02)


# -- the flow path on the mixture ----------------------------------------------------------------
def test_mixture_samples_and_log_prob():
    x, labels = SKEWED.sample(50_000, generator=_gen(1))
    assert x.shape == (50_000, 2) and labels.shape == (50_000,) and x.dtype == torch.float32
    torch.testing.assert_close(torch.bincount(labels, minlength=3) / 50_000, torch.full((3,), 1 / 3), atol=0.01,
                               rtol=0)
    torch.testing.assert_close(x.mean(0), SKEWED.mu().mean(0), atol=0.03, rtol=0)
    a, _ = SKEWED.sample(10, generator=_gen(2))
    b, _ = SKEWED.sample(10, generator=_gen(2))
    assert torch.equal(a, b)
    # log_prob is the log-density of the mixture: the same as torch.distributions, and it integrates to 1
    dist = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(torch.ones(3)),
        torch.distributions.Independent(torch.distributions.Normal(SKEWED.mu(), SKEWED.std), 1))
    torch.testing.assert_close(SKEWED.log_prob(x[:100]), dist.log_prob(x[:100]))
    h = 0.05
    grid = torch.stack(torch.meshgrid(torch.arange(-4, 8, h), torch.arange(-5, 5, h), indexing="ij"), -1)
    assert float(SKEWED.log_prob(grid.reshape(-1, 2).double()).exp().sum() * h * h) == pytest.approx(1, abs=1e-3)


@pytest.mark.parametrize("t", [0.0, 0.2, 0.5, 0.8, 1.0])
def test_flow_path_marginal_moments(t):
    """x_t = (1 − t) x0 + t x1 has mean t E[x1] and variance (1 − t)² + t² (σ² + Var μ)."""
    g = _gen(3)
    n = 200_000
    x1, _ = SKEWED.sample(n, generator=g)
    xt = flow_path(torch.randn(n, 2, generator=g), x1, t)
    mu = SKEWED.mu()
    var_means = mu.var(0, unbiased=False)  # (2,): per coordinate, equal weights
    torch.testing.assert_close(xt.mean(0), t * mu.mean(0), atol=0.015, rtol=0)
    torch.testing.assert_close(xt.var(0), (1 - t) ** 2 + t**2 * (SKEWED.std**2 + var_means), atol=0.02, rtol=0.02)
    # a per-sample t broadcasts over the other dimensions
    x0, x1 = torch.randn(4, 3, 5), torch.randn(4, 3, 5)
    tt = torch.tensor([0.0, 0.25, 0.5, 1.0])
    out = flow_path(x0, x1, tt)
    for i in range(4):
        torch.testing.assert_close(out[i], (1 - tt[i]) * x0[i] + tt[i] * x1[i])
    assert torch.equal(flow_target(x0, x1), x1 - x0)


def _mc_velocity(mix: GaussianMixture2D, x: torch.Tensor, t: float, n: int = 400_000, label: int | None = None,
                 seed: int = 4) -> torch.Tensor:
    """E[x1 − x0 | x_t = x] by importance weights: x1 from the data, weight p(x_t = x | x1) = N(x; t x1, (1 − t)²I)."""
    x1, labels = mix.sample(n, generator=_gen(seed))
    x1 = x1.double() if label is None else x1[labels == label].double()  # (N, 2)
    out = []
    for p in x.double():
        # x0 = (x − t x1)/(1 − t): log N(x0; 0, I) up to a constant that cancels
        logw = -((p - t * x1) ** 2).sum(-1) / (2 * (1 - t) ** 2)
        w = torch.softmax(logw, 0)
        assert 1 / (w**2).sum() > 1000, "too few effective samples for this point"
        # x1 − x0 = (x1 − x)/(1 − t)
        out.append((w[:, None] * (x1 - p) / (1 - t)).sum(0))
    return torch.stack(out)


@pytest.mark.parametrize("t", [0.3, 0.6, 0.8])
def test_marginal_velocity_matches_monte_carlo(t):
    mix = GaussianMixture2D()
    g = _gen(23)
    # query points drawn from p_t itself (where the density, and so the Monte Carlo estimate, is not tiny)
    x1, _ = mix.sample(4, generator=g)
    points = flow_path(torch.randn(4, 2, generator=g), x1, t).double()  # (4, 2)
    exact = mix.marginal_velocity(points, t)
    torch.testing.assert_close(exact, _mc_velocity(mix, points, t), atol=0.05, rtol=0.02)
    # the class-conditional field: the flow to component 3 alone, at points of its own path
    x1 = mix.mu()[3] + mix.std * torch.randn(4, 2, generator=g)
    points = flow_path(torch.randn(4, 2, generator=g), x1, t).double()
    lab = torch.full((4,), 3)
    torch.testing.assert_close(mix.marginal_velocity(points, t, lab), _mc_velocity(mix, points, t, label=3),
                               atol=0.05, rtol=0.02)


def test_marginal_velocity_ends():
    mix = GaussianMixture2D()
    x = torch.randn(10, 2, generator=_gen(5), dtype=torch.float64)
    # t = 0: x_t = x0 is independent of x1, so v = E[x1] − x
    torch.testing.assert_close(mix.marginal_velocity(x, 0.0), mix.mu(x).mean(0) - x)
    # t = 1: x_t = x1 is independent of x0, so v = x − E[x0] = x
    torch.testing.assert_close(mix.marginal_velocity(x, 1.0), x)


def test_point_mass_velocity_points_at_the_data():
    mix = GaussianMixture2D(means=((1.0, 2.0),), std=1e-4)
    x = torch.randn(8, 2, generator=_gen(6))
    t = torch.linspace(0.0, 0.9, 8)
    v = mix.marginal_velocity(x, t)
    target = torch.tensor([1.0, 2.0])
    # one Euler step to t = 1 lands on the mean, and v points from x to it
    torch.testing.assert_close(flow_to_data(x, t, v), target.expand(8, 2), atol=1e-3, rtol=0)
    cos = torch.nn.functional.cosine_similarity(v, target - x, dim=1)
    assert (cos > 0.9999).all()


# -- ODE samplers ------------------------------------------------------------------------------------
def test_euler_and_heun_orders_on_a_linear_ode():
    """dx/dt = a x from 0 to 1 gives x0 e^a; errors shrink like 1/steps (Euler) and 1/steps² (Heun)."""
    a = -1.5
    x0 = torch.tensor([[1.0], [-2.0]], dtype=torch.float64)  # (2, 1)

    def vel(x, t):
        assert t.shape == (2,) and t.dtype == x.dtype
        return a * x

    true = x0 * math.exp(a)
    for method, order in ((euler, 1.0), (heun, 2.0)):
        errs = [float((method(vel, x0, n) - true).abs().max()) for n in (10, 20, 40, 80)]
        observed = [math.log2(e1 / e2) for e1, e2 in zip(errs, errs[1:])]
        assert all(o == pytest.approx(order, abs=0.1) for o in observed), (method.__name__, observed)
    # backwards in time undoes it
    torch.testing.assert_close(heun(vel, true, 200, t0=1.0, t1=0.0), x0, atol=1e-4, rtol=0)


def test_trajectory_holds_every_state():
    x = torch.randn(3, 2, 4)
    out, traj = euler(lambda x, t: -x, x, 5, trajectory=True)
    assert traj.shape == (6, 3, 2, 4)
    assert torch.equal(traj[0], x) and torch.equal(traj[-1], out)
    seen = []
    heun(lambda x, t: seen.append(t[0].item()) or torch.zeros_like(x), x, 4)
    # predictor at t_k, corrector at t_{k+1}: the last evaluation is at t1 itself
    assert seen == pytest.approx([0.0, 0.25, 0.25, 0.5, 0.5, 0.75, 0.75, 1.0])


def test_exact_velocity_transports_noise_to_the_mixture():
    mix = GaussianMixture2D()
    n = 4000
    with torch.no_grad():
        x = heun(mix.marginal_velocity, torch.randn(n, 2, generator=_gen(7)), 200)
    dist, nearest = mix.nearest(x)
    # the distance of a 2-D Gaussian point to its centre is Rayleigh: mean σ √(π/2)
    assert float(dist.mean()) == pytest.approx(mix.std * math.sqrt(math.pi / 2), rel=0.05)
    torch.testing.assert_close(torch.bincount(nearest, minlength=8) / n, torch.full((8,), 1 / 8), atol=0.025,
                               rtol=0)
    # the conditional field to one Gaussian N(μ, σ²I) is the affine map z → μ + σ z, and Heun is exact on it
    lab = torch.full((500,), 5)
    z = torch.randn(500, 2, generator=_gen(8), dtype=torch.float64)
    with torch.no_grad():
        y = heun(lambda x, t: mix.marginal_velocity(x, t, lab), z, 50)
    torch.testing.assert_close(y, mix.mu(z)[5] + mix.std * z, atol=1e-3, rtol=0)


def test_sample_t():
    u = sample_t(100_000, _gen(9), logit_normal=False)
    ln = sample_t(100_000, _gen(9))
    assert u.shape == ln.shape == (100_000,)
    assert ((u >= 0) & (u < 1)).all() and ((ln > 0) & (ln < 1)).all()
    assert float(u.mean()) == pytest.approx(0.5, abs=0.01) and float(u.var()) == pytest.approx(1 / 12, abs=0.002)
    assert float(ln.median()) == pytest.approx(0.5, abs=0.01)
    assert float(ln.var()) < 1 / 12  # logit-normal: more weight in the middle than uniform
    assert torch.equal(ln, sample_t(100_000, _gen(9)))


# -- guidance and conversions ------------------------------------------------------------------------
def test_guidance_ends_are_exact():
    c, u = torch.randn(64, 2, generator=_gen(10)), 10 * torch.randn(64, 2, generator=_gen(11))
    assert torch.equal(guided(c, u, 1.0), c)
    assert torch.equal(guided(c, u, 0.0), u)
    torch.testing.assert_close(guided(c, u, 3.0), u + 3 * (c - u))


def test_conversions_recover_noise_data_and_score():
    g = _gen(12)
    x0, x1 = torch.randn(16, 2, generator=g), 3 * torch.randn(16, 2, generator=g)
    t = torch.rand(16, generator=g)
    xt, v = flow_path(x0, x1, t), flow_target(x0, x1)
    torch.testing.assert_close(flow_to_noise(xt, t, v), x0)
    torch.testing.assert_close(flow_to_data(xt, t, v), x1)
    # a single Gaussian N(μ, σ²I): x_t ~ N(tμ, s_t² I), whose score is −(x − tμ)/s_t²
    mix = GaussianMixture2D(means=((1.5, -0.5),), std=0.4)
    x = torch.randn(16, 2, generator=g, dtype=torch.float64)
    t = torch.linspace(0.0, 0.95, 16, dtype=torch.float64)
    s2 = ((1 - t) ** 2 + t**2 * 0.16)[:, None]
    score = -(x - t[:, None] * mix.mu(x)) / s2
    torch.testing.assert_close(flow_score(x, t, mix.marginal_velocity(x, t)), score)


# -- DDPM / DDIM samplers ----------------------------------------------------------------------------
def _point_mass_eps(s: DiffusionSchedule, x0: torch.Tensor):
    a = s.alpha_bar

    def eps_fn(x, t):
        assert t.dtype == torch.long and t.shape == (x.shape[0],)
        at = a[t].reshape(-1, *[1] * (x.dim() - 1))
        # ε = (x_t − √ᾱ_t x0) / √(1 − ᾱ_t): the exact noise when the data is the single point x0
        return (x - at.sqrt() * x0) / (1 - at).sqrt()

    return eps_fn


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_ddpm_and_ddim_end_on_a_point_mass(kind):
    s = DiffusionSchedule(kind=kind)
    x0 = torch.tensor([[0.5, -1.0, 2.0]]).expand(6, 3)
    eps_fn = _point_mass_eps(s, x0)
    torch.testing.assert_close(s.ddpm_sample(eps_fn, (6, 3), _gen(13)), x0, atol=1e-4, rtol=0)
    for steps, eta in ((50, 0.0), (1, 0.0), (300, 0.0), (20, 1.0)):
        torch.testing.assert_close(s.ddim_sample(eps_fn, (6, 3), steps, _gen(14), eta=eta), x0, atol=1e-4, rtol=0)
    # the last ancestral step adds no noise
    xt = torch.randn(6, 3, generator=_gen(15))
    a = torch.randn(6, 3, generator=_gen(16))
    assert torch.equal(s.ddpm_step(a, xt, 0, _gen(1)), s.ddpm_step(a, xt, 0, _gen(2)))
    assert not torch.equal(s.ddpm_step(a, xt, 1, _gen(1)), s.ddpm_step(a, xt, 1, _gen(2)))


def test_ddpm_and_ddim_sample_a_gaussian():
    """Data N(m, c²): the exact ε is linear in x_t; both samplers return (about) N(m, c²)."""
    s = DiffusionSchedule()
    m, c = 1.0, 0.5
    a = s.alpha_bar

    def eps_fn(x, t):
        at = a[t][:, None]
        # E[ε | x_t] = √(1 − ᾱ) (x_t − √ᾱ m) / (ᾱ c² + 1 − ᾱ)
        return (1 - at).sqrt() * (x - at.sqrt() * m) / (at * c**2 + 1 - at)

    # (DDIM's error is its discretization: std 0.43, 0.47, 0.49, 0.50 with 20, 50, 100, 300 steps)
    for x in (s.ddpm_sample(eps_fn, (20_000, 1), _gen(17)), s.ddim_sample(eps_fn, (20_000, 1), 100, _gen(18))):
        assert float(x.mean()) == pytest.approx(m, abs=0.02)
        assert float(x.std()) == pytest.approx(c, rel=0.05)


def test_samplers_are_reproducible_and_ddim_draws_noise_once():
    s = DiffusionSchedule(steps=50)

    def eps_fn(x, t):
        return 0.5 * x + 0.01 * t[:, None]

    a, b, other = (s.ddpm_sample(eps_fn, (4, 2), _gen(k)) for k in (19, 19, 20))
    assert torch.equal(a, b) and not torch.equal(a, other)
    g = _gen(21)
    first = s.ddim_sample(eps_fn, (4, 2), 10, g)
    after = g.get_state()
    ref = _gen(21)
    torch.randn(4, 2, generator=ref)  # η = 0: the starting noise is the only random draw
    assert torch.equal(after, ref.get_state())
    assert torch.equal(first, s.ddim_sample(eps_fn, (4, 2), 10, _gen(21)))


# -- bad input -----------------------------------------------------------------------------------------
def test_bad_inputs_raise():
    s = DiffusionSchedule()
    x = torch.zeros(4, 2)
    with pytest.raises(ValueError, match="unknown schedule kind 'quadratic'"):
        DiffusionSchedule(kind="quadratic")
    with pytest.raises(ValueError, match="steps must be a positive int"):
        DiffusionSchedule(steps=0)
    with pytest.raises(ValueError, match="beta_start <= beta_end"):
        DiffusionSchedule(beta_start=0.1, beta_end=0.01)
    with pytest.raises(ValueError, match=r"t must lie in \[0, 299\]"):
        s.q_sample(x, torch.tensor([0, 1, 2, 300]), x)
    with pytest.raises(ValueError, match="integer steps"):
        s.q_sample(x, torch.full((4,), 0.5), x)
    with pytest.raises(ValueError, match=r"shape \(B,\)"):
        s.q_sample(x, torch.zeros(3, dtype=torch.long), x)
    with pytest.raises(ValueError, match="noise must have the shape of x0"):
        s.q_sample(x, torch.zeros(4, dtype=torch.long), torch.zeros(4, 3))
    with pytest.raises(ValueError, match="eps must have the shape of x_t"):
        s.ddpm_step(torch.zeros(4, 3), x, 5)
    with pytest.raises(ValueError, match=r"integer steps in \[0, 299\]"):
        s.snr(300)
    with pytest.raises(ValueError, match=r"steps must be an int in \[1, 300\]"):
        s.ddim_sample(lambda x, t: x, (4, 2), 301)
    with pytest.raises(ValueError, match="eta must be in"):
        s.ddim_sample(lambda x, t: x, (4, 2), 10, eta=2.0)
    with pytest.raises(ValueError, match="steps must be a positive int"):
        euler(lambda x, t: x, x, 0)
    with pytest.raises(ValueError, match="velocity must return the shape of x"):
        heun(lambda x, t: x[:, :1], x, 3)
    with pytest.raises(ValueError, match="same shape"):
        flow_path(x, torch.zeros(4, 3), 0.5)
    with pytest.raises(ValueError, match=r"t must be a number or have shape \(B,\)"):
        flow_path(x, x, torch.zeros(3))
    with pytest.raises(ValueError, match="same shape"):
        guided(x, torch.zeros(4, 3), 2.0)
    with pytest.raises(ValueError, match="std must be > 0"):
        GaussianMixture2D(std=0.0)
    with pytest.raises(ValueError, match="pairs"):
        GaussianMixture2D(means=((1.0, 2.0, 3.0),))
    with pytest.raises(ValueError, match=r"x must have shape \(B, 2\)"):
        GaussianMixture2D().marginal_velocity(torch.zeros(4, 3), 0.5)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 7\]"):
        GaussianMixture2D().marginal_velocity(x, 0.5, torch.tensor([0, 1, 2, 8]))
    with pytest.raises(ValueError, match="unconditional"):
        ToyVelocityNet()(x, torch.zeros(4), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"x of shape \(B, 2\)"):
        ToyVelocityNet()(torch.zeros(4, 3), torch.zeros(4))


# -- the network and the recipe ------------------------------------------------------------------------
def test_toy_velocity_net_shapes_and_null_class():
    torch.manual_seed(0)
    net = ToyVelocityNet(num_classes=8)
    x, t = torch.randn(5, 2), torch.rand(5)
    label = torch.tensor([0, 1, 2, 7, 8])  # 8 = the null class
    out = net(x, t, label)
    assert out.shape == (5, 2) and out.requires_grad
    torch.testing.assert_close(net(x, t), net(x, t, torch.full((5,), 8)))  # None means the null class
    assert not torch.allclose(net(x, t, torch.zeros(5, dtype=torch.long)), net(x, t))
    assert net(x, 0.5).shape == (5, 2)  # a number broadcasts over the batch
    assert ToyVelocityNet()(x, t).shape == (5, 2)
    assert circle_means(4, 2.0)[1] == pytest.approx((0.0, 2.0))


def test_recipe_batches_and_loss():
    r = recipes.get("flow_matching_toy")
    assert r.chapter == "10" and r.mixture == GaussianMixture2D()
    big = dataclasses.replace(r, batch_size=20_000)
    batch = next(big.batches())
    assert batch["x0"].shape == batch["x1"].shape == (20_000, 2) and batch["t"].shape == batch["label"].shape
    dropped = float((batch["label"] == r.modes).float().mean())
    assert dropped == pytest.approx(r.label_dropout, abs=0.01)
    assert torch.equal(next(r.batches())["x1"], next(r.batches())["x1"])  # the same seed, the same data
    # the exact velocity (conditional, or marginal for the null class) beats the untrained net: what is
    # left is the irreducible variance of x1 − x0 given x_t, the loss floor of flow matching
    mix, small = r.mixture, next(r.batches())

    def exact(x, t, label):
        cond = mix.marginal_velocity(x, t, label.clamp(max=r.modes - 1))
        return torch.where((label == r.modes)[:, None], mix.marginal_velocity(x, t), cond)

    with torch.no_grad():
        untrained = r.loss(r.initial(), small)
        assert untrained.dim() == 0 and torch.isfinite(untrained)
        assert float(r.loss(exact, small)) < 0.5 * float(untrained)


def test_recipe_trains_in_quick_mode_and_learns_the_conditional_field(monkeypatch, tmp_path):
    monkeypatch.setenv("VIDGEN_QUICK", "1")
    monkeypatch.setenv("VIDGEN_CACHE", str(tmp_path))
    r = recipes.get("flow_matching_toy")
    model, info = r.train("cpu")
    assert len(info["history"]) == r.steps.quick and all(math.isfinite(v) for v in info["history"])
    # a few hundred steps already get the (simple) class-conditional field close to the truth
    model, info = dataclasses.replace(r, steps=Budget(full=300, quick=300)).train("cpu")
    mix = r.mixture
    g = _gen(22)
    x1, label = mix.sample(2000, generator=g)
    t = torch.full((2000,), 0.5)
    x = flow_path(torch.randn(2000, 2, generator=g), x1, t)
    with torch.no_grad():
        err = (model(x, t, label) - mix.marginal_velocity(x, t, label)).pow(2).sum(-1).mean()
    assert float(err / mix.marginal_velocity(x, t, label).pow(2).sum(-1).mean()) < 0.05
    assert sum(info["history"][-20:]) < sum(info["history"][:20])
