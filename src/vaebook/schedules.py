"""Weighting the two terms of the ELBO during training: β for the KL, a factor for the reconstruction,
and a linear warm-up of β (KL annealing) that starts at 0 so the decoder cannot ignore z from the start.
"""

from __future__ import annotations

from typing import Callable

import torch

from vaebook.losses import negative_elbo


def linear_warmup(step: int, warmup_steps: int, start: float = 0.0, end: float = 1.0) -> float:
    """β at optimiser step ``step`` (0-based): ``start`` rising linearly to ``end`` at ``warmup_steps``, then flat."""
    if warmup_steps < 0:
        raise ValueError(f"warmup_steps must be non-negative, got {warmup_steps}")
    if step < 0:
        raise ValueError(f"step must be non-negative, got {step}")
    if warmup_steps == 0 or step >= warmup_steps:
        return float(end)
    return start + (end - start) * step / warmup_steps


class WeightedELBO:
    """A trainer loss ``distortion_weight · distortion + β(step) · rate`` (batch means, nats per example).

    ``beta`` is a number or a function of the training step (e.g. ``partial(linear_warmup, warmup_steps=500)``).
    The step advances once per call in training mode, so evaluation does not move the schedule.
    The returned ``neg_elbo`` is always the unweighted bound, so runs with different weights compare.
    """

    def __init__(self, beta: float | Callable[[int], float] = 1.0, distortion_weight: float = 1.0):
        if distortion_weight <= 0:
            raise ValueError(f"distortion_weight must be positive, got {distortion_weight}")
        self.beta = beta
        self.distortion_weight = float(distortion_weight)
        self.step = 0

    def current_beta(self) -> float:
        return float(self.beta(self.step)) if callable(self.beta) else float(self.beta)

    def __call__(self, model, batch: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
        beta = self.current_beta()
        metrics = negative_elbo(model, batch[0], beta=1.0)
        metrics["loss"] = self.distortion_weight * metrics["distortion"] + beta * metrics["rate"]
        metrics["beta"] = torch.tensor(beta)
        if model.training:
            self.step += 1
        return metrics
