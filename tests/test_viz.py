"""Tests of vidgen_edu.viz: animations, GIFs, figures, widgets and their static fallbacks."""

from __future__ import annotations

import base64
import io
import json
import re

import matplotlib

matplotlib.use("Agg")

import ipywidgets as widgets  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from IPython.display import HTML  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402

from vidgen_edu.viz import clips as vc  # noqa: E402
from vidgen_edu.viz import widgets as vw  # noqa: E402

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def moving_square(T: int = 6, C: int = 1, H: int = 12, W: int = 12, seed: int = 0) -> torch.Tensor:
    """A clip (T, C, H, W) whose frames all differ: a 3x3 square moving right over noise."""
    g = torch.Generator().manual_seed(seed)
    clip = 0.2 * torch.rand(T, C, H, W, generator=g)
    for t in range(T):
        x = t % (W - 3)
        clip[t, :, 4:7, x : x + 3] = 1.0
    return clip


def batch_of(B: int = 3, **kw) -> torch.Tensor:
    return torch.stack([moving_square(seed=b, **kw) for b in range(B)])  # (B, T, C, H, W)


def player_frames(html: str) -> list[list[str]]:
    """The frames[k][t] base64 PNG table embedded in an animate() player."""
    match = re.search(r"frames = (\[\[.*?\]\])", html)
    assert match, "no frame table in the HTML"
    return json.loads(match.group(1))


def decode_png(b64: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(b64))))


@pytest.fixture(autouse=True)
def _no_figures_left():
    plt.close("all")
    yield
    plt.close("all")


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "shape", [(8, 8), (5, 8, 8), (2, 3, 4, 1, 8, 8), (4, 2, 8, 8), (2, 4, 8, 8, 3)]
)
def test_bad_layouts_raise_value_error_naming_the_layout(shape):
    with pytest.raises(ValueError, match=re.escape("(T, C, H, W) or (B, T, C, H, W)")):
        vc.animate(torch.rand(shape))


def test_channels_must_be_one_or_three():
    with pytest.raises(ValueError, match="C = 1 or 3"):
        vc.frame_strip(np.random.rand(4, 2, 8, 8))
    with pytest.raises(ValueError, match="C = 1 or 3"):
        vc.save_gif(np.random.rand(4, 8, 8, 3), "unused.gif")


def test_values_are_clipped():
    clip = torch.tensor([-1.0, 0.5, 2.0, 0.0]).view(1, 1, 2, 2)  # (T=1, C=1, H=2, W=2)
    u8 = vc.to_uint8_video(clip)  # (1, 1, 2, 2, 1)
    assert u8[0, 0, :, :, 0].tolist() == [[0, 128], [255, 0]]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_values_raise_instead_of_drawing_black(bad, tmp_path):
    clip = torch.zeros(3, 1, 4, 4)
    clip[1, 0, 2, 2] = bad
    with pytest.raises(ValueError, match="clip 0 frame 1"):
        vc.animate(clip)
    with pytest.raises(ValueError, match="NaN or infinite"):
        vc.save_gif(clip, tmp_path / "x.gif")


def test_uint8_input_is_scaled_and_numpy_matches_torch():
    clip = moving_square()
    u8 = vc.to_uint8_video(clip)
    assert np.array_equal(vc.to_uint8_video(clip.numpy()), u8)
    assert np.array_equal(vc.to_uint8_video(u8.transpose(0, 1, 4, 2, 3)[0]), u8)


# --------------------------------------------------------------------------- animate


def test_animate_clip_embeds_every_frame_in_order():
    clip = moving_square(T=7)
    out = vc.animate(clip, fps=5)
    assert isinstance(out, HTML)
    assert 'data-frames="7"' in out.data and 'data-clips="1"' in out.data
    frames = player_frames(out.data)
    assert len(frames) == 1 and len(frames[0]) == 7
    expected = vc.to_uint8_video(clip)[0, ..., 0]  # (T, H, W)
    for t in range(7):
        assert np.array_equal(decode_png(frames[0][t]), expected[t])
    assert "<script>" in out.data and "setInterval" in out.data
    assert re.search(r'class="vg-slider" min="0" max="6"', out.data)


def test_animate_batch_plays_clips_in_sync_with_titles():
    video = batch_of(B=4, T=5, C=3)
    out = vc.animate(video, scale=3, titles=["a", "b", "c", "<d>"])
    frames = player_frames(out.data)
    assert [len(f) for f in frames] == [5, 5, 5, 5]
    assert out.data.count('class="vg-frame"') == 4
    assert 'width="36"' in out.data  # 12 px * scale 3, upscaled by the browser
    assert "&lt;d&gt;" in out.data and "<d>" not in out.data  # titles are escaped
    assert decode_png(frames[2][4]).shape == (12, 12, 3)
    with pytest.raises(ValueError, match="titles"):
        vc.animate(video, titles=["only one"])


def test_animate_players_have_unique_ids_and_do_not_leave_figures():
    a, b = vc.animate(moving_square()), vc.animate(moving_square())
    ids = [re.search(r'id="(vg-anim-\w+)"', h.data).group(1) for h in (a, b)]
    assert ids[0] != ids[1]
    assert plt.get_fignums() == []


def test_animate_html_is_small():
    # 4 clips x 20 frames of 32x32 grey: a few tens of kB, not MBs
    video = torch.zeros(4, 20, 1, 32, 32)
    for t in range(20):
        video[:, t, :, 10:18, t : t + 8] = 1.0
    assert len(vc.animate(video).data) < 60_000


# --------------------------------------------------------------------------- gif


def test_save_gif_writes_T_frames(tmp_path):
    clip = moving_square(T=6)
    path = vc.save_gif(clip, tmp_path / "sub" / "clip.gif", fps=10, scale=2)
    with Image.open(path) as im:
        assert im.format == "GIF"
        assert im.n_frames == 6
        assert im.size == (24, 24)
        assert im.info["duration"] == 100
        im.seek(3)
        frame = np.asarray(im.convert("L"))
    expected = vc.to_uint8_video(clip)[0, 3, ::1, ::1, 0].repeat(2, 0).repeat(2, 1)
    assert np.abs(frame.astype(int) - expected.astype(int)).max() <= 2


def test_save_gif_batch_is_tiled(tmp_path):
    path = vc.save_gif(batch_of(B=3, T=4, C=3), tmp_path / "batch.gif", scale=1)
    with Image.open(path) as im:
        assert im.n_frames == 4
        assert im.size == (3 * 12 + 2 * 2, 12)  # 3 tiles, 2 gaps of 2 px


# --------------------------------------------------------------------------- comparison


def test_compare_grid_shows_truth_pred_and_difference():
    truth = batch_of(B=2, T=4)
    pred = truth.clone()
    pred[1, :, :, :6] = 0.0  # clip 1 wrong in its top half
    out = vc.compare_grid(truth, pred)
    frames = player_frames(out.data)
    assert len(frames) == 2 * 3 and all(len(f) == 4 for f in frames)
    assert "|difference| #1" in out.data
    diff0, diff1 = decode_png(frames[2][0]), decode_png(frames[5][0])
    assert diff0.max() == 0  # perfect prediction: black
    expected = np.round((truth[1, 0, 0] - pred[1, 0, 0]).abs().numpy() * 255)
    assert np.array_equal(diff1, expected.astype(np.uint8))


def test_compare_grid_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        vc.compare_grid(moving_square(T=5), moving_square(T=4))


def test_compare_strip_has_three_rows_per_clip():
    truth = batch_of(B=2, T=6, C=3)
    fig = vc.compare_strip(truth, truth.flip(1), every=2)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 6
    assert [a.get_title(loc="left") for a in fig.axes[:3]] == ["truth #0", "prediction #0", "|difference| #0"]
    assert [t.get_text() for t in fig.axes[-1].get_xticklabels()] == ["0", "2", "4"]


# --------------------------------------------------------------------------- figures


def test_frame_strip_one_axes_per_clip_and_frame_selection():
    fig = vc.frame_strip(batch_of(B=3, T=10), every=3, max_frames=3, titles=["x", "y", "z"])
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    assert [t.get_text() for t in fig.axes[-1].get_xticklabels()] == ["0", "3", "6"]
    strip = fig.axes[0].images[0].get_array()
    assert strip.shape == (12, 3 * 12 + 2, 3)  # 3 frames + 2 gap columns
    assert plt.get_fignums() == []  # closed: no stray copy in a notebook


def test_frame_strip_draws_into_given_axes():
    fig, (a, b) = plt.subplots(2, 1)
    out = vc.frame_strip(batch_of(B=2, T=4), ax=[a, b])
    assert out is fig and len(a.images) == 1 and len(b.images) == 1
    with pytest.raises(ValueError, match="one Axes per clip"):
        vc.frame_strip(batch_of(B=3, T=4), ax=a)


def test_plot_losses_raw_and_smoothed_lines():
    history = [1.0 / (1 + i / 20) + 0.01 * (i % 3) for i in range(200)]  # 1.0 .. ~0.09
    fig = vc.plot_losses(history, label="train")
    (ax,) = fig.axes
    assert len(ax.get_lines()) == 2
    assert ax.get_yscale() == "linear"  # spans about one decade: no log axis
    fig2 = vc.plot_losses({"a": history, "b": torch.tensor(history) * 2, "val": {0: 1.0, 100: 0.1}}, smooth=0.5)
    assert len(fig2.axes[0].get_lines()) == 2 + 2 + 1  # sparse "val" points are not smoothed
    assert [t.get_text() for t in fig2.axes[0].get_legend().get_texts()] == ["a", "b", "val"]
    fig3 = vc.plot_losses(history, smooth=0, logy=True)
    assert len(fig3.axes[0].get_lines()) == 1 and fig3.axes[0].get_yscale() == "log"
    assert plt.get_fignums() == []


def test_plot_losses_auto_log_scale_and_errors():
    fig = vc.plot_losses([10.0 ** (-k / 10) for k in range(40)])  # 1 .. 1e-3.9: > 2 decades
    assert fig.axes[0].get_yscale() == "log"
    with pytest.raises(ValueError, match="empty"):
        vc.plot_losses([])
    with pytest.raises(ValueError, match="smooth"):
        vc.plot_losses([1.0, 2.0], smooth=1.0)


def test_ema_is_bias_corrected():
    x = np.array([4.0, 4.0, np.nan, 4.0])
    assert np.allclose(vc.ema(x, 0.9), 4.0)  # a constant stays constant, NaN skipped
    x = np.array([0.0, 1.0])
    # s1 = 0, s2 = 0.5 * 0 + 0.5 * 1; s_hat_2 = 0.5 / (1 - 0.25)
    assert np.allclose(vc.ema(x, 0.5), [0.0, 0.5 / 0.75])


# --------------------------------------------------------------------------- clip player


def test_clip_player_slider_updates_image():
    player = vw.clip_player(moving_square(T=5), fps=4, scale=2)
    assert isinstance(player, widgets.VBox)
    assert isinstance(player.play, widgets.Play) and player.play.max == 4 and player.slider.max == 4
    first = player.image.value
    assert first == player.frames[0]
    player.slider.value = 3
    assert player.image.value == player.frames[3] != first
    assert decode_png(base64.b64encode(player.image.value)).shape == (24, 24)  # upscaled 2x
    assert player.play.interval == 250
    player.speed.value = 10
    assert player.play.interval == 100


def test_clip_player_batch_frames_are_distinct_and_validated():
    player = vw.clip_player(batch_of(B=2, T=3, C=3), titles=["a", "b"], scale=1)
    assert len(player.frames) == 3 and len(set(player.frames)) == 3
    assert decode_png(base64.b64encode(player.frames[0])).shape == (12, 2 * 12 + 2, 3)
    with pytest.raises(ValueError, match=re.escape("(T, C, H, W) or (B, T, C, H, W)")):
        vw.clip_player(torch.rand(3, 8, 8))


def test_clip_player_mime_bundle_carries_the_animation_fallback():
    player = vw.clip_player(moving_square(T=4))
    bundle = player._repr_mimebundle_()
    assert bundle[WIDGET_VIEW]["model_id"] == player.model_id
    assert "vidgen-animation" in bundle["text/html"] and vw.STATIC_CAPTION in bundle["text/html"]
    assert len(player_frames(bundle["text/html"])[0]) == 4


# --------------------------------------------------------------------------- explorer


def test_explorer_calls_render_fn_on_control_change():
    calls = []

    def render(a: int, gain: float):
        calls.append((a, gain))
        img = np.zeros((4, 4))
        img[a] = gain
        return img  # (H, W)

    ui = vw.explorer(render, {"a": widgets.IntSlider(value=0, min=0, max=3), "gain": (0.0, 1.0)})
    assert calls == [(0, 0.5)]  # rendered once on creation; (0.0, 1.0) became a FloatSlider at 0.5
    assert isinstance(ui.controls["gain"], widgets.FloatSlider) and ui.controls["gain"].description == "gain"
    before = ui.image.value
    ui.controls["a"].value = 2
    assert calls[-1] == (2, 0.5) and ui.image.value != before
    img = decode_png(base64.b64encode(ui.image.value))
    assert img.shape == (16, 16) and img[8:12].min() == 128 and img[:8].max() == 0
    ui.controls["gain"].value = 1.0
    assert calls[-1] == (2, 1.0) and len(calls) == 3


def test_explorer_accepts_tensors_figures_and_reports_errors():
    def render(c: int):
        if c == 2:
            raise RuntimeError("boom")
        if c == 1:
            fig, ax = plt.subplots(figsize=(1, 1))
            ax.plot([0, 1])
            return fig
        return torch.ones(3, 5, 6) * 0.5  # (C, H, W)

    ui = vw.explorer(render, {"c": widgets.IntSlider(0, 0, 2)}, scale=1)
    assert decode_png(base64.b64encode(ui.image.value)).shape == (5, 6, 3)
    ui.controls["c"].value = 1
    assert bytes(ui.image.value).startswith(b"\x89PNG") and plt.get_fignums() == []
    ui.controls["c"].value = 2
    assert isinstance(ui.last_error, RuntimeError) and "boom" in ui.error.value
    ui.controls["c"].value = 0
    assert ui.last_error is None and ui.error.value == ""
    with pytest.raises(RuntimeError, match="boom"):  # at creation, errors surface loudly
        vw.explorer(render, {"c": widgets.IntSlider(2, 0, 2)})


def test_explorer_image_conversion_with_cmap():
    png = vw.image_png(np.linspace(-1, 1, 6).reshape(2, 3), scale=1, cmap="viridis", vmin=None, vmax=None)
    img = decode_png(base64.b64encode(png))
    assert img.shape == (2, 3, 3)
    assert tuple(img[0, 0]) == tuple(np.round(np.array(matplotlib.colormaps["viridis"](0.0)[:3]) * 255))
    with pytest.raises(ValueError, match="an image must have shape"):
        vw.image_png(np.zeros((2, 5, 5, 5)))


# --------------------------------------------------------------------------- fallbacks


def test_with_fallback_bundle_has_widget_view_and_static_html():
    slider = widgets.IntSlider()
    fig = vc.frame_strip(moving_square(T=3))
    bundle = vw.with_fallback(slider, fig)._repr_mimebundle_()
    assert bundle[WIDGET_VIEW]["model_id"] == slider.model_id
    assert "data:image/png;base64," in bundle["text/html"] and vw.STATIC_CAPTION in bundle["text/html"]
    video_bundle = vw.with_fallback(slider, batch_of(B=2, T=3))._repr_mimebundle_()
    assert len(player_frames(video_bundle["text/html"])) == 2
    lazy = vw.with_fallback(slider, lambda: "<p>later</p>", caption=None)._repr_mimebundle_()
    assert lazy["text/html"] == '<div class="vidgen-static-fallback"><p>later</p></div>'
    with pytest.raises(TypeError):
        vw.fallback_html(object())


def test_display_with_fallback_runs_headless():
    vw.display_with_fallback(widgets.IntSlider(), "<p>static</p>")
    vw.display_with_fallback(widgets.IntSlider(), vc.animate(moving_square(T=2)), mode="both")
    with pytest.raises(ValueError, match="mode"):
        vw.display_with_fallback(widgets.IntSlider(), "<p>x</p>", mode="nope")
