"""One measure of sample quality for every generative model, likelihood or not, on MNIST.

A small classifier trained on MNIST gives every image a feature vector (its penultimate layer) and a
class. From those, for a set of samples against a set of real images:

- the Fréchet distance between Gaussians fitted to the two sets of features (Heusel et al. 2017,
  with this classifier in place of an Inception network), zero only when means and covariances match;
- precision and recall (Kynkäänniemi et al. 2019): each set's manifold is the union of balls around
  its points reaching their k-th nearest neighbour; precision is the fraction of samples inside the
  real images' manifold (quality), recall the fraction of real images inside the samples' (coverage);
- the class histogram of the samples against the uniform one of MNIST's test set (mode collapse),
  summarised by its effective number of classes exp(entropy), 10 when every class is equally frequent;
- each sample's pixel distance to its nearest training image (memorisation), beside the same
  distance for test images, which no model has seen;
- the share of the samples' power at high spatial frequencies against the test images' (blur, chapter 16's measure).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vaebook.sharpness import relative_sharpness


class MNISTClassifier(nn.Module):
    """Two convolutions with max pooling (28 → 14 → 7), a 128-unit feature layer, ten logits."""

    def __init__(self, width: int = 32, features: int = 128, num_classes: int = 10):
        super().__init__()
        self.config = dict(width=width, features=features, num_classes=num_classes)
        self.trunk = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(2 * width * 49, features), nn.ReLU())
        self.head = nn.Linear(features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x))

    def loss(self, batch: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
        """Cross-entropy of the labels, with the batch's accuracy."""
        x, y = batch[0], batch[1]
        check_images(x)
        logits = self(x)
        return {"loss": F.cross_entropy(logits, y), "accuracy": (logits.argmax(1) == y).float().mean()}


def check_images(images: torch.Tensor, what: str = "images") -> None:
    """A batch of MNIST-sized grey levels: shape (N, 1, 28, 28), N ≥ 2, finite values in [0, 1]."""
    if images.dim() != 4 or tuple(images.shape[1:]) != (1, 28, 28) or len(images) < 2:
        raise ValueError(f"{what} must have shape (N, 1, 28, 28) with N >= 2, got {tuple(images.shape)}")
    low, high = float(images.min()), float(images.max())
    if not (math.isfinite(low) and math.isfinite(high)) or low < 0 or high > 1:
        bad = low if not (math.isfinite(low) and low >= 0) else high
        raise ValueError(f"{what} must lie in [0, 1], got a pixel value {bad:.4g}")


@torch.no_grad()
def features_and_classes(classifier: MNISTClassifier, images: torch.Tensor, batch_size: int = 1_000
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """The classifier's penultimate features (N, 128) in float64 on the CPU, and its predicted classes."""
    check_images(images)
    was_training = classifier.training
    classifier.eval()
    device = next(classifier.parameters()).device
    features, classes = [], []
    for x in images.split(batch_size):
        h = classifier.trunk(x.to(device))
        features.append(h.cpu().double())
        classes.append(classifier.head(h).argmax(1).cpu())
    classifier.train(was_training)
    return torch.cat(features), torch.cat(classes)


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """‖μ_a − μ_b‖² + tr(Σ_a + Σ_b − 2 (Σ_a^{1/2} Σ_b Σ_a^{1/2})^{1/2}) of two sets of features (N, d).

    The trace of the matrix square root is the sum of the square roots of the eigenvalues of the
    symmetric Σ_a^{1/2} Σ_b Σ_a^{1/2}, computed by symmetric eigen-decompositions in float64.
    """
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(f"expected two sets of feature vectors (N, d), N >= 2, with the same d, "
                         f"got {tuple(a.shape)} and {tuple(b.shape)}")
    a, b = a.double().cpu().numpy(), b.double().cpu().numpy()
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    values, vectors = np.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(values.clip(min=0))) @ vectors.T
    middle = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.sqrt(middle.clip(min=0)).sum())


def _knn_radii(points: torch.Tensor, k: int) -> torch.Tensor:
    """Distance of each point to its k-th nearest other point of the same set."""
    if not 1 <= k < len(points):
        raise ValueError(f"k must lie in 1..{len(points) - 1} for {len(points)} points, got k = {k}")
    return torch.cdist(points, points).kthvalue(k + 1, dim=1).values      # the first is the point itself


def _inside(queries: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, batch_size: int = 1_000
            ) -> torch.Tensor:
    """For each query, whether it lies in at least one ball (centre, radius)."""
    return torch.cat([(torch.cdist(q, centres) <= radii).any(1) for q in queries.split(batch_size)])


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> tuple[float, float]:
    """Kynkäänniemi et al.'s precision (samples inside the real manifold) and recall (real points
    inside the samples' manifold), each manifold a union of k-nearest-neighbour balls."""
    if real.dim() != 2 or fake.dim() != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"expected two sets of feature vectors (N, d) with the same d, "
                         f"got {tuple(real.shape)} and {tuple(fake.shape)}")
    real, fake = real.double(), fake.double()
    precision = _inside(fake, real, _knn_radii(real, k)).double().mean()
    recall = _inside(real, fake, _knn_radii(fake, k)).double().mean()
    return float(precision), float(recall)


def effective_classes(classes: torch.Tensor, num_classes: int = 10) -> float:
    """exp(entropy) of the class histogram: 10 for ten equally frequent classes, 1 for one class."""
    p = torch.bincount(classes.flatten(), minlength=num_classes).double()
    p = p[p > 0] / p.sum()
    return float(torch.exp(-(p * p.log()).sum()))


def nearest_distances(images: torch.Tensor, reference: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Pixel (Euclidean) distance from each image to its nearest image in ``reference``."""
    check_images(images)
    check_images(reference, "reference images")
    flat_ref = reference.flatten(1).float()
    # the nearest one found in float32 (fast), its distance then computed exactly in float64
    nearest = torch.cat([torch.cdist(x.flatten(1).float(), flat_ref).argmin(1) for x in images.split(batch_size)])
    return (images.flatten(1).double() - reference.flatten(1)[nearest].double()).norm(dim=1)


def sample_quality(classifier: MNISTClassifier, samples: torch.Tensor, test_images: torch.Tensor,
                   train_images: torch.Tensor, k: int = 3) -> dict[str, float]:
    """Every measure above for one set of samples: ``frechet``, ``precision``, ``recall``,
    ``classes`` (effective number), ``top_class`` (share of the most frequent class) and
    ``nearest`` (median pixel distance of a sample to its nearest training image) and ``sharpness``
    (chapter 16's :func:`vaebook.sharpness.relative_sharpness` against the test images: 1 for their
    detail, below for blurred samples, above for noisier ones)."""
    check_images(samples, "samples")
    fake, classes = features_and_classes(classifier, samples)
    real, _ = features_and_classes(classifier, test_images)
    precision, recall = precision_recall(real, fake, k)
    counts = torch.bincount(classes, minlength=10)
    return {"frechet": frechet_distance(real, fake), "precision": precision, "recall": recall,
            "classes": effective_classes(classes), "top_class": float(counts.max() / counts.sum()),
            "nearest": float(nearest_distances(samples, train_images).median()),
            "sharpness": relative_sharpness(samples, test_images)}


def shuffle_pixels(images: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Each image's pixels in a random order of its own: the same grey levels, no digit."""
    g = torch.Generator().manual_seed(seed)
    flat = images.flatten(1)
    order = torch.argsort(torch.rand(flat.shape, generator=g), dim=1).to(images.device)
    return flat.gather(1, order).view_as(images)


def known_answers(classifier: MNISTClassifier, train_images: torch.Tensor, test_images: torch.Tensor,
                  test_labels: torch.Tensor, k: int = 3) -> dict[str, dict[str, float]]:
    """The measures on three stand-ins for a model whose answer is known before any model is scored:
    ``training images`` (a perfect model: Fréchet distance near 0, precision and recall near 1),
    ``shuffled pixels`` (test images with their pixels shuffled: far from every digit), and
    ``one class`` (the test images of the most frequent label only: collapsed onto one mode)."""
    n = min(len(train_images), len(test_images))
    one = int(torch.bincount(test_labels).argmax())
    return {"training images": sample_quality(classifier, train_images[:n], test_images, train_images, k),
            "shuffled pixels": sample_quality(classifier, shuffle_pixels(test_images), test_images, train_images, k),
            "one class": sample_quality(classifier, test_images[test_labels == one], test_images, train_images, k)}
