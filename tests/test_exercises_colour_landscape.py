"""Chapters 16 and 17's coding exercises, package side: the references pass their checks, the grader's
process refuses the references themselves, and the checks catch the mistakes they are meant for."""

import json
import random
import subprocess
import sys

import pytest
import torch

from fixtures.wrong_exercises import WRONG
from vaebook.diffusion import NoiseSchedule, q_posterior, q_sample
from vaebook.exercises import EXERCISES, run_checks
from vaebook.exercises.ch16_colour_images import logistic_bin_reference
from vaebook.exercises.registry import _load_chapters
from vaebook.exercises.runner import RESULT_LINE
from vaebook.ppca import ppca_max_log_likelihood

_load_chapters()

# Each exercise answered through the package: right by construction, so every check must pass it.
THROUGH_THE_PACKAGE = {
    "logistic-bin-probability": logistic_bin_reference,
    "ppca-log-likelihood": ppca_max_log_likelihood,
    "ddpm-closed-form": lambda betas, x0, t, noise: q_sample(NoiseSchedule(betas), x0, t, noise),
    "ddpm-posterior": lambda betas, x_t, x0, t: q_posterior(NoiseSchedule(betas), x_t, x0, t),
}

# The same, written as exercise cells: the grader must give each of them zero for a forbidden call.
CALLS_A_REFERENCE = {
    "logistic-bin-probability": (
        "import torch\nfrom vaebook.discretized import discretized_logistic_mixture_log_prob as f\n\n"
        "def logistic_bin_probability(values, means, scales):\n"
        "    return f(values, torch.zeros_like(means)[..., None], means[..., None],"
        " scales.log()[..., None]).exp()\n", "vaebook.discretized.discretized_logistic_mixture_log_prob"),
    "ppca-log-likelihood": (
        "from vaebook import ppca\n\ndef ppca_max_log_likelihood(x, latent_dim):\n"
        "    return ppca.ppca_max_log_likelihood(x, latent_dim)\n", "vaebook.ppca.ppca_max_log_likelihood"),
    "ddpm-closed-form": (
        "from vaebook.models import ddpm\n\ndef diffuse(betas, x0, t, noise):\n"
        "    return ddpm.q_sample(ddpm.NoiseSchedule(betas), x0, t, noise)\n",
        "vaebook.diffusion.NoiseSchedule.__init__"),
    "ddpm-posterior": (
        "import torch\nimport vaebook.diffusion as d\n\ndef posterior_mean_var(betas, x_t, x0, t):\n"
        "    a = torch.cumprod(1 - betas, 0)\n"
        "    s = d.NoiseSchedule.__new__(d.NoiseSchedule)\n"
        "    s.T, s.beta, s.alpha_bar = len(betas), torch.cat([torch.zeros(1, dtype=betas.dtype), betas]),"
        " torch.cat([torch.ones(1, dtype=a.dtype), a])\n"
        "    s.posterior_var = torch.cat([torch.zeros(1, dtype=a.dtype),"
        " s.beta[1:] * (1 - s.alpha_bar[:-1]) / (1 - s.alpha_bar[1:])])\n"
        "    return d.q_posterior(s, x_t, x0, t)\n", "vaebook.diffusion.q_posterior"),
}
NEW = sorted(THROUGH_THE_PACKAGE)


def passed(exercise_id: str, candidate, seed: int) -> bool:
    return all(ok for _, ok, _ in run_checks(exercise_id, candidate, seed))


def test_the_new_exercises_are_registered_with_their_chapters_and_points():
    assert {e: (EXERCISES[e].chapter, EXERCISES[e].points) for e in NEW} == {
        "logistic-bin-probability": ("16_colour_images", 2), "ppca-log-likelihood": ("16_colour_images", 3),
        "ddpm-closed-form": ("17_generative_landscape", 2), "ddpm-posterior": ("17_generative_landscape", 2)}
    assert set(CALLS_A_REFERENCE) == set(NEW) and set(NEW) <= set(WRONG)


@pytest.mark.parametrize("exercise_id", NEW)
def test_the_package_answer_passes_under_the_default_and_a_random_seed(exercise_id):
    seed = random.randrange(1, 2**31)
    assert passed(exercise_id, THROUGH_THE_PACKAGE[exercise_id], 0)
    assert passed(exercise_id, THROUGH_THE_PACKAGE[exercise_id], seed), f"seed {seed}"


@pytest.mark.parametrize("exercise_id", NEW)
def test_the_grader_gives_a_call_of_the_reference_zero(exercise_id):
    code, name = CALLS_A_REFERENCE[exercise_id]
    request = json.dumps({"id": exercise_id, "code": code, "seed": 3})
    done = subprocess.run([sys.executable, "-m", "vaebook.exercises.runner"], input=request, text=True,
                          capture_output=True, timeout=120, check=True)
    results = json.loads(done.stdout.split(RESULT_LINE, 1)[1])
    assert results == [["forbidden call", False, f"calls {name}, which this exercise asks you to write yourself"]]


def test_the_bin_masses_are_the_logistic_cdf_differences_by_hand():
    """Value 128 at location 0, scale 0.5: sigma(2 (1/255 + 1/255)) - sigma(2 (1/255 - 1/255)) -- the bin of
    c = 1/255 reaches from 0 to 2/255; value 0 takes all the mass below -1 + 1/255."""
    values, zero = torch.tensor([128, 0]), torch.zeros(2, dtype=torch.float64)
    half = torch.full((2,), 0.5, dtype=torch.float64)
    want = torch.sigmoid(torch.tensor([4 / 255, 2 * (-1 + 1 / 255)], dtype=torch.float64))
    want[0] -= 0.5                                                          # sigma(0)
    assert torch.allclose(logistic_bin_reference(values, zero, half), want, rtol=1e-12, atol=0)


def test_a_cumulative_sum_gets_the_first_step_right_and_still_fails():
    """1 − β_1 is both the sum's and the product's first term: the check's t = 1 line passes, the other fails."""
    diffuse = {}
    exec(WRONG["ddpm-closed-form"]["a cumulative sum for the cumulative product"], diffuse)
    assert [ok for _, ok, _ in run_checks("ddpm-closed-form", diffuse["diffuse"], 0)] == [True, False]


def test_every_ppca_check_discards_at_least_two_eigenvalues():
    """With one discarded eigenvalue PPCA is the full Gaussian and the order of the eigenvalues does not
    matter; so listing them in ascending order must fail every line."""
    ns = {}
    exec(WRONG["ppca-log-likelihood"]["eigenvalues in ascending order"], ns)
    for seed in (0, 1, 2):
        assert not any(ok for _, ok, _ in run_checks("ppca-log-likelihood", ns["ppca_max_log_likelihood"], seed))
