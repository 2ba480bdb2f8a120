"""Recipe: flow matching on a ring of eight Gaussians, the 2-D toy of chapter 10.

Each step draws a fresh batch: data ``x_1`` and its component ``y`` from
:class:`~vidgen_edu.models.diffusion.GaussianMixture2D`, noise ``x_0 ~ N(0, I)``, a time
``t`` (logit-normal), and replaces ``y`` by the null class with probability
``label_dropout``. The loss is ``E‖v_θ(x_t, t, y) − (x_1 − x_0)‖²`` with
``x_t = (1 − t) x_0 + t x_1``. Because some labels are dropped, the same network learns
the conditional and the unconditional velocity: classifier-free guidance needs both.
The mixture's exact velocity (``marginal_velocity``) is what it should learn.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

from ..models.diffusion import GaussianMixture2D, ToyVelocityNet, circle_means, flow_path, flow_target, sample_t
from ..runtime import Budget
from ..train import fit
from . import register
from .base import Recipe

Batch = dict[str, torch.Tensor]


@dataclass(frozen=True, kw_only=True)
class FlowToyRecipe(Recipe):
    modes: int = 8  # mixture components, evenly spaced on a circle ...
    radius: float = 3.0  # ... of this radius
    std: float = 0.3  # standard deviation of each component
    width: int = 128  # hidden units of the MLP
    depth: int = 3  # hidden layers
    label_dropout: float = 0.1  # probability of training on the null class (for classifier-free guidance)
    logit_normal: bool = True  # t = sigmoid(N(0, 1)); False: t ~ U(0, 1)
    batch_size: int = 512
    lr: float = 2e-3  # Adam, decayed to 0 along a cosine
    steps: Budget = Budget(full=3000, quick=20)  # optimizer steps, each on a fresh batch
    cpu_threads: int | None = 1  # tiny tensors: one thread is fastest

    @property
    def mixture(self) -> GaussianMixture2D:
        """The data distribution."""
        return GaussianMixture2D(means=circle_means(self.modes, self.radius), std=self.std)

    def build(self) -> ToyVelocityNet:
        return ToyVelocityNet(num_classes=self.modes, width=self.width, depth=self.depth)

    def batches(self) -> Iterator[Batch]:
        """Endless fresh batches ``{x0, x1, t, label}`` (CPU), the same sequence for the same seed."""
        g = torch.Generator().manual_seed(self.seed)
        mixture = self.mixture
        while True:
            x1, label = mixture.sample(self.batch_size, generator=g)  # (B, 2), (B,)
            x0 = torch.randn(self.batch_size, 2, generator=g)  # (B, 2) noise
            t = sample_t(self.batch_size, generator=g, logit_normal=self.logit_normal)  # (B,)
            drop = torch.rand(self.batch_size, generator=g) < self.label_dropout
            label = torch.where(drop, torch.full_like(label, self.modes), label)  # index `modes` = no condition
            yield {"x0": x0, "x1": x1, "t": t, "label": label}

    def loss(self, model: ToyVelocityNet, batch: Batch) -> torch.Tensor:
        """Flow matching: ``mean_b ‖v_θ(x_t, t, y) − (x_1 − x_0)‖²``."""
        x_t = flow_path(batch["x0"], batch["x1"], batch["t"])  # (B, 2)
        v = model(x_t, batch["t"], batch["label"])  # (B, 2)
        # L = E ‖v_θ(x_t, t, y) − (x_1 − x_0)‖²
        return ((v - flow_target(batch["x0"], batch["x1"])) ** 2).sum(-1).mean()

    def fit(self, model: ToyVelocityNet, device: torch.device) -> list[float]:
        steps = self.steps.value
        opt = torch.optim.Adam(model.parameters(), lr=self.lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
        return fit(model, self.loss, self.batches(), steps, optimizer=opt, scheduler=sched, device=device,
                   desc=self.name)


RING = register(FlowToyRecipe(name="flow_matching_toy", chapter="10"))
