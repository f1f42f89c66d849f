"""The discretized logistic mixture over 8-bit values, and bits per dimension."""

from __future__ import annotations

import math

import pytest
import torch

from vaebook.discretized import bits_per_dim, discretized_logistic_mixture_log_prob

VALUES = torch.arange(256)


@pytest.fixture(autouse=True)
def _one_thread():
    """Models this small run faster on one thread than on a shared pair of cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _masses(logit_weights, means, log_scales, levels=256):
    """P(v) for every v in {0, ..., levels - 1} of one mixture (parameters of shape (M,))."""
    m = len(means)
    values = torch.arange(levels)
    return discretized_logistic_mixture_log_prob(values, logit_weights.expand(levels, m), means.expand(levels, m),
                                                 log_scales.expand(levels, m), levels=levels).exp()


def test_the_256_masses_sum_to_one_for_random_mixtures():
    g = torch.Generator().manual_seed(0)
    for _ in range(50):
        m = int(torch.randint(1, 5, (1,), generator=g))
        logit_weights = torch.randn(m, generator=g, dtype=torch.float64) * 3
        means = torch.randn(m, generator=g, dtype=torch.float64) * 2          # some far outside [-1, 1]
        log_scales = torch.empty(m, dtype=torch.float64).uniform_(-14, 1, generator=g)
        masses = _masses(logit_weights, means, log_scales)
        assert masses.shape == (256,) and bool((masses >= 0).all())
        assert float(masses.sum()) == pytest.approx(1.0, abs=1e-8)


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-8), (torch.float32, 1e-5)])
def test_masses_sum_to_one_with_a_tiny_scale_on_a_bin_edge(dtype, tol):
    # a logistic narrower than a bin, centred exactly on an edge between two values: half its mass on each
    for k in (0, 1, 100, 127, 200, 254):
        edge = torch.tensor([(2 * k + 1) / 255 - 1], dtype=dtype)
        masses = _masses(torch.zeros(1, dtype=dtype), edge, torch.tensor([-12.0], dtype=dtype)).double()
        assert float(masses.sum()) == pytest.approx(1.0, abs=tol)
        if dtype == torch.float64:   # in float32 the edge itself is rounded, by more than this scale resolves
            assert float(masses[k]) == pytest.approx(0.5, abs=tol)
            assert float(masses[k + 1]) == pytest.approx(0.5, abs=tol)


def test_means_far_outside_put_all_mass_on_the_end_values():
    tiny = torch.tensor([-5.0], dtype=torch.float64)
    assert float(_masses(torch.zeros(1, dtype=torch.float64), torch.tensor([-3.0], dtype=torch.float64), tiny)[0]) \
        == pytest.approx(1.0, abs=1e-12)
    assert float(_masses(torch.zeros(1, dtype=torch.float64), torch.tensor([3.0], dtype=torch.float64), tiny)[255]) \
        == pytest.approx(1.0, abs=1e-12)


def _sigmoid(t: float) -> float:
    return 1 / (1 + math.exp(-t))


@pytest.mark.parametrize("value", [0, 37, 128, 255])
def test_one_logistic_by_hand(value):
    mean, log_scale = 0.1, -2.0
    s = math.exp(log_scale)
    x = 2 * value / 255 - 1
    upper = 1.0 if value == 255 else _sigmoid((x + 1 / 255 - mean) / s)
    lower = 0.0 if value == 0 else _sigmoid((x - 1 / 255 - mean) / s)
    got = discretized_logistic_mixture_log_prob(torch.tensor([value]), torch.zeros(1, 1, dtype=torch.float64),
                                                torch.full((1, 1), mean, dtype=torch.float64),
                                                torch.full((1, 1), log_scale, dtype=torch.float64))
    assert float(got) == pytest.approx(math.log(upper - lower), rel=1e-10)


def test_a_mixture_is_the_weighted_sum_of_its_components():
    g = torch.Generator().manual_seed(1)
    logit_weights = torch.randn(3, generator=g, dtype=torch.float64)
    means = torch.randn(3, generator=g, dtype=torch.float64)
    log_scales = torch.randn(3, generator=g, dtype=torch.float64) - 2
    mixture = _masses(logit_weights, means, log_scales)
    weights = logit_weights.softmax(0)
    components = [_masses(torch.zeros(1, dtype=torch.float64), means[i:i + 1], log_scales[i:i + 1]) for i in range(3)]
    torch.testing.assert_close(mixture, sum(w * c for w, c in zip(weights, components)))


def test_rejects_floats_and_values_out_of_range():
    params = (torch.zeros(1, 1), torch.zeros(1, 1), torch.zeros(1, 1))
    with pytest.raises(TypeError, match="integers"):
        discretized_logistic_mixture_log_prob(torch.tensor([3.0]), *params)
    with pytest.raises(ValueError, match="value 256"):
        discretized_logistic_mixture_log_prob(torch.tensor([256]), *params)
    with pytest.raises(ValueError, match="value -1"):
        discretized_logistic_mixture_log_prob(torch.tensor([-1]), *params)


def test_bits_per_dim():
    assert bits_per_dim(100.0, 784) == pytest.approx(100.0 / (784 * math.log(2)), rel=1e-12)
    torch.testing.assert_close(bits_per_dim(torch.tensor([2.0, 4.0]), 2),
                               torch.tensor([2.0, 4.0]) / (2 * math.log(2)))
    # uniform noise on 8-bit pixels: probability 1/256 each, so -log p = dims * log 256 nats = 8 bits/dim
    dims = 3 * 32 * 32
    assert bits_per_dim(dims * math.log(256), dims) == pytest.approx(8.0, abs=1e-12)
    with pytest.raises(ValueError, match="dims"):
        bits_per_dim(1.0, 0)



def test_gradients_are_finite_at_the_end_bins():
    """The end bins reach to ±∞; their gradients with respect to the means and scales must not be
    0 · ∞ = NaN, or a decoder trained with them stops at its first step."""
    from vaebook.discretized import discretized_gaussian_log_prob

    values = torch.tensor([0, 1, 128, 254, 255])
    means = torch.zeros(5, 1, requires_grad=True)
    log_scales = torch.full((5, 1), -2.0, requires_grad=True)
    discretized_logistic_mixture_log_prob(values, torch.zeros(5, 1), means, log_scales).sum().backward()
    assert torch.isfinite(means.grad).all() and torch.isfinite(log_scales.grad).all()
    assert (log_scales.grad[[0, -1]] != 0).all()
    mean, std = torch.zeros(5, requires_grad=True), torch.full((5,), 0.2, requires_grad=True)
    discretized_gaussian_log_prob(values, mean, std).sum().backward()
    assert torch.isfinite(mean.grad).all() and torch.isfinite(std.grad).all()
