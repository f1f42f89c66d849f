"""Expectation-maximisation for a Gaussian mixture, vectorised in torch with log-sum-exp.

EM maximises log p(x) = L(q, θ) + KL(q || p(z|x)) by turns: the E-step sets q to the
posterior over components (KL = 0), the M-step maximises L over θ in closed form. Every
step works on all points and all components at once; responsibilities stay in log space
so that far-away points never underflow to 0/0. Float64 is used so that the monotone
increase of the log-likelihood can be checked to rounding error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

LOG_2PI = math.log(2 * math.pi)


@dataclass
class GMM:
    """A mixture of K Gaussians in D dimensions: weights (K,), means (K, D), covariances (K, D, D)."""

    weights: torch.Tensor
    means: torch.Tensor
    covs: torch.Tensor

    def __post_init__(self) -> None:
        k, d = self.means.shape
        if self.weights.shape != (k,) or self.covs.shape != (k, d, d):
            raise ValueError(f"GMM shapes disagree: weights {tuple(self.weights.shape)}, means {tuple(self.means.shape)}, "
                             f"covs {tuple(self.covs.shape)}; want (K,), (K, D), (K, D, D)")

    @property
    def k(self) -> int:
        return self.means.shape[0]

    def clone(self) -> "GMM":
        return GMM(self.weights.clone(), self.means.clone(), self.covs.clone())


class ComponentCollapseError(FloatingPointError):
    """A covariance stopped being positive definite: a component shrank onto too few points."""


def _check_points(x: torch.Tensor, d: int | None = None) -> None:
    if x.dim() != 2:
        raise ValueError(f"x must be a (N, D) tensor of points, got shape {tuple(x.shape)}")
    if d is not None and x.shape[1] != d:
        raise ValueError(f"x has dimension {x.shape[1]} but the mixture has dimension {d}")


def component_log_probs(x: torch.Tensor, gmm: GMM) -> torch.Tensor:
    """log π_k + log N(x_n; μ_k, Σ_k) for all n, k: a (N, K) tensor (Cholesky, no explicit inverse)."""
    _check_points(x, gmm.means.shape[1])
    chol, info = torch.linalg.cholesky_ex(gmm.covs)
    if bool((info > 0).any()):
        bad = int(torch.nonzero(info > 0)[0])
        raise ComponentCollapseError(f"the covariance of component {bad} is not positive definite "
                                     "(it collapsed onto too few points); use a covariance floor")
    diff = x.T[None, :, :] - gmm.means[:, :, None]                            # (K, D, N)
    solved = torch.linalg.solve_triangular(chol, diff, upper=False)           # L⁻¹ (x − μ)
    maha = solved.pow(2).sum(1)                                               # (K, N)
    logdet = 2 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)    # (K,)
    d = x.shape[1]
    log_normal = -0.5 * (d * LOG_2PI + logdet[:, None] + maha)
    return (torch.log(gmm.weights)[:, None] + log_normal).T


def log_density(x: torch.Tensor, gmm: GMM) -> torch.Tensor:
    """log p(x_n) = log Σ_k π_k N(x_n; μ_k, Σ_k), one number per point, by log-sum-exp."""
    return torch.logsumexp(component_log_probs(x, gmm), dim=1)


def log_likelihood(x: torch.Tensor, gmm: GMM) -> float:
    """The average log-likelihood (1/N) Σ_n log p(x_n), in nats per point."""
    return float(log_density(x, gmm).mean())


def e_step(x: torch.Tensor, gmm: GMM) -> tuple[torch.Tensor, float]:
    """Log-responsibilities log r_nk = log p(z_n = k | x_n) (N, K) and the average log-likelihood."""
    joint = component_log_probs(x, gmm)
    log_px = torch.logsumexp(joint, dim=1, keepdim=True)
    return joint - log_px, float(log_px.mean())


def m_step(x: torch.Tensor, log_resp: torch.Tensor, cov_floor: float = 0.0) -> GMM:
    """The θ that maximises the bound for fixed responsibilities: weighted counts, means, covariances.

    ``cov_floor`` adds ε·I to every covariance, so that no component can shrink onto a single
    point (the likelihood's singularity); 0 gives the plain maximum-likelihood update.
    """
    _check_points(x)
    if log_resp.shape[0] != x.shape[0]:
        raise ValueError(f"{x.shape[0]} points but {log_resp.shape[0]} rows of responsibilities")
    if cov_floor < 0:
        raise ValueError(f"cov_floor must be >= 0, got {cov_floor}")
    resp = log_resp.exp()                                   # (N, K)
    counts = resp.sum(0)                                    # N_k
    if bool((counts <= 0).any()):
        raise ComponentCollapseError("a component has no responsibility left (N_k = 0)")
    means = (resp.T @ x) / counts[:, None]                  # (K, D)
    diff = x[None, :, :] - means[:, None, :]                # (K, N, D)
    covs = (resp.T[:, None, :] * diff.transpose(1, 2)) @ diff / counts[:, None, None]  # Σ_n r_nk d dᵀ / N_k
    covs = covs + cov_floor * torch.eye(x.shape[1], dtype=x.dtype, device=x.device)
    return GMM(counts / x.shape[0], means, covs)


def init_gmm(x: torch.Tensor, k: int, seed: int = 0) -> GMM:
    """K distinct data points (chosen by a seeded generator) as means, the data covariance for all, equal weights."""
    _check_points(x)
    if not 1 <= k <= x.shape[0]:
        raise ValueError(f"k must be between 1 and the number of points ({x.shape[0]}), got {k}")
    g = torch.Generator().manual_seed(seed)
    index = torch.randperm(x.shape[0], generator=g)[:k]
    cov = torch.cov(x.T).reshape(x.shape[1], x.shape[1])
    return GMM(torch.full((k,), 1.0 / k, dtype=x.dtype), x[index].clone(), cov.expand(k, -1, -1).clone())


def fit(x: torch.Tensor, init: GMM | int, iterations: int = 100, tol: float | None = 1e-8,
        cov_floor: float = 0.0, seed: int = 0, on_collapse: str = "raise") -> tuple[GMM, dict[str, list]]:
    """Run EM from ``init`` (a GMM, or K for :func:`init_gmm`) and return (fitted GMM, history).

    history['log_likelihood'][t] is the average log-likelihood of the parameters history['params'][t]
    (t = 0 is the initialisation). EM stops after ``iterations`` steps or when the gain is below ``tol``.
    ``on_collapse``: ``"raise"`` a :class:`ComponentCollapseError`, or ``"stop"`` and note it in
    history['stopped'].
    """
    if on_collapse not in ("raise", "stop"):
        raise ValueError(f"on_collapse must be 'raise' or 'stop', got {on_collapse!r}")
    x = x.double()
    gmm = init_gmm(x, init, seed) if isinstance(init, int) else GMM(*(t.double() for t in (init.weights, init.means, init.covs)))
    history: dict[str, list] = {"log_likelihood": [], "params": [], "stopped": []}
    for step in range(iterations + 1):
        try:
            log_resp, ll = e_step(x, gmm)
            if not math.isfinite(ll):
                raise ComponentCollapseError(f"the log-likelihood became {ll}")
        except ComponentCollapseError as error:
            if on_collapse == "raise":
                raise ComponentCollapseError(f"EM iteration {step}: {error}") from None
            history["stopped"].append(f"iteration {step}: {error}")
            break
        history["log_likelihood"].append(ll)
        history["params"].append(gmm.clone())
        if step == iterations or (tol is not None and step > 0 and ll - history["log_likelihood"][-2] < tol):
            break
        try:
            gmm = m_step(x, log_resp, cov_floor)
        except ComponentCollapseError as error:
            if on_collapse == "raise":
                raise ComponentCollapseError(f"EM iteration {step}: {error}") from None
            history["stopped"].append(f"iteration {step}: {error}")
            break
    return history["params"][-1], history
