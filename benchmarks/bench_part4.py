"""Speed of Part IV's new models, the DCGAN and the DDPM: training images per second through the book's
``Trainer`` and sampling images per second.

Each model trains for the same number of batches of 128 MNIST grey-level images (both of its phases for the
DCGAN, the simplified loss at a random step for the DDPM), then draws images: one generator pass for the
DCGAN, T network passes (the ancestral sampler) for the DDPM. The load average of the machine before and
after is printed and saved, since other work on a shared machine slows every number down.

    VAEBOOK_DATA=../shared/data python benchmarks/bench_part4.py --json benchmarks/results_part4.json
    python benchmarks/bench_part4.py --sizes all --batches 200 --samples 256 --json OUT.json     # on a GPU
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from vaebook import __version__, get_device, hardware, seed_everything
from vaebook.data import TensorLoader, load_images
from vaebook.models import DCGAN, DDPM
from vaebook.timing import synchronize
from vaebook.train import Trainer

BATCH = 128
MODELS = {   # --sizes book: the first two, the book profile's networks; --sizes all adds the full profile's
    "DCGAN (width 64)": (lambda: DCGAN(latent_dim=64, width=64), 2e-4),
    "DDPM (T 200, 32 channels)": (lambda: DDPM(steps=200, channels=32), 2e-4),
    "DDPM (T 1000, 64 channels)": (lambda: DDPM(steps=1000, channels=64), 2e-4),
}


def training_rate(model: torch.nn.Module, lr: float, images: torch.Tensor, labels: torch.Tensor, batches: int,
                  device: torch.device) -> float:
    """Training images per second through the Trainer (one warm-up batch first, not timed)."""
    trainer = Trainer(model, lr=lr, progress=False)
    trainer.train_epoch(TensorLoader((images[:BATCH], labels[:BATCH]), BATCH))
    loader = TensorLoader((images[: batches * BATCH], labels[: batches * BATCH]), BATCH)
    synchronize(device)
    start = time.perf_counter()
    trainer.train_epoch(loader)
    synchronize(device)
    return batches * BATCH / (time.perf_counter() - start)


def sampling_rate(model: torch.nn.Module, n: int, device: torch.device) -> float:
    model.eval()
    synchronize(device)
    start = time.perf_counter()
    model.sample(n)
    synchronize(device)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=20, help="training batches per model")
    parser.add_argument("--samples", type=int, default=16, help="images per sampling run")
    parser.add_argument("--sizes", choices=["book", "all"], default="book")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    seed_everything(0)
    device = get_device()
    train = load_images("mnist", "train", device=device)
    load_before = os.getloadavg()[0]
    results = {}
    for name, (make, lr) in list(MODELS.items())[: 2 if args.sizes == "book" else None]:
        model = make().to(device)
        results[name] = {"training_images_per_second": training_rate(model, lr, train.images, train.labels,
                                                                      args.batches, device),
                         "sampling_images_per_second": sampling_rate(model, args.samples, device)}
        print(f"| {name} | {results[name]['training_images_per_second']:,.0f} | "
              f"{results[name]['sampling_images_per_second']:,.3g} |", flush=True)
    load_after = os.getloadavg()[0]
    machine = (f"{hardware(device)} ({platform.machine()}, {torch.get_num_threads()} threads), "
               f"torch {torch.__version__}")
    print(f"{machine}; load average {load_before:.2f} before, {load_after:.2f} after")
    if args.json:
        args.json.write_text(json.dumps({"vaebook_version": __version__, "machine": machine, "batches": args.batches,
                                         "batch_size": BATCH, "samples": args.samples,
                                         "load_average": [load_before, load_after], "results": results},
                                        indent=1) + "\n")


if __name__ == "__main__":
    main()
