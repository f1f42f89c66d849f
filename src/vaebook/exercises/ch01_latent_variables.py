"""Chapter 1's coding exercises: the marginal of a mixture by log-sum-exp, and the posterior over components."""

from __future__ import annotations

import torch

from vaebook.exercises.registry import Exercise, register


def _log_joint(seed: int, n: int = 50, k: int = 4, offset: float = 0.0) -> torch.Tensor:
    """A seeded (N, K) table of log p(x_n, z = k), shifted by ``offset`` (far below 0 underflows exp)."""
    g = torch.Generator().manual_seed(seed)
    return 5 * torch.randn(n, k, generator=g, dtype=torch.float64) + offset


def check_log_marginal(candidate, seed: int) -> list[tuple[str, bool]]:
    """log p(x_n) = log Σ_k exp(log p(x_n, k)), also where every exp underflows or overflows."""
    results = []
    for what, offset in [("on ordinary values", 0.0), ("where exp underflows (log p near -1000)", -1000.0),
                         ("where exp overflows (log p near +1000)", 1000.0)]:
        table = _log_joint(seed, offset=offset)
        got = candidate(table)
        want = torch.logsumexp(table, dim=1)
        results.append((f"log_marginal(log_joint) is log p(x) {what}",
                        got.shape == want.shape and bool(torch.allclose(got, want, rtol=1e-12, atol=1e-9))))
    return results


def check_responsibilities(candidate, seed: int) -> list[tuple[str, bool]]:
    """p(z = k | x_n) from the joint table: rows sum to one, also far from 0 in log space."""
    results = []
    for what, offset in [("on ordinary values", 0.0), ("where exp underflows (log p near -1000)", -1000.0)]:
        table = _log_joint(seed + 7, offset=offset)
        got = candidate(table)
        want = torch.softmax(table, dim=1)
        results.append((f"responsibilities(log_joint) is p(z | x) {what}",
                        got.shape == want.shape and bool(torch.allclose(got, want, rtol=1e-10, atol=1e-12))))
    return results


register(Exercise("mixture-log-marginal", "01_latent_variables", "log_marginal", 2, check_log_marginal,
                  ("torch.logsumexp", "vaebook.em.log_density")))
register(Exercise("mixture-responsibilities", "01_latent_variables", "responsibilities", 2,
                  check_responsibilities, ("torch.softmax", "torch.nn.functional.softmax", "vaebook.em.e_step")))
