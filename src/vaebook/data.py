"""Datasets as tensors in memory: MNIST and Fashion-MNIST, binarized or not, CIFAR-10, and 2-D toy data.

Images are read once from torchvision's distribution files (checked against
torchvision's MD5 sums), kept as one tensor on the training device, and batched
by indexing: no per-sample PIL transforms in the training loop.

Where files are looked for, in order: ``$VAEBOOK_DATA``, then the per-user cache
(``$XDG_CACHE_HOME/vaebook`` or ``~/.cache/vaebook``). Each holds torchvision's
layout, e.g. ``MNIST/raw/train-images-idx3-ubyte.gz``. Offline with no files,
the ``smoke`` profile falls back to a small MNIST subset bundled with the package
(MNIST only: other datasets raise :class:`DataNotFoundError`, which a notebook can catch).
"""

from __future__ import annotations

import gzip
import math
import os
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from torchvision.datasets import MNIST, FashionMNIST
from torchvision.datasets.utils import check_integrity

from vaebook.settings import profile

# torchvision's folder name and its list of (file, md5) for each dataset we support.
DATASETS: dict[str, type[MNIST]] = {"mnist": MNIST, "fashion-mnist": FashionMNIST}
BUNDLED_FILE = "mnist_subset.npz"
_warned_bundled = False


class DataNotFoundError(FileNotFoundError):
    """Raised, with one short message, when a dataset is neither on disk nor downloadable."""


def data_dirs() -> list[Path]:
    """The directories searched for datasets, in order."""
    dirs = []
    if os.environ.get("VAEBOOK_DATA"):
        dirs.append(Path(os.environ["VAEBOOK_DATA"]).expanduser())
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser()
    dirs.append(cache / "vaebook")
    return dirs


def _dataset_class(name: str) -> type[MNIST]:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}")
    return DATASETS[name]


def _find_raw_folder(name: str) -> Path | None:
    """The first searched directory that holds all four files of the dataset, checksummed."""
    cls = _dataset_class(name)
    for root in data_dirs():
        raw = root / cls.__name__ / "raw"
        if all((raw / file).is_file() for file, _ in cls.resources):
            bad = [file for file, md5 in cls.resources if not check_integrity(str(raw / file), md5)]
            if bad:
                raise DataNotFoundError(f"{name}: {', '.join(bad)} in {raw} fail their MD5 check; delete and fetch again.")
            return raw
    return None


def _read_idx_gz(path: Path) -> torch.Tensor:
    """Read one gzipped IDX file (the MNIST format: big-endian header, then uint8 data)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    return torch.from_numpy(array.copy()).view(*shape)


def _try_download(cls: type, train: bool = True):
    """Let torchvision fetch a dataset into the cache: the dataset, or None where it cannot.

    Any failure (offline, proxy, HTTP error: all mean "not available here") becomes one clear
    DataNotFoundError in the caller.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return cls(root=str(data_dirs()[-1]), train=train, download=True)
    except Exception:
        return None


def _bundled(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    global _warned_bundled
    if not _warned_bundled:
        print("vaebook: MNIST files not found; the smoke profile uses the small MNIST subset bundled with the package.")
        _warned_bundled = True
    with resources.files("vaebook").joinpath("bundled", BUNDLED_FILE).open("rb") as f:
        arrays = np.load(f)
        return torch.from_numpy(arrays[f"{split}_images"]), torch.from_numpy(arrays[f"{split}_labels"]).long()


def load_raw(name: str = "mnist", split: str = "train", download: bool | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images (N, 28, 28) and int64 labels (N,) of a split, ``train`` or ``test``.

    ``download`` defaults to True except in the smoke profile, which never touches the network.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    cls = _dataset_class(name)
    smoke = profile() == "smoke"
    raw = _find_raw_folder(name)
    if raw is None and (download if download is not None else not smoke):
        _try_download(cls)
        raw = _find_raw_folder(name)
    if raw is None:
        if smoke and name == "mnist":
            return _bundled(split)
        searched = ", ".join(str(d) for d in data_dirs())
        raise DataNotFoundError(
            f"{name} not found (looked for {cls.__name__}/raw/*.gz in: {searched}) and it could not be downloaded. "
            f"Set VAEBOOK_DATA to a folder holding {cls.__name__}/raw/."
            + (" (The subset bundled for the smoke profile is MNIST only.)" if smoke else "")
        ) from None
    prefix = "train" if split == "train" else "t10k"
    images = _read_idx_gz(raw / f"{prefix}-images-idx3-ubyte.gz")
    labels = _read_idx_gz(raw / f"{prefix}-labels-idx1-ubyte.gz").long()
    return images, labels


CIFAR10_FOLDER = "cifar-10-batches-py"
CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "mnist": tuple(str(digit) for digit in range(10)),
    "fashion-mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                      "Bag", "Ankle boot"),
    "cifar-10": ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
}


def read_cifar10_folder(folder: str | os.PathLike, split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images (N, 3, 32, 32) and int64 labels of CIFAR-10's python format: pickled dicts with
    ``data`` (N, 3072 bytes, channel-major rows) and ``labels``, in ``data_batch_1`` to ``5`` (train)
    or ``test_batch``. Checks nothing but the format: :func:`load_cifar10` checks the files' MD5s."""
    import pickle

    files = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    images, labels = [], []
    for file in files:
        path = Path(folder) / file
        if not path.is_file():
            raise DataNotFoundError(f"cifar-10: {path} is missing")
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="latin1")    # a pickle (Python 2's): read only files you trust
        data = np.asarray(batch["data"], dtype=np.uint8)
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(batch["labels"]) != len(data):
            raise DataNotFoundError(f"cifar-10: {path} is not a CIFAR-10 batch (data {data.shape})")
        images.append(torch.from_numpy(data.reshape(-1, 3, 32, 32).copy()))
        labels.append(torch.tensor(batch["labels"], dtype=torch.long))
    return torch.cat(images), torch.cat(labels)


def load_cifar10(split: str = "train", download: bool | None = None,
                 check_md5: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 as float images in [0, 1] on the 8-bit grid, shape (N, 3, 32, 32), and int64 labels (N,).

    Looked for as torchvision's ``cifar-10-batches-py`` folder in each data folder (each file checked
    against torchvision's MD5 unless ``check_md5=False``), then downloaded into the cache
    (``download`` defaults to True except in the smoke profile). Not available:
    :class:`DataNotFoundError`, whose one-line message names the folders searched.
    """
    from torchvision.datasets import CIFAR10

    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    folder = next((root / CIFAR10_FOLDER for root in data_dirs() if (root / CIFAR10_FOLDER).is_dir()), None)
    if folder is None and (download if download is not None else profile() != "smoke"):
        if _try_download(CIFAR10, split == "train") is not None:
            folder = data_dirs()[-1] / CIFAR10_FOLDER
    if folder is None:
        searched = ", ".join(str(d) for d in data_dirs())
        raise DataNotFoundError(f"cifar-10 not found (looked for {CIFAR10_FOLDER}/ in: {searched}) and it could "
                                f"not be downloaded. Set VAEBOOK_DATA to a folder holding {CIFAR10_FOLDER}/.")
    if check_md5:
        for file, md5 in CIFAR10.train_list + CIFAR10.test_list:
            if not check_integrity(str(folder / file), md5):
                raise DataNotFoundError(f"cifar-10: {folder / file} is missing or fails its MD5 check; "
                                        "delete the folder and fetch it again.")
    images, labels = read_cifar10_folder(folder, split)
    return images.float().div(255), labels


def one_class(images: torch.Tensor, labels: torch.Tensor, label: int, dataset: str) -> torch.Tensor:
    """The images of one class of ``dataset`` (a key of :data:`CLASS_NAMES`), refusing a label it lacks."""
    names = CLASS_NAMES.get(dataset)
    if names is None:
        raise ValueError(f"unknown dataset {dataset!r}; known: {', '.join(CLASS_NAMES)}")
    if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < len(names):
        raise ValueError(f"class {label!r} is not one of {dataset}'s classes 0-{len(names) - 1} "
                         f"({', '.join(names)})")
    return images[labels == label]


def binarize_static(images: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """One fixed Bernoulli sample of grey levels in [0, 1], the same for every epoch (seeded)."""
    generator = torch.Generator(device="cpu").manual_seed(seed)
    return torch.bernoulli(images.cpu(), generator=generator).to(images.device)


def binarize_dynamic(images: torch.Tensor) -> torch.Tensor:
    """A fresh Bernoulli sample each time a batch is drawn, so every epoch sees new binary images."""
    return torch.bernoulli(images)


@dataclass
class ImageSet:
    """A split as tensors: images in [0, 1] of shape (N, 1, 28, 28), labels (N,)."""

    images: torch.Tensor
    labels: torch.Tensor
    name: str
    split: str

    def __len__(self) -> int:
        return len(self.images)


def load_images(
    name: str = "mnist", split: str = "train", *, val_size: int = 0, binarize: str = "none",
    subset: int | None = None, seed: int = 0, device: torch.device | str = "cpu",
) -> ImageSet:
    """Load ``train``, ``val`` (the last ``val_size`` training images, after a seeded shuffle) or ``test``.

    ``binarize``: ``none`` (grey levels), ``static`` (one seeded sample) or ``dynamic``
    (grey levels stored; use :class:`TensorLoader` with ``binarize="dynamic"``).
    ``subset`` keeps the first n examples (after the shuffle), for quick runs.
    """
    if binarize not in ("none", "static", "dynamic"):
        raise ValueError(f"binarize must be 'none', 'static' or 'dynamic', got {binarize!r}")
    if split not in ("train", "val", "test"):
        raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")
    images, labels = load_raw(name, "test" if split == "test" else "train")
    if split != "test":
        order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
        if not 0 <= val_size < len(images):
            raise ValueError(f"val_size must be in [0, {len(images)}), got {val_size}")
        cut = len(images) - val_size
        order = order[:cut] if split == "train" else order[cut:]
        images, labels = images[order], labels[order]
    if subset is not None:
        images, labels = images[:subset], labels[:subset]
    x = (images.float() / 255.0).unsqueeze(1)
    if binarize == "static":
        x = binarize_static(x, seed=seed + (0 if split == "train" else 1))
    return ImageSet(x.to(device), labels.to(device), name, split)


class TensorLoader:
    """Batches of (x, y) from tensors already on the device, shuffled by a seeded generator.

    With ``binarize="dynamic"`` every batch is a fresh Bernoulli sample of the grey levels.
    """

    def __init__(self, data: ImageSet | tuple[torch.Tensor, torch.Tensor], batch_size: int = 128,
                 shuffle: bool = True, binarize: str = "none", seed: int = 0, drop_last: bool = False):
        self.x, self.y = (data.images, data.labels) if isinstance(data, ImageSet) else data
        if len(self.x) != len(self.y):
            raise ValueError(f"{len(self.x)} inputs but {len(self.y)} labels")
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.binarize = binarize
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        n = len(self.x) / self.batch_size
        return math.floor(n) if self.drop_last else math.ceil(n)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.x)
        order = torch.randperm(n, generator=self.generator).to(self.x.device) if self.shuffle else None
        for i in range(len(self)):
            if order is None:
                x, y = self.x[i * self.batch_size:(i + 1) * self.batch_size], self.y[i * self.batch_size:(i + 1) * self.batch_size]
            else:
                index = order[i * self.batch_size:(i + 1) * self.batch_size]
                x, y = self.x[index], self.y[index]
            if self.binarize == "dynamic":
                x = binarize_dynamic(x)
            yield x, y


# ---------------------------------------------------------------- 2-D toy data

def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def gaussian_mixture_2d(n: int, means: torch.Tensor | None = None, scales: torch.Tensor | float = 0.3,
                        weights: torch.Tensor | None = None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """n points from a 2-D Gaussian mixture (default: 3 components); returns (points, component labels)."""
    g = _generator(seed)
    # drawn on the CPU, where the seeded generator is, whatever device the caller's tensors are on
    means = (torch.tensor([[-2.0, 0.0], [2.0, 0.0], [0.0, 2.5]]) if means is None
             else torch.as_tensor(means, dtype=torch.float32).cpu())
    k = len(means)
    weights = torch.full((k,), 1.0 / k) if weights is None else torch.as_tensor(weights, dtype=torch.float32).cpu()
    scales = torch.as_tensor(scales, dtype=torch.float32).cpu().expand(k)
    labels = torch.multinomial(weights, n, replacement=True, generator=g)
    points = means[labels] + scales[labels, None] * torch.randn(n, 2, generator=g)
    return points, labels


def two_moons(n: int, noise: float = 0.08, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The two interleaved half-circles; returns (points, moon labels)."""
    g = _generator(seed)
    labels = torch.randint(0, 2, (n,), generator=g)
    angle = torch.rand(n, generator=g) * math.pi
    upper = torch.stack([torch.cos(angle), torch.sin(angle)], 1)
    lower = torch.stack([1 - torch.cos(angle), 0.5 - torch.sin(angle)], 1)
    points = torch.where(labels[:, None] == 0, upper, lower) + noise * torch.randn(n, 2, generator=g)
    return points, labels


def rings(n: int, radii: tuple[float, ...] = (1.0, 2.0), noise: float = 0.08, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Concentric noisy circles; returns (points, ring labels)."""
    g = _generator(seed)
    labels = torch.randint(0, len(radii), (n,), generator=g)
    angle = torch.rand(n, generator=g) * 2 * math.pi
    r = torch.tensor(radii)[labels] + noise * torch.randn(n, generator=g)
    return torch.stack([r * torch.cos(angle), r * torch.sin(angle)], 1), labels
