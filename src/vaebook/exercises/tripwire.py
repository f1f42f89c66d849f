"""Forbidden references: package functions an exercise must not call, replaced by tripwires.

A tripwire calls the original function unless it is *armed*; it is armed only while the
student's code runs (the exercise cell, or the student's function during a check), so the
checks themselves may still use the package's references.
"""

from __future__ import annotations

import functools
import importlib
from contextlib import contextmanager
from typing import Callable, Iterator


class ForbiddenCall(RuntimeError):
    """The student's code called a function the exercise forbids."""


_ARMED = [0]
TRIPPED: list[str] = []   # names called while armed, even if the caller caught the error


@contextmanager
def armed() -> Iterator[None]:
    """Trip every installed tripwire that is called inside this block."""
    _ARMED[0] += 1
    try:
        yield
    finally:
        _ARMED[0] -= 1


def armed_while_called(candidate: object) -> object:
    """The candidate, wrapped so that tripwires are armed while it runs (non-callables as they are)."""
    if not callable(candidate):
        return candidate

    @functools.wraps(candidate)
    def guarded(*args, **kwargs):
        with armed():
            return candidate(*args, **kwargs)

    return guarded


def _wire(name: str, original: Callable) -> Callable:
    @functools.wraps(original)
    def tripwire(*args, **kwargs):
        if _ARMED[0]:
            TRIPPED.append(name)
            raise ForbiddenCall(f"calls {name}, which this exercise asks you to write yourself")
        return original(*args, **kwargs)

    tripwire.__vaebook_tripwire__ = True
    return tripwire


def install(names: tuple[str, ...] | list[str]) -> None:
    """Replace each ``module.attribute`` (e.g. ``torch.logsumexp``) by a tripwire."""
    for name in names:
        module_name, _, attribute = name.rpartition(".")
        module = importlib.import_module(module_name)
        original = getattr(module, attribute)
        if not getattr(original, "__vaebook_tripwire__", False):
            setattr(module, attribute, _wire(name, original))
