"""SymPy-derived KLs against the torch implementations, Monte Carlo, and the wrong formulas they must reject."""

import math

import numpy as np
import pytest
import sympy as sp
import torch
from scipy.stats import norm

from vaebook.derivations import kl
from vaebook.distributions import kl_mvn, kl_normal_normal, kl_normal_std_normal, reparameterize


def test_1d_gaussian_kl_matches_textbook_form_and_torch():
    expr, (m1, s1, m2, s2) = kl.kl_gaussians_1d()
    textbook = sp.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - sp.Rational(1, 2)
    assert sp.simplify(sp.expand_log(expr - textbook, force=True)) == 0
    f = sp.lambdify((m1, s1, m2, s2), expr, "numpy")
    g = torch.Generator().manual_seed(0)
    p = torch.randn(4, 20, generator=g, dtype=torch.float64)
    lv1, lv2 = p[1], p[3]
    ours = f(p[0].numpy(), np.exp(0.5 * lv1.numpy()), p[2].numpy(), np.exp(0.5 * lv2.numpy()))
    torch_kl = kl_normal_normal(p[0, :, None], lv1[:, None], p[2, :, None], lv2[:, None])
    np.testing.assert_allclose(ours, torch_kl.numpy(), rtol=1e-10)


@pytest.mark.parametrize("d", [1, 2])
def test_diag_std_normal_matches_torch_and_monte_carlo(d):
    expr, mus, lvs = kl.kl_diag_std_normal(d)
    f = sp.lambdify((*mus, *lvs), expr, "numpy")
    g = torch.Generator().manual_seed(d)
    mu, lv = torch.randn(d, generator=g, dtype=torch.float64), torch.randn(d, generator=g, dtype=torch.float64)
    value = f(*mu.numpy(), *lv.numpy())
    assert math.isclose(value, float(kl_normal_std_normal(mu, lv)), rel_tol=1e-12)
    estimate, stderr = kl.monte_carlo_kl(mu, lv, n=200_000)
    assert abs(float(estimate.sum()) - value) < 5 * float(stderr.pow(2).sum().sqrt())


def test_reverse_kl_matches_torch():
    expr, (mu,), (v,) = kl.kl_std_normal_mvn(1)
    f = sp.lambdify((mu, v), expr, "numpy")
    for m, lv in [(0.3, -1.0), (-2.0, 1.5)]:
        t = torch.tensor([[m]], dtype=torch.float64), torch.tensor([[lv]], dtype=torch.float64)
        ref = kl_normal_normal(torch.zeros_like(t[0]), torch.zeros_like(t[1]), *t)
        assert math.isclose(f(m, lv), float(ref), rel_tol=1e-12)


def test_mvn_formula_symbolic_and_against_torch():
    assert kl.check_mvn_formula(1) and kl.check_mvn_formula(2)
    expr, s = kl.kl_mvn_by_integration(2)
    values = {sym: val for sym, val in zip(list(s["mu0"]) + list(s["mu1"]), [0.1, -0.4, 1.0, 0.5])}
    values.update({s["L"][0, 0]: 1.2, s["L"][1, 0]: 0.3, s["L"][1, 1]: 0.7})
    values.update({s["S1"][0, 0]: 2.0, s["S1"][0, 1]: 0.4, s["S1"][1, 1]: 1.1})
    lower = torch.tensor([[1.2, 0.0], [0.3, 0.7]], dtype=torch.float64)
    ref = kl_mvn(torch.tensor([0.1, -0.4], dtype=torch.float64), lower @ lower.T,
                 torch.tensor([1.0, 0.5], dtype=torch.float64),
                 torch.tensor([[2.0, 0.4], [0.4, 1.1]], dtype=torch.float64))
    assert math.isclose(float(expr.subs(values)), float(ref), rel_tol=1e-12)


def test_formula_check_accepts_right_rejects_wrong():
    assert kl.kl_formula_passes(kl_normal_std_normal)
    wrong = [
        lambda mu, lv: (torch.exp(lv) + mu**2 - 1 - lv).sum(-1),
        lambda mu, lv: 0.5 * (torch.exp(lv) + mu**2 - lv).sum(-1),
        lambda mu, lv: 0.5 * (torch.exp(lv) + mu**2 - 1 - 0.5 * lv).sum(-1),
        lambda mu, lv: 0.5 * (torch.exp(lv) + mu**2 - 1 - lv),
    ]
    assert not any(kl.kl_formula_passes(f) for f in wrong)


def test_mean_instead_of_sum_hides_in_one_dimension():
    """Chapter 5's exercise: with d = 1 the mean over coordinates is the sum, so only d >= 2 catches it."""
    def kl_not_summed(mu, lv):
        return 0.5 * (torch.exp(lv) + mu**2 - 1 - lv).mean(-1)
    assert kl.kl_formula_passes(kl_not_summed, d=1)
    assert not kl.kl_formula_passes(kl_not_summed, d=2)


def test_sampler_check():
    assert kl.sampler_passes(lambda mu, lv, eps: mu + torch.exp(0.5 * lv) * eps)
    assert not kl.sampler_passes(lambda mu, lv, eps: mu + torch.exp(0.5 * lv) + eps)
    assert not kl.sampler_passes(lambda mu, lv, eps: mu + torch.exp(0.5 ** lv) * eps)
    assert not kl.sampler_passes(lambda mu, lv, eps: mu + torch.exp(lv) * eps)
    assert not kl.sampler_passes(lambda mu, lv, eps: (mu + torch.exp(0.5 * lv) * eps).detach())
    assert not kl.sampler_passes(lambda mu, lv, eps: mu + torch.exp(0.5 * lv).detach() * eps)   # right draws, no σ gradient
    assert not kl.sampler_passes(lambda mu, lv, eps: mu.detach() + torch.exp(0.5 * lv) * eps)   # right draws, no μ gradient


def test_package_reparameterize_passes_the_sampler_check():
    """The package's own sampler, not a retyped formula: it draws its own noise from a seeded generator."""
    def package_sampler(mu, lv, eps):
        return reparameterize(mu.expand(eps.shape), lv.expand(eps.shape), torch.Generator().manual_seed(0))
    assert kl.sampler_passes(package_sampler)

    def scale_is_variance(mu, lv, eps):       # the same call with log σ² doubled: σ² used as the scale
        return reparameterize(mu.expand(eps.shape), 2 * lv.expand(eps.shape), torch.Generator().manual_seed(0))
    assert not kl.sampler_passes(scale_is_variance)


def test_forward_and_reverse_fits():
    def log_target(x):
        return np.logaddexp(norm.logpdf(x, -2, 0.5), norm.logpdf(x, 2, 0.5)) - math.log(2)
    grid = np.linspace(-8, 8, 4001)
    m, s = kl.fit_gaussian_kl(log_target, "forward", (0.5, 1.0), grid)
    assert abs(m) < 1e-3 and abs(s - math.sqrt(4 + 0.25)) < 1e-3     # moment matching
    m, s = kl.fit_gaussian_kl(log_target, "reverse", (1.0, 1.0), grid)
    assert abs(m - 2) < 1e-2 and abs(s - 0.5) < 1e-2                   # one mode
    with pytest.raises(ValueError, match="direction"):
        kl.fit_gaussian_kl(log_target, "both", (0, 1), grid)


def test_bad_dimension():
    for f in (kl.kl_diag_std_normal, kl.kl_mvn_by_integration, kl.kl_std_normal_mvn):
        with pytest.raises(ValueError, match="positive integer"):
            f(0)
