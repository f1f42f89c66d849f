"""What every VAE in the book shares: encode to (μ, log σ²), sample z, decode, score."""

from __future__ import annotations

from numbers import Integral

import torch
from torch import nn

from vaebook.distributions import reparameterize
from vaebook.evaluate import iw_log_likelihood
from vaebook.likelihoods import Likelihood, make_likelihood
from vaebook.losses import negative_elbo



def check_sample_count(n: int) -> int:
    """``n`` as a number of images to draw: an integer of at least 1, or one error that names it
    (every sampler of the book checks its ``n`` here)."""
    if isinstance(n, bool) or not isinstance(n, Integral) or n < 1:
        raise ValueError(f"the number of samples must be an integer of at least 1, got {n!r}")
    return int(n)

class VAE(nn.Module):
    """Base class. Subclasses define ``encode(x) -> (mu, log_var)`` and ``decode(z) -> decoder output``.

    ``config`` holds the constructor's arguments, so that a checkpoint can rebuild the model.
    """

    def __init__(self, latent_dim: int, image_shape: tuple[int, ...], likelihood: str | dict = "bernoulli"):
        super().__init__()
        self.latent_dim = latent_dim
        self.image_shape = tuple(image_shape)
        self.likelihood: Likelihood = make_likelihood(likelihood)
        self.config: dict = {}

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def check_input(self, x: torch.Tensor) -> None:
        """Name the problem when a batch has the wrong shape, instead of a matmul error deep inside."""
        if x.dim() != len(self.image_shape) + 1 or tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(
                f"{type(self).__name__} expects a batch of shape (N, {', '.join(map(str, self.image_shape))}), "
                f"got {tuple(x.shape)}"
            )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns (decoder output, μ, log σ², z) for one reparameterized sample z ~ q(z|x)."""
        self.check_input(x)
        mu, log_var = self.encode(x)
        z = reparameterize(mu, log_var)
        return self.decode(z), mu, log_var, z

    def loss(self, batch: tuple[torch.Tensor, ...], beta: float = 1.0) -> dict[str, torch.Tensor]:
        """−ELBO of the images in an (x, y) batch, with its rate and distortion (see :func:`negative_elbo`)."""
        return negative_elbo(self, batch[0], beta=beta)

    def iw_log_likelihood(self, batch: tuple[torch.Tensor, ...], k: int, chunk: int | None = None) -> torch.Tensor:
        """Importance-weighted log p(x) of the images in an (x, y) batch, per example (see :mod:`vaebook.evaluate`)."""
        return iw_log_likelihood(self, batch[0], k, chunk)

    @torch.no_grad()
    def sample(self, n: int, mean: bool = True) -> torch.Tensor:
        """n images from the model: z ~ N(0, I), then the decoder's mean (or a draw from p(x|z))."""
        n = check_sample_count(n)
        device = next(self.parameters()).device
        out = self.decode(torch.randn(n, self.latent_dim, device=device))
        return self.likelihood.mean(out) if mean else self.likelihood.sample(out)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Decoder mean at the posterior mean μ(x): the usual 'reconstruction'."""
        self.check_input(x)
        mu, _ = self.encode(x)
        return self.likelihood.mean(self.decode(mu))
