"""Adversarial variational Bayes (Mescheder et al. 2017): a VAE whose encoder is a network of
(x, noise), trained with a critic T(x, z) in place of the KL term."""

from __future__ import annotations

import math

import torch
from torch import nn

from vaebook.avb import Critic, critic_loss, elu_mlp
from vaebook.likelihoods import Likelihood, make_likelihood
from vaebook.models.base import check_sample_count


class AVB(nn.Module):
    """Encoder z = g(x, ε) with ε ~ N(0, I): any posterior shape, but no density. Decoder p(x|z),
    prior N(0, I). The critic T(x, z) learns log q(z|x) − log p(z), and the autoencoder minimises
    E_q[−log p(x|z) + T(x, z)], the −ELBO with T in place of log q(z|x) − log p(z).

    Two phases per batch (:meth:`phases`): the critic's logistic loss, then the autoencoder's.
    """

    def __init__(self, latent_dim: int = 2, noise_dim: int = 16, hidden: int = 64,
                 critic_hidden: int = 64, image_shape: tuple[int, ...] = (1, 28, 28),
                 likelihood: str | dict = "bernoulli"):
        super().__init__()
        if isinstance(noise_dim, bool) or not isinstance(noise_dim, int) or noise_dim < 1:
            raise ValueError(f"the encoder's noise dimension must be an integer of at least 1, got {noise_dim!r}")
        self.latent_dim, self.noise_dim, self.image_shape = latent_dim, noise_dim, tuple(image_shape)
        self.likelihood: Likelihood = make_likelihood(likelihood)
        self.config = dict(latent_dim=latent_dim, noise_dim=noise_dim, hidden=hidden,
                           critic_hidden=critic_hidden, image_shape=list(image_shape),
                           likelihood=self.likelihood.config())
        pixels = math.prod(image_shape)
        self.encoder = elu_mlp(pixels + noise_dim, hidden, hidden, hidden, latent_dim)
        self.decoder = elu_mlp(latent_dim, hidden, hidden, hidden, pixels * self.likelihood.params_per_pixel)
        self.critic = Critic(pixels, latent_dim, critic_hidden)

    def phases(self) -> dict[str, list[nn.Parameter]]:
        """The critic's step, then the encoder's and decoder's."""
        return {"critic": list(self.critic.parameters()),
                "autoencoder": [*self.encoder.parameters(), *self.decoder.parameters()]}

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """One draw z ~ q(z|x) per image: the encoder network applied to x and fresh noise."""
        eps = torch.randn(len(x), self.noise_dim, device=x.device, dtype=x.dtype)
        return self.encoder(torch.cat([x.flatten(1), eps], 1))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        c, *rest = self.image_shape
        return self.decoder(z).view(-1, c * self.likelihood.params_per_pixel, *rest)

    def loss(
        self, batch: tuple[torch.Tensor, ...], phase: str | None = None
    ) -> dict[str, torch.Tensor]:
        """The critic's loss, or E_q[−log p(x|z) + T(x, z)] (also reported without a
        phase)."""
        x = batch[0]
        self.check_input(x)
        z = self.encode(x)
        if phase == "critic":   # the encoder is not trained here
            z_prior = torch.randn_like(z)
            return {"loss": critic_loss(self.critic, x, z.detach(), z_prior)}
        if phase not in ("autoencoder", None):
            raise ValueError(f"unknown phase {phase!r}; "
                             f"{type(self).__name__} has {list(self.phases())}")
        distortion = -self.likelihood.log_prob(x, self.decode(z))
        rate = self.critic(x, z)     # estimates log q(z|x) − log p(z); its mean, the KL
        neg_elbo = (distortion + rate).mean()
        return {"loss": neg_elbo, "neg_elbo": neg_elbo,
                "rate": rate.mean(), "distortion": distortion.mean()}

    def check_input(self, x: torch.Tensor) -> None:
        if x.dim() != len(self.image_shape) + 1 or tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(f"{type(self).__name__} expects a batch of shape "
                             f"(N, {', '.join(map(str, self.image_shape))}), got {tuple(x.shape)}")

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Decoder mean at one draw z ~ q(z|x) (the encoder has no mean to decode)."""
        self.check_input(x)
        return self.likelihood.mean(self.decode(self.encode(x)))

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        """n decoder means at z ~ N(0, I)."""
        n = check_sample_count(n)
        device = next(self.parameters()).device
        return self.likelihood.mean(self.decode(torch.randn(n, self.latent_dim, device=device)))
