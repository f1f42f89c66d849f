"""The book's models, by name: ``build_model("mlp", latent_dim=20)``.

The registry is what the CLI and checkpoints use to rebuild a model from its name and config.
"""

from __future__ import annotations

from torch import nn

from vaebook.models.aae import AAE, CategoricalAAE, SupervisedAAE
from vaebook.models.autoencoder import Autoencoder
from vaebook.models.avb import AVB
from vaebook.models.base import VAE
from vaebook.models.conv import ConvVAE
from vaebook.models.cvae import LabelCVAE, QuadrantBaseline, QuadrantCVAE, QuadrantHybrid
from vaebook.models.dcgan import DCGAN
from vaebook.models.ddpm import DDPM
from vaebook.models.dvae import DenoisingVAE
from vaebook.models.linear import LinearVAE
from vaebook.models.mlp import MLPVAE
from vaebook.models.pixelcnn import GatedPixelCNN, PixelCNN
from vaebook.models.vqvae import VQVAE
from vaebook.sample_quality import MNISTClassifier

MODELS: dict[str, type[nn.Module]] = {
    "mlp": MLPVAE,
    "conv": ConvVAE,
    "ae": Autoencoder,
    "cvae": LabelCVAE,
    "quadrant-baseline": QuadrantBaseline,
    "quadrant-cvae": QuadrantCVAE,
    "quadrant-hybrid": QuadrantHybrid,
    "vqvae": VQVAE,
    "pixelcnn": PixelCNN,
    "gated-pixelcnn": GatedPixelCNN,
    "aae": AAE,
    "aae-supervised": SupervisedAAE,
    "aae-categorical": CategoricalAAE,
    "dvae": DenoisingVAE,
    "avb": AVB,
    "linear": LinearVAE,
    "ddpm": DDPM,
    "dcgan": DCGAN,
    "mnist-classifier": MNISTClassifier,
}


def build_model(name: str, **config) -> nn.Module:
    """Instantiate a registered model from its name and constructor arguments."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(sorted(MODELS))}")
    return MODELS[name](**config)


def model_name(model: nn.Module) -> str:
    """The registry name of a model instance (the inverse of :func:`build_model`)."""
    for name, cls in MODELS.items():
        if type(model) is cls:
            return name
    raise ValueError(f"{type(model).__name__} is not registered in vaebook.models.MODELS")


__all__ = ["MODELS", "VAE", "MLPVAE", "ConvVAE", "Autoencoder", "VQVAE", "PixelCNN", "GatedPixelCNN", "AAE", "SupervisedAAE",
           "CategoricalAAE", "DenoisingVAE", "AVB", "LinearVAE", "DDPM", "DCGAN", "MNISTClassifier", "build_model", "model_name"]
