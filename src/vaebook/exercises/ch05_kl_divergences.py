"""Chapter 5's coding exercises: the KL between two diagonal Gaussians, and its Monte Carlo estimator."""

from __future__ import annotations

import torch

from vaebook.distributions import kl_normal_normal, kl_normal_std_normal, log_normal_diag, log_standard_normal
from vaebook.estimators import mean_agrees
from vaebook.exercises.registry import Exercise, register


def _gaussians(seed: int, n: int = 32, d: int = 4) -> list[torch.Tensor]:
    """Seeded means in N(0, 4) and log-variances in [-3, 3]: two diagonal Gaussians per row."""
    g = torch.Generator().manual_seed(seed)
    return [2 * torch.randn(n, d, generator=g, dtype=torch.float64) if i % 2 == 0
            else 6 * torch.rand(n, d, generator=g, dtype=torch.float64) - 3 for i in range(4)]


def check_kl_two(candidate, seed: int) -> list[tuple[str, bool]]:
    """KL(q || p) for two diagonal Gaussians against :func:`vaebook.distributions.kl_normal_normal`."""
    mu_q, lv_q, mu_p, lv_p = _gaussians(seed)
    got, want = candidate(mu_q, lv_q, mu_p, lv_p), kl_normal_normal(mu_q, lv_q, mu_p, lv_p)
    ok = got.shape == want.shape and bool(torch.allclose(got, want, rtol=1e-9, atol=1e-12))
    zero = candidate(mu_q, lv_q, mu_q, lv_q)
    return [("kl_diag_diag(mu_q, log_var_q, mu_p, log_var_p) equals the closed form on random pairs", ok),
            ("it is 0 when the two Gaussians are equal", bool(torch.allclose(zero, torch.zeros_like(zero),
                                                                            atol=1e-12)))]


def check_mc_kl(candidate, seed: int) -> list[tuple[str, bool]]:
    """One value log q(z) − log p(z) per draw z = μ + σε, and their mean agrees with the closed form."""
    mu, log_var = _gaussians(seed, n=1, d=3)[:2]
    g = torch.Generator().manual_seed(seed + 1)
    eps = torch.randn(20_000, 3, generator=g, dtype=torch.float64)
    z = mu + (0.5 * log_var).exp() * eps
    want = log_normal_diag(z, mu, log_var) - log_standard_normal(z)
    got = candidate(mu[0], log_var[0], eps)
    exact = got.shape == want.shape and bool(torch.allclose(got, want, rtol=1e-9, atol=1e-9))
    agrees = got.shape == want.shape and mean_agrees(got, kl_normal_std_normal(mu, log_var))
    return [("kl_samples(mu, log_var, eps) gives log q(z) - log p(z) for each draw z = mu + sigma * eps", exact),
            ("their mean agrees with the closed-form KL (five standard errors)", agrees)]


register(Exercise("kl-two-diag-gaussians", "05_kl_divergences", "kl_diag_diag", 2, check_kl_two,
                  ("vaebook.distributions.kl_normal_normal", "vaebook.distributions.kl_mvn",
                   "torch.distributions.kl.kl_divergence")))
register(Exercise("mc-kl-samples", "05_kl_divergences", "kl_samples", 2, check_mc_kl,
                  ("vaebook.distributions.log_normal_diag", "vaebook.distributions.log_standard_normal",
                   "vaebook.distributions.kl_normal_std_normal")))
