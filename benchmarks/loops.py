"""The two training loops the benchmarks of Parts III and IV time, on the same model and loss.

- ``reference``: the loop of the public implementations (``pytorch/examples``' VAE and DCGAN, the usual
  DDPM training scripts): a torchvision dataset with a per-sample ``ToTensor`` behind a ``DataLoader``,
  plain Adam (one per phase for a model trained in phases, with the phase's own momentum),
  ``loss.item()`` every step;
- ``vaebook``: the dataset as one tensor on the device, batched by indexing, the book's ``Trainer``.

The model and its loss are the same in both, so the difference is the data pipeline and the loop.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset
from torchvision import datasets, transforms

from vaebook import seed_everything
from vaebook.data import TensorLoader, _find_raw_folder
from vaebook.timing import synchronize
from vaebook.train import Trainer, model_phases

BATCH = 128


def mnist_dataset(folder: Path) -> Dataset:
    """torchvision's MNIST training set with a per-sample ``ToTensor``, from a copy of the raw files in
    ``folder`` (torchvision extracts the .gz files next to themselves, and the shared copy is read-only)."""
    raw = _find_raw_folder("mnist")
    if raw is None:
        raise SystemExit("MNIST not found: set VAEBOOK_DATA to a folder holding MNIST/raw/*.gz")
    shutil.copytree(raw, Path(folder) / "MNIST" / "raw", dirs_exist_ok=True)
    return datasets.MNIST(folder, train=True, download=True, transform=transforms.ToTensor())


def reference_rate(model: torch.nn.Module, dataset: Dataset, batches: int, device: torch.device,
                   lr: float | dict[str, float] = 1e-3,
                   prepare: Callable[[torch.Tensor], torch.Tensor] = lambda x: x) -> float:
    """Training images per second of the public implementations' loop over ``batches`` shuffled batches;
    ``prepare`` turns a batch of grey levels into the model's input (binarizes it, for Part III)."""
    phases = model_phases(model)
    groups = {None: list(model.parameters())} if phases is None else phases
    optimizers = {name: torch.optim.Adam(params, lr=lr[name] if isinstance(lr, dict) else lr)
                  for name, params in groups.items()}
    model.train()
    seen, start = 0, time.perf_counter()
    for step, (x, y) in enumerate(DataLoader(dataset, batch_size=BATCH, shuffle=True)):
        if step == batches:
            break
        x, y = prepare(x.to(device)), y.to(device)
        for name, optimizer in optimizers.items():
            loss = (model.loss((x, y)) if name is None else model.loss((x, y), phase=name))["loss"]
            optimizer.zero_grad()
            loss.backward()
            loss.item()
            optimizer.step()
        seen += len(x)
    synchronize(device)
    return seen / (time.perf_counter() - start)


def vaebook_rate(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, batches: int,
                 lr: float | dict[str, float] = 1e-3, binarize: str = "none") -> float:
    """Training images per second of the book's Trainer over ``batches`` batches of in-memory tensors."""
    loader = TensorLoader((images[: batches * BATCH], labels[: batches * BATCH]), BATCH, binarize=binarize)
    trainer = Trainer(model, lr=lr, progress=False)
    start = time.perf_counter()
    trainer.train_epoch(loader)
    synchronize(images.device)
    return batches * BATCH / (time.perf_counter() - start)


def side_by_side(make: Callable[[], torch.nn.Module], dataset: Dataset, images: torch.Tensor,
                 labels: torch.Tensor, batches: int, lr: float | dict[str, float] = 1e-3, binarize: bool = False,
                 repeats: int = 2) -> dict[str, float]:
    """Mean training images per second of a fresh model from ``make`` in each loop, the loops alternating
    (reference, vaebook, reference, ...) so that a change in background load hits both; ``binarize``:
    dynamically binarized images (Part III) instead of grey levels."""
    device = images.device
    prepare, mode = (torch.bernoulli, "dynamic") if binarize else (lambda x: x, "none")
    vaebook_rate(make().to(device), images, labels, 1, lr, mode)   # a warm-up batch, not timed (kernels, caches)
    rates: dict[str, list[float]] = {"reference": [], "vaebook": []}
    for repeat in range(repeats):
        seed_everything(repeat)
        rates["reference"].append(reference_rate(make().to(device), dataset, batches, device, lr, prepare))
        seed_everything(repeat)
        rates["vaebook"].append(vaebook_rate(make().to(device), images, labels, batches, lr, mode))
    return {loop: sum(r) / len(r) for loop, r in rates.items()}
