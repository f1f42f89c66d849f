"""Adversarial autoencoders (Makhzani et al. 2015): an autoencoder whose codes are made to follow a
prior by a discriminator instead of a KL term.

- :class:`AAE`: deterministic encoder, decoder, discriminator on z; any prior that can be sampled;
- :class:`SupervisedAAE`: the decoder also gets the one-hot label, so z is left to carry the style;
- :class:`CategoricalAAE`: the encoder outputs a class y and a style z, each with its own discriminator;
  unsupervised it clusters, and with a few labels (``semi_supervised=True``) it classifies.

Each declares its training phases (:meth:`phases`), which :class:`vaebook.train.Trainer` runs in order for
every batch, each with its own optimizer: the paper's reconstruction phase, then its regularisation
phase in two steps (the discriminator, then the encoder as generator).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from vaebook.adversarial import discriminator_accuracy, discriminator_loss, generator_loss, make_discriminator
from vaebook.likelihoods import Likelihood, make_likelihood
from vaebook.models.base import check_sample_count
from vaebook.priors import Prior, make_prior


# Adam's momentum in the two adversarial steps: β1 = 0.5, the usual choice for adversarial training
# since DCGAN (Radford et al. 2016); with the default 0.9 the codes chase the discriminator in circles
ADVERSARIAL_BETAS = (0.5, 0.999)


def adversarial(params) -> list[dict]:
    """A parameter group with the adversarial steps' Adam momentum (see :data:`ADVERSARIAL_BETAS`)."""
    return [{"params": list(params), "betas": ADVERSARIAL_BETAS}]


def mlp(*sizes: int) -> nn.Sequential:
    """Linear layers of the given sizes with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers += [nn.Linear(a, b)] + ([nn.ReLU()] if i < len(sizes) - 2 else [])
    return nn.Sequential(*layers)


class AAE(nn.Module):
    """Encoder x → z (a point, no noise), decoder z → p(x|z), discriminator z → logit of "from the prior".

    Encoder and decoder have two hidden layers of ``hidden`` units, the discriminator two of
    ``disc_hidden`` (the paper's MNIST networks use 1000 for all three), without batch norm.
    """

    condition_dim = 0   # extra decoder inputs (the supervised AAE's one-hot label)

    def __init__(self, latent_dim: int = 2, hidden: int = 1000, disc_hidden: int = 1000,
                 prior: str | dict = "gaussian", image_shape: tuple[int, ...] = (1, 28, 28),
                 likelihood: str | dict = "bernoulli"):
        super().__init__()
        self.latent_dim, self.image_shape = latent_dim, tuple(image_shape)
        self.prior: Prior = make_prior(prior, latent_dim)
        self.likelihood: Likelihood = make_likelihood(likelihood)
        self.config = dict(latent_dim=latent_dim, hidden=hidden, disc_hidden=disc_hidden,
                           prior=self.prior.config(), image_shape=list(image_shape),
                           likelihood=self.likelihood.config())
        pixels = math.prod(image_shape)
        self.encoder = nn.Sequential(nn.Flatten(), mlp(pixels, hidden, hidden, latent_dim))
        self.decoder = mlp(latent_dim + self.condition_dim, hidden, hidden,
                           pixels * self.likelihood.params_per_pixel)
        self.discriminator = make_discriminator(latent_dim, disc_hidden)

    def phases(self) -> dict[str, list]:
        """The paper's two phases per batch, the second split in its two steps: what
        each one trains."""
        autoencoder = [*self.encoder.parameters(), *self.decoder.parameters()]
        return {"reconstruction": autoencoder,
                "discriminator": adversarial(self.discriminator.parameters()),
                "generator": adversarial(self.encoder.parameters())}

    def loss(
        self, batch: tuple[torch.Tensor, ...], phase: str | None = None
    ) -> dict[str, torch.Tensor]:
        """One phase's loss on an (x, y) batch; without a phase (evaluation), the
        reconstruction's."""
        x = batch[0]
        self.check_input(x)
        z = self.encode(x)
        if phase == "discriminator":
            # prior samples labelled 1, codes 0; the encoder is not trained here
            from_prior = self.prior.sample(len(x), device=x.device)
            logits_prior = self.discriminator(from_prior)
            logits_codes = self.discriminator(z.detach())
            return {"loss": discriminator_loss(logits_prior, logits_codes),
                    "disc_accuracy": discriminator_accuracy(logits_prior, logits_codes)}
        if phase == "generator":
            # the encoder moves its codes to where the discriminator says "prior"
            return {"loss": generator_loss(self.discriminator(z))}
        if phase not in ("reconstruction", None):
            raise ValueError(f"unknown phase {phase!r}; "
                             f"{type(self).__name__} has {list(self.phases())}")
        distortion = -self.likelihood.log_prob(x, self.decode(z, *batch[1:2])).mean()
        return {"loss": distortion, "distortion": distortion}

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Decoder output for codes z (the labels y are for the supervised AAE; ignored here)."""
        c, *rest = self.image_shape
        return self.decoder(z).view(-1, c * self.likelihood.params_per_pixel, *rest)

    def check_input(self, x: torch.Tensor) -> None:
        if x.dim() != len(self.image_shape) + 1 or tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(f"{type(self).__name__} expects a batch of shape "
                             f"(N, {', '.join(map(str, self.image_shape))}), got {tuple(x.shape)}")

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        self.check_input(x)
        return self.likelihood.mean(self.decode(self.encode(x), y))

    @torch.no_grad()
    def sample(self, n: int, y: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """n decoder means at codes drawn from the prior (with labels y for the supervised AAE)."""
        n = check_sample_count(n)
        device = next(self.parameters()).device
        return self.likelihood.mean(self.decode(self.prior.sample(n, generator, device), y))


class SupervisedAAE(AAE):
    """The decoder gets z and the one-hot label: the label says which digit, so z is
    free to carry the style (slant, width, stroke), and the prior shapes the style
    alone."""

    def __init__(self, latent_dim: int = 2, hidden: int = 1000, disc_hidden: int = 1000,
                 prior: str | dict = "gaussian", num_classes: int = 10,
                 image_shape: tuple[int, ...] = (1, 28, 28),
                 likelihood: str | dict = "bernoulli"):
        self.condition_dim = num_classes
        super().__init__(latent_dim, hidden, disc_hidden, prior, image_shape,
                         likelihood)
        self.config["num_classes"] = num_classes

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if y is None:
            raise ValueError("the supervised AAE decodes a code together with its "
                             "label: decode(z, y)")
        one_hot = F.one_hot(y, self.condition_dim).to(z.dtype)
        return super().decode(torch.cat([z, one_hot], 1))


class CategoricalAAE(nn.Module):
    """Encoder x → (class logits, style z); the decoder sees softmax(logits) and z. One discriminator
    tells one-hot vectors of a uniform class from softmax(logits), another N(0, I) from z.

    Unsupervised, the classes become clusters. With ``semi_supervised=True`` a fourth phase trains the
    class head by cross-entropy on a labelled batch, passed to the loss as ``labelled=(images, labels)``.
    """

    def __init__(self, num_classes: int = 10, latent_dim: int = 10, hidden: int = 1000,
                 disc_hidden: int = 1000, semi_supervised: bool = False,
                 image_shape: tuple[int, ...] = (1, 28, 28), likelihood: str | dict = "bernoulli"):
        super().__init__()
        self.num_classes, self.latent_dim, self.image_shape = num_classes, latent_dim, tuple(image_shape)
        self.semi_supervised = semi_supervised
        self.prior = make_prior("gaussian", latent_dim)
        self.likelihood = make_likelihood(likelihood)
        self.config = dict(num_classes=num_classes, latent_dim=latent_dim, hidden=hidden, disc_hidden=disc_hidden,
                           semi_supervised=semi_supervised, image_shape=list(image_shape),
                           likelihood=self.likelihood.config())
        pixels = math.prod(image_shape)
        self.trunk = nn.Sequential(nn.Flatten(), mlp(pixels, hidden, hidden), nn.ReLU())
        self.to_class, self.to_style = nn.Linear(hidden, num_classes), nn.Linear(hidden, latent_dim)
        self.decoder = mlp(num_classes + latent_dim, hidden, hidden, pixels * self.likelihood.params_per_pixel)
        self.class_discriminator = make_discriminator(num_classes, disc_hidden)
        self.style_discriminator = make_discriminator(latent_dim, disc_hidden)

    def phases(self) -> dict[str, list]:
        classifier = [*self.trunk.parameters(), *self.to_class.parameters()]
        encoder = [*classifier, *self.to_style.parameters()]
        discriminators = [*self.class_discriminator.parameters(),
                          *self.style_discriminator.parameters()]
        phases = {"reconstruction": [*encoder, *self.decoder.parameters()],
                  "discriminator": adversarial(discriminators),
                  "generator": adversarial(encoder)}
        if self.semi_supervised:
            phases["classification"] = classifier
        return phases

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Class logits and style code."""
        h = self.trunk(x)
        return self.to_class(h), self.to_style(h)

    def loss(self, batch: tuple[torch.Tensor, ...], phase: str | None = None,
             labelled: tuple[torch.Tensor, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        x = batch[0]
        if phase == "classification":   # cross-entropy of q(y|x) on a random batch of the labelled images
            if labelled is None:
                raise ValueError("the classification phase needs labelled=(images, labels)")
            pick = torch.randint(len(labelled[0]), (min(len(x), len(labelled[0])),)).to(labelled[0].device)
            cross_entropy = F.cross_entropy(self.encode(labelled[0][pick])[0], labelled[1][pick])
            return {"loss": cross_entropy, "cross_entropy": cross_entropy}
        logits, z = self.encode(x)
        y = logits.softmax(1)
        if phase == "discriminator":
            one_hot = F.one_hot(torch.randint(self.num_classes, (len(x),)), self.num_classes).to(x)
            real_y, fake_y = self.class_discriminator(one_hot), self.class_discriminator(y.detach())
            real_z = self.style_discriminator(self.prior.sample(len(x), device=x.device))
            fake_z = self.style_discriminator(z.detach())
            return {"loss": discriminator_loss(real_y, fake_y) + discriminator_loss(real_z, fake_z),
                    "class_disc_accuracy": discriminator_accuracy(real_y, fake_y),
                    "style_disc_accuracy": discriminator_accuracy(real_z, fake_z)}
        if phase == "generator":
            return {"loss": generator_loss(self.class_discriminator(y)) + generator_loss(self.style_discriminator(z))}
        if phase not in ("reconstruction", None):
            raise ValueError(f"unknown phase {phase!r}; {type(self).__name__} has {list(self.phases())}")
        distortion = -self.likelihood.log_prob(x, self.decode(y, z)).mean()
        return {"loss": distortion, "distortion": distortion}

    def decode(self, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        c, *rest = self.image_shape
        return self.decoder(torch.cat([y, z], 1)).view(-1, c * self.likelihood.params_per_pixel, *rest)

    @torch.no_grad()
    def predict(self, x: torch.Tensor, batch_size: int = 1_000) -> torch.Tensor:
        """The most probable class (or cluster) of each image."""
        return torch.cat([self.encode(x[i:i + batch_size])[0].argmax(1) for i in range(0, len(x), batch_size)])


def cluster_error(clusters: torch.Tensor, labels: torch.Tensor, test_clusters: torch.Tensor,
                  test_labels: torch.Tensor) -> float:
    """Test error of clustering used as a classifier, as in the AAE paper: every cluster is given the
    most frequent label of the training images in it (a cluster with none of them gets label 0)."""
    k = int(max(clusters.max(), test_clusters.max())) + 1
    counts = torch.zeros(k, int(labels.max()) + 1, dtype=torch.long, device=labels.device)
    counts.index_put_((clusters, labels), torch.ones_like(labels), accumulate=True)
    return float((counts.argmax(1)[test_clusters] != test_labels).float().mean())
