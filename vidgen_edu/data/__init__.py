"""Rule-driven video: simulators that turn a seed into clips, and torch datasets of them.

Every clip is ``(T, C, H, W)`` float32 in [0, 1], deterministic given its seed.

* :class:`BouncingBalls` — elastic discs in a box (Sutskever et al., 2009), with
  ground-truth states; :func:`collide` is the elastic collision it uses.
* :class:`StochasticBalls` — bouncing balls whose walls throw a ball back in a
  random direction at a random speed, with :meth:`~StochasticBalls.futures`,
  the true distribution of the future (chapter 07).
* :class:`MovingDigits` — Moving-MNIST-style clips of scikit-learn's 8x8
  digits (:func:`digits_8x8`), disjoint writings per split.
* :class:`MovingShapes` — coloured shapes in straight-line motion, RGB, with a
  caption per clip.
* :class:`VideoDataset` / :func:`make_dataset` — fixed, disjoint train / val /
  test splits generated up front; :func:`frames_dataset` for single frames.

Chapter 02 builds these sources step by step (chapter 07 the stochastic balls).
"""

from .balls import BouncingBalls, collide, render_balls, simulate_balls
from .base import VideoSource
from .datasets import (
    FRAME_SETS,
    SOURCES,
    SPLIT_SIZES,
    SPLITS,
    FramesDataset,
    VideoDataset,
    frame_set,
    frames_dataset,
    make_dataset,
    make_source,
)
from .digits import DIGIT_SPLITS, MovingDigits, digits_8x8
from .shapes import COLORS, DIRECTIONS, SHAPES, MovingShapes, caption, parse_caption
from .stochastic_balls import StochasticBalls

__all__ = [
    "COLORS",
    "FRAME_SETS",
    "DIGIT_SPLITS",
    "DIRECTIONS",
    "SHAPES",
    "SOURCES",
    "SPLITS",
    "SPLIT_SIZES",
    "BouncingBalls",
    "FramesDataset",
    "MovingDigits",
    "MovingShapes",
    "StochasticBalls",
    "VideoDataset",
    "VideoSource",
    "caption",
    "collide",
    "digits_8x8",
    "frame_set",
    "frames_dataset",
    "make_dataset",
    "make_source",
    "parse_caption",
    "render_balls",
    "simulate_balls",
]
