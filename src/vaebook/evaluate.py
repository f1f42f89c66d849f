"""Evaluation shared by every chapter: the negative ELBO split into rate and distortion,
and the importance-weighted estimate of log p(x) (Burda et al. 2015).
"""

from __future__ import annotations

import math
from typing import Callable, Iterable

import torch

from vaebook.distributions import log_normal_diag, log_standard_normal
from vaebook.losses import model_loss


@torch.no_grad()
def evaluate(model, loader: Iterable, loss_fn: Callable = model_loss) -> dict[str, float]:
    """Average every metric ``loss_fn`` returns over a loader, weighted by batch size (nats per example)."""
    was_training = model.training
    model.eval()
    totals: dict[str, float] = {}
    count = 0
    for batch in loader:
        n = len(batch[0])
        for key, value in loss_fn(model, batch).items():
            totals[key] = totals.get(key, 0.0) + float(value) * n
        count += n
    model.train(was_training)
    if count == 0:
        raise ValueError("cannot evaluate on an empty loader")
    return {key: value / count for key, value in totals.items()}


@torch.no_grad()
def iw_log_likelihood(model, x: torch.Tensor, k: int, chunk: int = 500) -> torch.Tensor:
    """Importance-weighted estimate of log p(x) with K samples from q(z|x), one number per example.

        log p(x) ≈ log (1/K) Σ_k p(x, z_k) / q(z_k|x),    z_k ~ q(z|x)

    K = 1 is the ELBO; the estimate rises towards log p(x) as K grows. Samples are
    processed ``chunk`` at a time and combined with log-sum-exp, so K = 5000 fits in memory.
    """
    if k < 1:
        raise ValueError(f"the number of importance samples must be at least 1, got {k}")
    model.check_input(x)
    mu, log_var = model.encode(x)
    std = torch.exp(0.5 * log_var)
    pieces = []
    for start in range(0, k, chunk):
        m = min(chunk, k - start)
        z = mu + std * torch.randn(m, *mu.shape, device=mu.device, dtype=mu.dtype)    # (m, B, D)
        out = model.decode(z.flatten(0, 1))
        log_px_z = model.likelihood.log_prob(x.repeat(m, *([1] * (x.dim() - 1))), out).view(m, -1)
        log_w = log_px_z + log_standard_normal(z) - log_normal_diag(z, mu, log_var)
        pieces.append(torch.logsumexp(log_w, dim=0))
    return torch.logsumexp(torch.stack(pieces), dim=0) - math.log(k)


@torch.no_grad()
def evaluate_iw(model, loader: Iterable, k: int, chunk: int = 500) -> float:
    """Mean importance-weighted negative log-likelihood over a loader (nats per example)."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for x, _ in loader:
        total += float(-iw_log_likelihood(model, x, k, chunk).sum())
        count += len(x)
    model.train(was_training)
    if count == 0:
        raise ValueError("cannot evaluate on an empty loader")
    return total / count
