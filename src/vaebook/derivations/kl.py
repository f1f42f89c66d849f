"""KL divergences between Gaussians, derived with SymPy by integration (never typed in).

Each ``kl_*`` function builds KL(p || q) = ∫ p(x) [log p(x) − log q(x)] dx symbolically
and returns the simplified expression with the symbols it uses. The integrals are taken
after the change of variables x = μ + L ε with ε ~ N(0, I), so that SymPy only integrates
polynomials against standard normal densities: exact, and a few seconds at most.
The module also holds the checks the book applies to candidate formulas and samplers.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import sympy as sp
import torch

from vaebook.distributions import kl_normal_std_normal, log_normal_diag


def _std_normal_moment(k: int) -> sp.Expr:
    """E[ε^k] for ε ~ N(0, 1), by integrating ε^k φ(ε) over the real line."""
    e = sp.Symbol("e", real=True)
    return sp.integrate(e**k * sp.exp(-e**2 / 2) / sp.sqrt(2 * sp.pi), (e, -sp.oo, sp.oo), conds="none")


def _std_normal_expectation(expr: sp.Expr, eps: list[sp.Symbol]) -> sp.Expr:
    """E[expr] for independent ε_i ~ N(0, 1), expr a polynomial in the ε_i.

    The integral over R^d of expr · Π φ(ε_i) is split, by linearity and Fubini, into one
    one-dimensional integral E[ε^k] per power k: the same integral, taken monomial by monomial.
    """
    poly = sp.Poly(sp.expand(expr), *eps)
    moments: dict[int, sp.Expr] = {}
    total = sp.Integer(0)
    for powers, coefficient in poly.terms():
        term = coefficient
        for k in powers:
            if k not in moments:
                moments[k] = _std_normal_moment(k)
            term *= moments[k]
        total += term
    return total


def log_normal_1d(x: sp.Expr, mu: sp.Expr, sigma: sp.Expr) -> sp.Expr:
    """log N(x; μ, σ²) as a SymPy expression."""
    return -sp.log(sigma) - sp.log(2 * sp.pi) / 2 - (x - mu) ** 2 / (2 * sigma**2)


def kl_gaussians_1d() -> tuple[sp.Expr, tuple[sp.Symbol, ...]]:
    """KL( N(μ₁, σ₁²) || N(μ₂, σ₂²) ) by integration; returns (expression, (μ₁, σ₁, μ₂, σ₂))."""
    mu1, mu2 = sp.symbols("mu_1 mu_2", real=True)
    s1, s2 = sp.symbols("sigma_1 sigma_2", positive=True)
    x, eps = sp.symbols("x epsilon", real=True)
    log_ratio = log_normal_1d(x, mu1, s1) - log_normal_1d(x, mu2, s2)
    kl = _std_normal_expectation(log_ratio.subs(x, mu1 + s1 * eps), [eps])
    return sp.simplify(sp.expand_log(kl, force=True)), (mu1, s1, mu2, s2)


def kl_diag_std_normal(d: int = 1) -> tuple[sp.Expr, tuple[sp.Symbol, ...], tuple[sp.Symbol, ...]]:
    """KL( N(μ, diag exp(log σ²)) || N(0, I) ) in the VAE's log-variance parameterisation.

    Integrates over all d coordinates at once (the joint densities factorise, so the result
    is a sum over dimensions). Returns (expression, μ symbols, log σ² symbols).
    """
    if d < 1:
        raise ValueError(f"d must be a positive integer, got {d}")
    mus = sp.symbols(f"mu_1:{d + 1}", real=True)
    log_vars = sp.symbols(f"v_1:{d + 1}", real=True)   # v_i = log σ_i²
    eps = list(sp.symbols(f"epsilon_1:{d + 1}", real=True))
    log_ratio = 0
    for mu, v, e in zip(mus, log_vars, eps):
        sigma = sp.exp(v / 2)
        x = mu + sigma * e                                  # x ~ q, written through ε
        log_ratio += log_normal_1d(x, mu, sigma) - log_normal_1d(x, 0, 1)
    kl = _std_normal_expectation(sp.expand(sp.expand_log(log_ratio, force=True)), eps)
    return sp.expand(sp.simplify(kl)), mus, log_vars


def _symmetric(name: str, d: int) -> sp.Matrix:
    """A symbolic symmetric d×d matrix with entries name_ij (i ≤ j)."""
    return sp.Matrix(d, d, lambda i, j: sp.Symbol(f"{name}_{min(i, j) + 1}{max(i, j) + 1}", real=True))


def _lower(name: str, d: int) -> sp.Matrix:
    """A symbolic lower-triangular Cholesky factor with positive diagonal."""
    return sp.Matrix(d, d, lambda i, j: sp.Symbol(f"{name}_{i + 1}{j + 1}", positive=(i == j), real=True)
                     if j <= i else 0)


def kl_mvn_by_integration(d: int) -> tuple[sp.Expr, dict[str, sp.Matrix]]:
    """KL( N(μ₀, Σ₀) || N(μ₁, Σ₁) ) for a small dimension d, by integration.

    Σ₀ = L Lᵀ (L lower-triangular with positive diagonal, so x = μ₀ + L ε ~ p) and Σ₁ is a
    general symmetric matrix with symbols S_ij. Returns (expression, {"mu0", "L", "mu1", "S1"}).
    """
    if d < 1:
        raise ValueError(f"d must be a positive integer, got {d}")
    mu0 = sp.Matrix(sp.symbols(f"m_1:{d + 1}", real=True))
    mu1 = sp.Matrix(sp.symbols(f"n_1:{d + 1}", real=True))
    lower, s1 = _lower("L", d), _symmetric("S", d)
    eps = sp.Matrix(sp.symbols(f"epsilon_1:{d + 1}", real=True))
    x = mu0 + lower * eps
    # log p(x) with x = μ₀ + L ε: the quadratic form is εᵀε and log det Σ₀ = 2 Σ log L_ii.
    log_p = -sp.Rational(d, 2) * sp.log(2 * sp.pi) - sum(sp.log(lower[i, i]) for i in range(d)) - (eps.T * eps)[0] / 2
    det1 = sp.factor(s1.det())
    adj1 = s1.adjugate()                                     # Σ₁⁻¹ = adj(Σ₁) / det Σ₁
    diff = x - mu1
    log_q = -sp.Rational(d, 2) * sp.log(2 * sp.pi) - sp.log(det1) / 2 - (diff.T * adj1 * diff)[0] / (2 * det1)
    kl = _std_normal_expectation(sp.expand((log_p - log_q) * det1), list(eps)) / det1
    symbols = {"mu0": mu0, "L": lower, "mu1": mu1, "S1": s1}
    return kl, symbols


def kl_mvn_formula(mu0: sp.Matrix, cov0: sp.Matrix, mu1: sp.Matrix, cov1: sp.Matrix) -> sp.Expr:
    """The textbook closed form ½ [ tr(Σ₁⁻¹Σ₀) + (μ₁−μ₀)ᵀ Σ₁⁻¹ (μ₁−μ₀) − d + log det Σ₁ − log det Σ₀ ]."""
    d = mu0.shape[0]
    inv1 = cov1.inv()
    diff = mu1 - mu0
    return sp.Rational(1, 2) * ((inv1 * cov0).trace() + (diff.T * inv1 * diff)[0] - d
                                + sp.log(cov1.det()) - sp.log(cov0.det()))


def check_mvn_formula(d: int) -> bool:
    """True when the integrated KL and :func:`kl_mvn_formula` agree symbolically in dimension d."""
    derived, s = kl_mvn_by_integration(d)
    cov0 = s["L"] * s["L"].T
    formula = kl_mvn_formula(s["mu0"], cov0, s["mu1"], s["S1"])
    difference = sp.expand_log(derived - formula, force=True)
    return sp.simplify(sp.together(sp.expand(difference))) == 0


def kl_std_normal_mvn(d: int = 1) -> tuple[sp.Expr, tuple[sp.Symbol, ...], tuple[sp.Symbol, ...]]:
    """KL( N(0, I) || N(μ, diag exp(log σ²)) ), the arguments of the VAE's KL term swapped, by integration.

    Returns (expression, μ symbols, log σ² symbols).
    """
    if d < 1:
        raise ValueError(f"d must be a positive integer, got {d}")
    mus = sp.symbols(f"mu_1:{d + 1}", real=True)
    log_vars = sp.symbols(f"v_1:{d + 1}", real=True)
    eps = list(sp.symbols(f"epsilon_1:{d + 1}", real=True))
    log_ratio = 0
    for mu, v, e in zip(mus, log_vars, eps):
        log_ratio += log_normal_1d(e, 0, 1) - log_normal_1d(e, mu, sp.exp(v / 2))
    kl = _std_normal_expectation(sp.expand(sp.expand_log(log_ratio, force=True)), eps)
    return sp.expand(sp.simplify(kl)), mus, log_vars


# ------------------------------------------------------------------ checks for candidate formulas

KLFormula = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def reference_kl_std_normal() -> KLFormula:
    """The SymPy-derived KL( N(μ, diag σ²) || N(0, I) ) for one dimension, lambdified to torch and summed."""
    expr, (mu,), (v,) = kl_diag_std_normal(1)
    one_dim = sp.lambdify((mu, v), expr, modules="torch")
    return lambda mu_t, log_var_t: one_dim(mu_t, log_var_t).sum(-1)


def kl_formula_passes(candidate: KLFormula, trials: int = 64, d: int = 3, seed: int = 0,
                      reference: KLFormula | None = None) -> bool:
    """True when ``candidate(mu, log_var)`` equals the derived KL on random parameters (rel. error 1e-9).

    Parameters are drawn from a seeded generator with log σ² in [−3, 3], so no special point
    (log σ² = 0, μ = 0) can hide an error.
    """
    reference = reference or reference_kl_std_normal()
    g = torch.Generator().manual_seed(seed)
    mu = 2 * torch.randn(trials, d, generator=g, dtype=torch.float64)
    log_var = 6 * torch.rand(trials, d, generator=g, dtype=torch.float64) - 3
    got, want = candidate(mu, log_var), reference(mu, log_var)
    if got.shape != want.shape:
        return False
    return bool(torch.allclose(got, want, rtol=1e-9, atol=1e-12))


Sampler = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def sampler_passes(candidate: Sampler, n: int = 20_000, seed: int = 0) -> bool:
    """True when ``candidate(mu, log_var, eps)`` draws from N(μ, exp(log σ²)) with the pathwise gradients.

    With ε ~ N(0, 1) fixed by a seed, a correct sampler gives z with mean μ and standard deviation σ
    (each within 5 standard errors, for several (μ, log σ²) pairs), and the gradients of z = μ + σε:
    ∂z/∂μ = 1 and ∂z/∂log σ² = σε/2 = (z − μ)/2, so that a sampler which cuts σ (or μ) out of the
    graph fails, even though it still draws the right numbers.
    """
    g = torch.Generator().manual_seed(seed)
    eps = torch.randn(n, generator=g, dtype=torch.float64)
    for mu_value, lv_value in [(0.0, -2.0), (1.5, 0.7), (-3.0, 2.5), (0.3, -0.4)]:
        mu = torch.tensor(mu_value, dtype=torch.float64, requires_grad=True)
        log_var = torch.tensor(lv_value, dtype=torch.float64, requires_grad=True)
        z = candidate(mu, log_var, eps)
        if not z.requires_grad:
            return False
        d_mu, d_log_var = torch.autograd.grad(z.sum(), (mu, log_var), allow_unused=True)
        z = z.detach()
        offsets = z - mu_value                                  # σε, so ∂(Σz)/∂log σ² = Σ offsets / 2
        gradients_ok = (d_mu is not None and d_log_var is not None and abs(float(d_mu) - n) < 1e-8 * n
                        and abs(float(d_log_var) - 0.5 * float(offsets.sum())) < 1e-8 * (1 + float(offsets.abs().sum())))
        sigma = math.exp(0.5 * lv_value)
        mean_ok = abs(float(z.mean()) - mu_value) < 5 * sigma / math.sqrt(n)
        std_ok = abs(float(z.std()) - sigma) < 5 * sigma / math.sqrt(2 * n)
        if not (mean_ok and std_ok and gradients_ok):
            return False
    return True


def monte_carlo_kl(mu: torch.Tensor, log_var: torch.Tensor, n: int = 100_000,
                   seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Monte Carlo estimate of KL( N(μ, diag σ²) || N(0, I) ) = E_q[log q(z) − log p(z)], with its standard error."""
    g = torch.Generator().manual_seed(seed)
    eps = torch.randn((n, *mu.shape), generator=g, dtype=mu.dtype)
    z = mu + torch.exp(0.5 * log_var) * eps
    zeros = torch.zeros_like(mu)
    values = log_normal_diag(z, mu, log_var) - log_normal_diag(z, zeros, zeros)
    return values.mean(0), values.std(0) / math.sqrt(n)


# ------------------------------------------------------------------ forward and reverse KL on a grid

def kl_on_grid(log_p: np.ndarray, log_q: np.ndarray, dx: float) -> float:
    """KL(p || q) ≈ Σ p (log p − log q) dx for densities tabulated on a fine uniform grid."""
    p = np.exp(log_p)
    return float(np.sum(p * (log_p - log_q)) * dx)


def fit_gaussian_kl(log_target: Callable[[np.ndarray], np.ndarray], direction: str, init: tuple[float, float],
                    grid: np.ndarray) -> tuple[float, float]:
    """The N(m, s²) minimising KL(target || q) (``"forward"``) or KL(q || target) (``"reverse"``), by quadrature.

    Returns (m, s). Optimised with SciPy's L-BFGS over (m, log s) from ``init`` = (m, s).
    """
    from scipy.optimize import minimize
    from scipy.stats import norm

    if direction not in ("forward", "reverse"):
        raise ValueError(f"direction must be 'forward' or 'reverse', got {direction!r}")
    dx = float(grid[1] - grid[0])
    log_p = log_target(grid)

    def objective(theta: np.ndarray) -> float:
        log_q = norm.logpdf(grid, theta[0], np.exp(theta[1]))
        return kl_on_grid(log_p, log_q, dx) if direction == "forward" else kl_on_grid(log_q, log_p, dx)

    result = minimize(objective, np.array([init[0], math.log(init[1])]), method="L-BFGS-B")
    return float(result.x[0]), float(math.exp(result.x[1]))


__all__ = [
    "kl_gaussians_1d", "kl_diag_std_normal", "kl_mvn_by_integration", "kl_mvn_formula", "check_mvn_formula",
    "kl_std_normal_mvn", "reference_kl_std_normal", "kl_formula_passes", "sampler_passes", "monte_carlo_kl",
    "kl_on_grid", "fit_gaussian_kl", "kl_normal_std_normal",
]
