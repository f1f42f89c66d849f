import math

import pytest
import torch

from vaebook.toy import grid_log_likelihood, ring_decoder


def test_ring_decoder_maps_the_prior_onto_two_rings():
    z = torch.randn(20_000, 2, generator=torch.Generator().manual_seed(0))
    mean, log_var = ring_decoder(z)
    radius = mean.norm(dim=1)
    assert mean.shape == log_var.shape == (20_000, 2)
    assert ((radius > 0.99) & (radius < 2.01)).all()
    assert ((radius - 1).abs() < 0.1).float().mean() > 0.3 and ((radius - 2).abs() < 0.1).float().mean() > 0.3
    assert torch.allclose(log_var, torch.full_like(log_var, 2 * math.log(0.08)))
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        ring_decoder(torch.zeros(5, 3))


def test_grid_log_likelihood_of_a_standard_normal():
    step = 0.01
    axis = torch.arange(-8, 8, step, dtype=torch.float64) + step / 2
    grid = torch.cartesian_prod(axis, axis)
    f = lambda x: -0.5 * (x**2).sum(1)  # noqa: E731  (unnormalised: log Z = log 2π)
    data = torch.randn(1000, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    exact = float((-0.5 * (data**2).sum(1) - math.log(2 * math.pi)).mean())
    assert grid_log_likelihood(f(data), f(grid), step**2) == pytest.approx(exact, abs=1e-6)
    assert grid_log_likelihood(f(data) + 5, f(grid) + 5, step**2) == pytest.approx(exact, abs=1e-6)
