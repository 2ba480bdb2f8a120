"""Saving and loading trained weights safely, and reusing a model across chapters.

Checkpoints hold ``state_dict``s only (tensors, never pickled code), are
written atomically (a temporary file renamed into place, so an interrupted
save never leaves half a file behind) and are read with ``weights_only=True``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from torch import nn

from .runtime import cache_dir, is_quick


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, damaged, or does not fit the model."""


def save_checkpoint(state: nn.Module | Mapping[str, torch.Tensor], path: str | os.PathLike) -> Path:
    """Write a module's ``state_dict`` (or a state dict) to ``path`` atomically; return the path."""
    if isinstance(state, nn.Module):
        state = state.state_dict()
    if not isinstance(state, Mapping):
        raise TypeError(f"expected an nn.Module or a state dict, got {type(state).__name__}")
    # tensors on the CPU, so a checkpoint written on a GPU loads anywhere
    state = {k: (v.detach().cpu() if isinstance(v, torch.Tensor) else v) for k, v in state.items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # atomic on POSIX and Windows
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(
    path: str | os.PathLike,
    model: nn.Module | None = None,
    map_location: str | torch.device = "cpu",
) -> dict[str, torch.Tensor]:
    """Read a state dict with ``weights_only=True``; if ``model`` is given, load it strictly.

    Raises:
        CheckpointError: the file is missing, is not a readable checkpoint, or its
            keys/shapes do not match ``model``. The model is left untouched then.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises several types for damaged files
        raise CheckpointError(f"checkpoint {path} is damaged or not a PyTorch state dict: {err}") from err
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        raise CheckpointError(f"checkpoint {path} does not hold a state dict")
    if model is not None:
        expected = model.state_dict()
        missing = sorted(set(expected) - set(state))
        unexpected = sorted(set(state) - set(expected))
        wrong = sorted(
            k for k in set(expected) & set(state)
            if isinstance(state[k], torch.Tensor) and state[k].shape != expected[k].shape
        )
        if missing or unexpected or wrong:
            raise CheckpointError(
                f"checkpoint {path} does not fit {type(model).__name__}: "
                f"missing {missing[:5]}, unexpected {unexpected[:5]}, wrong shapes {wrong[:5]}"
            )
        model.load_state_dict(state)
    return state


def cached_train(
    model: nn.Module,
    name: str,
    train_fn: Callable[[nn.Module], object],
    *,
    directory: str | os.PathLike | None = None,
    retrain: bool = False,
) -> nn.Module:
    """Load ``model`` from the cache if it was trained before, else train and cache it.

    The file is ``<cache_dir>/<name>.pt`` (``<name>-quick.pt`` in quick mode, so a
    few-step CI model never stands in for a fully trained one). A later chapter
    calls this with the same ``name`` and the same architecture to reuse the model.
    A damaged or mismatched cache file is retrained and overwritten.
    """
    if not name or any(c in name for c in "/\\"):
        raise ValueError(f"name must be a plain file stem, got {name!r}")
    folder = Path(directory) if directory is not None else cache_dir()
    path = folder / f"{name}{'-quick' if is_quick() else ''}.pt"
    if path.exists() and not retrain:
        try:
            load_checkpoint(path, model)
            model.eval()
            return model
        except CheckpointError:
            pass  # stale or damaged: fall through and train again
    train_fn(model)
    save_checkpoint(model, path)
    model.eval()
    return model
