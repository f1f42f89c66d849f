"""The Parzen-window estimate of log p(x): the score GAN and AAE papers report for models without a likelihood.

Put a Gaussian of width σ on each of N samples s_1..s_N from the model and score test points under
that mixture:

    log p̂(x) = log (1/N) Σ_i N(x; s_i, σ² I)
             = logsumexp_i(−‖x − s_i‖² / 2σ²) − log N − (d/2) log(2πσ²).

The protocol of Goodfellow et al. (2014), used by Makhzani et al. (2015): N = 10,000 samples, σ chosen
from ten values log-spaced in [0.1, 1] by the mean log p̂ of 1,000 validation images, then the mean
over the test set with its standard error. It estimates the density of the *smoothed sample set*, not
the model's: see Theis et al. (2016) and the chapter on adversarial autoencoders.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

PROTOCOL_SIGMAS = tuple(float(s) for s in torch.logspace(-1, 0, 10, dtype=torch.float64))
PROTOCOL_SAMPLES = 10_000


def _check_sigmas(sigmas) -> torch.Tensor:
    sigmas = torch.as_tensor(sigmas, dtype=torch.float64).flatten()
    if len(sigmas) == 0:
        raise ValueError("at least one Parzen bandwidth is needed")
    bad = sigmas[~(torch.isfinite(sigmas) & (sigmas > 0))]
    if len(bad):
        raise ValueError(f"a Parzen bandwidth must be a positive number, got {float(bad[0])!r}")
    return sigmas


def parzen_log_density(x: torch.Tensor, samples: torch.Tensor,
                       sigmas: float | list[float] | torch.Tensor,
                       batch_size: int = 500) -> torch.Tensor:
    """log p̂(x) of each row of ``x`` under Gaussian kernels of width (bandwidth)
    ``sigmas`` on ``samples``, for every width given.

    Both are flattened to (N, d). Returns shape (len(x),) for one width,
    (len(sigmas), len(x)) for several: the squared distances are computed once per
    batch of ``batch_size`` points and reused for every width, and the sum over
    samples is a log-sum-exp, so nothing underflows in 784 dimensions.
    """
    one = isinstance(sigmas, (int, float)) or (
        torch.is_tensor(sigmas) and sigmas.dim() == 0)
    sigmas = _check_sigmas(sigmas)
    x, samples = x.flatten(1), samples.flatten(1)
    if x.shape[1] != samples.shape[1]:
        raise ValueError(f"points have {x.shape[1]} dimensions but samples have "
                         f"{samples.shape[1]}")
    if len(samples) == 0:
        raise ValueError("a Parzen estimate needs at least one sample")
    d, n = x.shape[1], len(samples)
    samples_sq = samples.pow(2).sum(1)
    out = []
    for start in range(0, len(x), batch_size):
        xb = x[start:start + batch_size]
        # ‖x − s‖² = ‖x‖² − 2 x·s + ‖s‖², clamped at 0 against rounding; in float64
        # for the sums
        sq = xb.pow(2).sum(1, keepdim=True) - 2 * xb @ samples.T + samples_sq
        sq = sq.clamp_min(0).double()
        out.append(torch.stack([
            torch.logsumexp(-sq / (2 * sigma**2), dim=1)
            - math.log(n) - 0.5 * d * math.log(2 * math.pi * sigma**2)
            for sigma in sigmas.tolist()]))
    result = torch.cat(out, 1)
    return result[0] if one else result


@dataclass(frozen=True)
class ParzenScore:
    """A Parzen estimate by the protocol: mean log p̂ of the test points (nats), its standard error, the
    bandwidth chosen, and the validation mean for each bandwidth tried."""

    mean: float
    standard_error: float
    sigma: float
    validation: dict[float, float]

    def __str__(self) -> str:
        return f"{self.mean:.0f} ± {self.standard_error:.0f} nats (σ = {self.sigma:.3f})"


def select_bandwidth(samples: torch.Tensor, validation: torch.Tensor,
                     sigmas=PROTOCOL_SIGMAS) -> tuple[float, dict[float, float]]:
    """The σ with the highest mean log p̂ on the validation points, and that mean for every σ tried."""
    sigmas = _check_sigmas(sigmas)
    means = parzen_log_density(validation, samples, sigmas).mean(1)
    curve = {float(s): float(m) for s, m in zip(sigmas, means)}
    return float(sigmas[int(means.argmax())]), curve


def parzen_score(samples: torch.Tensor, validation: torch.Tensor, test: torch.Tensor,
                 sigmas=PROTOCOL_SIGMAS) -> ParzenScore:
    """The protocol: choose σ on ``validation``, then score ``test`` (mean and standard error, nats)."""
    sigma, curve = select_bandwidth(samples, validation, sigmas)
    scores = parzen_log_density(test, samples, sigma)
    return ParzenScore(float(scores.mean()), float(scores.std() / math.sqrt(len(scores))), sigma, curve)


def memorizer_log_likelihood(x: torch.Tensor, stored: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Exact log p(x) of binary images under the model that memorised ``stored`` grey-level images:
    pick one of the N uniformly, then draw each pixel as Bernoulli(its grey level),

        log p(x) = log (1/N) Σ_i Π_j m_ij^x_j (1 − m_ij)^(1 − x_j).

    A stored pixel of exactly 0 (or 1) gives probability 0 to a pixel that is on (off), so log p(x) is
    −∞ unless some stored image allows every pixel of x. The training set used as Parzen "samples" is
    this model's sample set: a Parzen score says nothing of how such a model scores by likelihood.
    """
    x, m = x.flatten(1).double(), stored.flatten(1).double()
    if x.shape[1] != m.shape[1]:
        raise ValueError(f"images have {x.shape[1]} pixels but stored images have {m.shape[1]}")
    if not bool(((x == 0) | (x == 1)).all()):
        raise ValueError("memorizer_log_likelihood scores binary images (pixels 0 or 1)")
    if not bool(((m >= 0) & (m <= 1)).all()):
        raise ValueError("stored images must be grey levels in [0, 1]")
    log_on = torch.where(m > 0, m.clamp_min(1e-300).log(), 0.0)      # log m where it is finite
    log_off = torch.where(m < 1, (1 - m).clamp_min(1e-300).log(), 0.0)
    forbids_on, forbids_off = (m == 0).double(), (m == 1).double()
    out = []
    for xb in x.split(batch_size):
        finite = xb @ log_on.T + (1 - xb) @ log_off.T                   # (B, N)
        impossible = xb @ forbids_on.T + (1 - xb) @ forbids_off.T > 0  # some pixel has probability 0
        out.append(torch.logsumexp(finite.masked_fill(impossible, -math.inf), 1) - math.log(len(m)))
    return torch.cat(out)
