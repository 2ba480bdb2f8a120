"""Numbers for the prose: a chapter's text quotes measured values through myst-nb's ``glue``, never by hand.

``glue(name, value)`` stores ``value`` for the website, where the prose reads it with
``{glue:text}`name:.2f```; outside the book's build environment (Colab, a bare
Jupyter) myst-nb may be missing and the call simply returns the value. Either way
the number is computed by a cell, so the text cannot drift from the outputs.
"""

from __future__ import annotations

from typing import Any


def glue(name: str, value: Any) -> Any:
    """Store ``value`` under ``name`` for ``{glue:text}`` roles (not displayed); returns ``value``.

    A NumPy scalar or a 0-d tensor is stored as the Python number it holds: myst-nb formats
    ``{glue:text}`name:.2f``` from the value's text, and ``np.float64(1.2)`` is not a number to it.
    """
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):  # np.float64, np.int64, torch.tensor(1.0)
        value = value.item()
    try:
        from myst_nb import glue as _glue
    except ImportError:  # no myst-nb: nothing reads the stored value anyway
        return value
    _glue(name, value, display=False)
    return value


__all__ = ["glue"]
