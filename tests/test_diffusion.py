"""The diffusion model's maths (vaebook.diffusion) and the small DDPM (vaebook.models.ddpm)."""

import math

import pytest
import torch

from vaebook.diffusion import (NoiseSchedule, decoder_nll, forward_process_agrees, posterior_agrees, predicted_mean,
                               prior_kl, q_posterior, q_sample, step_kl, to_signed)
from vaebook.discretized import bits_per_dim, discretized_gaussian_log_prob
from vaebook.distributions import log_normal_diag
from vaebook.estimators import mean_agrees
from vaebook.models import DDPM, build_model


def test_schedule_products_by_hand():
    schedule = NoiseSchedule([0.1, 0.2])
    assert torch.allclose(schedule.alpha_bar, torch.tensor([1.0, 0.9, 0.72], dtype=torch.float64))
    # β̃_2 = (1 − ᾱ_1)/(1 − ᾱ_2) β_2 = 0.1/0.28 · 0.2; β̃_1 = 0, and the model's variance at t = 1 is β_1
    assert torch.allclose(schedule.posterior_var, torch.tensor([0, 0, 0.02 / 0.28], dtype=torch.float64))
    assert torch.allclose(schedule.model_var, torch.tensor([0, 0.1, 0.02 / 0.28], dtype=torch.float64))


def test_linear_schedule_is_the_papers_at_1000_steps_and_scaled_below():
    schedule = NoiseSchedule.linear(1000)
    assert schedule.T == 1000
    assert math.isclose(schedule.beta[1], 1e-4) and math.isclose(schedule.beta[1000], 0.02)
    assert schedule.alpha_bar[-1] < 1e-4      # x_T is noise
    assert NoiseSchedule.linear(100).alpha_bar[-1] < 1e-4


@pytest.mark.parametrize("betas, named", [([], "T = 0"), ([0.1, 1.0], "beta = 1.0"), ([0.0], "beta = 0.0"),
                                          ([-0.1], "beta = -0.1"), ([float("nan")], "beta = nan")])
def test_bad_schedules_are_named(betas, named):
    with pytest.raises(ValueError, match=named):
        NoiseSchedule(betas)


@pytest.mark.parametrize("steps", [0, -3, 2.5])
def test_bad_step_counts_are_named(steps):
    with pytest.raises(ValueError, match=f"got {steps!r}"):
        NoiseSchedule.linear(steps)


def test_too_short_linear_schedule_names_its_steps_and_the_shortest_that_works():
    with pytest.raises(ValueError, match=r"T = 10 steps would end at beta_T = 2, .* at least 21"):
        NoiseSchedule.linear(10)
    with pytest.raises(ValueError, match=r"T = 20 steps would end at beta_T = 1, "):
        NoiseSchedule.linear(20)
    assert math.isclose(NoiseSchedule.linear(21).beta[21], 0.02 * 1000 / 21)


def test_steps_outside_the_chain_are_named():
    schedule = NoiseSchedule.linear(100)
    x = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="t = 101"):
        q_sample(schedule, x, torch.tensor([1, 101]), x)
    with pytest.raises(ValueError, match="t = 1"):
        q_posterior(schedule, x, x, torch.tensor([1, 2]))


def test_closed_form_matches_iterated_steps_and_a_cumulative_sum_fails():
    schedule = NoiseSchedule.linear(1000)
    assert forward_process_agrees(schedule, 300)
    assert forward_process_agrees(schedule, 1)
    # 1 − Σβ is the first-order approximation of Π(1 − β): right at first, far off by step 300
    wrong = torch.cat([torch.ones(1, dtype=torch.float64), 1 - torch.cumsum(schedule.beta[1:], 0)])
    assert not forward_process_agrees(schedule, 300, alpha_bar=wrong)
    # the square root taken twice: √ᾱ where ᾱ belongs
    wrong = schedule.alpha_bar.sqrt()
    assert not forward_process_agrees(schedule, 300, alpha_bar=wrong)


@pytest.mark.parametrize("t, x0, x_t", [(2, 0.3, 0.1), (10, -1.0, 0.5), (500, 0.7, -1.2), (1000, 0.0, 2.0)])
def test_posterior_is_bayes_rule(t, x0, x_t):
    assert posterior_agrees(NoiseSchedule.linear(1000), t, x0, x_t)


def test_posterior_with_swapped_coefficients_fails():
    def swapped(schedule, x_t, x0, t):
        return q_posterior(schedule, x0, x_t, t)

    def beta_as_variance(schedule, x_t, x0, t):
        return q_posterior(schedule, x_t, x0, t)[0], schedule.beta[t].view(1, 1)

    schedule = NoiseSchedule.linear(1000)
    assert not posterior_agrees(schedule, 10, 0.3, 0.1, posterior=swapped)
    assert not posterior_agrees(schedule, 10, 0.3, 0.1, posterior=beta_as_variance)


def test_predicted_mean_at_the_true_noise_is_the_posterior_mean():
    schedule = NoiseSchedule.linear(1000)
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(6, 1, 4, 4, generator=g, dtype=torch.float64) * 2 - 1
    noise = torch.randn(x0.shape, generator=g, dtype=torch.float64)
    t = torch.tensor([2, 3, 50, 300, 700, 1000])
    x_t = q_sample(schedule, x0, t, noise)
    assert torch.allclose(predicted_mean(schedule, x_t, t, noise), q_posterior(schedule, x_t, x0, t)[0], atol=1e-10)
    assert torch.allclose(step_kl(schedule, x0, x_t, t, noise), torch.zeros(6, dtype=torch.float64), atol=1e-8)


def test_step_kl_against_monte_carlo():
    schedule = NoiseSchedule.linear(1000)
    g = torch.Generator().manual_seed(1)
    x0 = torch.rand(1, 5, dtype=torch.float64, generator=g) * 2 - 1
    t = torch.tensor([40])
    x_t = q_sample(schedule, x0, t, torch.randn(x0.shape, generator=g, dtype=torch.float64))
    eps = torch.randn(x0.shape, generator=g, dtype=torch.float64)       # some prediction, not the true noise
    mean_q, var_q = q_posterior(schedule, x_t, x0, t)
    mean_p = predicted_mean(schedule, x_t, t, eps)
    log_var = torch.log(var_q).expand(1, 5)
    draws = mean_q + var_q.sqrt() * torch.randn(200_000, 5, generator=g, dtype=torch.float64)
    log_ratio = log_normal_diag(draws, mean_q, log_var) - log_normal_diag(draws, mean_p, log_var)
    kl = step_kl(schedule, x0, x_t, t, eps)
    assert mean_agrees(log_ratio, kl)
    assert not mean_agrees(log_ratio, 2 * kl)            # a KL without its ½


def test_prior_kl_against_monte_carlo():
    schedule = NoiseSchedule.linear(100)
    g = torch.Generator().manual_seed(2)
    x0 = torch.tensor([[[[-1.0, 0.0], [0.5, 1.0]]]], dtype=torch.float64)
    a = schedule.alpha_bar[-1]
    draws = a.sqrt() * x0.flatten(1) + (1 - a).sqrt() * torch.randn(200_000, 4, generator=g, dtype=torch.float64)
    log_ratio = (log_normal_diag(draws, a.sqrt() * x0.flatten(1), torch.log(1 - a).expand(1, 4))
                 - log_normal_diag(draws, torch.zeros(1, 4, dtype=torch.float64), torch.zeros(1, 4, dtype=torch.float64)))
    assert mean_agrees(log_ratio, prior_kl(schedule, x0))


def test_discretized_gaussian_sums_to_one_over_256_values():
    values = torch.arange(256)
    for mean, std in ((0.3, 0.05), (0.99, 1e-3), (-1.5, 0.01), (0.0, 3.0)):
        log_p = discretized_gaussian_log_prob(values, torch.full((256,), mean, dtype=torch.float64),
                                              torch.full((256,), std, dtype=torch.float64))
        assert torch.isfinite(log_p).all()
        assert math.isclose(float(log_p.exp().sum()), 1.0, abs_tol=1e-9)
    with pytest.raises(ValueError, match="value 256"):
        discretized_gaussian_log_prob(torch.tensor([256]), torch.zeros(1), torch.ones(1))


def test_decoder_nll_is_small_when_the_noise_is_known():
    schedule = NoiseSchedule.linear(1000)
    values = torch.randint(0, 256, (3, 1, 4, 4), generator=torch.Generator().manual_seed(3))
    x0 = to_signed(values).double()
    noise = torch.randn(x0.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    x1 = q_sample(schedule, x0, torch.ones(3, dtype=torch.long), noise)
    nll = decoder_nll(schedule, values, x1, noise)
    # mean = x0 exactly, std = √β_1 = 0.01 around a bin of half-width 1/255: P = erf(0.392/√2) ≈ 0.305 per pixel
    expected = -16 * math.log(math.erf(1 / 255 / 0.01 / math.sqrt(2)))
    inner = values.flatten(1).ne(0) & values.flatten(1).ne(255)
    assert (nll <= expected + 1e-6).all()
    assert torch.allclose(nll[inner.all(1)], torch.full_like(nll[inner.all(1)], expected), atol=1e-6)


def test_uniform_over_256_values_is_8_bits_per_dim():
    assert bits_per_dim(784 * math.log(256), 784) == 8.0


def test_ddpm_loss_bound_and_sampler():
    torch.manual_seed(0)
    model = build_model("ddpm", steps=30, channels=8)
    assert isinstance(model, DDPM)
    x = torch.randint(0, 256, (4, 1, 28, 28)).float() / 255
    loss = model.loss((x, None))
    assert loss["loss"].shape == () and loss["loss"] > 0
    loss["loss"].backward()
    assert all(p.grad is not None for p in model.parameters())
    with torch.no_grad():
        exact = model.nll_bound(x)
        sampled = model.nll_bound(x, samples=3)
    for terms in (exact, sampled):
        assert torch.allclose(terms["total"], terms["prior"] + terms["diffusion"] + terms["decoder"])
        assert (terms["total"] > 0).all()
    samples = model.sample(3, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (3, 1, 28, 28)
    assert torch.equal(samples * 255, (samples * 255).round()) and samples.min() >= 0 and samples.max() <= 1


def test_ddpm_refuses_bad_images():
    model = DDPM(steps=30, channels=8)
    with pytest.raises(ValueError, match=r"\(2, 28, 28\)"):
        model.loss((torch.zeros(2, 28, 28), None))
    with pytest.raises(ValueError, match="1.5"):
        model.loss((torch.full((2, 1, 28, 28), 1.5), None))
    with pytest.raises(ValueError, match="T must be"):
        DDPM(steps=0)


@pytest.mark.parametrize("samples", [0, -1, 2.5, True])
def test_a_bound_of_no_drawn_steps_is_refused_not_returned_without_its_diffusion_terms(samples):
    with pytest.raises(ValueError, match=f"at least 1 .* got {samples!r}"):
        DDPM(steps=30, channels=8).nll_bound(torch.rand(2, 1, 28, 28), samples=samples)
