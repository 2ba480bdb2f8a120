"""Block diagrams of the book's models, drawn with matplotlib (chapters 03–05, and the all-at-once predictor).

Each public function returns a closed :class:`matplotlib.figure.Figure` (about 8 × 3
inches), so a chapter cell shows it once as the cell's value, the same picture on
the website, in JupyterLab and on Colab:

- :func:`vae` — the variational autoencoder and the two terms of its loss (chapter 03);
- :func:`gru_cell` — one GRU step with its gates, in the reset-after form (chapter 04);
- :func:`next_frame_predictor` — chapter 04's recurrent ``NextFramePredictor``;
- :func:`divided_space_time_block` — one pre-norm divided space-time block (chapter 05);
- :func:`all_at_once_predictor` — a SimVP-like predictor that makes every future frame in one pass;
- :func:`video_gan` — chapter 08's content–motion generator and its image and video critics;
- :func:`latent_flow` — chapter 10's tubelet autoencoder and the diffusion transformer on its latents.

The drawing is deliberately plain: rounded boxes (:func:`_box`), round operator nodes
(:func:`_op`) and orthogonal arrows (:func:`_arrow`) on an axes whose data units are
half an inch, so positions read as a grid. Colours say what a box is (``PALETTE``):
data, a learned layer, a fixed operation, a state or latent, noise, a loss.
Every box and operator patch carries the gid ``"node"`` (the tests check that no
two overlap and that every label fits inside its box).
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.patheffects as pe
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch
from matplotlib.path import Path

__all__ = ["PALETTE", "all_at_once_predictor", "divided_space_time_block", "gru_cell", "latent_flow",
           "next_frame_predictor", "vae", "video_gan"]

# fill colours, pale enough for black text and the site's light theme
PALETTE = {
    "data": "#e8e8e8",  # frames, tokens, logits
    "layer": "#cfe2f3",  # learned layers
    "op": "#d9ead3",  # fixed operations: reshapes, the reparameterization, ⊙ and +
    "state": "#fff2cc",  # recurrent state, posterior parameters
    "noise": "#ead1dc",  # sampled noise
    "loss": "#f4cccc",  # loss terms
    "norm": "#e4dcf1",  # normalization
}
EDGE = "#444444"
LINE = "#333333"
NOTE = "#555555"
FONT = 9  # points, in boxes
SMALL = 8  # points, notes beside the drawing
UNITS_PER_INCH = 2.0


@dataclass(frozen=True)
class Node:
    """A drawn box or operator: centre ``(x, y)`` and size ``w × h`` in data units; edges give arrow ends."""

    x: float
    y: float
    w: float
    h: float

    @property
    def left(self) -> tuple[float, float]:
        return (self.x - self.w / 2, self.y)

    @property
    def right(self) -> tuple[float, float]:
        return (self.x + self.w / 2, self.y)

    @property
    def top(self) -> tuple[float, float]:
        return (self.x, self.y + self.h / 2)

    @property
    def bottom(self) -> tuple[float, float]:
        return (self.x, self.y - self.h / 2)


# --------------------------------------------------------------------------- drawing helpers


def _canvas(width: float = 8.0, height: float = 3.0, x0: float = 0.0, y0: float = 0.0) -> tuple[Figure, Axes]:
    """A figure of ``width × height`` inches whose single axes fills it, two data units per inch."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(width, height))
    plt.close(fig)  # shown once, as the cell's value: never as a stray copy
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(x0, x0 + width * UNITS_PER_INCH)
    ax.set_ylim(y0, y0 + height * UNITS_PER_INCH)
    ax.axis("off")
    return fig, ax


def _box(ax: Axes, x: float, y: float, text: str, kind: str = "layer", w: float = 2.0, h: float = 0.9,
         fontsize: float = FONT, stack: int = 0) -> Node:
    """A rounded box centred at ``(x, y)``; ``stack`` > 0 draws that many copies behind it (one per frame)."""
    for k in range(stack, 0, -1):  # the copies peek out up and to the right
        d = 0.1 * k
        ax.add_patch(FancyBboxPatch((x - w / 2 + d, y - h / 2 + d), w, h, boxstyle="round,pad=0,rounding_size=0.12",
                                    fc=PALETTE[kind], ec=EDGE, lw=0.8, zorder=1, gid="stack"))
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0,rounding_size=0.12",
                                fc=PALETTE[kind], ec=EDGE, lw=1.0, zorder=2, gid="node"))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, zorder=3, linespacing=1.25)
    return Node(x, y, w, h)


def _op(ax: Axes, x: float, y: float, symbol: str, r: float = 0.24) -> Node:
    """A round operator node (``+``, ``⊙``) of radius ``r``."""
    ax.add_patch(Circle((x, y), r, fc=PALETTE["op"], ec=EDGE, lw=1.0, zorder=2, gid="node"))
    ax.text(x, y, symbol, ha="center", va="center", fontsize=FONT + 1, zorder=3)
    return Node(x, y, 2 * r, 2 * r)


def _arrow(ax: Axes, *points: tuple[float, float], dashed: bool = False, head: bool = True,
           over: bool = False) -> None:
    """A polyline through ``points`` with an arrow head at the last one (none with ``head=False``).

    ``over=True`` outlines the line in white, so where it crosses another line it visibly
    passes over it (no junction there).
    """
    effects = [pe.Stroke(linewidth=4.5, foreground="white"), pe.Normal()] if over else None
    ax.add_patch(FancyArrowPatch(path=Path(list(points)), arrowstyle="-|>" if head else "-", mutation_scale=9,
                                 color=LINE, lw=1.1, linestyle="--" if dashed else "-", zorder=1.5 if over else 1,
                                 path_effects=effects, shrinkA=0, shrinkB=0))


def _dot(ax: Axes, x: float, y: float) -> None:
    """A junction: the line branches here."""
    ax.add_patch(Circle((x, y), 0.055, color=LINE, zorder=2.5))


def _note(ax: Axes, x: float, y: float, text: str, ha: str = "center", fontsize: float = SMALL) -> None:
    """Grey explanatory text beside the drawing (not a box)."""
    ax.text(x, y, text, ha=ha, va="center", fontsize=fontsize, color=NOTE, zorder=3, linespacing=1.2)


# --------------------------------------------------------------------------- chapter 03


def vae() -> Figure:
    """The VAE of chapter 03 (``vidgen_edu.models.vae``): ``x → (μ, log σ²) → z → logits``, and its loss.

    The encoder (fully connected or convolutional) gives the posterior parameters; the
    reparameterization ``z = μ + σ ⊙ ε`` takes the noise ``ε ~ N(0, I)`` as a side input;
    the decoder gives logits, whose sigmoid is ``x̂``. The reconstruction term reads the
    logits and the frame, the KL term reads ``(μ, log σ²)``: −ELBO is their sum.
    """
    fig, ax = _canvas(8.0, 3.0)
    x = _box(ax, 0.85, 3.2, "frame $x$", "data", w=1.3, h=0.8)
    enc = _box(ax, 3.0, 3.2, "encoder\n$q_\\phi(z \\mid x)$", w=2.0, h=1.05)
    heads = _box(ax, 5.45, 3.2, "$\\mu,\\ \\log\\sigma^2$", "state", w=1.7, h=0.8)
    rep = _box(ax, 8.1, 3.2, "$z = \\mu + \\sigma \\odot \\varepsilon$\n$\\sigma = \\exp(\\frac{1}{2}\\log\\sigma^2)$",
               "op", w=2.5, h=1.05)
    eps = _box(ax, 8.1, 1.2, "$\\varepsilon \\sim \\mathcal{N}(0, I)$", "noise", w=2.0, h=0.75)
    dec = _box(ax, 11.05, 3.2, "decoder\n$p_\\theta(x \\mid z)$", w=2.0, h=1.05)
    logits = _box(ax, 13.2, 3.2, "logits", "data", w=1.3, h=0.8)
    xhat = _box(ax, 15.3, 3.2, "$\\hat x$", "data", w=0.9, h=0.8)
    kl_text = "KL to the prior\n$D_{\\mathrm{KL}}(q_\\phi(z \\mid x)\\,\\|\\,\\mathcal{N}(0, I))$"
    kl = _box(ax, 4.6, 1.2, kl_text, "loss", w=3.6, h=1.0)
    rec = _box(ax, 13.2, 5.25, "reconstruction\n$-\\log p_\\theta(x \\mid z)$", "loss", w=2.5, h=1.0)

    _arrow(ax, x.right, enc.left)
    _arrow(ax, enc.right, heads.left)
    _arrow(ax, heads.right, rep.left)
    _arrow(ax, eps.top, rep.bottom)
    _arrow(ax, rep.right, dec.left)
    _note(ax, (rep.right[0] + dec.left[0]) / 2, rep.y + 0.22, "$z$", fontsize=FONT)
    _arrow(ax, dec.right, logits.left)
    _arrow(ax, logits.right, xhat.left)
    _note(ax, (logits.right[0] + xhat.left[0]) / 2, logits.y + 0.25, "sigmoid")
    _note(ax, rep.x, rep.y + rep.h / 2 + 0.22, "reparameterization")
    # where the loss attaches: the KL reads (μ, log σ²), the reconstruction the logits and x itself
    _arrow(ax, (heads.x, heads.bottom[1]), (heads.x, kl.top[1]))
    _arrow(ax, logits.top, rec.bottom)
    _arrow(ax, x.top, (x.x, rec.y), rec.left)
    _note(ax, 6.3, rec.y + 0.2, "the frame $x$ is also the target")
    _note(ax, 12.9, 1.2, "loss $= -$ELBO $=$ reconstruction $+$ KL", fontsize=FONT)
    return fig


# --------------------------------------------------------------------------- chapter 04


def gru_cell() -> Figure:
    """One step of the GRU of chapter 04 (``vidgen_edu.models.recurrent``), in PyTorch's reset-after form.

    ``r_t = σ(W_r x_t + U_r h_{t−1} + b_r)``, ``z_t = σ(W_z x_t + U_z h_{t−1} + b_z)``,
    ``n_t = tanh(W_n x_t + b_in + r_t ⊙ (U_n h_{t−1} + b_hn))``,
    ``h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t−1}``. The state runs along the top, the input
    along the bottom; each σ box combines its own ``W x_t + U h_{t−1} + b``.
    """
    fig, ax = _canvas(8.0, 3.0)
    top, bottom = 5.15, 0.65  # the state's rail and the input's rail
    h_prev = _box(ax, 0.8, top, "$h_{t-1}$", "state", w=1.2, h=0.7)
    x_t = _box(ax, 0.8, bottom, "$x_t$", "data", w=1.2, h=0.7)
    reset = _box(ax, 2.7, 2.9, "reset gate\n$\\sigma$", "layer", w=1.65, h=0.95)
    un = _box(ax, 5.0, 4.05, "$U_n h_{t-1} + b_{hn}$", "layer", w=2.1, h=0.7)
    mul_r = _op(ax, 5.0, 2.9, "$\\odot$")
    wn = _box(ax, 7.0, 1.75, "$W_n x_t + b_{in}$", "layer", w=1.9, h=0.7)
    add_n = _op(ax, 7.0, 2.9, "$+$")
    cand = _box(ax, 8.75, 2.9, "candidate\ntanh", "layer", w=1.5, h=0.95)
    update = _box(ax, 10.45, 4.05, "update gate\n$\\sigma$", "layer", w=1.65, h=0.95)
    mul_z = _op(ax, 11.75, top, "$\\odot$")
    one_minus = _box(ax, 12.75, 4.05, "$1 - \\cdot$", "op", w=0.8, h=0.5)
    mul_n = _op(ax, 12.75, 2.9, "$\\odot$")
    add_h = _op(ax, 13.8, top, "$+$")
    h_t = _box(ax, 15.2, top, "$h_t$", "state", w=1.0, h=0.7)

    # the state: carried along the top, scaled by z_t, plus the new part
    _arrow(ax, h_prev.right, mul_z.left)
    _arrow(ax, mul_z.right, add_h.left)
    _arrow(ax, add_h.right, h_t.left)
    _note(ax, 12.85, top + 0.32, "$z_t \\odot h_{t-1}$")
    _note(ax, h_t.x, top - 0.6, "to step $t+1$")
    # h_{t-1} and x_t feed the gates
    for gx, box in ((reset.x, reset), (un.x, un), (update.x, update)):
        _dot(ax, gx, top)
        _arrow(ax, (gx, top), box.top)
    _arrow(ax, x_t.right, (update.x, bottom), update.bottom)
    for gx, box in ((reset.x, reset), (wn.x, wn)):
        _dot(ax, gx, bottom)
        _arrow(ax, (gx, bottom), box.bottom)
    # candidate, reset after the recurrent product: n_t = tanh(W_n x_t + b_in + r_t ⊙ (U_n h_{t-1} + b_hn))
    _arrow(ax, reset.right, mul_r.left)
    _note(ax, 3.95, 3.12, "$r_t$", fontsize=FONT)
    _arrow(ax, un.bottom, mul_r.top)
    _arrow(ax, mul_r.right, add_n.left)
    _arrow(ax, wn.top, add_n.bottom)
    _arrow(ax, add_n.right, cand.left)
    _arrow(ax, cand.right, mul_n.left)
    _note(ax, 9.85, 2.68, "$n_t$", fontsize=FONT)
    _note(ax, 4.65, 2.15, "reset applied after\nthe product with $U_n$")
    # update gate: z_t ⊙ h_{t-1} on the rail, (1 − z_t) ⊙ n_t below it
    _arrow(ax, (update.x, mul_n.y - 0.35), (update.x, mul_n.y + 0.35), head=False, over=True)  # crosses n_t
    _arrow(ax, update.right, (mul_z.x, update.y), mul_z.bottom)
    _dot(ax, mul_z.x, update.y)
    _note(ax, 11.5, 3.75, "$z_t$", fontsize=FONT)
    _arrow(ax, (mul_z.x, update.y), one_minus.left)
    _arrow(ax, one_minus.bottom, mul_n.top)
    _arrow(ax, mul_n.right, (add_h.x, mul_n.y), add_h.bottom)
    _note(ax, mul_n.x, mul_n.y - 0.5, "$(1 - z_t) \\odot n_t$")
    return fig


def next_frame_predictor() -> Figure:
    """Chapter 04's ``NextFramePredictor`` (``vidgen_edu.models.predictor``), one step.

    ``x_t`` → space-to-depth (``PixelUnshuffle``) → two 3×3 convolutions → the recurrent
    core (GRU or ConvGRU), whose state ``h`` goes on to the next step → readout →
    decoder convolutions → depth-to-space (``PixelShuffle``) → a 3×3 merge convolution
    that also sees ``x_t`` (the skip path) → logits of ``x_{t+1}``. Free-running, the
    prediction is fed back as the next input (dashed).
    """
    fig, ax = _canvas(8.0, 3.2, x0=-0.4)
    upper, lower, skip = 4.6, 1.85, 3.2
    frame = _box(ax, 0.9, upper, "frame $x_t$", "data", w=1.4, h=0.8)
    s2d = _box(ax, 3.45, upper, "space-to-depth\nPixelUnshuffle(4)", "op", w=2.45, h=0.95)
    enc = _box(ax, 6.85, upper, "conv encoder\n2 × (conv 3×3, ReLU)", w=2.9, h=0.95)
    core = _box(ax, 11.3, upper, "recurrent core\nGRU or ConvGRU", "state", w=2.5, h=0.95)
    readout = _box(ax, 11.3, lower, "readout\nlinear or conv 3×3", w=2.5, h=0.95)
    dec = _box(ax, 8.2, lower, "decoder\nconv 3×3, conv 1×1", w=2.75, h=0.95)
    d2s = _box(ax, 5.3, lower, "depth-to-space\nPixelShuffle(4)", "op", w=2.3, h=0.95)
    merge = _box(ax, 2.9, lower, "merge\nconv 3×3", w=1.6, h=0.95)
    out = _box(ax, 0.9, lower, "logits of\n$x_{t+1}$", "data", w=1.4, h=0.95)

    _arrow(ax, frame.right, s2d.left)
    _arrow(ax, s2d.right, enc.left)
    _arrow(ax, enc.right, core.left)
    _note(ax, (enc.right[0] + core.left[0]) / 2, upper + 0.4, "8×8 map")
    # the recurrence: the new state is the core's input at the next step
    loop_x, loop_y = core.right[0] + 0.7, upper + 1.05
    _arrow(ax, core.right, (loop_x, upper), (loop_x, loop_y), (core.x, loop_y), core.top)
    _note(ax, loop_x + 0.25, upper + 0.35, "state $h_t$,\nused at\nstep $t+1$", ha="left")
    _arrow(ax, core.bottom, readout.top)
    _arrow(ax, readout.left, dec.right)
    _arrow(ax, dec.left, d2s.right)
    _arrow(ax, d2s.left, merge.right)
    _arrow(ax, merge.left, out.right)
    # the skip path: the merge convolution also sees the input frame
    _arrow(ax, frame.bottom, (frame.x, skip), (merge.x, skip), merge.top)
    _note(ax, merge.x + 0.25, skip, "skip: the merge also sees $x_t$ (“this pixel stays”)", ha="left")
    # free-running: the prediction becomes the next input
    edge = -0.05
    _arrow(ax, out.left, (edge, lower), (edge, upper), frame.left, dashed=True)
    _note(ax, -0.2, 0.55, "dashed: free-running, the prediction sigmoid(logits) is fed back as the next "
          "input frame;\nteacher forcing feeds the true frame $x_{t+1}$ instead", ha="left")
    return fig


# --------------------------------------------------------------------------- chapter 05


def divided_space_time_block() -> Figure:
    """One ``DividedSpaceTimeBlock`` of chapter 05 (``vidgen_edu.models.blocks``), pre-norm, as the code runs it.

    Tokens ``(B, T, N, D)`` go through three residual sublayers, each reading a
    LayerNorm of the stream: causal attention over time (each patch position is a
    sequence of ``T`` frames), attention over space (each frame is a sequence of ``N``
    patches), and an MLP on every token.
    """
    fig, ax = _canvas(8.0, 3.0)
    stream, low = 4.6, 2.2
    x_in = _box(ax, 0.75, stream, "tokens\n$(B, T, N, D)$", "data", w=1.45, h=0.95)
    sublayers = [
        ("temporal attention\ncausal, over $T$", "each patch position: a\nsequence of $T$ frames, $(BN, T, D)$",
         "$x \\leftarrow x + \\mathrm{Attn}_{\\mathrm{time}}(\\mathrm{LN}(x))$"),
        ("spatial attention\nwithin a frame, over $N$", "each frame: a sequence\nof $N$ patches, $(BT, N, D)$",
         "$x \\leftarrow x + \\mathrm{Attn}_{\\mathrm{space}}(\\mathrm{LN}(x))$"),
        ("MLP\n$D \\to 4D \\to D$, GELU", "every token on its own",
         "$x \\leftarrow x + \\mathrm{MLP}(\\mathrm{LN}(x))$"),
    ]
    previous = x_in.right
    for a, (label, note, equation) in zip((3.0, 7.5, 12.0), sublayers):
        norm = _box(ax, a, 3.6, "LayerNorm", "norm", w=1.6, h=0.55)
        layer = _box(ax, a, low, label, w=2.9, h=0.95)
        add = _op(ax, a + 1.9, stream, "$+$")
        _dot(ax, a, stream)
        _arrow(ax, (a, stream), norm.top)
        _arrow(ax, norm.bottom, layer.top)
        _arrow(ax, layer.right, (add.x, low), add.bottom)
        _arrow(ax, previous, add.left)
        _note(ax, layer.x, low - 0.95, note)
        _note(ax, a + 0.95, stream + 0.75, equation)
        previous = add.right
    x_out = _box(ax, 15.25, stream, "tokens\n$(B, T, N, D)$", "data", w=1.45, h=0.95)
    _arrow(ax, previous, x_out.left)
    return fig


# --------------------------------------------------------------------------- all at once


def all_at_once_predictor(context: int = 10, future: int = 10) -> Figure:
    """A SimVP-like predictor (Gao et al., 2022): every future frame from the stacked context, in one pass.

    Each of the ``context`` frames is encoded on its own (space-to-depth, convolutions,
    down to an 8×8 map); the maps are stacked along the channels; a translator of residual
    convolution blocks at 8×8 maps them to ``future`` maps, each decoded on its own into a
    frame, with a skip from the last context frame's features to every decoder. Nothing
    is fed back.
    """
    fig, ax = _canvas(8.0, 3.0)
    row = 2.55
    frames = _box(ax, 1.05, row, f"{context} context\nframes\n$x_1, \\dots, x_{{{context}}}$", "data",
                  w=1.65, h=1.3, stack=2)
    enc = _box(ax, 3.6, row, "encoder,\nper frame:\nspace-to-depth,\nconvs → 8×8", w=2.3, h=1.55, stack=2)
    stack = _box(ax, 6.2, row, f"stack along\nchannels\n$({context} f, 8, 8)$", "op", w=1.75, h=1.3)
    trans = _box(ax, 8.55, row, "translator\nresidual conv\nblocks at 8×8", w=2.0, h=1.3)
    split = _box(ax, 10.8, row, f"split into\n{future} maps\n$(f, 8, 8)$", "op", w=1.75, h=1.3)
    dec = _box(ax, 12.85, row, "decoder,\nper frame", w=1.6, h=1.3, stack=2)
    last = f"$x_{{{context + 1}}}, \\dots, x_{{{context + future}}}$"
    outs = _box(ax, 14.95, row, f"{future} future\nframes\n{last}", "data", w=1.5, h=1.3, stack=2)

    for a, b in ((frames, enc), (enc, stack), (stack, trans), (trans, split), (split, dec), (dec, outs)):
        _arrow(ax, a.right, b.left)
    # the skip: the last context frame's features go to every decoder
    high = 4.85
    _arrow(ax, (enc.x, enc.top[1] + 0.2), (enc.x, high), (dec.x, high), (dec.x, dec.top[1] + 0.2))
    _note(ax, (enc.x + dec.x) / 2, high + 0.3,
          f"skip: the features of the last context frame $x_{{{context}}}$ go to every decoder")
    _note(ax, 8.0, 0.7, f"one forward pass predicts all {future} frames: no prediction is fed back as an input")
    return fig


# --------------------------------------------------------------------------- chapter 08


def video_gan() -> Figure:
    """The content–motion video GAN of chapter 08 (``vidgen_edu.models.gan``) and its two critics.

    A content code ``z_c`` per clip and a motion code ``z_m`` that a GRU turns into one
    ``m_t`` per frame; a frame decoder shared by all frames draws ``x_t`` from ``[z_c; m_t]``.
    The image critic scores single frames, the video critic windows of consecutive frames;
    both see real and generated clips.
    """
    fig, ax = _canvas(8.0, 3.4)
    zc = _box(ax, 1.05, 5.4, "content $z_c$\n(one per clip)", "noise", w=1.95, h=0.9)
    zm = _box(ax, 1.0, 2.3, "motion $z_m$", "noise", w=1.75, h=0.8)
    gru = _box(ax, 3.5, 2.3, "GRU\n$m_1, \\dots, m_T$", "state", w=1.8, h=0.95)
    dec = _box(ax, 6.2, 3.8, "frame decoder\n$[z_c;\\, m_t] \\to x_t$\n(shared)", w=2.3, h=1.3, stack=2)
    fake = _box(ax, 8.95, 4.6, "generated\nclip", "data", w=1.6, h=0.95, stack=2)
    real = _box(ax, 8.95, 2.2, "real clip\n(data)", "data", w=1.6, h=0.95, stack=2)
    either = _box(ax, 11.1, 3.4, "real or\ngenerated", "op", w=1.5, h=0.9)
    img = _box(ax, 14.0, 5.1, "image critic\nsingle frames\n→ a score each", w=2.6, h=1.15)
    vid = _box(ax, 14.0, 1.9, "video critic\n3-D convs on a\nwindow of frames\n→ a score", w=2.6, h=1.45)

    _arrow(ax, zm.right, gru.left)
    _arrow(ax, zc.right, (dec.x, zc.y), dec.top)
    _arrow(ax, gru.right, (dec.x - 0.5, gru.y), (dec.x - 0.5, dec.bottom[1]))
    _arrow(ax, dec.right, (7.75, dec.y), (7.75, fake.y), fake.left)
    _arrow(ax, fake.right, (10.05, fake.y), (10.05, either.y + 0.15), (either.left[0], either.y + 0.15))
    _arrow(ax, real.right, (10.05, real.y), (10.05, either.y - 0.15), (either.left[0], either.y - 0.15))
    branch_x = 12.25
    _arrow(ax, either.right, (branch_x, either.y), head=False)
    _dot(ax, branch_x, either.y)
    _arrow(ax, (branch_x, either.y), (branch_x, img.y), img.left)
    _arrow(ax, (branch_x, either.y), (branch_x, vid.y), vid.left)
    _note(ax, 3.5, 0.85, "noise_dim = 0: the GRU reads $z_m$\nat every step (our motion is\ndecided at the start)")
    _note(ax, 8.0, 6.45, "critics: real clips' scores up, generated clips' scores down;  generator: its clips' scores up")
    return fig


# --------------------------------------------------------------------------- chapter 10


def latent_flow() -> Figure:
    """Chapter 10's latent video flow model (``vidgen_edu.recipes.latent_flow``): training above, sampling below.

    Stage 1, a tubelet autoencoder (``TubeletVAE``), squeezes a 10-frame clip, its frames
    stacked as channels, into one latent ``z_1`` of 8 × 8 × 8 and is then frozen. Stage 2,
    a diffusion transformer (``VideoDiT``), learns the velocity of the straight path
    ``z_t = (1 − t) z_0 + t z_1`` from noise ``z_0``: its loss is ``‖v_θ − (z_1 − z_0)‖²``.
    The caption's words join the latent's tokens as a prefix (in-context conditioning), the
    time ``t`` enters every block through adaLN. Sampling (dashed) integrates the guided
    velocity from noise with Euler or Heun steps and decodes the latent into a clip.
    """
    fig, ax = _canvas(8.0, 3.4)
    top, mid, low = 5.35, 3.55, 1.45
    # training: clip → encoder → z_1, mixed with noise z_0 at time t → transformer → velocity
    clip = _box(ax, 1.0, top, "clip $x$\n10 frames,\n3 × 32 × 32", "data", w=1.75, h=1.2, stack=2)
    enc = _box(ax, 3.6, top, "tubelet encoder\n(frames stacked\nas channels)", w=2.2, h=1.2)
    z1 = _box(ax, 5.95, top, "latent $z_1$\n8 × 8 × 8", "state", w=1.4, h=0.95)
    mix = _box(ax, 8.45, top, "$z_t = (1-t)\\,z_0 + t\\,z_1$", "op", w=2.45, h=0.7)
    dit = _box(ax, 11.1, top, "diffusion\ntransformer", w=1.8, h=0.95)
    vel = _box(ax, 13.15, top, "velocity\n$v_\\theta$", "data", w=1.2, h=0.95)
    z0 = _box(ax, 7.6, mid, "$z_0 \\sim \\mathcal{N}(0, I)$", "noise", w=1.95, h=0.7)
    t = _box(ax, 9.3, mid, "$t$", "noise", w=0.6, h=0.7)
    words = _box(ax, 13.55, mid, "caption words\n(a red square moves left; …)", "data", w=3.95, h=0.95)

    for a, b in ((clip, enc), (enc, z1), (z1, mix), (mix, dit), (dit, vel)):
        _arrow(ax, a.right, b.left)
    _arrow(ax, (z0.x, z0.top[1]), (z0.x, mix.bottom[1]))
    _arrow(ax, (t.x, t.top[1]), (t.x, mix.bottom[1]))
    ada_x, ctx_x = 10.5, 11.7  # where t and the words enter the transformer
    _arrow(ax, t.right, (ada_x, t.y), (ada_x, dit.bottom[1]))
    _note(ax, ada_x - 0.12, 4.45, "adaLN", ha="right")
    _arrow(ax, (ctx_x, words.top[1]), (ctx_x, dit.bottom[1]))
    _note(ax, ctx_x + 0.12, 4.45, "in context\n(prefix tokens)", ha="left")
    _note(ax, 14.85, top, "loss\n$\\|v_\\theta - (z_1 - z_0)\\|^2$")
    _note(ax, (clip.x + z1.x) / 2, top + 1.05, "stage 1: tubelet autoencoder, then frozen")
    _note(ax, (mix.x + vel.x) / 2, top + 1.05, "stage 2: flow matching on its latents")

    # sampling (dashed): noise → ODE steps with the guided velocity → latent → decoder → clip
    s0 = _box(ax, 1.15, low, "$z_0 \\sim \\mathcal{N}(0, I)$", "noise", w=1.95, h=0.7)
    ode = _box(ax, 4.35, low, "ODE: Euler / Heun\n$z \\leftarrow z + \\Delta t\\, \\tilde v$", "op", w=2.6, h=0.95)
    lat = _box(ax, 7.1, low, "latent\n8 × 8 × 8", "state", w=1.4, h=0.95)
    dec = _box(ax, 9.75, low, "tubelet decoder", w=2.25, h=0.7)
    gen = _box(ax, 12.5, low, "generated\nclip", "data", w=1.5, h=0.95, stack=2)
    for a, b in ((s0, ode), (ode, lat), (lat, dec), (dec, gen)):
        _arrow(ax, a.right, b.left, dashed=True)
    _note(ax, 0.2, low + 0.8, "sampling (dashed), from $t = 0$ to $t = 1$", ha="left")
    _note(ax, 0.2, low - 0.9, "guided: $\\tilde v = v_\\varnothing + w\\,(v_y - v_\\varnothing)$, the transformer's "
          "velocity without ($\\varnothing$) and with the caption $y$", ha="left")
    return fig
