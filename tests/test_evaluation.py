"""vidgen_edu.evaluation: the protocols score what they say, train nothing on import, leave the global RNG alone."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from vidgen_edu.evaluation import GENERATION, PREDICTION, RECONSTRUCTION, RealClips


def test_importing_the_protocols_trains_nothing(tmp_path):
    code = ("import os, vidgen_edu.evaluation, vidgen_edu.bench, vidgen_edu.recipes; "
            "print(len(os.listdir(os.environ['VIDGEN_CACHE'])))")
    out = subprocess.run([sys.executable, "-c", code], env={"VIDGEN_CACHE": str(tmp_path), "PATH": ""},
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"


def test_prediction_score_averages_every_predicted_frame():
    truth = torch.zeros(3, 10, 1, 16, 16)  # (B, K, C, H, W)
    pred = torch.full_like(truth, 0.1)  # MSE 0.01 everywhere: PSNR = 10 log10(1 / 0.01) = 20 dB
    scores = PREDICTION.score(truth, pred, fvd=False)
    assert set(scores) == {"psnr_db", "psnr_k1_db", "psnr_k10_db", "ssim"}
    for key in ("psnr_db", "psnr_k1_db", "psnr_k10_db"):
        assert scores[key] == pytest.approx(20.0, abs=1e-4)
    assert PREDICTION.score(truth, truth.clone(), fvd=False)["ssim"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"\(B, T, C, H, W\)"):
        PREDICTION.score(truth, pred[:, :5], fvd=False)


def test_predict_rolls_out_from_the_context_in_chunks():
    class CopyLast(torch.nn.Module):
        def rollout(self, context, horizon):
            return context[:, -1:].expand(-1, horizon, -1, -1, -1)

    clips = torch.rand(5, PREDICTION.context + PREDICTION.horizon, 1, 8, 8)
    pred = PREDICTION.predict(CopyLast(), clips, "cpu", batch=2, cpu_threads=1)
    assert pred.shape == (5, PREDICTION.horizon, 1, 8, 8)
    torch.testing.assert_close(pred, PREDICTION.copy_last_frame(clips))


def test_constant_velocity_oracle_is_exact_before_any_bounce(monkeypatch):
    monkeypatch.setenv("VIDGEN_QUICK", "1")
    test = PREDICTION.clips("balls")
    pred = PREDICTION.constant_velocity(test)
    truth = test.clips()[:, PREDICTION.context:]
    assert pred.shape == truth.shape
    # the first predicted frame: one step from the true state; exact unless a ball touched a wall or a ball
    err = (pred[:, 0] - truth[:, 0]).abs().flatten(1).amax(1)
    assert (err < 0.02).float().mean() > 0.5
    with pytest.raises(ValueError, match="states"):
        PREDICTION.constant_velocity(PREDICTION.clips("digits"))


def test_reconstruction_protocol_mean_frame_and_rng(monkeypatch):
    monkeypatch.setenv("VIDGEN_QUICK", "1")
    scores = RECONSTRUCTION.mean_frame("one-ball")
    assert scores["kl_nats"] == 0 and scores["neg_elbo_nats"] == scores["recon_nats"] > 0 and scores["psnr_db"] > 0
    from vidgen_edu.models.vae import ConvVAE

    torch.manual_seed(0)
    model = ConvVAE(channels=1, latent_dim=2, width=4)
    state = torch.get_rng_state()
    a = RECONSTRUCTION.evaluate(model, "one-ball", "cpu")
    assert torch.equal(state, torch.get_rng_state())  # the protocol's own seed, not the caller's
    assert a == RECONSTRUCTION.evaluate(model, "one-ball", "cpu")
    assert set(a) == {"neg_elbo_nats", "recon_nats", "kl_nats", "psnr_db"}


def test_generation_protocol_scores_real_clips_as_the_ceiling(monkeypatch, tmp_path):
    monkeypatch.setenv("VIDGEN_QUICK", "1")
    monkeypatch.setenv("VIDGEN_CACHE", str(tmp_path))
    state = torch.get_rng_state()
    real = GENERATION.evaluate(RealClips("balls"), "balls", "cpu")
    assert torch.equal(state, torch.get_rng_state())
    assert {"fvd_lite", "count_consistency", "flicker", "physics_px", "samples_per_s"} <= set(real)
    clips = GENERATION.real("balls").clips()
    shuffled = clips[:, torch.randperm(GENERATION.frames, generator=torch.Generator().manual_seed(0))]
    assert GENERATION.score(shuffled, "balls")["physics_px"] > real["physics_px"]  # frames out of order: no physics
    cond = GENERATION.evaluate(RealClips("shapes"), "shapes", "cpu", conditional=True)
    assert {"caption_acc", "color_acc", "shape_acc", "direction_acc"} <= set(cond)
    assert all(0 <= cond[k] <= 1 for k in ("caption_acc", "color_acc", "shape_acc", "direction_acc"))
    with pytest.raises(ValueError, match="finite"):
        GENERATION.score(torch.full((2, 10, 1, 32, 32), float("nan")), "balls")
