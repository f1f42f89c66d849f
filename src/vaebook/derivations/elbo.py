"""SymPy derivations for the ELBO and the gradient estimators (chapters 4 and 6), in one dimension.

Gaussian expectations of polynomials are computed exactly from the moments of a
standard normal, E[ε^k] = (k−1)!! for even k and 0 for odd k, after substituting
z = m + s·ε. That is exact and takes milliseconds, where symbolic integration
takes seconds.
"""

from __future__ import annotations

import sympy as sp

z, x, b, w, m, mu, v = sp.symbols("z x b w m mu v", real=True)
s, sigma = sp.symbols("s sigma", positive=True)
eps = sp.Symbol("epsilon", real=True)


def normal_log_density(value, mean, var) -> sp.Expr:
    """log N(value; mean, var), expanded."""
    return -sp.log(2 * sp.pi * var) / 2 - (value - mean) ** 2 / (2 * var)


def gaussian_expectation(expr, variable, mean, std) -> sp.Expr:
    """E[expr] for variable ~ N(mean, std²), exactly, when expr is a polynomial in the variable."""
    poly = sp.Poly(sp.expand(expr.subs(variable, mean + std * eps)), eps)
    total = 0
    for (k,), coeff in poly.terms():
        if k % 2 == 0:
            total += coeff * sp.factorial2(k - 1)
    return sp.expand(total)


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
    """Exact variances, at K = 1, of the score-function and pathwise estimators of ∂/∂μ and ∂/∂v of E[f(z)]."""
    std = sp.exp(v / 2)
    _, grad_mu, grad_v = expectation_and_gradient(f)
    score_mu, score_v = (z - mu) / std**2, ((z - mu) ** 2 / std**2 - 1) / 2
    df = sp.diff(f, z)
    pathwise_mu, pathwise_v = df, df * (z - mu) / 2        # dz/dv = ½ σ ε = ½ (z − μ)
    variance = lambda estimate, mean: sp.expand(gaussian_expectation(estimate**2, z, mu, std) - mean**2)  # noqa: E731
    return {
        "score, mu": variance(f * score_mu, grad_mu),
        "score, log_var": variance(f * score_v, grad_v),
        "pathwise, mu": variance(pathwise_mu, grad_mu),
        "pathwise, log_var": variance(pathwise_v, grad_v),
    }
