"""Run profiles, device choice and seeding: the settings every notebook reads first.

The profile is read from one environment variable, ``VAEBOOK_PROFILE``, in one
place (:func:`profile`), so that a notebook's code is the same in all three
profiles and only its sizes change.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Iterable, TypeVar

import numpy as np
import torch

PROFILES = ("smoke", "book", "full")
DEFAULT_PROFILE = "book"

T = TypeVar("T")


def profile() -> str:
    """The run profile: ``smoke`` (CI), ``book`` (a CPU laptop, the default) or ``full`` (a GPU)."""
    name = os.environ.get("VAEBOOK_PROFILE", DEFAULT_PROFILE).strip().lower() or DEFAULT_PROFILE
    if name not in PROFILES:
        raise ValueError(
            f"VAEBOOK_PROFILE={name!r} is not a profile; choose one of {', '.join(PROFILES)}."
        )
    return name


def by_profile(smoke: T, book: T, full: T) -> T:
    """Pick the value for the current profile, e.g. ``epochs = by_profile(smoke=1, book=10, full=100)``."""
    return {"smoke": smoke, "book": book, "full": full}[profile()]


def get_device() -> torch.device:
    """CUDA if present, then Apple MPS, then CPU; ``VAEBOOK_DEVICE`` (e.g. ``cpu``) overrides."""
    wanted = os.environ.get("VAEBOOK_DEVICE", "").strip()
    if wanted:
        try:
            device = torch.device(wanted)
        except RuntimeError as error:
            raise ValueError(f"VAEBOOK_DEVICE={wanted!r} is not a device name: {error}") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("VAEBOOK_DEVICE asks for CUDA, but torch sees no CUDA device.")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def checkpoint_dir() -> Path | None:
    """Where chapters keep the models they train (``VAEBOOK_CHECKPOINTS``); None: train on every run."""
    folder = os.environ.get("VAEBOOK_CHECKPOINTS", "").strip()
    return Path(folder).expanduser() if folder else None


def progress_bars() -> bool:
    """Whether training draws progress bars: yes, unless ``TQDM_DISABLE`` is set to a true value.

    tqdm's own variable, read here because tqdm's notebook bars ignore it. The book build sets it:
    a bar saved in an executed notebook is a widget that shows nothing in the rendered page.
    """
    return os.environ.get("TQDM_DISABLE", "").strip().lower() in ("", "0", "false", "no")


def hardware(device: torch.device | str | None = None) -> str:
    """The hardware a number came from, for the book's tables: a GPU's name, or "2-core CPU"."""
    device = torch.device(device) if device is not None else get_device()
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple GPU (MPS)"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cores}-core CPU"


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch so that CPU runs repeat exactly; returns a seeded CPU generator."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def rng_state(loader: Iterable | None = None) -> dict[str, object]:
    """The random states a run draws from: torch's (CPU and accelerator) and the loader's shuffle.

    Saved with a checkpoint, they make a resumed training or evaluation draw the same batches,
    binarizations and noise as a run that was never interrupted.
    """
    state: dict[str, object] = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if torch.backends.mps.is_available() and hasattr(torch.mps, "get_rng_state"):
        state["mps"] = torch.mps.get_rng_state()
    generator = getattr(loader, "generator", None)
    if isinstance(generator, torch.Generator):
        state["loader"] = generator.get_state()
    return state


def set_rng_state(state: dict[str, object], loader: Iterable | None = None) -> None:
    """Restore what :func:`rng_state` saved (the parts this machine and loader have)."""
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
    if "mps" in state and torch.backends.mps.is_available() and hasattr(torch.mps, "set_rng_state"):
        torch.mps.set_rng_state(state["mps"])
    generator = getattr(loader, "generator", None)
    if "loader" in state and isinstance(generator, torch.Generator):
        generator.set_state(state["loader"])


def check_version(expected: str) -> None:
    """Fail early when the installed package is not the version the notebook was written for."""
    from vaebook import __version__

    if __version__ != expected:
        raise RuntimeError(
            f"This notebook was written for vaebook {expected}, but {__version__} is installed. "
            f"Install the book's version: pip install 'vaebook=={expected}' (or the repository at that tag)."
        )
