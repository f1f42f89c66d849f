"""Log-densities, closed-form KL divergences and the reparameterized sample, in torch.

Every term of every ELBO in the book is built from these few functions, so each
is written once, tested against SciPy, SymPy and Monte Carlo, and reused.
Conventions: the last dimension is the event dimension and is summed over;
Gaussians are parameterised by their mean and *log-variance* ``log_var`` (log σ²),
which is what a VAE encoder outputs.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LOG_2PI = math.log(2 * math.pi)


def check_same_shape(**tensors: torch.Tensor) -> None:
    shapes = {name: tuple(t.shape) for name, t in tensors.items()}
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{name} {shape}" for name, shape in shapes.items())
        raise ValueError(f"shapes must match: {listed}")


def log_normal_diag(x: torch.Tensor, mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """log N(x; mu, diag(exp(log_var))), summed over the last dimension."""
    return -0.5 * (LOG_2PI + log_var + (x - mu) ** 2 * torch.exp(-log_var)).sum(-1)


def log_standard_normal(x: torch.Tensor) -> torch.Tensor:
    """log N(x; 0, I), summed over the last dimension."""
    return -0.5 * (LOG_2PI + x**2).sum(-1)


def check_unit_interval(x: torch.Tensor, what: str = "x") -> None:
    """A Bernoulli likelihood needs targets in [0, 1]; say so clearly instead of returning wrong numbers."""
    if not torch.is_floating_point(x):
        raise TypeError(f"{what} must be a floating-point tensor in [0, 1], got dtype {x.dtype}.")
    low, high = (v.item() for v in torch.aminmax(x))  # one pass; NaN propagates into both
    if low != low or high != high:
        raise ValueError(f"{what} contains NaN; a Bernoulli likelihood needs values in [0, 1].")
    if low < 0 or high > 1:
        raise ValueError(
            f"{what} has values in [{low:.3g}, {high:.3g}], but a Bernoulli likelihood needs [0, 1]. "
            "Scale images to [0, 1] (divide uint8 pixels by 255) before the loss."
        )


def log_bernoulli_logits(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """log Bernoulli(x; sigmoid(logits)), summed over all but the first (batch) dimension.

    Computed from logits (a numerically stable binary cross-entropy), never as
    sigmoid followed by log, which saturates to log 0 = -inf for confident pixels.
    Grey levels in [0, 1] are allowed: the "Bernoulli on grey levels" of the
    PyTorch example, which is a cross-entropy rather than a normalised density.
    """
    check_same_shape(x=x, logits=logits)
    check_unit_interval(x)
    nll = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    return -nll.flatten(1).sum(1)


def kl_normal_std_normal(mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL( N(mu, diag σ²) || N(0, I) ) = ½ Σ (σ² + μ² − 1 − log σ²), per example."""
    check_same_shape(mu=mu, log_var=log_var)
    return 0.5 * (torch.exp(log_var) + mu**2 - 1.0 - log_var).sum(-1)


def kl_normal_normal(
    mu_q: torch.Tensor, log_var_q: torch.Tensor, mu_p: torch.Tensor, log_var_p: torch.Tensor
) -> torch.Tensor:
    """KL( N(mu_q, diag σ_q²) || N(mu_p, diag σ_p²) ), summed over the last dimension."""
    return 0.5 * (
        log_var_p - log_var_q + (torch.exp(log_var_q) + (mu_q - mu_p) ** 2) * torch.exp(-log_var_p) - 1.0
    ).sum(-1)


def kl_mvn(mu0: torch.Tensor, cov0: torch.Tensor, mu1: torch.Tensor, cov1: torch.Tensor) -> torch.Tensor:
    """KL( N(mu0, cov0) || N(mu1, cov1) ) for full covariances:
    ½ [ tr(Σ₁⁻¹Σ₀) + (μ₁−μ₀)ᵀ Σ₁⁻¹ (μ₁−μ₀) − d + log det Σ₁ − log det Σ₀ ]."""
    d = mu0.shape[-1]
    chol1 = torch.linalg.cholesky(cov1)
    diff = (mu1 - mu0).unsqueeze(-1)
    trace = torch.cholesky_solve(cov0, chol1).diagonal(dim1=-2, dim2=-1).sum(-1)
    quad = (diff * torch.cholesky_solve(diff, chol1)).sum((-2, -1))
    logdet1 = 2 * torch.log(chol1.diagonal(dim1=-2, dim2=-1)).sum(-1)
    logdet0 = torch.linalg.slogdet(cov0).logabsdet
    return 0.5 * (trace + quad - d + logdet1 - logdet0)


def reparameterize(mu: torch.Tensor, log_var: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """z = μ + σ·ε with ε ~ N(0, I) and σ = exp(½ log σ²): a sample whose gradient flows to μ and σ."""
    check_same_shape(mu=mu, log_var=log_var)
    if generator is None:
        eps = torch.randn_like(mu)
    else:
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=generator.device).to(mu.device)
    return mu + torch.exp(0.5 * log_var) * eps
