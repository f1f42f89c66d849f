"""Likelihoods of 8-bit pixels and the unit people compare them in: bits per dimension.

A pixel of an 8-bit image takes one of 256 values, so its likelihood must be a probability
over those values, not a density. PixelCNN++ (Salimans et al. 2017) gets one from a mixture of
logistic distributions by giving each value the mass of its bin of width 2/255 on [-1, 1], the
two end bins stretched to ±∞ so that the 256 masses sum to exactly 1.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def bits_per_dim(nats_per_example: float | torch.Tensor, dims: int) -> float | torch.Tensor:
    """Nats per example to bits per dimension: divide by the number of dimensions and by log 2."""
    if dims < 1:
        raise ValueError(f"dims must be at least 1, got {dims}")
    return nats_per_example / (dims * math.log(2))


def bin_edges(values: torch.Tensor, levels: int, dtype: torch.dtype = torch.float32
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """The edges on [-1, 1] of the bins of integer pixel values: value v sits at 2v/(levels − 1) − 1
    and its bin reaches half-way to its neighbours. The two end bins reach to −∞ and +∞; their outer
    edges are returned finite (one half-bin out), for :func:`bin_mass` to replace by 0 and 1.

    Computed from integers in ``dtype``, so that neighbouring bins share an edge exactly and any
    distribution's masses telescope to 1.
    """
    if values.is_floating_point():
        raise TypeError("values must be integers in {0, ..., levels - 1} (a tensor of dtype long)")
    if values.numel() and (values.min() < 0 or values.max() >= levels):
        bad = values.min() if values.min() < 0 else values.max()
        raise ValueError(f"value {int(bad)} lies outside {{0, ..., {levels - 1}}}")
    dtype = dtype if dtype.is_floating_point else torch.get_default_dtype()
    return (2 * values - 1).to(dtype) / (levels - 1) - 1, (2 * values + 1).to(dtype) / (levels - 1) - 1


def bin_mass(values: torch.Tensor, levels: int, cdf_lower: torch.Tensor, cdf_upper: torch.Tensor) -> torch.Tensor:
    """F(upper) − F(lower) with F = 0 below the first value's bin and 1 above the last one's.

    The end bins are set by ``torch.where`` on CDFs of finite edges: an infinite edge would give a
    gradient of 0 · ∞ = NaN with respect to the scale, and training would stop at its first step.
    """
    return torch.where(values == levels - 1, 1.0, cdf_upper) - torch.where(values == 0, 0.0, cdf_lower)


def discretized_gaussian_log_prob(values: torch.Tensor, means: torch.Tensor, stds: torch.Tensor,
                                  levels: int = 256) -> torch.Tensor:
    """log P(value) of integer pixels under N(mean, std²) on [-1, 1] given the mass of each value's bin
    (:func:`bin_edges`), elementwise: the decoder of a diffusion model at its last step (Ho et al. 2020).
    """
    lower, upper = bin_edges(values, levels, means.dtype)
    normal = torch.distributions.Normal(means, stds)
    # far out in a tail the difference of two CDFs rounds to 0: there use the density times the bin width
    mass = bin_mass(values, levels, normal.cdf(lower), normal.cdf(upper))
    tail = normal.log_prob(values.to(means.dtype) * (2 / (levels - 1)) - 1) + math.log(2 / (levels - 1))
    return torch.where(mass > 1e-12, torch.log(mass.clamp(min=1e-12)), tail)


def discretized_logistic_mixture_log_prob(values: torch.Tensor, logit_weights: torch.Tensor, means: torch.Tensor,
                                          log_scales: torch.Tensor, levels: int = 256) -> torch.Tensor:
    """log P(value) of integer pixel values in {0, ..., levels − 1}, elementwise.

    ``values`` has shape S; ``logit_weights``, ``means`` and ``log_scales`` have shape (*S, M) for
    a mixture of M logistics on [-1, 1]. The mass of value v is F(v + ½) − F(v − ½) in the rescaled
    units, with F = 0 below the first value and F = 1 above the last.
    """
    v = values.unsqueeze(-1)
    lower, upper = bin_edges(v, levels, means.dtype)
    inv_scale = torch.exp(-log_scales)
    mass = bin_mass(v, levels, torch.sigmoid((lower - means) * inv_scale), torch.sigmoid((upper - means) * inv_scale))
    log_mass = torch.log(mass.clamp(min=1e-12))
    return torch.logsumexp(F.log_softmax(logit_weights, dim=-1) + log_mass, dim=-1)
