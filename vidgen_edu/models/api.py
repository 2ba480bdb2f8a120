"""The contracts every video model of the library keeps: :class:`FramePredictor` and :class:`VideoGenerator`.

Benchmarks, evaluation protocols and later chapters talk to models only
through these two interfaces, so any predictor can be scored by the
``PREDICTION`` protocol and any generator by ``GENERATION``.

The rules:

1. **``forward`` returns logits**, never probabilities: pair them with
   ``binary_cross_entropy_with_logits`` or ``elbo_loss(..., logits=True)``.
   A VAE's ``forward`` returns ``(logits, mu, logvar)`` (chapter 03).
2. **Only** ``rollout`` (a predictor) and ``sample`` (a generator) return
   frames: ``(B, T, C, H, W)`` float tensors in ``[0, 1]``, computed under
   ``torch.no_grad()`` (so their result never requires grad).
3. Randomness comes from a ``generator=`` argument, never from hidden global
   state: the same seed gives the same frames. A predictor's ``rollout`` is
   deterministic (it feeds back probabilities, not samples).
4. One vocabulary for sizes across files: ``channels``, ``size`` (frames are
   ``size × size``), ``width`` (feature channels or token width), ``depth``
   (number of blocks), ``heads``, ``latent_dim``.

Both are :func:`typing.runtime_checkable` protocols: ``isinstance(model,
FramePredictor)`` checks that the attributes and methods exist (not their
signatures; the contract tests check behaviour).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch import Tensor


@runtime_checkable
class FramePredictor(Protocol):
    """Predicts the next frames of a video from its first frames (chapters 04, 05).

    Attributes:
        channels, size: frame shape ``(channels, size, size)``.
    """

    channels: int
    size: int

    def forward(self, frames: Tensor) -> Tensor:
        """Teacher forcing: frames (B, T, C, H, W) → logits (B, T, C, H, W).

        ``logits[:, t]`` predicts frame ``t + 1`` and depends on frames ``0..t`` only
        (causality). Raises ``ValueError`` for a wrongly shaped input.
        """
        ...

    @torch.no_grad()
    def rollout(self, context: Tensor, horizon: int) -> Tensor:
        """Free-running prediction: context (B, Tc, C, H, W) → ``horizon`` frames (B, horizon, C, H, W) in [0, 1]."""
        ...


@runtime_checkable
class VideoGenerator(Protocol):
    """Draws whole clips, unconditionally or from captions (the generative chapters).

    Attributes:
        channels, size: frame shape ``(channels, size, size)``.
        frames: the default clip length ``T``.

    Chapter-specific options (``steps=``, ``guidance=``, ...) are further keyword
    arguments of ``sample`` with defaults, so ``sample(n)`` always works.
    """

    channels: int
    size: int
    frames: int

    @torch.no_grad()
    def sample(self, n: int, T: int | None = None, *, cond: list[str] | None = None,
               generator: torch.Generator | None = None) -> Tensor:
        """``n`` clips (n, T, C, H, W) in [0, 1]; ``T`` defaults to ``self.frames``.

        ``cond`` is ``None`` or ``n`` captions in the grammar of
        :func:`vidgen_edu.data.shapes.caption` (``"a red square moves left"``).
        The same ``generator`` seed gives the same clips.
        """
        ...


def check_samples(x: Tensor, n: int, T: int, channels: int, size: int, name: str = "samples") -> None:
    """Raise ``ValueError`` unless ``x`` is what ``rollout`` / ``sample`` promise.

    That is: a float tensor of shape (n, T, channels, size, size), finite, in ``[0, 1]``,
    not requiring grad. Contract tests call it on every registered model.
    """
    want = (n, T, channels, size, size)
    if not isinstance(x, Tensor) or tuple(x.shape) != want:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{name}: expected frames of shape {want}, got {shape}")
    if not x.is_floating_point():
        raise ValueError(f"{name}: expected float frames, got {x.dtype}")
    if x.requires_grad:
        raise ValueError(f"{name}: frames require grad; rollout and sample must run under torch.no_grad()")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name}: frames contain NaN or inf")
    if x.min() < 0 or x.max() > 1:
        raise ValueError(f"{name}: frames must lie in [0, 1], got [{x.min().item():.4g}, {x.max().item():.4g}]")


__all__ = ["FramePredictor", "VideoGenerator", "check_samples"]
