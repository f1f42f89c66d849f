"""Side-by-side benchmark: our MLP VAE training loop against the PyTorch-examples style.

The reference loop is what `pytorch/examples` `vae/main.py` does: a torchvision
MNIST dataset with a per-sample `ToTensor` transform behind a `DataLoader`, the
784-400-20-400-784 model with a sigmoid output and `binary_cross_entropy`
summed over the batch, plain Adam (lr 1e-3), `loss.item()` every step. Ours is
`vaebook`: the dataset as one in-memory tensor batched by indexing, the same
model (`vaebook.models.MLPVAE`), BCE from logits, fused Adam, the `Trainer`.

Both train on the 60,000 MNIST grey-level training images with batch 128 and
are tested on the 10,000 test images after every epoch. Epochs alternate
(reference, ours, reference, ...) so that any change in background load hits
both. Prints a Markdown table and writes JSON.

    VAEBOOK_DATA=../shared/data python benchmarks/bench_mlp_vae.py --epochs 10 --json benchmarks/results.json
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from vaebook import __version__
from vaebook.data import TensorLoader, _find_raw_folder, load_images
from vaebook.evaluate import evaluate
from vaebook.models import MLPVAE
from vaebook.train import Trainer

BATCH = 128


class ReferenceVAE(nn.Module):
    """The examples' model, written out: sigmoid decoder output, probabilities into BCE."""

    def __init__(self):
        super().__init__()
        self.enc, self.mu, self.log_var = nn.Linear(784, 400), nn.Linear(400, 20), nn.Linear(400, 20)
        self.dec1, self.dec2 = nn.Linear(20, 400), nn.Linear(400, 784)

    def forward(self, x):
        h = F.relu(self.enc(x.view(-1, 784)))
        mu, log_var = self.mu(h), self.log_var(h)
        z = mu + torch.exp(0.5 * log_var) * torch.randn_like(mu)
        return torch.sigmoid(self.dec2(F.relu(self.dec1(z)))), mu, log_var


def reference_loss(recon, x, mu, log_var):
    bce = F.binary_cross_entropy(recon, x.view(-1, 784), reduction="sum")
    return bce + 0.5 * torch.sum(mu.pow(2) + log_var.exp() - 1 - log_var)


class Reference:
    """One epoch at a time of the reference training and test loops."""

    def __init__(self, root: str):
        to_tensor = transforms.ToTensor()
        train = datasets.MNIST(root, train=True, download=True, transform=to_tensor)
        test = datasets.MNIST(root, train=False, transform=to_tensor)
        self.train_loader = DataLoader(train, batch_size=BATCH, shuffle=True)
        self.test_loader = DataLoader(test, batch_size=BATCH, shuffle=False)
        self.model = ReferenceVAE()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)

    def epoch(self) -> tuple[float, float]:
        self.model.train()
        start = time.perf_counter()
        for x, _ in self.train_loader:
            self.optimizer.zero_grad()
            recon, mu, log_var = self.model(x)
            loss = reference_loss(recon, x, mu, log_var)
            loss.backward()
            loss.item()
            self.optimizer.step()
        seconds = time.perf_counter() - start
        self.model.eval()
        total = 0.0
        with torch.no_grad():
            for x, _ in self.test_loader:
                recon, mu, log_var = self.model(x)
                total += reference_loss(recon, x, mu, log_var).item()
        return seconds, total / len(self.test_loader.dataset)


class Ours:
    """The same model and schedule through vaebook's data, trainer and evaluation."""

    def __init__(self):
        self.train_loader = TensorLoader(load_images("mnist", "train"), BATCH, shuffle=True, seed=1)
        self.test_loader = TensorLoader(load_images("mnist", "test"), 500, shuffle=False)
        self.trainer = Trainer(MLPVAE(), progress=False)

    def epoch(self) -> tuple[float, float]:
        start = time.perf_counter()
        self.trainer.train_epoch(self.train_loader)
        seconds = time.perf_counter() - start
        return seconds, evaluate(self.trainer.model, self.test_loader)["neg_elbo"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.manual_seed(1)
    raw = _find_raw_folder("mnist")
    if raw is None:
        raise SystemExit("MNIST not found: set VAEBOOK_DATA to a folder holding MNIST/raw/*.gz")
    with tempfile.TemporaryDirectory() as tmp:
        # torchvision extracts the .gz files next to themselves: give it a writable copy.
        shutil.copytree(raw, Path(tmp) / "MNIST" / "raw")
        runs = {"reference": Reference(tmp), "vaebook": Ours()}
        rows = {name: [] for name in runs}
        for epoch in range(1, args.epochs + 1):
            for name, run in runs.items():
                seconds, test_loss = run.epoch()
                rows[name].append({"epoch": epoch, "train_seconds": seconds, "test_neg_elbo": test_loss})
                print(f"epoch {epoch:2d} {name:9s} {seconds:6.2f} s  test {test_loss:7.2f}", flush=True)
    summary = {}
    for name, epochs in rows.items():
        mean = sum(r["train_seconds"] for r in epochs) / len(epochs)
        summary[name] = {"mean_epoch_seconds": mean, "final_test_neg_elbo": epochs[-1]["test_neg_elbo"]}
    ratio = summary["vaebook"]["mean_epoch_seconds"] / summary["reference"]["mean_epoch_seconds"]
    machine = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}"
    print(f"\n| loop | s / training epoch | test −ELBO after {args.epochs} epochs (nats) |\n|---|---|---|")
    for name, s in summary.items():
        print(f"| {name} | {s['mean_epoch_seconds']:.2f} | {s['final_test_neg_elbo']:.2f} |")
    print(f"\nvaebook / reference time per epoch: {ratio:.2f} ({machine})")
    if args.json:
        args.json.write_text(json.dumps({"vaebook_version": __version__, "machine": machine, "epochs": args.epochs,
                                         "ratio": ratio, "summary": summary, "per_epoch": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
