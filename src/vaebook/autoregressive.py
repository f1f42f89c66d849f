"""Tools for studying autoregressive image models: every image of a tiny image space, the receptive
field a masked network should have and the pixels it misses (the blind spot), sampling with its
wall time, and a learned prior over the codes of a VQ-VAE with the bound on −log p(x) it gives.

The models themselves live in :mod:`vaebook.models.pixelcnn` and :mod:`vaebook.models.vqvae`.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from vaebook.data import binarize_static
from vaebook.models.pixelcnn import GatedPixelCNN, PixelCNN, dependence
from vaebook.timing import timed


def all_images(num_values: int, shape: tuple[int, int], device: torch.device | str | None = None
               ) -> torch.Tensor:
    """Every image of ``shape`` over the alphabet {0, ..., num_values − 1}: (num_values^(H·W), H, W).

    Image n holds the digits of n in base ``num_values``, the first pixel in raster order the most
    significant, so that summing a model's probabilities over them checks its normalisation.
    """
    height, width = shape
    size = height * width
    if num_values < 2 or size < 1:
        raise ValueError(f"need num_values >= 2 and a non-empty shape, got {num_values} and {tuple(shape)}")
    if num_values ** size > 2 ** 20:
        raise ValueError(f"{num_values}^{size} images are too many to enumerate (more than 2^20)")
    n = torch.arange(num_values ** size, device=device)
    powers = num_values ** torch.arange(size - 1, -1, -1, device=device)
    return (n[:, None] // powers % num_values).view(-1, height, width)


def receptive_radius(model: PixelCNN | GatedPixelCNN) -> int:
    """How many rows up (and columns either way) the masks of ``model`` can reach from a pixel.

    Each layer adds half its kernel's height: 3 for the first 7×7 layer, 1 for each 3×3 layer.
    """
    if isinstance(model, PixelCNN):
        layers = [model.first, *model.blocks]
    elif isinstance(model, GatedPixelCNN):
        layers = [layer.vertical for layer in (model.first, *model.layers)]
    else:
        raise TypeError(f"receptive_radius knows PixelCNN and GatedPixelCNN, got {type(model).__name__}")
    return sum(layer.mask.shape[0] // 2 for layer in layers)


def causal_window(shape: tuple[int, int], position: tuple[int, int], radius: int) -> torch.Tensor:
    """The pixels an autoregressive network of this reach should see from ``position``: (H, W) booleans.

    All pixels of the ``radius`` rows above, ``radius`` columns either side, and the ``radius``
    pixels to the left on the pixel's own row; never the pixel itself or any later one.
    """
    height, width = shape
    i, j = position
    if not (0 <= i < height and 0 <= j < width):
        raise ValueError(f"position {tuple(position)} lies outside an image of shape {tuple(shape)}")
    window = torch.zeros(height, width, dtype=torch.bool)
    window[max(0, i - radius):i, max(0, j - radius):j + radius + 1] = True
    window[i, max(0, j - radius):j] = True
    return window


def blind_spot(model: PixelCNN | GatedPixelCNN, position: tuple[int, int]) -> torch.Tensor:
    """The pixels inside the causal window of ``position`` that the network's output there ignores.

    Computed by autograd (:func:`vaebook.models.pixelcnn.dependence`): (H, W) booleans, all False
    for a network without a blind spot.
    """
    seen = dependence(model, position) > 0
    return causal_window(model.image_shape, position, receptive_radius(model)) & ~seen


def plot_receptive_field(ax, model: PixelCNN | GatedPixelCNN, position: tuple[int, int],
                         title: str | None = None):
    """Draw which input pixels the output at ``position`` depends on (by autograd), the blind spot
    (pixels of the causal window it ignores) and the pixel itself."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    seen = dependence(model, position) > 0
    window = causal_window(model.image_shape, position, receptive_radius(model))
    picture = seen.long()                       # 0: not seen, 1: seen
    picture[window & ~seen] = 2                 # 2: blind spot
    picture[position] = 3                       # 3: the pixel being predicted
    colours = ["white", "tab:blue", "tab:orange", "black"]
    ax.imshow(picture.numpy(), cmap=ListedColormap(colours), vmin=-0.5, vmax=3.5)
    height, width = model.image_shape
    ax.set_xticks([x - 0.5 for x in range(width + 1)], minor=True)
    ax.set_yticks([y - 0.5 for y in range(height + 1)], minor=True)
    ax.grid(which="minor", color="0.85", lw=0.4)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    if title:
        ax.set_title(title)
    labels = ["not seen", "seen", "blind spot", "predicted pixel"]
    return [Patch(facecolor=c, edgecolor="0.5", label=label) for c, label in zip(colours, labels)]


def timed_samples(model: PixelCNN | GatedPixelCNN, n: int, labels: torch.Tensor | int | None = None,
                  temperature: float = 1.0) -> tuple[torch.Tensor, float]:
    """n samples (n, H, W) and the wall seconds they took (H·W network passes), synchronised on a GPU.

    What :func:`vaebook.models.pixelcnn.sampling_seconds` measures, keeping the samples to show.
    """
    return timed(lambda: model.sample(n, labels, temperature=temperature), next(model.parameters()).device)


@torch.no_grad()
def encode_codes(vqvae, images: torch.Tensor, batch_size: int = 1_000, seed: int = 0) -> torch.Tensor:
    """The code grids (N, H/4, W/4) of grey-level images, each binarized once with a fixed seed.

    A prior over codes is trained on these: one fixed binary sample per image
    (:func:`vaebook.data.binarize_static`), encoded in batches by ``vqvae.codes``.
    """
    was_training = vqvae.training
    vqvae.eval()
    binary = binarize_static(images, seed=seed)
    codes = torch.cat([vqvae.codes(binary[i:i + batch_size]) for i in range(0, len(binary), batch_size)])
    vqvae.train(was_training)
    return codes


@torch.no_grad()
def vq_bounds(vqvae, prior: PixelCNN | GatedPixelCNN, images: torch.Tensor, batch_size: int = 1_000
              ) -> dict[str, float]:
    """Bounds on −log p(x) of binary images, in nats per image (means over ``images``).

    −log p(x) ≤ −log p(x|z_q) − log p(z_q), z_q the image's code grid. With the uniform prior
    −log p(z_q) = positions · log K (``bound_uniform``); with ``prior`` it is −prior.log_prob(z_q)
    (``bound_learned``). Also returns both terms separately.
    """
    was_training = vqvae.training, prior.training
    vqvae.eval()
    prior.eval()
    distortion, prior_nll = [], []
    for i in range(0, len(images), batch_size):
        x = images[i:i + batch_size]
        distortion.append(vqvae.distortion(x))
        prior_nll.append(-prior.log_prob(vqvae.codes(x)))
    vqvae.train(was_training[0])
    prior.train(was_training[1])
    distortion_mean = float(torch.cat(distortion).mean())
    prior_mean = float(torch.cat(prior_nll).mean())
    height, width = vqvae.grid_shape
    uniform = height * width * math.log(vqvae.quantizer.num_codes)
    return {"distortion": distortion_mean, "uniform_rate": uniform, "prior_nll": prior_mean,
            "bound_uniform": distortion_mean + uniform, "bound_learned": distortion_mean + prior_mean}


@torch.no_grad()
def vq_log_px_exact(vqvae, log_prior: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor
                    ) -> torch.Tensor:
    """Exact log p(x) = log Σ_z p(x|z) p(z) by summing over every code grid: one number per image.

    ``log_prior(grids)`` returns log p(z) of a batch of code grids (K^(h·w) of them, so only for
    tiny grids and codebooks). The decoder's p(x|z) is the VQ-VAE's likelihood.
    """
    was_training = vqvae.training
    vqvae.eval()
    grids = all_images(vqvae.quantizer.num_codes, vqvae.grid_shape, device=x.device)
    out = vqvae.decoder(vqvae.quantizer.codebook[grids].permute(0, 3, 1, 2))      # (G, ...)
    n, g = len(x), len(grids)
    log_px_z = vqvae.likelihood.log_prob(
        x.repeat_interleave(g, 0), out.repeat(n, *([1] * (out.dim() - 1)))).view(n, g)
    vqvae.train(was_training)
    return torch.logsumexp(log_px_z + log_prior(grids), dim=1)
