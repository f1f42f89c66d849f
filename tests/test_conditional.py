"""Tests for the conditional VAE code: quadrant masks, the conditional losses, log p(y|x) estimates, the models."""

import math

import pytest
import torch

from vaebook.checkpoint import load_model, save_checkpoint
from vaebook.conditional import (
    LinearGaussianConditional,
    conditional_iw_log_likelihood,
    conditional_negative_elbo,
    gsnn_loss,
    hide_quadrants,
    masked_bernoulli_log_prob,
    quadrant_mask,
)
from vaebook.models import build_model
from vaebook.models.cvae import LabelCVAE, QuadrantBaseline, QuadrantCVAE, QuadrantHybrid


# ---------------------------------------------------------------- masking

@pytest.mark.parametrize("given", [1, 2, 3])
def test_quadrant_mask_counts(given):
    mask = quadrant_mask(given)
    assert mask.shape == (1, 28, 28) and mask.dtype == torch.bool
    assert int(mask.sum()) == 196 * given


def test_quadrant_layout_is_the_pyro_tutorials():
    one, two, three = (quadrant_mask(k, 4, 4)[0] for k in (1, 2, 3))
    assert one.tolist() == [[False, False, False, False]] * 2 + [[True, True, False, False]] * 2
    assert two.tolist() == [[True, True, False, False]] * 4
    assert three.tolist() == [[True] * 4] * 2 + [[True, True, False, False]] * 2
    # nested: each layout shows what the smaller one shows, and the bottom-right is never given
    assert bool((one <= two).all() and (two <= three).all()) and not bool(three[2:, 2:].any())


def test_hide_quadrants_fills_only_the_missing_pixels():
    images = torch.rand(3, 1, 28, 28)
    x, missing = hide_quadrants(images, 2)
    assert torch.equal(missing, ~quadrant_mask(2))
    assert torch.equal(x[:, :, :, :14], images[:, :, :, :14])
    assert bool((x[:, :, :, 14:] == -1).all())


@pytest.mark.parametrize("given", [0, 4, 2.5, "1"])
def test_bad_quadrant_count_is_a_clear_error(given):
    with pytest.raises(ValueError, match="1, 2 or 3"):
        quadrant_mask(given)


def test_hide_quadrants_needs_a_batch_of_images():
    with pytest.raises(ValueError, match="batch of images"):
        hide_quadrants(torch.rand(28, 28), 1)
    with pytest.raises(ValueError, match="even"):
        quadrant_mask(1, 27, 28)


# ---------------------------------------------------------------- losses by hand

def test_masked_bernoulli_hand_computed():
    y = torch.tensor([[1.0, 0.0, 0.5, 1.0]])
    logits = torch.tensor([[0.0, math.log(3.0), 0.0, 2.0]], requires_grad=True)
    mask = torch.tensor([[True, True, False, False]])
    # −log σ(0) = log 2 for the 1; −log(1 − σ(log 3)) = log 4 for the 0; the last two pixels do not count
    value = masked_bernoulli_log_prob(y, logits, mask)
    assert torch.allclose(value, torch.tensor([-math.log(8.0)]))
    value.sum().backward()
    assert torch.equal(logits.grad[0, 2:], torch.zeros(2))


def test_masked_bernoulli_rejects_bad_input():
    with pytest.raises(ValueError, match="shapes must match"):
        masked_bernoulli_log_prob(torch.rand(2, 4), torch.rand(2, 5), torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        masked_bernoulli_log_prob(torch.full((1, 4), 2.0), torch.zeros(1, 4), torch.ones(1, 4, dtype=torch.bool))


class HandModel:
    """q(z|x,y) = N(1, 1), p(z|x) = N(0, e), log p(y|x,z) = −3 whatever z: every term by hand."""

    def recognize(self, x, y):
        return torch.ones(len(x), 1), torch.zeros(len(x), 1)

    def prior(self, x):
        return torch.zeros(len(x), 1), torch.ones(len(x), 1)

    def log_likelihood(self, x, y, z):
        return torch.full((len(x),), -3.0)


def test_conditional_negative_elbo_hand_computed():
    # KL(N(1,1) || N(0,e)) = ½ (log e − log 1 + (1 + 1²)/e − 1) = ½ (2/e)  = 1/e
    kl = 1 / math.e
    out = conditional_negative_elbo(HandModel(), torch.zeros(4, 2), torch.zeros(4, 2), beta=2.0)
    assert math.isclose(out["rate"].item(), kl, rel_tol=1e-6)
    assert math.isclose(out["distortion"].item(), 3.0, rel_tol=1e-6)
    assert math.isclose(out["neg_elbo"].item(), 3.0 + kl, rel_tol=1e-6)
    assert math.isclose(out["loss"].item(), 3.0 + 2 * kl, rel_tol=1e-6)


def test_gsnn_loss_samples_from_the_prior():
    class Probe(HandModel):
        def log_likelihood(self, x, y, z):
            return -(z[:, 0] ** 2)

    torch.manual_seed(0)
    # z ~ p(z|x) = N(0, e): E[z²] = e
    value = gsnn_loss(Probe(), torch.zeros(40_000, 1), torch.zeros(40_000, 1)).mean().item()
    assert abs(value - math.e) < 0.05


# ---------------------------------------------------------------- the linear-Gaussian check

def linear_gaussian(seed=0, dz=2, dx=3, dy=4):
    g = torch.Generator().manual_seed(seed)
    B = torch.linalg.qr(torch.randn(dy, dz, generator=g, dtype=torch.float64))[0] * torch.tensor([1.5, 0.7], dtype=torch.float64)
    return LinearGaussianConditional(
        A=torch.randn(dz, dx, generator=g, dtype=torch.float64), prior_var=torch.tensor([0.5, 2.0], dtype=torch.float64),
        B=B, C=torch.randn(dy, dx, generator=g, dtype=torch.float64), noise_var=0.3)


def test_bound_gap_is_the_kl_to_the_true_posterior():
    from vaebook.distributions import kl_mvn

    model = linear_gaussian()
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(1, 3, generator=g, dtype=torch.float64), torch.randn(1, 4, generator=g, dtype=torch.float64)
    exact = model.log_evidence(x, y)
    post_mean, post_cov = model.posterior(x, y)
    for _ in range(5):
        q_mean = torch.randn(1, 2, generator=g, dtype=torch.float64)
        root = torch.randn(2, 2, generator=g, dtype=torch.float64)
        q_cov = root @ root.T + 0.1 * torch.eye(2, dtype=torch.float64)
        elbo = model.elbo(x, y, q_mean, q_cov)
        assert float(elbo) < float(exact)
        assert torch.allclose(exact - elbo, kl_mvn(q_mean, q_cov, post_mean, post_cov), atol=1e-10)
    assert torch.allclose(model.elbo(x, y, post_mean, post_cov), exact, atol=1e-10)


def test_importance_sampling_is_exact_with_the_true_posterior_and_converges_otherwise():
    model = linear_gaussian()
    x, y = torch.randn(1, 3, dtype=torch.float64), torch.randn(1, 4, dtype=torch.float64)
    exact = model.log_evidence(x, y)
    mean, cov = model.posterior(x, y)
    assert torch.allclose(cov, torch.diag(cov.diagonal()), atol=1e-12)  # orthogonal B: a diagonal posterior
    model.q_mean, model.q_var = mean, cov.diagonal()
    torch.manual_seed(0)
    assert torch.allclose(conditional_iw_log_likelihood(model, x, y, k=3), exact, atol=1e-9)
    model.q_mean, model.q_var = mean + 0.3, 1.5 * cov.diagonal()
    elbo = model.elbo(x, y, model.q_mean, torch.diag(model.q_var))
    estimate = conditional_iw_log_likelihood(model, x.expand(200, -1), y.expand(200, -1), k=2000, chunk=500).mean()
    assert float(elbo) < float(estimate) < float(exact) + 1e-3
    assert abs(float(estimate - exact)) < 0.01
    with pytest.raises(ValueError, match="at least 1"):
        conditional_iw_log_likelihood(model, x, y, k=0)


def test_importance_sampling_pairs_each_sample_with_its_own_example():
    # A batch of distinct (x, y), each with its own posterior as q: every weight is p(y|x) of its own example, so K = 3
    # gives each example's exact value. A sample z_k of one example weighed against another's (x, y) would not.
    model = linear_gaussian()
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(6, 3, generator=g, dtype=torch.float64), torch.randn(6, 4, generator=g, dtype=torch.float64)
    exact = model.log_evidence(x, y)
    assert float(exact.max() - exact.min()) > 1.0   # the examples really differ
    mean, cov = model.posterior(x, y)
    for i in range(len(x)):                          # the batched posterior is each example's own
        one_mean, one_cov = model.posterior(x[i:i + 1], y[i:i + 1])
        assert torch.allclose(mean[i:i + 1], one_mean) and torch.allclose(cov, one_cov)
    model.q_mean, model.q_var = mean, cov.diagonal()
    torch.manual_seed(0)
    for k, chunk in ((3, 100), (3, 2), (7, 3)):      # one chunk, and chunks of unequal sizes
        assert torch.allclose(conditional_iw_log_likelihood(model, x, y, k=k, chunk=chunk), exact, atol=1e-9)


def test_linear_gaussian_needs_a_q_to_recognize():
    with pytest.raises(ValueError, match="q_mean"):
        linear_gaussian().recognize(torch.zeros(1, 3), torch.zeros(1, 4))


# ---------------------------------------------------------------- the models

def batch(n=6):
    torch.manual_seed(0)
    return torch.rand(n, 1, 28, 28), torch.randint(0, 10, (n,))


@pytest.mark.parametrize("name,options", [("cvae", {}), ("quadrant-baseline", {"given_quadrants": 2}),
                                          ("quadrant-cvae", {"given_quadrants": 1}),
                                          ("quadrant-hybrid", {"given_quadrants": 3})])
def test_registered_models_train_and_round_trip(name, options, tmp_path):
    model = build_model(name, latent_dim=4, likelihood="bernoulli", **options, hidden=16)
    metrics = model.loss(batch(), beta=1.0)
    assert {"loss", "neg_elbo", "rate", "distortion"} <= set(metrics)
    assert all(v.dim() == 0 and torch.isfinite(v) for v in metrics.values())
    metrics["loss"].backward()
    path = save_checkpoint(tmp_path / "m.pt", model)
    again, _ = load_model(path)
    assert type(again) is type(model) and again.config == model.config
    ll = model.iw_log_likelihood(batch(), 5)
    assert ll.shape == (6,) and bool((ll < 0).all())


def test_hybrid_loss_mixes_cvae_and_gsnn():
    torch.manual_seed(0)
    model = QuadrantHybrid(given_quadrants=1, latent_dim=3, hidden=16, alpha=0.25)
    images, _ = batch()
    torch.manual_seed(1)
    metrics = model.loss((images, None))
    metrics = {k: v.detach() for k, v in metrics.items()}
    assert math.isclose(float(metrics["loss"]), 0.25 * float(metrics["neg_elbo"]) + 0.75 * float(metrics["gsnn"]),
                        rel_tol=1e-5)
    assert "gsnn" not in QuadrantCVAE(latent_dim=3, hidden=16).loss((images, None))


def test_quadrant_models_score_only_the_missing_pixels():
    torch.manual_seed(0)
    model = QuadrantCVAE(given_quadrants=3, latent_dim=3, hidden=16)
    images, _ = batch(2)
    x, y = model.split(images)
    z = torch.randn(2, 3)
    changed = y.clone()
    changed[:, :, :14, :] = 1 - changed[:, :, :14, :]   # the top half is visible when 3 quadrants are given
    assert torch.allclose(model.log_likelihood(x, y, z), model.log_likelihood(x, changed, z))
    completions = model.complete(images, samples=3)
    assert completions.shape == (3, 2, 1, 28, 28)
    assert torch.equal(completions[:, :, :, :14], images[:, :, :14].expand(3, -1, -1, -1, -1))
    base = QuadrantBaseline(given_quadrants=1, hidden=16)
    assert torch.equal(base.complete(images)[:, :, 14:, :14], images[:, :, 14:, :14])


def test_bad_model_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="1, 2 or 3"):
        QuadrantCVAE(given_quadrants=4)
    with pytest.raises(ValueError, match="Bernoulli"):
        QuadrantBaseline(likelihood="gaussian")
    with pytest.raises(ValueError, match="alpha"):
        QuadrantHybrid(alpha=1.5)
    model = LabelCVAE(latent_dim=2, hidden=8)
    with pytest.raises(ValueError, match="labels must lie"):
        model.generate(torch.tensor([10]))
    with pytest.raises(ValueError, match="float condition"):
        model.generate(torch.zeros(2, 3))


def test_label_cvae_generates_each_digit_and_ignores_the_label_in_its_prior():
    torch.manual_seed(0)
    model = LabelCVAE(latent_dim=2, hidden=8)
    labels = torch.arange(10)
    assert model.generate(labels).shape == (10, 1, 28, 28)
    mu, log_var = model.prior(labels)
    assert torch.equal(mu, torch.zeros(10, 2)) and torch.equal(log_var, torch.zeros(10, 2))
    z = torch.randn(1, 2).expand(10, -1)
    assert torch.allclose(model.generate(labels, z), model.generate(torch.eye(10), z))


def test_evaluate_conditional_orders_the_bounds():
    from vaebook.conditional import evaluate_conditional
    from vaebook.data import TensorLoader

    torch.manual_seed(0)
    images, labels = batch(40)
    loader = TensorLoader((images, labels), batch_size=20, shuffle=False)
    model = QuadrantCVAE(given_quadrants=2, latent_dim=3, hidden=16)
    scores = evaluate_conditional(model, loader, iw_samples=50, elbo_samples=4)
    assert scores["iw_nll"] <= scores["neg_elbo"] + 0.5
    base = evaluate_conditional(QuadrantBaseline(given_quadrants=2, hidden=16), loader, iw_samples=1, elbo_samples=2)
    assert math.isclose(base["iw_nll"], base["neg_elbo"], rel_tol=1e-5)  # no latent: both are the exact NLL
    with pytest.raises(ValueError, match="elbo_samples"):
        evaluate_conditional(model, loader, elbo_samples=0)
