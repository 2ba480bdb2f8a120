"""The book's trained models, one recipe each: ``names()``, ``get(name)``, ``load(name)``.

A chapter trains its model through its recipe and shows the recipe's source
(:func:`show`); the leaderboard (``make bench``) and later chapters load the
same recipe, so each model's training code exists exactly once::

    from vidgen_edu import recipes

    recipes.names()                               # ['conv_vae_balls', ..., 'video_transformer_digits']
    r = recipes.get("convgru_predictor_balls")    # the frozen dataclass: every hyperparameter
    model = recipes.load(r)                       # from the cache, or trained now and cached
    faster = recipes.load(dataclasses.replace(r, steps=Budget(full=100, quick=3)))  # another file

Names say what a model is; ``recipe.chapter`` says where the book teaches it.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn

from .base import Recipe

_REGISTRY: dict[str, Recipe] = {}


def register(recipe: Recipe) -> Recipe:
    """Add a recipe under its ``name``; a second, different recipe under the same name is an error."""
    if not isinstance(recipe, Recipe):
        raise TypeError(f"register() takes a Recipe, got {type(recipe).__name__}")
    old = _REGISTRY.get(recipe.name)
    if old is not None and old != recipe:
        raise ValueError(f"a different recipe is already registered as {recipe.name!r}")
    _REGISTRY[recipe.name] = recipe
    return recipe


def names() -> list[str]:
    """The names of every registered recipe, sorted."""
    return sorted(_REGISTRY)


def get(name: str) -> Recipe:
    """The registered recipe ``name`` (a frozen dataclass; ``dataclasses.replace`` makes a variant)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"no recipe {name!r}; known recipes: {', '.join(names())}") from None


def _resolve(name_or_recipe: str | Recipe) -> Recipe:
    return name_or_recipe if isinstance(name_or_recipe, Recipe) else get(name_or_recipe)


def load(name_or_recipe: str | Recipe, device: torch.device | str | None = None, *,
         retrain: bool = False) -> nn.Module:
    """The trained model of a recipe (or of a recipe's name), in eval mode on ``device``.

    Loaded from the cache when this exact recipe (same fields) was trained before,
    trained now and cached otherwise; ``retrain=True`` always trains.
    """
    return _resolve(name_or_recipe).load_or_train(device, retrain=retrain)


def info(name_or_recipe: str | Recipe) -> dict[str, Any]:
    """What the cached run of a recipe recorded: loss ``history``, ``train_s``, ``device`` (``{}`` if none)."""
    return _resolve(name_or_recipe).info()


def source(name_or_recipe: str | Recipe) -> str:
    """The source code of a recipe's class and of its registered instances' module."""
    return inspect.getsource(inspect.getmodule(type(_resolve(name_or_recipe))))


def show(name_or_recipe: str | Recipe) -> Any:
    """The recipe's module, syntax-highlighted for a notebook (``IPython.display.Code``)."""
    from IPython.display import Code

    return Code(source(name_or_recipe), language="python")


# every recipe module registers its recipes on import
from . import (  # noqa: E402
    convgru_predictor,
    flow_toy,
    frame_vae,
    latent_flow,
    simvp_predictor,
    stochastic_predictor,
    video_gan,
    video_transformer,
)

__all__ = ["Recipe", "get", "info", "load", "names", "register", "show", "source",
           "convgru_predictor", "flow_toy", "frame_vae", "latent_flow", "simvp_predictor", "stochastic_predictor",
           "video_gan", "video_transformer"]
