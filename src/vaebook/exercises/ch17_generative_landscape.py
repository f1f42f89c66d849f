"""Chapter 17's coding exercises: the diffusion model's closed-form forward process q(x_t | x_0), and its
posterior q(x_{t-1} | x_t, x_0), both from a schedule of betas."""

from __future__ import annotations

import torch

from vaebook.diffusion import NoiseSchedule, q_posterior, q_sample
from vaebook.exercises.registry import Exercise, matches, register

# Building a NoiseSchedule computes alpha-bar and the posterior variances, which both exercises ask for.
_SCHEDULE = ("vaebook.diffusion.NoiseSchedule.__init__",)


def random_case(seed: int, first: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Seeded betas (T in 5..40, each in [0.001, 0.08): long enough that their sum and their product's
    complement differ), images x0 (12, 2, 3) in [-1, 1], a standard normal tensor of their shape, and a
    step per example in first..T, the first example at ``first`` and the second at T."""
    g = torch.Generator().manual_seed(seed)
    steps = int(torch.randint(5, 41, (1,), generator=g))
    betas = 0.001 + 0.079 * torch.rand(steps, generator=g, dtype=torch.float64)
    x0 = 2 * torch.rand(12, 2, 3, generator=g, dtype=torch.float64) - 1
    normal = torch.randn(x0.shape, generator=g, dtype=torch.float64)
    t = torch.randint(first, steps + 1, (12,), generator=g)
    t[0], t[1] = first, steps
    return betas, x0, normal, t


def broadcasts_to(got: object, want: torch.Tensor, shape: torch.Size) -> bool:
    """``got`` broadcasts to ``shape`` and there equals ``want`` broadcast the same way."""
    if not isinstance(got, torch.Tensor):
        return False
    try:
        got = torch.broadcast_to(got, shape)
    except RuntimeError:
        return False
    return matches(got, torch.broadcast_to(want, shape))


def check_diffuse(candidate, seed: int) -> list[tuple[str, bool]]:
    """x_t at t = 1 for every example, then at a seeded step per example, against :func:`q_sample`."""
    betas, x0, noise, t = random_case(seed, first=1)
    steps = len(betas)
    schedule = NoiseSchedule(betas)
    first = torch.ones(12, dtype=torch.long)
    return [
        ("diffuse(betas, x0, 1, noise) is sqrt(1 - beta_1) x0 + sqrt(beta_1) noise",
         matches(candidate(betas, x0, first, noise), q_sample(schedule, x0, first, noise))),
        (f"diffuse(betas, x0, t, noise) for T = {steps} and t per example in 1..{steps}",
         matches(candidate(betas, x0, t, noise), q_sample(schedule, x0, t, noise))),
    ]


def check_posterior(candidate, seed: int) -> list[tuple[str, bool]]:
    """Mean and variance of q(x_{t-1} | x_t, x_0) at a seeded step per example in 2..T, against :func:`q_posterior`."""
    betas, x0, x_t, t = random_case(seed, first=2)
    steps = len(betas)
    want_mean, want_var = q_posterior(NoiseSchedule(betas), x_t, x0, t)
    got = candidate(betas, x_t, x0, t)
    pair = isinstance(got, (tuple, list)) and len(got) == 2
    return [
        (f"posterior_mean_var(betas, x_t, x0, t)[0]: the mean, T = {steps}, t per example in 2..{steps}",
         pair and matches(got[0], want_mean)),
        ("posterior_mean_var(betas, x_t, x0, t)[1]: the variance, one per example, broadcasting over x0",
         pair and broadcasts_to(got[1], want_var, x0.shape)),
    ]


register(Exercise("ddpm-closed-form", "17_generative_landscape", "diffuse", 2, check_diffuse,
                  ("vaebook.diffusion.q_sample", "vaebook.models.ddpm.q_sample", *_SCHEDULE)))
register(Exercise("ddpm-posterior", "17_generative_landscape", "posterior_mean_var", 2, check_posterior,
                  ("vaebook.diffusion.q_posterior", *_SCHEDULE)))
