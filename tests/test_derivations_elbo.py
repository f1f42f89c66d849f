"""vaebook.derivations.elbo against independent answers: SymPy integration, moments worked by hand, Monte Carlo,
and the package's estimators; and the wrong formulas the checks must reject."""

import math

import pytest
import sympy as sp
import torch

from vaebook.derivations import elbo as d
from vaebook.estimators import pathwise_gradient, score_function_gradient, variance_standard_error

MU = torch.tensor([0.5, -1.0], dtype=torch.float64)       # chapter 6's parameters
LOG_VAR = torch.tensor([0.0, -1.0], dtype=torch.float64)
POINT = ([sp.Rational(1, 2), sp.Integer(-1)], [sp.Integer(0), sp.Integer(-1)])   # the same, exactly
DOUBLE_WELL = (d.z**2 - 1) ** 2


def at(expr, i: int) -> float:
    """A one-coordinate expression in mu and v at chapter 6's coordinate i."""
    return float(expr.subs({d.mu: POINT[0][i], d.v: POINT[1][i]}))


def within(measured, exact, standard_error, n_se: float = 5.0) -> bool:
    return abs(float(measured) - float(exact)) < n_se * float(standard_error)


def test_gaussian_expectation_matches_integration():
    m, s = sp.Symbol("m", real=True), sp.Symbol("s", positive=True)
    density = sp.exp(-(d.z - m) ** 2 / (2 * s**2)) / sp.sqrt(2 * sp.pi * s**2)
    for expr in (d.z**4, d.z**3 - 2 * d.z + 1):
        integral = sp.integrate(sp.expand(expr) * density, (d.z, -sp.oo, sp.oo))
        assert sp.simplify(integral - d.gaussian_expectation(expr, d.z, m, s)) == 0
    assert sp.simplify(d.gaussian_expectation(d.z**4, d.z, m, s) - (m**4 + 6 * m**2 * s**2 + 3 * s**4)) == 0


def test_gaussian_expectation_nd_of_independent_variables():
    z1, z2, m1, m2 = sp.symbols("z1 z2 m1 m2", real=True)
    s1, s2 = sp.symbols("s1 s2", positive=True)
    got = d.gaussian_expectation_nd(z1**2 * z2**2 + z1 * z2, [z1, z2], [m1, m2], [s1, s2])
    assert sp.simplify(got - ((m1**2 + s1**2) * (m2**2 + s2**2) + m1 * m2)) == 0
    one = d.gaussian_expectation_nd(DOUBLE_WELL, [d.z], [d.mu], [sp.exp(d.v / 2)])
    assert sp.simplify(one - d.gaussian_expectation(DOUBLE_WELL, d.z, d.mu, sp.exp(d.v / 2))) == 0
    with pytest.raises(ValueError, match="variables"):
        d.gaussian_expectation_nd(z1, [z1, z2], [m1], [s1])


def test_bayes_rule_residual_is_zero_and_a_wrong_posterior_is_not():
    assert d.bayes_rule_residual() == 0
    marginal_var = d.w**2 + d.sigma**2
    wrong = (d.normal_log_density(d.z, 0, 1) + d.normal_log_density(d.x, d.w * d.z + d.b, d.sigma**2)
             - d.normal_log_density(d.x, d.b, marginal_var)
             - d.normal_log_density(d.z, d.w * (d.x - d.b) / marginal_var, 1 / marginal_var))   # σ² missing
    assert sp.simplify(sp.expand(sp.expand_log(wrong, force=True))) != 0


def test_expected_log_likelihood_matches_monte_carlo():
    values = {d.x: 0.7, d.w: 1.5, d.b: -0.2, d.sigma: 0.8, d.m: 0.3, d.s: 0.6}
    exact = float(d.expected_log_likelihood_1d().subs(values))
    g = torch.Generator().manual_seed(0)
    z = values[d.m] + values[d.s] * torch.randn(200_000, generator=g, dtype=torch.float64)
    samples = torch.distributions.Normal(values[d.w] * z + values[d.b], values[d.sigma]).log_prob(
        torch.tensor(values[d.x], dtype=torch.float64))
    assert within(samples.mean(), exact, samples.std() / math.sqrt(len(samples)))


def test_expectation_and_gradient_match_finite_differences_and_monte_carlo():
    expectation, grad_mu, grad_v = d.expectation_and_gradient(DOUBLE_WELL)
    h = sp.Rational(1, 10**6)
    for i in range(2):
        point = {d.mu: POINT[0][i], d.v: POINT[1][i]}
        shifted = lambda **step: float(expectation.subs({d.mu: point[d.mu] + step.get("mu", 0),  # noqa: E731
                                                         d.v: point[d.v] + step.get("v", 0)}))
        assert math.isclose((shifted(mu=h) - shifted(mu=-h)) / (2 * h), at(grad_mu, i), rel_tol=1e-6)
        assert math.isclose((shifted(v=h) - shifted(v=-h)) / (2 * h), at(grad_v, i), rel_tol=1e-6)
    g = torch.Generator().manual_seed(1)
    z = MU + torch.exp(0.5 * LOG_VAR) * torch.randn(200_000, 2, generator=g, dtype=torch.float64)
    values = (z**2 - 1) ** 2
    for i in range(2):
        assert within(values[:, i].mean(), at(expectation, i), values[:, i].std() / math.sqrt(len(values)))


def test_single_sample_variances_of_z_squared_as_worked_by_hand():
    """Chapter 6's exercise: for f = z², the score-function variance for μ is μ⁴/σ² + 14μ² + 15σ², not + 10μ²."""
    variances = d.single_sample_variances(d.z**2)
    sigma2 = sp.exp(d.v)
    assert sp.simplify(variances["score, mu"] - (d.mu**4 / sigma2 + 14 * d.mu**2 + 15 * sigma2)) == 0
    assert sp.simplify(variances["pathwise, mu"] - 4 * sigma2) == 0
    wrong = d.mu**4 / sigma2 + 10 * d.mu**2 + 15 * sigma2
    assert sp.simplify(variances["score, mu"] - wrong) != 0
    # and Monte Carlo tells them apart: at μ = 2, σ = 1 they differ by 4μ² = 16
    g = torch.Generator().manual_seed(2)
    z = 2.0 + torch.randn(1_000_000, 1, generator=g, dtype=torch.float64)
    terms = z**2 * (z - 2.0)
    measured, se = terms.var(0), variance_standard_error(terms)
    assert within(measured, float(variances["score, mu"].subs({d.mu: 2, d.v: 0})), se)
    assert not within(measured, float(wrong.subs({d.mu: 2, d.v: 0})), se)


def test_central_moments_in_one_variable_agree_with_single_sample_variances():
    moments = d.single_sample_central_moments(DOUBLE_WELL, [d.z], [d.mu], [d.v])
    for name, variance in d.single_sample_variances(DOUBLE_WELL).items():
        assert sp.simplify(moments[name][0] - variance) == 0, name


def test_fourth_central_moments_of_the_score_worked_by_hand():
    """f = 1: the terms are the score itself, ε/σ and (ε² − 1)/2, with E[ε⁴] = 3, E[ε⁶] = 15, E[ε⁸] = 105."""
    fourth = d.single_sample_central_moments(sp.Integer(1), [d.z], [d.mu], [d.v], order=4)
    assert sp.simplify(fourth["score, mu"][0] - 3 * sp.exp(-2 * d.v)) == 0
    assert fourth["score, log_var"][0] == sp.Rational(105 - 4 * 15 + 6 * 3 - 4 + 1, 16)


def _measured_single_sample_variances(n: int, seed: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The package's estimators at K = 1 on f(z) = Σ_j (z_j² − 1)², run n times: (variance, its standard error)."""
    f = lambda z: ((z**2 - 1) ** 2).sum(-1)                    # noqa: E731
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, estimator in (("score", score_function_gradient), ("pathwise", pathwise_gradient)):
        for param, estimates in zip(("mu", "log_var"), estimator(f, MU.expand(n, -1), LOG_VAR.expand(n, -1), 1, g)):
            out[f"{name}, {param}"] = estimates.var(0), variance_standard_error(estimates)
    return out


def test_variances_of_the_summed_function_match_the_estimators_and_the_one_coordinate_formula_is_rejected():
    """Chapter 6's table: the estimators run on the whole Σ_j f(z_j), so coordinate i's score-function term
    carries every f(z_j). The two-variable moments match the measurement; f(z_i)·score_i alone does not."""
    z1, z2 = sp.symbols("z1 z2", real=True)
    summed = DOUBLE_WELL.subs(d.z, z1) + DOUBLE_WELL.subs(d.z, z2)
    exact = d.single_sample_central_moments(summed, [z1, z2], *POINT)
    one_coordinate = d.single_sample_variances(DOUBLE_WELL)
    measured = _measured_single_sample_variances(400_000, seed=3)
    rejected = []
    for name, (variance, se) in measured.items():
        for i in range(2):
            assert within(variance[i], exact[name][i], se[i]), (name, i)
            rejected.append(not within(variance[i], at(one_coordinate[name], i), se[i]))
            if name.startswith("pathwise"):      # ∂f/∂z_i depends on z_i alone: there the two agree exactly
                assert sp.simplify(exact[name][i] - one_coordinate[name].subs(
                    {d.mu: POINT[0][i], d.v: POINT[1][i]})) == 0
    assert any(rejected)
    assert float(exact["score, mu"][1]) > 1.5 * at(one_coordinate["score, mu"], 1)


def test_standard_error_of_a_variance_for_a_normal_term_and_against_repeated_measurements():
    """√((m₄ − σ⁴(n − 3)/(n − 1))/n) is σ²√(2/(n − 1)) for a normal term (m₄ = 3σ⁴), and it is the spread of
    sample variances measured again and again; variance_standard_error estimates it from one sample."""
    n, sigma2 = sp.Symbol("n", positive=True), sp.Symbol("sigma2", positive=True)
    for size in (10, 1000):
        got = d.sample_variance_standard_error(sigma2, 3 * sigma2**2, size)
        assert sp.simplify(got - sigma2 * sp.sqrt(sp.Rational(2, size - 1))) == 0
    with pytest.raises(ValueError, match="at least 4"):
        d.sample_variance_standard_error(sigma2, 3 * sigma2**2, 3)
    # f = z² at μ = 1, σ = 1: the score-function term z²(z − 1), skewed and heavy-tailed
    variance = d.single_sample_central_moments(d.z**2, [d.z], [sp.Integer(1)], [sp.Integer(0)])["score, mu"][0]
    fourth = d.single_sample_central_moments(d.z**2, [d.z], [sp.Integer(1)], [sp.Integer(0)], order=4)["score, mu"][0]
    size, repeats = 2_000, 1_000
    exact_se = float(d.sample_variance_standard_error(variance, fourth, size))
    z = 1.0 + torch.randn(repeats, size, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    terms = z**2 * (z - 1.0)
    spread = float(terms.var(1).std())                  # the standard error, measured by repeating the measurement
    assert math.isclose(spread, exact_se, rel_tol=0.15)
    assert not math.isclose(spread, float(variance) * math.sqrt(2 / (size - 1)), rel_tol=0.15)  # not normal
    sampled_se = variance_standard_error(terms.T)                  # one estimate per measurement
    assert math.isclose(float(sampled_se.median()), exact_se, rel_tol=0.3)
    with pytest.raises(ValueError, match="at least 4"):
        variance_standard_error(torch.zeros(3, 1))
