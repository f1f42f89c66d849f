"""The discretized logistic likelihood of 8-bit pixels: a probability over the 256 values, its exact mean,
its samples, a VAE trained with it, and clear errors for pixels off the grid."""

import math

import pytest
import torch

from vaebook.estimators import mean_agrees
from vaebook.likelihoods import DiscretizedLogistic, make_likelihood
from vaebook.models import ConvVAE


def every_value(location: float, log_scale: float):
    """The 256 one-pixel images and the decoder output (location, log-scale) repeated for each."""
    x = (torch.arange(256, dtype=torch.float64) / 255).view(256, 1, 1, 1)
    out = torch.tensor([location, log_scale], dtype=torch.float64).view(1, 2, 1, 1).expand(256, 2, 1, 1)
    return x, out


@pytest.mark.parametrize("location, log_scale", [(0.0, -3.0), (0.95, -6.0), (-1.4, -2.0), (0.3, 1.0)])
def test_a_probability_over_the_256_values_with_its_exact_mean(location, log_scale):
    likelihood = DiscretizedLogistic()
    x, out = every_value(location, log_scale)
    p = likelihood.log_prob(x, out).exp()
    assert math.isclose(float(p.sum()), 1.0, abs_tol=1e-9)
    assert math.isclose(float(likelihood.mean(out[:1])), float((p * x.flatten()).sum()), abs_tol=1e-9)


def test_samples_follow_the_probabilities():
    likelihood = DiscretizedLogistic()
    out = torch.tensor([0.2, -3.0]).view(1, 2, 1, 1).expand(50_000, 2, 1, 1)
    draws = likelihood.sample(out).flatten()
    assert torch.equal(draws * 255, (draws * 255).round())
    assert mean_agrees(draws.double(), float(likelihood.mean(out[:1])))
    assert not mean_agrees(draws.double(), (0.2 + 1) / 2 + 0.01)


def test_a_vae_trains_with_it_and_rebuilds_from_its_config():
    torch.manual_seed(0)
    model = ConvVAE(latent_dim=4, width=8, likelihood="discretized-logistic")
    x = torch.randint(0, 256, (8, 1, 28, 28)).float() / 255
    loss = model.loss((x, None))["loss"]
    loss.backward()
    assert torch.isfinite(loss) and all(torch.isfinite(p.grad).all() for p in model.parameters())
    assert 0 <= float(model.sample(3).min()) and float(model.sample(3).max()) <= 1
    assert isinstance(make_likelihood(model.likelihood.config()), DiscretizedLogistic)


@pytest.mark.parametrize("bad, named", [(0.5 / 255, "0.001961"), (1.5, "1.5"), (-0.2, "-0.2")])
def test_pixels_off_the_grid_are_named(bad, named):
    with pytest.raises(ValueError, match=named):
        DiscretizedLogistic().log_prob(torch.full((1, 1, 2, 2), bad), torch.zeros(1, 2, 2, 2))
    with pytest.raises(ValueError, match="levels must be"):
        DiscretizedLogistic(levels=1)
