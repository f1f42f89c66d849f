"""SymPy derivations for the ELBO and the gradient estimators (chapters 4 and 6), in one dimension, and for the
estimators' variances also over several independent coordinates.

Gaussian expectations of polynomials are computed exactly from the moments of a
standard normal, E[ε^k] = (k−1)!! for even k and 0 for odd k, after substituting
z = m + s·ε. That is exact and takes milliseconds, where symbolic integration
takes seconds.
"""

from __future__ import annotations

import sympy as sp

z, x, b, w, m, mu, v = sp.symbols("z x b w m mu v", real=True)
s, sigma = sp.symbols("s sigma", positive=True)


def normal_log_density(value, mean, var) -> sp.Expr:
    """log N(value; mean, var), expanded."""
    return -sp.log(2 * sp.pi * var) / 2 - (value - mean) ** 2 / (2 * var)


def gaussian_expectation(expr, variable, mean, std) -> sp.Expr:
    """E[expr] for variable ~ N(mean, std²), exactly, when expr is a polynomial in the variable."""
    return gaussian_expectation_nd(expr, [variable], [mean], [std])


def bayes_rule_residual() -> sp.Expr:
    """log p(z) + log p(x|z) − log p(x) − log p(z|x) for the 1-D linear-Gaussian model with the claimed
    marginal N(b, w² + σ²) and posterior N(w(x − b)/(w² + σ²), σ²/(w² + σ²)). Zero for every z iff both are right."""
    marginal_var = w**2 + sigma**2
    post_mean, post_var = w * (x - b) / marginal_var, sigma**2 / marginal_var
    residual = (normal_log_density(z, 0, 1) + normal_log_density(x, w * z + b, sigma**2)
                - normal_log_density(x, b, marginal_var) - normal_log_density(z, post_mean, post_var))
    return sp.simplify(sp.expand(sp.expand_log(residual, force=True)))


def expected_log_likelihood_1d() -> sp.Expr:
    """E_{N(z; m, s²)}[log N(x; wz + b, σ²)]: the reconstruction term of the 1-D linear-Gaussian ELBO."""
    return gaussian_expectation(normal_log_density(x, w * z + b, sigma**2), z, m, s)


def expectation_and_gradient(f) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """E_{N(μ, e^v)}[f(z)] for a polynomial f, and its derivatives with respect to μ and v = log σ²."""
    expectation = gaussian_expectation(f, z, mu, sp.exp(v / 2))
    return expectation, sp.expand(sp.diff(expectation, mu)), sp.expand(sp.diff(expectation, v))


def single_sample_variances(f) -> dict[str, sp.Expr]:
    """Exact variances, at K = 1, of the score-function and pathwise estimators of ∂/∂μ and ∂/∂v of E[f(z)], for f a
    polynomial in the one variable z; the mean subtracted is the exact gradient. For an f of several variables, see
    :func:`single_sample_central_moments`."""
    _, grad_mu, grad_v = expectation_and_gradient(f)
    gradient = {"mu": grad_mu, "log_var": grad_v}
    return {name: sp.expand(gaussian_expectation(term**2, z, mu, sp.exp(v / 2)) - gradient[name.split(", ")[1]] ** 2)
            for name, (term,) in single_sample_terms(f, [z], [mu], [v]).items()}


def _standard_normal_moments(poly: sp.Poly) -> sp.Expr:
    """E[poly] for independent ε_i ~ N(0, 1), poly a Poly in the ε_i: E[ε^k] = (k−1)!! for even k, 0 for odd k."""
    total = sp.Integer(0)
    for powers, coeff in poly.terms():
        if all(k % 2 == 0 for k in powers):
            term = coeff
            for k in powers:
                term *= sp.factorial2(k - 1)
            total += term
    return sp.expand(total)


def _in_standard_normals(expr, variables, means, stds) -> sp.Poly:
    """expr after z_i = mean_i + std_i·ε_i, as a Poly in fresh standard normal symbols ε_i."""
    noise = [sp.Dummy(f"epsilon_{i}", real=True) for i in range(len(variables))]
    substitution = {zi: mi + si * ei for zi, mi, si, ei in zip(variables, means, stds, noise)}
    return sp.Poly(sp.expand(sp.sympify(expr).subs(substitution, simultaneous=True)), *noise)


def gaussian_expectation_nd(expr, variables, means, stds) -> sp.Expr:
    """E[expr] for independent variables[i] ~ N(means[i], stds[i]²), exactly, when expr is a polynomial in them."""
    if not len(variables) == len(means) == len(stds):
        raise ValueError(f"{len(variables)} variables, {len(means)} means and {len(stds)} standard deviations")
    return _standard_normal_moments(_in_standard_normals(expr, variables, means, stds))


def single_sample_terms(f, variables, means, log_vars) -> dict[str, list[sp.Expr]]:
    """The one-sample (K = 1) terms of the estimators of ∂/∂μ_i and ∂/∂v_i (v_i = log σ_i²) of E[f(z)],
    z ~ N(means, diag exp(log_vars)), one per coordinate i, for f a polynomial in all the variables:
    score function f(z)·∂log q/∂φ_i, pathwise ∂f/∂z_i and ∂f/∂z_i·(z_i − μ_i)/2 (dz_i/dv_i = ½σ_iε_i = ½(z_i − μ_i))."""
    terms: dict[str, list[sp.Expr]] = {"score, mu": [], "score, log_var": [], "pathwise, mu": [], "pathwise, log_var": []}
    for zi, mi, vi in zip(variables, means, log_vars):
        df = sp.diff(f, zi)
        terms["score, mu"].append(f * (zi - mi) * sp.exp(-vi))
        terms["score, log_var"].append(f * ((zi - mi) ** 2 * sp.exp(-vi) - 1) / 2)
        terms["pathwise, mu"].append(df)
        terms["pathwise, log_var"].append(df * (zi - mi) / 2)
    return terms


def single_sample_central_moments(f, variables, means, log_vars, order: int = 2) -> dict[str, list[sp.Expr]]:
    """Exact central moments E[(t − E t)^order] of the one-sample terms t of :func:`single_sample_terms`, per
    coordinate: order 2 gives the variances at K = 1 of the estimators as actually run on the whole f, order 4
    what the standard error of a measured variance needs. Unlike :func:`single_sample_variances` the mean E t is
    computed, not taken from the gradient, so the result does not assume the estimators are unbiased."""
    stds = [sp.exp(vi / 2) for vi in log_vars]
    out: dict[str, list[sp.Expr]] = {}
    for name, terms in single_sample_terms(f, variables, means, log_vars).items():
        out[name] = []
        for term in terms:
            poly = _in_standard_normals(term, variables, means, stds)
            centred = poly - _standard_normal_moments(poly)
            out[name].append(_standard_normal_moments(centred**order))
    return out


def sample_variance_standard_error(variance, fourth_central_moment, n: int) -> sp.Expr:
    """Standard deviation of the sample variance (divisor n − 1) of n independent copies of a term with the given
    variance σ² and fourth central moment m₄: √((m₄ − σ⁴(n − 3)/(n − 1))/n); σ²√(2/(n − 1)) for a normal term."""
    if n < 4:
        raise ValueError(f"a standard error of a variance needs at least 4 samples, got {n}")
    return sp.sqrt((fourth_central_moment - variance**2 * sp.Rational(n - 3, n - 1)) / n)
