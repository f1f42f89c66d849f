"""The adversarial game as density-ratio estimation, and the pieces every adversarial model shares.

A discriminator D(z) = σ(T(z)) trained to tell samples of p (label 1) from samples of q (label 0) with
the logistic loss has, at its optimum, D* = p / (p + q), so its logit is T*(z) = log p(z) − log q(z).
An adversarial autoencoder uses this with p the prior and q the distribution of the codes: the encoder,
playing the generator, moves its codes to where D says "prior".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def make_discriminator(in_dim: int, hidden: int = 1000, layers: int = 2, batch_norm: bool = False) -> nn.Sequential:
    """An MLP from ``in_dim`` to one logit, ``layers`` hidden ReLU layers of ``hidden`` units.

    No batch norm by default, and the book's models never use it here: the discriminator sees a batch of
    prior samples and a batch of codes separately, and batch norm would standardise each batch by its own
    mean and variance, erasing the very differences it must detect (``batch_norm=True`` shows this).
    """
    blocks: list[nn.Module] = []
    width = in_dim
    for _ in range(layers):
        blocks += [nn.Linear(width, hidden), *([nn.BatchNorm1d(hidden)] if batch_norm else []), nn.ReLU()]
        width = hidden
    return nn.Sequential(*blocks, nn.Linear(width, 1))


def discriminator_loss(logits_p: torch.Tensor, logits_q: torch.Tensor) -> torch.Tensor:
    """−E_p[log D] − E_q[log(1 − D)] with D = σ(logit): samples of p are labelled 1, of q 0.

    In an adversarial autoencoder p is the prior and q the codes' distribution."""
    return F.softplus(-logits_p).mean() + F.softplus(logits_q).mean()


def generator_loss(logits_q: torch.Tensor) -> torch.Tensor:
    """−E_q[log D]: the generator (the encoder) makes its samples look like p. This is the
    non-saturating form of Goodfellow et al. (2014), whose gradient does not vanish when D is confident."""
    return F.softplus(-logits_q).mean()


def discriminator_accuracy(logits_p: torch.Tensor, logits_q: torch.Tensor) -> torch.Tensor:
    """Fraction of both sets classified right (logit > 0 means "from p"), averaged over the two sets."""
    return ((logits_p > 0).float().mean() + (logits_q <= 0).float().mean()) / 2


def fit_density_ratio(samples_p: torch.Tensor, samples_q: torch.Tensor, hidden: int = 64, steps: int = 1_000,
                      batch_size: int = 1_000, lr: float = 3e-3, batch_norm: bool = False,
                      generator: torch.Generator | None = None) -> nn.Sequential:
    """Train a discriminator to tell ``samples_p`` (label 1) from ``samples_q`` (label 0), both (N, d).

    Each step draws a batch from each set and feeds them separately, as an adversarial autoencoder does.
    Returns the discriminator in training mode; its logit estimates log p(z) − log q(z)."""
    if samples_p.dim() != 2 or samples_q.dim() != 2 or samples_p.shape[1] != samples_q.shape[1]:
        raise ValueError(f"expected two sets of points (N, d) with the same d, got {tuple(samples_p.shape)} "
                         f"and {tuple(samples_q.shape)}")
    discriminator = make_discriminator(samples_p.shape[1], hidden, batch_norm=batch_norm).to(samples_p.device)
    optimizer = torch.optim.Adam(discriminator.parameters(), lr=lr)
    for _ in range(steps):
        i = torch.randint(len(samples_p), (batch_size,), generator=generator).to(samples_p.device)
        j = torch.randint(len(samples_q), (batch_size,), generator=generator).to(samples_q.device)
        loss = discriminator_loss(discriminator(samples_p[i]), discriminator(samples_q[j]))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return discriminator
