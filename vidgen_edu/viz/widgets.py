"""Things to play with: a clip player, a generic explorer, and static fallbacks for the website.

- :func:`clip_player` — play/pause, frame slider and speed control over a clip
  or a batch (a rollout scrubber).
- :func:`explorer` — any function of a few controls that returns an image
  (latent sliders, attention maps, ...), redrawn whenever a control moves.
- :func:`with_fallback` / :func:`display_with_fallback` — a widget plus the
  static picture the website shows instead.

How the static fallback works
-----------------------------
A live widget needs a running Python kernel; the Jupyter Book website has none.
We therefore display **one output that carries two representations**: the
widget view (``application/vnd.jupyter.widget-view+json``) *and* a
self-contained ``text/html`` fallback (an :func:`~vidgen_edu.viz.clips.animate`
player, a figure, an image) with the caption "Static preview ...". Each
frontend picks the richest representation it can honour:

- JupyterLab, Notebook 7, VS Code and Colab render the live widget (the widget
  view ranks first there) and never show the fallback;
- the website renders the HTML fallback, because the book's ``_config.yml`` (already set)
  ranks widget views after ``text/html`` for the html builder::

      sphinx:
        config:
          nb_mime_priority_overrides:
            - ["html", "application/vnd.jupyter.widget-view+json", 35]

  (myst-nb's default ranks widget views first and would draw the widget from
  the state saved at execution time: it looks alive, but moving a slider does
  nothing since no Python runs behind it);
- GitHub / nbviewer and frontends without ipywidgets show the fallback too.

``mode="both"`` in :func:`display_with_fallback` instead displays the widget
and, below it, the fallback as a second output: every frontend then shows the
static preview (useful where the config cannot be changed).

Widgets are plain ipywidgets: creating and driving them needs no frontend, so
headless execution (nbval, jupyter-book) never blocks. The classes expose
their parts (``player.slider``, ``player.image``, ...) so tests and readers can
drive them from Python. Chapter 02 (Rule-driven generation) shows them in action.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np
import torch
from IPython.display import display
from matplotlib.figure import Figure

from .clips import _tile, _upscale, animate, as_video, png_bytes, to_uint8_video

__all__ = [
    "STATIC_CAPTION",
    "ClipPlayer",
    "Explorer",
    "WithFallback",
    "clip_player",
    "display_with_fallback",
    "explorer",
    "fallback_html",
    "image_png",
    "with_fallback",
]

WIDGET_VIEW_MIMETYPE = "application/vnd.jupyter.widget-view+json"
STATIC_CAPTION = (
    "Static preview: the live widget needs a running Python kernel "
    "(open this chapter as a notebook in JupyterLab or Colab to play with it)."
)


# --------------------------------------------------------------------------- images


def _figure_png(fig: Figure, dpi: int = 100) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)  # a rendered figure must not pop up again as a stray static output
    return buf.getvalue()


def _image_u8(image: Any, cmap: str | None, vmin: float | None, vmax: float | None) -> np.ndarray:
    """One image → ``uint8`` ``(H, W)`` / ``(H, W, 3)`` / ``(H, W, 4)``.

    Accepts ``(H, W)``, channels-last ``(H, W, C)`` (numpy/matplotlib style) or
    channels-first ``(C, H, W)`` (torch style), C in {1, 3} (or 4 channels-last).
    """
    if isinstance(image, torch.Tensor):
        arr = image.detach().to("cpu", torch.float32).numpy()
    else:
        arr = np.asarray(image)
        arr = arr.astype(np.float32) / 255.0 if arr.dtype == np.uint8 else arr.astype(np.float32)
    if arr.ndim == 3 and arr.shape[-1] in (1, 3, 4):
        pass  # (H, W, C)
    elif arr.ndim == 3 and arr.shape[0] in (1, 3):
        arr = arr.transpose(1, 2, 0)  # (C, H, W) -> (H, W, C)
    elif arr.ndim != 2:
        raise ValueError(
            f"an image must have shape (H, W), (H, W, C) or (C, H, W) with C = 1 or 3, got {tuple(arr.shape)}"
        )
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]  # (H, W)
    arr = np.nan_to_num(arr, nan=0.0)
    lo = float(arr.min()) if vmin is None else vmin
    hi = float(arr.max()) if vmax is None else vmax
    # x -> (x - vmin) / (vmax - vmin), clipped to [0, 1]
    arr = np.clip((arr - lo) / (hi - lo if hi > lo else 1.0), 0.0, 1.0)
    if cmap is not None:
        if arr.ndim != 2:
            raise ValueError(f"cmap needs a single-channel image, got shape {tuple(arr.shape)}")
        import matplotlib

        arr = matplotlib.colormaps[cmap](arr)[..., :3]  # (H, W, 3)
    return np.round(arr * 255.0).astype(np.uint8)


def image_png(
    image: Any,
    scale: int = 4,
    *,
    cmap: str | None = None,
    vmin: float | None = 0.0,
    vmax: float | None = 1.0,
) -> bytes:
    """PNG bytes of an image: a numpy array / tensor (upscaled ``scale`` times, nearest-neighbour) or a Figure.

    Arrays are ``(H, W)``, ``(H, W, C)`` or ``(C, H, W)``; values are mapped
    from ``[vmin, vmax]`` to ``[0, 1]`` (``None`` = the image's own min/max) and
    a single-channel image gets the matplotlib colormap ``cmap`` if given.
    A matplotlib Figure is rendered as is (and closed).
    """
    if isinstance(image, Figure):
        return _figure_png(image)
    if int(scale) != scale or scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale}")
    u8 = _image_u8(image, cmap, vmin, vmax)
    if u8.ndim == 2:
        u8 = u8[..., None]  # (H, W, 1)
    return png_bytes(_upscale(u8, int(scale)))


# --------------------------------------------------------------------------- fallbacks


def fallback_html(fallback: Any, caption: str | None = STATIC_CAPTION) -> str:
    """Self-contained HTML for a static fallback, with a caption.

    ``fallback`` may be an HTML string, an ``IPython.display.HTML`` (e.g. from
    ``animate``) or anything with ``_repr_html_``, a matplotlib Figure, a video
    ``(T, C, H, W)`` / ``(B, T, C, H, W)`` (→ :func:`animate`), an image
    (→ ``<img>``), or a zero-argument callable returning one of these (computed
    only when the output is displayed).
    """
    if isinstance(fallback, str):
        body = fallback
    elif isinstance(fallback, Figure):
        body = _img_tag(_figure_png(fallback), _figure_alt(fallback))
    elif isinstance(fallback, (torch.Tensor, np.ndarray)):
        body = animate(fallback).data if fallback.ndim in (4, 5) else _img_tag(image_png(fallback))
    elif hasattr(fallback, "_repr_html_"):
        body = fallback._repr_html_() or ""
    elif callable(fallback):
        return fallback_html(fallback(), caption)
    else:
        raise TypeError(
            "fallback must be HTML (str or IPython HTML), a matplotlib Figure, a video or image "
            f"(tensor/array), or a callable returning one; got {type(fallback).__name__}"
        )
    if caption:
        body += (
            '<div class="vidgen-static-caption" style="font-size:12px;font-style:italic;'
            f'opacity:.75;margin-top:2px">{html.escape(caption)}</div>'
        )
    return f'<div class="vidgen-static-fallback">{body}</div>'


def _figure_alt(fig: Figure) -> str:
    """Alt text for a figure drawn as a widget's fallback: its titles, or what it is."""
    titles = [t for t in [fig.get_suptitle(), *(a.get_title() for a in fig.axes)] if t]
    return "Static view of the interactive figure" + (f": {'; '.join(titles)}" if titles else " at its first setting")


def _img_tag(png: bytes, alt: str = "Static view of the interactive output at its first setting") -> str:
    b64 = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}" style="max-width:100%">'


#: ipywidgets 7 (Colab ships 7.7.1) displays widgets through ``_ipython_display_``, not ``_repr_mimebundle_``
IPYWIDGETS_7 = not hasattr(widgets.DOMWidget, "_repr_mimebundle_")


def _widget_view(widget: widgets.Widget, **kwargs: Any) -> dict[str, Any]:
    """The mime bundle of the widget's live view, from ipywidgets 8's method or as ipywidgets 7 builds it."""
    if not IPYWIDGETS_7:
        return dict(widgets.DOMWidget._repr_mimebundle_(widget, **kwargs) or {})
    view = {"version_major": 2, "version_minor": 0, "model_id": widget.model_id}
    return {"text/plain": repr(widget), "application/vnd.jupyter.widget-view+json": view}


def _bundle(widget: widgets.Widget, html_fallback: Callable[[], str], **kwargs: Any) -> dict[str, Any] | None:
    """The widget's own mime bundle plus a ``text/html`` fallback."""
    if widget.comm is None:  # a closed widget has no view left: show the fallback alone
        return {"text/plain": repr(widget), "text/html": html_fallback()}
    data = _widget_view(widget, **kwargs)
    data["text/html"] = html_fallback()
    return data


def _display_bundle(self: widgets.Widget, **kwargs: Any) -> None:
    """ipywidgets 7's display hook for our widgets: publish the same bundle (view + fallback) as under 8."""
    display(self._repr_mimebundle_(), raw=True)


class WithFallback:
    """A widget and its static fallback displayed as **one** output with two representations.

    Live frontends render the widget view; the website (see the module
    docstring for the ``_config.yml`` line) renders ``text/html``.
    """

    def __init__(self, widget: widgets.DOMWidget, fallback: Any, caption: str | None = STATIC_CAPTION):
        self.widget = widget
        self.fallback = fallback
        self.caption = caption
        self._html: str | None = None

    @property
    def html(self) -> str:
        if self._html is None:
            self._html = fallback_html(self.fallback, self.caption)
        return self._html

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any] | None:
        return _bundle(self.widget, lambda: self.html)

    def __repr__(self) -> str:
        return f"WithFallback({self.widget!r})"


def with_fallback(widget: widgets.DOMWidget, fallback: Any, *, caption: str | None = STATIC_CAPTION) -> WithFallback:
    """Wrap ``widget`` with a static ``fallback`` (see :func:`fallback_html`); display the result."""
    if not isinstance(widget, widgets.DOMWidget):
        raise TypeError(f"widget must be an ipywidgets DOMWidget, got {type(widget).__name__}")
    return WithFallback(widget, fallback, caption)


def display_with_fallback(
    widget: widgets.DOMWidget,
    fallback: Any,
    *,
    caption: str | None = STATIC_CAPTION,
    mode: str = "bundle",
) -> None:
    """Display a live widget that degrades to a static ``fallback`` where no kernel runs.

    ``mode="bundle"`` (default): one output carrying both; live frontends show
    only the widget, the website only the fallback. ``mode="both"``: the widget,
    then the fallback as a separate output under it (shown everywhere).
    """
    if mode == "bundle":
        display(with_fallback(widget, fallback, caption=caption))
    elif mode == "both":
        from IPython.display import HTML

        display(widget)
        display(HTML(fallback_html(fallback, caption)))
    else:
        raise ValueError(f"mode must be 'bundle' or 'both', got {mode!r}")


# --------------------------------------------------------------------------- clip player


class ClipPlayer(widgets.VBox):
    """A clip or batch with play/pause, frame slider and speed; built by :func:`clip_player`.

    Parts: ``play`` (``ipywidgets.Play``, jslinked to ``slider``), ``slider``
    (frame index t), ``speed`` (fps, sets ``play.interval``), ``image``
    (``ipywidgets.Image`` showing frame ``slider.value``), ``frames`` (PNG bytes
    per frame). Displayed on its own it carries an :func:`animate` fallback.
    """

    def __init__(
        self,
        video: Any,
        fps: float = 8,
        scale: int = 4,
        titles: Sequence[str] | None = None,
        *,
        ncols: int = 8,
        loop: bool = True,
        fallback: Any = None,
    ):
        if not fps > 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        if int(scale) != scale or scale < 1:
            raise ValueError(f"scale must be a positive integer, got {scale}")
        batch = to_uint8_video(video)  # (B, T, H, W, C)
        B, T = batch.shape[:2]
        if titles is not None and len(titles) != B:
            raise ValueError(f"got {len(titles)} titles for {B} clip(s); give one title per clip")
        s = int(scale)
        tiled = _tile(_upscale(batch, s), ncols, gap=2 * s)  # (T, H', W', C)
        frames = [png_bytes(f) for f in tiled]
        fps_int = max(1, round(fps))

        play = widgets.Play(
            value=0, min=0, max=T - 1, step=1, interval=round(1000 / fps_int),
            repeat=loop, show_repeat=True, description="play",
        )
        slider = widgets.IntSlider(value=0, min=0, max=T - 1, step=1, description="frame t")
        speed = widgets.IntSlider(value=fps_int, min=1, max=max(30, fps_int), step=1, description="fps")
        image = widgets.Image(
            value=frames[0], format="png", width=str(tiled.shape[2]), height=str(tiled.shape[1])
        )
        children: list[widgets.Widget] = [image, widgets.HBox([play, slider, speed])]
        if titles is not None:
            listed = " | ".join(html.escape(str(t)) for t in titles)
            children.insert(1, widgets.HTML(f"<small>left to right: {listed}</small>"))
        super().__init__(children=children)

        self.play, self.slider, self.speed, self.image = play, slider, speed, image
        self.frames: list[bytes] = frames
        self.fallback = fallback
        self._video, self._fps, self._scale, self._titles, self._ncols = video, fps, s, titles, ncols
        # the Play drives the slider in the browser (no kernel round trip for the timer) ...
        self._link = widgets.jslink((play, "value"), (slider, "value"))
        # ... and the kernel redraws the image whenever the slider moves
        slider.observe(self._on_frame, names="value")
        speed.observe(self._on_speed, names="value")

    def _on_frame(self, change: dict[str, Any]) -> None:
        self.image.value = self.frames[change["new"]]

    def _on_speed(self, change: dict[str, Any]) -> None:
        # interval (ms) = 1000 / fps
        self.play.interval = round(1000 / max(1, change["new"]))

    def static_html(self) -> str:
        """The website fallback: an :func:`animate` player of the same clip(s), with a caption."""
        fallback = self.fallback
        if fallback is None:
            fallback = animate(self._video, fps=self._fps, scale=self._scale, titles=self._titles, ncols=self._ncols)
        return fallback_html(fallback)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        return _bundle(self, self.static_html, **kwargs)


def clip_player(
    video: Any,
    fps: float = 8,
    scale: int = 4,
    titles: Sequence[str] | None = None,
    *,
    ncols: int = 8,
    loop: bool = True,
    fallback: Any = None,
) -> ClipPlayer:
    """Interactive player of a clip ``(T, C, H, W)`` or a batch ``(B, T, C, H, W)`` (tiled, in sync).

    Play/pause (``ipywidgets.Play``), a frame slider jslinked to it, an fps
    slider and the frame as an ``ipywidgets.Image`` (PNG, nearest-neighbour
    upscaled ``scale`` times). Returns a :class:`ClipPlayer` (a ``VBox``); its
    static fallback is ``fallback`` or, by default, the same clip as :func:`animate`.
    """
    as_video(video)  # validate before building any widget
    return ClipPlayer(video, fps, scale, titles, ncols=ncols, loop=loop, fallback=fallback)


# --------------------------------------------------------------------------- explorer


def _as_control(name: str, control: Any) -> widgets.ValueWidget:
    """A control widget, or an ``interact``-style abbreviation turned into one ((0, 10) → IntSlider, ...)."""
    if isinstance(control, widgets.ValueWidget):
        widget = control
    elif isinstance(control, widgets.Widget):
        raise TypeError(f"control {name!r} is a {type(control).__name__}, which has no value to pass to render_fn")
    else:
        try:
            widget = widgets.interactive.widget_from_abbrev(control)
        except Exception as exc:  # ipywidgets raises a bare ValueError with little context
            raise TypeError(f"control {name!r}: cannot build a widget from {control!r}") from exc
        if widget is None or not isinstance(widget, widgets.ValueWidget):
            raise TypeError(f"control {name!r}: cannot build a widget from {control!r}")
    if hasattr(widget, "description") and not widget.description:
        widget.description = name
    return widget


class Explorer(widgets.VBox):
    """Controls on the right, the image ``render_fn(**values)`` on the left; built by :func:`explorer`.

    Parts: ``controls`` (name → widget), ``image`` (``ipywidgets.Image``),
    ``error`` (an HTML line showing the last exception raised by ``render_fn``
    while a control moved; the exception is also kept in ``last_error``).
    ``values`` is the current keyword arguments, ``render()`` redraws.
    """

    def __init__(
        self,
        render_fn: Callable[..., Any],
        controls: Mapping[str, Any],
        *,
        scale: int = 4,
        cmap: str | None = None,
        vmin: float | None = 0.0,
        vmax: float | None = 1.0,
        title: str | None = None,
        fallback: Any = None,
    ):
        if not callable(render_fn):
            raise TypeError(f"render_fn must be callable, got {type(render_fn).__name__}")
        if not isinstance(controls, Mapping) or not controls:
            raise ValueError("controls must be a non-empty dict name -> widget")
        ctrls = {str(name): _as_control(str(name), c) for name, c in controls.items()}
        image = widgets.Image(format="png")
        error = widgets.HTML()
        body = widgets.HBox([image, widgets.VBox(list(ctrls.values()))])
        children: list[widgets.Widget] = [body, error]
        if title:
            children.insert(0, widgets.HTML(f"<b>{html.escape(title)}</b>"))
        super().__init__(children=children)

        self.render_fn = render_fn
        self.controls = ctrls
        self.image, self.error = image, error
        self.last_error: BaseException | None = None
        self.fallback = fallback
        self._png = dict(scale=scale, cmap=cmap, vmin=vmin, vmax=vmax)
        self.render()  # a broken render_fn fails here, loudly, when the cell runs
        for widget in ctrls.values():
            widget.observe(self._on_change, names="value")

    @property
    def values(self) -> dict[str, Any]:
        """Current control values, the keyword arguments of ``render_fn``."""
        return {name: w.value for name, w in self.controls.items()}

    def render(self) -> None:
        """Call ``render_fn(**values)`` and show its image (exceptions propagate)."""
        self.image.value = image_png(self.render_fn(**self.values), **self._png)
        self.error.value = ""
        self.last_error = None

    def _on_change(self, change: dict[str, Any]) -> None:
        # inside a widget callback an exception would only reach the log: show it in the UI
        try:
            self.render()
        except Exception as exc:  # noqa: BLE001 - reported to the reader, kept in last_error
            self.last_error = exc
            self.error.value = (
                f'<span style="color:#c00">render_fn failed: {html.escape(type(exc).__name__)}: '
                f"{html.escape(str(exc))}</span>"
            )

    def static_html(self) -> str:
        """The website fallback: ``fallback`` if given, else a snapshot of the current image and values."""
        if self.fallback is not None:
            return fallback_html(self.fallback)
        values = ", ".join(f"{k} = {v!r}" for k, v in self.values.items())
        alt = f"Snapshot of the explorer's image at {values}" if values else "Snapshot of the explorer's image"
        return fallback_html(_img_tag(self.image.value, alt=alt) + f"<div><small>{html.escape(values)}</small></div>")

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        return _bundle(self, self.static_html, **kwargs)


def explorer(
    render_fn: Callable[..., Any],
    controls: Mapping[str, Any],
    *,
    scale: int = 4,
    cmap: str | None = None,
    vmin: float | None = 0.0,
    vmax: float | None = 1.0,
    title: str | None = None,
    fallback: Any = None,
) -> Explorer:
    """A UI where moving any control calls ``render_fn(**values)`` and shows the returned image.

    ``controls`` maps each keyword of ``render_fn`` to an ipywidget (or an
    ``interact`` abbreviation: ``(lo, hi)`` → slider, a list → dropdown, ...).
    ``render_fn`` returns an image — numpy ``(H, W)`` / ``(H, W, 3)``, a tensor
    ``(H, W)`` / ``(C, H, W)``, or a matplotlib Figure — shown via
    :func:`image_png` (``scale``, ``cmap``, ``vmin``/``vmax``). Used for latent
    sliders, rollout scrubbers and attention maps in later chapters. The static
    fallback is ``fallback`` (e.g. a :func:`~vidgen_edu.viz.clips.frame_strip`
    sweep) or a snapshot of the first image.
    """
    return Explorer(
        render_fn, controls, scale=scale, cmap=cmap, vmin=vmin, vmax=vmax, title=title, fallback=fallback
    )


if IPYWIDGETS_7:  # ipywidgets 7 calls Widget._ipython_display_ before any _repr_mimebundle_: route it to ours
    for _cls in (ClipPlayer, Explorer):
        _cls._ipython_display_ = _display_bundle
