"""Speed of Part IV's new models, the DCGAN and the DDPM: training images per second and sampling images
per second.

Each model trains for the same number of batches of 128 MNIST grey-level images (both of its phases for the
DCGAN, each with its own Adam; the simplified loss at a random step for the DDPM) through the two loops of
``loops.py``: the public implementations' (``pytorch/examples``' DCGAN, the usual DDPM scripts: a
``DataLoader`` with a per-sample ``ToTensor``, ``loss.item()`` every step) and the book's ``Trainer``,
alternating. Then it draws images: one generator pass for the DCGAN, T network passes (the ancestral
sampler) for the DDPM. The load average of the machine before and after is printed and saved, since other
work on a shared machine slows every number down.

    VAEBOOK_DATA=../shared/data python benchmarks/bench_part4.py --json benchmarks/results_part4.json
    python benchmarks/bench_part4.py --sizes all --batches 200 --samples 256 --json OUT.json     # on a GPU
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import torch
from loops import BATCH, mnist_dataset, side_by_side

from vaebook import __version__, get_device, hardware, seed_everything
from vaebook.data import load_images
from vaebook.models import DCGAN, DDPM
from vaebook.timing import synchronize

MODELS = {   # --sizes book: the first two, the book profile's networks; --sizes all adds the full profile's
    "DCGAN (width 64)": (lambda: DCGAN(latent_dim=64, width=64), 2e-4),
    "DDPM (T 200, 32 channels)": (lambda: DDPM(steps=200, channels=32), 2e-4),
    "DDPM (T 1000, 64 channels)": (lambda: DDPM(steps=1000, channels=64), 2e-4),
}


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
    print("| model | training images/s, reference loop | training images/s, `vaebook` | sampling images/s |\n"
          "|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        dataset = mnist_dataset(Path(tmp))
        for name, (make, lr) in list(MODELS.items())[: 2 if args.sizes == "book" else None]:
            row = side_by_side(make, dataset, train.images, train.labels, args.batches, lr)
            row["sampling_images_per_second"] = sampling_rate(make().to(device), args.samples, device)
            results[name] = row
            print(f"| {name} | {row['reference']:,.0f} | {row['vaebook']:,.0f} | "
                  f"{row['sampling_images_per_second']:,.3g} |", flush=True)
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
