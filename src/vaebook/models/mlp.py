"""The MLP VAE of the PyTorch examples: 784-400-20-400-784 with ReLU."""

from __future__ import annotations

import math

import torch
from torch import nn

from vaebook.models.base import VAE


class MLPVAE(VAE):
    """Encoder: a shared hidden layer, then two heads for μ and log σ². Decoder: the mirror image."""

    def __init__(self, latent_dim: int = 20, hidden: int = 400,
                 image_shape: tuple[int, ...] = (1, 28, 28), likelihood: str | dict = "bernoulli"):
        super().__init__(latent_dim, image_shape, likelihood)
        self.config = dict(latent_dim=latent_dim, hidden=hidden, image_shape=list(image_shape),
                           likelihood=self.likelihood.config())
        pixels = math.prod(image_shape)
        self.trunk = nn.Sequential(nn.Flatten(), nn.Linear(pixels, hidden), nn.ReLU())
        self.to_mu = nn.Linear(hidden, latent_dim)
        self.to_log_var = nn.Linear(hidden, latent_dim)
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden), nn.ReLU(),
            nn.Linear(hidden, pixels * self.likelihood.params_per_pixel),
        )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(x)
        return self.to_mu(h), self.to_log_var(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        c, *rest = self.image_shape
        return self.decoder(z).view(-1, c * self.likelihood.params_per_pixel, *rest)
