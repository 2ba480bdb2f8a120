"""Saving and loading trained weights safely, and reusing a model across chapters.

Checkpoints hold ``state_dict``s only (tensors, never pickled code), are
written atomically (a temporary file renamed into place, so an interrupted
save never leaves half a file behind) and are read with ``weights_only=True``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
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


def fingerprint(config: object) -> str:
    """A short, stable hash of a configuration: 12 hex digits of the SHA-256 of its canonical JSON.

    ``config`` is a dataclass, a mapping, or any JSON-serializable value (nested dataclasses,
    tuples and mappings are allowed). Two configurations with equal fields give the same
    fingerprint in every process; changing any field changes it. The recipes key their
    cache files with it, so a changed hyperparameter can never be served a stale model.
    """

    def canonical(value: object) -> object:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {"__class__": type(value).__name__,
                    **{f.name: canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}}
        if isinstance(value, Mapping):
            return {str(k): canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
        if isinstance(value, (list, tuple)):
            return [canonical(v) for v in value]
        if isinstance(value, float) and not math.isfinite(value):
            return repr(value)
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        raise TypeError(f"fingerprint: cannot hash a {type(value).__name__} ({value!r}); use plain values")

    text = json.dumps(canonical(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def cache_path(name: str, config: object = None, *, directory: str | os.PathLike | None = None) -> Path:
    """The cache file of a model: ``<cache_dir>/<name>-<fingerprint(config)>[-quick].pt``.

    Quick-mode models get their own file, so a few-step CI model never stands in
    for a fully trained one.
    """
    if not name or any(c in name for c in "/\\"):
        raise ValueError(f"name must be a plain file stem, got {name!r}")
    folder = Path(directory) if directory is not None else cache_dir()
    key = config if isinstance(config, str) else fingerprint(config)  # a str is a fingerprint already
    stem = name if config is None else f"{name}-{key}"
    return folder / f"{stem}{'-quick' if is_quick() else ''}.pt"


def read_info(path: str | os.PathLike) -> dict:
    """The JSON written next to a cached checkpoint (``<file>.json``: loss history, training time); ``{}`` if none."""
    info = Path(path).with_suffix(".json")
    try:
        return json.loads(info.read_text())
    except (OSError, ValueError):
        return {}


def cached_train(
    model: nn.Module,
    name: str,
    train_fn: Callable[[nn.Module], object],
    *,
    config: object,
    directory: str | os.PathLike | None = None,
    retrain: bool = False,
) -> nn.Module:
    """Load ``model`` from the cache if it was trained before with the same ``config``, else train and cache it.

    The file is :func:`cache_path` ``(name, config)``: the fingerprint of ``config`` (the
    recipe's fields) is part of the name, so changing any hyperparameter trains anew and
    a stale file is never served. A damaged or mismatched file is retrained and
    overwritten. If ``train_fn`` returns a dict (e.g. ``{"history": [...], "train_s": 12.3}``),
    it is stored beside the checkpoint as JSON and :func:`read_info` gives it back.
    """
    if config is None:
        raise ValueError("cached_train needs the training config (every hyperparameter): it keys the cache file")
    path = cache_path(name, config, directory=directory)
    if path.exists() and not retrain:
        try:
            load_checkpoint(path, model)
            model.eval()
            return model
        except CheckpointError:
            pass  # stale or damaged: fall through and train again
    info = train_fn(model)
    save_checkpoint(model, path)
    if isinstance(info, Mapping):
        write_info(path, info)
    model.eval()
    return model


def write_info(path: str | os.PathLike, info: Mapping) -> Path:
    """Write ``info`` (JSON-serializable) atomically next to the checkpoint ``path``, as ``<file>.json``."""
    target = Path(path).with_suffix(".json")
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(dict(info), f)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
