"""Decoder likelihoods p(x|z): how a decoder's output turns into log p(x|z) per example.

A likelihood knows how many numbers the decoder must output per pixel, how to
score data under them, and what its mean and samples look like.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from vaebook.distributions import LOG_2PI, log_bernoulli_logits


class Likelihood:
    """Base class: ``params_per_pixel`` decoder outputs per pixel define p(x|z)."""

    name = "likelihood"
    params_per_pixel = 1

    def log_prob(self, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """log p(x|z) summed over pixels, one number per example."""
        raise NotImplementedError

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        """E[x|z]: what the book shows as 'the reconstruction'."""
        raise NotImplementedError

    def sample(self, out: torch.Tensor) -> torch.Tensor:
        """A draw x ~ p(x|z), pixel noise included."""
        raise NotImplementedError

    def config(self) -> dict:
        return {"name": self.name}


class Bernoulli(Likelihood):
    """Bernoulli pixels with the decoder outputting logits; targets may be grey levels in [0, 1]."""

    name = "bernoulli"

    def log_prob(self, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        return log_bernoulli_logits(x, out)

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(out)

    def sample(self, out: torch.Tensor) -> torch.Tensor:
        return torch.bernoulli(torch.sigmoid(out))


class GaussianFixed(Likelihood):
    """Gaussian pixels N(x; decoder output, λ) with a fixed variance λ.

    -log p(x|z) = ‖x − μ‖² / (2λ) + const, so a fixed λ acts like weighting the KL by 2λ.
    """

    name = "gaussian"

    def __init__(self, variance: float = 1.0):
        if variance <= 0:
            raise ValueError(f"a Gaussian likelihood needs a positive variance, got {variance}")
        self.variance = float(variance)

    def log_prob(self, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        if x.shape != out.shape:
            raise ValueError(f"shapes must match: x {tuple(x.shape)}, decoder mean {tuple(out.shape)}")
        sq = ((x - out) ** 2).flatten(1).sum(1)
        return -0.5 * (sq / self.variance + x[0].numel() * (LOG_2PI + math.log(self.variance)))

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        return out

    def sample(self, out: torch.Tensor) -> torch.Tensor:
        return out + math.sqrt(self.variance) * torch.randn_like(out)

    def config(self) -> dict:
        return {"name": self.name, "variance": self.variance}


class GaussianLearned(Likelihood):
    """Gaussian pixels with a learned per-pixel variance: the decoder outputs a mean and a log-variance."""

    name = "gaussian-learned"
    params_per_pixel = 2

    def __init__(self, min_log_var: float = -10.0):
        self.min_log_var = float(min_log_var)

    def _split(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_var = out.chunk(2, dim=1)
        return mean, log_var.clamp(min=self.min_log_var)

    def log_prob(self, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        mean, log_var = self._split(out)
        if x.shape != mean.shape:
            raise ValueError(f"shapes must match: x {tuple(x.shape)}, decoder mean {tuple(mean.shape)}")
        return -0.5 * (LOG_2PI + log_var + (x - mean) ** 2 * torch.exp(-log_var)).flatten(1).sum(1)

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        return self._split(out)[0]

    def sample(self, out: torch.Tensor) -> torch.Tensor:
        mean, log_var = self._split(out)
        return mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)

    def config(self) -> dict:
        return {"name": self.name, "min_log_var": self.min_log_var}


class DiscretizedLogistic(Likelihood):
    """8-bit pixels: the decoder outputs a location and a log-scale per pixel, and each of the
    ``levels`` values gets the mass of its bin under that logistic on [-1, 1], the end bins reaching
    to ±∞ (PixelCNN++'s likelihood with one component, :mod:`vaebook.discretized`). log p(x|z) is then
    the log of a probability, so −log p(x) is comparable across models in bits per dimension.
    Targets are images in [0, 1] on the grid of ``levels`` values (k / 255 for 8-bit pixels)."""

    name = "discretized-logistic"
    params_per_pixel = 2

    def __init__(self, levels: int = 256, min_log_scale: float = -7.0):
        if isinstance(levels, bool) or not isinstance(levels, int) or levels < 2:
            raise ValueError(f"levels must be an integer of at least 2, got {levels!r}")
        self.levels, self.min_log_scale = levels, float(min_log_scale)

    def _split(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        location, log_scale = out.chunk(2, dim=1)
        return location, log_scale.clamp(min=self.min_log_scale)

    def values(self, x: torch.Tensor) -> torch.Tensor:
        """Integer pixel values of images in [0, 1], refusing what is off the grid of ``levels`` values."""
        scaled = x * (self.levels - 1)
        values = scaled.round()
        off = (scaled - values).abs()
        wrong = ~((x >= 0) & (x <= 1) & (off <= 1e-3))    # NaN fails every comparison, so it is wrong too
        if wrong.any():
            bad = x.flatten()[wrong.flatten().nonzero()[0, 0]]
            raise ValueError(f"pixel value {float(bad):.4g} is not one of the {self.levels} values k/{self.levels - 1} "
                             "in [0, 1] that a discretized likelihood scores")
        return values.long()

    def log_prob(self, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        from vaebook.discretized import discretized_logistic_mixture_log_prob

        location, log_scale = self._split(out)
        if x.shape != location.shape:
            raise ValueError(f"shapes must match: x {tuple(x.shape)}, decoder location {tuple(location.shape)}")
        log_p = discretized_logistic_mixture_log_prob(self.values(x), torch.zeros_like(location).unsqueeze(-1),
                                                      location.unsqueeze(-1), log_scale.unsqueeze(-1), self.levels)
        return log_p.flatten(1).sum(1)

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        """E[x|z] exactly, in [0, 1]: E[value] = Σ_{v < levels − 1} P(value > v), the sigmoid of each
        bin's upper edge, summed one value at a time to keep the memory of one image batch."""
        location, log_scale = self._split(out)
        inv_scale = torch.exp(-log_scale)
        expected = torch.zeros_like(location)
        for v in range(self.levels - 1):
            upper = (2 * v + 1) / (self.levels - 1) - 1
            expected = expected + torch.sigmoid((location - upper) * inv_scale)
        return expected / (self.levels - 1)

    def sample(self, out: torch.Tensor) -> torch.Tensor:
        """A logistic draw rounded to the nearest value: exactly a draw of the discretized logistic."""
        location, log_scale = self._split(out)
        u = torch.rand_like(location).clamp(1e-6, 1 - 1e-6)
        draw = location + torch.exp(log_scale) * (torch.log(u) - torch.log1p(-u))
        return ((draw + 1) / 2 * (self.levels - 1)).round().clamp(0, self.levels - 1) / (self.levels - 1)

    def config(self) -> dict:
        return {"name": self.name, "levels": self.levels, "min_log_scale": self.min_log_scale}


LIKELIHOODS = {cls.name: cls for cls in (Bernoulli, GaussianFixed, GaussianLearned, DiscretizedLogistic)}


def make_likelihood(name: str | dict = "bernoulli", **options) -> Likelihood:
    """Build a likelihood by name: ``bernoulli``, ``gaussian`` (fixed variance), ``gaussian-learned``
    or ``discretized-logistic`` (8-bit pixels).

    ``name`` may also be a config dict such as ``{"name": "gaussian", "variance": 0.1}``: the form
    models store in checkpoints (see :meth:`Likelihood.config`).
    """
    if isinstance(name, dict):
        options = {**name, **options}
        name = options.pop("name", "bernoulli")
    if name not in LIKELIHOODS:
        raise ValueError(f"unknown likelihood {name!r}; known: {', '.join(LIKELIHOODS)}")
    return LIKELIHOODS[name](**options)


def bce_from_probabilities(x: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
    """The numerically *fragile* version (sigmoid first, then BCE), kept to show in the book why logits win."""
    return F.binary_cross_entropy(probs, x, reduction="none").flatten(1).sum(1)
