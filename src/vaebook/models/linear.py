"""The linear VAE: linear encoder, linear decoder, one learned noise variance
(Lucas et al. 2019).

Its generative model z ~ N(0, I), x|z ~ N(W z + b, λ I) is probabilistic PCA, so its
log-likelihood has a closed form, and so does its ELBO: with q(z|x) = N(μ(x), diag s²),

    E_q[log p(x|z)] = −D/2 log(2πλ)
                      − (‖x − W μ − b‖² + Σ_j s_j² ‖w_j‖²) / (2λ),

which :meth:`LinearVAE.loss` uses instead of a one-sample estimate.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from vaebook.distributions import LOG_2PI, kl_normal_std_normal
from vaebook.linear_gaussian import LinearGaussian
from vaebook.models.base import VAE


class LinearVAE(VAE):
    """Encoder μ(x) = V x + c with a learned variance s² per latent (not depending
    on x, as in Lucas et al.); decoder W z + b with one noise variance λ for every
    pixel."""

    def __init__(self, latent_dim: int = 20,
                 image_shape: tuple[int, ...] = (1, 28, 28)):
        super().__init__(latent_dim, image_shape, "gaussian-learned")
        self.config = dict(latent_dim=latent_dim, image_shape=list(image_shape))
        pixels = math.prod(image_shape)
        self.encoder = nn.Linear(pixels, latent_dim)
        self.log_var = nn.Parameter(torch.zeros(latent_dim))
        self.decoder = nn.Linear(latent_dim, pixels)
        self.log_noise_var = nn.Parameter(torch.zeros(()))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu = self.encoder(x.flatten(1))
        return mu, self.log_var.expand_as(mu)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The decoder's mean and log λ side by side, channels first, as
        ``gaussian-learned`` reads them."""
        mean = self.decoder(z).view(-1, *self.image_shape)
        return torch.cat([mean, self.log_noise_var.expand_as(mean)], 1)

    def loss(self, batch: tuple[torch.Tensor, ...],
             beta: float = 1.0) -> dict[str, torch.Tensor]:
        """−ELBO in closed form (module docstring), per example and averaged over
        the batch."""
        x = batch[0]
        self.check_input(x)
        mu, log_var = self.encode(x)
        residual = x.flatten(1) - self.decoder(mu)
        spread = (log_var.exp() * self.decoder.weight.pow(2).sum(0)).sum(1)
        pixels = residual.shape[1]
        squares = residual.pow(2).sum(1) + spread
        distortion = 0.5 * (pixels * (LOG_2PI + self.log_noise_var)
                            + squares * torch.exp(-self.log_noise_var))
        rate = kl_normal_std_normal(mu, log_var)
        return {"loss": (distortion + beta * rate).mean(),
                "neg_elbo": (distortion + rate).mean(),
                "rate": rate.mean(), "distortion": distortion.mean()}

    def generative_model(self) -> LinearGaussian:
        """The model's p(x) as a :class:`LinearGaussian` (detached, float64), for its
        exact log p(x)."""
        W = self.decoder.weight.detach().cpu().double()
        b = self.decoder.bias.detach().cpu().double()
        return LinearGaussian(W, b, float(self.log_noise_var.detach().exp()))
