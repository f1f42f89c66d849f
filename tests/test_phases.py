"""Trainer with phases: a model trained by several losses in turn, one optimizer each (the adversarial
autoencoder's reconstruction, discriminator and generator steps). Each phase moves only its own
parameters, metrics are named per phase, checkpoints keep every optimizer, resume is exact."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vaebook.checkpoint import CheckpointError, load_checkpoint, load_model, save_checkpoint
from vaebook.data import TensorLoader
from vaebook.losses import model_loss
from vaebook.settings import seed_everything
from vaebook.train import NonFiniteLossError, Trainer, model_phases, phase_metrics, train_or_load


class ToyGame(nn.Module):
    """A miniature adversarial autoencoder: encoder, decoder, and a critic telling codes from N(0, I) noise."""

    def __init__(self, latent_dim: int = 2, hidden: int = 16):
        super().__init__()
        self.config = dict(latent_dim=latent_dim, hidden=hidden)
        self.latent_dim = latent_dim
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, latent_dim))
        self.decoder = nn.Linear(latent_dim, 784)
        self.critic = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def phases(self):
        return {"reconstruction": [*self.encoder.parameters(), *self.decoder.parameters()],
                "critic": self.critic.parameters(),
                "generator": self.encoder.parameters()}

    def loss(self, batch, phase=None):
        x = batch[0]
        z = self.encoder(x)
        distortion = F.binary_cross_entropy_with_logits(self.decoder(z), x.flatten(1), reduction="none").sum(1).mean()
        prior = torch.randn_like(z)    # random draws, so that exact resume is tested
        real, fake = self.critic(prior), self.critic(z)
        critic = (F.softplus(-real) + F.softplus(fake)).mean()
        generator = F.softplus(-fake).mean()
        if phase == "reconstruction":
            return {"loss": distortion, "distortion": distortion}
        if phase == "critic":
            return {"loss": critic, "accuracy": ((real > 0).float().mean() + (fake < 0).float().mean()) / 2}
        if phase == "generator":
            return {"loss": generator}
        return {"loss": distortion, "distortion": distortion, "critic": critic}


@pytest.fixture(autouse=True)
def registered(monkeypatch):
    """Register the toy model by name, as the book's models are, so that checkpoints can rebuild it."""
    monkeypatch.setitem(__import__("vaebook.models", fromlist=["MODELS"]).MODELS, "toy-game", ToyGame)


def tiny_data(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 1, 28, 28, generator=g) > 0.7).float(), torch.zeros(n, dtype=torch.long)


def loaders():
    return (TensorLoader(tiny_data(), batch_size=64, seed=5, binarize="dynamic"),
            TensorLoader(tiny_data(64, 1), 64, shuffle=False))


def parameter_names(model, params):
    ids = {id(p) for p in params}
    return {name for name, p in model.named_parameters() if id(p) in ids}


def test_each_phase_moves_only_its_own_parameters():
    """Snapshot the weights whenever a phase's loss is computed: between two calls only the previous
    phase's optimizer has stepped, so exactly the parameters that phase names must have changed."""
    seed_everything(0)
    model = ToyGame()
    snapshots = []

    def recording(model, batch, **options):
        snapshots.append((options.get("phase"), {k: v.detach().clone() for k, v in model.named_parameters()}))
        return model_loss(model, batch, **options)

    trainer = Trainer(model, loss_fn=recording, progress=False)
    trainer.fit(TensorLoader(tiny_data(128), batch_size=64, shuffle=False), 1)
    snapshots.append((None, {k: v.detach().clone() for k, v in model.named_parameters()}))
    assert [phase for phase, _ in snapshots[:-1]] == ["reconstruction", "critic", "generator"] * 2
    phases = model_phases(model)   # lists: phases() may hand out generators
    for (phase, before), (_, after) in zip(snapshots, snapshots[1:]):
        changed = {name for name in before if not torch.equal(before[name], after[name])}
        assert changed == parameter_names(model, phases[phase]), phase


def test_metrics_are_named_by_phase_where_they_collide():
    seed_everything(0)
    trainer = Trainer(ToyGame(), progress=False)
    train_loader, test_loader = loaders()
    history = trainer.fit(train_loader, 2, test_loader=test_loader)
    assert {"train_reconstruction_loss", "train_critic_loss", "train_generator_loss",
            "train_distortion", "train_accuracy"} <= set(history)
    assert "train_loss" not in history and "train_reconstruction_distortion" not in history
    assert {"test_loss", "test_distortion", "test_critic"} <= set(history)   # evaluation: loss(batch), no phase
    assert history["epoch"] == [1, 2]
    one = torch.tensor(1.0)
    assert phase_metrics({"a": {"loss": one, "x": one}, "b": {"loss": one, "x": one, "y": one}}).keys() == \
        {"a_loss", "a_x", "b_loss", "b_x", "y"}
    assert phase_metrics({None: {"loss": one, "rate": one}}).keys() == {"loss", "rate"}


def test_optimizers_by_phase_and_learning_rates():
    model = ToyGame()
    trainer = Trainer(model, lr={"critic": 1e-4}, progress=False)
    assert list(trainer.optimizers) == ["reconstruction", "critic", "generator"]
    assert [o.param_groups[0]["lr"] for o in trainer.optimizers.values()] == [1e-3, 1e-4, 1e-3]
    assert trainer.optimizers["generator"].param_groups[0]["params"] == list(model.encoder.parameters())
    with pytest.raises(AttributeError, match="trains in phases"):
        trainer.optimizer
    with pytest.raises(ValueError, match=r"phases \['discriminator'\] that the model does not have"):
        Trainer(model, lr={"discriminator": 1e-4})
    with pytest.raises(ValueError, match="needs a model with phases"):
        Trainer(nn.Linear(2, 2), lr={"critic": 1e-4})
    with pytest.raises(ValueError, match="one optimizer per phase"):
        Trainer(model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    sgd = {name: torch.optim.SGD(params, lr=0.1) for name, params in model.phases().items()}
    assert Trainer(model, optimizer=sgd).optimizers["critic"] is sgd["critic"]


def test_bad_phase_declarations_are_explained():
    class Declares(nn.Module):
        def __init__(self, phases):
            super().__init__()
            self.layer = nn.Linear(2, 2)
            self.declared = phases

        def phases(self):
            return self.declared

    with pytest.raises(ValueError, match="names no phase"):
        model_phases(Declares({}))
    with pytest.raises(ValueError, match="phase 'critic' of Declares trains no parameters"):
        model_phases(Declares({"critic": []}))
    with pytest.raises(ValueError, match="a phase name is a Python name"):
        model_phases(Declares({"two words": [torch.zeros(1)]}))
    assert model_phases(nn.Linear(2, 2)) is None


def test_nan_names_the_phase():
    def exploding(model, batch, phase=None):
        metrics = model.loss(batch, phase=phase)
        if phase == "generator":
            metrics["loss"] = metrics["loss"] * float("nan")
        return metrics

    trainer = Trainer(ToyGame(), loss_fn=exploding, progress=False)
    with pytest.raises(NonFiniteLossError, match="at epoch 1, step 1, phase 'generator'"):
        trainer.fit(TensorLoader(tiny_data(64), batch_size=32), 1)


def test_checkpoint_keeps_every_optimizer_and_loads_weights_only(tmp_path):
    seed_everything(0)
    trainer = Trainer(ToyGame(), lr={"critic": 1e-4}, progress=False)
    trainer.fit(loaders()[0], 1)
    path = trainer.save(tmp_path / "game.pt")
    state = torch.load(path, weights_only=True)
    assert state["model_name"] == "toy-game" and state["optimizer_state"] is None
    assert list(state["optimizer_states"]) == ["reconstruction", "critic", "generator"]
    assert state["optimizer_states"]["critic"]["param_groups"][0]["lr"] == 1e-4
    model, _ = load_model(path)
    for p, q in zip(model.parameters(), trainer.model.parameters()):
        assert torch.equal(p, q)
    resumed = Trainer(ToyGame(), lr={"critic": 1e-4}, progress=False).resume(path)
    for name, optimizer in trainer.optimizers.items():
        saved, loaded = optimizer.state_dict()["state"], resumed.optimizers[name].state_dict()["state"]
        assert saved.keys() == loaded.keys()
        assert all(torch.equal(saved[i]["exp_avg"], loaded[i]["exp_avg"]) for i in saved)


def test_one_optimizer_and_phase_checkpoints_are_not_mixed_up(tmp_path):
    model = ToyGame()
    single = save_checkpoint(tmp_path / "single.pt", model, torch.optim.Adam(model.parameters()))
    with pytest.raises(CheckpointError, match="saved with one optimizer; this trainer has"):
        Trainer(ToyGame()).resume(single)
    two = {"reconstruction": torch.optim.Adam(model.parameters()), "critic": torch.optim.Adam(model.parameters())}
    other = save_checkpoint(tmp_path / "two.pt", model, two)
    with pytest.raises(CheckpointError, match=r"optimizers for phases \['reconstruction', 'critic'\]"):
        Trainer(ToyGame()).resume(other)
    assert load_checkpoint(other)["optimizer_states"].keys() == two.keys()


def test_resume_continues_exactly():
    """1 epoch, fresh objects and other random draws, 2 more epochs == 3 epochs straight through."""
    seed_everything(5)
    straight = Trainer(ToyGame(), lr={"critic": 3e-4}, progress=False)
    straight.fit(loaders()[0], 3, test_loader=loaders()[1])

    import tempfile
    with tempfile.TemporaryDirectory() as folder:
        seed_everything(5)
        first = Trainer(ToyGame(), lr={"critic": 3e-4}, progress=False)
        train_loader, test_loader = loaders()
        first.fit(train_loader, 1, test_loader=test_loader, checkpoint=f"{folder}/one.pt")
        torch.manual_seed(123)
        torch.rand(1000)
        train_loader, test_loader = loaders()
        resumed = Trainer(ToyGame(), lr={"critic": 3e-4}, progress=False).resume(f"{folder}/one.pt", train_loader)
        resumed.fit(train_loader, 3, test_loader=test_loader)
    assert resumed.history["epoch"] == [1, 2, 3]
    for key in ("train_reconstruction_loss", "train_critic_loss", "train_generator_loss", "test_loss"):
        assert resumed.history[key] == straight.history[key], key
    for p, q in zip(resumed.model.parameters(), straight.model.parameters()):
        assert torch.equal(p, q)


def test_train_or_load_finishes_an_interrupted_phased_run_exactly(tmp_path, capsys):
    lr = {"critic": 3e-4}
    seed_everything(0)
    straight, _ = train_or_load(ToyGame(), loaders()[0], 3, "game", lr=lr, folder=tmp_path / "straight")

    seed_everything(0)
    real_epoch = Trainer.train_epoch

    def dies(self, loader):
        if self.epoch == 2:
            raise KeyboardInterrupt
        return real_epoch(self, loader)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Trainer, "train_epoch", dies)
        with pytest.raises(KeyboardInterrupt):
            train_or_load(ToyGame(), loaders()[0], 3, "game", lr=lr, folder=tmp_path)
    assert load_checkpoint(tmp_path / "game-smoke.unfinished.pt")["epoch"] == 2
    with pytest.raises(CheckpointError, match=r"lr: saved \{'critic': 0.0003\}, asked \{'critic': 0.001\}"):
        train_or_load(ToyGame(), loaders()[0], 3, "game", lr={"critic": 1e-3}, folder=tmp_path)

    seed_everything(99)
    finished, training = train_or_load(ToyGame(), loaders()[0], 3, "game", lr=lr, folder=tmp_path)
    assert "resuming game-smoke.unfinished.pt after epoch 2 of 3" in capsys.readouterr().out
    assert training.seconds > 0 and not finished.training
    for p, q in zip(finished.parameters(), straight.parameters()):
        assert torch.equal(p, q)
    loaded, again = train_or_load(ToyGame(), loaders()[0], 3, "game", lr=lr, folder=tmp_path)
    assert again == training
