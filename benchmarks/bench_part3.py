"""Speed of Part III's models: training images per second and sampling images per second.

For the VQ-VAE, the PixelCNN and the Gated PixelCNN at the sizes the book profile trains, and at
the full profile's sizes, each model trains for the same number of batches of 128 dynamically
binarized MNIST images through the two loops of ``loops.py`` (the public implementations' and the
book's ``Trainer``), alternating so that background load hits both.
The autoregressive models also sample: one network pass per pixel, so 784 passes per batch of
images, timed for a batch of 16. The adversarial autoencoder takes three steps per batch (the
reconstruction, the discriminator, the encoder as generator), each with its own optimizer: both loops
take all three, and the ``Trainer`` is also timed phase by phase, in seconds per batch of each.
Prints Markdown tables and writes JSON.

    VAEBOOK_DATA=../shared/data python benchmarks/bench_part3.py --json benchmarks/results_part3.json
    python benchmarks/bench_part3.py --sizes all --batches 200 --samples 64 --json OUT.json     # on a GPU
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch
from loops import BATCH, mnist_dataset, side_by_side

from vaebook import __version__, get_device, hardware, seed_everything
from vaebook.data import TensorLoader, load_images
from vaebook.models import AAE, GatedPixelCNN, PixelCNN, VQVAE
from vaebook.models.pixelcnn import sampling_seconds
from vaebook.timing import synchronize
from vaebook.train import Trainer
MODELS = {   # --sizes book: the first three, the sizes a laptop trains; --sizes all adds a GPU's
    "VQ-VAE (K 64, D 16, width 32, EMA)": lambda: VQVAE(num_codes=64, code_dim=16, width=32, ema=True),
    "PixelCNN (32 channels, 5 layers)": lambda: PixelCNN(channels=32, layers=5),
    "Gated PixelCNN (32 channels, 5 layers)": lambda: GatedPixelCNN(channels=32, layers=5),
    "VQ-VAE (K 128, D 32, width 128, EMA)": lambda: VQVAE(num_codes=128, code_dim=32, width=128, ema=True),
    "Gated PixelCNN (64 channels, 7 layers)": lambda: GatedPixelCNN(channels=64, layers=7),
}

AAE_MODELS = {   # --sizes book: the first, the chapter's book profile; --sizes all adds the full profile's
    "AAE (2-D code, hidden 256, discriminator 128)": lambda: AAE(latent_dim=2, hidden=256, disc_hidden=128),
    "AAE (2-D code, hidden 1000, discriminator 1000)": lambda: AAE(latent_dim=2, hidden=1000, disc_hidden=1000),
}


def phase_seconds(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, batches: int
                  ) -> dict[str, float]:
    """Seconds per batch of each training phase of a model with phases, through the book's Trainer.

    A phase is timed from its loss call to the next phase's (forward, backward and optimizer step);
    the last phase of a batch also carries the loop's own work until the next batch's first call.
    """
    device = images.device
    loader = TensorLoader((images[: batches * BATCH], labels[: batches * BATCH]), BATCH, binarize="dynamic")
    totals: dict[str, float] = {}
    last: list = [None, 0.0]     # the phase running, and when it started

    def timed(model, batch, phase=None):
        synchronize(device)
        now = time.perf_counter()
        if last[0] is not None:
            totals[last[0]] = totals.get(last[0], 0.0) + now - last[1]
        last[0], last[1] = phase, now
        return model.loss(batch, phase=phase)

    Trainer(model, loss_fn=timed, progress=False).train_epoch(loader)
    synchronize(device)
    totals[last[0]] = totals.get(last[0], 0.0) + time.perf_counter() - last[1]
    return {phase: seconds / batches for phase, seconds in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=30, help="training batches per model and loop")
    parser.add_argument("--samples", type=int, default=16, help="images per sampling run")
    parser.add_argument("--sizes", choices=["book", "all"], default="book",
                        help="book: the models a CPU trains in the book profile; all: also the full profile's")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    device = get_device()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        dataset = mnist_dataset(Path(tmp))
        train = load_images("mnist", "train", device=device)
        chosen = list(MODELS.items())[: 3 if args.sizes == "book" else None]
        for name, make in chosen:
            row = side_by_side(make, dataset, train.images, train.labels, args.batches, binarize=True)
            model = make().to(device)
            if hasattr(model, "sample") and not isinstance(model, VQVAE):
                seconds = sampling_seconds(model, args.samples)
                row["sampling_images_per_second"] = args.samples / seconds
                row["seconds_per_pixel_pass"] = seconds / (28 * 28)
            results[name] = row
            print(f"{name}: {row}", flush=True)
        adversarial = {}
        for name, make in list(AAE_MODELS.items())[: 1 if args.sizes == "book" else None]:
            row = side_by_side(make, dataset, train.images, train.labels, args.batches, binarize=True)
            phases = []
            for repeat in range(2):
                seed_everything(repeat)
                phases.append(phase_seconds(make().to(device), train.images, train.labels, args.batches))
            adversarial[name] = {**row, "seconds_per_batch": {k: (phases[0][k] + phases[1][k]) / 2 for k in phases[0]}}
            print(f"{name}: {adversarial[name]}", flush=True)
    machine = (f"{hardware(device)} ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads), "
               f"torch {torch.__version__}")
    print(f"\n| model | training images/s, reference loop | training images/s, vaebook | "
          f"sampling images/s (batch of {args.samples}) |\n|---|---|---|---|")
    for name, row in results.items():
        sampling = f"{row['sampling_images_per_second']:.2f}" if "sampling_images_per_second" in row else "—"
        print(f"| {name} | {row['reference']:.0f} | {row['vaebook']:.0f} | {sampling} |")
    print(f"\n({machine}; {args.batches} batches of {BATCH} per model and loop, twice)")
    print("\n| adversarial autoencoder | training images/s, reference loop | training images/s, vaebook | "
          "ms per batch: reconstruction | discriminator | generator (and the loop) |\n|---|---|---|---|---|---|")
    for name, row in adversarial.items():
        ms = {k: f"{1000 * v:.1f}" for k, v in row["seconds_per_batch"].items()}
        print(f"| {name} | {row['reference']:.0f} | {row['vaebook']:.0f} | {ms['reconstruction']} | "
              f"{ms['discriminator']} | {ms['generator']} |")
    if args.json:
        args.json.write_text(json.dumps({"vaebook_version": __version__, "machine": machine, "batches": args.batches,
                                         "batch_size": BATCH, "results": results, "adversarial": adversarial},
                                        indent=2) + "\n")


if __name__ == "__main__":
    main()
