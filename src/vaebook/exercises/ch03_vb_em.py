"""Chapter 3's coding exercises: the exact posterior of the linear-Gaussian model, and its expected log-likelihood."""

from __future__ import annotations

import torch

from vaebook.exercises.registry import Exercise, matches, register
from vaebook.linear_gaussian import LinearGaussian


def _model(seed: int) -> tuple[LinearGaussian, torch.Tensor]:
    """A seeded linear-Gaussian model (D = 5, d = 2) and points drawn from it."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(5, 2, generator=g, dtype=torch.float64)
    b = torch.randn(5, generator=g, dtype=torch.float64)
    noise_var = float(0.2 + torch.rand(1, generator=g))
    model = LinearGaussian(w, b, noise_var)
    return model, torch.randn(12, 5, generator=g, dtype=torch.float64) + b


def check_posterior(candidate, seed: int) -> list[tuple[str, bool]]:
    """p(z | x) = N(mean, cov) against :meth:`LinearGaussian.posterior`."""
    model, x = _model(seed)
    mean, cov = model.posterior(x)
    got = candidate(x, model.W.detach(), model.b.detach(), float(model.noise_var.detach()))
    ok = isinstance(got, (tuple, list)) and len(got) == 2
    return [("posterior(x, W, b, noise_var)[0] is the posterior mean", ok and matches(got[0], mean)),
            ("posterior(x, W, b, noise_var)[1] is the posterior covariance", ok and matches(got[1], cov))]


def check_expected(candidate, seed: int) -> list[tuple[str, bool]]:
    """E_q[log p(x | z)] for q = N(mu, cov) against :meth:`LinearGaussian.expected_log_likelihood`."""
    model, x = _model(seed + 1)
    g = torch.Generator().manual_seed(seed + 2)
    mu = torch.randn(12, 2, generator=g, dtype=torch.float64)
    a = torch.randn(2, 2, generator=g, dtype=torch.float64)
    cov = a @ a.T + 0.1 * torch.eye(2, dtype=torch.float64)
    want = model.expected_log_likelihood(x, mu, cov).detach()
    got = candidate(x, mu, cov, model.W.detach(), model.b.detach(), float(model.noise_var.detach()))
    return [("expected_log_lik(x, mu, cov, W, b, noise_var) includes the trace term", matches(got, want))]


register(Exercise("linear-gaussian-posterior", "03_vb_em", "posterior", 2, check_posterior,
                  ("vaebook.linear_gaussian.LinearGaussian.posterior",)))
register(Exercise("expected-log-likelihood", "03_vb_em", "expected_log_lik", 2, check_expected,
                  ("vaebook.linear_gaussian.LinearGaussian.expected_log_likelihood",
                   "vaebook.linear_gaussian.LinearGaussian.elbo")))
