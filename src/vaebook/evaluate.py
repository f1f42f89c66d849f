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


def importance_weighted(log_weights: Callable[[int], torch.Tensor], k: int, chunk: int = 500) -> torch.Tensor:
    """log (1/K) Σ_k w_k from K log-weights drawn ``chunk`` at a time, combined with log-sum-exp.

    ``log_weights(m)`` draws m samples and returns their log-weights, shape (m, batch). Working in
    chunks keeps K = 5000 in memory; log-sum-exp keeps it from overflowing.
    """
    if k < 1:
        raise ValueError(f"the number of importance samples must be at least 1, got {k}")
    pieces = [torch.logsumexp(log_weights(min(chunk, k - start)), dim=0) for start in range(0, k, chunk)]
    return torch.logsumexp(torch.stack(pieces), dim=0) - math.log(k)


@torch.no_grad()
def iw_log_likelihood(model, x: torch.Tensor, k: int, chunk: int = 500) -> torch.Tensor:
    """Importance-weighted estimate of log p(x) with K samples from q(z|x), one number per example.

        log p(x) ≈ log (1/K) Σ_k p(x, z_k) / q(z_k|x),    z_k ~ q(z|x)

    K = 1 is the ELBO; the estimate rises towards log p(x) as K grows.
    """
    model.check_input(x)
    mu, log_var = model.encode(x)
    std = torch.exp(0.5 * log_var)

    def log_weights(m: int) -> torch.Tensor:
        z = mu + std * torch.randn(m, *mu.shape, device=mu.device, dtype=mu.dtype)    # (m, B, D)
        out = model.decode(z.flatten(0, 1))
        log_px_z = model.likelihood.log_prob(x.repeat(m, *([1] * (x.dim() - 1))), out).view(m, -1)
        return log_px_z + log_standard_normal(z) - log_normal_diag(z, mu, log_var)

    return importance_weighted(log_weights, k, chunk)


@torch.no_grad()
def evaluate_iw(model, loader: Iterable, k: int) -> float:
    """Mean importance-weighted negative log-likelihood over a loader (nats per example).

    Every model answers ``iw_log_likelihood(batch, k)`` itself: a VAE through
    :func:`iw_log_likelihood`, a conditional model for its own conditional likelihood.
    """
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for batch in loader:
        total += float(-model.iw_log_likelihood(batch, k).sum())
        count += len(batch[0])
    model.train(was_training)
    if count == 0:
        raise ValueError("cannot evaluate on an empty loader")
    return total / count
