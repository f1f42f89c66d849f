"""A small DCGAN (Radford et al. 2016) for 28×28 images: a generator z → x by transposed convolutions
and a discriminator x → logit by strided convolutions, trained as Goodfellow et al.'s game.

The discriminator's loss and the generator's non-saturating loss are chapter 14's
(:mod:`vaebook.adversarial`): at its optimum the discriminator's logit is log p_data(x) − log p_G(x).
The two steps per batch are the model's :meth:`DCGAN.phases`, which :class:`vaebook.train.Trainer`
runs in order, each with its own Adam (β1 = 0.5, as in the DCGAN paper).
"""

from __future__ import annotations

import torch
from torch import nn

from vaebook.adversarial import discriminator_accuracy, discriminator_loss, generator_loss
from vaebook.models.aae import adversarial
from vaebook.models.base import check_sample_count


class DCGAN(nn.Module):
    """Generator: linear to 2w×7×7, then 7 → 14 → 28 by transposed convolutions (batch norm, ReLU),
    a sigmoid for grey levels in [0, 1]. Discriminator: 28 → 14 → 7 by stride-2 convolutions with
    leaky ReLU and no batch norm (it sees real and generated batches separately), then one logit."""

    def __init__(self, latent_dim: int = 64, width: int = 64, image_shape: tuple[int, ...] = (1, 28, 28)):
        super().__init__()
        if tuple(image_shape)[1:] != (28, 28):
            raise ValueError(f"this DCGAN makes 28x28 images, got image_shape {tuple(image_shape)}")
        self.latent_dim, self.image_shape = latent_dim, tuple(image_shape)
        self.config = dict(latent_dim=latent_dim, width=width, image_shape=list(image_shape))
        c, w = image_shape[0], width
        self.generator = nn.Sequential(
            nn.Linear(latent_dim, 2 * w * 49), nn.BatchNorm1d(2 * w * 49), nn.ReLU(), nn.Unflatten(1, (2 * w, 7, 7)),
            nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1), nn.BatchNorm2d(w), nn.ReLU(),
            nn.ConvTranspose2d(w, c, 4, stride=2, padding=1), nn.Sigmoid())
        self.discriminator = nn.Sequential(
            nn.Conv2d(c, w, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(2 * w * 49, 1))

    def phases(self) -> dict[str, list]:
        """Per batch: a step of the discriminator, then one of the generator."""
        return {"discriminator": adversarial(self.discriminator.parameters()),
                "generator": adversarial(self.generator.parameters())}

    def generate(self, n: int) -> torch.Tensor:
        device = next(self.parameters()).device
        return self.generator(torch.randn(n, self.latent_dim, device=device))

    def loss(self, batch: tuple[torch.Tensor, ...],
             phase: str | None = None) -> dict[str, torch.Tensor]:
        """One phase's loss on an (x, y) batch of real images; without a phase
        (evaluation), the discriminator's loss and accuracy, real images labelled 1
        and generated ones 0."""
        x = batch[0]
        if x.dim() != 4 or tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(f"DCGAN expects a batch of shape "
                             f"(N, {', '.join(map(str, self.image_shape))}), "
                             f"got {tuple(x.shape)}")
        fake = self.generate(len(x))
        if phase == "generator":   # move the images to where D says "real"
            return {"loss": generator_loss(self.discriminator(fake))}
        if phase not in ("discriminator", None):
            raise ValueError(f"unknown phase {phase!r}; DCGAN has "
                             f"{list(self.phases())}")
        fake = fake.detach()
        logits_real, logits_fake = self.discriminator(x), self.discriminator(fake)
        return {"loss": discriminator_loss(logits_real, logits_fake),
                "disc_accuracy": discriminator_accuracy(logits_real, logits_fake)}

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        """n generated images (n, C, 28, 28) in [0, 1], batch norm in its evaluation mode."""
        n = check_sample_count(n)
        was_training = self.training
        self.eval()
        images = self.generate(n)
        self.train(was_training)
        return images
