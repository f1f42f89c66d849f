"""Checkpoints that hold only tensors and plain data, so ``torch.load(weights_only=True)`` reads them.

A checkpoint records the model's registry name and config (to rebuild it), its
``state_dict``, the optimizer's (``optimizer_state``; for a model trained in phases, one per
phase in ``optimizer_states``, phase name -> state), the epoch, the metric history, the package version and,
for a run to resume exactly, the random number generators' states.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

FORMAT = "vaebook-checkpoint/1"


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, corrupt, not ours, or does not fit the model."""


def save_checkpoint(path: str | os.PathLike, model: nn.Module,
                    optimizer: torch.optim.Optimizer | dict[str, torch.optim.Optimizer] | None = None,
                    epoch: int = 0, history: dict[str, list[float]] | None = None,
                    rng_state: dict[str, Any] | None = None, **extra: Any) -> Path:
    """Write a checkpoint atomically (to a temporary file, then renamed).

    ``optimizer``: one optimizer, or a dict of them by phase (a model trained in phases).
    """
    from vaebook import __version__
    from vaebook.models import model_name

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "format": FORMAT,
        "vaebook_version": __version__,
        "model_name": model_name(model),
        "model_config": model.config,
        "model_state": model.state_dict(),
        "optimizer_state": optimizer.state_dict() if isinstance(optimizer, torch.optim.Optimizer) else None,
        "optimizer_states": ({name: o.state_dict() for name, o in optimizer.items()}
                             if isinstance(optimizer, dict) else None),
        "epoch": int(epoch),
        "history": history or {},
        "rng_state": rng_state,
        "extra": extra,
    }
    return save_atomically(state, path)


def save_atomically(state: Any, path: Path) -> Path:
    """torch.save to a temporary file, then rename it: a run killed while saving leaves the old file whole."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


def read_saved(path: Path, what: str = "checkpoint", map_location: str | torch.device = "cpu",
               hint: str = "") -> Any:
    """torch.load with ``weights_only=True``; an unreadable file raises CheckpointError naming it and the problem."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch.load raises many types for a bad file; all mean "unreadable"
        text = str(error).strip()
        first_line = f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__
        raise CheckpointError(f"{path} is not a readable {what} (corrupt or truncated?): {first_line}{hint}") from None


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read and validate a checkpoint with ``weights_only=True``; errors name the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    state = read_saved(path, "checkpoint", map_location)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a vaebook checkpoint (expected format {FORMAT!r}).")
    return state


def restore_model(model: nn.Module, state: dict[str, Any], path: str = "checkpoint") -> nn.Module:
    """Load a checkpoint's weights into ``model``, explaining any mismatch in one message."""
    try:
        model.load_state_dict(state["model_state"])
    except RuntimeError as error:
        detail = " ".join(str(error).split())
        raise CheckpointError(
            f"{path} does not fit {type(model).__name__} (saved as {state.get('model_name')!r} "
            f"with config {state.get('model_config')}): {detail[:400]}"
        ) from None
    return model


def load_model(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a model from its checkpoint: returns (model in eval mode, the checkpoint dict)."""
    from vaebook.models import build_model

    state = load_checkpoint(path, map_location)
    try:
        model = build_model(state["model_name"], **state["model_config"])
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: cannot rebuild model {state.get('model_name')!r}: {error}") from None
    restore_model(model, state, str(path))
    return model.to(map_location).eval(), state
