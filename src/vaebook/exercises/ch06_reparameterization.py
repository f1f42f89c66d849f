"""Chapter 6's coding exercises: the Gaussian score, and the score-function gradient estimate."""

from __future__ import annotations

import torch

from vaebook.estimators import gaussian_score
from vaebook.exercises.registry import Exercise, matches, register


def _gaussian(seed: int, d: int = 3) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Seeded μ, log σ² (in [-2, 2]) and a standard-normal noise table (K = 4000, d)."""
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(d, generator=g, dtype=torch.float64)
    log_var = 4 * torch.rand(d, generator=g, dtype=torch.float64) - 2
    return mu, log_var, torch.randn(4000, d, generator=g, dtype=torch.float64)


def check_score(candidate, seed: int) -> list[tuple[str, bool]]:
    """∇ log N(z; μ, σ²) with respect to μ and log σ², against the book's and against autograd."""
    mu, log_var, eps = _gaussian(seed)
    z = mu + (0.5 * log_var).exp() * eps[:50]
    want_mu, want_lv = gaussian_score(z, mu, log_var)
    got = candidate(z, mu, log_var)
    ok = isinstance(got, (tuple, list)) and len(got) == 2
    return [("gaussian_score(z, mu, log_var)[0] is d log q / d mu", ok and matches(got[0], want_mu)),
            ("gaussian_score(z, mu, log_var)[1] is d log q / d log_var", ok and matches(got[1], want_lv))]


def check_score_gradient(candidate, seed: int) -> list[tuple[str, bool]]:
    """(1/K) Σ f(z_k) ∇ log q(z_k) for z_k = μ + σ ε_k, with f(z) = Σ sin(z) + z²."""
    mu, log_var, eps = _gaussian(seed + 1)
    z = mu + (0.5 * log_var).exp() * eps
    f_values = (z.sin() + z**2).sum(-1, keepdim=True)
    score_mu, score_lv = gaussian_score(z, mu, log_var)
    got = candidate(lambda v: (v.sin() + v**2).sum(-1), mu, log_var, eps)
    ok = isinstance(got, (tuple, list)) and len(got) == 2
    return [("score_gradient(f, mu, log_var, eps)[0] estimates d E[f] / d mu",
             ok and matches(got[0], (f_values * score_mu).mean(0))),
            ("score_gradient(f, mu, log_var, eps)[1] estimates d E[f] / d log_var",
             ok and matches(got[1], (f_values * score_lv).mean(0)))]


register(Exercise("gaussian-score", "06_reparameterization", "gaussian_score", 2, check_score,
                  ("vaebook.estimators.gaussian_score", "torch.autograd.grad")))
register(Exercise("score-function-gradient", "06_reparameterization", "score_gradient", 2,
                  check_score_gradient, ("vaebook.estimators.gaussian_score",
                                         "vaebook.estimators.score_function_gradient")))
