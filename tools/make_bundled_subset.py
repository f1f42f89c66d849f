"""Make the MNIST subset bundled with the package (used offline by the smoke profile).

    VAEBOOK_DATA=../shared/data python tools/make_bundled_subset.py

Takes a seeded, class-balanced sample of the original files: 5,000 training and
1,000 test images, stored compressed (well under 2 MB).
"""

from pathlib import Path

import numpy as np
import torch

from vaebook.data import BUNDLED_FILE, load_raw

PER_CLASS = {"train": 500, "test": 100}


def balanced_sample(labels: torch.Tensor, per_class: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    picks = [torch.nonzero(labels == c).flatten() for c in range(10)]
    picks = [p[torch.randperm(len(p), generator=g)[:per_class]] for p in picks]
    return torch.cat(picks)[torch.randperm(10 * per_class, generator=g)]


def main() -> None:
    arrays = {}
    for split, per_class in PER_CLASS.items():
        images, labels = load_raw("mnist", split, download=False)
        index = balanced_sample(labels, per_class, seed=0)
        arrays[f"{split}_images"] = images[index].numpy()
        arrays[f"{split}_labels"] = labels[index].numpy().astype(np.uint8)
    out = Path(__file__).resolve().parents[1] / "src" / "vaebook" / "bundled" / BUNDLED_FILE
    np.savez_compressed(out, **arrays)
    print(f"wrote {out.name}: {out.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
