"""A deterministic autoencoder: the VAE's MLP without the noise and without the KL term."""

from __future__ import annotations

import math

import torch
from torch import nn

from vaebook.likelihoods import Likelihood, make_likelihood


class Autoencoder(nn.Module):
    """x → code z = f(x) → decoder output g(z), trained on reconstruction alone.

    The same layers as :class:`~vaebook.models.mlp.MLPVAE` with one head instead of two.
    The decoder output is scored by the same likelihood (Bernoulli logits by default), so
    its loss is the VAE's distortion term, and nothing asks codes to fill any region.
    """

    def __init__(self, latent_dim: int = 2, hidden: int = 400,
                 image_shape: tuple[int, ...] = (1, 28, 28), likelihood: str | dict = "bernoulli"):
        super().__init__()
        self.latent_dim, self.image_shape = latent_dim, tuple(image_shape)
        self.likelihood: Likelihood = make_likelihood(likelihood)
        self.config = dict(latent_dim=latent_dim, hidden=hidden, image_shape=list(image_shape),
                           likelihood=self.likelihood.config())
        pixels = math.prod(image_shape)
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(pixels, hidden), nn.ReLU(),
                                     nn.Linear(hidden, latent_dim))
        self.decoder = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(),
                                     nn.Linear(hidden, pixels * self.likelihood.params_per_pixel))

    def check_input(self, x: torch.Tensor) -> None:
        if x.dim() != len(self.image_shape) + 1 or tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(f"Autoencoder expects a batch of shape (N, {', '.join(map(str, self.image_shape))}), "
                             f"got {tuple(x.shape)}")

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The code z = f(x): one point, not a distribution."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        c, *rest = self.image_shape
        return self.decoder(z).view(-1, c * self.likelihood.params_per_pixel, *rest)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (decoder output, code)."""
        self.check_input(x)
        z = self.encode(x)
        return self.decode(z), z

    def loss(self, batch: tuple[torch.Tensor, ...], beta: float = 1.0) -> dict[str, torch.Tensor]:
        """Reconstruction only: −log p(x | z = f(x)) per example. There is no KL for β to weight."""
        if beta != 1.0:
            raise ValueError(f"an autoencoder has no KL term, so beta={beta} has nothing to weight; use beta=1")
        x = batch[0]
        out, _ = self(x)
        distortion = -self.likelihood.log_prob(x, out).mean()
        return {"loss": distortion, "distortion": distortion}

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """The decoder's mean at the code of x."""
        self.check_input(x)
        return self.likelihood.mean(self.decode(self.encode(x)))
