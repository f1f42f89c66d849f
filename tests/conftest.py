"""Shared test set-up: the smoke profile, the CPU, and small seeded tensors."""

import os

import pytest
import torch

os.environ.setdefault("VAEBOOK_PROFILE", "smoke")
os.environ.setdefault("VAEBOOK_DEVICE", "cpu")


@pytest.fixture
def generator() -> torch.Generator:
    return torch.Generator().manual_seed(1234)
