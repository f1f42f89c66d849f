"""Data: the bundled subset, the real files when present, binarization, loaders, clear errors."""

import os
from pathlib import Path

import pytest
import torch

from vaebook import data
from vaebook.data import DataNotFoundError, TensorLoader, load_images, load_raw

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
HAVE_FILES = (Path(os.environ.get("VAEBOOK_DATA", SHARED)) / "MNIST" / "raw" / "train-images-idx3-ubyte.gz").is_file()


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No data directory holds any file, and downloads are not attempted."""
    monkeypatch.setenv("VAEBOOK_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "_try_download", lambda cls, train=True: None)


def test_smoke_profile_falls_back_to_the_bundled_subset(offline, capsys):
    data._warned_bundled = False
    images, labels = load_raw("mnist", "train")
    assert images.shape == (5000, 28, 28) and images.dtype == torch.uint8
    assert labels.bincount().tolist() == [500] * 10
    test_images, _ = load_raw("mnist", "test")
    assert test_images.shape == (1000, 28, 28)
    assert capsys.readouterr().out.count("bundled") == 1  # said once, not per call


def test_bundled_subset_is_small():
    path = Path(data.__file__).parent / "bundled" / data.BUNDLED_FILE
    assert path.stat().st_size < 2_000_000


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_book_profile_without_files_fails_with_one_clear_message(offline, monkeypatch, name):
    monkeypatch.setenv("VAEBOOK_PROFILE", "book")
    with pytest.raises(DataNotFoundError) as info:
        load_raw(name, "train")
    message = str(info.value)
    assert name in message and "VAEBOOK_DATA" in message and "empty" in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_unknown_dataset_and_split_are_named():
    with pytest.raises(ValueError, match="unknown dataset 'cifar'; known datasets: mnist, fashion-mnist"):
        load_raw("cifar")
    with pytest.raises(ValueError, match="split must be"):
        load_images("mnist", "validation")
    with pytest.raises(ValueError, match="binarize must be"):
        load_images("mnist", binarize="yes")


def test_corrupt_file_fails_its_checksum(monkeypatch, tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for file, _ in data.MNIST.resources:
        (raw / file).write_bytes(b"not mnist")
    monkeypatch.setenv("VAEBOOK_DATA", str(tmp_path))
    with pytest.raises(DataNotFoundError, match="fail their MD5 check"):
        load_raw("mnist")


@pytest.mark.skipif(not HAVE_FILES, reason="the original MNIST files are not available")
def test_real_files_are_read_whole(monkeypatch):
    monkeypatch.setenv("VAEBOOK_DATA", os.environ.get("VAEBOOK_DATA", str(SHARED)))
    images, labels = load_raw("mnist", "test")
    assert images.shape == (10000, 28, 28) and labels.shape == (10000,)
    assert labels[:5].tolist() == [7, 2, 1, 0, 4]  # the well-known first test digits


def test_split_is_disjoint_and_seeded(offline):
    train = load_images("mnist", "train", val_size=1000, seed=3)
    val = load_images("mnist", "val", val_size=1000, seed=3)
    assert len(train) == 4000 and len(val) == 1000
    assert train.images.shape == (4000, 1, 28, 28) and 0 <= train.images.min() and train.images.max() <= 1
    flat_train = {tuple(row.tolist()) for row in (train.images.flatten(1)[:, ::7] * 255).round().to(torch.uint8)}
    overlap = sum(tuple(row.tolist()) in flat_train for row in (val.images.flatten(1)[:, ::7] * 255).round().to(torch.uint8))
    assert overlap < 5  # only accidental duplicates of identical digits
    again = load_images("mnist", "train", val_size=1000, seed=3)
    assert torch.equal(train.images, again.images)


def test_static_binarization_is_fixed_and_dynamic_resamples(offline):
    static = load_images("mnist", "train", binarize="static", subset=100, seed=1)
    assert set(static.images.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(static.images, load_images("mnist", "train", binarize="static", subset=100, seed=1).images)
    grey = load_images("mnist", "train", subset=100)
    loader = TensorLoader(grey, batch_size=100, shuffle=False, binarize="dynamic")
    first, second = next(iter(loader))[0], next(iter(loader))[0]
    assert set(first.unique().tolist()) <= {0.0, 1.0} and not torch.equal(first, second)
    # 1,000 draws: by Hoeffding, any of the 78,400 pixel means is off by 0.15 with probability < 1e-14
    mean = sum(next(iter(loader))[0] for _ in range(1_000)) / 1_000
    assert torch.allclose(mean, grey.images, atol=0.15)


def test_loader_batches_cover_the_data_once(offline):
    x, y = torch.arange(10.0).view(10, 1), torch.arange(10)
    loader = TensorLoader((x, y), batch_size=4, shuffle=True, seed=0)
    batches = list(loader)
    assert len(loader) == 3 and [len(b[0]) for b in batches] == [4, 4, 2]
    seen = torch.cat([b[1] for b in batches])
    assert sorted(seen.tolist()) == list(range(10)) and seen.tolist() != list(range(10))
    assert torch.equal(torch.cat([b[0].flatten() for b in batches]).long(), seen)
    assert len(TensorLoader((x, y), batch_size=4, drop_last=True)) == 2
    with pytest.raises(ValueError, match="10 inputs but 9 labels"):
        TensorLoader((x, y[:9]))


def test_toy_data_is_seeded_and_shaped():
    for make in (data.gaussian_mixture_2d, data.two_moons, data.rings):
        points, labels = make(500, seed=2)
        assert points.shape == (500, 2) and labels.shape == (500,)
        assert torch.equal(points, make(500, seed=2)[0]) and not torch.equal(points, make(500, seed=3)[0])


def test_smoke_fallback_is_mnist_only(offline):
    with pytest.raises(DataNotFoundError, match="fashion-mnist not found.*bundled for the smoke profile is MNIST only"):
        load_raw("fashion-mnist", "train")


def test_cifar10_offline_says_where_it_looked(offline, tmp_path):
    with pytest.raises(DataNotFoundError, match=r"cifar-10 not found \(looked for cifar-10-batches-py/ in: .*empty.*"
                                                r"Set VAEBOOK_DATA to a folder holding cifar-10-batches-py/"):
        data.load_cifar10("train")        # the smoke profile never downloads
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        data.load_cifar10("validation")


def write_fake_cifar(root: Path) -> None:
    """torchvision's CIFAR-10 layout: pickled batches of rows (R plane, G plane, B plane) and labels."""
    import pickle

    import numpy as np

    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for i, name in enumerate(["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"]):
        rows = np.zeros((2, 3 * 32 * 32), dtype=np.uint8)
        rows[:, :1024] = 255                      # red plane full, green half, blue empty
        rows[:, 1024:2048] = 51 * (i % 5)
        with open(folder / name, "wb") as f:
            pickle.dump({"data": rows, "labels": [i, 9 - i]}, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"class {k}" for k in range(10)]}, f)


def test_cifar10_found_in_the_data_folder_is_channels_first_in_unit_interval(offline, tmp_path):
    root = tmp_path / "empty"
    write_fake_cifar(root)
    with pytest.raises(DataNotFoundError, match="data_batch_1 is missing or fails its MD5 check"):
        data.load_cifar10("train")         # the fake files fail torchvision's checksums
    images, labels = data.load_cifar10("train", check_md5=False)
    assert images.shape == (10, 3, 32, 32) and images.dtype == torch.float32
    assert labels.tolist() == [0, 9, 1, 8, 2, 7, 3, 6, 4, 5]
    assert torch.all(images[:, 0] == 1.0) and torch.all(images[:, 2] == 0.0)
    assert torch.allclose(images[2:4, 1], torch.full((2, 32, 32), 51 / 255))
    test_images, test_labels = data.load_cifar10("test", check_md5=False)
    assert test_images.shape == (2, 3, 32, 32) and test_labels.tolist() == [5, 4]
