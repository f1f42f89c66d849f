"""A small convolutional VAE: three stride-2 convolutions down, three transposed convolutions up."""

from __future__ import annotations

import math

import torch
from torch import nn

from vaebook.models.base import VAE


def _halve(size: int) -> int:
    """Spatial size after a 3x3 convolution with stride 2 and padding 1: ceil(size / 2)."""
    return (size + 1) // 2


class ConvVAE(VAE):
    """Encoder: conv trunk (width, 2·width, 4·width channels), then two linear heads for μ and log σ².

    Decoder: a linear layer back to the trunk's last feature map, then transposed convolutions
    that retrace the encoder's spatial sizes exactly (28 → 14 → 7 → 4 and back for MNIST).
    """

    def __init__(self, latent_dim: int = 32, width: int = 32,
                 image_shape: tuple[int, ...] = (1, 28, 28), likelihood: str | dict = "bernoulli"):
        super().__init__(latent_dim, image_shape, likelihood)
        if len(image_shape) != 3:
            raise ValueError(f"ConvVAE needs image_shape (channels, height, width), got {tuple(image_shape)}")
        if width < 1:
            raise ValueError(f"width must be positive, got {width}")
        self.config = dict(latent_dim=latent_dim, width=width, image_shape=list(image_shape),
                           likelihood=self.likelihood.config())
        c, h, w = image_shape
        channels = [c, width, 2 * width, 4 * width]
        sizes = [(h, w)]
        for _ in range(3):
            sizes.append((_halve(sizes[-1][0]), _halve(sizes[-1][1])))
        self.feature_shape = (channels[-1], *sizes[-1])
        features = math.prod(self.feature_shape)

        down = []
        for cin, cout in zip(channels[:-1], channels[1:]):
            down += [nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.ReLU()]
        self.trunk = nn.Sequential(*down, nn.Flatten())
        self.to_mu = nn.Linear(features, latent_dim)
        self.to_log_var = nn.Linear(features, latent_dim)

        up: list[nn.Module] = [nn.Linear(latent_dim, features), nn.ReLU(), nn.Unflatten(1, self.feature_shape)]
        out_channels = [channels[2], channels[1], c * self.likelihood.params_per_pixel]
        for i, cout in enumerate(out_channels):
            (hin, win), (hout, wout) = sizes[3 - i], sizes[2 - i]
            # a stride-2 transposed conv maps s to 2s - 1 (+ output_padding): pick the padding that lands on the encoder's size
            up.append(nn.ConvTranspose2d(channels[3 - i], cout, 3, stride=2, padding=1,
                                         output_padding=(hout - 2 * hin + 1, wout - 2 * win + 1)))
            if i < 2:
                up.append(nn.ReLU())
        self.decoder = nn.Sequential(*up)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(x)
        return self.to_mu(h), self.to_log_var(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)
