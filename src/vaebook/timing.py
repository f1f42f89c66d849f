"""Wall-clock timing of work on the CPU or a GPU, the one way every time in the book is measured.

A GPU runs work asynchronously, so a clock read right after a call returns before the work is done;
:func:`synchronize` waits for it, and :func:`timed` brackets a piece of work with it.
"""

from __future__ import annotations

import time
from typing import Callable, TypeVar

import torch

T = TypeVar("T")


def synchronize(device: torch.device | str | None = None) -> None:
    """Wait for the work queued on ``device`` (any GPU if None) to finish; nothing to wait for on a CPU."""
    if device is not None and torch.device(device).type != "cuda":
        return
    if torch.cuda.is_available():
        torch.cuda.synchronize(device)


def timed(work: Callable[[], T], device: torch.device | str | None = None) -> tuple[T, float]:
    """``work()``'s result and the wall seconds it took, with the device's queue drained on both sides."""
    synchronize(device)
    start = time.perf_counter()
    result = work()
    synchronize(device)
    return result, time.perf_counter() - start
