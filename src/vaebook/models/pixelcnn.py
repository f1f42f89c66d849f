"""Autoregressive models of images: p(x) = Π_i p(x_i | x_<i), pixels in raster order.

``PixelCNN`` (van den Oord et al. 2016a) stacks masked convolutions; ``GatedPixelCNN``
(van den Oord et al. 2016b) splits them into a vertical and a horizontal stack with gated
activations, which removes the PixelCNN's blind spot, and can be conditioned on a label.
Both model one channel of values from an alphabet of ``num_values`` symbols: 2 for binarized
images, 256 for 8-bit grey levels, K for the codes of a VQ-VAE.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from vaebook.models.base import check_sample_count
from vaebook.timing import timed


def causal_mask(height: int, width: int, mask_type: str) -> torch.Tensor:
    """A (height, width) kernel mask: 1 on the rows above the centre and left of it
    on its row.

    Type ``A`` (the first layer) hides the centre itself, so output i never sees
    input i; type ``B`` (later layers) lets it through, since there the centre holds
    features of x_<i.
    """
    if mask_type not in ("A", "B"):
        raise ValueError(f"mask_type must be 'A' or 'B', got {mask_type!r}")
    mask = torch.zeros(height, width)
    cy, cx = height // 2, width // 2
    mask[:cy] = 1
    mask[cy, :cx + (mask_type == "B")] = 1
    return mask


class MaskedConv2d(nn.Conv2d):
    """A same-size convolution whose kernel is multiplied by a fixed mask at every
    call."""

    def __init__(self, in_channels: int, out_channels: int, mask: torch.Tensor,
                 dilation: int = 1):
        height, width = mask.shape
        super().__init__(in_channels, out_channels, (height, width), dilation=dilation,
                         padding=(dilation * (height // 2), dilation * (width // 2)))
        self.register_buffer("mask", mask.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.weight * self.mask, self.bias)


class _Autoregressive(nn.Module):
    """What both models share: inputs as one-hot values, the loss, log p(x) and pixel-by-pixel sampling."""

    def __init__(self, num_values: int, image_shape: tuple[int, int], num_labels: int):
        super().__init__()
        if isinstance(num_values, bool) or not isinstance(num_values, int) or num_values < 2:
            raise ValueError(f"num_values (the size of the pixel alphabet) must be an integer of at least 2, "
                             f"got {num_values!r}")
        if len(image_shape) != 2 or min(image_shape) < 1:
            raise ValueError(f"image_shape is (height, width), got {tuple(image_shape)}")
        if num_labels < 0:
            raise ValueError(f"num_labels must be at least 0 (0: unconditional), got {num_labels}")
        self.num_values, self.image_shape, self.num_labels = num_values, tuple(image_shape), num_labels

    def network(self, one_hot: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (N, num_values, H, W) from one-hot inputs (N, num_values, H, W)."""
        raise NotImplementedError

    def to_values(self, x: torch.Tensor) -> torch.Tensor:
        """Integer values (N, H, W) from a batch: integers as they are, images in [0, 1] scaled to the alphabet."""
        if x.dim() == 4 and x.shape[1] == 1:
            x = x[:, 0]
        if x.dim() != 3 or tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(f"{type(self).__name__} expects a batch of shape (N, {self.image_shape[0]}, "
                             f"{self.image_shape[1]}) or (N, 1, ...), got {tuple(x.shape)}")
        if torch.is_floating_point(x):
            scaled = x * (self.num_values - 1)
            off = (scaled - scaled.round()).abs()
            if off.max() > 1e-3:
                raise ValueError(f"pixel value {x.flatten()[off.argmax()]:.4g} is not a multiple of "
                                 f"1/{self.num_values - 1}: not a value of this {self.num_values}-symbol alphabet")
            x = scaled.round().long()
        low, high = int(x.min()), int(x.max())
        if low < 0 or high >= self.num_values:
            bad = low if low < 0 else high
            raise ValueError(f"value {bad} lies outside the alphabet {{0, ..., {self.num_values - 1}}}")
        return x.long()

    def _labels(self, labels: torch.Tensor | None, n: int) -> torch.Tensor | None:
        if not self.num_labels:
            return None
        if labels is None:
            raise ValueError(f"this model is conditioned on {self.num_labels} labels: pass labels")
        labels = torch.as_tensor(labels, device=next(self.parameters()).device).long().expand(n)
        if labels.min() < 0 or labels.max() >= self.num_labels:
            raise ValueError(f"labels must lie in [0, {self.num_labels}), got {labels.min()}..{labels.max()}")
        return labels

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        values = self.to_values(x)
        one_hot = F.one_hot(values, self.num_values).permute(0, 3, 1, 2).float()
        return self.network(one_hot, self._labels(labels, len(values)))

    def log_prob(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Exact log p(x) in nats, one number per example: Σ_i log p(x_i | x_<i)."""
        values = self.to_values(x)
        return -F.cross_entropy(self(values, labels), values, reduction="none").flatten(1).sum(1)

    def loss(self, batch: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
        """−log p(x) per example (exact, no bound), from an (x, labels) batch."""
        nll = -self.log_prob(batch[0], batch[1] if self.num_labels else None).mean()
        return {"loss": nll, "nll": nll}

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | int | None = None,
               temperature: float = 1.0) -> torch.Tensor:
        """n samples (n, H, W) of integer values, drawn one pixel at a time: H·W
        network passes."""
        n = check_sample_count(n)
        device = next(self.parameters()).device
        labels = self._labels(labels, n)
        x = torch.zeros(n, *self.image_shape, dtype=torch.long, device=device)
        was_training = self.training
        self.eval()
        for i in range(self.image_shape[0]):
            for j in range(self.image_shape[1]):
                logits = self(x, labels)[:, :, i, j] / temperature
                x[:, i, j] = torch.multinomial(F.softmax(logits, dim=1), 1)[:, 0]
        self.train(was_training)
        return x


class PixelCNN(_Autoregressive):
    """A type-A 7×7 masked convolution, then residual blocks of type-B 3×3 masked convolutions."""

    def __init__(self, num_values: int = 2, channels: int = 64, layers: int = 7,
                 image_shape: tuple[int, int] = (28, 28)):
        super().__init__(num_values, image_shape, 0)
        self.config = dict(num_values=num_values, channels=channels, layers=layers, image_shape=list(image_shape))
        self.first = MaskedConv2d(num_values, channels, causal_mask(7, 7, "A"))
        self.blocks = nn.ModuleList(MaskedConv2d(channels, channels, causal_mask(3, 3, "B")) for _ in range(layers))
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, channels, 1), nn.ReLU(),
                                  nn.Conv2d(channels, num_values, 1))

    def network(self, one_hot: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.first(one_hot)
        for block in self.blocks:
            h = h + block(F.relu(h))
        return self.head(h)


def vertical_mask(size: int, first: bool) -> torch.Tensor:
    """The vertical stack's kernel: every row above the centre (and the centre row after the first layer)."""
    mask = torch.zeros(size, size)
    mask[: size // 2 + (not first)] = 1
    return mask


def horizontal_mask(size: int, first: bool) -> torch.Tensor:
    """The horizontal stack's kernel, one row: left of the centre (and the centre after the first layer)."""
    mask = torch.zeros(1, size)
    mask[0, : size // 2 + (not first)] = 1
    return mask


class GatedLayer(nn.Module):
    """One layer of both stacks: out = tanh(a) · σ(b) on each, the vertical stack
    feeding the horizontal.

    The vertical stack sees only rows above the current pixel, so it may feed the
    horizontal stack at the same position; the horizontal stack adds its row's pixels
    to the left. A label's embedding is added inside both gates.
    """

    def __init__(self, channels: int, size: int, first: bool, num_labels: int,
                 in_channels: int | None = None):
        super().__init__()
        cin = in_channels or channels
        self.first = first
        self.vertical = MaskedConv2d(cin, 2 * channels, vertical_mask(size, first))
        self.horizontal = MaskedConv2d(cin, 2 * channels, horizontal_mask(size, first))
        self.vertical_to_horizontal = nn.Conv2d(2 * channels, 2 * channels, 1)
        self.horizontal_out = nn.Conv2d(channels, channels, 1)
        self.label = nn.Embedding(num_labels, 4 * channels) if num_labels else None

    @staticmethod
    def gate(h: torch.Tensor) -> torch.Tensor:
        a, b = h.chunk(2, dim=1)
        return torch.tanh(a) * torch.sigmoid(b)

    def forward(
        self, v: torch.Tensor, h: torch.Tensor, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        v_features = self.vertical(v)
        h_features = self.horizontal(h) + self.vertical_to_horizontal(v_features)
        if self.label is not None:
            v_bias, h_bias = self.label(labels)[:, :, None, None].chunk(2, dim=1)
            v_features, h_features = v_features + v_bias, h_features + h_bias
        h_out = self.horizontal_out(self.gate(h_features))
        return self.gate(v_features), h_out if self.first else h + h_out


class GatedPixelCNN(_Autoregressive):
    """A first gated layer with type-A masks, ``layers`` more with type-B masks, and a 1×1 head."""

    def __init__(self, num_values: int = 2, channels: int = 64, layers: int = 7, kernel_size: int = 3,
                 num_labels: int = 0, image_shape: tuple[int, int] = (28, 28)):
        super().__init__(num_values, image_shape, num_labels)
        if kernel_size < 3 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and at least 3, got {kernel_size}")
        self.config = dict(num_values=num_values, channels=channels, layers=layers, kernel_size=kernel_size,
                           num_labels=num_labels, image_shape=list(image_shape))
        self.first = GatedLayer(channels, 7, True, num_labels, in_channels=num_values)
        self.layers = nn.ModuleList(GatedLayer(channels, kernel_size, False, num_labels) for _ in range(layers))
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, channels, 1), nn.ReLU(),
                                  nn.Conv2d(channels, num_values, 1))

    def network(self, one_hot: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        v, h = self.first(one_hot, one_hot, labels)
        for layer in self.layers:
            v, h = layer(v, h, labels)
        return self.head(h)


def dependence(model: _Autoregressive, position: tuple[int, int], labels: torch.Tensor | None = None,
               seed: int = 0) -> torch.Tensor:
    """|∂ logits at ``position`` / ∂ input| summed over channels: which input pixels the output there sees.

    Computed by autograd on a random one-hot input, so it shows what the network *is*, not what
    its masks were meant to be. Shape (H, W).
    """
    generator = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    values = torch.randint(model.num_values, (1, *model.image_shape), generator=generator).to(device)
    one_hot = F.one_hot(values, model.num_values).permute(0, 3, 1, 2).float().requires_grad_(True)
    labels = model._labels(labels if labels is not None else 0, 1) if model.num_labels else None
    logits = model.network(one_hot, labels)
    (gradient,) = torch.autograd.grad(logits[0, :, position[0], position[1]].sum(), one_hot)
    return gradient[0].abs().sum(0).cpu()   # autograd.grad leaves the parameters' .grad untouched


def sees_future(model: _Autoregressive, include_self: bool = False) -> list[tuple[int, int]]:
    """Every position whose output depends on an input at or after itself in raster order (empty: causal).

    ``include_self=True`` allows the position itself: the test for a single type-B layer.
    """
    h, w = model.image_shape
    bad = []
    for i in range(h):
        for j in range(w):
            grad = dependence(model, (i, j)).flatten()
            index = i * w + j + (1 if include_self else 0)
            if (grad[index:] != 0).any():   # empty after the last position: nothing later
                bad.append((i, j))
    return bad


def sampling_seconds(model: _Autoregressive, n: int, labels=None) -> float:
    """Wall seconds to draw n samples (H·W network passes), synchronised on a GPU."""
    return timed(lambda: model.sample(n, labels), next(model.parameters()).device)[1]
