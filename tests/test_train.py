"""Trainer: seeds reproduce runs, NaN stops with a message, checkpoints round-trip and resume,
corrupt or mismatched checkpoints are explained."""

import pytest
import torch

from vaebook.checkpoint import CheckpointError, load_checkpoint, load_model, save_checkpoint
from vaebook.data import TensorLoader
from vaebook.models import build_model
from vaebook.settings import seed_everything
from vaebook.train import NonFiniteLossError, Trainer, train_or_load


def tiny_data(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(n, 1, 28, 28, generator=g) > 0.7).float()
    return x, torch.zeros(n, dtype=torch.long)


def run(seed, epochs=2):
    seed_everything(seed)
    model = build_model("mlp", latent_dim=4, hidden=32)
    trainer = Trainer(model, progress=False)
    loader = TensorLoader(tiny_data(), batch_size=64, seed=seed)
    trainer.fit(loader, epochs, test_loader=TensorLoader(tiny_data(64, 1), 64, shuffle=False))
    return trainer


def test_same_seed_same_run_and_history_keys():
    a, b = run(3), run(3)
    assert a.history["train_loss"] == b.history["train_loss"]
    for p, q in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(p, q)
    assert run(4).history["train_loss"] != a.history["train_loss"]
    assert {"epoch", "seconds", "train_neg_elbo", "train_rate", "test_neg_elbo", "test_distortion"} <= set(a.history)
    assert a.history["epoch"] == [1, 2] and len(a.history["test_rate"]) == 2


def test_training_lowers_the_loss():
    trainer = run(0, epochs=5)
    assert trainer.history["train_neg_elbo"][-1] < trainer.history["train_neg_elbo"][0]


@pytest.mark.parametrize("tqdm_disable", ["", "1"])
def test_progress_prints_epoch_lines_and_tqdm_disable_removes_only_the_bar(monkeypatch, capsys, tqdm_disable):
    """The book build sets TQDM_DISABLE: no bar (in a rendered page a dead widget), the same epoch lines."""
    monkeypatch.setenv("TQDM_DISABLE", tqdm_disable)
    trainer = Trainer(build_model("mlp", latent_dim=2, hidden=8), progress=True)
    trainer.fit(TensorLoader(tiny_data(128), batch_size=64), 2)
    out, err = capsys.readouterr()
    expected = [f"epoch {i}: train_neg_elbo {v:.2f}" for i, v in enumerate(trainer.history["train_neg_elbo"], 1)]
    assert [line.split(" (")[0] for line in out.splitlines()] == expected
    assert ("it/s" in err) == (not tqdm_disable)


def test_nan_loss_stops_with_epoch_and_step():
    model = build_model("mlp", latent_dim=2, hidden=8)
    calls = {"n": 0}

    def exploding(model, batch):
        calls["n"] += 1
        loss = model.loss(batch)
        if calls["n"] == 3:
            loss["loss"] = loss["loss"] * float("nan")
        return loss

    trainer = Trainer(model, loss_fn=exploding, progress=False)
    with pytest.raises(NonFiniteLossError, match="the loss became nan at epoch 1, step 3"):
        trainer.fit(TensorLoader(tiny_data(), batch_size=32), 1)


def test_checkpoint_round_trip_loads_weights_only(tmp_path):
    trainer = run(1)
    path = trainer.save(tmp_path / "run.pt", dataset="mnist")
    state = torch.load(path, weights_only=True)  # plain tensors and data: no pickled classes
    assert state["model_name"] == "mlp" and state["epoch"] == 2 and state["extra"]["dataset"] == "mnist"
    model, _ = load_model(path)
    x = tiny_data(8)[0]
    assert torch.equal(model.reconstruct(x), trainer.model.eval().reconstruct(x))


def test_resume_continues_exactly(tmp_path):
    """1 epoch, a new process's worth of fresh objects, 2 more epochs == 3 epochs straight through."""
    def loaders():
        return (TensorLoader(tiny_data(), batch_size=64, seed=5, binarize="dynamic"),
                TensorLoader(tiny_data(64, 1), 64, shuffle=False))

    seed_everything(5)
    straight = Trainer(build_model("mlp", latent_dim=4, hidden=32), progress=False)
    straight.fit(*loaders()[:1], 3, test_loader=loaders()[1])

    seed_everything(5)
    first = Trainer(build_model("mlp", latent_dim=4, hidden=32), progress=False)
    train_loader, test_loader = loaders()
    first.fit(train_loader, 1, test_loader=test_loader, checkpoint=tmp_path / "one.pt")
    torch.manual_seed(123)      # whatever happens in between: another seed, other draws
    torch.rand(1000)
    train_loader, test_loader = loaders()
    resumed = Trainer(build_model("mlp", latent_dim=4, hidden=32), progress=False).resume(tmp_path / "one.pt", train_loader)
    assert resumed.epoch == 1 and resumed.history == first.history
    resumed.fit(train_loader, 3, test_loader=test_loader)
    assert resumed.history["epoch"] == [1, 2, 3]
    for key in ("train_loss", "test_neg_elbo"):
        assert resumed.history[key] == straight.history[key], key
    for p, q in zip(resumed.model.parameters(), straight.model.parameters()):
        assert torch.equal(p, q)


def test_resume_keeps_this_machines_adam_kernel(tmp_path):
    """A run saved with fused Adam (a GPU) goes on with the resuming trainer's own kernel (a CPU without
    fused Adam) and takes the same steps: load_state_dict alone would bring back fused=True."""
    saved = run(1)
    path = saved.save(tmp_path / "fused.pt")
    assert saved.optimizer.param_groups[0]["fused"]
    model = build_model("mlp", latent_dim=4, hidden=32)
    plain = Trainer(model, optimizer=torch.optim.Adam(model.parameters(), lr=1e-3, foreach=False), progress=False)
    plain.resume(path)
    assert not plain.optimizer.param_groups[0]["fused"] and plain.optimizer.param_groups[0]["foreach"] is False
    saved_state = saved.optimizer.state_dict()["state"]
    assert all(torch.equal(plain.optimizer.state_dict()["state"][i]["exp_avg"], saved_state[i]["exp_avg"])
               for i in saved_state)
    loader = TensorLoader(tiny_data(), batch_size=64, shuffle=False)
    seed_everything(0)
    saved.fit(loader, 3)
    seed_everything(0)
    plain.fit(loader, 3)
    for p, q in zip(plain.model.parameters(), saved.model.parameters()):
        assert torch.allclose(p, q, atol=1e-6)


def test_resume_without_random_states_still_loads(tmp_path):
    """Checkpoints written without random states (older ones, or by hand) resume, just not draw for draw."""
    trainer = run(1)
    path = save_checkpoint(tmp_path / "old.pt", trainer.model, trainer.optimizer, trainer.epoch, trainer.history)
    resumed = Trainer(build_model("mlp", latent_dim=4, hidden=32), progress=False).resume(path)
    assert resumed.epoch == 2
    resumed.fit(TensorLoader(tiny_data(), batch_size=64), 3)
    assert resumed.history["epoch"] == [1, 2, 3]


def test_corrupt_and_foreign_checkpoints_are_explained(tmp_path):
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match="corrupt.pt is not a readable checkpoint"):
        load_checkpoint(corrupt)
    truncated = tmp_path / "truncated.pt"
    save_checkpoint(tmp_path / "good.pt", build_model("mlp"))
    truncated.write_bytes((tmp_path / "good.pt").read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(truncated)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(CheckpointError, match="not a vaebook checkpoint"):
        load_checkpoint(foreign)
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.pt")


def test_mismatched_checkpoint_is_explained(tmp_path):
    path = save_checkpoint(tmp_path / "small.pt", build_model("mlp", latent_dim=4))
    trainer = Trainer(build_model("mlp", latent_dim=8), progress=False)
    with pytest.raises(CheckpointError, match="does not fit MLPVAE.*latent_dim.: 4"):
        trainer.resume(path)


def tiny_loader(seed=0, n=256):
    return TensorLoader(tiny_data(n, seed), batch_size=64, seed=0)


def test_train_or_load_trains_once_then_loads(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VAEBOOK_CHECKPOINTS", str(tmp_path))
    seed_everything(0)
    first, training = train_or_load(build_model("mlp", latent_dim=4, hidden=32), tiny_loader(), 2, "tiny")
    path = tmp_path / "tiny-smoke.pt"
    assert path.is_file() and training.seconds > 0 and not first.training
    assert training.hardware.endswith("CPU") and str(training).endswith(f"of training on {training.hardware}")
    assert load_checkpoint(path)["optimizer_state"] is None        # a finished model, not a run to resume

    def no_training(*args, **kwargs):
        raise AssertionError("a saved model with the same settings must be loaded, not trained again")

    monkeypatch.setattr(Trainer, "fit", no_training)
    capsys.readouterr()
    second, training_again = train_or_load(build_model("mlp", latent_dim=4, hidden=32), tiny_loader(), 2, "tiny")
    assert training_again == training
    assert capsys.readouterr().out.strip() == (f"loaded tiny-smoke.pt: 2 epochs, {training}; trained earlier, kept in "
                                               "the folder VAEBOOK_CHECKPOINTS names (delete it there to train again)")
    train_or_load(build_model("mlp", latent_dim=4, hidden=32), tiny_loader(), 2, "tiny", folder=tmp_path)
    assert f"kept in {tmp_path} (delete it there" in capsys.readouterr().out
    for p, q in zip(first.parameters(), second.parameters()):
        assert torch.equal(p, q)


def test_train_or_load_without_a_folder_just_trains(tmp_path, monkeypatch):
    monkeypatch.delenv("VAEBOOK_CHECKPOINTS", raising=False)
    monkeypatch.chdir(tmp_path)
    model, training = train_or_load(build_model("mlp", latent_dim=2, hidden=8), tiny_loader(), 1, "tiny")
    assert training.seconds > 0 and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("progress, lines", [(True, 2), (False, 0)])
def test_train_or_load_prints_a_line_per_epoch_only_when_asked(tmp_path, capsys, progress, lines):
    train_or_load(build_model("mlp", latent_dim=2, hidden=8), tiny_loader(), 2, "tiny", folder=tmp_path,
                  progress=progress)
    printed = capsys.readouterr().out
    assert printed.count("epoch ") == lines, printed


def test_train_or_load_refuses_a_model_trained_otherwise(tmp_path):
    train_or_load(build_model("mlp", latent_dim=4, hidden=32), tiny_loader(), 1, "tiny", folder=tmp_path)
    with pytest.raises(CheckpointError, match=r"tiny-smoke.pt was trained with other settings \(epochs: saved 1, asked 2\)"):
        train_or_load(build_model("mlp", latent_dim=4, hidden=32), tiny_loader(), 2, "tiny", folder=tmp_path)
    with pytest.raises(CheckpointError, match="data_mean: saved"):
        train_or_load(build_model("mlp", latent_dim=4, hidden=32), tiny_loader(seed=5), 1, "tiny", folder=tmp_path)
    with pytest.raises(CheckpointError, match="model: saved MLPVAE .*'hidden': 32.*, asked MLPVAE .*'hidden': 16"):
        train_or_load(build_model("mlp", latent_dim=4, hidden=16), tiny_loader(), 1, "tiny", folder=tmp_path)


def test_train_or_load_explains_bad_names_and_corrupt_files(tmp_path):
    with pytest.raises(ValueError, match="letters, digits"):
        train_or_load(build_model("mlp", latent_dim=2, hidden=8), tiny_loader(), 1, "../escape", folder=tmp_path)
    (tmp_path / "tiny-smoke.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="tiny-smoke.pt is not a readable checkpoint"):
        train_or_load(build_model("mlp", latent_dim=2, hidden=8), tiny_loader(), 1, "tiny", folder=tmp_path)


class Interrupt(Exception):
    """Stands in for a run killed part-way (a time limit, a closed laptop)."""


def train_until_killed(epoch: int, *args, **kwargs) -> None:
    """Call train_or_load(*args, **kwargs) and kill it as epoch ``epoch`` (counting from 1) starts."""
    real_epoch = Trainer.train_epoch

    def dies(self, loader):
        if self.epoch + 1 == epoch:
            raise Interrupt
        return real_epoch(self, loader)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Trainer, "train_epoch", dies)
        with pytest.raises(Interrupt):
            train_or_load(*args, **kwargs)


def test_train_or_load_finishes_an_interrupted_run_exactly(tmp_path, capsys):
    seed_everything(0)
    straight, _ = train_or_load(build_model("mlp", latent_dim=4, hidden=32), tiny_loader(), 3, "tiny",
                                folder=tmp_path / "straight")

    seed_everything(0)
    train_until_killed(3, build_model("mlp", latent_dim=4, hidden=32), tiny_loader(), 3, "tiny", folder=tmp_path)
    unfinished = tmp_path / "tiny-smoke.unfinished.pt"
    assert not (tmp_path / "tiny-smoke.pt").exists() and load_checkpoint(unfinished)["epoch"] == 2
    with pytest.raises(CheckpointError, match=r"unfinished.pt was trained with other settings \(epochs: saved 3, asked 4\)"):
        train_or_load(build_model("mlp", latent_dim=4, hidden=32), tiny_loader(), 4, "tiny", folder=tmp_path)

    seed_everything(99)         # a new session: other seeds, a fresh model; the saved states take over
    finished, training = train_or_load(build_model("mlp", latent_dim=4, hidden=32), tiny_loader(), 3, "tiny", folder=tmp_path)
    assert "resuming tiny-smoke.unfinished.pt after epoch 2 of 3" in capsys.readouterr().out
    assert not unfinished.exists() and load_checkpoint(tmp_path / "tiny-smoke.pt")["history"]["epoch"] == [1, 2, 3]
    assert training.seconds > 0
    for p, q in zip(finished.parameters(), straight.parameters()):
        assert torch.equal(p, q)


def test_train_or_load_reports_where_the_model_trained(tmp_path, monkeypatch, capsys):
    """A model trained on a GPU and loaded on a laptop keeps the GPU's name; a run resumed elsewhere names both."""
    monkeypatch.setattr("vaebook.train.hardware", lambda device: "Test GPU")
    _, trained = train_or_load(build_model("mlp", latent_dim=2, hidden=8), tiny_loader(), 1, "gpu", folder=tmp_path)
    assert trained.hardware == "Test GPU"

    train_until_killed(2, build_model("mlp", latent_dim=2, hidden=8), tiny_loader(), 2, "moved", folder=tmp_path)
    monkeypatch.setattr("vaebook.train.hardware", lambda device: "Laptop CPU")
    _, loaded = train_or_load(build_model("mlp", latent_dim=2, hidden=8), tiny_loader(), 1, "gpu", folder=tmp_path)
    assert loaded == trained and "on Test GPU" in capsys.readouterr().out
    _, moved = train_or_load(build_model("mlp", latent_dim=2, hidden=8), tiny_loader(), 2, "moved", folder=tmp_path)
    assert moved.hardware == "Test GPU, then Laptop CPU"
    assert "the epochs so far ran on Test GPU, the rest run on Laptop CPU" in capsys.readouterr().out
