"""Figures shared by the chapters: image grids, training curves, 2-D latent spaces, Gaussian ellipses."""

from __future__ import annotations

import math
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Ellipse


def image_grid(images: torch.Tensor, nrow: int | None = None, ax=None, title: str | None = None,
               cmap: str = "gray"):
    """Show a batch of images (N, 1, H, W), (N, H, W) or colour (N, 3, H, W) as one grid, without axes."""
    images = images.detach().float().cpu().clamp(0, 1)
    colour = images.dim() == 4 and images.shape[1] == 3
    images = images.permute(0, 2, 3, 1) if colour else (images[:, 0] if images.dim() == 4 else images)
    n, h, w = images.shape[:3]
    nrow = nrow or math.ceil(math.sqrt(n))
    ncol = math.ceil(n / nrow)
    canvas = np.ones((ncol * (h + 1) + 1, nrow * (w + 1) + 1, *images.shape[3:]))
    for i in range(n):
        r, c = divmod(i, nrow)
        canvas[1 + r * (h + 1): 1 + r * (h + 1) + h, 1 + c * (w + 1): 1 + c * (w + 1) + w] = images[i].numpy()
    if ax is None:
        _, ax = plt.subplots(figsize=(0.5 * nrow + 0.5, 0.5 * ncol + 0.5))
    ax.imshow(canvas, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def plot_history(history: dict[str, Sequence[float]], keys: Sequence[str], ax=None, ylabel: str = "nats per example"):
    """Curves of per-epoch metrics from a :class:`vaebook.train.Trainer` history."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.2))
    epochs = history.get("epoch") or list(range(1, len(history[keys[0]]) + 1))
    for key in keys:
        ax.plot(epochs, history[key], marker="o", ms=3, label=key.replace("_", " "))
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.legend()
    ax.grid(alpha=0.3)
    return ax


def scatter_latent(z: torch.Tensor, labels: torch.Tensor | None = None, ax=None, title: str | None = None):
    """A 2-D latent code (or the first two coordinates) coloured by class label."""
    z = z.detach().cpu()
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4))
    points = ax.scatter(z[:, 0], z[:, 1], c=None if labels is None else labels.cpu(), cmap="tab10", s=3, alpha=0.7)
    if labels is not None:
        ax.figure.colorbar(points, ax=ax, ticks=range(10))
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    if title:
        ax.set_title(title)
    return ax


def gaussian_ellipse(ax, mean, cov, n_std: float = 2.0, **style) -> Ellipse:
    """Draw the n-standard-deviation ellipse of a 2-D Gaussian N(mean, cov)."""
    cov = np.asarray(cov, dtype=float)
    values, vectors = np.linalg.eigh(cov)
    angle = math.degrees(math.atan2(vectors[1, -1], vectors[0, -1]))
    width, height = 2 * n_std * np.sqrt(values[::-1])
    ellipse = Ellipse(xy=np.asarray(mean, dtype=float), width=width, height=height, angle=angle,
                      fill=False, **({"lw": 1.5} | style))
    ax.add_patch(ellipse)
    return ellipse


# ---------------------------------------------------------------- decoding a latent space (chapter "From autoencoder to VAE")

def plot_bound_gap(steps, elbo, log_px, ax=None, label: str = "ELBO", xlabel: str = "iteration"):
    """ELBO and log p(x) against iterations, the gap between them, KL(q || p(z|x)), shaded."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(steps, log_px, color="k", lw=1.5, label=r"$\log p_\theta(\mathbf{x})$")
    ax.plot(steps, elbo, color="C0", lw=1.5, label=label)
    ax.fill_between(steps, elbo, log_px, color="C0", alpha=0.25, label=r"gap = KL$(q \,\|\, p(\mathbf{z}|\mathbf{x}))$")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("nats per example")
    ax.legend()
    ax.grid(alpha=0.3)
    return ax


def plot_variance_vs_k(ks, variances: dict, ax=None, ylabel: str = "variance of the estimate"):
    """Estimator variance against the number of samples K on log-log axes, with a 1/K guide line."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.2))
    ks = np.asarray(ks, dtype=float)
    for i, (name, var) in enumerate(variances.items()):
        ax.loglog(ks, var, marker="o", ms=4, color=f"C{i}", label=name)
    first = np.asarray(next(iter(variances.values())), dtype=float)
    ax.loglog(ks, first[0] * ks[0] / ks, color="grey", ls="--", lw=1, label=r"$\propto 1/K$")
    ax.set_xlabel("number of samples $K$")
    ax.set_ylabel(ylabel)
    ax.legend()
    ax.grid(alpha=0.3, which="both")
    return ax


# ---------------------------------------------------------------- posteriors and aggregate posteriors (chapter 9, "Exploring a trained VAE")

def density_contours(ax, grid: torch.Tensor, log_density: torch.Tensor, masses: Sequence[float] = (0.5, 0.9, 0.99),
                     **style):
    """Contours of a density tabulated on a square grid (from :func:`vaebook.latent.grid_2d`) that enclose
    the given probability masses (highest-density regions), e.g. the true posterior p(z|x)."""
    steps = int(round(math.sqrt(len(grid))))
    p = torch.softmax(log_density.detach().cpu().double().flatten(), 0)    # CPU first: MPS has no float64
    ordered = p.sort(descending=True).values
    cumulative = ordered.cumsum(0)
    levels = sorted({float(ordered[min(int(torch.searchsorted(cumulative, m)), len(p) - 1)]) for m in masses})
    g = grid.detach().cpu().view(steps, steps, 2)
    return ax.contour(g[..., 0], g[..., 1], p.view(steps, steps), levels=levels, **({"colors": "k"} | style))


def marginals_vs_prior(samples: torch.Tensor, dims: Sequence[int], axes, bins: int = 40):
    """Histograms of chosen coordinates of latent samples, each against the N(0, 1) prior density."""
    samples = samples.detach().cpu()
    t = np.linspace(-4, 4, 200)
    for ax, d in zip(np.ravel(axes), dims):
        ax.hist(samples[:, d].numpy(), bins=bins, range=(-4, 4), density=True, alpha=0.6, label="aggregate posterior")
        ax.plot(t, np.exp(-t**2 / 2) / math.sqrt(2 * math.pi), color="k", lw=1.2, label="prior N(0, 1)")
        ax.set_title(f"$z_{{{d + 1}}}$")
        ax.set_yticks([])
    return axes
