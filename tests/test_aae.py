"""Adversarial autoencoders: priors by name, the optimal discriminator, the models' phases (each moves
only the parameters it names), checkpoints, the CLI, and clear errors for bad input."""

import json
import math

import pytest
import torch
from torch import nn

from vaebook.adversarial import (discriminator_accuracy, discriminator_loss, fit_density_ratio, generator_loss,
                                 make_discriminator)
from vaebook.checkpoint import load_model, save_checkpoint
from vaebook.cli import main
from vaebook.data import TensorLoader
from vaebook.losses import model_loss
from vaebook.models import AAE, MODELS, CategoricalAAE, SupervisedAAE, build_model, model_name
from vaebook.models.aae import cluster_error
from vaebook.priors import GaussianPrior, MixturePrior, SwissRollPrior, make_prior
from vaebook.settings import seed_everything
from vaebook.train import Trainer, model_phases


# ---------------------------------------------------------------- priors

def grid(limit=8.0, step=0.1):
    """Cell centres of a square grid on [-limit, limit]², and each cell's area."""
    t = torch.arange(-limit + step / 2, limit, step, dtype=torch.float64)
    zz = torch.stack(torch.meshgrid(t, t, indexing="ij"), -1).view(-1, 2)
    return zz, step**2


@pytest.mark.parametrize("spec", ["gaussian", "mixture", "swiss-roll", {"name": "mixture", "components": 3}])
def test_prior_densities_integrate_to_one_and_match_their_samples(spec):
    """∫ p = 1 on a grid, and the fraction of 100,000 samples in each of 16 × 16 cells matches the
    density's mass there (total variation under 0.03)."""
    prior = make_prior(spec, 2)
    zz, area = grid()
    p = prior.log_prob(zz).exp()
    assert float(p.sum() * area) == pytest.approx(1.0, abs=2e-3)
    samples = prior.sample(100_000, torch.Generator().manual_seed(0)).double()
    assert samples.shape == (100_000, 2)
    cells = lambda z: ((z.clamp(-8, 7.999) + 8) // 1).long()   # noqa: E731 (16 cells of width 1 per axis)
    index = lambda c: c[:, 0] * 16 + c[:, 1]                    # noqa: E731
    empirical = torch.bincount(index(cells(samples)), minlength=256).double() / len(samples)
    mass = torch.zeros(256, dtype=torch.float64).index_add_(0, index(cells(zz)), p * area)
    assert 0.5 * float((empirical - mass).abs().sum()) < 0.03


def test_mixture_density_is_the_rotated_gaussians():
    """Against torch.distributions: component k is N(radius·u_k, R diag(radial², tangential²) Rᵀ)."""
    prior = MixturePrior(components=5, radius=3.0, radial=0.8, tangential=0.2)
    angles = 2 * math.pi * torch.arange(5, dtype=torch.float64) / 5
    u = torch.stack([angles.cos(), angles.sin()], 1)
    rotation = torch.stack([u, torch.stack([-u[:, 1], u[:, 0]], 1)], 2)        # columns: radial, tangential
    cov = rotation @ torch.diag(torch.tensor([0.64, 0.04], dtype=torch.float64)) @ rotation.transpose(1, 2)
    reference = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(torch.ones(5, dtype=torch.float64)),
        torch.distributions.MultivariateNormal(3.0 * u, cov))
    z = torch.randn(50, 2, dtype=torch.float64) * 3
    assert torch.allclose(prior.log_prob(z), reference.log_prob(z), atol=1e-10)
    points, components = prior.sample_with_components(2_000, torch.Generator().manual_seed(1))
    along = (points.double() * u[components]).sum(1)
    assert abs(float(along.mean()) - 3.0) < 0.1 and abs(float(along.std()) - 0.8) < 0.05


def test_gaussian_prior_and_configs_round_trip():
    prior = make_prior({"name": "gaussian", "scale": 2.0}, 3)
    z = torch.randn(10, 3, dtype=torch.float64)
    expected = torch.distributions.Normal(0.0, 2.0).log_prob(z).sum(1)
    assert torch.allclose(prior.log_prob(z), expected)
    for spec, dim in (("gaussian", 4), ("mixture", 2), ("swiss-roll", 2)):
        built = make_prior(spec, dim)
        rebuilt = make_prior(built.config(), dim)
        assert type(rebuilt) is type(built) and rebuilt.config() == built.config()
    assert isinstance(make_prior("swiss-roll", 2), SwissRollPrior)
    assert isinstance(make_prior("gaussian", 2), GaussianPrior)
    assert make_prior("gaussian", 2).sample(5, device="cpu").device.type == "cpu"


def test_bad_priors_are_one_clear_error():
    with pytest.raises(ValueError, match="unknown prior 'uniform'; known priors: gaussian, mixture, swiss-roll"):
        make_prior("uniform", 2)
    with pytest.raises(ValueError, match="a mixture needs at least one component, got components=0"):
        make_prior({"name": "mixture", "components": 0}, 2)
    with pytest.raises(ValueError, match="the mixture prior is two-dimensional; got dim=3"):
        make_prior("mixture", 3)
    with pytest.raises(ValueError, match="the swiss-roll prior is two-dimensional"):
        make_prior("swiss-roll", 8)
    with pytest.raises(ValueError, match="scale must be a positive number, got -1"):
        make_prior({"name": "gaussian", "scale": -1}, 2)
    with pytest.raises(ValueError, match="does not take these options"):
        make_prior({"name": "gaussian", "components": 3}, 2)
    with pytest.raises(ValueError, match="unknown prior 'nope'"):
        AAE(prior="nope")
    with pytest.raises(ValueError, match="components=0"):
        AAE(prior={"name": "mixture", "components": 0})
    with pytest.raises(ValueError, match=r"expects points of shape \(N, 2\)"):
        make_prior("gaussian", 2).log_prob(torch.zeros(4, 3))


# ---------------------------------------------------------------- the adversarial game

def test_losses_by_hand():
    lp, lq = torch.tensor([0.0, 2.0]), torch.tensor([-1.0])
    sig = torch.sigmoid
    expected = -(torch.log(sig(lp))).mean() - torch.log(1 - sig(lq)).mean()
    assert torch.allclose(discriminator_loss(lp, lq), expected)
    assert torch.allclose(generator_loss(lq), -torch.log(sig(lq)).mean())
    assert float(discriminator_accuracy(lp, lq)) == pytest.approx((0.5 + 1.0) / 2)


def test_optimal_discriminator_is_the_density_ratio_on_a_finite_space():
    """On five points the logistic loss can be minimised exactly over a free logit per point: the
    optimum is D* = p / (p + q), logit log p − log q."""
    p = torch.tensor([0.1, 0.2, 0.3, 0.15, 0.25], dtype=torch.float64)
    q = torch.tensor([0.3, 0.3, 0.1, 0.2, 0.1], dtype=torch.float64)
    logits = torch.zeros(5, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([logits], max_iter=200, tolerance_grad=1e-12, tolerance_change=1e-14)

    def closure():
        optimizer.zero_grad()
        # expectations under p and q of −log D and −log(1 − D): the loss of discriminator_loss, exactly
        loss = (p * nn.functional.softplus(-logits)).sum() + (q * nn.functional.softplus(logits)).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    assert torch.allclose(torch.sigmoid(logits), p / (p + q), atol=1e-8)
    assert torch.allclose(logits, p.log() - q.log(), atol=1e-6)


def test_trained_discriminator_estimates_the_log_ratio_and_catches_swapped_roles():
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    from_p, from_q = 1.0 + torch.randn(20_000, 1, generator=g), -1.0 + 1.5 * torch.randn(20_000, 1, generator=g)
    x = torch.linspace(-2, 2, 41)[:, None]
    log_ratio = (torch.distributions.Normal(1.0, 1.0).log_prob(x) - torch.distributions.Normal(-1.0, 1.5).log_prob(x))
    right = fit_density_ratio(from_p, from_q, steps=400, generator=g)
    swapped = fit_density_ratio(from_q, from_p, steps=400, generator=g)
    with torch.no_grad():
        assert float((right(x) - log_ratio).abs().mean()) < 0.2
        assert float((swapped(x) - log_ratio).abs().mean()) > 1.0


def test_batch_norm_leaves_the_discriminator_at_chance():
    """Batches of p and of q fed separately: batch norm standardises each, so N(0, 1) and N(3, 1) look
    alike, and the loss stays at chance, 2 log 2 (logits near 0), where without it the two separate."""
    g = torch.Generator().manual_seed(1)
    torch.manual_seed(1)
    from_p, from_q = torch.randn(5_000, 1, generator=g), 3 + torch.randn(5_000, 1, generator=g)
    losses = {}
    for batch_norm in (False, True):
        d = fit_density_ratio(from_p, from_q, steps=200, batch_norm=batch_norm, generator=g)
        with torch.no_grad():   # as in training: each set in its own batch, batch statistics on
            losses[batch_norm] = float(discriminator_loss(d(from_p[:1000]), d(from_q[:1000])))
    assert losses[False] < 0.5 and abs(losses[True] - 2 * math.log(2)) < 0.02
    assert not any(isinstance(m, nn.BatchNorm1d) for m in make_discriminator(2, 8))


def test_fit_density_ratio_bad_shapes():
    with pytest.raises(ValueError, match="same d"):
        fit_density_ratio(torch.zeros(5, 2), torch.zeros(5, 3))


# ---------------------------------------------------------------- models

def flat(entries):
    """The parameters of a phase, whether listed plainly or in torch param-group dicts."""
    return [q for e in entries for q in (e["params"] if isinstance(e, dict) else [e])]


def tiny_batch(n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 1, 28, 28, generator=g) > 0.7).float(), torch.randint(10, (n,), generator=g)


MODEL_CONFIGS = [
    ("aae", dict(latent_dim=2, hidden=16, disc_hidden=8, prior="swiss-roll")),
    ("aae-supervised", dict(latent_dim=2, hidden=16, disc_hidden=8, prior={"name": "mixture", "components": 4})),
    ("aae-categorical", dict(num_classes=4, latent_dim=3, hidden=16, disc_hidden=8, semi_supervised=True)),
]


def labelled_loss():
    """The semi-supervised model's classification phase draws from these labelled images."""
    x, y = tiny_batch(12, seed=5)
    y = y % 4   # the test model has four classes
    return lambda model, batch, **options: model_loss(
        model, batch, **options, **({"labelled": (x, y)} if isinstance(model, CategoricalAAE) else {}))


@pytest.mark.parametrize("name, config", MODEL_CONFIGS)
def test_each_phase_moves_only_the_parameters_it_names(name, config):
    """Weights snapshot at every loss call: between two calls only the previous phase's optimizer has
    stepped, so the parameters that changed must be exactly that phase's (and those with a gradient)."""
    seed_everything(0)
    model = build_model(name, **config)
    phases = model_phases(model)
    snapshots = []
    loss = labelled_loss()

    def recording(model, batch, **options):
        snapshots.append((options.get("phase"), {k: v.detach().clone() for k, v in model.named_parameters()}))
        return loss(model, batch, **options)

    Trainer(model, loss_fn=recording, progress=False).fit(TensorLoader(tiny_batch(32), batch_size=16, shuffle=False), 1)
    snapshots.append((None, {k: v.detach().clone() for k, v in model.named_parameters()}))
    assert [phase for phase, _ in snapshots[:-1]] == list(phases) * 2
    names = {id(p): n for n, p in model.named_parameters()}
    for (phase, before), (_, after) in zip(snapshots, snapshots[1:]):
        changed = {n for n in before if not torch.equal(before[n], after[n])}
        assert changed == {names[id(p)] for p in flat(phases[phase])}, phase


def test_aae_phases_and_losses():
    model = AAE(latent_dim=2, hidden=16, disc_hidden=8)
    phases = model.phases()
    assert list(phases) == ["reconstruction", "discriminator", "generator"]
    assert {id(p) for p in flat(phases["generator"])} == {id(p) for p in model.encoder.parameters()}
    assert {id(p) for p in flat(phases["discriminator"])} == {id(p) for p in model.discriminator.parameters()}
    trainer = Trainer(model, lr={"discriminator": 3e-4})
    groups = {name: o.param_groups[0] for name, o in trainer.optimizers.items()}
    assert groups["discriminator"]["betas"] == groups["generator"]["betas"] == (0.5, 0.999)
    assert groups["reconstruction"]["betas"] == (0.9, 0.999) and groups["discriminator"]["lr"] == 3e-4
    batch = tiny_batch()
    torch.manual_seed(0)
    disc = model.loss(batch, phase="discriminator")
    assert set(disc) == {"loss", "disc_accuracy"} and 0 <= float(disc["disc_accuracy"]) <= 1
    disc["loss"].backward()
    assert all(p.grad is None for p in model.encoder.parameters())     # codes detached: the encoder is left alone
    z = model.encode(batch[0])
    assert torch.allclose(model.loss(batch, phase="generator")["loss"], generator_loss(model.discriminator(z)))
    rec = model.loss(batch, phase="reconstruction")
    expected = -model.likelihood.log_prob(batch[0], model.decode(z)).mean()
    assert torch.allclose(rec["distortion"], expected) and model.loss(batch).keys() == rec.keys()
    with pytest.raises(ValueError, match="unknown phase 'critic'"):
        model.loss(batch, phase="critic")
    with pytest.raises(ValueError, match=r"expects a batch of shape \(N, 1, 28, 28\)"):
        model.loss((torch.zeros(4, 784), None))
    assert model.sample(5).shape == (5, 1, 28, 28) and model.reconstruct(batch[0]).shape == batch[0].shape


def test_supervised_aae_decodes_with_the_label():
    model = SupervisedAAE(latent_dim=2, hidden=16, disc_hidden=8)
    x, y = tiny_batch()
    z = model.encode(x)
    assert model.decoder[0].in_features == 12
    assert not torch.allclose(model.decode(z, y), model.decode(z, (y + 1) % 10))
    with pytest.raises(ValueError, match="decode\\(z, y\\)"):
        model.decode(z)
    assert model.sample(3, y=torch.tensor([0, 1, 2])).shape == (3, 1, 28, 28)


def test_categorical_aae_phases_and_clusters():
    unsupervised = CategoricalAAE(num_classes=16, latent_dim=3, hidden=16, disc_hidden=8)
    assert list(unsupervised.phases()) == ["reconstruction", "discriminator", "generator"]
    semi = CategoricalAAE(num_classes=10, latent_dim=3, hidden=16, disc_hidden=8, semi_supervised=True)
    assert list(semi.phases())[-1] == "classification"
    batch = tiny_batch()
    with pytest.raises(ValueError, match="needs labelled=\\(images, labels\\)"):
        semi.loss(batch, phase="classification")
    out = semi.loss(batch, phase="classification", labelled=batch)
    assert float(out["loss"].detach()) == pytest.approx(math.log(10), abs=0.5)
    assert set(semi.loss(batch, phase="discriminator")) == {"loss", "class_disc_accuracy", "style_disc_accuracy"}
    assert unsupervised.predict(batch[0]).shape == (16,) and int(unsupervised.predict(batch[0]).max()) < 16


def test_cluster_error_by_hand():
    """Clusters 0, 1, 2; cluster 0 is mostly label 3, cluster 1 label 5, cluster 2 label 5."""
    clusters = torch.tensor([0, 0, 0, 1, 1, 2])
    labels = torch.tensor([3, 3, 4, 5, 5, 5])
    test_clusters, test_labels = torch.tensor([0, 1, 2, 2]), torch.tensor([3, 5, 4, 5])
    assert cluster_error(clusters, labels, test_clusters, test_labels) == pytest.approx(0.25)


@pytest.mark.parametrize("name, config", MODEL_CONFIGS)
def test_checkpoint_round_trip_weights_only(name, config, tmp_path):
    seed_everything(0)
    model = build_model(name, **config)
    trainer = Trainer(model, loss_fn=labelled_loss(), progress=False)
    trainer.fit(TensorLoader(tiny_batch(32), batch_size=16), 1)
    path = trainer.save(tmp_path / f"{name}.pt")
    state = torch.load(path, weights_only=True)
    assert state["model_name"] == name == model_name(model) and MODELS[name] is type(model)
    assert list(state["optimizer_states"]) == list(model.phases())
    loaded, _ = load_model(path)
    assert loaded.config == model.config
    for a, b in zip(model.state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(a, b)
    if name != "aae-categorical":
        assert loaded.prior.config() == model.prior.config()
    path = save_checkpoint(tmp_path / "plain.pt", model)     # a finished model: no optimizer at all
    assert load_model(path)[0].config == model.config


def test_cli_trains_an_aae(tmp_path, monkeypatch):
    monkeypatch.delenv("VAEBOOK_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))   # no data: the bundled subset
    out = tmp_path / "aae.json"
    assert main(["train", "--model", "aae", "--epochs", "1", "--subset", "256", "--latent-dim", "2",
                 "--option", "hidden=32", "--option", "disc_hidden=16", "--option", "prior=mixture",
                 "--json", str(out)]) == 0
    first = json.loads(out.read_text())["epochs"][0]
    assert {"train_reconstruction_loss", "train_discriminator_loss", "train_generator_loss",
            "train_disc_accuracy", "test_distortion"} <= set(first)
    assert torch.load(tmp_path / "aae.pt", weights_only=True)["model_config"]["prior"]["name"] == "mixture"
