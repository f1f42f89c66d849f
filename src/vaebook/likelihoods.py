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


LIKELIHOODS = {cls.name: cls for cls in (Bernoulli, GaussianFixed, GaussianLearned)}


def make_likelihood(name: str | dict = "bernoulli", **options) -> Likelihood:
    """Build a likelihood by name: ``bernoulli``, ``gaussian`` (fixed variance) or ``gaussian-learned``.

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
