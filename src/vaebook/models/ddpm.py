"""A small denoising diffusion model (Ho et al. 2020) of 8-bit images: a network ε_θ(x_t, t) that
predicts the noise in x_t, trained by the paper's simplified loss, sampled by the ancestral sampler,
and scored by the variational bound with a discretized decoder (the maths is in :mod:`vaebook.diffusion`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from vaebook.diffusion import NoiseSchedule, decoder_nll, predicted_mean, prior_kl, q_sample, step_kl, to_signed
from vaebook.models.base import check_sample_count


def step_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sines and cosines of t at geometric frequencies (as a transformer encodes positions): (N, dim)."""
    freqs = torch.exp(-math.log(10_000) * torch.arange(dim // 2, device=t.device) / (dim // 2))
    angles = t.float()[:, None] * freqs
    return torch.cat([angles.sin(), angles.cos()], 1)


class Block(nn.Module):
    """Two 3×3 convolutions with group norm and SiLU, the step's embedding added between them, and a skip."""

    def __init__(self, cin: int, cout: int, embed_dim: int):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(min(8, cin), cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.step = nn.Linear(embed_dim, cout)
        self.norm2, self.conv2 = nn.GroupNorm(min(8, cout), cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x))) + self.step(embedding)[:, :, None, None]
        return self.skip(x) + self.conv2(F.silu(self.norm2(h)))


class EpsilonNet(nn.Module):
    """A small U-Net, 28 → 14 → 7 → 14 → 28 for MNIST, with skips across: ε̂ = ε_θ(x_t, t)."""

    def __init__(self, channels: int = 32, image_channels: int = 1):
        super().__init__()
        c, e = channels, 4 * channels
        self.channels = c
        self.embed = nn.Sequential(nn.Linear(c, e), nn.SiLU(), nn.Linear(e, e))
        self.inp = nn.Conv2d(image_channels, c, 3, padding=1)
        self.down1, self.pool1 = Block(c, c, e), nn.Conv2d(c, c, 3, stride=2, padding=1)
        self.down2, self.pool2 = Block(c, 2 * c, e), nn.Conv2d(2 * c, 2 * c, 3, stride=2, padding=1)
        self.middle = Block(2 * c, 2 * c, e)
        self.up2 = Block(4 * c, 2 * c, e)
        self.up1 = Block(3 * c, c, e)
        self.out = nn.Sequential(nn.GroupNorm(min(8, c), c), nn.SiLU(), nn.Conv2d(c, image_channels, 3, padding=1))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        e = self.embed(step_embedding(t, self.channels))
        h1 = self.down1(self.inp(x), e)                       # 28
        h2 = self.down2(self.pool1(h1), e)                    # 14
        h = self.middle(self.pool2(h2), e)                    # 7
        h = self.up2(torch.cat([F.interpolate(h, size=h2.shape[-2:]), h2], 1), e)
        h = self.up1(torch.cat([F.interpolate(h, size=h1.shape[-2:]), h1], 1), e)
        return self.out(h)


class DDPM(nn.Module):
    """The diffusion model of 8-bit images in [0, 1]: a linear schedule of ``steps`` steps and ε_θ."""

    def __init__(self, steps: int = 1000, channels: int = 32, image_shape: tuple[int, ...] = (1, 28, 28),
                 levels: int = 256):
        super().__init__()
        if len(image_shape) != 3 or image_shape[1] % 4 or image_shape[2] % 4:
            raise ValueError(f"DDPM needs image_shape (channels, height, width) with sides divisible by 4, "
                             f"got {tuple(image_shape)}")
        self.schedule = NoiseSchedule.linear(steps)
        self.image_shape, self.levels = tuple(image_shape), levels
        self.config = dict(steps=steps, channels=channels, image_shape=list(image_shape), levels=levels)
        self.net = EpsilonNet(channels, image_shape[0])

    def values(self, x: torch.Tensor) -> torch.Tensor:
        """Integer pixels from a batch of images in [0, 1] on the grid of ``levels`` values."""
        if x.dim() != 4 or tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(f"DDPM expects a batch of shape (N, {', '.join(map(str, self.image_shape))}), "
                             f"got {tuple(x.shape)}")
        low, high = float(x.min()), float(x.max())
        if low < 0 or high > 1:
            raise ValueError(f"pixel value {low if low < 0 else high:.4g} lies outside [0, 1]")
        return (x * (self.levels - 1)).round().long()

    def loss(self, batch: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
        """Ho et al.'s simplified loss: ‖ε − ε_θ(x_t, t)‖² per pixel, t uniform on 1..T."""
        x0 = to_signed(self.values(batch[0]), self.levels)
        t = torch.randint(1, self.schedule.T + 1, (len(x0),), device=x0.device)
        noise = torch.randn_like(x0)
        mse = F.mse_loss(self.net(q_sample(self.schedule, x0, t, noise), t), noise)
        return {"loss": mse, "mse": mse}

    def nll_bound(self, x: torch.Tensor, samples: int | None = None) -> dict[str, torch.Tensor]:
        """The bound on −log p(x_0) in nats per image, L_T + Σ_{t≥2} L_{t-1} + L_0, each term at one
        draw of x_t ~ q(x_t | x_0). ``samples=None``: every step t = 2..T; else ``samples`` steps drawn
        uniformly, their mean times T − 1 (unbiased, and T/samples times cheaper)."""
        if samples is not None and (isinstance(samples, bool) or not isinstance(samples, int) or samples < 1):
            raise ValueError(f"the number of steps drawn per image must be an integer of at least 1 (or None for "
                             f"every step), got {samples!r}")
        values = self.values(x)
        x0 = to_signed(values, self.levels)
        n, T = len(x0), self.schedule.T

        def at(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            x_t = q_sample(self.schedule, x0, t, torch.randn_like(x0))
            return x_t, self.net(x_t, t)

        ones = torch.ones(n, dtype=torch.long, device=x0.device)
        decoder = decoder_nll(self.schedule, values, *at(ones), levels=self.levels)
        steps = torch.zeros(n, device=x0.device)
        draws = [torch.full_like(ones, s) for s in range(2, T + 1)] if samples is None else \
            [torch.randint(2, T + 1, (n,), device=x0.device) for _ in range(samples if T > 1 else 0)]
        for t in draws:
            x_t, eps = at(t)
            steps = steps + step_kl(self.schedule, x0, x_t, t, eps)
        if samples is not None and draws:
            steps = steps * (T - 1) / samples
        prior = prior_kl(self.schedule, x0)
        return {"prior": prior, "diffusion": steps, "decoder": decoder, "total": prior + steps + decoder}

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n images by the ancestral sampler: x_T ~ N(0, I), then T network passes
        back to x_0, the last one the decoder's mean, rounded to the nearest of the
        ``levels`` values."""
        n = check_sample_count(n)
        device = next(self.parameters()).device
        shape = (n, *self.image_shape)

        def draw() -> torch.Tensor:
            if generator is None:
                return torch.randn(shape, device=device)
            noise = torch.randn(shape, generator=generator, device=generator.device)
            return noise.to(device)

        x = draw()
        for step in range(self.schedule.T, 0, -1):
            t = torch.full((n,), step, device=device, dtype=torch.long)
            x = predicted_mean(self.schedule, x, t, self.net(x, t))
            if step > 1:
                x = x + self.schedule.model_var[step].sqrt().item() * draw()
        top = self.levels - 1
        return ((x.clamp(-1, 1) + 1) / 2 * top).round() / top
