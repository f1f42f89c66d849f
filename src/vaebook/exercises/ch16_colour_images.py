"""Chapter 16's coding exercises: the mass of an 8-bit value under a discretized logistic, and PPCA's
maximum log-likelihood from the eigenvalues of the sample covariance."""

from __future__ import annotations

import math

import torch

from vaebook.discretized import discretized_logistic_mixture_log_prob
from vaebook.exercises.registry import Exercise, matches, register
from vaebook.ppca import ppca_max_log_likelihood


def logistic_bin_reference(values: torch.Tensor, means: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """P(k | μ, s) elementwise through the package: a mixture of one logistic, its log-scale log s."""
    one = torch.zeros_like(means).unsqueeze(-1)
    return discretized_logistic_mixture_log_prob(values, one, means.unsqueeze(-1), scales.log().unsqueeze(-1)).exp()


def check_logistic_bin(candidate, seed: int) -> list[tuple[str, bool]]:
    """Seeded values (every row holding 0 and 255), locations beyond both ends of [-1, 1], scales in [0.15, 0.6].

    The scales keep every mass above 1e-9, so the reference's floor of 1e-12 on a mass never acts."""
    g = torch.Generator().manual_seed(seed)
    values = torch.randint(0, 256, (6, 40), generator=g)
    values[:, 0], values[:, 1] = 0, 255                      # the two open bins, in every row
    means = 2.4 * torch.rand(6, 40, generator=g, dtype=torch.float64) - 1.2
    scales = 0.15 + 0.45 * torch.rand(6, 40, generator=g, dtype=torch.float64)
    every = torch.arange(256)
    mean, scale = means[0, 0].expand(256), scales[0, 0].expand(256)
    got = candidate(every, mean, scale)
    sums_to_one = isinstance(got, torch.Tensor) and got.shape == (256,) and abs(float(got.sum()) - 1) < 1e-9
    return [
        ("logistic_bin_probability(values, means, scales) gives each value the mass of its bin on [-1, 1]",
         matches(candidate(values, means, scales), logistic_bin_reference(values, means, scales))),
        (f"the 256 masses at location {float(mean[0]):.3f}, scale {float(scale[0]):.3f} sum to 1", sums_to_one),
    ]


def check_ppca(candidate, seed: int) -> list[tuple[str, bool]]:
    """Correlated seeded data sets (N, D) and latent sizes 1 ≤ d ≤ D − 2 (at d = D − 1 PPCA is the full
    Gaussian, whatever the order of the eigenvalues), against the package's closed form."""
    g = torch.Generator().manual_seed(seed)
    results = []
    for _ in range(3):
        n, dims = int(torch.randint(20, 60, (1,), generator=g)), int(torch.randint(4, 10, (1,), generator=g))
        latent = int(torch.randint(1, dims - 1, (1,), generator=g))    # two or more discarded
        mixing = torch.randn(dims, dims, generator=g, dtype=torch.float64)
        x = torch.randn(n, dims, generator=g, dtype=torch.float64) @ mixing + torch.randn(dims, generator=g,
                                                                                        dtype=torch.float64)
        got = candidate(x, latent)
        want = ppca_max_log_likelihood(x, latent)
        ok = torch.as_tensor(got).numel() == 1 and math.isclose(float(got), want, rel_tol=1e-9, abs_tol=1e-9)
        results.append((f"ppca_max_log_likelihood(x, {latent}) for x of shape ({n}, {dims})", ok))
    return results


register(Exercise("logistic-bin-probability", "16_colour_images", "logistic_bin_probability", 2,
                  check_logistic_bin,
                  ("vaebook.discretized.discretized_logistic_mixture_log_prob", "vaebook.discretized.bin_edges",
                   "vaebook.discretized.bin_mass", "vaebook.likelihoods.DiscretizedLogistic.log_prob")))
register(Exercise("ppca-log-likelihood", "16_colour_images", "ppca_max_log_likelihood", 3, check_ppca,
                  ("vaebook.ppca.ppca_max_log_likelihood", "vaebook.colour.ppca_max_log_likelihood",
                   "vaebook.linear_gaussian.ppca_maximum_likelihood")))
