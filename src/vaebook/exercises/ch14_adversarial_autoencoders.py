"""Chapter 14's coding exercises: the Parzen estimator, and the discriminator's loss."""

from __future__ import annotations

import torch

from vaebook.adversarial import discriminator_loss
from vaebook.exercises.registry import Exercise, matches, register
from vaebook.parzen import parzen_log_density


def check_parzen(candidate, seed: int) -> list[tuple[str, bool]]:
    """log p̂(x) under Gaussian kernels on samples, in 200 dimensions where every kernel underflows."""
    g = torch.Generator().manual_seed(seed)
    samples = torch.rand(40, 200, generator=g, dtype=torch.float64)
    x = torch.rand(7, 200, generator=g, dtype=torch.float64)
    sigma = float(0.03 + 0.07 * torch.rand(1, generator=g))
    want = parzen_log_density(x, samples, sigma)
    return [(f"parzen_log_density(x, samples, {sigma:.3f}) is the kernel estimate (no underflow)",
             matches(candidate(x, samples, sigma), want, rtol=1e-9, atol=1e-8))]


def check_discriminator(candidate, seed: int) -> list[tuple[str, bool]]:
    """−E_p[log D] − E_q[log(1 − D)] with D = σ(logit), also for confident logits (±60)."""
    g = torch.Generator().manual_seed(seed)
    results = []
    for what, scale in [("on ordinary logits", 2.0), ("on confident logits (no log 0)", 60.0)]:
        logits_p = scale * torch.randn(30, generator=g, dtype=torch.float64)
        logits_q = scale * torch.randn(20, generator=g, dtype=torch.float64)
        results.append((f"discriminator_loss(logits_p, logits_q) {what}",
                        matches(candidate(logits_p, logits_q), discriminator_loss(logits_p, logits_q))))
    return results


register(Exercise("parzen-log-density", "14_adversarial_autoencoders", "parzen_log_density", 2, check_parzen,
                  ("vaebook.parzen.parzen_log_density", "vaebook.parzen.parzen_score",
                   "torch.distributions.Normal")))
register(Exercise("discriminator-loss", "14_adversarial_autoencoders", "discriminator_loss", 2,
                  check_discriminator, ("vaebook.adversarial.discriminator_loss",
                                        "torch.nn.functional.binary_cross_entropy_with_logits")))
