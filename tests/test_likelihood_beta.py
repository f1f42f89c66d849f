"""A fixed Gaussian variance λ is a KL weight β = 2λ (up to a constant factor and offset), and the β helpers.

    −log N(x; μ, λI) = ‖x − μ‖² / (2λ) + (D/2) log(2πλ)
    loss_λ = ‖x − μ‖²/(2λ) + KL + c = (1/(2λ)) · [‖x − μ‖² + 2λ·KL] + c

With λ' = 1/2 the bracket is the loss of a model with variance 1/2 and β = 2λ. Gradients differ by
the factor 1/(2λ); Adam divides it out, except through its ε. So trajectories agree *bitwise* when
1/(2λ) is a power of two and ε is scaled by the same factor, and only approximately otherwise.
"""

from __future__ import annotations

import math
from functools import partial

import pytest
import torch

from vaebook.likelihoods import GaussianFixed
from vaebook.losses import model_loss
from vaebook.models import MLPVAE
from vaebook.schedules import WeightedELBO, linear_warmup


def _train(variance: float, beta: float, eps: float, steps: int = 25, seed: int = 0, distortion_weight: float = 1.0):
    """Train a tiny MLP VAE with a fixed-variance Gaussian decoder on fixed random data; return params and losses."""
    torch.manual_seed(seed)
    x = torch.rand(64, 1, 6, 6)
    model = MLPVAE(latent_dim=3, hidden=16, image_shape=(1, 6, 6), likelihood={"name": "gaussian", "variance": variance})
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, eps=eps, foreach=False)
    loss_fn = WeightedELBO(beta=beta, distortion_weight=distortion_weight)
    losses = []
    torch.manual_seed(seed + 1)  # the same ε for the reparameterization in both runs
    for _ in range(steps):
        loss = loss_fn(model, (x,))["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return [p.detach().clone() for p in model.parameters()], losses


def test_log_prob_identity():
    """log p_λ = log p_{1/2} / (2λ) + a constant that does not depend on μ (checked with float64)."""
    x, mu = torch.rand(4, 1, 5, 5, dtype=torch.float64), torch.rand(4, 1, 5, 5, dtype=torch.float64)
    for lam in (0.05, 0.125, 1.0, 3.0):
        lhs = GaussianFixed(lam).log_prob(x, mu)
        d = x[0].numel()
        rhs = GaussianFixed(0.5).log_prob(x, mu) / (2 * lam) + d / 2 * (math.log(math.pi) / (2 * lam) - math.log(2 * math.pi * lam))
        torch.testing.assert_close(lhs, rhs)


def test_gaussian_fixed_is_the_gaussian_density():
    """GaussianFixed(λ).log_prob is log N(x; μ, λI) as torch.distributions computes it (the ½ on the squared error included)."""
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(4, 1, 5, 5, generator=gen, dtype=torch.float64)
    mu = torch.rand(4, 1, 5, 5, generator=gen, dtype=torch.float64)
    for lam in (0.01, 0.125, 0.5, 1.0, 4.0):
        expected = torch.distributions.Normal(mu, math.sqrt(lam)).log_prob(x).flatten(1).sum(1)
        torch.testing.assert_close(GaussianFixed(lam).log_prob(x, mu), expected)


def test_power_of_two_factor_gives_bitwise_identical_training():
    """λ = 1/8, β = 1 and ε scaled by 4  ≡  λ = 1/2, β = 1/4: every parameter equal after training."""
    params_a, losses_a = _train(variance=0.125, beta=1.0, eps=4e-8)
    params_b, losses_b = _train(variance=0.5, beta=0.25, eps=1e-8)
    assert all(torch.equal(a, b) for a, b in zip(params_a, params_b))
    d = 36
    const = d / 2 * (math.log(2 * math.pi * 0.125) - 4 * math.log(2 * math.pi * 0.5))  # loss_a − 4·loss_b
    for la, lb in zip(losses_a, losses_b):
        assert la == pytest.approx(4 * lb + const, rel=1e-5, abs=1e-3)


def test_default_eps_breaks_exact_equality_only_slightly():
    """With the same ε for both runs the factor 4 is no longer divided out exactly: close, not equal."""
    params_a, _ = _train(variance=0.125, beta=1.0, eps=1e-8)
    params_b, _ = _train(variance=0.5, beta=0.25, eps=1e-8)
    assert not all(torch.equal(a, b) for a, b in zip(params_a, params_b))
    assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(params_a, params_b))


def test_non_power_of_two_factor_agrees_to_float_error():
    """3 × reconstruction + KL vs reconstruction + KL/3 (β = 1/3): rounding differs, the trajectory does not."""
    params_a, _ = _train(variance=0.5, beta=1.0, eps=3e-8, distortion_weight=3.0)
    params_b, _ = _train(variance=0.5, beta=1 / 3, eps=1e-8)
    assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(params_a, params_b))


def test_weighted_elbo_matches_model_loss_and_keeps_bound():
    model = MLPVAE(latent_dim=2, hidden=8, image_shape=(1, 4, 4))
    x = torch.rand(10, 1, 4, 4)
    torch.manual_seed(3)
    ours = WeightedELBO(beta=0.3)(model, (x,))
    torch.manual_seed(3)
    ref = model_loss(model, (x,), beta=0.3)
    for key in ("loss", "neg_elbo", "rate", "distortion"):
        torch.testing.assert_close(ours[key], ref[key])
    torch.manual_seed(3)
    tripled = WeightedELBO(beta=1.0, distortion_weight=3.0)(model, (x,))
    torch.testing.assert_close(tripled["loss"], 3 * ref["distortion"] + ref["rate"])
    torch.testing.assert_close(tripled["neg_elbo"], ref["neg_elbo"])
    with pytest.raises(ValueError, match="distortion_weight"):
        WeightedELBO(distortion_weight=0)


def test_schedule_advances_in_training_only():
    model = MLPVAE(latent_dim=2, hidden=8, image_shape=(1, 4, 4))
    loss_fn = WeightedELBO(beta=partial(linear_warmup, warmup_steps=4))
    x = torch.rand(3, 1, 4, 4)
    betas = [float(loss_fn(model, (x,))["beta"]) for _ in range(6)]
    assert betas == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    model.eval()
    loss_fn(model, (x,))
    assert loss_fn.step == 6


def test_linear_warmup():
    assert [linear_warmup(s, 5) for s in range(7)] == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.0]
    assert linear_warmup(3, 0) == 1.0
    assert linear_warmup(1, 2, start=0.5, end=1.5) == 1.0
    with pytest.raises(ValueError, match="warmup_steps"):
        linear_warmup(0, -1)
    with pytest.raises(ValueError, match="step"):
        linear_warmup(-1, 3)
