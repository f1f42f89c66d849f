"""Sample quality: the Fréchet distance against SciPy and by hand, precision and recall on points whose
answer is counted by hand, the class histogram, nearest training images, and the known answers on
MNIST (training images score near zero, shuffled pixels far, one class with low recall)."""

import numpy as np
import pytest
import scipy.linalg
import torch

from vaebook.data import TensorLoader, load_images
from vaebook.models import MNISTClassifier, build_model
from vaebook.sample_quality import (check_images, effective_classes, features_and_classes, frechet_distance,
                                    known_answers, nearest_distances, precision_recall, shuffle_pixels)
from vaebook.settings import seed_everything
from vaebook.train import Trainer


def test_frechet_distance_matches_scipy_sqrtm():
    g = np.random.default_rng(0)
    a = torch.from_numpy(g.normal(size=(500, 6)) @ g.normal(size=(6, 6)))
    b = torch.from_numpy(g.normal(size=(400, 6)) @ g.normal(size=(6, 6)) + 0.5)
    ca, cb = np.cov(a.numpy(), rowvar=False), np.cov(b.numpy(), rowvar=False)
    expected = (((a.mean(0) - b.mean(0)) ** 2).sum().item() + np.trace(ca) + np.trace(cb)
                - 2 * np.trace(scipy.linalg.sqrtm(ca @ cb)).real)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-8)


def test_frechet_distance_by_hand():
    a = torch.randn(300, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    shift = torch.tensor([1.0, -2.0, 0.0, 0.5], dtype=torch.float64)
    assert frechet_distance(a, a + shift) == pytest.approx(float((shift**2).sum()), rel=1e-8)
    # the same mean and covariances scaled by s²: tr(Σ) (1 − s)²
    assert frechet_distance(a, 3 * (a - a.mean(0)) + a.mean(0)) == pytest.approx(
        float(np.trace(np.cov(a.numpy(), rowvar=False))) * 4, rel=1e-8)


def test_precision_and_recall_counted_by_hand():
    real = torch.arange(10.0)[:, None]                       # k = 1: every ball has radius 1
    precision, recall = precision_recall(real, torch.tensor([[0.5], [100.0]]), k=1)
    assert (precision, recall) == (0.5, 1.0)                 # one sample far out; balls of radius 99.5 cover all
    precision, recall = precision_recall(real, torch.tensor([[0.0], [0.1], [0.2]]), k=1)
    assert precision == 1.0 and recall == pytest.approx(0.1)  # a collapsed cluster: only the real 0 is covered
    with pytest.raises(ValueError, match="k = 3"):
        precision_recall(real[:3], real[:3], k=3)


def test_effective_classes():
    assert effective_classes(torch.arange(10).repeat(5)) == pytest.approx(10.0)
    assert effective_classes(torch.full((7,), 3)) == pytest.approx(1.0)
    assert effective_classes(torch.tensor([0, 1])) == pytest.approx(2.0)


def test_nearest_distances_and_shuffling():
    images = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert torch.equal(nearest_distances(images[:2], images), torch.zeros(2, dtype=torch.float64))
    shuffled = shuffle_pixels(images)
    assert torch.equal(shuffled.flatten(1).sort(1).values, images.flatten(1).sort(1).values)
    assert not torch.equal(shuffled, images)


@pytest.mark.parametrize("bad, named", [(torch.zeros(3, 28, 28), r"\(3, 28, 28\)"),
                                        (torch.zeros(1, 1, 28, 28), r"\(1, 1, 28, 28\)"),
                                        (torch.full((2, 1, 28, 28), 255.0), "255"),
                                        (torch.full((2, 1, 28, 28), -0.5), "-0.5"),
                                        (torch.full((2, 1, 28, 28), float("nan")), "nan")])
def test_bad_images_are_named(bad, named):
    with pytest.raises(ValueError, match=named):
        check_images(bad)


def test_known_answers_on_mnist():
    """A classifier trained for one epoch on 5,000 images already tells the three cases apart."""
    seed_everything(0)
    train, test = load_images("mnist", "train", subset=5_000), load_images("mnist", "test", subset=1_000)
    classifier = build_model("mnist-classifier", width=16, features=64)
    assert isinstance(classifier, MNISTClassifier)
    Trainer(classifier, progress=False).fit(TensorLoader(train, 64), epochs=1)
    features, classes = features_and_classes(classifier, test.images)
    assert features.shape == (1_000, 64) and (classes == test.labels).float().mean() > 0.8
    answers = known_answers(classifier, train.images, test.images, test.labels)
    perfect, shuffled, one = answers["training images"], answers["shuffled pixels"], answers["one class"]
    assert perfect["frechet"] < 0.05 * shuffled["frechet"]
    assert perfect["precision"] > 0.8 and perfect["recall"] > 0.8 and perfect["classes"] > 9
    assert perfect["nearest"] == 0.0 < shuffled["nearest"]   # the training images are their own neighbours
    assert shuffled["recall"] < 0.05 and shuffled["precision"] < perfect["precision"] / 2
    assert one["recall"] < 0.3 and one["classes"] < 2 and one["top_class"] > 0.8
    assert perfect["sharpness"] == pytest.approx(1.0, abs=0.1)
