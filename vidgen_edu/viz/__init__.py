"""Look at and play with video: animations that work on the static website, and ipywidgets.

``vidgen_edu.viz.clips`` draws (``animate``, ``save_gif``, ``compare_grid``,
``compare_strip``, ``frame_strip``, ``plot_losses``); ``vidgen_edu.viz.widgets``
builds interactive players and explorers, each with a static fallback for the
website (``clip_player``, ``explorer``, ``display_with_fallback``);
``vidgen_edu.viz.diagrams`` draws block diagrams of the book's models
(``diagrams.vae()``, ``diagrams.gru_cell()``, ...).
"""

from . import diagrams
from .clips import animate, compare_grid, compare_strip, frame_strip, plot_losses, save_gif
from .widgets import ClipPlayer, Explorer, clip_player, display_with_fallback, explorer, with_fallback

__all__ = [
    "ClipPlayer",
    "Explorer",
    "animate",
    "clip_player",
    "compare_grid",
    "compare_strip",
    "diagrams",
    "display_with_fallback",
    "explorer",
    "frame_strip",
    "plot_losses",
    "save_gif",
    "with_fallback",
]
