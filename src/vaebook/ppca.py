"""Gaussian models of images fitted in closed form, and the convention that puts their densities in
bits per dimension beside discretized decoders.

- Probabilistic PCA (Tipping & Bishop 1999): x ~ N(b, W Wᵀ + λ I) with W of rank d, fitted in closed
  form by :func:`vaebook.linear_gaussian.ppca_maximum_likelihood`; its maximum log-likelihood depends
  on the eigenvalues of the sample covariance alone (:func:`ppca_max_log_likelihood`).
- The full-covariance Gaussian, x ~ N(b, S): PPCA with nothing discarded.

Both are densities, and 8-bit images are discrete. The standard convention (Theis et al. 2016)
*dequantizes*: pixel value k becomes x̃ = (k + u)/256 with u ~ U(0, 1), a point of the cube of side
1/256 that belongs to k, and a density p on [0, 1]^D gives the discrete model P(k) = ∫_cube p(x̃) dx̃.
By Jensen's inequality −log P(k) ≤ E_u[−log p(x̃)] + D log 256, so E_u[−log₂ p(x̃)]/D + 8 is an upper
bound on bits per dimension, in the same unit as a discretized decoder's; −log₂ p(x̃)/D + 8 at one
draw of u per image estimates it without bias.
"""

from __future__ import annotations

import torch

from vaebook.discretized import bits_per_dim
from vaebook.distributions import LOG_2PI
from vaebook.linear_gaussian import LinearGaussian


def dequantize(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Images on the 8-bit grid k/255 to x̃ = (k + u)/256 in [0, 1], u ~ U(0, 1) per pixel (seeded)."""
    from vaebook.likelihoods import DiscretizedLogistic

    values = DiscretizedLogistic().values(x).to(x.dtype)    # refuses what is off the grid, by value
    noise = torch.rand(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    return (values + noise) / 256


def dequantized_bits_per_dim(log_density: torch.Tensor | float, dims: int) -> torch.Tensor | float:
    """Bits/dim of 8-bit data from log p(x̃) (nats) of dequantized images x̃ in [0, 1]^D: −log₂ p(x̃)/D + 8,
    the 8 being log₂ 256 for the cube of side 1/256 that each value owns; its mean over the noise u is
    an upper bound on −log₂ P(x)/D."""
    return bits_per_dim(-log_density, dims) + 8


def _centred(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of x (N, D) in float64, their mean and the ML sample covariance (divided by N)."""
    if x.dim() != 2 or len(x) < 2:
        raise ValueError(f"x must be (N, D) with N >= 2 rows, got shape {tuple(x.shape)}")
    x = x.detach().cpu().double()
    mean = x.mean(0)
    centred = x - mean
    return mean, centred.T @ centred / len(x)


def ppca_max_log_likelihood(x: torch.Tensor, latent_dim: int) -> float:
    """The maximum of Σ_n log p(x_n) over PPCA models, from the eigenvalues ω_j of the sample covariance
    alone: −N/2 (D log 2π + Σ_{j≤d} log ω_j + (D − d) log λ + D), λ the mean of the D − d smallest."""
    N, D = x.shape
    eigenvalues = torch.linalg.eigvalsh(_centred(x)[1]).flip(0)
    noise_var = eigenvalues[latent_dim:].mean()
    log_det = torch.log(eigenvalues[:latent_dim]).sum() + (D - latent_dim) * torch.log(noise_var)
    return float(-N / 2 * (D * LOG_2PI + log_det + D))


def fit_gaussian(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The maximum-likelihood full-covariance Gaussian of rows x (N, D): the mean and S (float64)."""
    mean, cov = _centred(x)
    if torch.linalg.matrix_rank(cov) < cov.shape[0]:
        raise ValueError("the sample covariance is singular: dequantize the images, and use N > D rows")
    return mean, cov


def gaussian_log_likelihood(x: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    """log N(x; mean, cov) per row of x (N, D), in float64: one Cholesky factor L of cov for all rows,
    log N = −½ (D log 2π + log det cov + ‖L⁻¹(x − mean)‖²)."""
    x = x.detach().cpu().double()
    chol = torch.linalg.cholesky(cov)
    white = torch.linalg.solve_triangular(chol, (x - mean).T, upper=False)      # (D, N)
    log_det = 2 * torch.log(chol.diagonal()).sum()
    return -0.5 * (x.shape[1] * LOG_2PI + log_det + white.pow(2).sum(0))


def ppca_log_likelihood(model: LinearGaussian, x: torch.Tensor) -> torch.Tensor:
    """Exact log p(x) per row of x (N, D) under a PPCA model, x ~ N(b, W Wᵀ + λ I)."""
    with torch.no_grad():
        return gaussian_log_likelihood(x, model.b.double(), model.marginal_cov().double())
