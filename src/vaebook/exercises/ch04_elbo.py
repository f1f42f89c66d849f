"""Chapter 4's coding exercises: the ELBO's Monte Carlo estimate and the importance-weighted bound."""

from __future__ import annotations

import math

import torch

from vaebook.exercises.registry import Exercise, register


def _log_weights(seed: int, k: int = 16, n: int = 5, offset: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded (K, N) tables of log p(x, z_k) and log q(z_k | x)."""
    g = torch.Generator().manual_seed(seed)
    log_p = 3 * torch.randn(k, n, generator=g, dtype=torch.float64) + offset
    log_q = torch.randn(k, n, generator=g, dtype=torch.float64)
    return log_p, log_q


def check_elbo(candidate, seed: int) -> list[tuple[str, bool]]:
    """The average of log p(x, z) − log q(z | x) over the K draws, per data point."""
    log_p, log_q = _log_weights(seed)
    got, want = candidate(log_p, log_q), (log_p - log_q).mean(0)
    ok = got.shape == want.shape and bool(torch.allclose(got, want, rtol=1e-12, atol=1e-12))
    return [("elbo_estimate(log_p, log_q) averages log p - log q over the draws (dim 0)", ok)]


def check_iw(candidate, seed: int) -> list[tuple[str, bool]]:
    """log (1/K) Σ_k p(x, z_k) / q(z_k | x), exact also where the weights under- or overflow."""
    results = []
    for what, offset in [("on ordinary values", 0.0), ("where the weights underflow (near -1000)", -1000.0),
                         ("where the weights overflow (near +1000)", 1000.0)]:
        log_p, log_q = _log_weights(seed + 1, offset=offset)
        log_w = log_p - log_q
        want = torch.logsumexp(log_w, 0) - math.log(log_w.shape[0])
        got = candidate(log_p, log_q)
        results.append((f"iw_bound(log_p, log_q) is the K-sample bound {what}",
                        got.shape == want.shape and bool(torch.allclose(got, want, rtol=1e-12, atol=1e-9))))
    return results


register(Exercise("elbo-estimate", "04_elbo", "elbo_estimate", 1, check_elbo, ("vaebook.losses.negative_elbo",)))
register(Exercise("iw-bound", "04_elbo", "iw_bound", 2, check_iw, ("torch.logsumexp",)))
