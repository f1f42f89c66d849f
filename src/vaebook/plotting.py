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
    """Show a batch of images (N, 1, H, W) or (N, H, W) as one grid, without axes."""
    images = images.detach().float().cpu()
    if images.dim() == 4:
        images = images[:, 0]
    n, h, w = images.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    ncol = math.ceil(n / nrow)
    canvas = np.ones((ncol * (h + 1) + 1, nrow * (w + 1) + 1))
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
