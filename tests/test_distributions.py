"""Log-densities against SciPy, closed-form KLs against Monte Carlo, reparameterized gradients
against finite differences, and the wrong formulas of course notes caught."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from vaebook.distributions import (
    kl_mvn,
    kl_normal_normal,
    kl_normal_std_normal,
    log_bernoulli_logits,
    log_normal_diag,
    log_standard_normal,
    reparameterize,
)


def test_log_normal_diag_matches_scipy(generator):
    x, mu, log_var = torch.randn(3, 4, 5, generator=generator, dtype=torch.float64)
    ours = log_normal_diag(x, mu, log_var)
    x_, mu_, var_ = x.numpy(), mu.numpy(), np.exp(log_var.numpy())
    reference = [stats.multivariate_normal(mu_[i], np.diag(var_[i])).logpdf(x_[i]) for i in range(4)]
    np.testing.assert_allclose(ours.numpy(), reference, rtol=1e-10)
    np.testing.assert_allclose(log_standard_normal(x).numpy(), stats.norm.logpdf(x).sum(-1), rtol=1e-10)


def test_log_bernoulli_by_hand():
    x = torch.tensor([[1.0, 0.0, 0.5]])
    logits = torch.tensor([[0.0, 2.0, -1.0]])
    p = torch.sigmoid(logits)
    by_hand = (x * torch.log(p) + (1 - x) * torch.log(1 - p)).sum()
    assert torch.allclose(log_bernoulli_logits(x, logits), by_hand.reshape(1))


def test_log_bernoulli_is_finite_where_sigmoid_saturates():
    x = torch.tensor([[1.0, 0.0]])
    logits = torch.tensor([[-200.0, 200.0]])  # sigmoid gives exactly 0 and 1 in float32
    value = log_bernoulli_logits(x, logits)
    assert torch.isfinite(value).all() and torch.allclose(value, torch.tensor([-400.0]))


@pytest.mark.parametrize("bad, message", [
    (torch.tensor([[1.5, 0.0]]), r"values in \[0, 1.5\]"),
    (torch.tensor([[-0.1, 0.5]]), r"values in \[-0.1, 0.5\]"),
    (torch.tensor([[float("nan"), 0.5]]), "contains NaN"),
])
def test_log_bernoulli_rejects_values_outside_unit_interval(bad, message):
    with pytest.raises(ValueError, match=message):
        log_bernoulli_logits(bad, torch.zeros_like(bad))


def test_log_bernoulli_rejects_integer_pixels_and_shape_mismatch():
    with pytest.raises(TypeError, match="floating-point"):
        log_bernoulli_logits(torch.ones(1, 3, dtype=torch.uint8), torch.zeros(1, 3))
    with pytest.raises(ValueError, match=r"shapes must match: x \(2, 3\), logits \(2, 4\)"):
        log_bernoulli_logits(torch.zeros(2, 3), torch.zeros(2, 4))


def monte_carlo_kl(mu_q, log_var_q, mu_p, log_var_p, n=400_000, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = mu_q + torch.exp(0.5 * log_var_q) * torch.randn(n, *mu_q.shape, generator=g, dtype=mu_q.dtype)
    diff = log_normal_diag(z, mu_q, log_var_q) - log_normal_diag(z, mu_p, log_var_p)
    return diff.mean(0), diff.std(0) / math.sqrt(n)


def test_kl_closed_forms_match_monte_carlo(generator):
    mu_q, log_var_q, mu_p, log_var_p = 0.7 * torch.randn(4, 3, generator=generator, dtype=torch.float64)
    estimate, stderr = monte_carlo_kl(mu_q, log_var_q, mu_p, log_var_p)
    assert abs(kl_normal_normal(mu_q, log_var_q, mu_p, log_var_p) - estimate) < 5 * stderr
    zero = torch.zeros(3, dtype=torch.float64)
    estimate, stderr = monte_carlo_kl(mu_q, log_var_q, zero, zero)
    assert abs(kl_normal_std_normal(mu_q, log_var_q) - estimate) < 5 * stderr


def test_kl_std_normal_by_hand():
    # KL(N(1, e) || N(0, 1)) in one dimension = ½ (e + 1 − 1 − 1) = (e − 1) / 2
    assert torch.isclose(kl_normal_std_normal(torch.tensor([1.0]), torch.tensor([1.0])), torch.tensor((math.e - 1) / 2))
    assert kl_normal_std_normal(torch.zeros(2, 5), torch.zeros(2, 5)).abs().max() == 0


def test_kl_mvn_matches_diagonal_and_is_asymmetric(generator):
    mu0, mu1, lv0, lv1 = torch.randn(4, 3, generator=generator, dtype=torch.float64)
    diagonal = kl_mvn(mu0, torch.diag(lv0.exp()), mu1, torch.diag(lv1.exp()))
    assert torch.isclose(diagonal, kl_normal_normal(mu0, lv0, mu1, lv1))
    a = torch.randn(3, 3, generator=generator, dtype=torch.float64)
    cov = a @ a.T + 0.5 * torch.eye(3, dtype=torch.float64)
    eye = torch.eye(3, dtype=torch.float64)
    assert not torch.isclose(kl_mvn(mu0, cov, mu1, eye), kl_mvn(mu1, eye, mu0, cov))
    assert kl_mvn(mu0, cov, mu0, cov).abs() < 1e-10


def test_reparameterized_sample_has_the_right_moments():
    mu, log_var = torch.tensor([1.0, -2.0]), torch.tensor([0.0, math.log(4.0)])
    z = reparameterize(mu.expand(200_000, 2), log_var.expand(200_000, 2), torch.Generator().manual_seed(0))
    assert torch.allclose(z.mean(0), mu, atol=0.02)
    assert torch.allclose(z.std(0), torch.tensor([1.0, 2.0]), atol=0.02)


def test_reparameterized_gradient_matches_finite_differences():
    """d/dθ E[z²] with z = μ + σε is (2μ, σ² in log-variance terms): gradcheck on a fixed ε."""
    eps = torch.randn(1000, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)

    def objective(mu, log_var):
        z = mu + torch.exp(0.5 * log_var) * eps
        return (z**2).mean(0)

    mu = torch.tensor([0.3, -1.0], dtype=torch.float64, requires_grad=True)
    log_var = torch.tensor([0.1, -0.5], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(objective, (mu, log_var))


def test_wrong_kl_formulas_of_course_notes_are_caught(generator):
    mu, log_var = torch.randn(2, 6, generator=generator, dtype=torch.float64)
    zero = torch.zeros(6, dtype=torch.float64)
    estimate, stderr = monte_carlo_kl(mu, log_var, zero, zero)
    right = kl_normal_std_normal(mu, log_var)
    wrong = {
        "no 1/2": (log_var.exp() + mu**2 - 1 - log_var).sum(),
        "no -1": 0.5 * (log_var.exp() + mu**2 - log_var).sum(),
        "log sigma for log sigma^2": 0.5 * (log_var.exp() + mu**2 - 1 - 0.5 * log_var).sum(),
    }
    assert abs(right - estimate) < 5 * stderr
    for name, value in wrong.items():
        assert abs(value - estimate) > 5 * stderr, name


def test_wrong_reparameterizations_are_caught():
    mu, log_var = torch.tensor([0.5]), torch.tensor([math.log(0.25)])
    eps = torch.randn(100_000, 1, generator=torch.Generator().manual_seed(0))
    right = mu + torch.exp(0.5 * log_var) * eps
    additive = mu + torch.exp(0.5 * log_var) + eps            # z = μ + σ + ε
    power = mu + torch.exp(0.5 ** log_var) * eps              # exp(0.5 ** log_var)
    assert abs(right.std() - 0.5) < 0.01 and abs(right.mean() - 0.5) < 0.01
    assert abs(additive.mean() - 0.5) > 0.4
    assert abs(power.std() - 0.5) > 0.1
