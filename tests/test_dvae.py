"""The denoising VAE: the corruptions against hand computations, the loss as the VAE's loss on the
corrupted input scored on the clean target, the closed forms on the linear-Gaussian model, bad input,
and checkpoints that torch.load(weights_only=True) reads."""

import math

import pytest
import torch

from vaebook.checkpoint import load_model, save_checkpoint
from vaebook.data import TensorLoader
from vaebook.denoising import (corrupt, denoising_negative_elbo, linear_encoder, linear_gaussian_denoising,
                               linear_gaussian_denoising_draws)
from vaebook.estimators import mean_agrees
from vaebook.linear_gaussian import LinearGaussian
from vaebook.losses import negative_elbo
from vaebook.models import MODELS, MLPVAE, build_model
from vaebook.models.dvae import DenoisingVAE
from vaebook.settings import seed_everything
from vaebook.train import Trainer


def test_salt_and_pepper_by_hand():
    """Each pixel: hit if its first uniform is below the level; a hit pixel becomes 1 if its second
    uniform is below 1/2, else 0. Recomputed pixel by pixel from the same draws."""
    x = torch.tensor([[[[0.0, 1.0], [0.3, 1.0]]], [[[1.0, 0.0], [0.0, 0.7]]]])
    level = 0.4
    out = corrupt(x, "salt-and-pepper", level, generator=torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)
    hits, coins = torch.rand(x.shape, generator=g), torch.rand(x.shape, generator=g)
    expected = x.clone()
    for index in torch.cartesian_prod(*[torch.arange(n) for n in x.shape]).tolist():
        index = tuple(index)
        if hits[index] < level:
            expected[index] = 1.0 if coins[index] < 0.5 else 0.0
    assert torch.equal(out, expected) and not torch.equal(out, x)


def test_flip_by_hand_and_the_extreme_levels():
    x = torch.tensor([[[[0.0, 1.0, 0.25, 1.0]]]])
    g = torch.Generator().manual_seed(0)
    hits = torch.rand(x.shape, generator=torch.Generator().manual_seed(0)) < 0.5
    out = corrupt(x, "flip", 0.5, generator=g)
    assert torch.equal(out, torch.where(hits, 1 - x, x))
    assert torch.equal(corrupt(x, "flip", 1.0), 1 - x)
    for kind in ("flip", "salt-and-pepper"):
        assert torch.equal(corrupt(x, kind, 0.0), x)
    assert set(corrupt(x, "salt-and-pepper", 1.0).unique().tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("kind, changed", [("salt-and-pepper", 0.5), ("flip", 1.0)])
def test_fraction_of_binary_pixels_changed(kind, changed):
    """A binary pixel changes with probability p/2 (salt-and-pepper: hit, then the coin disagrees)
    or p (flip); 20,000 images of 16 pixels."""
    seed_everything(0)
    level = 0.3
    x = torch.bernoulli(torch.full((20_000, 1, 4, 4), 0.3))
    moved = (corrupt(x, kind, level) != x).float().flatten(1).mean(1)
    assert mean_agrees(moved, changed * level)
    assert not mean_agrees(moved, changed * level + 0.01)


@pytest.mark.parametrize("level", [-0.1, 1.5, float("nan"), "0.2", True])
def test_a_level_outside_the_unit_interval_is_named(level):
    with pytest.raises(ValueError, match="a corruption level is a probability in \\[0, 1\\], got " + repr(level).replace(".", "\\.")):
        corrupt(torch.zeros(1, 1, 2, 2), "flip", level)
    with pytest.raises(ValueError, match="got"):
        DenoisingVAE(level=level)


def test_an_unknown_corruption_is_named():
    with pytest.raises(ValueError, match="unknown corruption 'gaussian'; known corruptions: salt-and-pepper, flip"):
        DenoisingVAE(corruption="gaussian")


def test_dvae_loss_is_the_vae_loss_on_the_corrupted_input_scored_on_the_clean_target():
    model = DenoisingVAE(latent_dim=3, hidden=16, corruption="salt-and-pepper", level=0.25)
    x = torch.bernoulli(torch.full((6, 1, 28, 28), 0.2))
    torch.manual_seed(7)
    loss = model.loss((x, None))
    torch.manual_seed(7)
    noisy = corrupt(x, "salt-and-pepper", 0.25)     # drawn first, then the reparameterisation
    assert not torch.equal(noisy, x)
    expected = negative_elbo(model, noisy, target=x)
    for key in ("loss", "neg_elbo", "rate", "distortion"):
        torch.testing.assert_close(loss[key], expected[key])
    torch.manual_seed(7)
    torch.testing.assert_close(denoising_negative_elbo(model, x, "salt-and-pepper", 0.25)["loss"], expected["loss"])
    # scored against the corrupted input instead, it is another number
    torch.manual_seed(7)
    assert not torch.allclose(negative_elbo(model, corrupt(x, "salt-and-pepper", 0.25))["loss"], loss["loss"])


def test_in_eval_mode_the_dvae_is_the_mlp_vae_on_clean_images():
    seed_everything(0)
    model = DenoisingVAE(latent_dim=3, hidden=16, level=0.5).eval()
    plain = MLPVAE(latent_dim=3, hidden=16).eval()
    plain.load_state_dict(model.state_dict())
    x = torch.bernoulli(torch.full((5, 1, 28, 28), 0.3))
    torch.manual_seed(1)
    a = model.loss((x, None))
    torch.manual_seed(1)
    b = plain.loss((x, None))
    assert all(torch.equal(a[key], b[key]) for key in a)
    torch.manual_seed(2)
    iw_a = model.iw_log_likelihood((x, None), k=5)
    torch.manual_seed(2)
    torch.testing.assert_close(iw_a, plain.iw_log_likelihood((x, None), k=5))


def test_registered_trains_and_round_trips_with_weights_only(tmp_path):
    assert MODELS["dvae"] is DenoisingVAE
    seed_everything(0)
    model = build_model("dvae", latent_dim=2, hidden=8, corruption="flip", level=0.2)
    data = (torch.bernoulli(torch.full((64, 1, 28, 28), 0.2)), torch.zeros(64, dtype=torch.long))
    trainer = Trainer(model, progress=False)
    history = trainer.fit(TensorLoader(data, batch_size=32), 1, test_loader=TensorLoader(data, 64, shuffle=False))
    assert math.isfinite(history["train_neg_elbo"][0]) and math.isfinite(history["test_neg_elbo"][0])
    path = save_checkpoint(tmp_path / "dvae.pt", model, trainer.optimizer, 1, history)
    state = torch.load(path, weights_only=True)
    assert state["model_name"] == "dvae" and state["model_config"]["corruption"] == "flip"
    loaded, _ = load_model(path)
    assert isinstance(loaded, DenoisingVAE) and loaded.level == 0.2 and not loaded.training
    for p, q in zip(loaded.parameters(), model.parameters()):
        assert torch.equal(p, q)


def linear_case():
    g = torch.Generator().manual_seed(0)
    model = LinearGaussian.random(5, 2, noise_var=0.5, generator=g)
    x, _ = model.sample(3, generator=g)
    return model, x


def test_linear_encoder_is_the_posterior_mean():
    model, x = linear_case()
    mean, _ = model.posterior(x)
    torch.testing.assert_close((x - model.b) @ linear_encoder(model).T, mean)


def test_denoising_bound_closed_form_against_monte_carlo():
    """L_dvae = L(q̃) − I(x̃; z) ≤ L(q̃) ≤ log p(x): the mean of 4,000 draws of the ELBO at x̃ agrees
    with the closed form, and not with the mixture's ELBO (the bound without its Jensen gap)."""
    model, x = linear_case()
    log_var = torch.log(torch.tensor([0.05, 0.02], dtype=torch.float64))   # an overconfident encoder
    bounds = linear_gaussian_denoising(model, x, 0.5, log_var)
    draws = linear_gaussian_denoising_draws(model, x, 0.5, 4_000, log_var, generator=torch.Generator().manual_seed(1))
    assert mean_agrees(draws, bounds["denoising"])
    assert not mean_agrees(draws, bounds["mixture_elbo"])
    assert (bounds["denoising"] < bounds["mixture_elbo"]).all() and (bounds["mixture_elbo"] <= bounds["log_px"]).all()
    assert (bounds["mixture_elbo"] > bounds["elbo"]).all()     # the wider mixture beats this q ...
    assert (bounds["denoising"] < bounds["elbo"]).all()        # ... but the criterion does not collect it
    clean = linear_gaussian_denoising(model, x, 0.0, log_var)
    torch.testing.assert_close(clean["denoising"], clean["elbo"])
    torch.testing.assert_close(linear_gaussian_denoising_draws(model, x, 0.0, 2, log_var)[1], clean["elbo"])
    with pytest.raises(ValueError, match="noise_std must be at least 0, got -1"):
        linear_gaussian_denoising(model, x, -1)


def test_gaussian_corruption_costs_a_linear_encoder_half_s_squared_trace():
    """The identity of the chapter's first exercise: L_dvae = ELBO(q(.|x)) − (s²/2) tr(Λ M Mᵀ),
    Λ = I + WᵀW/λ the posterior precision."""
    model, x = linear_case()
    s = 0.7
    bounds = linear_gaussian_denoising(model, x, s)
    M = linear_encoder(model)
    precision = torch.eye(2, dtype=x.dtype) + model.W.T @ model.W / model.noise_var
    with torch.no_grad():
        expected = bounds["elbo"] - 0.5 * s**2 * torch.trace(precision @ M @ M.T)
    torch.testing.assert_close(bounds["denoising"], expected)


def test_cli_trains_the_dvae_and_names_a_bad_level(tmp_path, monkeypatch, capsys):
    from vaebook.cli import main

    monkeypatch.setenv("VAEBOOK_PROFILE", "smoke")
    monkeypatch.delenv("VAEBOOK_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # no data: the bundled subset
    out = tmp_path / "dvae.json"
    assert main(["train", "--model", "dvae", "--epochs", "1", "--subset", "128", "--latent-dim", "2",
                 "--option", "hidden=16", "--option", "level=0.2", "--json", str(out)]) == 0
    assert (tmp_path / "dvae.pt").is_file() and out.is_file()
    assert main(["train", "--model", "dvae", "--epochs", "1", "--subset", "128", "--option", "level=1.5",
                 "--json", str(tmp_path / "bad.json")]) == 1
    assert "a corruption level is a probability in [0, 1], got 1.5" in capsys.readouterr().err
