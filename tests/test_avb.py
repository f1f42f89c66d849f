"""Adversarial variational Bayes: the critic learns log q(z|x) − log p(z) where both are known, each
phase moves only its own parameters, bad input is named, and checkpoints read with weights_only=True."""

import math

import pytest
import torch

from vaebook.avb import Critic, critic_loss, fit_critic, four_pixel_images
from vaebook.checkpoint import load_model
from vaebook.data import TensorLoader
from vaebook.distributions import log_normal_diag, log_standard_normal
from vaebook.losses import model_loss
from vaebook.models import MODELS, build_model
from vaebook.models.avb import AVB
from vaebook.settings import seed_everything
from vaebook.train import Trainer, model_phases


def toy_loader(copies=64, batch_size=64):
    x, y = four_pixel_images()
    return TensorLoader((x.repeat(copies, 1, 1, 1), y.repeat(copies)), batch_size=batch_size)


def small_avb(**options):
    return AVB(latent_dim=2, noise_dim=4, hidden=16, critic_hidden=16, image_shape=(1, 2, 2), **options)


def test_four_pixel_images():
    x, labels = four_pixel_images()
    assert x.shape == (4, 1, 2, 2) and torch.equal(x.flatten(1), torch.eye(4)) and labels.tolist() == [0, 1, 2, 3]


def gaussian_case():
    """Two inputs with known Gaussian posteriors q(z|x) in one dimension; the prior is N(0, 1)."""
    x = torch.eye(2)
    mu, log_var = torch.tensor([[0.8], [-0.5]]), torch.log(torch.tensor([[0.6], [1.2]]) ** 2)

    def sample(xb):
        i = xb.argmax(1)
        return mu[i] + torch.exp(0.5 * log_var[i]) * torch.randn(len(xb), 1)

    def log_ratio(xb, z):
        i = xb.argmax(1)
        return log_normal_diag(z, mu[i], log_var[i]) - log_standard_normal(z)

    return x, sample, log_ratio


def test_critic_converges_to_the_log_ratio():
    """300 steps of 512 pairs: under q, T is within 0.1 nats of log q(z|x) − log p(z) on average, and
    its mean, the KL estimate, within 0.05 nats of the KL (about 0.34 nats here). Over five seeds the
    two errors were at most 0.051 and 0.016 nats: the tolerances leave room for other machines."""
    seed_everything(0)
    x, sample, log_ratio = gaussian_case()
    critic = Critic(2, 1, hidden=32, layers=2)
    fit_critic(critic, x, sample, steps=300, batch_size=512, lr=5e-3)
    xe = x[torch.arange(2).repeat(10_000)]
    with torch.no_grad():
        z = sample(xe)
        t, truth = critic(xe, z), log_ratio(xe, z)
    assert float((t - truth).abs().mean()) < 0.1
    assert abs(float(t.mean() - truth.mean())) < 0.05


def test_critic_with_the_labels_swapped_learns_the_opposite_sign():
    seed_everything(0)
    x, sample, log_ratio = gaussian_case()
    critic = Critic(2, 1, hidden=32, layers=2)
    fit_critic(critic, x, sample, steps=300, batch_size=512, lr=5e-3,
               loss_fn=lambda c, xb, zq, zp: critic_loss(c, xb, zp, zq))
    xe = x[torch.arange(2).repeat(10_000)]
    with torch.no_grad():
        z = sample(xe)
        t, truth = critic(xe, z), log_ratio(xe, z)
    assert abs(float(t.mean() + truth.mean())) < 0.05 and float((t - truth).abs().mean()) > 0.4


def test_critic_loss_at_the_optimum_by_hand():
    """With T = T*, the loss is E_q[softplus(−T*)] + E_p[softplus(T*)]; for q = p, T* = 0 and the loss is 2 log 2."""
    zero = lambda x, z: torch.zeros(len(z))
    z = torch.randn(10, 2)
    assert math.isclose(float(critic_loss(zero, torch.zeros(10, 3), z, z)), 2 * math.log(2), rel_tol=1e-6)


def parameter_names(model, params):
    ids = {id(p) for p in params}
    return {name for name, p in model.named_parameters() if id(p) in ids}


def test_each_phase_moves_only_its_own_parameters():
    seed_everything(0)
    model = small_avb()
    snapshots = []

    def recording(model, batch, **options):
        snapshots.append((options.get("phase"), {k: v.detach().clone() for k, v in model.named_parameters()}))
        return model_loss(model, batch, **options)

    Trainer(model, loss_fn=recording, progress=False).fit(toy_loader(copies=32), 1)
    snapshots.append((None, {k: v.detach().clone() for k, v in model.named_parameters()}))
    assert [phase for phase, _ in snapshots[:-1]] == ["critic", "autoencoder"] * 2
    phases = model_phases(model)
    assert parameter_names(model, phases["critic"]) == {n for n, _ in model.named_parameters() if n.startswith("critic.")}
    for (phase, before), (_, after) in zip(snapshots, snapshots[1:]):
        changed = {name for name in before if not torch.equal(before[name], after[name])}
        assert changed == parameter_names(model, phases[phase]), phase


def test_losses_and_metrics():
    seed_everything(0)
    model = small_avb()
    history = Trainer(model, lr={"critic": 3e-3}, progress=False).fit(toy_loader(), 2, test_loader=toy_loader())
    assert {"train_critic_loss", "train_autoencoder_loss", "train_neg_elbo", "train_rate", "train_distortion",
            "test_loss", "test_neg_elbo"} <= set(history)
    assert all(math.isfinite(v) for v in history["train_neg_elbo"])
    x = four_pixel_images()[0]
    metrics = model.loss((x,))
    torch.testing.assert_close(metrics["neg_elbo"], metrics["rate"] + metrics["distortion"])
    assert model.encode(x).shape == (4, 2) and model.reconstruct(x).shape == x.shape and model.sample(3).shape == (3, 1, 2, 2)
    with pytest.raises(ValueError, match="unknown phase 'generator'"):
        model.loss((x,), phase="generator")
    with pytest.raises(ValueError, match=r"expects a batch of shape \(N, 1, 2, 2\)"):
        model.loss((torch.zeros(3, 4),))


def test_the_encoder_is_stochastic_through_its_noise():
    model = small_avb()
    x = four_pixel_images()[0]
    assert not torch.equal(model.encode(x), model.encode(x))


@pytest.mark.parametrize("noise_dim", [0, -3, 2.5, True])
def test_a_noise_dimension_below_one_is_named(noise_dim):
    with pytest.raises(ValueError, match=f"noise dimension must be an integer of at least 1, got {noise_dim!r}"):
        AVB(noise_dim=noise_dim)


def test_registered_and_round_trips_with_weights_only(tmp_path):
    assert MODELS["avb"] is AVB
    seed_everything(0)
    model = build_model("avb", latent_dim=2, noise_dim=3, hidden=8, critic_hidden=8, image_shape=[1, 2, 2])
    trainer = Trainer(model, lr={"critic": 2e-3}, progress=False)
    trainer.fit(toy_loader(copies=16), 1)
    path = trainer.save(tmp_path / "avb.pt")
    state = torch.load(path, weights_only=True)
    assert state["model_name"] == "avb" and list(state["optimizer_states"]) == ["critic", "autoencoder"]
    assert state["optimizer_states"]["critic"]["param_groups"][0]["lr"] == 2e-3
    loaded, _ = load_model(path)
    assert loaded.noise_dim == 3
    for p, q in zip(loaded.parameters(), model.parameters()):
        assert torch.equal(p, q)


def test_cli_trains_avb_and_names_a_bad_noise_dimension(tmp_path, monkeypatch, capsys):
    from vaebook.cli import main

    monkeypatch.setenv("VAEBOOK_PROFILE", "smoke")
    monkeypatch.delenv("VAEBOOK_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # no data: the bundled subset
    out = tmp_path / "avb.json"
    assert main(["train", "--model", "avb", "--epochs", "1", "--subset", "128", "--option", "hidden=16",
                 "--option", "critic_hidden=16", "--json", str(out)]) == 0
    assert (tmp_path / "avb.pt").is_file()
    assert main(["train", "--model", "avb", "--epochs", "1", "--subset", "128", "--option", "noise_dim=0",
                 "--json", str(tmp_path / "bad.json")]) == 1
    assert "noise dimension must be an integer of at least 1, got 0" in capsys.readouterr().err
