"""SSIM, the Fréchet distance, best-of-N and diversity (chapter 06), against reference implementations."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.linalg
import torch
from skimage.metrics import structural_similarity

from vidgen_edu.metrics import (
    best_of_n,
    diversity,
    frechet_distance,
    gaussian_stats,
    psnr,
    ssim,
)


def _reference_ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> float:
    return float(structural_similarity(x.numpy(), y.numpy(), channel_axis=0, gaussian_weights=True, sigma=1.5,
                                       use_sample_covariance=False, data_range=data_range))


@pytest.mark.parametrize("seed", range(4))
def test_ssim_matches_scikit_image_on_random_images(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    C = 1 + seed % 3
    H, W = 11 + 7 * seed, 32 - seed  # non-square, down to the window size
    x = torch.rand(3, C, H, W, generator=g)
    y = (x + (0.05 + 0.1 * seed) * torch.randn(x.shape, generator=g)).clamp(0, 1)
    ours = ssim(x, y)
    assert ours.shape == (3,)
    for i in range(3):
        assert ours[i].item() == pytest.approx(_reference_ssim(x[i], y[i]), abs=1e-5)


def test_ssim_data_range_and_leading_dims() -> None:
    g = torch.Generator().manual_seed(7)
    x = torch.rand(2, 4, 1, 16, 16, generator=g)
    y = torch.rand(2, 4, 1, 16, 16, generator=g)
    value = ssim(x, y)
    assert value.shape == (2, 4)
    assert value[1, 2].item() == pytest.approx(_reference_ssim(x[1, 2], y[1, 2]), abs=1e-5)
    # the same images on a 0..255 scale, with data_range=255, give the same SSIM
    torch.testing.assert_close(ssim(255 * x, 255 * y, data_range=255.0), value, atol=1e-5, rtol=0)


def test_ssim_identical_is_one_and_psnr_inf_without_warnings() -> None:
    x = torch.rand(5, 1, 20, 20)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s, p = ssim(x, x.clone()), psnr(x, x.clone())
    assert torch.all(s == 1.0)
    assert torch.isinf(p).all()
    # constant images (zero variance everywhere) are no special case either
    z = torch.zeros(1, 1, 12, 12)
    assert ssim(z, z).item() == 1.0


def test_ssim_penalizes_structure_that_mse_misses() -> None:
    """Wang & Bovik's point: equal MSE, different SSIM (a constant shift vs noise)."""
    g = torch.Generator().manual_seed(0)
    x = 0.25 + 0.5 * torch.rand(1, 1, 32, 32, generator=g)
    shifted = x + 0.1
    noise = torch.sign(torch.randn(x.shape, generator=g)) * 0.1
    noisy = x + noise
    torch.testing.assert_close(((shifted - x) ** 2).mean(), ((noisy - x) ** 2).mean())
    assert ssim(x, shifted).item() > 0.95 > ssim(x, noisy).item()


@pytest.mark.parametrize("shapes", [((3, 16, 16), (3, 16, 15)), ((16, 16), (16, 16)), ((1, 1, 10, 10), (1, 1, 10, 10))])
def test_ssim_bad_shapes_raise(shapes) -> None:
    a, b = (torch.rand(*s) for s in shapes)
    with pytest.raises(ValueError):
        ssim(a, b)


def test_ssim_bad_data_range_raises() -> None:
    x = torch.rand(1, 16, 16)
    with pytest.raises(ValueError):
        ssim(x, x, data_range=0)


def _scipy_frechet(mu1, s1, mu2, s2) -> float:
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


@pytest.mark.parametrize("d", [1, 4, 32])
def test_frechet_distance_matches_scipy(d: int) -> None:
    g = torch.Generator().manual_seed(d)
    a = torch.randn(200, d, generator=g, dtype=torch.float64)
    b = 0.7 * torch.randn(200, d, generator=g, dtype=torch.float64) @ torch.randn(d, d, generator=g,
                                                                                    dtype=torch.float64) + 0.3
    (m1, s1), (m2, s2) = gaussian_stats(a), gaussian_stats(b)
    ref = _scipy_frechet(m1.numpy(), s1.numpy(), m2.numpy(), s2.numpy())
    assert frechet_distance(m1, s1, m2, s2) == pytest.approx(ref, rel=1e-6, abs=1e-8)


def test_frechet_distance_closed_forms() -> None:
    g = torch.Generator().manual_seed(0)
    A = torch.randn(6, 6, generator=g, dtype=torch.float64)
    sigma = A @ A.T + 0.1 * torch.eye(6, dtype=torch.float64)
    mu = torch.randn(6, generator=g, dtype=torch.float64)
    # equal Gaussians: 0
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-9)
    # same covariance, shifted means: the squared distance of the means
    shift = torch.randn(6, generator=g, dtype=torch.float64)
    assert frechet_distance(mu, sigma, mu + shift, sigma) == pytest.approx(shift.pow(2).sum().item(), rel=1e-8)
    # isotropic covariances a² I and b² I: d (a - b)²
    eye = torch.eye(6, dtype=torch.float64)
    assert frechet_distance(mu, 4 * eye, mu, 9 * eye) == pytest.approx(6 * (2 - 3) ** 2, rel=1e-9)


def test_frechet_distance_singular_covariances_are_finite() -> None:
    g = torch.Generator().manual_seed(1)
    # rank-2 covariances in 16 dimensions (fewer samples than dimensions), plus a near-singular one
    a = torch.randn(3, 16, generator=g, dtype=torch.float64)
    b = torch.randn(3, 16, generator=g, dtype=torch.float64)
    (m1, s1), (m2, s2) = gaussian_stats(a), gaussian_stats(b)
    value = frechet_distance(m1, s1, m2, s2)
    assert np.isfinite(value) and value > 0
    assert frechet_distance(m1, s1, m1, s1) == pytest.approx(0.0, abs=1e-6)
    near = s1 + 1e-12 * torch.eye(16, dtype=torch.float64)
    assert frechet_distance(m1, near, m2, s2) == pytest.approx(value, rel=1e-4)


def test_frechet_distance_bad_shapes_raise() -> None:
    with pytest.raises(ValueError):
        frechet_distance(torch.zeros(3), torch.eye(3), torch.zeros(4), torch.eye(4))
    with pytest.raises(ValueError):
        frechet_distance(torch.zeros(3), torch.eye(2), torch.zeros(3), torch.eye(3))
    with pytest.raises(ValueError):
        gaussian_stats(torch.zeros(1, 3))


def test_best_of_n_picks_the_best_sample_and_grows_with_n() -> None:
    g = torch.Generator().manual_seed(0)
    truth = torch.rand(4, 3, 1, 12, 12, generator=g)
    samples = torch.rand(8, 4, 3, 1, 12, 12, generator=g)  # guesses that ignore the truth
    samples[5, 2] = truth[2]  # one perfect guess for clip 2
    best = best_of_n(lambda a, b: -((a - b) ** 2).mean(dim=(-3, -2, -1)), truth, samples)
    assert best.shape == (4,)
    assert best[2].item() == 0.0
    per_sample = torch.stack([psnr(truth, s).mean(-1) for s in samples])  # (8, 4)
    torch.testing.assert_close(best_of_n(psnr, truth, samples), per_sample.amax(0))
    # more guesses can only raise a best-of-N score
    scores = [best_of_n(psnr, truth, samples[:n]).mean().item() for n in (1, 2, 4, 8)]
    assert scores == sorted(scores)
    lowest = best_of_n(lambda a, b: ((a - b) ** 2).mean(dim=(-3, -2, -1)), truth, samples, higher_is_better=False)
    assert lowest[2].item() == 0.0


def test_diversity_zero_for_identical_samples_and_grows_with_spread() -> None:
    g = torch.Generator().manual_seed(0)
    base = torch.rand(2, 3, 1, 16, 16, generator=g)
    same = base.expand(4, *base.shape)
    assert torch.allclose(diversity(same), torch.zeros(2), atol=1e-6)
    values = []
    for sigma in (0.05, 0.2, 0.5):
        noisy = (same + sigma * torch.randn(same.shape, generator=g)).clamp(0, 1)
        values.append(diversity(noisy).mean().item())
    assert values == sorted(values) and values[0] > 0


def test_best_of_n_and_diversity_bad_shapes_raise() -> None:
    with pytest.raises(ValueError):
        best_of_n(psnr, torch.rand(2, 3, 1, 12, 12), torch.rand(2, 3, 1, 12, 12))
    with pytest.raises(ValueError):
        diversity(torch.rand(1, 2, 3, 1, 12, 12))
