"""Looking inside a trained VAE's latent space: encode a data set, decode a 2-D grid,
interpolate, sample the aggregate posterior, project to 2-D, and compute log p(x) and
KL(q(z|x) || p(z|x)) exactly (by quadrature) when the latent space is two-dimensional.

Pure tensor code: the figures that use it live in :mod:`vaebook.plotting` and the notebooks.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from vaebook.distributions import check_unit_interval, log_normal_diag, log_standard_normal
from vaebook.likelihoods import Bernoulli


@torch.no_grad()
def encode_dataset(model, images: torch.Tensor, batch_size: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """(μ, log σ²) of q(z|x) for every image, computed in batches in eval mode."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    was_training = model.training
    model.eval()
    mus, log_vars = [], []
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size]
        model.check_input(x)
        mu, log_var = model.encode(x)
        mus.append(mu)
        log_vars.append(log_var)
    model.train(was_training)
    if not mus:
        raise ValueError("cannot encode an empty set of images")
    return torch.cat(mus), torch.cat(log_vars)


def latent_grid(steps: int = 15, low: float = 0.05, high: float = 0.95) -> torch.Tensor:
    """A steps × steps grid of 2-D latent points, evenly spaced in *probability* under N(0, 1).

    Each axis is Φ⁻¹ of ``steps`` even points in [low, high] (as in Kingma & Welling's
    manifold figures), so the grid covers where the prior puts its mass. Rows run from
    high z₂ to low z₂ and columns from low z₁ to high z₁, so that decoding the points in
    order and laying them out row by row reads like a plot with z₂ pointing up.
    """
    if steps < 2:
        raise ValueError(f"a grid needs at least 2 steps per axis, got {steps}")
    if not 0.0 < low < high < 1.0:
        raise ValueError(f"need 0 < low < high < 1 (probabilities), got low={low}, high={high}")
    axis = torch.special.ndtri(torch.linspace(low, high, steps))
    z2, z1 = torch.meshgrid(axis.flip(0), axis, indexing="ij")
    return torch.stack([z1.reshape(-1), z2.reshape(-1)], dim=1)


@torch.no_grad()
def decode_mean(model, z: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """The decoder's mean image E[x|z] for each latent point, in batches."""
    if z.dim() != 2 or z.shape[1] != model.latent_dim:
        raise ValueError(f"z must have shape (N, {model.latent_dim}), got {tuple(z.shape)}")
    was_training = model.training
    model.eval()
    out = torch.cat([model.likelihood.mean(model.decode(z[i:i + batch_size])) for i in range(0, len(z), batch_size)])
    model.train(was_training)
    return out


def box_grid(extent: tuple[float, float, float, float] = (-3, 3, -3, 3), steps: int = 15) -> torch.Tensor:
    """A steps × steps grid of 2-D points spaced evenly over the box (z1_min, z1_max, z2_min, z2_max).

    Same ordering as :func:`latent_grid` (row 0 is the largest z₂). For a deterministic
    autoencoder, which has no prior to space a grid by, this is the grid to decode.
    """
    if steps < 2:
        raise ValueError(f"a grid needs at least 2 steps per axis, got {steps}")
    z1_axis = torch.linspace(extent[0], extent[1], steps)
    z2_axis = torch.linspace(extent[3], extent[2], steps)
    z2, z1 = torch.meshgrid(z2_axis, z1_axis, indexing="ij")
    return torch.stack([z1.reshape(-1), z2.reshape(-1)], dim=1)


def point_code(model, x: torch.Tensor) -> torch.Tensor:
    """The code of x as one point: μ(x) for a VAE, f(x) for a deterministic autoencoder."""
    code = model.encode(x)
    return code[0] if isinstance(code, tuple) else code


@torch.no_grad()
def latent_grid_images(model, extent: tuple[float, float, float, float] = (-3, 3, -3, 3), n: int = 15) -> torch.Tensor:
    """Decoder means on an n × n :func:`box_grid` of a 2-D latent space, on the CPU, ready for an image grid."""
    device = next(model.parameters()).device
    return decode_mean(model, box_grid(extent, n).to(device)).cpu()


@torch.no_grad()
def interpolation_images(model, x_a: torch.Tensor, x_b: torch.Tensor, steps: int = 10,
                         method: str = "linear") -> torch.Tensor:
    """Decoder means along the path between the codes of two images (each of shape (1, C, H, W))."""
    z_a, z_b = point_code(model, x_a)[0], point_code(model, x_b)[0]
    return decode_mean(model, interpolate(z_a, z_b, steps, method)).cpu()


def interpolate(z0: torch.Tensor, z1: torch.Tensor, steps: int = 10, method: str = "linear") -> torch.Tensor:
    """``steps`` latent points from z0 to z1 (both included), shape (steps, D).

    ``linear``: (1 − t) z0 + t z1. ``slerp``: along the great circle between the two
    directions, with the norm interpolated linearly; under a high-dimensional N(0, I) prior
    the midpoint of a straight line is unusually short (‖z‖ ≈ √D is typical), slerp is not.
    """
    if z0.shape != z1.shape or z0.dim() != 1:
        raise ValueError(f"z0 and z1 must be vectors of the same length, got {tuple(z0.shape)} and {tuple(z1.shape)}")
    if steps < 2:
        raise ValueError(f"an interpolation needs at least 2 steps, got {steps}")
    t = torch.linspace(0.0, 1.0, steps, dtype=z0.dtype, device=z0.device)[:, None]
    if method == "linear":
        return (1 - t) * z0 + t * z1
    if method != "slerp":
        raise ValueError(f"method must be 'linear' or 'slerp', got {method!r}")
    n0, n1 = z0.norm(), z1.norm()
    if n0 == 0 or n1 == 0:
        raise ValueError("slerp needs two non-zero vectors")
    u0, u1 = z0 / n0, z1 / n1
    omega = torch.arccos((u0 @ u1).clamp(-1.0, 1.0))
    if omega < 1e-6:  # (almost) the same direction: slerp is the straight line
        direction = (1 - t) * u0 + t * u1
    else:
        direction = (torch.sin((1 - t) * omega) * u0 + torch.sin(t * omega) * u1) / torch.sin(omega)
    return direction * ((1 - t) * n0 + t * n1)


def sample_aggregate_posterior(mu: torch.Tensor, log_var: torch.Tensor, n: int,
                               generator: torch.Generator | None = None) -> torch.Tensor:
    """n draws from the aggregate posterior q(z) = (1/N) Σₙ q(z|xₙ): pick an example, then sample its q(z|x)."""
    if mu.shape != log_var.shape or mu.dim() != 2:
        raise ValueError(f"mu and log_var must both have shape (N, D), got {tuple(mu.shape)} and {tuple(log_var.shape)}")
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    index = torch.randint(0, len(mu), (n,), generator=generator)
    eps = torch.randn(n, mu.shape[1], generator=generator, dtype=mu.dtype)
    index, eps = index.to(mu.device), eps.to(mu.device)
    return mu[index] + torch.exp(0.5 * log_var[index]) * eps


def aggregate_posterior_moments(mu: torch.Tensor, log_var: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and covariance of the aggregate posterior, exactly (law of total covariance):

        E[z] = mean of μₙ,    Cov[z] = Cov(μₙ) + mean of diag(σₙ²).

    If q(z) matched the prior N(0, I), these would be 0 and I.
    """
    if mu.shape != log_var.shape or mu.dim() != 2:
        raise ValueError(f"mu and log_var must both have shape (N, D), got {tuple(mu.shape)} and {tuple(log_var.shape)}")
    mean = mu.mean(0)
    centred = mu - mean
    cov = centred.T @ centred / len(mu) + torch.diag(torch.exp(log_var).mean(0))
    return mean, cov


def pca_project(z: torch.Tensor, k: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """Project points (N, D) onto their top-k principal components (exact SVD of the centred data).

    Returns the projections (N, k) and the fraction of the total variance each component
    explains. Each component's sign is fixed so that its largest loading is positive,
    which makes the picture the same from run to run.
    """
    if z.dim() != 2 or not 1 <= k <= z.shape[1]:
        raise ValueError(f"need points of shape (N, D) and 1 <= k <= D, got {tuple(z.shape)} and k={k}")
    centred = z - z.mean(0)
    _, s, vh = torch.linalg.svd(centred, full_matrices=False)
    components = vh[:k]
    signs = torch.sign(components.gather(1, components.abs().argmax(1, keepdim=True)))
    components = components * signs
    explained = s[:k] ** 2 / (s**2).sum()
    return centred @ components.T, explained


def grid_2d(limit: float = 4.0, steps: int = 201) -> tuple[torch.Tensor, float]:
    """A uniform square grid on [−limit, limit]², as (steps², 2) points, with the log-area of one cell."""
    if limit <= 0 or steps < 2:
        raise ValueError(f"need limit > 0 and steps >= 2, got limit={limit}, steps={steps}")
    axis = torch.linspace(-limit, limit, steps)
    z2, z1 = torch.meshgrid(axis, axis, indexing="ij")
    h = 2 * limit / (steps - 1)
    return torch.stack([z1.reshape(-1), z2.reshape(-1)], 1), 2 * math.log(h)


@torch.no_grad()
def log_joint_on_grid(model, x: torch.Tensor, limit: float = 4.0, steps: int = 201,
                      chunk: int = 4096) -> tuple[torch.Tensor, torch.Tensor, float]:
    """log p(x, z) = log p(x|z) + log p(z) for each image and each point of a 2-D grid.

    Returns (grid points (G, 2), log-joint (N, G), log cell area). Normalising over the
    grid gives the *true* posterior p(z|x) to compare with q(z|x); summing gives log p(x).
    The decoder runs once per grid point, not once per (image, point) pair; a Bernoulli
    decoder's log p(x|z) = Σ x·l − softplus(l) is then one matrix product.
    """
    if model.latent_dim != 2:
        raise ValueError(f"quadrature over the latent space needs a 2-D latent, the model has {model.latent_dim}")
    model.check_input(x)
    was_training = model.training
    model.eval()
    grid, log_area = grid_2d(limit, steps)
    grid = grid.to(x.device, x.dtype)
    bernoulli = isinstance(model.likelihood, Bernoulli)
    if bernoulli:
        check_unit_interval(x)
    flat_x = x.flatten(1)
    columns = []
    for start in range(0, len(grid), chunk):
        z = grid[start:start + chunk]
        out = model.decode(z)
        if bernoulli:
            logits = out.flatten(1)
            log_px_z = flat_x @ logits.T - F.softplus(logits).sum(1)
        else:
            log_px_z = torch.stack([model.likelihood.log_prob(xi.expand(len(z), *xi.shape), out) for xi in x])
        columns.append(log_px_z + log_standard_normal(z))
    model.train(was_training)
    return grid, torch.cat(columns, dim=1), log_area


def log_marginal_2d(model, x: torch.Tensor, limit: float = 4.0, steps: int = 201) -> torch.Tensor:
    """log p(x) = log ∫ p(x|z) p(z) dz by quadrature on a 2-D grid, one number per image.

    Exact up to the grid's resolution (fine when the cell width is well below the posterior's
    width) and the mass outside the square (the prior has 1.3e-4 of its mass outside [−4, 4]²).
    """
    _, log_joint, log_area = log_joint_on_grid(model, x, limit, steps)
    return torch.logsumexp(log_joint, dim=1) + log_area


@torch.no_grad()
def posterior_kl_on_grid(mu: torch.Tensor, log_var: torch.Tensor, grid: torch.Tensor, log_joint: torch.Tensor,
                         chunk: int = 64) -> torch.Tensor:
    """KL(q(z|x) || p(z|x)) per image by quadrature, for q = N(mu, diag exp(log_var)) and the grid and log-joint
    of :func:`log_joint_on_grid`: the KL between q and the true posterior, each normalised over the grid's cells.

    It is the gap log p(x) − ELBO(q) without sampling z, so it is never negative, and it converges to the exact KL as
    the cells shrink (while q and p(z|x) are well inside the grid)."""
    if mu.shape != log_var.shape or mu.shape[-1] != 2 or len(mu) != len(log_joint):
        raise ValueError(f"need mu and log_var of shape (N, 2) for the N rows of log_joint, got {tuple(mu.shape)}, "
                         f"{tuple(log_var.shape)} and {tuple(log_joint.shape)}")
    if chunk < 1:
        raise ValueError(f"chunk must be positive, got {chunk}")
    kls = []
    for start in range(0, len(mu), chunk):
        rows = slice(start, start + chunk)
        log_q = torch.log_softmax(log_normal_diag(grid, mu[rows, None], log_var[rows, None]), dim=1)   # q per cell
        log_p = torch.log_softmax(log_joint[rows], dim=1)                                             # p(z|x) per cell
        kls.append((log_q.exp() * (log_q - log_p)).sum(1))
    return torch.cat(kls)
