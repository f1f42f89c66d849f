"""Coding exercises of chapters 7 to 10: losses, likelihoods, interpolation and conditioning."""

from __future__ import annotations

import torch

from vaebook.distributions import kl_normal_normal, kl_normal_std_normal, log_bernoulli_logits, log_normal_diag
from vaebook.exercises.registry import Exercise, matches, register
from vaebook.latent import aggregate_posterior_moments, interpolate


def _images(seed: int, n: int = 6, scale: float = 3.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded grey-level images (N, 1, 6, 6) and logits of the same shape."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 6, 6, generator=g, dtype=torch.float64)
    return x, scale * torch.randn(n, 1, 6, 6, generator=g, dtype=torch.float64)


def _codes(seed: int, n: int = 6, d: int = 3) -> list[torch.Tensor]:
    """Seeded (μ, log σ²) pairs, twice: (N, d) each."""
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, d, generator=g, dtype=torch.float64) if i % 2 == 0
            else 4 * torch.rand(n, d, generator=g, dtype=torch.float64) - 2 for i in range(4)]


def check_bce(candidate, seed: int) -> list[tuple[str, bool]]:
    """log p(x | logits) of Bernoulli pixels, summed per image, also for logits of ±60."""
    results = []
    for what, scale in [("", 3.0), (", also for logits of 60 (no log 0)", 60.0)]:
        x, logits = _images(seed, scale=scale)
        results.append((f"bernoulli_log_lik(x, logits) per image{what}",
                        matches(candidate(x, logits), log_bernoulli_logits(x, logits))))
    return results


def check_gaussian(candidate, seed: int) -> list[tuple[str, bool]]:
    """log N(x; mean, diag exp(log_var)) with a learned variance per pixel, summed per image."""
    x, mean = _images(seed)
    log_var = _images(seed + 1)[1] / 3
    want = log_normal_diag(x.flatten(1), mean.flatten(1), log_var.flatten(1))
    return [("gaussian_log_lik(x, mean, log_var) per image", matches(candidate(x, mean, log_var), want))]


def check_vae_loss(candidate, seed: int) -> list[tuple[str, bool]]:
    """−log p(x|z) + KL(q(z|x) || N(0, I)) per image, the chapter's loss."""
    x, logits = _images(seed)
    mu, log_var = _codes(seed)[:2]
    want = -log_bernoulli_logits(x, logits) + kl_normal_std_normal(mu, log_var)
    return [("vae_loss(x, logits, mu, log_var) is the negative ELBO per image",
             matches(candidate(x, logits, mu, log_var), want))]


def check_ae_loss(candidate, seed: int) -> list[tuple[str, bool]]:
    """The autoencoder's reconstruction loss: −log p(x | logits), summed per image (no KL)."""
    x, logits = _images(seed + 5)
    return [("ae_loss(x, logits) is the per-image cross-entropy",
             matches(candidate(x, logits), -log_bernoulli_logits(x, logits)))]


def check_slerp(candidate, seed: int) -> list[tuple[str, bool]]:
    """Spherical interpolation between seeded codes against :func:`vaebook.latent.interpolate`."""
    g = torch.Generator().manual_seed(seed)
    z0, z1 = torch.randn(2, 16, generator=g, dtype=torch.float64)
    steps = 3 + int(torch.randint(0, 8, (1,), generator=g))
    return [(f"slerp(z0, z1, {steps}) follows the great circle, norms linear",
             matches(candidate(z0, z1, steps), interpolate(z0, z1, steps, method="slerp")))]


def check_aggregate(candidate, seed: int) -> list[tuple[str, bool]]:
    """Mean and covariance of the aggregate posterior, by the law of total covariance."""
    mu, log_var = _codes(seed, n=40)[:2]
    mean, cov = aggregate_posterior_moments(mu, log_var)
    got = candidate(mu, log_var)
    ok = isinstance(got, (tuple, list)) and len(got) == 2
    return [("aggregate_moments(mu, log_var)[0] is E[z]", ok and matches(got[0], mean)),
            ("aggregate_moments(mu, log_var)[1] is Cov[z], with the mean of the variances",
             ok and matches(got[1], cov))]


def check_one_hot(candidate, seed: int) -> list[tuple[str, bool]]:
    """Flattened images with the one-hot label appended: the input of a conditional encoder."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(7, 1, 4, 4, generator=g, dtype=torch.float64)
    labels = torch.randint(0, 10, (7,), generator=g)
    want = torch.cat([x.flatten(1), torch.eye(10, dtype=x.dtype)[labels]], dim=1)
    return [("condition(x, labels, 10) appends the one-hot label to the flattened image",
             matches(candidate(x, labels, 10), want))]


def check_cvae(candidate, seed: int) -> list[tuple[str, bool]]:
    """−log p(y | z, x) + KL(q(z | x, y) || p(z | x)) per example, with a learned conditional prior."""
    y, logits = _images(seed)
    mu_q, lv_q, mu_p, lv_p = _codes(seed)
    want = -log_bernoulli_logits(y, logits) + kl_normal_normal(mu_q, lv_q, mu_p, lv_p)
    return [("cvae_loss(y, logits, mu_q, log_var_q, mu_p, log_var_p) is the conditional negative ELBO",
             matches(candidate(y, logits, mu_q, lv_q, mu_p, lv_p), want))]


_LOG_LIK = ("vaebook.distributions.log_bernoulli_logits", "torch.nn.functional.binary_cross_entropy_with_logits",
            "torch.nn.functional.binary_cross_entropy")
register(Exercise("ae-loss", "07_autoencoder_to_vae", "ae_loss", 1, check_ae_loss, _LOG_LIK))
register(Exercise("vae-loss", "07_autoencoder_to_vae", "vae_loss", 2, check_vae_loss,
                  _LOG_LIK + ("vaebook.distributions.kl_normal_std_normal", "vaebook.losses.negative_elbo")))
register(Exercise("bernoulli-log-lik", "08_architectures_likelihoods", "bernoulli_log_lik", 2, check_bce, _LOG_LIK))
register(Exercise("gaussian-log-lik", "08_architectures_likelihoods", "gaussian_log_lik", 2, check_gaussian,
                  ("vaebook.distributions.log_normal_diag", "torch.distributions.Normal")))
register(Exercise("slerp", "09b_exploring_vaes", "slerp", 2, check_slerp, ("vaebook.latent.interpolate",)))
register(Exercise("aggregate-moments", "09b_exploring_vaes", "aggregate_moments", 2, check_aggregate,
                  ("vaebook.latent.aggregate_posterior_moments", "torch.cov")))
register(Exercise("one-hot-condition", "10_conditional_vae", "condition", 1, check_one_hot,
                  ("torch.nn.functional.one_hot",)))
register(Exercise("cvae-loss", "10_conditional_vae", "cvae_loss", 2, check_cvae,
                  _LOG_LIK + ("vaebook.distributions.kl_normal_normal", "vaebook.conditional.conditional_negative_elbo")))
