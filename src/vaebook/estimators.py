"""Two Monte Carlo estimators of ∇_φ E_{q_φ}[f(z)] for a diagonal Gaussian q_φ = N(μ, diag exp(log σ²)),
a helper that measures their variance against the number of samples K, and the book's Monte Carlo checks:
:func:`mean_agrees` (is a sample mean the value a formula predicts?) and :func:`variance_standard_error`.

    score function (REINFORCE):  ∇_φ E_q[f(z)] = E_q[ f(z) ∇_φ log q_φ(z) ]            f only evaluated
    pathwise (reparameterized):  ∇_φ E_q[f(z)] = E_ε[ ∇_φ f(μ + σ·ε) ],  ε ~ N(0, I)    f differentiated

Both return the gradient with respect to μ and to log σ², each shaped like ``mu``.
A leading batch dimension in ``mu`` and ``log_var`` gives independent estimates,
one per row, which is how :func:`estimator_variance` measures the spread.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch

from vaebook.distributions import check_same_shape, reparameterize

Function = Callable[[torch.Tensor], torch.Tensor]   # f: (..., d) -> (...)
Estimator = Callable[..., tuple[torch.Tensor, torch.Tensor]]


def _draw(mu: torch.Tensor, log_var: torch.Tensor, k: int, generator: torch.Generator | None):
    """K reparameterized samples per row: mu, log_var (..., d) -> leaves (..., d) and z (..., K, d)."""
    check_same_shape(mu=mu, log_var=log_var)
    if k < 1:
        raise ValueError(f"the number of samples K must be at least 1, got {k}")
    mu = mu.detach().clone().requires_grad_(True)
    log_var = log_var.detach().clone().requires_grad_(True)
    shape = (*mu.shape[:-1], k, mu.shape[-1])
    z = reparameterize(mu.unsqueeze(-2).expand(shape), log_var.unsqueeze(-2).expand(shape), generator)
    return mu, log_var, z


def gaussian_score(z: torch.Tensor, mu: torch.Tensor, log_var: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """∇ log N(z; μ, σ²) per coordinate: with respect to μ, (z − μ)/σ²; to log σ², ½((z − μ)²/σ² − 1)."""
    precision = torch.exp(-log_var)
    return (z - mu) * precision, 0.5 * ((z - mu) ** 2 * precision - 1.0)


def score_function_gradient(f: Function, mu: torch.Tensor, log_var: torch.Tensor, k: int,
                            generator: torch.Generator | None = None,
                            baseline: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(1/K) Σ_k (f(z_k) − b) ∇_φ log q(z_k), z_k ~ q. Needs only values of f; b is an optional constant baseline."""
    mu_leaf, log_var_leaf, z = _draw(mu, log_var, k, generator)
    with torch.no_grad():
        z = z.detach()
        weight = (f(z) - baseline).unsqueeze(-1)                                     # (..., K, 1)
        score_mu, score_log_var = gaussian_score(z, mu_leaf.unsqueeze(-2), log_var_leaf.unsqueeze(-2))
        return (weight * score_mu).mean(-2), (weight * score_log_var).mean(-2)


def pathwise_gradient(f: Function, mu: torch.Tensor, log_var: torch.Tensor, k: int,
                      generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(1/K) Σ_k ∇_φ f(μ + σ·ε_k), ε_k ~ N(0, I), by autograd through :func:`reparameterize`. f must be differentiable."""
    mu_leaf, log_var_leaf, z = _draw(mu, log_var, k, generator)
    objective = f(z).mean(-1).sum()          # rows are independent, so each row's gradient is its own estimate
    grad_mu, grad_log_var = torch.autograd.grad(objective, (mu_leaf, log_var_leaf))
    return grad_mu, grad_log_var


def mean_agrees(samples: torch.Tensor, expected: torch.Tensor | float, standard_errors: float = 5.0) -> bool:
    """The book's Monte Carlo check: is the mean of ``samples − expected`` over dim 0 within ``standard_errors``
    standard errors (sample standard deviation / √n) of zero, in every remaining coordinate?

    ``expected`` broadcasts against ``samples``: a constant, one value per coordinate, or one value per sample
    (then the check is on paired differences). A correct formula fails at 5 standard errors with probability about
    6e-7 per coordinate; a wrong one is caught once its error exceeds about 5 standard errors, so n must be large
    enough to make the standard error small next to the mistakes the check is for."""
    n = samples.shape[0] if samples.dim() else 0
    if n < 2:
        raise ValueError(f"a standard error needs at least 2 samples along dim 0, got {n}")
    error = (samples - expected).detach().cpu().double()    # on the CPU: Apple's MPS has no float64
    if not torch.isfinite(error).all():
        raise ValueError("the samples (or the expected values) contain NaN or infinity")
    return bool((error.mean(0).abs() <= standard_errors * error.std(0) / n**0.5).all())


def variance_standard_error(samples: torch.Tensor) -> torch.Tensor:
    """Standard error of the sample variance (divisor n − 1) of ``samples`` along dim 0, per column:
    √((m₄ − s⁴(n − 3)/(n − 1))/n), with the fourth central moment m₄ and the variance s² estimated
    from the samples.
    For normal samples it is about s²√(2/(n − 1)); heavy tails make it larger, which is why it is measured."""
    n = samples.shape[0]
    if n < 4:
        raise ValueError(f"a standard error of a variance needs at least 4 samples, got {n}")
    centred = samples - samples.mean(0)
    var, m4 = centred.pow(2).sum(0) / (n - 1), centred.pow(4).mean(0)
    return ((m4 - var**2 * (n - 3) / (n - 1)) / n).clamp(min=0).sqrt()


def estimator_variance(estimator: Estimator, f: Function, mu: torch.Tensor, log_var: torch.Tensor,
                       ks: Sequence[int], repeats: int, generator: torch.Generator | None = None) -> dict[str, np.ndarray]:
    """Run ``estimator`` ``repeats`` times for each K in ``ks``; return the mean and the variance over repeats,
    per coordinate: arrays ``mean_mu``, ``var_mu``, ``mean_log_var``, ``var_log_var`` shaped (len(ks), d), and
    ``se_var_mu``, ``se_var_log_var``, the standard error of each variance (:func:`variance_standard_error`;
    NaN below 4 repeats)."""
    if repeats < 2:
        raise ValueError(f"a variance needs at least 2 repeats, got {repeats}")
    if mu.dim() != 1:
        raise ValueError(f"mu must be one parameter vector (d,), got shape {tuple(mu.shape)}")
    out: dict[str, list] = {"k": list(ks), "mean_mu": [], "var_mu": [], "mean_log_var": [], "var_log_var": [],
                            "se_var_mu": [], "se_var_log_var": []}
    for k in ks:
        g_mu, g_log_var = estimator(f, mu.expand(repeats, -1), log_var.expand(repeats, -1), k, generator)
        for name, g in (("mu", g_mu), ("log_var", g_log_var)):
            out[f"mean_{name}"].append(g.mean(0).cpu().numpy())
            out[f"var_{name}"].append(g.var(0).cpu().numpy())
            out[f"se_var_{name}"].append(variance_standard_error(g).cpu().numpy() if repeats >= 4
                                         else np.full(g.shape[1:], np.nan))
    return {key: np.asarray(value) for key, value in out.items()}
