"""Chapter 12's training helpers: step-counted schedules, NMSE, codes tracked per epoch, the gradient check."""

from __future__ import annotations

import pytest
import torch

from vaebook.data import TensorLoader
from vaebook.models.vqvae import (VQVAE, StepLoader, normalised_mse, straight_through_passes,
                                  train_logging_nmse, train_tracking_codes)


def test_step_loader_draws_the_asked_number_of_batches_reproducibly():
    images = torch.arange(50.0).view(50, 1, 1, 1)
    loader = StepLoader(images, batch_size=4, steps=7, seed=3)
    batches = [x for x, _ in loader]
    assert len(loader) == 7 and len(batches) == 7 and all(x.shape == (4, 1, 1, 1) for x in batches)
    again = [x for x, _ in StepLoader(images, batch_size=4, steps=7, seed=3)]
    assert all(torch.equal(a, b) for a, b in zip(batches, again))
    with pytest.raises(ValueError, match="steps"):
        StepLoader(images, batch_size=4, steps=0)


def test_normalised_mse_is_the_reconstructions_mse_over_the_variance():
    torch.manual_seed(0)
    model = VQVAE(num_codes=4, code_dim=2, width=4, image_shape=(1, 8, 8),
                  likelihood={"name": "gaussian", "variance": 1.0}).eval()
    x = torch.rand(6, 1, 8, 8)
    expected = float((model.reconstruct(x) - x).pow(2).mean()) / 0.5
    assert normalised_mse(model, x, variance=0.5, batch_size=4) == pytest.approx(expected, rel=1e-6)


def test_train_logging_nmse_logs_at_each_step_count():
    torch.manual_seed(0)
    model = VQVAE(num_codes=8, code_dim=4, width=8, ema=True, image_shape=(3, 8, 8),
                  likelihood={"name": "gaussian", "variance": 0.02})
    x = torch.rand(64, 3, 8, 8)
    log = train_logging_nmse(model, x, x[:16], (2, 5), batch_size=8)
    assert [entry["step"] for entry in log] == [2, 5]
    assert all(entry["nmse"] > 0 and 1 <= entry["codes_used"] <= 8 for entry in log)
    with pytest.raises(ValueError, match="log_at"):
        train_logging_nmse(model, x, x[:16], (5, 2))


def test_train_tracking_codes_counts_codes_after_every_epoch():
    torch.manual_seed(0)
    model = VQVAE(num_codes=8, code_dim=4, width=8)
    x = torch.rand(32, 1, 28, 28).bernoulli()
    loader = TensorLoader((x, torch.zeros(32)), batch_size=16)
    history, usage = train_tracking_codes(model, loader, 2, loader)
    assert history["epoch"] == [1, 2] and len(usage) == 2 and "train_perplexity" in history
    assert all(1 <= u["codes_used"] <= 8 and 1 <= u["perplexity"] <= 8 for u in usage)


def _beta_on_codebook_term(quantizer, z_e):
    out, indices, terms = quantizer(z_e)
    return out, indices, {"codebook": terms["commitment"], "commitment": terms["codebook"]}


def _terms_after_patch(quantizer, z_e):
    b, d, h, w = z_e.shape
    indices = quantizer.nearest(z_e.permute(0, 2, 3, 1).reshape(-1, d).detach())
    z_q = quantizer.codebook[indices].view(b, h, w, d).permute(0, 3, 1, 2)
    out = z_e + (z_q - z_e).detach()
    return out, indices.view(b, h, w), {"codebook": (out - z_e.detach()).pow(2).flatten(1).sum(1),
                                        "commitment": (z_e - out.detach()).pow(2).flatten(1).sum(1)}


def test_straight_through_check_passes_the_package_and_fails_known_bugs():
    assert straight_through_passes()
    assert straight_through_passes(beta=0.7, seed=5)
    assert not straight_through_passes(_beta_on_codebook_term)
    assert not straight_through_passes(_terms_after_patch)
