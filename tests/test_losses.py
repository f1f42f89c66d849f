"""The negative ELBO of the MLP VAE against a hand computation, and bad input named."""

import math

import pytest
import torch

from vaebook.losses import negative_elbo
from vaebook.models import MLPVAE, build_model


class FixedNoise(MLPVAE):
    """An MLP VAE whose forward pass uses a given ε, so the loss can be recomputed by hand."""

    def __init__(self, eps, **kw):
        super().__init__(**kw)
        self.eps = eps

    def forward(self, x):
        mu, log_var = self.encode(x)
        z = mu + torch.exp(0.5 * log_var) * self.eps
        return self.decode(z), mu, log_var, z


def test_negative_elbo_matches_a_hand_computation():
    torch.manual_seed(0)
    eps = torch.randn(2, 3)
    model = FixedNoise(eps, latent_dim=3, hidden=5, image_shape=(1, 2, 2))
    x = torch.tensor([[[[0.0, 1.0], [0.5, 0.2]]], [[[1.0, 1.0], [0.0, 0.9]]]])
    parts = negative_elbo(model, x)

    h = torch.relu(x.flatten(1) @ model.trunk[1].weight.T + model.trunk[1].bias)
    mu, log_var = model.to_mu(h), model.to_log_var(h)
    z = mu + torch.exp(0.5 * log_var) * eps
    logits = model.decoder(z)
    p = torch.sigmoid(logits)
    recon = -(x.flatten(1) * torch.log(p) + (1 - x.flatten(1)) * torch.log(1 - p)).sum(1)
    kl = 0.5 * (log_var.exp() + mu**2 - 1 - log_var).sum(1)

    assert torch.allclose(parts["distortion"], recon.mean(), atol=1e-5)
    assert torch.allclose(parts["rate"], kl.mean(), atol=1e-6)
    assert torch.allclose(parts["neg_elbo"], (recon + kl).mean(), atol=1e-5)
    beta = negative_elbo(model, x, beta=3.0)
    assert torch.allclose(beta["loss"], (recon + 3 * kl).mean(), atol=1e-5)


def test_loss_is_a_per_example_mean_not_a_batch_sum():
    model = build_model("mlp", latent_dim=2, hidden=8)
    x = torch.rand(1, 1, 28, 28)
    torch.manual_seed(1)
    one = negative_elbo(model, x)["neg_elbo"]
    torch.manual_seed(1)
    model.eval()
    many = negative_elbo(model, x.expand(64, 1, 28, 28).contiguous())["neg_elbo"]
    assert 0.5 < float(many.detach() / one.detach()) < 2  # a sum over 64 copies would be ~64 times larger


def test_untrained_model_scores_near_784_log_2():
    """With zero decoder weights every pixel has p = 1/2: distortion is exactly 784 log 2 nats."""
    model = build_model("mlp")
    torch.nn.init.zeros_(model.decoder[2].weight)
    torch.nn.init.zeros_(model.decoder[2].bias)
    parts = negative_elbo(model, torch.rand(8, 1, 28, 28))
    assert math.isclose(parts["distortion"].item(), 784 * math.log(2), rel_tol=1e-5)


def test_wrong_shape_and_range_are_named():
    model = build_model("mlp")
    with pytest.raises(ValueError, match=r"expects a batch of shape \(N, 1, 28, 28\), got \(4, 784\)"):
        negative_elbo(model, torch.rand(4, 784))
    with pytest.raises(ValueError, match=r"Bernoulli likelihood needs \[0, 1\]"):
        negative_elbo(model, 255 * torch.rand(4, 1, 28, 28))


def test_shapes_and_sampling():
    model = build_model("mlp", latent_dim=7)
    out, mu, log_var, z = model(torch.rand(5, 1, 28, 28))
    assert out.shape == (5, 1, 28, 28) and mu.shape == log_var.shape == z.shape == (5, 7)
    assert model.sample(3).shape == (3, 1, 28, 28) and 0 <= model.sample(3).min() <= model.sample(3).max() <= 1
    assert model.reconstruct(torch.rand(2, 1, 28, 28)).shape == (2, 1, 28, 28)
    gaussian = build_model("mlp", likelihood="gaussian-learned")
    assert gaussian(torch.rand(2, 1, 28, 28))[0].shape == (2, 2, 28, 28)


def test_unknown_model_is_named():
    with pytest.raises(ValueError, match="unknown model 'resnet'; known models: .*mlp"):
        build_model("resnet")


def test_make_likelihood_takes_a_name_or_a_stored_config():
    from vaebook.likelihoods import GaussianFixed, make_likelihood

    assert isinstance(make_likelihood("gaussian", variance=0.5), GaussianFixed)
    rebuilt = make_likelihood({"name": "gaussian", "variance": 0.5})
    assert isinstance(rebuilt, GaussianFixed) and rebuilt.variance == 0.5
    assert make_likelihood(rebuilt.config()).config() == rebuilt.config()
    with pytest.raises(ValueError, match="unknown likelihood 'poisson'"):
        make_likelihood({"name": "poisson"})
