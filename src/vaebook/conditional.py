"""Conditional VAEs: the conditional ELBO, quadrant masking and the importance-sampled log p(y|x).

A conditional model predicts an output y from an input x (Sohn, Lee and Yan 2015) with three networks:

    recognition q(z|x, y),   prior p(z|x),   generation p(y|x, z),

    log p(y|x) >= E_q(z|x,y)[log p(y|x,z)] - KL(q(z|x,y) || p(z|x))      (the conditional ELBO).

Every conditional model in the book offers the same three methods, so that the loss and the
estimate of log p(y|x) below are written once: ``recognize(x, y) -> (mu, log_var)``,
``prior(x) -> (mu, log_var)`` and ``log_likelihood(x, y, z) -> log p(y|x,z)`` per example.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from vaebook.distributions import check_unit_interval, kl_mvn, kl_normal_normal, log_normal_diag, reparameterize
from vaebook.evaluate import importance_weighted

# ---------------------------------------------------------------- quadrants of an image

QUADRANT_LAYOUTS = {
    # given quadrants -> which (row half, column half) are visible; the Pyro tutorial's layout:
    # 1: bottom-left; 2: the left half; 3: all but bottom-right.
    1: ((1, 0),),
    2: ((0, 0), (1, 0)),
    3: ((0, 0), (0, 1), (1, 0)),
}


def quadrant_mask(given: int, height: int = 28, width: int = 28) -> torch.Tensor:
    """Boolean (1, H, W) mask, True on the ``given`` visible quadrants (1, 2 or 3)."""
    if given not in QUADRANT_LAYOUTS:
        raise ValueError(f"the number of given quadrants must be 1, 2 or 3, got {given!r}")
    if height % 2 or width % 2:
        raise ValueError(f"quadrants need an even height and width, got {height}x{width}")
    mask = torch.zeros(1, height, width, dtype=torch.bool)
    h, w = height // 2, width // 2
    for row, col in QUADRANT_LAYOUTS[given]:
        mask[:, row * h:(row + 1) * h, col * w:(col + 1) * w] = True
    return mask


def hide_quadrants(images: torch.Tensor, given: int, fill: float = -1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """The network input x: the visible quadrants, with the hidden pixels set to ``fill``.

    Returns (x, missing) where ``missing`` is the boolean (1, H, W) mask of the pixels to predict.
    The fill value -1 lies outside [0, 1], so a network can tell "hidden" from "black".
    """
    if images.dim() != 4:
        raise ValueError(f"expected a batch of images (N, C, H, W), got shape {tuple(images.shape)}")
    visible = quadrant_mask(given, *images.shape[-2:]).to(images.device)
    return torch.where(visible, images, torch.full_like(images, fill)), ~visible


def masked_bernoulli_log_prob(y: torch.Tensor, logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """log p(y) of Bernoulli(sigmoid(logits)) pixels, summed over the pixels where ``mask`` is True only.

    This is the metric of Sohn et al. and the Pyro tutorial: the log-likelihood of the *missing*
    pixels given the visible ones (grey levels allowed, as a cross-entropy).
    """
    if y.shape != logits.shape:
        raise ValueError(f"shapes must match: y {tuple(y.shape)}, logits {tuple(logits.shape)}")
    check_unit_interval(y, "y")
    nll = F.binary_cross_entropy_with_logits(logits, y, reduction="none") * mask
    return -nll.flatten(1).sum(1)


# ---------------------------------------------------------------- the conditional ELBO

def conditional_elbo_terms(model, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-example distortion −log p(y|x,z) (one z ~ q(z|x,y)) and rate KL(q(z|x,y) || p(z|x)), closed form."""
    mu_q, log_var_q = model.recognize(x, y)
    mu_p, log_var_p = model.prior(x)
    z = reparameterize(mu_q, log_var_q)
    return {
        "distortion": -model.log_likelihood(x, y, z),
        "rate": kl_normal_normal(mu_q, log_var_q, mu_p, log_var_p),
    }


def conditional_negative_elbo(model, x: torch.Tensor, y: torch.Tensor, beta: float = 1.0) -> dict[str, torch.Tensor]:
    """−ELBO(y|x) = E_q[−log p(y|x,z)] + KL(q(z|x,y) || p(z|x)), batch means; ``loss`` weights the KL by β."""
    terms = conditional_elbo_terms(model, x, y)
    return {
        "loss": (terms["distortion"] + beta * terms["rate"]).mean(),
        "neg_elbo": (terms["distortion"] + terms["rate"]).mean(),
        "rate": terms["rate"].mean(),
        "distortion": terms["distortion"].mean(),
    }


def gsnn_loss(model, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The Gaussian stochastic neural network loss −log p(y|x,z) with z ~ p(z|x), per example.

    It trains the prior network and the generator on exactly what they do at test time
    (sample z from the prior, then decode); by Jensen, its expectation is >= −log p(y|x).
    """
    mu_p, log_var_p = model.prior(x)
    return -model.log_likelihood(x, y, reparameterize(mu_p, log_var_p))


@torch.no_grad()
def conditional_iw_log_likelihood(model, x: torch.Tensor, y: torch.Tensor, k: int = 100,
                                  chunk: int = 100) -> torch.Tensor:
    """Importance-sampled log p(y|x) with K samples from q(z|x,y), one number per example:

        log p(y|x) ≈ log (1/K) Σ_k p(y|x,z_k) p(z_k|x) / q(z_k|x,y),   z_k ~ q(z|x,y).

    K = 1 is an unbiased estimate of the ELBO; the estimate rises towards log p(y|x) as K grows.
    """
    mu_q, log_var_q = model.recognize(x, y)
    mu_p, log_var_p = model.prior(x)
    std = torch.exp(0.5 * log_var_q)

    def log_weights(m: int) -> torch.Tensor:
        z = mu_q + std * torch.randn(m, *mu_q.shape, device=mu_q.device, dtype=mu_q.dtype)   # (m, B, D)
        repeat = lambda t: t.unsqueeze(0).expand(m, *t.shape).reshape(-1, *t.shape[1:])  # noqa: E731
        log_lik = model.log_likelihood(repeat(x), repeat(y), z.flatten(0, 1)).view(m, -1)
        return log_lik + log_normal_diag(z, mu_p, log_var_p) - log_normal_diag(z, mu_q, log_var_q)

    return importance_weighted(log_weights, k, chunk)


# ---------------------------------------------------------------- a conditional model with an exact answer

@dataclass
class LinearGaussianConditional:
    """p(z|x) = N(A x, diag(prior_var)),  p(y|x,z) = N(B z + C x, noise_var I): everything in closed form.

    Its exact log p(y|x) and posterior p(z|x,y) let the book check the conditional ELBO exactly.
    Every method takes a batch, one row per example: x (N, Dx), y (N, Dy). The posterior has one mean
    per row and a covariance shared by all rows (it does not depend on x or y).
    ``q_mean`` and ``q_var`` (optional) set a diagonal Gaussian q(z|x,y) = N(q_mean, diag q_var) for
    ``recognize``: ``q_mean`` of shape (1, Dz) for every row alike, or (N, Dz) for one mean per row.
    """

    A: torch.Tensor          # (Dz, Dx)
    prior_var: torch.Tensor  # (Dz,)
    B: torch.Tensor          # (Dy, Dz)
    C: torch.Tensor          # (Dy, Dx)
    noise_var: float

    def prior_moments(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x @ self.A.T, torch.diag(self.prior_var)

    def log_evidence(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Exact log p(y|x) = log N(y; B A x + C x, B Σ_p Bᵀ + σ² I)."""
        mean_z, cov_z = self.prior_moments(x)
        mean = mean_z @ self.B.T + x @ self.C.T
        cov = self.B @ cov_z @ self.B.T + self.noise_var * torch.eye(len(self.B), dtype=self.B.dtype, device=self.B.device)
        return torch.distributions.MultivariateNormal(mean, cov).log_prob(y)

    def posterior(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact p(z|x,y) = N(m, S): S = (Σ_p⁻¹ + BᵀB/σ²)⁻¹,  m = S (Σ_p⁻¹ A x + Bᵀ(y − C x)/σ²)."""
        mean_z, cov_z = self.prior_moments(x)
        precision = torch.linalg.inv(cov_z) + self.B.T @ self.B / self.noise_var
        cov = torch.linalg.inv(precision)
        mean = (torch.linalg.solve(cov_z, mean_z.unsqueeze(-1)).squeeze(-1)
                + (y - x @ self.C.T) @ self.B / self.noise_var) @ cov.T
        return mean, cov

    def elbo(self, x: torch.Tensor, y: torch.Tensor, q_mean: torch.Tensor, q_cov: torch.Tensor) -> torch.Tensor:
        """E_q[log p(y|x,z)] − KL(q || p(z|x)) in closed form, for q(z|x,y) = N(q_mean, q_cov)."""
        resid = y - q_mean @ self.B.T - x @ self.C.T
        dy = len(self.B)
        expected_log_lik = -0.5 * (dy * math.log(2 * math.pi * self.noise_var)
                                   + (resid.pow(2).sum(-1) + torch.trace(self.B @ q_cov @ self.B.T)) / self.noise_var)
        mean_z, cov_z = self.prior_moments(x)
        return expected_log_lik - kl_mvn(q_mean, q_cov, mean_z, cov_z)

    # the three methods every conditional model offers; q(z|x,y) = N(q_mean, diag q_var) when those are set
    q_mean: torch.Tensor | None = None
    q_var: torch.Tensor | None = None

    def recognize(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.q_mean is None or self.q_var is None:
            raise ValueError("set q_mean and q_var to give the linear-Gaussian model a diagonal q(z|x,y)")
        return self.q_mean.expand(len(x), -1), self.q_var.log().expand(len(x), -1)

    def prior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x @ self.A.T, self.prior_var.log().expand(len(x), -1)

    def log_likelihood(self, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        mean = z @ self.B.T + x @ self.C.T
        return log_normal_diag(y, mean, torch.full_like(mean, math.log(self.noise_var)))


# ---------------------------------------------------------------- evaluation

@torch.no_grad()
def evaluate_conditional(model, loader, iw_samples: int = 100, elbo_samples: int = 10) -> dict[str, float]:
    """Test metrics of a conditional model, in nats per example: ``neg_elbo`` averaged over
    ``elbo_samples`` draws of z (the Pyro tutorial's 10 particles) and ``iw_nll``, the importance-sampled
    −log p(y|x) with ``iw_samples`` samples (Sohn et al.'s S = 100). Other metrics of the loss come too.
    """
    from vaebook.evaluate import evaluate

    if elbo_samples < 1:
        raise ValueError(f"elbo_samples must be at least 1, got {elbo_samples}")
    runs = [evaluate(model, loader) for _ in range(elbo_samples)]
    results = {key: sum(run[key] for run in runs) / elbo_samples for key in runs[0]}
    model.eval()
    total, count = 0.0, 0
    for batch in loader:
        total += float(-model.iw_log_likelihood(batch, iw_samples).sum())
        count += len(batch[0])
    results["iw_nll"] = total / count
    return results
