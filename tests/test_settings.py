import pytest
import torch

import vaebook
from vaebook.settings import by_profile, get_device, profile, seed_everything


def test_profile_default_is_book(monkeypatch):
    monkeypatch.delenv("VAEBOOK_PROFILE", raising=False)
    assert profile() == "book"
    assert by_profile(smoke=1, book=2, full=3) == 2


@pytest.mark.parametrize("name, value", [("smoke", 1), ("book", 2), ("full", 3), ("FULL ", 3)])
def test_by_profile_follows_the_environment(monkeypatch, name, value):
    monkeypatch.setenv("VAEBOOK_PROFILE", name)
    assert by_profile(smoke=1, book=2, full=3) == value


def test_unknown_profile_is_named(monkeypatch):
    monkeypatch.setenv("VAEBOOK_PROFILE", "fast")
    with pytest.raises(ValueError, match="'fast' is not a profile; choose one of smoke, book, full"):
        profile()


def test_device_override(monkeypatch):
    monkeypatch.setenv("VAEBOOK_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")
    monkeypatch.setenv("VAEBOOK_DEVICE", "not-a-device")
    with pytest.raises(ValueError, match="not a device name"):
        get_device()


def test_device_cuda_without_cuda_is_explained(monkeypatch):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    monkeypatch.setenv("VAEBOOK_DEVICE", "cuda")
    with pytest.raises(ValueError, match="no CUDA device"):
        get_device()


def test_seed_everything_repeats_random_draws():
    seed_everything(7)
    first = torch.randn(5)
    seed_everything(7)
    assert torch.equal(first, torch.randn(5))


def test_check_version():
    vaebook.check_version(vaebook.__version__)
    with pytest.raises(RuntimeError, match="written for vaebook 0.0.0"):
        vaebook.check_version("0.0.0")


def test_hardware_names_the_cpu_or_gpu():
    from vaebook.settings import hardware

    assert hardware("cpu").endswith("-core CPU")
    assert hardware("cpu").split("-")[0].isdigit()


@pytest.mark.parametrize("value, drawn", [("", True), ("0", True), ("false", True), ("1", False), ("True", False)])
def test_progress_bars_follow_tqdm_disable(monkeypatch, value, drawn):
    from vaebook.settings import progress_bars

    monkeypatch.setenv("TQDM_DISABLE", value)
    assert progress_bars() is drawn
