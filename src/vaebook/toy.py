"""Small hand-made models for the first chapter's pictures: no training, so the idea shows alone."""

from __future__ import annotations

import math

import torch


def ring_decoder(z: torch.Tensor, noise_std: float = 0.08) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed smooth 'decoder' from a 2-D z to the (mean, log-variance) of a Gaussian p(x|z) in the plane.

    z₂ picks the angle (through the normal CDF, so N(0, 1) covers the circle evenly) and z₁ the radius
    (through tanh, so most codes land near radius 1 or 2): p(x) = ∫ p(z) p(x|z) dz tiles two rings,
    a stand-in for what a trained VAE decoder does.
    """
    if z.dim() != 2 or z.shape[1] != 2:
        raise ValueError(f"ring_decoder expects codes of shape (N, 2), got {tuple(z.shape)}")
    angle = 2 * math.pi * torch.special.ndtr(z[:, 1])
    radius = 1.5 + 0.5 * torch.tanh(4 * z[:, 0])
    mean = radius[:, None] * torch.stack([torch.cos(angle), torch.sin(angle)], 1)
    return mean, torch.full_like(mean, 2 * math.log(noise_std))


def grid_log_likelihood(f_data: torch.Tensor, f_grid: torch.Tensor, cell_area: float) -> float:
    """Mean log-likelihood of data under the density exp(f)/Z, with Z = ∫ exp(f) summed over a grid.

    ``f_data`` holds f at the data points, ``f_grid`` at the centres of grid cells of area ``cell_area``.
    Without the log Z term, adding a constant to f would raise the 'likelihood' for free.
    """
    return float(f_data.mean() - (torch.logsumexp(f_grid, 0) + math.log(cell_area)))
