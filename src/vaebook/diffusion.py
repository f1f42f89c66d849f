"""The maths of a denoising diffusion model (Ho et al. 2020), apart from any network.

The forward process adds Gaussian noise in T steps, q(x_t | x_{t-1}) = N(√(1 − β_t) x_{t-1}, β_t),
so that q(x_t | x_0) = N(√ᾱ_t x_0, 1 − ᾱ_t) with ᾱ_t = Π_{s≤t} (1 − β_s), and the step back given
x_0 is Gaussian too, q(x_{t-1} | x_t, x_0) = N(μ̃_t, β̃_t). The model's variational bound on
−log p(x_0) is a sum of KL divergences between Gaussians, one per step, plus a discretized decoder
at t = 1 that gives each of the 256 pixel values a probability. Steps are numbered 1..T as in the
paper; ``alpha_bar[0] = 1`` stands for "no noise yet". Pixels live in [-1, 1].
"""

from __future__ import annotations

import math

import torch

from vaebook.discretized import discretized_gaussian_log_prob
from vaebook.distributions import kl_normal_normal, kl_normal_std_normal, log_normal_diag


class NoiseSchedule:
    """β_1..β_T, each in (0, 1), with the products the closed forms need (float64, on the CPU)."""

    def __init__(self, betas: torch.Tensor | list[float]):
        betas = torch.as_tensor(betas, dtype=torch.float64).flatten()
        if len(betas) < 1:
            raise ValueError(f"a noise schedule needs T >= 1 steps, got T = {len(betas)}")
        outside = betas[~((betas > 0) & (betas < 1))]
        if len(outside):
            raise ValueError(f"every beta must lie in (0, 1), got beta = {float(outside[0])}")
        self.T = len(betas)
        self.beta = torch.cat([torch.zeros(1, dtype=torch.float64), betas])     # beta[t], t = 1..T
        self.alpha_bar = torch.cumprod(1 - self.beta, 0)                       # alpha_bar[0] = 1
        # β̃_t = (1 − ᾱ_{t-1}) / (1 − ᾱ_t) · β_t, the variance of q(x_{t-1} | x_t, x_0); β̃_1 = 0
        self.posterior_var = torch.cat([torch.zeros(1, dtype=torch.float64), self.beta[1:]
                                        * (1 - self.alpha_bar[:-1]) / (1 - self.alpha_bar[1:])])
        # the model's fixed variance of p(x_{t-1} | x_t): β̃_t, and β_1 at t = 1 (the decoder's spread)
        self.model_var = torch.cat([self.posterior_var[:1], self.beta[1:2], self.posterior_var[2:]])

    @classmethod
    def linear(cls, steps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> "NoiseSchedule":
        """Ho et al.'s linear schedule, its ends scaled by 1000/T so that a shorter chain still ends
        near pure noise (Nichol and Dhariwal 2021); T = 1000 gives the paper's 1e-4 to 0.02."""
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(f"the number of diffusion steps T must be an integer of at least 1, got {steps!r}")
        scale = 1000 / steps
        if scale * beta_end >= 1:   # a chain this short would need a step of more than all the noise
            shortest = math.floor(1000 * beta_end) + 1
            raise ValueError(f"the linear schedule scaled to T = {steps} steps would end at beta_T = "
                             f"{scale * beta_end:.3g}, outside (0, 1): use T of at least {shortest}, "
                             f"or a NoiseSchedule of your own betas")
        return cls(torch.linspace(scale * beta_start, scale * beta_end, steps, dtype=torch.float64))

    def at(self, values: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """``values[t]`` shaped to broadcast over a batch ``like`` (N, ...), in its dtype and device."""
        out = values[t.cpu()].to(like.dtype).to(like.device)
        return out.view(-1, *([1] * (like.dim() - 1)))

    def check_steps(self, t: torch.Tensor, low: int = 1) -> torch.Tensor:
        t = torch.as_tensor(t).long()
        if t.numel() and (t.min() < low or t.max() > self.T):
            bad = int(t.min()) if t.min() < low else int(t.max())
            raise ValueError(f"step t must lie in {low}..{self.T}, got t = {bad}")
        return t


def q_sample(schedule: NoiseSchedule, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε: a draw from q(x_t | x_0) in one step (t per example)."""
    t = schedule.check_steps(t, low=0)
    a = schedule.at(schedule.alpha_bar, t, x0)
    return a.sqrt() * x0 + (1 - a).sqrt() * noise


def q_step(schedule: NoiseSchedule, x_prev: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """x_t = √(1 − β_t) x_{t-1} + √β_t ε: one step of the forward process."""
    t = schedule.check_steps(t)
    b = schedule.at(schedule.beta, t, x_prev)
    return (1 - b).sqrt() * x_prev + b.sqrt() * noise


def q_posterior(schedule: NoiseSchedule, x_t: torch.Tensor, x0: torch.Tensor, t: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and variance of q(x_{t-1} | x_t, x_0), t ≥ 2 (at t = 1 it is a point mass at x_0):

    μ̃ = √ᾱ_{t-1} β_t / (1 − ᾱ_t) · x_0 + √(1 − β_t) (1 − ᾱ_{t-1}) / (1 − ᾱ_t) · x_t,
    β̃ = (1 − ᾱ_{t-1}) / (1 − ᾱ_t) · β_t.
    """
    t = schedule.check_steps(t, low=2)
    b, a, a_prev = (schedule.at(v, s, x0) for v, s in
                    ((schedule.beta, t), (schedule.alpha_bar, t), (schedule.alpha_bar, t - 1)))
    mean = a_prev.sqrt() * b / (1 - a) * x0 + (1 - b).sqrt() * (1 - a_prev) / (1 - a) * x_t
    return mean, schedule.at(schedule.posterior_var, t, x0)


def predicted_mean(schedule: NoiseSchedule, x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor
                   ) -> torch.Tensor:
    """The model's mean of p(x_{t-1} | x_t) from its noise prediction ε̂:
    (x_t − β_t / √(1 − ᾱ_t) · ε̂) / √(1 − β_t), which is μ̃ at the x_0 that ε̂ implies."""
    t = schedule.check_steps(t)
    b, a = schedule.at(schedule.beta, t, x_t), schedule.at(schedule.alpha_bar, t, x_t)
    return (x_t - b / (1 - a).sqrt() * eps) / (1 - b).sqrt()


def prior_kl(schedule: NoiseSchedule, x0: torch.Tensor) -> torch.Tensor:
    """L_T = KL(q(x_T | x_0) ‖ N(0, I)) in nats per example (no parameters: the schedule decides it)."""
    t = torch.full((len(x0),), schedule.T)
    a = schedule.at(schedule.alpha_bar, t, x0)
    mean = (a.sqrt() * x0).flatten(1)
    return kl_normal_std_normal(mean, torch.log(1 - a).flatten(1).expand_as(mean))


def step_kl(schedule: NoiseSchedule, x0: torch.Tensor, x_t: torch.Tensor,
            t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """L_{t-1} = KL(q(x_{t-1} | x_t, x_0) ‖ p(x_{t-1} | x_t)) in nats per example,
    t ≥ 2, for a noise prediction ε̂ = ``eps``: two Gaussians with the same
    variance β̃_t, through the package's KL."""
    mean_q, var_q = q_posterior(schedule, x_t, x0, t)
    mean_p = predicted_mean(schedule, x_t, t, eps)
    log_var = torch.log(var_q).expand_as(mean_q).flatten(1)
    return kl_normal_normal(mean_q.flatten(1), log_var, mean_p.flatten(1), log_var)


def decoder_nll(schedule: NoiseSchedule, values: torch.Tensor, x1: torch.Tensor, eps: torch.Tensor,
                levels: int = 256) -> torch.Tensor:
    """L_0 = −log p(x_0 | x_1) in nats per example: the Gaussian N(μ_θ(x_1, 1), β_1) given each of the
    ``levels`` values the mass of its bin on [-1, 1] (``values``: integer pixels, shape of x1)."""
    t = torch.ones(len(x1), dtype=torch.long)
    mean = predicted_mean(schedule, x1, t, eps)
    std = schedule.at(schedule.model_var, t, x1).sqrt().expand_as(mean)
    return -discretized_gaussian_log_prob(values, mean, std, levels).flatten(1).sum(1)


def to_signed(values: torch.Tensor, levels: int = 256) -> torch.Tensor:
    """Integer pixels {0, ..., levels − 1} to the model's scale [-1, 1]."""
    return values.float() * (2 / (levels - 1)) - 1


def forward_process_agrees(schedule: NoiseSchedule, t: int, samples: int = 4_000, seed: int = 0,
                           alpha_bar: torch.Tensor | None = None) -> bool:
    """Check the closed form q(x_t | x_0) against t steps of q(x_s | x_{s-1}), by Monte Carlo.

    Eight starting values x_0 in [-1, 1], each run forward ``samples`` times; the mean and the
    variance of x_t must agree (:func:`vaebook.estimators.mean_agrees`, five standard errors) with
    √ᾱ_t x_0 and 1 − ᾱ_t. ``alpha_bar``: another ᾱ to test in place of the schedule's (a wrong
    formula must fail).
    """
    from vaebook.estimators import mean_agrees

    alpha_bar = schedule.alpha_bar if alpha_bar is None else alpha_bar
    g = torch.Generator().manual_seed(seed)
    x0 = torch.linspace(-1, 1, 8, dtype=torch.float64).expand(samples, 8)
    x = x0
    for s in range(1, t + 1):
        x = q_step(schedule, x, torch.full((samples,), s), torch.randn(x.shape, generator=g, dtype=torch.float64))
    mean, var = alpha_bar[t].sqrt() * x0[0], 1 - alpha_bar[t]
    return mean_agrees(x, mean) and mean_agrees((x - mean) ** 2, var)


def posterior_agrees(schedule: NoiseSchedule, t: int, x0: float, x_t: float, posterior=q_posterior,
                     points: int = 200_001) -> bool:
    """Check q(x_{t-1} | x_t, x_0) against Bayes' rule in one dimension, on a fine grid in float64.

    The density of x_{t-1} is q(x_t | x_{t-1}) q(x_{t-1} | x_0), normalised by summing over the grid;
    its mean and variance must match ``posterior(schedule, x_t, x_0, t)`` to 1e-6.
    """
    tt = torch.tensor([t])
    a_prev, b = float(schedule.alpha_bar[t - 1]), float(schedule.beta[t])
    centre, spread = math.sqrt(a_prev) * x0, math.sqrt(1 - a_prev)
    # the grid spans both factors, the prior q(x_{t-1} | x_0) and the likelihood of x_t, by 12 widths
    seen, width = x_t / math.sqrt(1 - b), math.sqrt(b / (1 - b))
    reach = 12 * max(spread, width)
    grid = torch.linspace(min(centre, seen) - reach, max(centre, seen) + reach, points, dtype=torch.float64)
    log_density = (log_normal_diag(torch.full_like(grid, x_t)[:, None], math.sqrt(1 - b) * grid[:, None],
                                   torch.full((points, 1), math.log(b), dtype=torch.float64))
                   + log_normal_diag(grid[:, None], torch.full((points, 1), centre, dtype=torch.float64),
                                     torch.full((points, 1), math.log(1 - a_prev), dtype=torch.float64)))
    weights = torch.softmax(log_density, 0)
    mean = float((weights * grid).sum())
    var = float((weights * (grid - mean) ** 2).sum())
    one = torch.ones(1, 1, dtype=torch.float64)
    mean_q, var_q = posterior(schedule, x_t * one, x0 * one, tt)
    return math.isclose(float(mean_q), mean, rel_tol=1e-6, abs_tol=1e-6) and \
        math.isclose(float(var_q), var, rel_tol=1e-6, abs_tol=1e-9)
