"""Look at video: inline animations, GIFs, truth-vs-prediction grids, frame strips, loss curves.

Every chapter ends by *watching* what its model does, so this module turns a
clip ``(T, C, H, W)`` or a batch ``(B, T, C, H, W)`` (torch tensor or numpy
array, float in ``[0, 1]``, ``C`` = 1 or 3) into something a reader can see:

- :func:`animate` — an HTML/JS player that works in JupyterLab *and* on the
  static Jupyter Book website (no ffmpeg, no kernel: the frames are small
  PNGs embedded as base64, scaled up by the browser with nearest-neighbour
  ``image-rendering: pixelated``, so a 20-frame 4-clip animation is tens of kB);
- :func:`save_gif` — the same clip(s) as an animated GIF file (Pillow);
- :func:`compare_grid` / :func:`compare_strip` — truth | prediction | |difference|,
  animated or as a static figure;
- :func:`frame_strip` — frames left to right, one row per clip;
- :func:`plot_losses` — a training curve, raw and smoothed.

Chapter 01 (Video as data) introduces these helpers; every later chapter uses them.
"""

from __future__ import annotations

import base64
import html
import io
import json
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from IPython.display import HTML
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from PIL import Image

__all__ = [
    "VIDEO_LAYOUT",
    "animate",
    "as_video",
    "compare_grid",
    "compare_strip",
    "ema",
    "frame_strip",
    "plot_losses",
    "png_bytes",
    "save_gif",
    "to_uint8_video",
]

VIDEO_LAYOUT = "(T, C, H, W) or (B, T, C, H, W)"
_GAP_VALUE = 217  # light grey between tiles: visible on black and on white backgrounds
_COMPARE_TITLES = ("truth", "prediction", "|difference|")


# --------------------------------------------------------------------------- input


def _to_numpy(video: Any) -> np.ndarray:
    if isinstance(video, torch.Tensor):
        return video.detach().to("cpu", torch.float32).numpy()
    arr = np.asarray(video)
    if arr.dtype == np.uint8:  # 8-bit frames, e.g. read from an image file
        return arr.astype(np.float32) / 255.0
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"expected a torch tensor or numpy array of video, got {type(video).__name__}")
    return arr.astype(np.float32)


def as_video(video: Any, name: str = "video") -> tuple[np.ndarray, bool]:
    """Validate ``video`` and return ``(batch, was_batch)`` with ``batch`` float32 ``(B, T, C, H, W)``.

    Accepts a clip ``(T, C, H, W)`` or a batch ``(B, T, C, H, W)`` as a torch
    tensor or numpy array. Values are clipped to ``[0, 1]``; ``uint8`` arrays
    are divided by 255. Raises ``ValueError`` naming the expected layout when
    the shape is wrong, and when a value is NaN or infinite: a diverged model
    must not be drawn as an empty (black) scene.
    """
    arr = _to_numpy(video)
    if arr.ndim == 4:
        batch, was_batch = arr[None], False  # (1, T, C, H, W)
    elif arr.ndim == 5:
        batch, was_batch = arr, True
    else:
        raise ValueError(
            f"{name} must have shape {VIDEO_LAYOUT}, got {tuple(arr.shape)} ({arr.ndim} dims)"
        )
    B, T, C, H, W = batch.shape
    if C not in (1, 3):
        hint = " (channels-last? use video.movedim(-1, -3))" if W in (1, 3) else ""
        raise ValueError(
            f"{name} must have shape {VIDEO_LAYOUT} with C = 1 or 3 channels, "
            f"got {tuple(arr.shape)} (C = {C}){hint}"
        )
    if min(B, T, H, W) == 0:
        raise ValueError(f"{name} must have shape {VIDEO_LAYOUT} with no empty axis, got {tuple(arr.shape)}")
    finite = np.isfinite(batch)
    if not finite.all():
        bad = np.argwhere(~finite.reshape(B, T, -1).all(-1))  # (k, 2): clip, frame
        where = ", ".join(f"clip {b} frame {t}" for b, t in bad[:3]) + (" ..." if len(bad) > 3 else "")
        raise ValueError(f"{name} has {int((~finite).sum())} NaN or infinite values ({where}); "
                         f"did the model diverge? Check the loss, or clean the values before drawing")
    batch = np.clip(batch, 0.0, 1.0)
    return batch, was_batch


def to_uint8_video(video: Any, name: str = "video") -> np.ndarray:
    """Any accepted clip/batch → ``uint8`` channels-last batch ``(B, T, H, W, C)`` with C = 1 or 3."""
    batch, _ = as_video(video, name)  # (B, T, C, H, W) in [0, 1]
    return np.round(batch.transpose(0, 1, 3, 4, 2) * 255.0).astype(np.uint8)


def _check_titles(titles: Sequence[str] | None, n: int, what: str = "clip") -> list[str]:
    if titles is None:
        return [""] * n
    if isinstance(titles, str):
        titles = [titles]
    titles = [str(t) for t in titles]
    if len(titles) != n:
        raise ValueError(f"got {len(titles)} titles for {n} {what}(s); give one title per {what}")
    return titles


def _check_positive(value: float, name: str) -> None:
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value}")


# --------------------------------------------------------------------------- pixels


def _rgb(frames: np.ndarray) -> np.ndarray:
    """``(..., H, W, 1|3)`` uint8 → ``(..., H, W, 3)``."""
    return np.repeat(frames, 3, axis=-1) if frames.shape[-1] == 1 else frames


def _tile(batch_u8: np.ndarray, ncols: int, gap: int) -> np.ndarray:
    """Tile the clips of a batch into one video: ``(B, T, H, W, C)`` → ``(T, H', W', C)``.

    Clip ``k`` sits at row ``k // ncols``, column ``k % ncols``; tiles are
    separated by ``gap`` pixels of light grey.
    """
    B, T, H, W, C = batch_u8.shape
    ncols = max(1, min(ncols, B))
    nrows = -(-B // ncols)
    out = np.full((T, nrows * H + (nrows - 1) * gap, ncols * W + (ncols - 1) * gap, C), _GAP_VALUE, np.uint8)
    for k in range(B):
        r, c = divmod(k, ncols)
        y, x = r * (H + gap), c * (W + gap)
        out[:, y : y + H, x : x + W] = batch_u8[k]
    return out


def _upscale(frames: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour upscale of ``(..., H, W, C)`` by an integer factor."""
    if scale == 1:
        return frames
    return np.repeat(np.repeat(frames, scale, axis=-3), scale, axis=-2)


def png_bytes(image_u8: np.ndarray) -> bytes:
    """Encode one ``uint8`` image ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or ``(H, W, 4)`` as PNG."""
    if image_u8.ndim == 3 and image_u8.shape[-1] == 1:
        image_u8 = image_u8[..., 0]
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image_u8)).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _b64_png(image_u8: np.ndarray) -> str:
    return base64.b64encode(png_bytes(image_u8)).decode("ascii")


# --------------------------------------------------------------------------- animation

_PLAYER_JS = """
(function () {
  var id = "%(id)s", frames = %(frames)s, fps0 = %(fps)s, autoplay = %(autoplay)s, loop = %(loop)s;
  var tries = 0;
  function init() {
    var root = document.getElementById(id);
    if (!root) { if (tries++ < 100) { setTimeout(init, 50); } return; }
    if (root.getAttribute("data-ready")) { return; }
    root.setAttribute("data-ready", "1");
    var imgs = root.querySelectorAll("img.vg-frame"), T = frames[0].length, t = 0, timer = null;
    var slider = root.querySelector(".vg-slider"), label = root.querySelector(".vg-label");
    var play = root.querySelector(".vg-play"), fpsBox = root.querySelector(".vg-fps");
    function show(i) {
      t = ((i %% T) + T) %% T;
      for (var k = 0; k < imgs.length; k++) { imgs[k].src = "data:image/png;base64," + frames[k][t]; }
      slider.value = t;
      label.textContent = "t = " + t + " / " + (T - 1);
    }
    function stop() { if (timer) { clearInterval(timer); timer = null; } play.textContent = "\\u25B6"; }
    function tick() {
      if (!root.isConnected) { stop(); return; }  // output cleared: free the timer
      if (!loop && t === T - 1) { stop(); return; }
      show(t + 1);
    }
    function start() {
      stop();
      var fps = Math.min(60, Math.max(1, parseFloat(fpsBox.value) || fps0));
      timer = setInterval(tick, 1000 / fps);
      play.textContent = "\\u275A\\u275A";
    }
    play.onclick = function () { if (timer) { stop(); } else { if (!loop && t === T - 1) { show(0); } start(); } };
    root.querySelector(".vg-first").onclick = function () { stop(); show(0); };
    root.querySelector(".vg-prev").onclick = function () { stop(); show(t - 1); };
    root.querySelector(".vg-next").onclick = function () { stop(); show(t + 1); };
    slider.oninput = function () { stop(); show(parseInt(slider.value, 10)); };
    fpsBox.onchange = function () { if (timer) { start(); } };
    show(0);
    if (autoplay && T > 1) { start(); }
  }
  init();
})();
"""

_BUTTON = (
    '<button type="button" class="vg-{cls}" title="{tip}" '
    'style="min-width:2em;padding:0 .4em;margin-right:2px;cursor:pointer">{text}</button>'
)


def _player_html(
    tiles: list[np.ndarray],
    titles: list[str],
    *,
    ncols: int,
    fps: float,
    scale: float,
    autoplay: bool,
    loop: bool,
    caption: str | None,
) -> str:
    """HTML + JS of a synchronised player for tiles ``[(T, H, W, C) uint8, ...]`` laid out in ``ncols`` columns."""
    anim_id = "vg-anim-" + uuid.uuid4().hex[:12]
    T = tiles[0].shape[0]
    # frames[k][t]: base64 PNG of tile k at time t, at native resolution (the browser upscales)
    frames = [[_b64_png(tile[t]) for t in range(T)] for tile in tiles]
    cells = []
    for k, (tile, title) in enumerate(zip(tiles, titles)):
        _, H, W, _ = tile.shape
        w, h = round(W * scale), round(H * scale)
        # alt text for a reader who cannot see the frames: what the tile is, and that it moves
        label = title or caption or f"clip {k + 1} of {len(tiles)}"
        alt = f"Animated video, {T} frames of {W}×{H} pixels: {label}"
        cells.append(
            '<div style="text-align:center;margin:0">'
            f'<img class="vg-frame" alt="{html.escape(alt)}" width="{w}" height="{h}" '
            f'src="data:image/png;base64,{frames[k][0]}" '
            f'style="width:{w}px;height:{h}px;max-width:none;image-rendering:crisp-edges;'
            'image-rendering:pixelated;display:block;margin:0 auto;background:#000">'
            + (f'<div style="font-size:12px;line-height:1.3;max-width:{max(w, 64)}px;'
               f'overflow-wrap:anywhere">{html.escape(title)}</div>' if title else "")
            + "</div>"
        )
    ncols = max(1, min(ncols, len(tiles)))
    buttons = "".join(
        _BUTTON.format(cls=c, tip=tip, text=text)
        for c, tip, text in [
            ("first", "first frame", "&laquo;"),
            ("prev", "previous frame", "&lsaquo;"),
            ("play", "play / pause", "&#9654;"),
            ("next", "next frame", "&rsaquo;"),
        ]
    )
    controls = (
        '<div style="display:flex;align-items:center;gap:6px;margin-top:4px;font-size:12px;flex-wrap:wrap">'
        f"{buttons}"
        f'<input type="range" class="vg-slider" min="0" max="{T - 1}" step="1" value="0" '
        'style="width:140px;margin:0" aria-label="frame">'
        f'<span class="vg-label" style="font-family:monospace;min-width:7em">t = 0 / {T - 1}</span>'
        f'<label>fps <input type="number" class="vg-fps" min="1" max="60" step="1" value="{fps:g}" '
        'style="width:3.5em"></label>'
        "</div>"
    )
    cap = f'<div style="font-size:12px;margin-top:2px;opacity:.8">{html.escape(caption)}</div>' if caption else ""
    js = _PLAYER_JS % {
        "id": anim_id,
        "frames": json.dumps(frames, separators=(",", ":")),
        "fps": json.dumps(float(fps)),
        "autoplay": json.dumps(bool(autoplay)),
        "loop": json.dumps(bool(loop)),
    }
    return (
        f'<div id="{anim_id}" class="vidgen-animation" data-frames="{T}" data-clips="{len(tiles)}" '
        'style="display:inline-block;font-family:sans-serif;margin:4px 0">'
        f'<div style="display:inline-grid;grid-template-columns:repeat({ncols},max-content);gap:6px 8px">'
        + "".join(cells)
        + "</div>"
        + controls
        + cap
        + "</div>"
        + f"<script>{js}</script>"
    )


def animate(
    video: Any,
    fps: float = 8,
    scale: float = 4,
    titles: Sequence[str] | None = None,
    *,
    ncols: int = 8,
    autoplay: bool = True,
    loop: bool = True,
    caption: str | None = None,
) -> HTML:
    """Inline animation of a clip ``(T, C, H, W)`` or a batch ``(B, T, C, H, W)``.

    A batch plays as a grid of clips (``ncols`` per row, one row for ``B <= ncols``)
    driven by one timer, so the clips stay in sync. The result is plain HTML +
    JavaScript (play/pause, step, frame slider, fps box): it plays in JupyterLab,
    VS Code, Colab and on the static website, with no ffmpeg and no kernel.
    Frames are embedded as native-resolution PNGs and displayed ``scale`` times
    larger with nearest-neighbour (``image-rendering: pixelated``) upscaling,
    which keeps a 20-frame batch of four 32x32 clips to a few tens of kB.
    Nothing is drawn with matplotlib, so no stray figure appears.
    """
    _check_positive(fps, "fps")
    _check_positive(scale, "scale")
    batch = to_uint8_video(video)  # (B, T, H, W, C)
    return HTML(
        _player_html(
            list(batch),
            _check_titles(titles, batch.shape[0]),
            ncols=ncols,
            fps=fps,
            scale=scale,
            autoplay=autoplay,
            loop=loop,
            caption=caption,
        )
    )


def save_gif(
    video: Any,
    path: str | Path,
    fps: float = 8,
    scale: int = 4,
    *,
    ncols: int = 8,
    loop: bool = True,
) -> Path:
    """Write a clip ``(T, C, H, W)`` or batch ``(B, T, C, H, W)`` as an animated GIF; returns the path.

    A batch is tiled into a grid (``ncols`` clips per row). Frames are upscaled
    by the integer ``scale`` with nearest-neighbour. GIF stores delays in
    hundredths of a second (browsers slow delays under 20 ms down), so fps
    above 50 is not honoured; Pillow merges identical consecutive frames into
    one longer frame, which keeps the total duration.
    """
    _check_positive(fps, "fps")
    if int(scale) != scale or scale < 1:
        raise ValueError(f"scale must be a positive integer for a GIF, got {scale}")
    batch = to_uint8_video(video)  # (B, T, H, W, C)
    frames = _tile(_upscale(batch, int(scale)), ncols, gap=2 * int(scale))  # (T, H', W', C)
    images = [Image.fromarray(f[..., 0] if f.shape[-1] == 1 else f) for f in frames]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(
        path,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=max(20, round(1000 / fps)),
        loop=0 if loop else 1,
        disposal=1,
    )
    return path


# --------------------------------------------------------------------------- comparison


def _compare_clips(truth: Any, pred: Any, diff_gain: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    t, was_batch = as_video(truth, "truth")  # (B, T, C, H, W)
    p, _ = as_video(pred, "pred")
    if t.shape != p.shape:
        raise ValueError(
            f"truth and pred must have the same shape {VIDEO_LAYOUT}, got {tuple(t.shape)} vs {tuple(p.shape)}"
        )
    _check_positive(diff_gain, "diff_gain")
    # |x - x_hat| averaged over channels, one grey level per pixel, optionally amplified
    d = np.clip(np.abs(t - p).mean(axis=2, keepdims=True) * diff_gain, 0.0, 1.0)  # (B, T, 1, H, W)
    return t, p, d, was_batch


def compare_grid(
    truth: Any,
    pred: Any,
    fps: float = 8,
    scale: float = 4,
    *,
    titles: Sequence[str] = _COMPARE_TITLES,
    diff_gain: float = 1.0,
    autoplay: bool = True,
    loop: bool = True,
    caption: str | None = None,
) -> HTML:
    """Animated truth | prediction | |difference|, one row per clip of a batch.

    ``truth`` and ``pred`` have the same shape, ``(T, C, H, W)`` or ``(B, T, C, H, W)``;
    the difference is ``|truth - pred|`` averaged over channels (times ``diff_gain``
    to make small errors visible), shown in grey: black = perfect. Returns the
    same kind of HTML player as :func:`animate`, with ``3 * B`` tiles.
    """
    t, p, d, _ = _compare_clips(truth, pred, diff_gain)
    B = t.shape[0]
    col_titles = _check_titles(titles, 3, "column")
    tiles, tile_titles = [], []
    for b in range(B):
        for clip, title in zip((t[b], p[b], d[b]), col_titles):
            tiles.append(to_uint8_video(clip))  # (1, T, H, W, C)
            tile_titles.append(f"{title} #{b}" if B > 1 and title else title)
    # a uniform channel count keeps the tiles comparable (grey diff next to RGB clips)
    C = max(x.shape[-1] for x in tiles)
    tiles = [(_rgb(x) if C == 3 else x)[0] for x in tiles]  # (T, H, W, C)
    return HTML(
        _player_html(
            tiles, tile_titles, ncols=3, fps=fps, scale=scale, autoplay=autoplay, loop=loop, caption=caption
        )
    )


# --------------------------------------------------------------------------- static figures


def _pyplot():
    import matplotlib.pyplot as plt

    return plt


def _strip_frames(T: int, every: int, max_frames: int | None) -> list[int]:
    if int(every) != every or every < 1:
        raise ValueError(f"every must be a positive integer, got {every}")
    idx = list(range(0, T, int(every)))
    if max_frames is not None:
        if max_frames < 1:
            raise ValueError(f"max_frames must be >= 1, got {max_frames}")
        idx = idx[: int(max_frames)]
    return idx


def _draw_strips(
    clips: list[np.ndarray],
    titles: list[str],
    frame_idx: list[int],
    ax: Axes | Sequence[Axes] | None,
    gap: int = 1,
) -> Figure:
    """Draw each ``(T, H, W, C)`` uint8 clip as a row of frames in its own Axes."""
    n = len(clips)
    created = ax is None
    if created:
        _, H, W, _ = clips[0].shape
        per_frame = min(0.9, 10.0 / len(frame_idx))  # inches; a strip is at most ~10 in wide
        width = max(3.0, per_frame * len(frame_idx) * W / max(H, W))
        row = per_frame * H / max(H, W)
        fig, axes = _pyplot().subplots(n, 1, figsize=(width, n * (row + 0.35) + 0.35), squeeze=False)
        axes = list(axes[:, 0])
    else:
        axes = [ax] if isinstance(ax, Axes) else list(ax)
        if len(axes) != n:
            raise ValueError(f"need one Axes per clip: got {len(axes)} Axes for {n} clip(s)")
        fig = axes[0].figure
    for k, (clip, title, a) in enumerate(zip(clips, titles, axes)):
        frames = _rgb(clip[frame_idx])  # (N, H, W, 3)
        N, H, W, _ = frames.shape
        strip = _tile(frames[:, None], ncols=N, gap=gap)[0]  # (H, N*W + (N-1)*gap, 3)
        a.imshow(strip, interpolation="nearest", vmin=0, vmax=255)
        a.set_xticks([i * (W + gap) + (W - 1) / 2 for i in range(N)])
        last = k == n - 1
        a.set_xticklabels([str(t) for t in frame_idx] if last else [], fontsize=8)
        a.tick_params(length=0)
        a.set_yticks([])
        if last:
            a.set_xlabel("frame t", fontsize=9)
        if title:
            a.set_title(title, loc="left", fontsize=9)
        for spine in a.spines.values():
            spine.set_visible(False)
    if created:
        fig.tight_layout(pad=0.3)
        _pyplot().close(fig)  # shown once, as the cell's value or via display(fig): never as a stray copy
    return fig


def frame_strip(
    video: Any,
    every: int = 1,
    max_frames: int | None = 12,
    ax: Axes | Sequence[Axes] | None = None,
    titles: Sequence[str] | None = None,
) -> Figure:
    """Static figure of a clip ``(T, C, H, W)`` or batch ``(B, T, C, H, W)``: frames left to right.

    One row (one Axes) per clip; frames ``0, every, 2*every, ...`` up to
    ``max_frames`` of them, labelled with their time index. Pass ``ax`` (one
    Axes per clip) to draw into an existing figure. A figure created here is
    closed in pyplot, so it appears exactly once: as the cell's value or via
    ``display(fig)``.
    """
    batch = to_uint8_video(video)  # (B, T, H, W, C)
    idx = _strip_frames(batch.shape[1], every, max_frames)
    return _draw_strips(list(batch), _check_titles(titles, batch.shape[0]), idx, ax)


def compare_strip(
    truth: Any,
    pred: Any,
    every: int = 1,
    max_frames: int | None = 12,
    *,
    titles: Sequence[str] = _COMPARE_TITLES,
    diff_gain: float = 1.0,
    ax: Sequence[Axes] | None = None,
) -> Figure:
    """Static version of :func:`compare_grid`: rows truth / prediction / |difference| over time.

    Three rows per clip (``3 * B`` Axes for a batch), frames left to right as in
    :func:`frame_strip`. Use it as the website fallback of a comparison widget.
    """
    t, p, d, _ = _compare_clips(truth, pred, diff_gain)
    col_titles = _check_titles(titles, 3, "row")
    B = t.shape[0]
    clips, row_titles = [], []
    for b in range(B):
        for clip, title in zip((t[b], p[b], d[b]), col_titles):
            clips.append(to_uint8_video(clip)[0])  # (T, H, W, C)
            row_titles.append(f"{title} #{b}" if B > 1 and title else title)
    idx = _strip_frames(t.shape[1], every, max_frames)
    return _draw_strips(clips, row_titles, idx, ax)


# --------------------------------------------------------------------------- losses


def _as_curve(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """A loss history → ``(steps, values)``: a sequence/array/tensor of floats, or a mapping step -> value."""
    if isinstance(values, Mapping):
        steps = np.asarray(list(values.keys()), dtype=np.float64)
        ys = np.asarray([float(v) for v in values.values()], dtype=np.float64)
    else:
        if isinstance(values, torch.Tensor):
            values = values.detach().cpu().double().numpy()
        ys = np.asarray([float(v) for v in np.ravel(np.asarray(values, dtype=object))], dtype=np.float64)
        steps = np.arange(len(ys), dtype=np.float64)
    if ys.size == 0:
        raise ValueError("loss history is empty")
    return steps, ys


def ema(values: np.ndarray, beta: float) -> np.ndarray:
    """Bias-corrected exponential moving average (the curve TensorBoard draws).

    Non-finite values are skipped (the average carries over them).
    """
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"smooth must be in [0, 1), got {beta}")
    out = np.empty_like(values, dtype=np.float64)
    s, n = 0.0, 0
    for i, x in enumerate(values):
        if np.isfinite(x):
            # s_t = beta * s_{t-1} + (1 - beta) * x_t
            s = beta * s + (1.0 - beta) * x
            n += 1
        # s_hat_t = s_t / (1 - beta^n): removes the pull towards the initial s_0 = 0
        out[i] = s / (1.0 - beta**n) if n else np.nan
    return out


def plot_losses(
    history: Any,
    smooth: float = 0.9,
    ax: Axes | None = None,
    logy: bool | None = None,
    label: str | None = None,
    *,
    title: str | None = None,
    xlabel: str = "step",
    ylabel: str = "loss",
) -> Figure:
    """Training curve(s): the raw loss (faint) and its smoothed version (solid), same colour.

    ``history`` is a list / array / tensor of per-step losses (what
    ``vidgen_edu.train.fit`` returns), a mapping ``step -> loss`` (e.g. a
    validation loss measured every 100 steps; drawn with markers, unsmoothed),
    or a dict ``name -> history`` to overlay several curves. ``smooth`` is the bias-corrected EMA weight
    ``beta`` (0 draws only the raw curve). ``logy=None`` picks a log axis when
    all values are positive and span more than two decades.
    """
    if isinstance(history, Mapping) and history and all(isinstance(k, str) for k in history):
        raw_series = dict(history)
    else:
        raw_series = {label: history}
    series = {name: _as_curve(v) for name, v in raw_series.items()}
    created = ax is None
    if created:
        fig, ax = _pyplot().subplots(figsize=(6.0, 3.2))
    else:
        fig = ax.figure
    finite = np.concatenate([ys[np.isfinite(ys)] for _, ys in series.values()])
    if logy is None:
        logy = bool(finite.size and finite.min() > 0 and finite.max() / finite.min() > 100.0)
    for name, (steps, ys) in series.items():
        if isinstance(raw_series[name], Mapping):
            # sparse evaluations (e.g. validation every N steps) are averages already: no smoothing
            ax.plot(steps, ys, marker="o", markersize=3, linewidth=1.4, label=name)
        elif smooth > 0:
            (raw,) = ax.plot(steps, ys, alpha=0.3, linewidth=0.8)
            ax.plot(steps, ema(ys, smooth), color=raw.get_color(), linewidth=1.6, label=name)
        else:
            ax.plot(steps, ys, linewidth=1.2, label=name)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if any(name for name in series):
        ax.legend(fontsize=9)
    if created:
        fig.tight_layout()
        _pyplot().close(fig)  # shown once, as the cell's value or via display(fig)
    return fig
