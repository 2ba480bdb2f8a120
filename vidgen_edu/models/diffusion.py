"""Diffusion and flow matching: the math of chapter 10 as pure functions, and a 2-D toy that runs in seconds.

**Flow matching / rectified flow** (Lipman et al. 2023; Liu et al. 2023). Conventions used
throughout: ``x_0 ~ N(0, I)`` is the *noise*, ``x_1`` the *data*, ``t ∈ [0, 1]``; the path is
``x_t = (1 − t) x_0 + t x_1`` and its conditional velocity ``u_t = x_1 − x_0``.
A network ``v_θ(x_t, t)`` regressed on ``u_t`` learns the marginal velocity
``v(x, t) = E[x_1 − x_0 | x_t = x]``; integrating ``dx/dt = v`` from ``t = 0`` to ``1``
(:func:`euler`, :func:`heun`) carries noise to data. (Some papers, e.g. SD3, run time the
other way, ``t = 1`` noise; here ``t = 1`` is data.)

- :func:`flow_path`, :func:`flow_target`, :func:`sample_t` (logit-normal or uniform ``t``);
- :func:`euler`, :func:`heun`: ODE samplers over any ``velocity(x (B, ...), t (B,)) -> (B, ...)``;
- :func:`flow_to_noise`, :func:`flow_to_data`, :func:`flow_score`: one velocity, three readings
  (ε-prediction, x-prediction, score);
- :func:`guided`: classifier-free guidance.

**DDPM / DDIM** (Ho et al. 2020; Song et al. 2021): :class:`DiffusionSchedule` holds the discrete
schedule ``β_t``, ``t = 0 … steps − 1`` (0-indexed: ``x`` at index ``t`` has been noised ``t + 1``
times), the forward process :meth:`~DiffusionSchedule.q_sample`, the ancestral sampler
(:meth:`~DiffusionSchedule.ddpm_step`, :meth:`~DiffusionSchedule.ddpm_sample`) and the
deterministic DDIM sampler (:meth:`~DiffusionSchedule.ddim_sample`). An ``eps_fn(x, t_long)``
returns the predicted noise ``ε̂`` of the same shape as ``x``.

**The 2-D toy**: :class:`GaussianMixture2D` (a ring of Gaussians) with its *exact* marginal
velocity, and :class:`ToyVelocityNet`, the small MLP that the recipe ``flow_matching_toy``
trains to match it.

Every function is device-agnostic: tensors follow the input's device and dtype. Gradients
are the caller's business (wrap samplers in ``torch.no_grad()`` yourself).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from .blocks import sinusoidal_encoding

#: a velocity field: ``velocity(x (B, ...), t (B,)) -> v (B, ...)``
Velocity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
#: a noise predictor of DDPM/DDIM: ``eps_fn(x (B, ...), t (B,) long) -> ε̂ (B, ...)``
EpsFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _per_sample(t: torch.Tensor | float, x: torch.Tensor) -> torch.Tensor:
    """``t`` (a number, 0-d, or (B,)) as a tensor (B, 1, ..., 1) that broadcasts over ``x`` (B, ...)."""
    t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
    if t.dim() == 0:
        t = t.expand(x.shape[0])
    if t.shape != (x.shape[0],):
        raise ValueError(f"t must be a number or have shape (B,) = ({x.shape[0]},), got {tuple(t.shape)}")
    return t.reshape(-1, *[1] * (x.dim() - 1))


# -- flow matching -----------------------------------------------------------------------------
def flow_path(x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """The point at time ``t`` on the straight line from noise ``x0`` to data ``x1``: (B, ...) → (B, ...).

    ``t`` has shape (B,) (one time per sample) or is a number. Chapter 10, the flow path.
    """
    if x0.shape != x1.shape:
        raise ValueError(f"x0 and x1 must have the same shape, got {tuple(x0.shape)} and {tuple(x1.shape)}")
    t = _per_sample(t, x1)  # (B, 1, ..., 1)
    # x_t = (1 − t) x_0 + t x_1
    return (1 - t) * x0 + t * x1


def flow_target(x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
    """The conditional velocity ``u_t = d x_t / dt = x_1 − x_0`` (the same for every ``t``): (B, ...)."""
    if x0.shape != x1.shape:
        raise ValueError(f"x0 and x1 must have the same shape, got {tuple(x0.shape)} and {tuple(x1.shape)}")
    return x1 - x0


def sample_t(n: int, generator: torch.Generator | None = None, logit_normal: bool = True,
             device: torch.device | str | None = None) -> torch.Tensor:
    """``n`` training times in (0, 1): (n,), float32, on ``device`` (default: the generator's, else CPU).

    ``logit_normal=True``: ``t = sigmoid(z)``, ``z ~ N(0, 1)``, which spends more training on the
    middle of the path, where the velocity is hardest to guess (Esser et al. 2024, SD3; minRF).
    Otherwise ``t ~ U(0, 1)``.
    """
    if device is None:
        device = generator.device if generator is not None else "cpu"
    if logit_normal:
        # t = σ(z), z ~ N(0, 1)
        return torch.sigmoid(torch.randn(n, generator=generator, device=device))
    return torch.rand(n, generator=generator, device=device)


def _integrate(velocity: Velocity, x: torch.Tensor, steps: int, t0: float, t1: float, trajectory: bool,
               second_order: bool) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")

    def v(x: torch.Tensor, t: float) -> torch.Tensor:
        out = velocity(x, torch.full((x.shape[0],), t, dtype=x.dtype, device=x.device))
        if out.shape != x.shape:
            raise ValueError(f"velocity must return the shape of x {tuple(x.shape)}, got {tuple(out.shape)}")
        return out

    h = (t1 - t0) / steps
    states = [x]
    for k in range(steps):
        t = t0 + k * h
        vk = v(x, t)
        # Euler: x_{k+1} = x_k + h v(x_k, t_k)
        x_next = x + h * vk
        if second_order:
            # Heun: x_{k+1} = x_k + h/2 (v(x_k, t_k) + v(x̃_{k+1}, t_{k+1})), x̃ the Euler step
            x_next = x + 0.5 * h * (vk + v(x_next, t + h))
        x = x_next
        if trajectory:
            states.append(x)
    return (x, torch.stack(states)) if trajectory else x


def euler(velocity: Velocity, x: torch.Tensor, steps: int, t0: float = 0.0, t1: float = 1.0,
          trajectory: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Integrate ``dx/dt = velocity(x, t)`` from ``t0`` to ``t1`` in ``steps`` equal Euler steps.

    ``x`` (B, ...) is the state at ``t0``; returns the state at ``t1`` (B, ...), and with
    ``trajectory=True`` also every state (steps + 1, B, ...). Global error ``O(1/steps)``;
    ``steps`` network evaluations. Chapter 10, sampling.
    """
    return _integrate(velocity, x, steps, t0, t1, trajectory, second_order=False)


def heun(velocity: Velocity, x: torch.Tensor, steps: int, t0: float = 0.0, t1: float = 1.0,
         trajectory: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Heun's second-order method (explicit trapezoid): an Euler predictor, then the mean of both slopes.

    Shapes as :func:`euler`. Global error ``O(1/steps²)`` for ``2 · steps`` evaluations. Every step,
    the last included, is a full Heun step, so the velocity is evaluated at ``t1`` itself: fine for
    a flow velocity (finite at ``t = 1``); a score-based field that divides by ``1 − t``
    (:func:`flow_score`) should stop short of 1 (EDM instead ends with a plain Euler step).
    """
    return _integrate(velocity, x, steps, t0, t1, trajectory, second_order=True)


def flow_to_noise(x: torch.Tensor, t: torch.Tensor | float, v: torch.Tensor) -> torch.Tensor:
    """The noise prediction ``E[x_0 | x_t = x] = x − t v`` from a velocity ``v``: (B, ...).

    From ``x_t = x_0 + t (x_1 − x_0)`` take ``E[· | x_t = x]``: ``x = E[x_0|x] + t v``, since
    ``v = E[x_1 − x_0 | x]``. This is the ε of DDPM, in the flow's time.
    """
    # E[x_0 | x_t] = x_t − t v
    return x - _per_sample(t, x) * v


def flow_to_data(x: torch.Tensor, t: torch.Tensor | float, v: torch.Tensor) -> torch.Tensor:
    """The data prediction ``E[x_1 | x_t = x] = x + (1 − t) v`` from a velocity ``v``: (B, ...).

    From ``x_t = x_1 − (1 − t)(x_1 − x_0)``: ``x = E[x_1|x] − (1 − t) v``. It is where one Euler
    step of size ``1 − t`` would land: the model's current guess of the final sample.
    """
    # E[x_1 | x_t] = x_t + (1 − t) v
    return x + (1 - _per_sample(t, x)) * v


def flow_score(x: torch.Tensor, t: torch.Tensor | float, v: torch.Tensor) -> torch.Tensor:
    """The score ``∇ log p_t(x) = −(x − t v) / (1 − t)`` from a velocity ``v``, for ``t < 1``: (B, ...).

    Given ``x_1``, ``x_t ~ N(t x_1, (1 − t)² I)``, whose score is ``−(x − t x_1)/(1 − t)² =
    −x_0/(1 − t)``. The marginal score is its posterior mean (Tweedie / Vincent 2011):
    ``∇ log p_t(x) = −E[x_0 | x_t = x] / (1 − t) = −(x − t v)/(1 − t)``.
    """
    tt = _per_sample(t, x)
    # ∇ log p_t(x) = −(x − t v) / (1 − t)
    return -(x - tt * v) / (1 - tt)


def guided(cond_out: torch.Tensor, uncond_out: torch.Tensor, scale: float) -> torch.Tensor:
    """Classifier-free guidance (Ho & Salimans 2022): ``uncond + scale · (cond − uncond)``.

    Works on velocities, ε or scores alike (they are affine in each other at fixed ``x, t``).
    ``scale = 0`` is the unconditional model, ``1`` the conditional one (both returned exactly:
    ``torch.lerp`` evaluates from the nearer end), ``> 1`` extrapolates past it.
    """
    if cond_out.shape != uncond_out.shape:
        raise ValueError(f"cond_out and uncond_out must have the same shape, "
                         f"got {tuple(cond_out.shape)} and {tuple(uncond_out.shape)}")
    # ṽ = v_∅ + w (v_c − v_∅)
    return torch.lerp(uncond_out, cond_out, float(scale))


# -- DDPM / DDIM -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class DiffusionSchedule:
    """The discrete forward process ``q(x_t | x_{t−1}) = N(√(1 − β_t) x_{t−1}, β_t I)``, t = 0 … steps − 1.

    ``kind="linear"``: ``β_t`` evenly spaced (Ho et al. 2020), from ``beta_start`` to ``beta_end``
    when ``steps = 1000`` (their setting) and scaled by ``1000 / steps`` otherwise (Nichol & Dhariwal
    2021), so that ``ᾱ_{T−1} ≈ 0`` whatever the length: unscaled, 300 steps would end at
    ``ᾱ ≈ 0.05``, far from the pure noise the samplers start from.
    ``kind="cosine"``: ``ᾱ`` follows ``cos²`` (Nichol & Dhariwal 2021; the betas are ignored).
    Every ``β_t`` is at most 0.999.
    Tensors are computed in float64 and returned as float32 on the CPU; the samplers move them
    to the input's device and dtype. Chapter 10, DDPM.
    """

    steps: int = 300
    kind: str = "linear"
    beta_start: float = 1e-4
    beta_end: float = 0.02

    def __post_init__(self) -> None:
        if not isinstance(self.steps, int) or isinstance(self.steps, bool) or self.steps < 1:
            raise ValueError(f"steps must be a positive int, got {self.steps!r}")
        if self.kind not in ("linear", "cosine"):
            raise ValueError(f"unknown schedule kind {self.kind!r}: use 'linear' or 'cosine'")
        if not 0 < self.beta_start <= self.beta_end < 1:
            raise ValueError(f"need 0 < beta_start <= beta_end < 1, got {self.beta_start}, {self.beta_end}")

    def _betas64(self) -> torch.Tensor:
        if self.kind == "linear":
            # β from beta_start to beta_end for T = 1000 steps; a shorter chain takes bigger steps
            # (β · 1000/T, as improved-diffusion does) so that ᾱ_{T−1} ≈ 0 for every T
            scale = 1000 / self.steps
            betas = torch.linspace(self.beta_start * scale, self.beta_end * scale, self.steps, dtype=torch.float64)
            return betas.clamp(max=0.999)
        # ᾱ(s) = f(s)/f(0), f(s) = cos²((s + 0.008)/1.008 · π/2), s = t/T;  β_t = 1 − ᾱ(t+1)/ᾱ(t), at most 0.999
        s = torch.arange(self.steps + 1, dtype=torch.float64) / self.steps
        f = torch.cos((s + 0.008) / 1.008 * math.pi / 2) ** 2
        return (1 - f[1:] / f[:-1]).clamp(max=0.999)

    @property
    def betas(self) -> torch.Tensor:
        """``β_t`` (steps,)."""
        return self._betas64().float()

    @property
    def alphas(self) -> torch.Tensor:
        """``α_t = 1 − β_t`` (steps,)."""
        return (1 - self._betas64()).float()

    @property
    def alpha_bar(self) -> torch.Tensor:
        """``ᾱ_t = ∏_{s ≤ t} α_s`` (steps,): the share of signal variance left at step t; decreasing in (0, 1)."""
        return torch.cumprod(1 - self._betas64(), 0).float()

    def _at(self, values: torch.Tensor, t: torch.Tensor | int, x: torch.Tensor) -> torch.Tensor:
        """``values[t]`` as (B, 1, ..., 1) on ``x``'s device and dtype, after checking ``t``."""
        t = torch.as_tensor(t, device=x.device)
        if t.dtype.is_floating_point or t.dtype == torch.bool:
            raise ValueError(f"t must hold integer steps, got dtype {t.dtype}")
        if t.dim() == 0:
            t = t.expand(x.shape[0])
        if t.shape != (x.shape[0],):
            raise ValueError(f"t must be an int or have shape (B,) = ({x.shape[0]},), got {tuple(t.shape)}")
        if (t < 0).any() or (t >= self.steps).any():
            raise ValueError(f"t must lie in [0, {self.steps - 1}], got values in "
                             f"[{int(t.min())}, {int(t.max())}]")
        return values.to(x.device, x.dtype)[t.long()].reshape(-1, *[1] * (x.dim() - 1))

    def snr(self, t: torch.Tensor | int) -> torch.Tensor:
        """The signal-to-noise ratio ``ᾱ_t / (1 − ᾱ_t)`` at integer steps ``t`` (float32, t's shape)."""
        t = torch.as_tensor(t)
        if t.dtype.is_floating_point or ((t < 0) | (t >= self.steps)).any():
            raise ValueError(f"t must hold integer steps in [0, {self.steps - 1}], got {t}")
        a = torch.cumprod(1 - self._betas64(), 0)[t.long()]
        # SNR(t) = ᾱ_t / (1 − ᾱ_t)
        return (a / (1 - a)).float()

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor | int, noise: torch.Tensor) -> torch.Tensor:
        """A draw of ``x_t ~ q(x_t | x_0)``: x0 (B, ...), t (B,) long, noise ε (B, ...) → x_t (B, ...)."""
        if noise.shape != x0.shape:
            raise ValueError(f"noise must have the shape of x0 {tuple(x0.shape)}, got {tuple(noise.shape)}")
        a = self._at(self.alpha_bar, t, x0)  # (B, 1, ..., 1)
        # x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def ddpm_step(self, eps: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor | int,
                  generator: torch.Generator | None = None) -> torch.Tensor:
        """One ancestral step ``x_t → x_{t−1} ~ p(x_{t−1} | x_t)`` given the predicted noise ``eps``: (B, ...).

        The mean is the posterior mean of ``q(x_{t−1} | x_t, x_0)`` with ``x_0`` read from ``ε``,
        the variance the posterior's ``β̃_t``; no noise is added at ``t = 0`` (the last step).
        """
        if eps.shape != x_t.shape:
            raise ValueError(f"eps must have the shape of x_t {tuple(x_t.shape)}, got {tuple(eps.shape)}")
        beta, alpha, a = (self._at(v, t, x_t) for v in (self.betas, self.alphas, self.alpha_bar))
        a_prev = self._at(torch.cat([torch.ones(1), self.alpha_bar[:-1]]), t, x_t)  # ᾱ_{t−1}, ᾱ_{−1} = 1
        # μ = 1/√α_t (x_t − β_t/√(1 − ᾱ_t) ε̂)
        mean = (x_t - beta / (1 - a).sqrt() * eps) / alpha.sqrt()
        # β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t)   (0 at t = 0)
        var = beta * (1 - a_prev) / (1 - a)
        z = torch.randn(x_t.shape, generator=generator, device=x_t.device, dtype=x_t.dtype)
        return mean + var.sqrt() * z

    def ddpm_sample(self, eps_fn: EpsFn, shape: tuple[int, ...], generator: torch.Generator | None = None,
                    device: torch.device | str | None = None) -> torch.Tensor:
        """Ancestral sampling: ``x_{T−1} ~ N(0, I)`` then ``steps`` calls of :meth:`ddpm_step`: (B, ...)."""
        device = device if device is not None else (generator.device if generator is not None else "cpu")
        x = torch.randn(shape, generator=generator, device=device)
        for t in reversed(range(self.steps)):
            tt = torch.full((shape[0],), t, dtype=torch.long, device=x.device)
            x = self.ddpm_step(eps_fn(x, tt), x, tt, generator)
        return x

    def ddim_sample(self, eps_fn: EpsFn, shape: tuple[int, ...], steps: int = 50,
                    generator: torch.Generator | None = None, eta: float = 0.0,
                    device: torch.device | str | None = None) -> torch.Tensor:
        """DDIM (Song et al. 2021) on ``steps`` evenly spaced steps from ``T − 1`` down to 0: (B, ...).

        ``eta = 0`` is deterministic given the starting noise (an ODE sampler); ``eta = 1`` adds
        DDPM's amount of noise. The last step goes to ``ᾱ = 1``, i.e. returns the predicted ``x_0``.
        """
        if not isinstance(steps, int) or isinstance(steps, bool) or not 1 <= steps <= self.steps:
            raise ValueError(f"steps must be an int in [1, {self.steps}], got {steps!r}")
        if not 0.0 <= eta <= 1.0:
            raise ValueError(f"eta must be in [0, 1], got {eta}")
        device = device if device is not None else (generator.device if generator is not None else "cpu")
        x = torch.randn(shape, generator=generator, device=device)
        alpha_bar = self.alpha_bar.to(device, x.dtype)
        # τ: T − 1 = τ_0 > τ_1 > … > τ_{S−1} = 0, rounded half up so that they stay distinct
        taus = torch.floor(torch.linspace(self.steps - 1, 0, steps, dtype=torch.float64) + 0.5).long().tolist()
        for i, t in enumerate(taus):
            a = alpha_bar[t]
            a_prev = alpha_bar[taus[i + 1]] if i + 1 < steps else torch.ones((), device=device, dtype=x.dtype)
            eps = eps_fn(x, torch.full((shape[0],), t, dtype=torch.long, device=device))
            # x̂_0 = (x_t − √(1 − ᾱ_t) ε̂) / √ᾱ_t
            x0 = (x - (1 - a).sqrt() * eps) / a.sqrt()
            # σ = η √((1 − ᾱ_prev)/(1 − ᾱ_t)) √(1 − ᾱ_t/ᾱ_prev)
            sigma = eta * ((1 - a_prev) / (1 - a) * (1 - a / a_prev)).clamp(min=0).sqrt()
            # x_prev = √ᾱ_prev x̂_0 + √(1 − ᾱ_prev − σ²) ε̂ + σ z
            x = a_prev.sqrt() * x0 + (1 - a_prev - sigma**2).clamp(min=0).sqrt() * eps
            if eta > 0:
                x = x + sigma * torch.randn(shape, generator=generator, device=device, dtype=x.dtype)
        return x


# -- the 2-D toy -------------------------------------------------------------------------------------
def circle_means(k: int = 8, radius: float = 3.0) -> tuple[tuple[float, float], ...]:
    """``k`` points evenly spaced on a circle, starting at ``(radius, 0)``: the default mixture's means."""
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an int >= 1, got {k!r}")
    return tuple((radius * math.cos(2 * math.pi * i / k), radius * math.sin(2 * math.pi * i / k)) for i in range(k))


@dataclass(frozen=True)
class GaussianMixture2D:
    """An equal-weight mixture of ``K`` isotropic Gaussians ``N(μ_k, σ² I)`` in the plane (chapter 10's toy).

    Its flow from ``N(0, I)`` along ``x_t = (1 − t) x_0 + t x_1`` has a closed-form velocity
    (:meth:`marginal_velocity`), so a trained network can be checked against the truth.
    """

    means: tuple[tuple[float, float], ...] = circle_means(8, 3.0)
    std: float = 0.3

    def __post_init__(self) -> None:
        if len(self.means) < 1 or any(len(m) != 2 for m in self.means):
            raise ValueError(f"means must be a non-empty sequence of (x, y) pairs, got {self.means!r}")
        if not self.std > 0:
            raise ValueError(f"std must be > 0, got {self.std}")

    @property
    def num_components(self) -> int:
        return len(self.means)

    def mu(self, like: torch.Tensor | None = None) -> torch.Tensor:
        """The means (K, 2), on ``like``'s device and dtype (default float32 on the CPU)."""
        kw = {"device": like.device, "dtype": like.dtype} if like is not None else {"dtype": torch.float32}
        return torch.tensor(self.means, **kw)

    def sample(self, n: int, generator: torch.Generator | None = None,
               device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` draws: points x (n, 2) float32 and their components ``labels`` (n,) long."""
        device = device if device is not None else (generator.device if generator is not None else "cpu")
        labels = torch.randint(self.num_components, (n,), generator=generator, device=device)
        noise = torch.randn(n, 2, generator=generator, device=device)
        return self.mu(noise)[labels] + self.std * noise, labels

    def _check(self, x: torch.Tensor) -> None:
        if x.dim() != 2 or x.shape[1] != 2:
            raise ValueError(f"x must have shape (B, 2), got {tuple(x.shape)}")

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """``log p(x) = log Σ_k (1/K) N(x; μ_k, σ² I)`` for points x (B, 2) → (B,)."""
        self._check(x)
        d2 = ((x[:, None, :] - self.mu(x)) ** 2).sum(-1)  # (B, K): ‖x − μ_k‖²
        # log N(x; μ, σ² I) = −‖x − μ‖²/(2σ²) − log(2πσ²)   (in 2-D)
        log_n = -d2 / (2 * self.std**2) - math.log(2 * math.pi * self.std**2)
        return torch.logsumexp(log_n, dim=1) - math.log(self.num_components)

    def nearest(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Distance to the nearest mean (B,) and its index (B,), for points x (B, 2)."""
        self._check(x)
        return torch.cdist(x, self.mu(x)).min(dim=1)

    def marginal_velocity(self, x: torch.Tensor, t: torch.Tensor | float,
                          label: torch.Tensor | None = None) -> torch.Tensor:
        """The exact velocity ``v(x, t) = E[x_1 − x_0 | x_t = x]`` from ``N(0, I)`` to this mixture: (B, 2).

        ``x`` (B, 2), ``t`` (B,) or a number in [0, 1]; with ``label`` (B,) long, the velocity of the
        flow to that one component (the class-conditional field). Given component ``k``,
        ``x_t ~ N(t μ_k, s_t² I)`` with ``s_t² = (1 − t)² + t² σ²``, and (Gaussian conditioning)

            E[x_1 | x_t, k] = μ_k + (t σ² / s_t²)(x − t μ_k),   E[x_0 | x_t, k] = ((1 − t)/s_t²)(x − t μ_k).

        The posterior weight of ``k`` is ``w_k(x) ∝ N(x; t μ_k, s_t² I)`` and ``v = Σ_k w_k(x)
        (E[x_1|x_t,k] − E[x_0|x_t,k])``. No division by ``1 − t``: valid on all of [0, 1].
        """
        self._check(x)
        t = _per_sample(t, x)  # (B, 1)
        mu = self.mu(x)  # (K, 2)
        # s_t² = (1 − t)² + t² σ²
        s2 = (1 - t) ** 2 + t**2 * self.std**2  # (B, 1)
        r = x[:, None, :] - t[:, :, None] * mu  # (B, K, 2): x − t μ_k
        # E[x_1 | x_t, k] − E[x_0 | x_t, k] = μ_k + ((t σ² − (1 − t)) / s_t²)(x − t μ_k)
        v_k = mu + ((t * self.std**2 - (1 - t)) / s2)[:, :, None] * r  # (B, K, 2)
        if label is None:
            # w_k(x) = softmax_k(−‖x − t μ_k‖² / (2 s_t²))   (equal weights and equal variances cancel)
            w = torch.softmax(-(r**2).sum(-1) / (2 * s2), dim=1)  # (B, K)
        else:
            if label.shape != (x.shape[0],):
                raise ValueError(f"label must have shape (B,) = ({x.shape[0]},), got {tuple(label.shape)}")
            if (label < 0).any() or (label >= self.num_components).any():
                raise ValueError(f"labels must lie in [0, {self.num_components - 1}]")
            w = nn.functional.one_hot(label.long(), self.num_components).to(x.dtype)  # (B, K)
        return (w[:, :, None] * v_k).sum(1)  # (B, 2)


class ToyVelocityNet(nn.Module):
    """An MLP velocity ``v_θ(x, t, y)`` for 2-D points (chapter 10): x (B, 2), t (B,), label (B,) → (B, 2).

    The input is the point, a sinusoidal embedding of ``t`` and, with ``num_classes > 0``, a
    learned class embedding; index ``num_classes`` is the null class "no condition" (also what
    ``label=None`` means), so one network gives both terms of classifier-free guidance.
    ``depth`` hidden layers of ``width`` units with SiLU.
    """

    def __init__(self, num_classes: int = 0, width: int = 128, depth: int = 3, time_dim: int = 32,
                 class_dim: int = 32) -> None:
        super().__init__()
        if num_classes < 0 or depth < 1:
            raise ValueError(f"need num_classes >= 0 and depth >= 1, got {num_classes}, {depth}")
        self.num_classes, self.time_dim = num_classes, time_dim
        self.embed = nn.Embedding(num_classes + 1, class_dim) if num_classes > 0 else None
        layers: list[nn.Module] = []
        d_in = 2 + time_dim + (class_dim if num_classes > 0 else 0)
        for _ in range(depth):
            layers += [nn.Linear(d_in, width), nn.SiLU()]
            d_in = width
        layers.append(nn.Linear(width, 2))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, t: torch.Tensor, label: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != 2:
            raise ValueError(f"ToyVelocityNet expects x of shape (B, 2), got {tuple(x.shape)}")
        t = _per_sample(t, x).reshape(-1)  # (B,)
        # time as a position: sinusoids of 1000 t (t ∈ [0, 1]), like a DDPM step index
        parts = [x, sinusoidal_encoding(t * 1000, self.time_dim).to(x.dtype)]  # (B, 2), (B, time_dim)
        if self.embed is not None:
            if label is None:
                label = torch.full((x.shape[0],), self.num_classes, dtype=torch.long, device=x.device)
            if label.shape != (x.shape[0],):
                raise ValueError(f"label must have shape (B,) = ({x.shape[0]},), got {tuple(label.shape)}")
            parts.append(self.embed(label))  # (B, class_dim)
        elif label is not None:
            raise ValueError("this ToyVelocityNet is unconditional (num_classes=0): pass label=None")
        return self.net(torch.cat(parts, dim=1))  # (B, 2)
