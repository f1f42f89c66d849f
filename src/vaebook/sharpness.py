"""How sharp a set of images is, as one number: the fraction of their spectral power at high frequency.

A blurred image has lost its fine detail, which is power at high spatial frequencies. For each image
(each channel, mean removed) the 2-D discrete Fourier transform gives the power at every frequency
(f_y, f_x) in cycles per pixel, |f| ≤ 0.5 per axis; the measure is the share of the power at radius
|f| > ``radius``. A checkerboard has all its power at (½, ½), so 1; a slow ramp almost none, so 0;
a blur lowers it. Comparing samples with test images (their ratio) says how much detail is missing.
"""

from __future__ import annotations

import torch


def radial_frequency(height: int, width: int) -> torch.Tensor:
    """|f| in cycles per pixel at each entry of a (height, width) FFT, from 0 to √2/2."""
    fy = torch.fft.fftfreq(height, dtype=torch.float64).view(-1, 1)
    fx = torch.fft.fftfreq(width, dtype=torch.float64).view(1, -1)
    return (fy**2 + fx**2).sqrt()


def high_frequency_fraction(images: torch.Tensor, radius: float = 0.25) -> torch.Tensor:
    """Per image (N, C, H, W): power at |f| > radius over all power, the mean of each channel removed.
    An image with no variation at all has no detail: 0."""
    if images.dim() != 4:
        raise ValueError(f"images must have shape (N, C, H, W), got {tuple(images.shape)}")
    if not 0 < radius < 0.5:
        raise ValueError(f"radius must lie in (0, 0.5) cycles per pixel, got {radius}")
    x = images.detach().cpu().double()
    x = x - x.mean(dim=(2, 3), keepdim=True)
    power = torch.fft.fft2(x).abs().pow(2).sum(1)                       # channels together: (N, H, W)
    high = radial_frequency(*x.shape[2:]) > radius
    total = power.flatten(1).sum(1)
    return torch.where(total > 0, (power * high).flatten(1).sum(1) / total.clamp(min=1e-300), 0.0)


def relative_sharpness(images: torch.Tensor, reference: torch.Tensor, radius: float = 0.25) -> float:
    """Mean high-frequency fraction of ``images`` over that of ``reference`` (test images): 1 when
    they carry as much fine detail, below 1 when blurred, above when noisier."""
    return float(high_frequency_fraction(images, radius).mean() / high_frequency_fraction(reference, radius).mean())
