"""The convolutional VAE and the deterministic autoencoder: shapes, losses, gradients, registry, checkpoints, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vaebook.checkpoint import load_model, save_checkpoint
from vaebook.cli import main
from vaebook.distributions import kl_normal_std_normal
from vaebook.models import AAE, DCGAN, DDPM, MODELS, VQVAE, Autoencoder, ConvVAE, PixelCNN, build_model, model_name
from vaebook.latent import interpolation_images, latent_grid_images


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_registered():
    assert MODELS["conv"] is ConvVAE and MODELS["ae"] is Autoencoder
    assert model_name(build_model("conv", latent_dim=4)) == "conv"
    assert model_name(build_model("ae", latent_dim=2)) == "ae"


@pytest.mark.parametrize("likelihood, channels", [("bernoulli", 1), ("gaussian", 1), ("gaussian-learned", 2)])
def test_conv_shapes_mnist(likelihood, channels):
    model = build_model("conv", latent_dim=8, width=4, likelihood=likelihood)
    x = torch.rand(5, 1, 28, 28)
    mu, log_var = model.encode(x)
    assert mu.shape == log_var.shape == (5, 8)
    assert model.decode(mu).shape == (5, channels, 28, 28)
    assert model.sample(3).shape == (3, 1, 28, 28)
    assert model.reconstruct(x).shape == x.shape


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (1, 17, 23), (2, 5, 9)])
def test_conv_decoder_retraces_encoder_sizes(shape):
    model = ConvVAE(latent_dim=3, width=2, image_shape=shape)
    out, mu, log_var, z = model(torch.rand(2, *shape))
    assert out.shape == (2, *shape) and z.shape == (2, 3)


def test_conv_default_capacity():
    model = ConvVAE()
    assert model.latent_dim == 32
    assert [m.out_channels for m in model.trunk if isinstance(m, torch.nn.Conv2d)] == [32, 64, 128]


def test_conv_loss_is_distortion_plus_kl_and_trains():
    model = ConvVAE(latent_dim=4, width=4)
    x = torch.rand(16, 1, 28, 28).bernoulli()
    torch.manual_seed(1)
    metrics = model.loss((x, None), beta=0.5)
    torch.manual_seed(1)
    out, mu, log_var, _ = model(x)
    distortion = torch.nn.functional.binary_cross_entropy_with_logits(out, x, reduction="none").sum((1, 2, 3))
    rate = kl_normal_std_normal(mu, log_var)
    torch.testing.assert_close(metrics["neg_elbo"], (distortion + rate).mean())
    torch.testing.assert_close(metrics["loss"], (distortion + 0.5 * rate).mean())
    metrics["loss"].backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(30):
        loss = model.loss((x, None))["loss"]
        first = first if first is not None else loss.item()
        opt.zero_grad(); loss.backward(); opt.step()
    assert loss.item() < first


def test_conv_bad_input():
    with pytest.raises(ValueError, match="image_shape"):
        ConvVAE(image_shape=(28, 28))
    with pytest.raises(ValueError, match="width"):
        ConvVAE(width=0)
    with pytest.raises(ValueError, match="expects a batch of shape"):
        ConvVAE(width=2)(torch.rand(2, 28, 28))


def test_autoencoder_is_deterministic_reconstruction_only():
    model = Autoencoder(latent_dim=2, hidden=16)
    x = torch.rand(8, 1, 28, 28)
    z = model.encode(x)
    assert z.shape == (8, 2)
    torch.testing.assert_close(model.encode(x), z)  # no sampling anywhere
    metrics = model.loss((x, None))
    expected = torch.nn.functional.binary_cross_entropy_with_logits(model.decode(z), x, reduction="none").sum((1, 2, 3))
    torch.testing.assert_close(metrics["loss"], expected.mean())
    assert set(metrics) == {"loss", "distortion"}
    assert model.reconstruct(x).shape == x.shape
    with pytest.raises(ValueError, match="no KL term"):
        model.loss((x, None), beta=0.5)
    with pytest.raises(ValueError, match="expects a batch of shape"):
        model(torch.rand(8, 784))


def test_checkpoint_round_trip(tmp_path):
    for name, config in [("conv", dict(latent_dim=5, width=3, likelihood="gaussian-learned")),
                         ("ae", dict(latent_dim=2, hidden=8))]:
        model = build_model(name, **config)
        path = save_checkpoint(tmp_path / f"{name}.pt", model)
        loaded, _ = load_model(path)
        assert type(loaded) is type(model)
        for a, b in zip(model.state_dict().values(), loaded.state_dict().values()):
            assert torch.equal(a, b)


def test_latent_grid_and_interpolation():
    for model in (build_model("ae", latent_dim=2, hidden=8), build_model("mlp", latent_dim=2, hidden=8)):
        assert latent_grid_images(model, (-1, 1, -2, 2), n=4).shape == (16, 1, 28, 28)
        x = torch.rand(2, 1, 28, 28)
        images = interpolation_images(model, x[:1], x[1:], steps=5)
        assert images.shape == (5, 1, 28, 28)
        torch.testing.assert_close(images[0], model.reconstruct(x[:1])[0])
        torch.testing.assert_close(images[-1], model.reconstruct(x[1:])[0])


@pytest.mark.parametrize("name", ["conv", "ae"])
def test_cli_trains_model(name, tmp_path, monkeypatch):
    monkeypatch.setenv("VAEBOOK_PROFILE", "smoke")
    monkeypatch.delenv("VAEBOOK_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # no data: the bundled subset
    out = tmp_path / f"{name}.json"
    assert main(["train", "--model", name, "--epochs", "1", "--subset", "256", "--latent-dim", "2",
                 "--json", str(out)]) == 0
    history = json.loads(out.read_text())
    assert history["epochs"][0]["train_loss"] > 0
    assert (tmp_path / f"{name}.pt").is_file()


@pytest.mark.parametrize("make", [lambda: ConvVAE(latent_dim=4, width=8), lambda: AAE(latent_dim=2, hidden=16, disc_hidden=8),
                                  lambda: DCGAN(latent_dim=4, width=8), lambda: DDPM(steps=30, channels=8),
                                  lambda: PixelCNN(channels=8, layers=1), lambda: build_model("avb")])
@pytest.mark.parametrize("n", [0, -1, 2.0, True])
def test_every_sampler_refuses_a_bad_number_of_samples_in_one_line(make, n):
    with pytest.raises(ValueError, match=rf"number of samples must be an integer of at least 1, got {n!r}"):
        make().sample(n)


def test_a_numpy_integer_is_a_number_of_samples():
    assert ConvVAE(latent_dim=4, width=8).sample(np.int64(3)).shape == (3, 1, 28, 28)


def test_vq_vae_decodes_only_indices_of_its_codebook():
    model = VQVAE(num_codes=8, code_dim=4, width=8)
    assert model.decode_codes(torch.full((2, 7, 7), 7)).shape == (2, 1, 28, 28)
    for bad, named in ((8, "code index 8 lies outside 0..7"), (-1, "code index -1 lies outside 0..7")):
        with pytest.raises(ValueError, match=named):
            model.decode_codes(torch.full((2, 7, 7), bad))
    with pytest.raises(ValueError, match="integer code indices of shape"):
        model.decode_codes(torch.zeros(2, 7, 7))
