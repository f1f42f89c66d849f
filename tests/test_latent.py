"""Tests for vaebook.latent: encoding, grids, interpolation, the aggregate posterior, PCA and 2-D quadrature."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal, norm

from vaebook.distributions import kl_mvn
from vaebook.latent import (
    aggregate_posterior_moments,
    decode_mean,
    encode_dataset,
    grid_2d,
    interpolate,
    latent_grid,
    log_joint_on_grid,
    log_marginal_2d,
    pca_project,
    posterior_kl_on_grid,
    sample_aggregate_posterior,
)
from vaebook.linear_gaussian import LinearGaussian
from vaebook.models import build_model
from vaebook.models.base import VAE


class LinearGaussian2D(VAE):
    """p(z) = N(0, I₂), p(x|z) = N(Wz + b, s²I): log p(x) = log N(x; b, WWᵀ + s²I) exactly."""

    def __init__(self, pixels: int = 3, noise_var: float = 0.5):
        super().__init__(2, (1, pixels), {"name": "gaussian", "variance": noise_var})
        g = torch.Generator().manual_seed(0)
        self.W = torch.randn(pixels, 2, generator=g, dtype=torch.float64)
        self.b = torch.randn(pixels, generator=g, dtype=torch.float64)
        self.s2 = noise_var
        self.dummy = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))

    def encode(self, x):
        return torch.zeros(len(x), 2, dtype=x.dtype), torch.zeros(len(x), 2, dtype=x.dtype)

    def decode(self, z):
        return (z.to(torch.float64) @ self.W.T + self.b).view(-1, *self.image_shape)


@pytest.fixture(scope="module")
def mlp2():
    torch.manual_seed(0)
    return build_model("mlp", latent_dim=2, hidden=32).eval()


def test_encode_dataset_matches_one_big_batch(mlp2):
    x = torch.rand(25, 1, 28, 28)
    mu, log_var = encode_dataset(mlp2, x, batch_size=7)
    with torch.no_grad():
        mu_all, log_var_all = mlp2.encode(x)
    torch.testing.assert_close(mu, mu_all)
    torch.testing.assert_close(log_var, log_var_all)
    with pytest.raises(ValueError, match="batch_size"):
        encode_dataset(mlp2, x, batch_size=0)
    with pytest.raises(ValueError, match="empty"):
        encode_dataset(mlp2, x[:0])


def test_latent_grid_is_gaussian_quantiles_laid_out_like_a_plot():
    grid = latent_grid(steps=5, low=0.1, high=0.9)
    assert grid.shape == (25, 2)
    expected = norm.ppf(np.linspace(0.1, 0.9, 5))
    np.testing.assert_allclose(grid[:5, 0].numpy(), expected, atol=1e-6)      # first row: z1 increases
    np.testing.assert_allclose(grid[::5, 1].numpy(), expected[::-1], atol=1e-6)  # first column: z2 decreases
    with pytest.raises(ValueError, match="steps"):
        latent_grid(steps=1)
    with pytest.raises(ValueError, match="low < high"):
        latent_grid(low=0.0)


def test_decode_mean_is_the_decoder_mean(mlp2):
    z = torch.randn(6, 2)
    images = decode_mean(mlp2, z, batch_size=4)
    assert images.shape == (6, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(images, torch.sigmoid(mlp2.decode(z)))
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        decode_mean(mlp2, torch.randn(6, 3))


def test_interpolate_linear_and_slerp():
    z0, z1 = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 3.0, 0.0])
    line = interpolate(z0, z1, steps=5)
    torch.testing.assert_close(line[0], z0)
    torch.testing.assert_close(line[-1], z1)
    torch.testing.assert_close(line[2], (z0 + z1) / 2)
    arc = interpolate(z0, z1, steps=5, method="slerp")
    torch.testing.assert_close(arc[0], z0)
    torch.testing.assert_close(arc[-1], z1)
    # norms interpolate linearly, angles advance evenly (90° in four steps of 22.5°)
    torch.testing.assert_close(arc.norm(dim=1), torch.linspace(1.0, 3.0, 5))
    angles = torch.rad2deg(torch.atan2(arc[:, 1], arc[:, 0]))
    torch.testing.assert_close(angles, torch.linspace(0.0, 90.0, 5))
    # the same direction: slerp falls back to the straight line
    torch.testing.assert_close(interpolate(z0, 2 * z0, 3, "slerp"), interpolate(z0, 2 * z0, 3))
    with pytest.raises(ValueError, match="method"):
        interpolate(z0, z1, method="cubic")
    with pytest.raises(ValueError, match="same length"):
        interpolate(z0, z1[:2])
    with pytest.raises(ValueError, match="non-zero"):
        interpolate(z0 * 0, z1, method="slerp")


def test_aggregate_posterior_moments_by_hand_and_by_sampling():
    # by hand: N = 2, D = 1, μ = ±1, σ² = 0.25 and 0.75 → mean 0, variance 1 + 0.5 = 1.5
    mu = torch.tensor([[1.0], [-1.0]])
    log_var = torch.log(torch.tensor([[0.25], [0.75]]))
    mean, cov = aggregate_posterior_moments(mu, log_var)
    torch.testing.assert_close(mean, torch.tensor([0.0]))
    torch.testing.assert_close(cov, torch.tensor([[1.5]]))
    # Monte Carlo: samples of the mixture have these moments
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(50, 3, generator=g, dtype=torch.float64)
    log_var = 0.5 * torch.randn(50, 3, generator=g, dtype=torch.float64)
    mean, cov = aggregate_posterior_moments(mu, log_var)
    samples = sample_aggregate_posterior(mu, log_var, 400_000, generator=g)
    torch.testing.assert_close(samples.mean(0), mean, atol=0.01, rtol=0)
    torch.testing.assert_close(torch.cov(samples.T), cov, atol=0.02, rtol=0)
    with pytest.raises(ValueError, match="shape"):
        aggregate_posterior_moments(mu, log_var[:, :2])
    with pytest.raises(ValueError, match="positive"):
        sample_aggregate_posterior(mu, log_var, 0)


def test_pca_project_finds_the_principal_axes():
    g = torch.Generator().manual_seed(0)
    stds = torch.tensor([5.0, 2.0, 0.5], dtype=torch.float64)
    rotation, _ = torch.linalg.qr(torch.randn(3, 3, generator=g, dtype=torch.float64))
    z = (torch.randn(5000, 3, generator=g, dtype=torch.float64) * stds) @ rotation.T + 7.0
    projected, explained = pca_project(z, k=2)
    assert projected.shape == (5000, 2)
    eigenvalues = np.linalg.eigvalsh(np.cov(z.numpy().T))[::-1]
    np.testing.assert_allclose(explained.numpy(), eigenvalues[:2] / eigenvalues.sum(), rtol=1e-6)
    np.testing.assert_allclose(projected.var(0, unbiased=True).numpy(), eigenvalues[:2], rtol=1e-6)
    torch.testing.assert_close(projected.mean(0), torch.zeros(2, dtype=torch.float64))
    with pytest.raises(ValueError, match="k <= D"):
        pca_project(z, k=4)


def test_log_marginal_2d_matches_the_closed_form():
    """Quadrature against log N(x; b, WWᵀ + s²I) for a linear-Gaussian decoder (the generic likelihood path)."""
    model = LinearGaussian2D()
    g = torch.Generator().manual_seed(1)
    x = (torch.randn(4, 2, generator=g, dtype=torch.float64) @ model.W.T + model.b).view(4, 1, 3)
    cov = (model.W @ model.W.T + model.s2 * torch.eye(3, dtype=torch.float64)).numpy()
    exact = multivariate_normal(model.b.numpy(), cov).logpdf(x.flatten(1).numpy())
    np.testing.assert_allclose(log_marginal_2d(model, x, limit=6.0, steps=241).numpy(), exact, atol=1e-6)


def test_posterior_kl_on_grid_matches_the_closed_form():
    """For a linear-Gaussian decoder p(z|x) is Gaussian, so KL(q || p(z|x)) has a closed form to compare with."""
    model = LinearGaussian2D()
    g = torch.Generator().manual_seed(2)
    x = (torch.randn(5, 2, generator=g, dtype=torch.float64) @ model.W.T + model.b).view(5, 1, 3)
    post_mean, post_cov = LinearGaussian(model.W, model.b, model.s2).posterior(x.flatten(1))   # the same model's p(z|x)
    mu = post_mean + 0.3 * torch.randn(5, 2, generator=g, dtype=torch.float64)        # a q that misses a little
    log_var = torch.log(post_cov.diagonal()) + 0.5 * torch.randn(5, 2, generator=g, dtype=torch.float64)
    grid, log_joint, _ = log_joint_on_grid(model, x, limit=6.0, steps=301)
    exact = kl_mvn(mu, torch.diag_embed(log_var.exp()), post_mean, post_cov.expand(5, 2, 2))
    assert bool((exact > 0.05).all())                                               # a gap the check can see
    torch.testing.assert_close(posterior_kl_on_grid(mu, log_var, grid, log_joint, chunk=2), exact, rtol=1e-6, atol=1e-8)
    at_the_posterior = posterior_kl_on_grid(post_mean, torch.log(post_cov.diagonal()).expand(5, 2), grid, log_joint)
    assert bool((at_the_posterior >= 0).all())            # a diagonal q still misses the correlated posterior
    torch.testing.assert_close(at_the_posterior, kl_mvn(post_mean, torch.diag(post_cov.diagonal()).expand(5, 2, 2),
                                                        post_mean, post_cov.expand(5, 2, 2)), rtol=1e-6, atol=1e-8)
    with pytest.raises(ValueError, match="shape"):
        posterior_kl_on_grid(mu[:, :1], log_var[:, :1], grid, log_joint)


def test_bernoulli_fast_path_equals_the_direct_sum(mlp2):
    x = torch.bernoulli(torch.full((3, 1, 28, 28), 0.3), generator=torch.Generator().manual_seed(0))
    grid, log_joint, log_area = log_joint_on_grid(mlp2, x, limit=3.0, steps=11, chunk=50)
    assert grid.shape == (121, 2) and log_joint.shape == (3, 121)
    assert log_area == pytest.approx(2 * math.log(0.6))
    with torch.no_grad():
        out = mlp2.decode(grid)
        direct = torch.stack([mlp2.likelihood.log_prob(xi.expand(121, 1, 28, 28), out) for xi in x])
        direct = direct - 0.5 * (math.log(2 * math.pi) * 2 + (grid**2).sum(1))
    torch.testing.assert_close(log_joint, direct, rtol=1e-5, atol=1e-3)
    with pytest.raises(ValueError, match="2-D latent"):
        log_joint_on_grid(build_model("mlp", latent_dim=3, hidden=8), x)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        log_joint_on_grid(mlp2, x * 2)


def test_grid_2d_cell_area():
    grid, log_area = grid_2d(limit=1.0, steps=3)
    assert grid.shape == (9, 2)
    assert log_area == pytest.approx(0.0)  # cells of width 1
    with pytest.raises(ValueError, match="limit"):
        grid_2d(limit=0.0)


def test_box_grid_reads_like_a_plot():
    from vaebook.latent import box_grid

    grid = box_grid((-1.0, 1.0, -2.0, 2.0), steps=3).view(3, 3, 2)
    assert torch.equal(grid[0, :, 0], torch.tensor([-1.0, 0.0, 1.0]))   # z1 grows left to right
    assert torch.equal(grid[:, 0, 1], torch.tensor([2.0, 0.0, -2.0]))   # z2 grows bottom to top
    with pytest.raises(ValueError, match="at least 2 steps"):
        box_grid(steps=1)
