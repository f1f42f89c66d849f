"""The denoising VAE of Im et al. (2017): the book's MLP VAE trained by the denoising criterion."""

from __future__ import annotations

import torch

from vaebook.denoising import check_corruption, denoising_negative_elbo
from vaebook.models.mlp import MLPVAE


class DenoisingVAE(MLPVAE):
    """The MLP VAE, trained on corrupted inputs x̃ ~ p(x̃|x) scored against the clean x.

    Only training corrupts: in eval mode the loss is the plain −ELBO of the clean
    images, and the importance-weighted log p(x) is the MLP VAE's, so the two models
    are scored alike. ``level`` is the corruption level, ρ in the book.
    """

    def __init__(self, latent_dim: int = 20, hidden: int = 400,
                 corruption: str = "salt-and-pepper", level: float = 0.1,
                 image_shape: tuple[int, ...] = (1, 28, 28),
                 likelihood: str | dict = "bernoulli"):
        check_corruption(corruption, level)
        super().__init__(latent_dim, hidden, image_shape, likelihood)
        self.corruption, self.level = corruption, float(level)
        self.config.update(corruption=corruption, level=self.level)

    def loss(self, batch: tuple[torch.Tensor, ...],
             beta: float = 1.0) -> dict[str, torch.Tensor]:
        """−L_dvae while training (one corrupted copy per image), the clean −ELBO in
        eval mode."""
        if not self.training:
            return super().loss(batch, beta=beta)
        return denoising_negative_elbo(self, batch[0], self.corruption, self.level,
                                       beta=beta)
