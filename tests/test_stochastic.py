"""Chapter 07: the stochastic predictor, the future-set measures and the stochastic prediction protocol."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import distributions as D

from vidgen_edu.evaluation import STOCHASTIC_PREDICTION
from vidgen_edu.futures import best_of_n_frames, blur, coverage, future_distance, precision
from vidgen_edu.losses import kl_normal
from vidgen_edu.metrics import gaussian_window, psnr
from vidgen_edu.models.api import FramePredictor
from vidgen_edu.models.stochastic import StochasticPredictor
from vidgen_edu.recipes.stochastic_predictor import BALLS, DETERMINISTIC_BALLS
from vidgen_edu.runtime import Budget


def _clips(B: int = 3, T: int = 6, seed: int = 0) -> torch.Tensor:
    return torch.rand(B, T, 1, 32, 32, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def model() -> StochasticPredictor:
    torch.manual_seed(0)
    return StochasticPredictor(width=8, hidden_size=8, latent_dim=2).eval()


# -- the model -------------------------------------------------------------------------------------
def test_is_a_frame_predictor(model):
    assert isinstance(model, FramePredictor)
    x = _clips()
    assert model(x).shape == x.shape
    out = model.rollout(x[:, :4], 3)
    assert out.shape == (3, 3, 1, 32, 32) and not out.requires_grad
    assert 0 <= out.min() and out.max() <= 1


def test_rollout_is_reproducible_and_sample_uses_the_generator(model):
    x = _clips()
    torch.testing.assert_close(model.rollout(x[:, :4], 3), model.rollout(x[:, :4], 3), rtol=0, atol=0)
    a = model.sample(x[:, :4], 3, 5, generator=torch.Generator().manual_seed(1))
    b = model.sample(x[:, :4], 3, 5, generator=torch.Generator().manual_seed(1))
    c = model.sample(x[:, :4], 3, 5, generator=torch.Generator().manual_seed(2))
    assert a.shape == (3, 5, 3, 1, 32, 32)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    # the samples of one context differ: z is drawn per sample
    assert (a[:, 0] - a[:, 1]).abs().max() > 1e-4


def test_sampling_leaves_the_global_rng_alone(model):
    x = _clips()
    state = torch.random.get_rng_state()
    model.sample(x[:, :4], 2, 2, generator=torch.Generator().manual_seed(0))
    assert torch.equal(state, torch.random.get_rng_state())


def test_forward_is_causal(model):
    """logits[:, t] (frame t + 1) must not change when frames after t + 1 change (posterior reads up to t + 1)."""
    x = _clips(T=6)
    y = x.clone()
    y[:, 4:] = torch.rand_like(y[:, 4:])
    with torch.no_grad():
        a = model.trace(x, generator=torch.Generator().manual_seed(0)).logits
        b = model.trace(y, generator=torch.Generator().manual_seed(0)).logits
    # trace logits[:, t - 1] predict frame t from frames < t (z_t from q(z_t | x_{≤t})): frames 1..3 are unchanged
    torch.testing.assert_close(a[:, :3], b[:, :3])
    assert (a[:, 3] - b[:, 3]).abs().max() > 0  # frame 4's own posterior read the changed frame 4


def test_prior_does_not_read_the_frame_it_predicts(model):
    """Sampling frame t uses p(z_t | x_{<t}): changing the last context frame changes nothing before it."""
    x = _clips(T=5)
    with torch.no_grad():
        tr = model.trace(x, generator=torch.Generator().manual_seed(0))
        y = x.clone()
        y[:, 3:] = 1 - y[:, 3:]
        tr2 = model.trace(y, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(tr.mu_p[:, :3], tr2.mu_p[:, :3])  # priors of frames 1..3 read frames 0..2 only
    assert (tr.mu_q[:, 2] - tr2.mu_q[:, 2]).abs().max() > 0  # frame 3's posterior reads frame 3


def test_latent_off_is_deterministic():
    torch.manual_seed(0)
    det = StochasticPredictor(width=8, hidden_size=8, latent_dim=0).eval()
    x = _clips()
    s = det.sample(x[:, :4], 3, 4, generator=torch.Generator().manual_seed(0))
    assert s.shape == (3, 4, 3, 1, 32, 32)
    assert torch.equal(s[:, 0], s[:, 3])
    tr = det.trace(x)
    assert tr.mu_q is None and tr.logits.shape == (3, 5, 1, 32, 32)


def test_bad_inputs_raise_clear_errors(model):
    with pytest.raises(ValueError, match="latent_dim"):
        StochasticPredictor(latent_dim=-1)
    with pytest.raises(ValueError, match="divisible"):
        StochasticPredictor(size=30, patch=4)
    with pytest.raises(ValueError):
        model.sample(torch.rand(2, 4, 3, 32, 32), 2)  # RGB into a grey model
    with pytest.raises(ValueError, match="horizon"):
        model.sample(_clips()[:, :4], 0)
    with pytest.raises(ValueError, match="at least 2 frames"):
        model.trace(_clips(T=1))


def test_kl_terms_match_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu_q, lv_q, mu_p, lv_p = (torch.randn(4, 2, 8, 8, generator=g) for _ in range(4))
    ours = kl_normal(mu_q, lv_q, mu_p, lv_p)
    q = D.Independent(D.Normal(mu_q, (0.5 * lv_q).exp()), 3)
    p = D.Independent(D.Normal(mu_p, (0.5 * lv_p).exp()), 3)
    torch.testing.assert_close(ours, D.kl_divergence(q, p), rtol=1e-5, atol=1e-4)


def test_recipe_loss_is_the_per_frame_negative_elbo():
    r = dataclasses.replace(BALLS, width=8, hidden_size=8, latent_dim=2)
    torch.manual_seed(0)
    m = r.build()
    x = _clips(B=2, T=5)
    recon, kl = r.terms(m, x, generator=torch.Generator().manual_seed(0))
    assert recon.shape == kl.shape == (2, 4)
    assert (kl >= 0).all() and (recon > 0).all()
    loss = r.loss(m, x, beta=1.0, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(loss, (recon + kl).mean())
    assert DETERMINISTIC_BALLS.latent_dim == 0 and DETERMINISTIC_BALLS.fingerprint() != BALLS.fingerprint()


def test_one_training_step_reduces_nothing_to_nan():
    r = dataclasses.replace(BALLS, width=8, hidden_size=8, latent_dim=2, train_clips=Budget(full=16, quick=16),
                            steps=Budget(full=2, quick=2), batch_size=4)
    model, info = r.train("cpu")
    assert len(info["history"]) == 2 and all(torch.isfinite(torch.tensor(info["history"])))


# -- future sets -----------------------------------------------------------------------------------
def test_blur_matches_a_2d_gaussian_convolution():
    x = torch.rand(2, 3, 1, 32, 32)
    w = gaussian_window(9, 2.0).float()
    ref = torch.nn.functional.conv2d(x.reshape(-1, 1, 32, 32), w[None, None], padding=4).reshape(x.shape)
    torch.testing.assert_close(blur(x, 2.0), ref, rtol=1e-5, atol=1e-5)
    assert torch.equal(blur(x, 0.0), x)


def test_future_distance_is_the_mean_squared_blurred_difference():
    a, b = torch.rand(2, 3, 4, 1, 32, 32), torch.rand(2, 5, 4, 1, 32, 32)
    d = future_distance(a, b, sigma=1.0)
    assert d.shape == (2, 3, 5)
    ref = (blur(a[1, 2], 1.0) - blur(b[1, 4], 1.0)).pow(2).mean()
    torch.testing.assert_close(d[1, 2, 4], ref, rtol=1e-4, atol=1e-7)
    assert torch.allclose(future_distance(a, a).diagonal(dim1=1, dim2=2), torch.zeros(2, 3), atol=1e-7)
    with pytest.raises(ValueError, match="samples"):
        future_distance(a[0], b)


def test_coverage_and_precision_on_hand_made_sets():
    futures = torch.rand(1, 4, 3, 1, 32, 32)
    far = futures + 10.0
    d_same = future_distance(futures, futures)
    assert coverage(d_same, 1e-6).item() == 1.0 and precision(d_same, 1e-6).item() == 1.0
    d_far = future_distance(far, futures)
    assert coverage(d_far, 1e-3).item() == 0.0 and precision(d_far, 1e-3).item() == 0.0
    # two samples, both copies of true future 0: every sample is precise, one true future in four is covered
    d_one = future_distance(futures[:, [0, 0]], futures)
    assert precision(d_one, 1e-6).item() == 1.0
    assert coverage(d_one, 1e-6).item() == pytest.approx(0.25)


def test_best_of_n_frames_picks_the_sample_closest_on_average():
    truth = torch.rand(2, 3, 1, 32, 32)
    samples = torch.rand(2, 4, 3, 1, 32, 32)
    samples[0, 2] = truth[0] + 0.01  # nearly right
    best = best_of_n_frames(truth, samples)
    assert best.shape == (2, 3)
    torch.testing.assert_close(best[0], psnr(truth[0], samples[0, 2]))


# -- the protocol ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_protocol():
    return dataclasses.replace(STOCHASTIC_PREDICTION, test_clips=Budget(full=6, quick=6), samples=3,
                               true_futures=4, diversity_samples=3)


def test_true_futures_and_bounce_masks(small_protocol):
    P = small_protocol
    ds = P.clips("balls-stochastic")
    futures, hit = P.futures(ds)
    assert futures.shape == (6, 4, P.horizon, 1, 32, 32) and hit.shape == (6, 4, P.horizon)
    bounced = P.bounced(ds)
    assert bounced.shape == (6, P.horizon) and bounced.dtype == torch.bool
    # once bounced, a clip stays bounced
    assert (bounced.int().diff(dim=1) >= 0).all()
    # before any wall hit the true futures all equal the clip's own future
    truth = ds.clips()[:, P.context:]
    for i in range(6):
        for k in range(4):
            calm = ~(hit[i, k] | bounced[i])
            if calm.any():
                torch.testing.assert_close(futures[i, k][calm], truth[i][calm], atol=1 / 255 + 1e-6, rtol=0)


def test_protocol_scores_the_oracle_and_a_model(small_protocol, model):
    P = small_protocol
    oracle = P.oracle("balls-stochastic")
    for key in ("coverage", "precision", "diversity", "best_of_3_psnr_db", "best_of_3_psnr_after_bounce_db"):
        assert key in oracle
    assert 0 <= oracle["coverage"] <= 1 and oracle["coverage"] > 0.3
    metrics = P.evaluate(model, "balls-stochastic", "cpu")
    assert metrics["kl_per_frame"] >= 0 and metrics["futures_per_s"] > 0
    assert metrics["best_of_3_psnr_db"] >= metrics["psnr_db"] - 1e-4  # the best sample is at least sample 0
    with pytest.raises(ValueError, match="true futures"):
        P.futures(P.clips("balls"))
