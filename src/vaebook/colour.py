"""Chapter 16's bookkeeping: the data sets as 8-bit images, the models of its table and ablations
trained by name, and each scored in one call (bits per dimension, sharpness).

Every model is scored in bits per dimension of 8-bit images: a discretized decoder by its −ELBO
(an upper bound on −log₂ P(x)/D), a density (a Gaussian decoder, PPCA, the full Gaussian) on
dequantized images by the bound of :func:`vaebook.ppca.dequantized_bits_per_dim`. A Bernoulli
decoder on grey levels gives a −ELBO too, a cross-entropy (BCE) plus the KL, reported in the same unit
but a bound on no likelihood.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import torch

from vaebook.data import TensorLoader, load_cifar10, load_images
from vaebook.discretized import bits_per_dim
from vaebook.evaluate import evaluate
from vaebook.losses import model_loss
from vaebook.models import ConvVAE
from vaebook.linear_gaussian import LinearGaussian, ppca_maximum_likelihood
from vaebook.models.linear import LinearVAE
from vaebook.ppca import (dequantize, dequantized_bits_per_dim, fit_gaussian, gaussian_log_likelihood,
                          ppca_log_likelihood, ppca_max_log_likelihood)
from vaebook.sharpness import relative_sharpness
from vaebook.train import Training, train_or_load


@dataclass
class EightBitData:
    """Train and test images in [0, 1] on the grid k/255, their labels, and one dequantized copy of each."""

    name: str
    train: torch.Tensor
    train_labels: torch.Tensor
    test: torch.Tensor
    test_labels: torch.Tensor
    train_dequantized: torch.Tensor
    test_dequantized: torch.Tensor

    @property
    def dims(self) -> int:
        return self.train[0].numel()


def load_eight_bit(name: str, train_images: int, test_images: int, device: torch.device | str = "cpu",
                   seed: int = 0) -> EightBitData:
    """``fashion-mnist`` or ``cifar-10``: the first ``train_images`` of a seeded shuffle of the training
    set and the first ``test_images`` test images, with a seeded dequantization of both."""
    if name == "cifar-10":
        (train, train_labels), (test, test_labels) = load_cifar10("train"), load_cifar10("test")
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:train_images]
        train, train_labels, test, test_labels = (train[order], train_labels[order], test[:test_images],
                                                  test_labels[:test_images])
    elif name == "fashion-mnist":
        train_set = load_images(name, "train", subset=train_images, seed=seed)
        test_set = load_images(name, "test", subset=test_images)
        train, train_labels, test, test_labels = (train_set.images, train_set.labels, test_set.images,
                                                  test_set.labels)
    else:
        raise ValueError(f"the chapter's data sets are 'fashion-mnist' and 'cifar-10', got {name!r}")
    generator = torch.Generator().manual_seed(seed)
    tensors = [train, train_labels, test, test_labels, dequantize(train, generator), dequantize(test, generator)]
    return EightBitData(name, *(t.to(device) for t in tensors))


BATCH_SIZE = 128    # every conv VAE of the chapter trains on batches of this size


def gradient_steps(images: int, epochs: int, batch_size: int = BATCH_SIZE) -> int:
    """Optimizer steps of ``epochs`` epochs over ``images`` images, the last batch of each epoch partial."""
    if images < 1 or epochs < 0 or batch_size < 1:
        raise ValueError(f"need images >= 1, epochs >= 0, batch_size >= 1; got {images}, {epochs}, {batch_size}")
    return epochs * math.ceil(images / batch_size)


def epochs_for_steps(images: int, steps: int, batch_size: int = BATCH_SIZE) -> int:
    """The number of epochs over ``images`` images that comes nearest to ``steps`` optimizer steps (at least
    one): how a model trained on fewer images gets as many steps as one trained on more."""
    return max(1, round(steps / gradient_steps(images, 1, batch_size)))


def train_conv_vae(images: torch.Tensor, epochs: int, name: str, *, beta: float = 1.0,
                   batch_size: int = BATCH_SIZE, lr: float = 1e-3, **config) -> tuple[ConvVAE, Training]:
    """A ConvVAE (``config``: latent_dim, width, likelihood) trained on ``images`` with the KL weighted
    by ``beta``, through :func:`train_or_load` under ``name``; seeded, so reruns give the same model."""
    torch.manual_seed(0)
    model = ConvVAE(image_shape=tuple(images.shape[1:]), **config).to(images.device)
    labels = torch.zeros(len(images), dtype=torch.long, device=images.device)
    loader = TensorLoader((images, labels), batch_size=batch_size)
    return train_or_load(model, loader, epochs, name, lr=lr, loss_fn=partial(model_loss, beta=beta),
                         progress=False)


def elbo_terms(model, images: torch.Tensor, batch_size: int = 500) -> dict[str, float]:
    """The model's −ELBO (β = 1), its distortion −E_q[log p(x|z)] and its rate KL(q‖p(z)) on ``images``,
    in nats per image (one seeded draw of z per image)."""
    torch.manual_seed(1)
    labels = torch.zeros(len(images), dtype=torch.long, device=images.device)
    terms = evaluate(model, TensorLoader((images, labels), batch_size, shuffle=False))
    return {key: terms[key] for key in ("neg_elbo", "distortion", "rate")}


def bits_per_dim_bound(model, images: torch.Tensor, dequantized: bool = False, batch_size: int = 500) -> float:
    """The model's −ELBO (β = 1) on ``images`` in bits per dimension: for a discretized decoder a bound on
    −log₂ P(x)/D; for a density on ``dequantized`` images the dequantization bound (+8 bits)."""
    return _in_bits(elbo_terms(model, images, batch_size)["neg_elbo"], images[0].numel(), dequantized)


def _in_bits(neg_elbo: float, dims: int, dequantized: bool) -> float:
    """A −ELBO in nats per image as bits/dim, with the dequantization's 8 bits for a density."""
    return float(dequantized_bits_per_dim(-neg_elbo, dims) if dequantized else bits_per_dim(neg_elbo, dims))


@torch.no_grad()
def sharpness_scores(model, test: torch.Tensor, n: int = 500, inputs: torch.Tensor | None = None
                     ) -> dict[str, float]:
    """High-frequency power relative to ``test`` images (1 = as much fine detail) of the model's
    samples shown as decoder means, of samples with the decoder's pixel noise, and of reconstructions
    of ``inputs`` (the test images as the model sees them; default ``test``)."""
    torch.manual_seed(2)
    model.eval()
    reference = test[:n]
    inputs = reference if inputs is None else inputs[:n]
    return {"sample_mean": relative_sharpness(model.sample(n, mean=True), reference),
            "sample_noisy": relative_sharpness(model.sample(n, mean=False).clamp(0, 1), reference),
            "reconstruction": relative_sharpness(model.reconstruct(inputs), reference)}


@dataclass(frozen=True)
class Variant:
    """One conv VAE of the blur ablations: what changes, its ConvVAE config, the KL weight, and whether
    it models dequantized images with a density (a Gaussian decoder) or 8-bit ones."""

    label: str
    config: dict
    beta: float = 1.0
    dequantized: bool = False
    short: str = ""


def blur_variants(latent_dim: int, width: int, small_latent: int = 2, small_width: int = 8) -> dict[str, Variant]:
    """The base model (discretized logistic decoder) and one change each: the KL weight 1/3 ("three
    times the reconstruction loss"), a small latent space, a small network, a Gaussian decoder with a
    fixed variance of 1 and one with a learned variance per pixel."""
    base = dict(likelihood="discretized-logistic", latent_dim=latent_dim, width=width)
    return {
        "base": Variant(f"base: discretized logistic, latent {latent_dim}, width {width}", base, short="base"),
        "beta": Variant("KL weight 1/3 (3 × reconstruction)", base, beta=1 / 3, short="KL weight 1/3"),
        "latent": Variant(f"latent size {small_latent}", {**base, "latent_dim": small_latent},
                          short=f"latent {small_latent}"),
        "width": Variant(f"width {small_width} (encoder and decoder)", {**base, "width": small_width},
                         short=f"width {small_width}"),
        "fixed": Variant("Gaussian decoder, fixed variance 1", {**base, "likelihood": "gaussian"},
                         dequantized=True, short="fixed variance 1"),
        "learned": Variant("Gaussian decoder, learned variance per pixel",
                           {**base, "likelihood": "gaussian-learned"}, dequantized=True,
                           short="learned variance"),
    }


def train_variant(variant: Variant, data: EightBitData, epochs: int, name: str) -> tuple[ConvVAE, Training]:
    """:func:`train_conv_vae` on the 8-bit or the dequantized training images, as the variant needs."""
    images = data.train_dequantized if variant.dequantized else data.train
    return train_conv_vae(images, epochs, name, beta=variant.beta, **variant.config)


def score_variant(model, variant: Variant, data: EightBitData, n: int = 500) -> dict[str, float]:
    """Test bits/dim (−ELBO at β = 1), the rate (nats per test image: how much the codes carry) and
    :func:`sharpness_scores` against the 8-bit test images."""
    test = data.test_dequantized if variant.dequantized else data.test
    terms = elbo_terms(model, test)
    return {"bits": _in_bits(terms["neg_elbo"], data.dims, variant.dequantized), "rate": terms["rate"],
            **sharpness_scores(model, data.test, n, inputs=test)}


@dataclass
class LinearModels:
    """PPCA in closed form, the linear VAE trained by Adam, the full-covariance Gaussian, and their
    bits/dim (dequantization bound) on the training images (where PPCA is the maximum) and on test images."""

    ppca: LinearGaussian
    linear_vae: LinearVAE
    training: Training
    gaussian: tuple[torch.Tensor, torch.Tensor] | None    # None with no more images than dimensions
    bits: dict[str, float]


def fit_linear_models(data: EightBitData, latent_dim: int, steps: int, name: str, batch_size: int = 500,
                      lr: float = 3e-3) -> LinearModels:
    """The three Gaussian models of the dequantized images; the linear VAE gets ``steps`` Adam steps
    (as many epochs as that takes) with its closed-form ELBO, through :func:`train_or_load`."""
    train, test = data.train_dequantized.flatten(1).cpu().double(), data.test_dequantized.flatten(1).cpu().double()
    dims = train.shape[1]

    def bits(log_p: torch.Tensor | float) -> float:
        return float(dequantized_bits_per_dim(float(torch.as_tensor(log_p).mean()), dims))

    ppca = ppca_maximum_likelihood(train, latent_dim)
    torch.manual_seed(0)
    model = LinearVAE(latent_dim, tuple(data.train.shape[1:])).to(data.train.device)
    labels = torch.zeros(len(train), dtype=torch.long, device=data.train.device)
    loader = TensorLoader((data.train_dequantized, labels), batch_size=batch_size)
    epochs = max(1, round(steps * batch_size / len(train)))
    model, training = train_or_load(model, loader, epochs, name, lr=lr, progress=False)
    with torch.no_grad():
        elbo = -model.cpu().double().loss((train.view(-1, *data.train.shape[1:]),))["neg_elbo"]
    model.float().to(data.train.device)
    # D(D + 1)/2 covariances need more images than dimensions (a smoke run on CIFAR-10 has fewer)
    gaussian = fit_gaussian(train) if len(train) > dims else None
    generative = model.generative_model()
    return LinearModels(ppca, model, training, gaussian, {
        "ppca_train": bits(ppca_max_log_likelihood(train, latent_dim) / len(train)),
        "linear_train": bits(ppca_log_likelihood(generative, train)),
        "linear_train_elbo": bits(elbo),
        "ppca_test": bits(ppca_log_likelihood(ppca, test)),
        "linear_test": bits(ppca_log_likelihood(generative, test)),
        "gaussian_test": bits(gaussian_log_likelihood(test, *gaussian)) if gaussian else math.nan,
    })


@torch.no_grad()
def gallery(data: EightBitData, linear: LinearModels, conv: dict[str, torch.nn.Module], n: int = 10
            ) -> dict[str, torch.Tensor]:
    """Rows of images for the chapter's figure, each (n, C, H, W) on the CPU: test images, then
    reconstructions (the decoder mean at the posterior mean) and samples (decoder means; the full
    Gaussian's are draws) of PPCA, the linear VAE, the full Gaussian and each conv VAE in ``conv``."""
    torch.manual_seed(3)
    shape = tuple(data.test.shape[1:])
    test = data.test_dequantized[:n].flatten(1).cpu().double()
    ppca, generative = linear.ppca, linear.linear_vae.generative_model()

    def decoded(model: LinearGaussian, z: torch.Tensor) -> torch.Tensor:
        return (z @ model.W.detach().T + model.b.detach()).view(-1, *shape).float()

    z = torch.randn(n, ppca.W.shape[1], dtype=torch.float64)
    rows = {"test images": data.test[:n].cpu(),
            "PPCA: reconstructions": decoded(ppca, ppca.posterior(test)[0]),
            "linear VAE: reconstructions": decoded(generative, generative.posterior(test)[0])}
    rows.update({f"{name}: reconstructions": model.reconstruct(data.test[:n]).cpu() for name, model in conv.items()})
    rows.update({"PPCA: samples": decoded(ppca, z), "linear VAE: samples": decoded(generative, z)})
    if linear.gaussian is not None:
        mean, cov = linear.gaussian
        draws = torch.distributions.MultivariateNormal(mean, scale_tril=torch.linalg.cholesky(cov)).sample((n,))
        rows["full Gaussian: samples"] = draws.view(-1, *shape).float()
    rows.update({f"{name}: samples": model.sample(n).cpu() for name, model in conv.items()})
    return rows
