"""The Parzen-window estimate: a hand computation, the exact density it converges to, the protocol's
bandwidth selection, and clear errors for bad bandwidths."""

import math

import pytest
import torch

from vaebook.parzen import PROTOCOL_SIGMAS, parzen_log_density, parzen_score, select_bandwidth


def test_hand_computation():
    """Two samples in 2-D, σ = 1: log ½ [N(x; s1, I) + N(x; s2, I)] written out."""
    x = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    samples = torch.tensor([[1.0, 0.0], [0.0, 2.0]], dtype=torch.float64)

    def by_hand(point, sigma):
        total = 0.0
        for s in samples.tolist():
            sq = sum((a - b) ** 2 for a, b in zip(point, s))
            total += math.exp(-sq / (2 * sigma**2)) / (2 * math.pi * sigma**2)
        return math.log(total / 2)

    for sigma in (1.0, 0.3):
        got = parzen_log_density(x, samples, sigma)
        assert got.shape == (2,)
        assert got.tolist() == pytest.approx([by_hand(p, sigma) for p in x.tolist()], abs=1e-12)
    both = parzen_log_density(x, samples, [1.0, 0.3])
    assert both.shape == (2, 2) and both[1].tolist() == pytest.approx([by_hand(p, 0.3) for p in x.tolist()])


def test_log_sum_exp_keeps_far_points_finite_and_batches_agree():
    """In 784 dimensions every kernel value underflows to 0 in plain exp; the log-sum-exp does not."""
    g = torch.Generator().manual_seed(0)
    x, samples = torch.rand(7, 1, 28, 28, generator=g), torch.rand(50, 1, 28, 28, generator=g)
    scores = parzen_log_density(x, samples, 0.1)
    assert torch.isfinite(scores).all()
    nearest = torch.cdist(x.flatten(1).double(), samples.flatten(1).double()).min(1).values
    # the nearest sample dominates: log p̂ ≥ its own kernel minus log N
    assert (scores >= -nearest**2 / 0.02 - math.log(50) - 392 * math.log(2 * math.pi * 0.01) - 1e-2).all()
    assert torch.allclose(parzen_log_density(x, samples, 0.1, batch_size=2), scores)


def test_converges_to_the_smoothed_gaussian():
    """Samples of N(0, I): for a fixed σ the estimate tends to the exact density of N(0, (1 + σ²) I)
    (the data's density blurred by the kernel), at rate 1/√N."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(100, 2, generator=g, dtype=torch.float64)
    sigma = 0.5
    exact = torch.distributions.MultivariateNormal(torch.zeros(2, dtype=torch.float64),
                                                   (1 + sigma**2) * torch.eye(2, dtype=torch.float64)).log_prob(x)
    errors = []
    for n in (100, 3_000, 100_000):
        samples = torch.randn(n, 2, generator=g, dtype=torch.float64)
        errors.append(float((parzen_log_density(x, samples, sigma) - exact).abs().mean()))
    assert errors[0] > errors[1] > errors[2] and errors[2] < 0.02


def test_converges_to_the_data_density_as_bandwidth_is_chosen():
    """With σ chosen on a validation set, the estimate approaches log N(x; 0, I) itself as N grows."""
    g = torch.Generator().manual_seed(2)
    x, validation = torch.randn(200, 2, generator=g), torch.randn(200, 2, generator=g)
    exact = -0.5 * (x**2).sum(1) - math.log(2 * math.pi)
    errors, sigmas = [], []
    for n in (100, 2_000, 20_000):
        samples = torch.randn(n, 2, generator=g)
        sigma, _ = select_bandwidth(samples, validation, torch.logspace(-2, 0, 11))
        errors.append(float((parzen_log_density(x, samples, sigma) - exact).mean()))
        sigmas.append(sigma)
    assert abs(errors[2]) < abs(errors[0]) and abs(errors[2]) < 0.05
    assert sigmas[0] > sigmas[2]   # more samples, narrower kernels


def test_protocol():
    assert len(PROTOCOL_SIGMAS) == 10
    assert PROTOCOL_SIGMAS[0] == pytest.approx(0.1) and PROTOCOL_SIGMAS[-1] == pytest.approx(1.0)
    g = torch.Generator().manual_seed(3)
    samples, validation, test = (torch.randn(n, 3, generator=g) * 0.3 for n in (2_000, 300, 400))
    score = parzen_score(samples, validation, test)
    assert score.sigma in PROTOCOL_SIGMAS and score.validation[score.sigma] == max(score.validation.values())
    per_point = parzen_log_density(test, samples, score.sigma)
    assert score.mean == pytest.approx(float(per_point.mean()), rel=1e-6)
    assert score.standard_error == pytest.approx(float(per_point.std()) / 20, rel=1e-6)
    assert "nats (σ = " in str(score)


@pytest.mark.parametrize("sigma", [0.0, -0.5, float("nan"), float("inf")])
def test_bad_bandwidth_names_the_value(sigma):
    x = torch.zeros(2, 3)
    with pytest.raises(ValueError, match=f"a Parzen bandwidth must be a positive number, got {sigma}"):
        parzen_log_density(x, x, sigma)
    with pytest.raises(ValueError, match="positive number"):
        select_bandwidth(x, x, [0.1, sigma])


def test_other_bad_input():
    with pytest.raises(ValueError, match="at least one Parzen bandwidth"):
        select_bandwidth(torch.zeros(2, 3), torch.zeros(2, 3), [])
    with pytest.raises(ValueError, match="points have 3 dimensions but samples have 4"):
        parzen_log_density(torch.zeros(2, 3), torch.zeros(5, 4), 0.1)
    with pytest.raises(ValueError, match="at least one sample"):
        parzen_log_density(torch.zeros(2, 3), torch.zeros(0, 3), 0.1)


def test_memorizer_log_likelihood_by_hand():
    """Two stored images of three pixels; a stored 0 or 1 forbids the opposite pixel value."""
    from vaebook.parzen import memorizer_log_likelihood

    stored = torch.tensor([[0.5, 0.2, 1.0], [0.0, 0.9, 0.6]], dtype=torch.float64)
    x = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0]], dtype=torch.float64)
    first = 0.5 * 0.8 * 1.0                      # x0 under image 0; image 1 forbids pixel 0 on
    second = 0.5 * 0.2 * 1.0 + 1.0 * 0.9 * 0.6   # x1 under both
    got = memorizer_log_likelihood(x, stored)
    assert got[:2].tolist() == pytest.approx([math.log(first / 2), math.log(second / 2)])
    assert got[2] == -math.inf                  # image 0 forbids pixel 2 off, image 1 pixel 0 on
    with pytest.raises(ValueError, match="binary images"):
        memorizer_log_likelihood(torch.full((1, 3), 0.5), stored)
    with pytest.raises(ValueError, match="images have 4 pixels but stored images have 3"):
        memorizer_log_likelihood(torch.zeros(1, 4), stored)
