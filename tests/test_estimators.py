"""Tests for vaebook.estimators: the score-function and pathwise gradients are unbiased, the score is right,
and the variance helper behaves like 1/K."""

import math

import numpy as np
import pytest
import torch

from vaebook.distributions import log_normal_diag
from vaebook.estimators import (estimator_variance, gaussian_score, mean_agrees, pathwise_gradient,
                                score_function_gradient)

MU = torch.tensor([0.5, -1.0], dtype=torch.float64)
LOG_VAR = torch.tensor([0.0, -1.0], dtype=torch.float64)


def f(z):
    return torch.sin(z).sum(-1)


def analytic_gradient():
    """E[sin z] = sin μ · exp(−σ²/2) for z ~ N(μ, σ²), differentiated by hand."""
    var = torch.exp(LOG_VAR)
    return torch.cos(MU) * torch.exp(-var / 2), -0.5 * var * torch.sin(MU) * torch.exp(-var / 2)


def test_gaussian_score_matches_autograd():
    z = torch.tensor([0.3, 0.7], dtype=torch.float64)
    mu, log_var = MU.clone().requires_grad_(), LOG_VAR.clone().requires_grad_()
    expected = torch.autograd.grad(log_normal_diag(z, mu, log_var), (mu, log_var))
    for got, want in zip(gaussian_score(z, MU, LOG_VAR), expected):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize("estimator", [score_function_gradient, pathwise_gradient])
def test_estimators_are_unbiased(estimator):
    g = torch.Generator().manual_seed(0)
    repeats, k = 4000, 50
    g_mu, g_log_var = estimator(f, MU.expand(repeats, -1), LOG_VAR.expand(repeats, -1), k, g)
    for estimate, truth in zip((g_mu, g_log_var), analytic_gradient()):
        assert mean_agrees(estimate, truth)
    assert g_mu.shape == (repeats, 2)


def test_pathwise_gradient_of_a_linear_function_is_exact():
    """f(z) = a·z: ∇_μ E f = a exactly for every sample, ∇_{log σ²} E f = 0 only on average."""
    a = torch.tensor([2.0, -3.0], dtype=torch.float64)
    g_mu, _ = pathwise_gradient(lambda z: (z * a).sum(-1), MU, LOG_VAR, 1, torch.Generator().manual_seed(0))
    torch.testing.assert_close(g_mu, a)


def test_baseline_keeps_the_mean_and_lowers_the_variance():
    shifted = lambda z: f(z) + 10.0                                      # noqa: E731
    ks, repeats = [20], 2000
    plain = estimator_variance(score_function_gradient, shifted, MU, LOG_VAR, ks, repeats, torch.Generator().manual_seed(1))
    with_b = estimator_variance(lambda *a: score_function_gradient(*a, baseline=10.0), shifted, MU, LOG_VAR, ks,
                                repeats, torch.Generator().manual_seed(1))
    assert np.all(with_b["var_mu"] < plain["var_mu"])
    np.testing.assert_allclose(with_b["mean_mu"][0], analytic_gradient()[0].numpy(), atol=0.05)


def test_variance_falls_like_one_over_k():
    ks = [4, 16, 64]
    for estimator in (score_function_gradient, pathwise_gradient):
        out = estimator_variance(estimator, f, MU, LOG_VAR, ks, 1000, torch.Generator().manual_seed(2))
        slope = np.polyfit(np.log(ks), np.log(out["var_mu"].sum(1)), 1)[0]
        assert -1.2 < slope < -0.8
        assert out["var_mu"].shape == (3, 2)


def test_pathwise_gradient_passes_gradcheck():
    def objective(mu, log_var):
        g = torch.Generator().manual_seed(0)                    # the same ε on every call
        eps = torch.randn(30, 2, generator=g, dtype=torch.float64)
        return f(mu + torch.exp(0.5 * log_var) * eps).mean()

    assert torch.autograd.gradcheck(objective, (MU.clone().requires_grad_(), LOG_VAR.clone().requires_grad_()))


def test_bad_input():
    with pytest.raises(ValueError, match="at least 1"):
        pathwise_gradient(f, MU, LOG_VAR, 0)
    with pytest.raises(ValueError, match="shapes must match"):
        score_function_gradient(f, MU, LOG_VAR[:1], 3)
    with pytest.raises(ValueError, match="repeats"):
        estimator_variance(pathwise_gradient, f, MU, LOG_VAR, [1], 1)
    with pytest.raises(ValueError, match="one parameter vector"):
        estimator_variance(pathwise_gradient, f, MU.expand(2, -1), LOG_VAR.expand(2, -1), [1], 5)


def test_mean_agrees_accepts_the_true_mean_and_rejects_an_offset_of_ten_standard_errors():
    g = torch.Generator().manual_seed(0)
    samples = 3.0 + 2.0 * torch.randn(10_000, 4, generator=g, dtype=torch.float64)
    standard_error = 2.0 / math.sqrt(10_000)
    assert mean_agrees(samples, 3.0)
    assert mean_agrees(samples, torch.full((4,), 3.0))
    assert not mean_agrees(samples, 3.0 + 10 * standard_error)
    offset_in_one_column = torch.tensor([3.0, 3.0, 3.0 + 10 * standard_error, 3.0])
    assert not mean_agrees(samples, offset_in_one_column)        # every coordinate must agree
    assert mean_agrees(samples, 3.0 + 3 * standard_error, standard_errors=5)
    assert not mean_agrees(samples, 3.0 + 3 * standard_error, standard_errors=2)


def test_mean_agrees_pairs_samples_with_per_sample_expectations():
    """With one expected value per sample, the standard error is that of the differences, not of the samples."""
    g = torch.Generator().manual_seed(1)
    truth = 100 * torch.randn(5_000, generator=g, dtype=torch.float64)     # widely spread, known per sample
    estimates = truth + 0.01 * torch.randn(5_000, generator=g, dtype=torch.float64)
    assert mean_agrees(estimates, truth)
    assert not mean_agrees(estimates + 0.01, truth)      # 0.01 = 70 standard errors of the differences
    assert mean_agrees(estimates + 0.01, truth.mean())   # hidden by the spread of the samples themselves


def test_mean_agrees_rejects_unusable_samples():
    with pytest.raises(ValueError, match="at least 2 samples"):
        mean_agrees(torch.ones(1, 3), 1.0)
    with pytest.raises(ValueError, match="at least 2 samples"):
        mean_agrees(torch.tensor(1.0), 1.0)
    with pytest.raises(ValueError, match="NaN or infinity"):
        mean_agrees(torch.tensor([1.0, float("nan"), 1.0]), 1.0)
