"""Shared test set-up: the smoke profile, the CPU, small seeded tensors, and the scripts of tools/."""

import importlib.util
import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]

os.environ.setdefault("VAEBOOK_PROFILE", "smoke")
os.environ.setdefault("VAEBOOK_DEVICE", "cpu")


@pytest.fixture
def generator() -> torch.Generator:
    return torch.Generator().manual_seed(1234)


@pytest.fixture
def load_tool():
    """Import a script of tools/ (a folder of scripts, not a package) by name: ``load_tool("nbclean")``."""
    def load(name: str):
        spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    return load
