"""Conditional VAEs: a label-conditioned MLP CVAE and the quadrant-completion models of Sohn et al. (2015).

Each conditional model offers ``recognize(x, y)`` for q(z|x,y), ``prior(x)`` for p(z|x) and
``log_likelihood(x, y, z)`` for log p(y|x,z) (see :mod:`vaebook.conditional`). Here x is what we
condition on (a label, or the visible quadrants) and y is what we predict (the image).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from vaebook.conditional import (
    conditional_iw_log_likelihood,
    conditional_negative_elbo,
    gsnn_loss,
    hide_quadrants,
    masked_bernoulli_log_prob,
    quadrant_mask,
)
from vaebook.likelihoods import Likelihood, make_likelihood


def mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers += [nn.Linear(a, b)] + ([nn.ReLU()] if i < len(sizes) - 2 else [])
    return nn.Sequential(*layers)


class GaussianHead(nn.Module):
    """An MLP that maps its input to the (μ, log σ²) of a diagonal Gaussian over z."""

    def __init__(self, in_dim: int, hidden: int, latent_dim: int):
        super().__init__()
        self.net = mlp([in_dim, hidden, 2 * latent_dim])

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, log_var = self.net(h).chunk(2, dim=-1)
        return mu, log_var


class LabelCVAE(nn.Module):
    """Label-conditioned VAE: q(z|image, label), p(z) = N(0, I), p(image|z, label).

    The condition is a one-hot label (integer labels are one-hot encoded) or any float vector of
    width ``num_classes``; the prior ignores it, so z is pushed to carry what the label does not: style.
    """

    def __init__(self, latent_dim: int = 20, hidden: int = 400, num_classes: int = 10,
                 image_shape: tuple[int, ...] = (1, 28, 28), likelihood: str | dict = "bernoulli"):
        super().__init__()
        self.likelihood: Likelihood = make_likelihood(likelihood)
        self.latent_dim, self.num_classes, self.image_shape = latent_dim, num_classes, tuple(image_shape)
        self.config = dict(latent_dim=latent_dim, hidden=hidden, num_classes=num_classes,
                           image_shape=list(image_shape), likelihood=self.likelihood.config())
        pixels = math.prod(image_shape)
        self.encoder = GaussianHead(pixels + num_classes, hidden, latent_dim)
        self.decoder = mlp([latent_dim + num_classes, hidden, pixels * self.likelihood.params_per_pixel])

    def condition(self, labels: torch.Tensor) -> torch.Tensor:
        """One-hot integer labels; pass float condition vectors through after checking their width."""
        if not torch.is_floating_point(labels):
            if labels.min() < 0 or labels.max() >= self.num_classes:
                raise ValueError(f"labels must lie in [0, {self.num_classes}), got {labels.min()}..{labels.max()}")
            return F.one_hot(labels, self.num_classes).float()
        if labels.dim() != 2 or labels.shape[1] != self.num_classes:
            raise ValueError(f"a float condition must have shape (N, {self.num_classes}), got {tuple(labels.shape)}")
        return labels

    def recognize(self, labels: torch.Tensor, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encoder(torch.cat([images.flatten(1), self.condition(labels)], dim=1))

    def prior(self, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        zeros = torch.zeros(len(labels), self.latent_dim, device=labels.device)
        return zeros, zeros

    def decode(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        c, *rest = self.image_shape
        out = self.decoder(torch.cat([z, self.condition(labels)], dim=1))
        return out.view(-1, c * self.likelihood.params_per_pixel, *rest)

    def log_likelihood(self, labels: torch.Tensor, images: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.likelihood.log_prob(images, self.decode(z, labels))

    def loss(self, batch: tuple[torch.Tensor, ...], beta: float = 1.0) -> dict[str, torch.Tensor]:
        images, labels = batch[0], batch[1]
        return conditional_negative_elbo(self, labels, images, beta=beta)

    @torch.no_grad()
    def generate(self, labels: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """Decoder means for the given labels, at z (default: z ~ N(0, I))."""
        if z is None:
            z = torch.randn(len(labels), self.latent_dim, device=labels.device)
        return self.likelihood.mean(self.decode(z, labels))

    def iw_log_likelihood(self, batch: tuple[torch.Tensor, ...], k: int) -> torch.Tensor:
        """Importance-sampled log p(image | label), per example."""
        return conditional_iw_log_likelihood(self, batch[1], batch[0], k)


def _bernoulli_only(likelihood: str | dict) -> None:
    name = likelihood if isinstance(likelihood, str) else likelihood.get("name")
    if name != "bernoulli":
        raise ValueError(f"the quadrant models score the missing pixels with a Bernoulli likelihood, got {name!r}")


class QuadrantBaseline(nn.Module):
    """The deterministic baseline: an MLP from the visible quadrants to the logits of the missing pixels.

    Trained by the Bernoulli cross-entropy of the missing pixels (a negative log-likelihood for binary pixels,
    only a cross-entropy for grey levels); it predicts their average. Its ``neg_elbo`` is that exact value
    (a model with no latent: rate 0).
    """

    def __init__(self, given_quadrants: int = 1, hidden: int = 500, latent_dim: int = 0,
                 image_shape: tuple[int, ...] = (1, 28, 28), likelihood: str | dict = "bernoulli"):
        super().__init__()
        _bernoulli_only(likelihood)
        hide_quadrants(torch.zeros(1, *image_shape), given_quadrants)  # validates the arguments early
        self.given_quadrants, self.image_shape = given_quadrants, tuple(image_shape)
        self.config = dict(given_quadrants=given_quadrants, hidden=hidden, latent_dim=latent_dim,
                           image_shape=list(image_shape), likelihood="bernoulli")
        pixels = math.prod(image_shape)
        self.net = mlp([pixels, hidden, hidden, pixels])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1)).view(-1, *self.image_shape)

    def loss(self, batch: tuple[torch.Tensor, ...], beta: float = 1.0) -> dict[str, torch.Tensor]:
        x, missing = hide_quadrants(batch[0], self.given_quadrants)
        nll = -masked_bernoulli_log_prob(batch[0], self(x), missing)
        zero = torch.zeros((), device=nll.device)
        return {"loss": nll.mean(), "neg_elbo": nll.mean(), "rate": zero, "distortion": nll.mean()}

    @torch.no_grad()
    def complete(self, images: torch.Tensor) -> torch.Tensor:
        """The visible quadrants with the predicted mean filled in."""
        x, missing = hide_quadrants(images, self.given_quadrants)
        return torch.where(missing, torch.sigmoid(self(x)), images)

    @torch.no_grad()
    def iw_log_likelihood(self, batch: tuple[torch.Tensor, ...], k: int = 1) -> torch.Tensor:
        """The exact log p(missing pixels | visible ones), per example (no latent: k is not needed)."""
        x, missing = hide_quadrants(batch[0], self.given_quadrants)
        return masked_bernoulli_log_prob(batch[0], self(x), missing)


class QuadrantCVAE(nn.Module):
    """CVAE for quadrant completion: q(z|x,y) sees the whole image, the prior network p(z|x) and
    the generator p(y|x,z) see the visible quadrants x. ``alpha`` < 1 gives the hybrid objective

        α · (−ELBO) + (1 − α) · GSNN loss       (Sohn et al. 2015, eq. 9).
    """

    def __init__(self, given_quadrants: int = 1, latent_dim: int = 20, hidden: int = 500, alpha: float = 1.0,
                 image_shape: tuple[int, ...] = (1, 28, 28), likelihood: str | dict = "bernoulli"):
        super().__init__()
        _bernoulli_only(likelihood)
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha weighs the CVAE loss against the GSNN loss and must lie in [0, 1], got {alpha}")
        hide_quadrants(torch.zeros(1, *image_shape), given_quadrants)
        self.given_quadrants, self.alpha, self.latent_dim = given_quadrants, float(alpha), latent_dim
        self.image_shape = tuple(image_shape)
        self.config = dict(given_quadrants=given_quadrants, latent_dim=latent_dim, hidden=hidden, alpha=alpha,
                           image_shape=list(image_shape), likelihood="bernoulli")
        pixels = math.prod(image_shape)
        self.recognition = GaussianHead(pixels, hidden, latent_dim)          # q(z|x,y): the full image
        self.prior_net = GaussianHead(pixels, hidden, latent_dim)            # p(z|x): the visible part
        self.generation = mlp([latent_dim + pixels, hidden, hidden, pixels])  # p(y|x,z)
        self.register_buffer("missing", ~quadrant_mask(given_quadrants, *image_shape[-2:]), persistent=False)

    def split(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(x, y): the visible quadrants (hidden pixels = −1) and the full image."""
        return hide_quadrants(images, self.given_quadrants)[0], images

    def recognize(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.recognition(y.flatten(1))

    def prior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.prior_net(x.flatten(1))

    def logits(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.generation(torch.cat([z, x.flatten(1)], dim=1)).view(-1, *self.image_shape)

    def log_likelihood(self, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(y|x,z) of the missing pixels only (the visible ones are given, not predicted)."""
        return masked_bernoulli_log_prob(y, self.logits(x, z), self.missing)

    def loss(self, batch: tuple[torch.Tensor, ...], beta: float = 1.0) -> dict[str, torch.Tensor]:
        x, y = self.split(batch[0])
        metrics = conditional_negative_elbo(self, x, y, beta=beta)
        if self.alpha < 1.0:
            metrics["gsnn"] = gsnn_loss(self, x, y).mean()
            metrics["loss"] = self.alpha * metrics["loss"] + (1 - self.alpha) * metrics["gsnn"]
        return metrics

    @torch.no_grad()
    def complete(self, images: torch.Tensor, samples: int = 1, mean: bool = True) -> torch.Tensor:
        """(samples, N, C, H, W) completions: z ~ p(z|x), then the generator's mean (or a Bernoulli draw)."""
        x, _ = self.split(images)
        mu, log_var = self.prior(x)
        out = []
        for _ in range(samples):
            z = mu + torch.exp(0.5 * log_var) * torch.randn_like(mu)
            probs = torch.sigmoid(self.logits(x, z))
            out.append(torch.where(self.missing, probs if mean else torch.bernoulli(probs), images))
        return torch.stack(out)

    def iw_log_likelihood(self, batch: tuple[torch.Tensor, ...], k: int) -> torch.Tensor:
        """Importance-sampled log p(missing pixels | visible ones), per example."""
        x, y = self.split(batch[0])
        return conditional_iw_log_likelihood(self, x, y, k)


class QuadrantHybrid(QuadrantCVAE):
    """The hybrid CVAE + GSNN objective, α = ½ by default."""

    def __init__(self, given_quadrants: int = 1, latent_dim: int = 20, hidden: int = 500, alpha: float = 0.5,
                 image_shape: tuple[int, ...] = (1, 28, 28), likelihood: str | dict = "bernoulli"):
        super().__init__(given_quadrants, latent_dim, hidden, alpha, image_shape, likelihood)
