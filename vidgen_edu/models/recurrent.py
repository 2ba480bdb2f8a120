"""Gated recurrent units from scratch: ``GRUCell``, ``GRU`` and the convolutional ``ConvGRUCell``.

Chapter 04 derives the equations. ``GRUCell`` and ``GRU`` are state-dict
compatible with ``torch.nn.GRUCell`` / ``torch.nn.GRU`` (same parameter names,
shapes and gate order r, z, n), so a reader can load PyTorch's weights and
compare the outputs number for number.

The variant implemented is PyTorch's (and cuDNN's): the reset gate multiplies
``U_n h_{t-1} + b_hn`` *after* the matrix product ("reset after"). Cho et al.
(2014) reset the state *before* it, ``U_n (r_t * h_{t-1})``; pass
``reset_after=False`` to get that variant with the same parameters.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def gru_step(
    x: torch.Tensor,
    h_prev: torch.Tensor,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor | None = None,
    bias_hh: torch.Tensor | None = None,
    reset_after: bool = True,
) -> torch.Tensor:
    """One GRU update ``h_t = GRU(x_t, h_{t-1})`` for ``x`` (B, I) and ``h_prev`` (B, H); returns (B, H).

    The weights are stacked in PyTorch's gate order: rows ``[0:H]`` reset gate r,
    ``[H:2H]`` update gate z, ``[2H:3H]`` candidate n.
    """
    gi = F.linear(x, weight_ih, bias_ih)  # (B, 3H): W x_t + b_i for r, z, n at once
    return gru_update(gi, h_prev, weight_hh, bias_hh, reset_after)


def gru_update(
    gi: torch.Tensor,
    h_prev: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_hh: torch.Tensor | None = None,
    reset_after: bool = True,
) -> torch.Tensor:
    """The gate arithmetic of one GRU step, given the input projection ``gi = W x_t + b_i`` (B, 3H).

    Split from :func:`gru_step` so that a sequence model can project all time
    steps of the input at once (it does not depend on ``h``) and loop only over this.
    """
    H = h_prev.shape[-1]
    i_r, i_z, i_n = gi.chunk(3, dim=-1)  # each (B, H)
    if reset_after:
        h_r, h_z, h_n = F.linear(h_prev, weight_hh, bias_hh).chunk(3, dim=-1)  # U h_{t-1} + b_h, each (B, H)
    else:
        b_rz = None if bias_hh is None else bias_hh[: 2 * H]
        h_r, h_z = F.linear(h_prev, weight_hh[: 2 * H], b_rz).chunk(2, dim=-1)
    # r_t = σ(W_r x_t + b_ir + U_r h_{t-1} + b_hr)
    r = torch.sigmoid(i_r + h_r)
    # z_t = σ(W_z x_t + b_iz + U_z h_{t-1} + b_hz)
    z = torch.sigmoid(i_z + h_z)
    if reset_after:
        # n_t = tanh(W_n x_t + b_in + r_t ⊙ (U_n h_{t-1} + b_hn))        (PyTorch, cuDNN)
        n = torch.tanh(i_n + r * h_n)
    else:
        b_n = None if bias_hh is None else bias_hh[2 * H:]
        # n_t = tanh(W_n x_t + b_in + U_n (r_t ⊙ h_{t-1}) + b_hn)        (Cho et al., 2014)
        n = torch.tanh(i_n + F.linear(r * h_prev, weight_hh[2 * H:], b_n))
    # h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t−1}: z_t = 1 keeps the old state, z_t = 0 takes the candidate
    return (1 - z) * n + z * h_prev


class GRUCell(nn.Module):
    """One GRU step, a drop-in for ``torch.nn.GRUCell`` (chapter 04).

    Parameters: ``weight_ih`` (3H, I), ``weight_hh`` (3H, H), ``bias_ih`` (3H,),
    ``bias_hh`` (3H,), gates stacked as r, z, n. ``forward(x, h=None)`` takes
    ``x`` (B, I) or (I,) and ``h`` (B, H) or (H,) (zeros if omitted) and returns
    the new state with the same leading shape.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, reset_after: bool = True) -> None:
        super().__init__()
        if input_size < 1 or hidden_size < 1:
            raise ValueError(f"input_size and hidden_size must be positive, got {input_size}, {hidden_size}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.reset_after = reset_after
        self.weight_ih = nn.Parameter(torch.empty(3 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(3 * hidden_size, hidden_size))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(3 * hidden_size))
            self.bias_hh = nn.Parameter(torch.empty(3 * hidden_size))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's initialisation: every parameter ~ U(−1/√H, 1/√H)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"GRUCell expects x of shape (B, {self.input_size}) or ({self.input_size},), "
                             f"got {tuple(x.shape)}")
        unbatched = x.dim() == 1
        if unbatched:
            x = x.unsqueeze(0)
        if h is None:
            h = x.new_zeros(x.shape[0], self.hidden_size)
        else:
            if unbatched:
                h = h.unsqueeze(0)
            if h.shape != (x.shape[0], self.hidden_size):
                want = f"({self.hidden_size},)" if unbatched else f"({x.shape[0]}, {self.hidden_size})"
                got = tuple(h.shape[1:]) if unbatched else tuple(h.shape)
                raise ValueError(f"GRUCell expects h of shape {want}, got {got}")
        h_new = gru_step(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, self.reset_after)
        return h_new.squeeze(0) if unbatched else h_new

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias}, reset_after={self.reset_after}"


class GRU(nn.Module):
    """A stack of GRU layers run over a sequence, a drop-in for ``torch.nn.GRU`` (chapter 04).

    State-dict compatible with ``nn.GRU(input_size, hidden_size, num_layers, bias, batch_first)``:
    parameters ``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}``.
    A plain Python loop over time and layers, so it is slower than PyTorch's fused
    kernel but every line can be read (and stepped through in a debugger).

    ``forward(x, h0=None)``: ``x`` is (B, T, I) if ``batch_first`` else (T, B, I), or an
    unbatched (T, I); ``h0`` is (L, B, H) (or (L, H) unbatched), zeros if omitted.
    Returns ``(output, h_n)``: the top layer's state at every step, (B, T, H)
    (or (T, B, H)), and every layer's last state, (L, B, H).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = True, reset_after: bool = True) -> None:
        super().__init__()
        if input_size < 1 or hidden_size < 1 or num_layers < 1:
            raise ValueError("input_size, hidden_size and num_layers must be positive, "
                             f"got {input_size}, {hidden_size}, {num_layers}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.reset_after = reset_after
        for k in range(num_layers):
            layer_in = input_size if k == 0 else hidden_size
            self.register_parameter(f"weight_ih_l{k}", nn.Parameter(torch.empty(3 * hidden_size, layer_in)))
            self.register_parameter(f"weight_hh_l{k}", nn.Parameter(torch.empty(3 * hidden_size, hidden_size)))
            if bias:
                self.register_parameter(f"bias_ih_l{k}", nn.Parameter(torch.empty(3 * hidden_size)))
                self.register_parameter(f"bias_hh_l{k}", nn.Parameter(torch.empty(3 * hidden_size)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's initialisation: every parameter ~ U(−1/√H, 1/√H)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def layer_weights(self, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """``(weight_ih, weight_hh, bias_ih, bias_hh)`` of layer ``k``."""
        w_ih, w_hh = getattr(self, f"weight_ih_l{k}"), getattr(self, f"weight_hh_l{k}")
        if not self.bias:
            return w_ih, w_hh, None, None
        return w_ih, w_hh, getattr(self, f"bias_ih_l{k}"), getattr(self, f"bias_hh_l{k}")

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        layout = "(B, T, I)" if self.batch_first else "(T, B, I)"
        if x.dim() not in (2, 3) or x.shape[-1] != self.input_size:
            raise ValueError(f"GRU expects x of shape {layout} or (T, I) with I={self.input_size}, "
                             f"got {tuple(x.shape)}")
        unbatched = x.dim() == 2
        if unbatched:
            x = x.unsqueeze(0)  # (1, T, I)
        elif not self.batch_first:
            x = x.transpose(0, 1)  # (B, T, I)
        B, T, _ = x.shape
        L, H = self.num_layers, self.hidden_size
        if h0 is None:
            h0 = x.new_zeros(L, B, H)
        else:
            if unbatched:
                if h0.shape != (L, H):
                    raise ValueError(f"GRU expects h0 of shape ({L}, {H}) for an unbatched input, got {tuple(h0.shape)}")
                h0 = h0.unsqueeze(1)
            elif h0.shape != (L, B, H):
                raise ValueError(f"GRU expects h0 of shape (L, B, H) = ({L}, {B}, {H}), got {tuple(h0.shape)}")
        if T == 0:
            raise ValueError("GRU got an empty sequence (T = 0)")

        layer_input = x  # (B, T, I) for layer 0, then (B, T, H)
        h_last = []
        for k in range(L):
            w_ih, w_hh, b_ih, b_hh = self.layer_weights(k)
            # the input projection does not depend on h: compute it for all T steps at once
            gi_all = F.linear(layer_input, w_ih, b_ih)  # (B, T, 3H)
            h = h0[k]  # (B, H)
            outputs = []
            for t in range(T):
                h = gru_update(gi_all[:, t], h, w_hh, b_hh, self.reset_after)  # (B, H)
                outputs.append(h)
            layer_input = torch.stack(outputs, dim=1)  # (B, T, H)
            h_last.append(h)
        output, h_n = layer_input, torch.stack(h_last, dim=0)  # (B, T, H), (L, B, H)
        if unbatched:
            return output.squeeze(0), h_n.squeeze(1)
        if not self.batch_first:
            output = output.transpose(0, 1)
        return output, h_n

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, bias={self.bias}, "
                f"batch_first={self.batch_first}, reset_after={self.reset_after}")


class ConvGRUCell(nn.Module):
    """A GRU whose matrix products are 2-D convolutions, for feature maps (chapter 04).

    The state is an image ``h`` (B, hidden_channels, H, W), so each pixel's state is
    updated from its neighbourhood only: the prior that motion is local. Gate
    equations are the ``GRUCell`` ones with ``W x`` → ``conv_ih(x)`` and
    ``U h`` → ``conv_hh(h)`` (Ballas et al., 2016). ``forward(x, h=None)``:
    ``x`` (B, in_channels, H, W) → new state (B, hidden_channels, H, W).
    """

    def __init__(self, in_channels: int, hidden_channels: int, kernel_size: int = 3, bias: bool = True) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd so the state keeps its size, got {kernel_size}")
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        pad = kernel_size // 2
        # stacked gates r, z, n along the output channels, as in GRUCell
        self.conv_ih = nn.Conv2d(in_channels, 3 * hidden_channels, kernel_size, padding=pad, bias=bias)
        self.conv_hh = nn.Conv2d(hidden_channels, 3 * hidden_channels, kernel_size, padding=pad, bias=bias)

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"ConvGRUCell expects x of shape (B, {self.in_channels}, H, W), got {tuple(x.shape)}")
        B, _, height, width = x.shape
        if h is None:
            h = x.new_zeros(B, self.hidden_channels, height, width)
        elif h.shape != (B, self.hidden_channels, height, width):
            raise ValueError(f"ConvGRUCell expects h of shape ({B}, {self.hidden_channels}, {height}, {width}), "
                             f"got {tuple(h.shape)}")
        i_r, i_z, i_n = self.conv_ih(x).chunk(3, dim=1)  # each (B, Hc, H, W)
        h_r, h_z, h_n = self.conv_hh(h).chunk(3, dim=1)
        r = torch.sigmoid(i_r + h_r)  # r_t = σ(W_r * x_t + U_r * h_{t-1} + b_r)
        z = torch.sigmoid(i_z + h_z)  # z_t = σ(W_z * x_t + U_z * h_{t-1} + b_z)
        n = torch.tanh(i_n + r * h_n)  # n_t = tanh(W_n * x_t + b_in + r_t ⊙ (U_n * h_{t-1} + b_hn)): reset after
        return (1 - z) * n + z * h  # h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t−1}

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.hidden_channels}, kernel_size={self.conv_ih.kernel_size[0]}"
