"""The DCGAN: shapes, its two phases through the book's Trainer (each moves only its own network,
with Adam's β1 = 0.5), checkpoints through train_or_load, and clear errors for bad input."""

import pytest
import torch

from vaebook.checkpoint import load_model
from vaebook.data import TensorLoader
from vaebook.models import DCGAN, DDPM, build_model, model_name
from vaebook.models.aae import ADVERSARIAL_BETAS
from vaebook.train import Trainer, train_or_load


def tiny_loader(n=32):
    g = torch.Generator().manual_seed(0)
    return TensorLoader((torch.rand(n, 1, 28, 28, generator=g), torch.zeros(n, dtype=torch.long)), batch_size=16)


def test_shapes_and_registry():
    model = build_model("dcgan", latent_dim=8, width=8)
    assert isinstance(model, DCGAN) and model_name(model) == "dcgan"
    images = model.sample(5)
    assert images.shape == (5, 1, 28, 28) and images.min() >= 0 and images.max() <= 1
    assert model.training                     # sample() puts batch norm back as it found it
    assert model.discriminator(images).shape == (5, 1)


def test_each_phase_moves_only_its_own_network():
    torch.manual_seed(0)
    model = DCGAN(latent_dim=8, width=8)
    trainer = Trainer(model, lr=2e-4, progress=False)
    assert list(trainer.optimizers) == ["discriminator", "generator"]
    for optimizer in trainer.optimizers.values():
        assert optimizer.param_groups[0]["betas"] == ADVERSARIAL_BETAS
    batch = next(iter(tiny_loader()))
    for phase, moved, kept in (("discriminator", model.discriminator, model.generator),
                               ("generator", model.generator, model.discriminator)):
        before = {name: p.detach().clone() for name, p in model.named_parameters()}
        loss = model.loss(batch, phase=phase)["loss"]
        optimizer = trainer.optimizers[phase]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        changed = {name for name, p in model.named_parameters() if not torch.equal(p, before[name])}
        own = {f"{'generator' if moved is model.generator else 'discriminator'}.{n}" for n, _ in moved.named_parameters()}
        assert changed and changed <= own


def test_trainer_runs_both_phases_and_train_or_load_reloads(tmp_path, capsys):
    torch.manual_seed(0)
    model, training = train_or_load(DCGAN(latent_dim=8, width=8), tiny_loader(), 2, "gan", lr=2e-4,
                                    folder=tmp_path, progress=False)
    assert training.seconds > 0
    again, _ = train_or_load(DCGAN(latent_dim=8, width=8), tiny_loader(), 2, "gan", lr=2e-4,
                             folder=tmp_path, progress=False)
    assert "loaded gan-smoke.pt" in capsys.readouterr().out
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    assert isinstance(load_model(tmp_path / "gan-smoke.pt")[0], DCGAN)


def test_evaluation_reports_the_discriminator():
    metrics = DCGAN(latent_dim=8, width=8).loss(next(iter(tiny_loader())))
    assert set(metrics) == {"loss", "disc_accuracy"}
    assert 0 <= float(metrics["disc_accuracy"]) <= 1


@pytest.mark.parametrize("n", [0, -1, 2.0])
@pytest.mark.parametrize("make", [lambda: DCGAN(latent_dim=8, width=8), lambda: DDPM(steps=30, channels=8)])
def test_samplers_name_bad_sample_counts(make, n):
    with pytest.raises(ValueError, match=f"got {n!r}"):
        make().sample(n)


def test_bad_input_is_named():
    model = DCGAN(latent_dim=8, width=8)
    with pytest.raises(ValueError, match=r"\(4, 28, 28\)"):
        model.loss((torch.zeros(4, 28, 28), None))
    with pytest.raises(ValueError, match="unknown phase 'encoder'"):
        model.loss((torch.zeros(4, 1, 28, 28), None), phase="encoder")
    with pytest.raises(ValueError, match=r"\(1, 32, 32\)"):
        DCGAN(image_shape=(1, 32, 32))
