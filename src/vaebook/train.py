"""The one small trainer every chapter and the CLI use.

It runs epochs over a loader, keeps a per-epoch history of every metric the loss
returns, stops with a clear message when the loss turns NaN or infinite, shows a
progress bar (silent in the smoke profile) and saves and resumes checkpoints.

A model trained by several losses in turn (an adversarial autoencoder: reconstruction, then
the discriminator, then the encoder as generator) declares them with a ``phases()`` method,
phase name -> the parameters that phase trains; the trainer then keeps one Adam per phase
and, for every batch, takes the phases' steps in order (see :func:`model_phases`).
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping

import torch
from tqdm.auto import tqdm

from vaebook.checkpoint import CheckpointError, load_checkpoint, restore_model, save_checkpoint
from vaebook.evaluate import evaluate
from vaebook.losses import model_loss
from vaebook.records import duration
from vaebook.settings import checkpoint_dir, hardware, profile, progress_bars, rng_state, set_rng_state

LossFn = Callable[..., dict[str, torch.Tensor]]   # loss_fn(model, batch) or loss_fn(model, batch, phase=name)
DEFAULT_LR = 1e-3


def make_adam(params, lr: float = 1e-3) -> torch.optim.Optimizer:
    """Adam, fused into one kernel where this torch build supports it (same update, less overhead)."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr)


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the message names the epoch and step (and the phase)."""


def model_phases(model: torch.nn.Module) -> dict[str, list] | None:
    """The training phases a model declares, in order, or None for a model trained by one loss.

    A model with phases defines ``phases()`` returning an ordered mapping from phase name (a
    Python name) to the parameters that phase trains (parameters, or torch param-group dicts);
    a parameter may belong to several phases. Its ``loss(batch, phase=name)`` returns that
    phase's metrics with a ``loss`` key; ``loss(batch)`` (no phase) is what evaluation reports.
    """
    declared = getattr(model, "phases", None)
    if declared is None:
        return None
    phases = dict(declared() if callable(declared) else declared)
    if not phases:
        raise ValueError(f"{type(model).__name__}.phases() names no phase")
    for name in phases:
        if not (isinstance(name, str) and name.isidentifier()):
            raise ValueError(f"a phase name is a Python name, got {name!r}")
        phases[name] = list(phases[name])
        if not phases[name]:
            raise ValueError(f"phase {name!r} of {type(model).__name__} trains no parameters")
    return phases


def phase_metrics(results: Mapping[str | None, Mapping[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """One step's metrics of every phase under one name each: a key that more than one phase
    returns (``loss`` always does) is prefixed with its phase, ``<phase>_<key>``; the rest keep theirs."""
    counts = Counter(key for metrics in results.values() for key in metrics)
    return {(f"{phase}_{key}" if phase is not None and counts[key] > 1 else key): value
            for phase, metrics in results.items() for key, value in metrics.items()}


def _load_optimizer(optimizer: torch.optim.Optimizer, saved: dict) -> None:
    """Load a saved optimizer state, keeping this machine's choice of Adam kernel (fused, foreach):
    a run saved on a GPU may go on on a CPU whose torch has no fused Adam; the update is the same."""
    kernels = [{key: group[key] for key in ("fused", "foreach") if key in group}
               for group in optimizer.param_groups]
    optimizer.load_state_dict(saved)
    for group, kept in zip(optimizer.param_groups, kernels):
        group.update(kept)


class Trainer:
    """Fit a model with Adam by default: ``Trainer(model).fit(train_loader, epochs=10, test_loader=...)``.

    ``loss_fn(model, batch)`` returns a dict of scalar tensors with a ``loss`` key;
    every key is averaged per epoch into ``history['train_<key>']`` (and ``test_<key>``).

    A model with phases (:func:`model_phases`) gets one optimizer per phase, in
    ``trainer.optimizers[name]``; each batch then takes one step per phase, in order, each
    with ``loss_fn(model, batch, phase=name)`` and that phase's optimizer alone. ``lr`` may be
    a dict by phase (phases it leaves out train at 1e-3), ``optimizer`` a dict by phase. The
    phases' metrics are named by :func:`phase_metrics`; the test set is scored by ``loss_fn(model, batch)``.
    """

    def __init__(self, model: torch.nn.Module, loss_fn: LossFn = model_loss,
                 lr: float | dict[str, float] = DEFAULT_LR,
                 optimizer: torch.optim.Optimizer | dict[str, torch.optim.Optimizer] | None = None,
                 progress: bool | None = None):
        self.model = model
        self.loss_fn = loss_fn
        self.phases = model_phases(model)
        # phase name -> optimizer; a model trained by one loss has one optimizer, under the name None
        self.optimizers: dict[str | None, torch.optim.Optimizer] = (
            {None: optimizer or make_adam(model.parameters(), lr=_one_lr(lr, model))} if self.phases is None
            else _phase_optimizers(self.phases, lr, optimizer))
        self.progress = profile() != "smoke" if progress is None else progress
        self.epoch = 0
        self.meta: dict = {}  # saved with every checkpoint, e.g. the dataset it was trained on
        self.history: dict[str, list[float]] = {}

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        """The optimizer of a model trained by one loss (a model with phases has ``optimizers[name]``)."""
        if None not in self.optimizers:
            raise AttributeError(f"{type(self.model).__name__} trains in phases; its optimizers are "
                                 f"trainer.optimizers[name] for name in {list(self.optimizers)}")
        return self.optimizers[None]

    def _log(self, key: str, value: float) -> None:
        self.history.setdefault(key, []).append(value)

    def train_epoch(self, loader: Iterable) -> dict[str, float]:
        """One pass over ``loader``; returns the epoch's mean of each metric."""
        self.model.train()
        sums: dict[str, torch.Tensor] = {}
        count = 0
        # the epoch lines print whenever self.progress is on; the bar only where one
        # can be watched
        bar = tqdm(loader, desc=f"epoch {self.epoch + 1}", leave=False,
                   disable=not (self.progress and progress_bars()))
        for step, batch in enumerate(bar, start=1):
            results = {}
            # one step per phase, in order
            for phase, optimizer in self.optimizers.items():
                results[phase] = self.loss_fn(self.model, batch) if phase is None else \
                    self.loss_fn(self.model, batch, phase=phase)
                loss = results[phase]["loss"]
                if not torch.isfinite(loss):
                    raise NonFiniteLossError(
                        f"the loss became {loss.item()} at epoch {self.epoch + 1}, "
                        f"step {step}"
                        + (f", phase {phase!r}" if phase is not None else "")
                        + "; lower the learning rate, check the data range, or clamp "
                        "the log-variance."
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            metrics = phase_metrics(results)
            n = len(batch[0])
            count += n
            for key, value in metrics.items():
                sums[key] = sums.get(key, 0.0) + value.detach() * n
            # loss.item() waits for the GPU: only for a bar on show
            if not bar.disable and step % 50 == 0:
                bar.set_postfix(loss=f"{loss.item():.2f}")
        return {key: float(value) / count for key, value in sums.items()}

    def fit(self, train_loader: Iterable, epochs: int, test_loader: Iterable | None = None,
            checkpoint: str | Path | None = None, on_epoch: Callable[[int, dict], None] | None = None
            ) -> dict[str, list[float]]:
        """Train until ``epochs`` epochs are done in total (a resumed run continues its count).

        With ``checkpoint`` the run is saved after every epoch, random states included, so that
        :meth:`resume` continues it exactly where it stopped.
        """
        for _ in range(self.epoch, epochs):
            start = time.perf_counter()
            train_metrics = self.train_epoch(train_loader)
            seconds = time.perf_counter() - start
            self.epoch += 1
            self._log("epoch", self.epoch)
            self._log("seconds", seconds)
            for key, value in train_metrics.items():
                self._log(f"train_{key}", value)
            if test_loader is not None:
                for key, value in evaluate(self.model, test_loader, self.loss_fn).items():
                    self._log(f"test_{key}", value)
            if on_epoch is not None:
                on_epoch(self.epoch, {k: v[-1] for k, v in self.history.items()})
            if checkpoint is not None:   # after on_epoch, so a resumed run starts from the same random state
                self.save(checkpoint, rng_state=rng_state(train_loader))
            if self.progress:
                # the bound itself where the model has one (the loss may be β-weighted), else the loss
                suffix = "neg_elbo" if "train_neg_elbo" in self.history else "loss"
                shown = {k: v[-1] for k, v in self.history.items() if k.endswith(suffix)}
                tqdm.write(f"epoch {self.epoch}: " + ", ".join(f"{k} {v:.2f}" for k, v in shown.items())
                           + f" ({seconds:.1f} s)")
        return self.history

    def save(self, path: str | Path, rng_state: dict | None = None, **extra) -> Path:
        """Checkpoint the model, optimizer, epoch count and history (and random states, if given)."""
        optimizers = self.optimizers[None] if self.phases is None else self.optimizers
        return save_checkpoint(path, self.model, optimizers, self.epoch, self.history, rng_state=rng_state,
                               **{**self.meta, **extra})

    def resume(self, path: str | Path, loader: Iterable | None = None, state: dict | None = None) -> "Trainer":
        """Continue from a checkpoint written by :meth:`save`.

        Pass the training loader to restore its shuffling too; with the random states that
        :meth:`fit` saved, the continued run then matches one that was never interrupted.
        ``state``: the checkpoint already read from ``path`` (on the CPU), so it is not read twice.
        """
        if state is None:   # read on the CPU: random states stay there; weights are copied to the model's device
            state = load_checkpoint(path, map_location="cpu")
        restore_model(self.model, state, str(path))
        single, by_phase = state.get("optimizer_state"), state.get("optimizer_states")
        if self.phases is None and by_phase is not None or self.phases is not None and single is not None:
            saved_with = "one optimizer per phase" if by_phase is not None else "one optimizer"
            raise CheckpointError(f"{path} was saved with {saved_with}; this trainer has {list(self.optimizers)}")
        saved = {None: single} if single is not None else by_phase or {}
        if saved and saved.keys() != self.optimizers.keys():
            raise CheckpointError(f"{path} has optimizers for phases {list(saved)}, "
                                  f"this trainer for {list(self.optimizers)}")
        for phase, optimizer_state in saved.items():
            _load_optimizer(self.optimizers[phase], optimizer_state)
        self.epoch = state["epoch"]
        self.history = {k: list(v) for k, v in state["history"].items()}
        self.meta = {**state.get("extra", {}), **self.meta}
        if state.get("rng_state") is not None:
            set_rng_state(state["rng_state"], loader)
        return self


def _one_lr(lr: float | dict, model: torch.nn.Module) -> float:
    if isinstance(lr, Mapping):
        raise ValueError(f"a learning rate by phase ({dict(lr)}) needs a model with phases; "
                         f"{type(model).__name__} trains by one loss")
    return lr


def _phase_optimizers(phases: dict[str, list], lr: float | Mapping[str, float],
                      optimizer: torch.optim.Optimizer | Mapping[str, torch.optim.Optimizer] | None
                      ) -> dict[str, torch.optim.Optimizer]:
    """One Adam per phase (learning rate ``lr``, or ``lr[name]``), or the optimizers given by phase."""
    if optimizer is not None:
        if not isinstance(optimizer, Mapping) or set(optimizer) != set(phases):
            raise ValueError(f"a model with phases needs one optimizer per phase, a dict with keys {list(phases)}")
        return {name: optimizer[name] for name in phases}
    rates = dict(lr) if isinstance(lr, Mapping) else {name: lr for name in phases}
    unknown = set(rates) - set(phases)
    if unknown:
        raise ValueError(f"learning rates for phases {sorted(unknown)} that the model does not have; "
                         f"its phases: {list(phases)}")
    return {name: make_adam(params, lr=rates.get(name, DEFAULT_LR)) for name, params in phases.items()}


def final(history: dict[str, list[float]], key: str) -> float:
    """The last value of a metric, or NaN if it was never logged."""
    values = history.get(key, [])
    return values[-1] if values else math.nan


def _training_settings(model: torch.nn.Module, loader: Iterable, epochs: int, lr: float | dict[str, float]) -> dict:
    """What decides a trained model: profile, model, epochs, learning rate and the training data."""
    x = getattr(loader, "x", None)
    return {
        "profile": profile(),
        "model": f"{type(model).__name__} {getattr(model, 'config', {})}",
        "epochs": int(epochs),
        "lr": {k: float(v) for k, v in lr.items()} if isinstance(lr, Mapping) else float(lr),
        "images": len(x) if x is not None else None,
        # tells data sets apart; computed on the CPU, so that a run goes on on another device (and MPS has no float64)
        "data_mean": round(float(x.cpu().mean(dtype=torch.float64)), 8) if x is not None else None,
        "batch_size": getattr(loader, "batch_size", None),
        "binarize": getattr(loader, "binarize", None),
    }


def _check_settings(path: Path, state: dict, settings: dict) -> None:
    """Refuse a saved run whose settings differ from the ones asked for, naming each difference."""
    saved = state.get("extra", {}).get("settings", {})
    differences = [f"{key}: saved {saved.get(key)}, asked {value}"
                   for key, value in settings.items() if saved.get(key) != value]
    if differences:
        raise CheckpointError(f"{path} was trained with other settings ({'; '.join(differences)}). "
                              "Delete it, or set VAEBOOK_CHECKPOINTS to another folder, to train again.")


@dataclass(frozen=True)
class Training:
    """How a model was trained: seconds of training and the hardware they ran on (not where it runs now)."""

    seconds: float
    hardware: str

    @classmethod
    def from_history(cls, history: dict[str, list[float]], hardware: str) -> "Training":
        """The total of a run's per-epoch seconds, on the hardware named."""
        return cls(float(sum(history.get("seconds", []))), hardware)

    def __str__(self) -> str:
        return f"{duration(self.seconds)} of training on {self.hardware}"


def train_or_load(model: torch.nn.Module, loader: Iterable, epochs: int, name: str, *,
                  lr: float | dict[str, float] = DEFAULT_LR,
                  loss_fn: LossFn = model_loss, folder: str | Path | None = None,
                  progress: bool | None = None) -> tuple[torch.nn.Module, Training]:
    """Train ``model`` for ``epochs`` epochs, or load the same training saved by an earlier run.

    Without a folder (the argument, else ``VAEBOOK_CHECKPOINTS``) this just trains. With one, the
    run is saved after every epoch as ``<name>-<profile>.unfinished.pt`` and, once done, the trained
    model as ``<name>-<profile>.pt`` with its training time, the hardware it trained on and the
    settings that made it (a model with phases saves every phase's optimizer, and ``lr`` may be a
    dict by phase). A later run with the same settings loads the finished model instead of
    training again, or continues an unfinished one from its last epoch, drawing the same random
    numbers as an uninterrupted run: a chapter whose full profile trains for an hour can be stopped
    and finished later. A saved run whose settings differ is refused with a message naming them,
    never used in silence. Returns the model in eval mode and its :class:`Training`, so that a
    model trained on a GPU and loaded on a laptop is still reported with the GPU's time and name.
    ``progress``: print a line per epoch (default: outside the smoke profile); ``False`` for a
    chapter that trains many models and prints one line for each itself.
    """
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise ValueError(f"a checkpoint name uses letters, digits, '_' and '-' only, got {name!r}")
    where = "the folder VAEBOOK_CHECKPOINTS names" if folder is None else str(folder)   # for the reader
    folder = Path(folder) if folder is not None else checkpoint_dir()
    settings = _training_settings(model, loader, epochs, lr)
    here = hardware(next(model.parameters()).device)
    trainer = Trainer(model, loss_fn=loss_fn, lr=lr, progress=progress)
    if folder is None:
        trainer.fit(loader, epochs=epochs)
        return model.eval(), Training.from_history(trainer.history, here)

    path = folder / f"{name}-{settings['profile']}.pt"
    unfinished = folder / f"{name}-{settings['profile']}.unfinished.pt"
    if path.exists():
        state = load_checkpoint(path, map_location=next(model.parameters()).device)
        _check_settings(path, state, settings)
        restore_model(model, state, str(path))
        training = Training.from_history(state["history"], state["extra"].get("hardware", "unrecorded hardware"))
        print(f"loaded {path.name}: {epochs} epochs, {training}; trained earlier, kept in {where} "
              f"(delete it there to train again)")
        return model.eval(), training
    trained_on = here
    if unfinished.exists():
        state = load_checkpoint(unfinished)
        _check_settings(unfinished, state, settings)
        trainer.resume(unfinished, loader, state)
        trained_on = trainer.meta.get("hardware", "unrecorded hardware")
        print(f"resuming {unfinished.name} after epoch {trainer.epoch} of {epochs}")
        if trained_on.rsplit(", then ", 1)[-1] != here:
            print(f"note: the epochs so far ran on {trained_on}, the rest run on {here}; the training time adds up both")
            trained_on = f"{trained_on}, then {here}"
    trainer.meta = {"settings": settings, "hardware": trained_on}
    trainer.fit(loader, epochs=epochs, checkpoint=unfinished)
    training = Training.from_history(trainer.history, trained_on)
    # the finished model without the optimizer's state: a third of the size, and nothing resumes from it
    save_checkpoint(path, model, None, trainer.epoch, trainer.history, settings=settings, hardware=training.hardware)
    unfinished.unlink(missing_ok=True)
    return model.eval(), training
