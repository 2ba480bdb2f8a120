"""The evaluation protocols: one per task, so a chapter's table and the leaderboard are the same call.

- :data:`PREDICTION` — context → future (chapters 04 onwards): the first
  ``context`` frames of a held-out clip are given, the next ``horizon`` frames
  are predicted; scored by PSNR (mean, first and last frame ahead), SSIM and
  FVD-lite against the true futures.
- :data:`GENERATION` — samples, unconditional or caption-conditioned (chapters
  07 onwards): FVD-lite against real clips, caption and attribute accuracy
  (shapes), physical plausibility (balls), object-count consistency, flicker,
  and sampling speed. :class:`RealClips` draws from the simulator itself: the
  ceiling every generator is compared with.
- :data:`RECONSTRUCTION` — frame VAEs (chapter 03): −ELBO and its two terms in
  nats per held-out frame, and the PSNR of the reconstruction at z = μ.

The test clips are fixed (split ``"test"``, seed 0); nothing here trains on
import, and no protocol touches the global random state. The networks that
metrics need (FVD-lite's feature nets, the attribute classifier) are trained
and cached on first use, seeded on their own. Chapter 06 explains the metrics.
"""

from __future__ import annotations

import math
import time
from contextlib import nullcontext
from dataclasses import dataclass

import torch
from torch import nn

from .data import VideoDataset, frame_set, make_dataset
from .data.base import single_threaded
from .futures import best_of_n_frames, best_of_n_on, coverage, future_distance, precision
from .metrics import per_horizon, psnr, ssim
from .runtime import Budget, seeded

Metrics = dict[str, float]


# -- context → future --------------------------------------------------------------------------
@dataclass(frozen=True)
class PredictionProtocol:
    """Context → future: ``context`` given frames, ``horizon`` predicted ones, on fixed held-out clips."""

    context: int = 10  # frames given
    horizon: int = 10  # frames predicted
    test_clips: Budget = Budget(full=500, quick=32)  # held-out clips (split "test", seed 0)

    @property
    def task(self) -> str:
        return f"prediction {self.context}→{self.horizon}"

    def clips(self, data: str, split: str = "test", num_clips: int | None = None) -> VideoDataset:
        """``num_clips`` clips of ``context + horizon`` frames, seed 0 (fewer clips: a prefix of the same clips)."""
        num_clips = self.test_clips.value if num_clips is None else num_clips
        return make_dataset(data, split, num_clips=num_clips, T=self.context + self.horizon, seed=0)

    @torch.no_grad()
    def predict(self, model: nn.Module, clips: torch.Tensor, device: torch.device | str, *, batch: int = 250,
                cpu_threads: int | None = None) -> torch.Tensor:
        """Free-running predictions (B, horizon, C, H, W), on the CPU, from the first ``context`` frames of clips."""
        device = torch.device(device)
        model = model.to(device).eval()

        with single_threaded() if cpu_threads == 1 else nullcontext():
            return torch.cat([model.rollout(c[:, :self.context].to(device), self.horizon).cpu()
                              for c in clips.split(batch)])

    def score(self, truth: torch.Tensor, pred: torch.Tensor, *, fvd: bool = True) -> Metrics:
        """Quality of predicted futures against the true ones, both (B, horizon, C, H, W) in [0, 1].

        ``psnr_db`` (mean over clips and predicted frames), ``psnr_k1_db`` and ``psnr_k{horizon}_db``
        (first and last frame ahead), ``ssim`` (mean over clips and frames) and, with ``fvd``,
        ``fvd_lite`` between the predicted and the true futures (chapter 06).
        """
        from .fvd import fvd_lite

        curve = per_horizon(psnr, truth, pred)  # (K,): mean PSNR over clips, per frame ahead
        metrics = {
            "psnr_db": curve.mean().item(),
            "psnr_k1_db": curve[0].item(),
            f"psnr_k{len(curve)}_db": curve[-1].item(),
            "ssim": per_horizon(ssim, truth, pred).mean().item(),
        }
        if fvd:
            metrics["fvd_lite"] = fvd_lite(truth, pred)
        return metrics

    def evaluate(self, model: nn.Module, data: str, device: torch.device | str, *,
                 cpu_threads: int | None = None) -> Metrics:
        """A ``FramePredictor`` on the held-out clips of ``data``: :meth:`predict`, then :meth:`score`."""
        clips = self.clips(data).clips()  # (N, context + horizon, C, H, W)
        pred = self.predict(model, clips, device, cpu_threads=cpu_threads)
        return self.score(clips[:, self.context:], pred)

    # baselines -------------------------------------------------------------------------------
    def copy_last_frame(self, clips: torch.Tensor) -> torch.Tensor:
        """The last context frame, repeated: (B, horizon, C, H, W). Anything that learns must beat it."""
        return clips[:, self.context - 1:self.context].expand(-1, self.horizon, -1, -1, -1)

    def empty_frame(self, clips: torch.Tensor) -> torch.Tensor:
        """All-black frames (B, horizon, C, H, W): what a model that gave up would draw.

        On mostly black frames it scores well on SSIM (every black region is matched
        exactly), so a predictor's SSIM must beat it at every horizon (chapter 04).
        """
        return torch.zeros_like(clips[:, :1]).expand(-1, self.horizon, -1, -1, -1)

    def constant_velocity(self, dataset: VideoDataset) -> torch.Tensor:
        """Chapter 04's oracle for bouncing balls: (N, horizon, 1, H, W).

        Every ball moves in a straight line from its *true* state at the last
        context frame, ``p_{c-1+k} = p_{c-1} + k v_{c-1}``, ignoring walls and
        collisions. It reads the simulator's state, so it is an oracle, not a competitor.
        """
        if "states" not in dataset.info:
            raise ValueError(f"constant_velocity needs a bouncing-balls data set with states, got {dataset!r}")
        states = dataset.info["states"][:, self.context - 1]  # (N, balls, 4): x, y, vx, vy
        k = torch.arange(1, self.horizon + 1, dtype=states.dtype)[None, :, None, None]  # (1, K, 1, 1)
        positions = states[:, None, :, :2] + k * states[:, None, :, 2:]  # (N, K, balls, 2)
        return dataset.source.render(positions)  # (N, K, 1, H, W)


PREDICTION = PredictionProtocol()



# -- context → many futures ------------------------------------------------------------------------
@dataclass(frozen=True)
class StochasticPredictionProtocol(PredictionProtocol):
    """Context → many futures (chapter 07): ``samples`` futures per context against ``true_futures`` from the simulator.

    Only for a stochastic simulator with ``future_clips`` (``"balls-stochastic"``): from the true
    state at the last context frame it draws ``true_futures`` futures, the true conditional
    distribution. A model's futures are compared with the clip's own future (PSNR, SSIM, best-of-N)
    and with the set of true futures (coverage, precision, see :mod:`vidgen_edu.futures`).
    """

    test_clips: Budget = Budget(full=200, quick=8)  # held-out clips (split "test", seed 0)
    samples: int = 20  # futures drawn per context: the N of best-of-N
    true_futures: int = 20  # futures drawn from the simulator per context: K
    sigma: float = 2.0  # blur (pixels) of the future distance d
    match_px: float = 2.0  # τ = the distance of the truth from itself with every ball moved this far (pixels)
    diversity_samples: int = 5  # diversity (mean pairwise 1 − SSIM) over the first 5 samples: 10 pairs

    @property
    def task(self) -> str:
        return f"stochastic prediction {self.context}→{self.horizon}"

    def futures(self, dataset: VideoDataset, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """K true futures of every clip from its state at the last context frame: (n, K, horizon, C, H, W), hits.

        ``hits`` (n, K, horizon) marks frames at which some ball has hit a wall since the context.
        """
        if not hasattr(dataset.source, "future_clips"):
            raise ValueError(f"{dataset.name!r} has no true futures; use a stochastic source such as "
                             f"'balls-stochastic'")
        states = dataset.info["states"][:, self.context - 1]  # (n, balls, 4)
        clips, hits = dataset.source.future_clips(states, self.true_futures, self.horizon, seed=seed)
        return clips, hits.any(-1).cumsum(-1) > 0

    def threshold(self, dataset: VideoDataset, seed: int = 0) -> float:
        """τ: the mean distance d between each clip's future and the same future with every ball moved ``match_px``.

        A sample within τ of a true future is, on average, no farther from it than a copy of that
        future whose balls are all ``match_px`` pixels off (in random directions, drawn with ``seed``).
        """
        future = slice(self.context, self.context + self.horizon)
        states = torch.as_tensor(dataset.info["states"])[:, future]  # (n, horizon, balls, 4)
        g = torch.Generator().manual_seed(seed)
        angle = 2 * math.pi * torch.rand(states.shape[0], 1, states.shape[2], generator=g)  # one direction per ball
        # p' = p + match_px (cos a, sin a)
        moved = states[..., :2] + self.match_px * torch.stack([angle.cos(), angle.sin()], dim=-1)
        truth = dataset.source.render(states)[:, None]  # (n, 1, K, 1, H, W)
        return future_distance(dataset.source.render(moved)[:, None], truth, sigma=self.sigma).mean().item()

    def bounced(self, dataset: VideoDataset) -> torch.Tensor:
        """(n, horizon) bool: the clip's own future frames at or after its first wall hit since the context."""
        future = slice(self.context, self.context + self.horizon)
        hits = torch.as_tensor(dataset.info["wall_hits"])[:, future]  # (n, horizon, balls)
        return hits.any(-1).cumsum(-1) > 0

    @torch.no_grad()
    def sample(self, model: nn.Module, clips: torch.Tensor, device: torch.device | str, *, seed: int = 0,
               batch: int = 50) -> torch.Tensor:
        """``samples`` futures of every context: (n, samples, horizon, C, H, W) in [0, 1], on the CPU."""
        device = torch.device(device)
        model = model.to(device).eval()
        gen = torch.Generator().manual_seed(seed)
        with seeded(None, device):
            return torch.cat([model.sample(c[:, :self.context].to(device), self.horizon, self.samples,
                                           generator=gen).cpu() for c in clips.split(batch)])

    def curves(self, truth: torch.Tensor, samples: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-frame PSNR curves (horizon,): one sample, the mean over samples, and each clip's best sample."""
        one = per_horizon(psnr, truth, samples[:, 0])
        mean = torch.stack([per_horizon(psnr, truth, samples[:, i]) for i in range(samples.shape[1])]).mean(0)
        return {"one sample": one, "mean over samples": mean,
                f"best of {samples.shape[1]}": best_of_n_frames(truth, samples).mean(0)}

    def score_samples(self, truth: torch.Tensor, samples: torch.Tensor, futures: torch.Tensor,
                      bounced: torch.Tensor, threshold: float) -> Metrics:
        """Every metric for samples (n, N, horizon, C, H, W) of clips whose futures are ``truth`` (n, horizon, ...).

        ``futures`` are the K true futures (n, K, horizon, ...); ``bounced`` (n, horizon) marks the
        truth's frames after its first wall hit; ``threshold`` is τ (:meth:`threshold`). Keys:
        ``psnr_db``, ``ssim``, ``psnr_after_bounce_db`` (sample 0, a random draw); ``best_of_N_psnr_db``
        (the best sample by mean PSNR over the horizon), ``best_of_N_psnr_after_bounce_db`` (the best
        sample by mean PSNR over the frames at and after the clip's first bounce, over the clips that
        bounce), ``best_of_N_ssim``; ``diversity`` (mean pairwise 1 − SSIM of the first ``diversity_samples``),
        ``coverage``, ``precision``.
        """
        from .metrics import diversity

        N = samples.shape[1]
        best = best_of_n_frames(truth, samples)  # (n, horizon)
        best_ssim = best_of_n_frames(truth, samples, ssim)
        d = future_distance(samples, futures, sigma=self.sigma)  # (n, N, K)
        return {
            "psnr_db": psnr(truth, samples[:, 0]).mean().item(),
            "ssim": ssim(truth, samples[:, 0]).mean().item(),
            # clips with a bounce in the horizon: mean PSNR over their frames at and after it
            "psnr_after_bounce_db": best_of_n_on(truth, samples[:, :1], bounced).mean().item(),
            f"best_of_{N}_psnr_db": best.mean().item(),
            f"best_of_{N}_psnr_after_bounce_db": best_of_n_on(truth, samples, bounced).mean().item(),
            f"best_of_{N}_ssim": best_ssim.mean().item(),
            "diversity": diversity(samples[:, :self.diversity_samples].transpose(0, 1)).mean().item()
            if N > 1 else 0.0,
            "coverage": coverage(d, threshold).mean().item(),
            "precision": precision(d, threshold).mean().item(),
        }

    @torch.no_grad()
    def kl_per_frame(self, model: nn.Module, clips: torch.Tensor, device: torch.device | str,
                     batch: int = 100) -> float:
        """Mean KL(q ‖ p) in nats per predicted frame on clips (n, T, C, H, W): the information z carries."""
        from .losses import kl_normal

        if not getattr(model, "latent_dim", 0):
            return 0.0
        device = torch.device(device)
        model = model.to(device).eval()
        total, count = 0.0, 0
        with seeded(0, device):
            for c in clips.split(batch):
                tr = model.trace(c.to(device))
                kl = kl_normal(tr.mu_q.flatten(0, 1), tr.logvar_q.flatten(0, 1),
                               tr.mu_p.flatten(0, 1), tr.logvar_p.flatten(0, 1))
                total, count = total + kl.sum().item(), count + kl.numel()
        return total / count

    def evaluate(self, model: nn.Module, data: str, device: torch.device | str, *,
                 cpu_threads: int | None = None) -> Metrics:
        """A stochastic predictor (``sample(context, horizon, num_samples, generator=)``) on the held-out clips."""
        dataset = self.clips(data)
        clips = dataset.clips()
        futures, _ = self.futures(dataset)
        with single_threaded() if cpu_threads == 1 else nullcontext():
            start = time.perf_counter()
            samples = self.sample(model, clips, device)
            seconds = time.perf_counter() - start
            metrics = self.score_samples(clips[:, self.context:], samples, futures, self.bounced(dataset),
                                         self.threshold(dataset))
            metrics["kl_per_frame"] = self.kl_per_frame(model, clips, device)
        metrics["futures_per_s"] = samples.shape[0] * samples.shape[1] / seconds
        return metrics

    def oracle_samples(self, dataset: VideoDataset) -> torch.Tensor:
        """The ceiling as a sampler: ``samples`` futures of every clip drawn by the simulator (another seed)."""
        return self.futures(dataset, seed=2)[0][:, :self.samples]

    def oracle(self, data: str) -> Metrics:
        """The ceiling: the simulator's own futures (:meth:`oracle_samples`) scored as if they were samples."""
        dataset = self.clips(data)
        clips = dataset.clips()
        futures, _ = self.futures(dataset)
        samples = self.oracle_samples(dataset)
        return self.score_samples(clips[:, self.context:], samples, futures, self.bounced(dataset),
                                  self.threshold(dataset))


STOCHASTIC_PREDICTION = StochasticPredictionProtocol()


# -- samples -------------------------------------------------------------------------------------
class RealClips(nn.Module):
    """The simulator as a ``VideoGenerator``: real clips, the ceiling of the generation protocol.

    ``sample(n, T, cond=captions)`` on the shapes data draws clips that satisfy the
    captions; otherwise clips of the data set. The same ``generator`` seed gives
    the same clips.
    """

    def __init__(self, data: str, frames: int = 10) -> None:
        super().__init__()
        self.data, self.frames = data, frames
        self.source = make_dataset(data, "test", num_clips=1, T=2).source
        self.channels, self.size = self.source.channels, self.source.size

    @torch.no_grad()
    def sample(self, n: int, T: int | None = None, *, cond: list[str] | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        T = self.frames if T is None else T
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
        if cond is not None:
            if len(cond) != n:
                raise ValueError(f"cond must hold n = {n} captions, got {len(cond)}")
            if not hasattr(self.source, "clips_for_captions"):
                raise ValueError(f"the {self.data} data has no captions; use cond=None")
            return self.source.clips_for_captions(list(cond), T, generator=torch.Generator().manual_seed(seed))
        return self.source.sample_batch(n, T=T, seed=seed)


@dataclass(frozen=True)
class GenerationProtocol:
    """Samples against real clips: ``samples`` clips of ``frames`` frames per evaluation."""

    frames: int = 10  # frames per sampled clip (FVD-lite's feature nets are trained on 10)
    samples: Budget = Budget(full=500, quick=16)  # clips sampled, and real test clips to compare with
    #: true number of objects per clip in each data set (for count_consistency)
    objects: tuple[tuple[str, int], ...] = (("balls", 3), ("digits", 2), ("shapes", 2))

    task: str = "generation"

    def real(self, data: str, num_clips: int | None = None) -> VideoDataset:
        """The held-out real clips the samples are compared with (split "test", seed 0)."""
        num_clips = self.samples.value if num_clips is None else num_clips
        return make_dataset(data, "test", num_clips=num_clips, T=self.frames, seed=0)

    def score(self, samples: torch.Tensor, data: str, *, captions: list[str] | None = None,
              real: torch.Tensor | None = None) -> Metrics:
        """Every metric of the protocol for samples (N, T, C, H, W) of data set ``data``.

        ``fvd_lite`` against the real clips; ``count_consistency`` (fraction of frames
        showing the data's number of objects); ``flicker`` (mean coefficient of variation of
        a clip's brightness over time); ``physics_px`` for balls; with ``captions`` (shapes),
        ``caption_acc`` and its parts ``color_acc``, ``shape_acc``, ``direction_acc``.
        """
        from .attributes import caption_scores
        from .fvd import fvd_lite
        from .temporal import count_consistency, flicker, physics_px

        if samples.dim() != 5 or not torch.isfinite(samples).all():
            raise ValueError(f"samples must be finite video (N, T, C, H, W), got {tuple(samples.shape)}")
        real = self.real(data, len(samples)).clips() if real is None else real
        metrics = {
            "fvd_lite": fvd_lite(real, samples),
            "count_consistency": count_consistency(samples, dict(self.objects)[data]),
            "flicker": flicker(samples).mean().item(),
        }
        if data == "balls":
            metrics["physics_px"] = physics_px(samples, dict(self.objects)["balls"])
        if captions is not None:
            metrics.update(caption_scores(samples, captions))
        return metrics

    def evaluate(self, generator: nn.Module, data: str, device: torch.device | str, *,
                 conditional: bool = False, seed: int = 0, batch: int = 100, **sample_kw) -> Metrics:
        """Sample clips from a ``VideoGenerator`` (with the real clips' captions if ``conditional``); score them.

        Adds ``samples_per_s``: clips per second of wall time, sampling only.
        """
        device = torch.device(device)
        real = self.real(data)
        n = len(real)
        captions = list(real.info["captions"]) if conditional else None
        gen = torch.Generator().manual_seed(seed)
        if isinstance(generator, nn.Module):
            generator = generator.to(device).eval()
        start = time.perf_counter()
        with seeded(None, device):
            chunks = [generator.sample(min(batch, n - i), self.frames, generator=gen,
                                       cond=None if captions is None else captions[i:i + batch], **sample_kw)
                      for i in range(0, n, batch)]
        samples = torch.cat([c.float().cpu() for c in chunks])
        seconds = time.perf_counter() - start
        metrics = self.score(samples, data, captions=captions, real=real.clips())
        metrics["samples_per_s"] = n / seconds
        return metrics


GENERATION = GenerationProtocol()


# -- frame VAEs ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReconstructionProtocol:
    """Frame VAEs on held-out frames: the negative ELBO (nats per frame) and the PSNR at z = μ."""

    test_clips: Budget = Budget(full=200, quick=10)  # held-out clips (split "test", default seed) ...
    frames_per_clip: int = 10  # ... of this many frames, all scored
    task: str = "frame VAE"

    def frames(self, data: str, split: str = "test") -> torch.Tensor:
        """Held-out frames (N·T, 1, 32, 32) of the frame set ``data``: ``"digits-1"``, ``"balls"``, ``"one-ball"``."""
        num_clips = self.test_clips.value if split == "test" else Budget(full=2000, quick=40).value
        return frame_set(data, split, num_clips, self.frames_per_clip)

    @torch.no_grad()
    def evaluate(self, model: nn.Module, data: str | torch.Tensor, device: torch.device | str, *,
                 likelihood: str = "bernoulli", sigma: float = 1.0, seed: int = 0, batch: int = 1000) -> Metrics:
        """``neg_elbo_nats``, ``recon_nats``, ``kl_nats`` (one sample of z per frame, seeded) and ``psnr_db``.

        ``data`` is a frame set's name (its held-out frames, :meth:`frames`) or frames (N, C, H, W).
        ``model(x)`` returns ``(logits, mu, logvar)``; ``model.decode(mu)`` the reconstruction in [0, 1].
        """
        from .losses import elbo_loss

        frames = self.frames(data) if isinstance(data, str) else data
        device = torch.device(device)
        model = model.to(device).eval()
        scores: dict[str, list[torch.Tensor]] = {"neg_elbo_nats": [], "recon_nats": [], "kl_nats": [], "psnr_db": []}
        with seeded(None, device):
            torch.manual_seed(seed)  # the one-sample ELBO estimate draws z
            for x in frames.split(batch):
                x = x.to(device)
                logits, mu, logvar = model(x)
                terms = elbo_loss(logits, x, mu, logvar, logits=True, likelihood=likelihood, sigma=sigma,
                                  reduction="none")
                scores["neg_elbo_nats"].append(terms.loss)
                scores["recon_nats"].append(terms.recon)
                scores["kl_nats"].append(terms.kl)
                scores["psnr_db"].append(psnr(model.decode(mu).reshape(x.shape), x))
        return {k: torch.cat(v).mean().item() for k, v in scores.items()}

    def mean_frame(self, data: str | torch.Tensor, test_frames: torch.Tensor | None = None) -> Metrics:
        """The baseline whose decoder ignores z: every pixel a Bernoulli with the training mean (KL = 0).

        ``mean_frame("balls")`` scores the frame set's held-out frames with its training frames' mean;
        ``mean_frame(train_frames, test_frames)`` any two tensors (N, C, H, W).
        """
        from .losses import reconstruction_nll

        if isinstance(data, str):
            train_frames, test_frames = self.frames(data, "train"), self.frames(data)
        else:
            train_frames = data
        p = train_frames.mean(dim=0, keepdim=True).clamp(1e-6, 1 - 1e-6).expand_as(test_frames)  # Bernoulli means
        nll = reconstruction_nll(p, test_frames)  # (N,) nats
        return {"neg_elbo_nats": nll.mean().item(), "recon_nats": nll.mean().item(), "kl_nats": 0.0,
                "psnr_db": psnr(p, test_frames).mean().item()}


RECONSTRUCTION = ReconstructionProtocol()

__all__ = ["GENERATION", "PREDICTION", "RECONSTRUCTION", "STOCHASTIC_PREDICTION", "GenerationProtocol", "Metrics",
           "PredictionProtocol", "RealClips", "ReconstructionProtocol", "StochasticPredictionProtocol"]
