"""Tests for vaebook.linear_gaussian: exact quantities against SciPy, Monte Carlo and the identities of chapter 4."""

import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from vaebook.distributions import log_standard_normal
from vaebook.linear_gaussian import (
    LinearGaussian,
    diag_cov,
    joint_gradient_ascent,
    log_normal_full,
    m_step,
    mean_field_q,
    ppca_maximum_likelihood,
    vb_em,
)


@pytest.fixture
def model_and_data():
    g = torch.Generator().manual_seed(0)
    model = LinearGaussian.random(4, 2, noise_var=0.5, generator=g)
    x, _ = model.sample(50, g)
    return model, x, g


def test_log_normal_full_matches_scipy():
    g = torch.Generator().manual_seed(1)
    a = torch.randn(3, 3, generator=g, dtype=torch.float64)
    cov, mean = a @ a.T + torch.eye(3, dtype=torch.float64), torch.randn(3, generator=g, dtype=torch.float64)
    x = torch.randn(7, 3, generator=g, dtype=torch.float64)
    expected = multivariate_normal(mean.numpy(), cov.numpy()).logpdf(x.numpy())
    np.testing.assert_allclose(log_normal_full(x, mean, cov).numpy(), expected, rtol=1e-12)


def test_shapes_and_bad_input(model_and_data):
    model, x, g = model_and_data
    assert x.shape == (50, 4)
    mean, cov = model.posterior(x)
    assert mean.shape == (50, 2) and cov.shape == (2, 2)
    assert model.log_marginal(x).shape == (50,)
    with pytest.raises(ValueError, match="noise_var"):
        LinearGaussian(torch.ones(3, 2), torch.zeros(3), -1.0)
    with pytest.raises(ValueError, match="W must be"):
        LinearGaussian(torch.ones(3, 2), torch.zeros(2), 1.0)
    with pytest.raises(ValueError, match="at least 1"):
        model.iw_bound(x, mean, cov, 0)
    with pytest.raises(ValueError, match="family"):
        vb_em(model, x, 1, family="diagonal")
    with pytest.raises(ValueError, match="latent_dim"):
        ppca_maximum_likelihood(x, 4)


def test_log_marginal_matches_scipy_and_monte_carlo(model_and_data):
    model, x, g = model_and_data
    with torch.no_grad():
        exact = model.log_marginal(x)
        scipy = multivariate_normal(model.b.numpy(), model.marginal_cov().numpy()).logpdf(x.numpy())
        np.testing.assert_allclose(exact.numpy(), scipy, rtol=1e-12)
        # p(x) = E_{p(z)}[p(x|z)], estimated with 200,000 prior samples
        z = torch.randn(100_000, 1, 2, generator=g, dtype=torch.float64)
        log_px_given_z = model.log_joint(x[:5], z) - log_standard_normal(z)
        mc = torch.logsumexp(log_px_given_z, 0) - math.log(100_000)
    np.testing.assert_allclose(mc.numpy(), exact[:5].numpy(), atol=0.03)


def test_posterior_is_bayes_rule(model_and_data):
    """log p(z|x) = log p(x,z) − log p(x) at arbitrary z."""
    model, x, g = model_and_data
    with torch.no_grad():
        mean, cov = model.posterior(x)
        z = torch.randn(50, 2, generator=g, dtype=torch.float64)
        lhs = log_normal_full(z, mean, cov)
        rhs = model.log_joint(x, z) - model.log_marginal(x)
    torch.testing.assert_close(lhs, rhs)


def test_elbo_gap_is_kl_and_closed_form_matches_monte_carlo(model_and_data):
    model, x, g = model_and_data
    with torch.no_grad():
        mu = torch.randn(50, 2, generator=g, dtype=torch.float64)
        cov = diag_cov(torch.randn(50, 2, generator=g, dtype=torch.float64))
        elbo, kl = model.elbo(x, mu, cov), model.kl_to_posterior(x, mu, cov)
        torch.testing.assert_close(model.log_marginal(x) - elbo, kl)
        assert bool((kl > 0).all())
        mean, post_cov = model.posterior(x)
        torch.testing.assert_close(model.elbo(x, mean, post_cov), model.log_marginal(x))
        # E_q[log p(x,z) − log q(z)] by Monte Carlo, 100,000 samples
        eps = torch.randn(20_000, 50, 2, generator=g, dtype=torch.float64)
        z = mu + cov.diagonal(dim1=-2, dim2=-1).sqrt() * eps
        integrand = model.log_joint(x, z) - log_normal_full(z, mu, cov)
        standard_error = integrand.std(0) / math.sqrt(20_000)
    assert bool(((integrand.mean(0) - elbo).abs() < 5 * standard_error).all())


def test_iw_bound_is_elbo_at_k1_rises_and_is_exact_for_the_posterior(model_and_data):
    model, x, g = model_and_data
    with torch.no_grad():
        mu, log_var = mean_field_q(model, x)
        cov = diag_cov(log_var + 1.0)                      # a deliberately poor q
        log_px = model.log_marginal(x).mean()
        bounds = [torch.stack([model.iw_bound(x, mu, cov, k, g).mean() for _ in range(20)]).mean() for k in (1, 10, 300)]
        assert abs(float(bounds[0] - model.elbo(x, mu, cov).mean())) < 0.05
        assert float(bounds[0]) < float(bounds[1]) < float(bounds[2]) < float(log_px) + 0.01
        mean, post_cov = model.posterior(x)
        torch.testing.assert_close(model.iw_bound(x, mean, post_cov, 3, g), model.log_marginal(x))


def test_mean_field_q_minimises_kl(model_and_data):
    model, x, _ = model_and_data
    with torch.no_grad():
        mu, log_var = mean_field_q(model, x)
    mu, log_var = mu.clone().requires_grad_(), log_var.clone().requires_grad_()
    kl = model.kl_to_posterior(x, mu, diag_cov(log_var)).sum()
    grads = torch.autograd.grad(kl, (mu, log_var))
    assert all(float(gr.abs().max()) < 1e-10 for gr in grads)


def test_m_step_is_a_stationary_point_and_vb_em_is_monotone(model_and_data):
    model, x, _ = model_and_data
    with torch.no_grad():
        mu, log_var = mean_field_q(model, x)
    new = m_step(x, mu, diag_cov(log_var))
    objective = new.elbo(x, mu, diag_cov(log_var)).sum()
    for grad in torch.autograd.grad(objective, list(new.parameters())):
        assert float(grad.abs().max()) < 1e-8
    history = vb_em(LinearGaussian.random(4, 2, 1.0, torch.Generator().manual_seed(3)), x, 20)
    assert np.all(np.diff(history["elbo"]) >= -1e-12)
    np.testing.assert_allclose(np.subtract(history["log_px"], history["elbo"]), history["kl"], atol=1e-10)
    full = vb_em(LinearGaussian.random(4, 2, 1.0, torch.Generator().manual_seed(3)), x, 20, family="full")
    assert np.all(np.diff(full["log_px"][1::2]) >= -1e-12)        # exact EM: log p(x) never decreases


def test_ppca_maximum_likelihood_beats_fitted_models(model_and_data):
    model, x, _ = model_and_data
    best = float(ppca_maximum_likelihood(x, 2).log_marginal(x).detach().mean())
    em = vb_em(LinearGaussian.random(4, 2, 1.0, torch.Generator().manual_seed(3)), x, 200, family="full")
    assert em["log_px"][-1] <= best + 1e-9
    assert best - em["log_px"][-1] < 1e-3


def test_joint_gradient_ascent_increases_the_elbo(model_and_data):
    model, x, _ = model_and_data
    history = joint_gradient_ascent(LinearGaussian.random(4, 2, 1.0, torch.Generator().manual_seed(3)), x, 100)
    assert history["elbo"][-1] > history["elbo"][0] + 1.0
    assert all(lp >= e - 1e-9 for lp, e in zip(history["log_px"], history["elbo"]))
