"""Free training data from the simulators' symmetries: mirror images, transposes and time reversal.

The bouncing balls obey rules that do not care about left and right, up and
down, or the direction of time: a mirrored, transposed or reversed clip is
another clip the simulator could have made (elastic collisions and mirror
walls are reversible). Applying a random such symmetry to each training clip
multiplies the data by 16 at no cost. For moving digits only time reversal
is safe: a mirrored "2" is not a digit.
"""

from __future__ import annotations

import torch


def random_symmetry(clips: torch.Tensor, generator: torch.Generator | None = None, *,
                    flips: bool = True, reverse: bool = True) -> torch.Tensor:
    """Each clip (B, T, C, H, W) under its own random symmetry; same shape, same values, new arrangement.

    With ``flips``: a left-right mirror, an up-down mirror and a transpose (square
    frames only), each with probability 1/2 (the 8 symmetries of the square). With
    ``reverse``: time reversal with probability 1/2. The coins come from ``generator``.
    """
    if clips.dim() != 5:
        raise ValueError(f"random_symmetry expects clips of shape (B, T, C, H, W), got {tuple(clips.shape)}")
    if flips and clips.shape[-1] != clips.shape[-2]:
        raise ValueError(f"transposing needs square frames, got {clips.shape[-2]}x{clips.shape[-1]}")
    coins = torch.rand(4, clips.shape[0], generator=generator) < 0.5  # (4, B): one coin per clip and symmetry
    coins = coins.to(clips.device)[:, :, None, None, None, None]  # broadcast over (T, C, H, W)
    out = clips
    if flips:
        out = torch.where(coins[0], out.flip(-1), out)  # x → W − 1 − x
        out = torch.where(coins[1], out.flip(-2), out)  # y → H − 1 − y
        out = torch.where(coins[2], out.transpose(-1, -2), out)  # x ↔ y
    if reverse:
        out = torch.where(coins[3], out.flip(1), out)  # t → T − 1 − t
    return out


__all__ = ["random_symmetry"]
