"""Tests of vidgen_edu.viz.diagrams: the block diagrams of the models, and their places in the chapters."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import jupytext  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402

from vidgen_edu.viz import diagrams  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

# every diagram, with labels it must show (substrings of its texts, as written in the source)
LABELS = {
    "vae": ["frame $x$", "encoder", "\\mu,\\ \\log\\sigma^2", "z = \\mu + \\sigma \\odot \\varepsilon",
            "\\varepsilon \\sim \\mathcal{N}(0, I)", "decoder", "logits", "\\hat x", "reconstruction",
            "KL to the prior", "ELBO"],
    "gru_cell": ["h_{t-1}", "x_t", "reset gate", "update gate", "candidate\ntanh", "U_n h_{t-1} + b_{hn}",
                 "W_n x_t + b_{in}", "r_t", "z_t", "n_t", "1 - \\cdot", "(1 - z_t) \\odot n_t",
                 "z_t \\odot h_{t-1}", "$h_t$", "\\odot", "$+$"],
    "next_frame_predictor": ["frame $x_t$", "PixelUnshuffle", "conv encoder", "GRU or ConvGRU", "state $h_t$",
                             "readout", "decoder", "PixelShuffle", "merge", "logits of\n$x_{t+1}$", "skip",
                             "free-running"],
    "divided_space_time_block": ["(B, T, N, D)", "LayerNorm", "temporal attention\ncausal", "spatial attention",
                                 "MLP", "Attn}_{\\mathrm{time}}", "Attn}_{\\mathrm{space}}", "(BN, T, D)",
                                 "(BT, N, D)"],
    "all_at_once_predictor": ["10 context", "x_1, \\dots, x_{10}", "encoder", "stack along\nchannels",
                              "translator", "residual conv", "split into", "decoder", "x_{11}, \\dots, x_{20}",
                              "skip", "no prediction is fed back"],
    "video_gan": ["content $z_c$", "motion $z_m$", "GRU", "frame decoder", "generated", "real clip",
                  "real or", "image critic", "video critic", "window of frames"],
    "latent_flow": ["clip $x$", "tubelet encoder", "latent $z_1$", "z_t = (1-t)\\,z_0 + t\\,z_1",
                    "z_0 \\sim \\mathcal{N}(0, I)", "diffusion\ntransformer", "velocity", "v_\\theta - (z_1 - z_0)",
                    "caption words", "in context", "adaLN", "ODE: Euler / Heun", "\\tilde v = v_\\varnothing",
                    "tubelet decoder", "generated"],
}
# where each diagram stands in the book: chapter, figure label
PLACES = {
    "vae": ("03_vae.md", "fig-ch03-vae"),
    "gru_cell": ("04_recurrent.md", "fig-ch04-gru"),
    "next_frame_predictor": ("04_recurrent.md", "fig-ch04-predictor"),
    "divided_space_time_block": ("05_attention.md", "fig-ch05-block"),
    "all_at_once_predictor": ("04_recurrent.md", "fig-ch04-all-at-once"),
    "video_gan": ("08_gans.md", "fig-ch08-design"),
    "latent_flow": ("10_diffusion.md", "fig-ch10-design"),
}


def test_every_public_diagram_is_tested():
    assert set(diagrams.__all__) - {"PALETTE"} == set(LABELS)
    assert set(PLACES) <= set(LABELS)


def _draw(name: str, **kw) -> tuple[Figure, object]:
    fig = getattr(diagrams, name)(**kw)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return fig, canvas.get_renderer()


def _nodes(fig: Figure, renderer) -> list[Bbox]:
    """Window extents of the boxes and operator nodes of a diagram (patches with gid "node")."""
    return [p.get_window_extent(renderer) for ax in fig.axes for p in ax.patches if p.get_gid() == "node"]


def _overlap(a: Bbox, b: Bbox, tolerance: float = 1.0) -> bool:
    """Whether two boxes share an area wider and taller than ``tolerance`` pixels."""
    return (min(a.x1, b.x1) - max(a.x0, b.x0) > tolerance) and (min(a.y1, b.y1) - max(a.y0, b.y0) > tolerance)


def _inside(inner: Bbox, outer: Bbox, tolerance: float = 0.5) -> bool:
    return (inner.x0 >= outer.x0 - tolerance and inner.x1 <= outer.x1 + tolerance
            and inner.y0 >= outer.y0 - tolerance and inner.y1 <= outer.y1 + tolerance)


@pytest.mark.parametrize("name", sorted(LABELS))
def test_diagram_is_a_closed_figure_with_its_labels(name):
    before = plt.get_fignums()
    fig = getattr(diagrams, name)()
    assert isinstance(fig, Figure)
    assert plt.get_fignums() == before, f"{name}() left a pyplot figure open (it would be shown twice)"
    texts = "\n".join(t.get_text() for ax in fig.axes for t in ax.texts)
    missing = [label for label in LABELS[name] if label not in texts]
    assert missing == [], f"{name}() does not show {missing}"
    width, height = fig.get_size_inches()
    assert 7 <= width <= 9 and 2.5 <= height <= 3.5, f"{name}() is {width} × {height} inches"


@pytest.mark.parametrize("name", sorted(LABELS))
def test_boxes_do_not_overlap(name):
    fig, renderer = _draw(name)
    nodes = _nodes(fig, renderer)
    assert len(nodes) >= 6
    clashes = [(a.bounds, b.bounds) for a, b in itertools.combinations(nodes, 2) if _overlap(a, b)]
    assert clashes == [], f"{name}(): overlapping boxes {clashes}"
    for box in nodes:
        assert _inside(box, fig.bbox), f"{name}(): a box is cut off at the edge of the figure: {box.bounds}"


@pytest.mark.parametrize("name", sorted(LABELS))
def test_labels_fit_their_boxes_and_notes_stay_clear(name):
    """A label written in a box stays inside it; a note beside the drawing touches no box and is not cut off."""
    fig, renderer = _draw(name)
    nodes = _nodes(fig, renderer)
    problems = []
    for text in (t for ax in fig.axes for t in ax.texts):
        extent = text.get_window_extent(renderer)
        anchor = text.get_transform().transform(text.get_position())
        homes = [b for b in nodes if b.contains(*anchor)]
        if homes:
            if not _inside(extent, homes[0], tolerance=-2.0):  # at least 2 pixels of margin
                problems.append(f"{text.get_text()!r} does not fit its box")
        else:
            if any(_overlap(extent, b) for b in nodes):
                problems.append(f"note {text.get_text()!r} overlaps a box")
            if not _inside(extent, fig.bbox):
                problems.append(f"note {text.get_text()!r} is cut off at the edge of the figure")
    assert problems == [], f"{name}():\n" + "\n".join(problems)


def test_notes_do_not_overlap_each_other():
    for name in LABELS:
        fig, renderer = _draw(name)
        extents = [(t.get_text(), t.get_window_extent(renderer)) for ax in fig.axes for t in ax.texts]
        clashes = [(a, b) for (a, ea), (b, eb) in itertools.combinations(extents, 2) if _overlap(ea, eb)]
        assert clashes == [], f"{name}(): texts overlap: {clashes}"


def test_all_at_once_predictor_counts_frames():
    fig = diagrams.all_at_once_predictor(context=4, future=6)
    texts = "\n".join(t.get_text() for ax in fig.axes for t in ax.texts)
    assert "4 context" in texts and "6 future" in texts and "x_{5}, \\dots, x_{10}" in texts


def _cells_calling(md: Path, name: str) -> list:
    pattern = re.compile(rf"\bdiagrams\.{name}\(")
    return [c for c in jupytext.read(md).cells if c.cell_type == "code" and pattern.search(c.source)]


@pytest.mark.parametrize("name", sorted(PLACES))
def test_the_chapter_shows_the_diagram_as_a_numbered_figure(name):
    chapter, label = PLACES[name]
    md = ROOT / "book" / chapter
    cells = _cells_calling(md, name)
    assert len(cells) == 1, f"{chapter} should draw diagrams.{name}() in one cell, found {len(cells)}"
    cell = cells[0]
    figure = cell.metadata.get("mystnb", {}).get("figure", {})
    alt = cell.metadata.get("mystnb", {}).get("image", {}).get("alt", "")
    assert figure.get("name") == label
    assert len(str(figure.get("caption", "")).split()) >= 10, f"{label}: the caption should say what is drawn"
    assert len(str(alt).split()) >= 25, f"{label}: the alt text should describe the diagram"
    assert "remove-input" in cell.metadata.get("tags", []), f"{label}: the drawing code is hidden on the site"
    last = cell.source.strip().splitlines()[-1].strip()
    assert last.startswith(f"diagrams.{name}(") and last.endswith(")"), "the figure is the cell's value"
    text = md.read_text(encoding="utf-8")
    assert f"<{label}>`" in text, f"{chapter} never refers to {label} with {{numref}}"
