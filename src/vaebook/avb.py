"""Adversarial variational Bayes (Mescheder et al. 2017): a critic T(x, z) that estimates the log-ratio
log q(z|x) − log p(z), so that an encoder whose density is unknown can still be trained.

T is trained with the logistic loss to tell pairs (x, z ~ q(z|x)), labelled 1, from pairs
(x, z ~ p(z)), labelled 0. The optimal discriminator is D* = q/(q + p) (chapter 14), so the optimal
logit is T*(x, z) = log q(z|x) − log p(z), and E_q[T*(x, z)] = KL(q(z|x) || p(z)).
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from vaebook.adversarial import discriminator_loss


def elu_mlp(*sizes: int) -> nn.Sequential:
    """Linear layers of the given sizes with ELU between them (none after the last), as in the
    AVB authors' toy example."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers += [nn.Linear(a, b)] + ([nn.ELU()] if i < len(sizes) - 2 else [])
    return nn.Sequential(*layers)


class Critic(nn.Module):
    """T(x, z): an MLP on the flattened x and z side by side, one number per pair, with ELU layers as
    in the AVB authors' toy example (a smooth T; no batch norm, as chapter 14 explains). It must see
    both x and z: a critic of z alone could only compare the prior with the aggregate posterior."""

    def __init__(self, data_dim: int, latent_dim: int, hidden: int = 64, layers: int = 3):
        super().__init__()
        self.net = elu_mlp(data_dim + latent_dim, *[hidden] * layers, 1)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x.flatten(1), z], 1)).squeeze(1)


def critic_loss(critic: Callable, x: torch.Tensor, z_posterior: torch.Tensor,
                z_prior: torch.Tensor) -> torch.Tensor:
    """−E_q[log σ(T)] − E_p[log(1 − σ(T))]: chapter 14's discriminator loss with the posterior pairs
    labelled 1 and the prior pairs 0, so that its minimiser is T*(x, z) = log q(z|x) − log p(z)."""
    return discriminator_loss(critic(x, z_posterior), critic(x, z_prior))


def fit_critic(critic: nn.Module, x: torch.Tensor, sample_posterior: Callable[[torch.Tensor], torch.Tensor],
               steps: int = 1_000, batch_size: int = 512, lr: float = 3e-3,
               loss_fn: Callable = critic_loss, generator: torch.Generator | None = None) -> list[float]:
    """Train ``critic`` alone against a fixed encoder: each step draws ``batch_size`` rows of ``x``,
    z ~ q(z|x) from ``sample_posterior(x)`` and as many z ~ N(0, I), and takes an Adam step whose
    learning rate falls linearly from ``lr`` to 0, so that the last iterate settles instead of
    jittering around the optimum. Returns the loss of every step."""
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps and batch_size must be at least 1, got {steps} and {batch_size}")
    optimizer = torch.optim.Adam(critic.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / steps)
    losses = []
    for _ in range(steps):
        rows = torch.randint(len(x), (batch_size,), generator=generator).to(x.device)
        xb = x[rows]
        with torch.no_grad():
            z_q = sample_posterior(xb)
        z_p = torch.randn(z_q.shape, generator=generator).to(z_q.device, z_q.dtype)
        loss = loss_fn(critic, xb, z_q, z_p)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    return losses


def four_pixel_images() -> tuple[torch.Tensor, torch.Tensor]:
    """The AVB paper's toy data: the four 2×2 binary images with exactly one pixel on, shape
    (4, 1, 2, 2), and their labels 0-3. A model that gives each probability 1/4 has
    log p(x) = −log 4 for every one, the most a model can give all four."""
    return torch.eye(4).view(4, 1, 2, 2), torch.arange(4)


LOG_4 = math.log(4)
