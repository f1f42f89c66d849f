"""Likelihoods of 8-bit pixels and the unit people compare them in: bits per dimension.

A pixel of an 8-bit image takes one of 256 values, so its likelihood must be a probability
over those values, not a density. PixelCNN++ (Salimans et al. 2017) gets one from a mixture of
logistic distributions by giving each value the mass of its bin of width 1/255 on [-1, 1], the
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


def discretized_logistic_mixture_log_prob(values: torch.Tensor, logit_weights: torch.Tensor, means: torch.Tensor,
                                          log_scales: torch.Tensor, levels: int = 256) -> torch.Tensor:
    """log P(value) of integer pixel values in {0, ..., levels − 1}, elementwise.

    ``values`` has shape S; ``logit_weights``, ``means`` and ``log_scales`` have shape (*S, M) for
    a mixture of M logistics on [-1, 1]. The mass of value v is F(v + ½) − F(v − ½) in the rescaled
    units, with F = 0 below the first value and F = 1 above the last.
    """
    if values.is_floating_point():
        raise TypeError("values must be integers in {0, ..., levels - 1} (a tensor of dtype long)")
    if values.numel() and (values.min() < 0 or values.max() >= levels):
        bad = values.min() if values.min() < 0 else values.max()
        raise ValueError(f"value {int(bad)} lies outside {{0, ..., {levels - 1}}}")
    # value v → [-1, 1]; its bin's edges (2v ± 1)/(levels − 1) − 1 are computed from integers in the
    # parameters' dtype, so that neighbouring bins share an edge exactly and the masses telescope to 1
    dtype = means.dtype if means.is_floating_point() else torch.get_default_dtype()
    v = values.unsqueeze(-1)
    upper = torch.where(v == levels - 1, math.inf, (2 * v + 1).to(dtype) / (levels - 1) - 1)
    lower = torch.where(v == 0, -math.inf, (2 * v - 1).to(dtype) / (levels - 1) - 1)
    inv_scale = torch.exp(-log_scales)
    cdf_upper = torch.sigmoid((upper - means) * inv_scale)
    cdf_lower = torch.sigmoid((lower - means) * inv_scale)
    log_mass = torch.log((cdf_upper - cdf_lower).clamp(min=1e-12))
    return torch.logsumexp(F.log_softmax(logit_weights, dim=-1) + log_mass, dim=-1)
