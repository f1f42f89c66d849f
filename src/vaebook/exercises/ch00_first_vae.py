"""Chapter 0's coding exercises: the KL term of the loss and the reparameterized sample."""

from __future__ import annotations

from vaebook.derivations.kl import kl_formula_passes, sampler_passes
from vaebook.exercises.registry import Exercise, register


def check_kl(candidate, seed: int) -> list[tuple[str, bool]]:
    """The candidate KL(N(μ, diag σ²) || N(0, I)) against the SymPy-derived one on seeded inputs."""
    return [
        ("kl_diag_gaussian(mu, log_var) equals the derived KL on 64 random (mu, log_var), d = 3",
         kl_formula_passes(candidate, seed=seed)),
        ("it sums over the last dimension (d = 7)", kl_formula_passes(candidate, trials=8, d=7, seed=seed + 1)),
    ]


def check_sampler(candidate, seed: int) -> list[tuple[str, bool]]:
    """The candidate sampler's draws (mean, standard deviation) and its pathwise gradients."""
    return [("reparameterize(mu, log_var, eps) draws N(mu, exp(log_var)) with the pathwise gradients",
             sampler_passes(candidate, seed=seed))]


register(Exercise("kl-diag-gaussian", "00_first_vae", "kl_diag_gaussian", 2, check_kl,
                  ("vaebook.distributions.kl_normal_std_normal", "vaebook.distributions.kl_normal_normal",
                   "torch.distributions.kl.kl_divergence")))
register(Exercise("reparameterized-sample", "00_first_vae", "reparameterize", 2, check_sampler,
                  ("vaebook.distributions.reparameterize",)))
