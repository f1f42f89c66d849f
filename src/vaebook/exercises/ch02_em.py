"""Chapter 2's coding exercises: the E-step and the M-step of EM for a Gaussian mixture."""

from __future__ import annotations

import torch

from vaebook.em import GMM, e_step, m_step
from vaebook.exercises.registry import Exercise, register


def _problem(seed: int, n: int = 60, k: int = 3, d: int = 2) -> tuple[torch.Tensor, GMM]:
    """Seeded points and a seeded mixture with random weights, means and positive-definite covariances."""
    g = torch.Generator().manual_seed(seed)
    x = 3 * torch.randn(n, d, generator=g, dtype=torch.float64)
    weights = torch.rand(k, generator=g, dtype=torch.float64) + 0.2
    means = 2 * torch.randn(k, d, generator=g, dtype=torch.float64)
    a = torch.randn(k, d, d, generator=g, dtype=torch.float64)
    covs = a @ a.transpose(1, 2) + 0.5 * torch.eye(d, dtype=torch.float64)
    return x, GMM(weights / weights.sum(), means, covs)


def check_e_step(candidate, seed: int) -> list[tuple[str, bool]]:
    """Log-responsibilities of a full-covariance mixture against :func:`vaebook.em.e_step`."""
    x, gmm = _problem(seed)
    want, _ = e_step(x, gmm)
    got = candidate(x, gmm.weights, gmm.means, gmm.covs)
    ok = got.shape == want.shape and bool(torch.allclose(got, want, rtol=1e-9, atol=1e-9))
    return [("e_step(x, weights, means, covs) gives log p(z = k | x_n) for full covariances", ok)]


def check_m_step(candidate, seed: int) -> list[tuple[str, bool]]:
    """Weights, means and covariances from given responsibilities against :func:`vaebook.em.m_step`."""
    x, gmm = _problem(seed + 3)
    log_resp, _ = e_step(x, gmm)
    want = m_step(x, log_resp)
    got = candidate(x, log_resp.exp())
    results = []
    for i, (what, reference) in enumerate([("weights", want.weights), ("means", want.means),
                                           ("covariances", want.covs)]):
        value = got[i] if isinstance(got, (tuple, list)) and len(got) == 3 else None
        ok = (isinstance(value, torch.Tensor) and value.shape == reference.shape
              and bool(torch.allclose(value, reference, rtol=1e-9, atol=1e-10)))
        results.append((f"m_step(x, resp) gives the maximum-likelihood {what}", ok))
    return results


register(Exercise("gmm-e-step", "02_em", "e_step", 3, check_e_step,
                  ("vaebook.em.e_step", "vaebook.em.component_log_probs", "vaebook.em.log_density",
                   "torch.distributions.MultivariateNormal")))
register(Exercise("gmm-m-step", "02_em", "m_step", 3, check_m_step, ("vaebook.em.m_step",)))
