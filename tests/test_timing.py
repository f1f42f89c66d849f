"""The one timer: it returns the work's result with the seconds it took, and waits for nothing on a CPU."""

import time

import pytest
import torch

from vaebook.timing import synchronize, timed


def test_timed_returns_the_result_and_the_seconds():
    result, seconds = timed(lambda: (time.sleep(0.05), 42)[1])
    assert result == 42 and 0.05 <= seconds < 1.0


def test_synchronize_on_a_cpu_is_a_no_op():
    synchronize("cpu")
    synchronize(torch.device("cpu"))


def test_timed_passes_errors_through():
    with pytest.raises(ZeroDivisionError):
        timed(lambda: 1 / 0)
