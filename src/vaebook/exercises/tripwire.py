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
        owner, attribute = _owner(name)
        original = getattr(owner, attribute)
        if not getattr(original, "__vaebook_tripwire__", False):
            setattr(owner, attribute, _wire(name, original))


def _owner(name: str) -> tuple[object, str]:
    """The object holding the last attribute of a dotted name: a module, or a class in a module."""
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            owner = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:-1]:
            owner = getattr(owner, part)
        return owner, parts[-1]
    raise ValueError(f"cannot find the module of {name!r}")
