"""The registry of coding exercises and the one function a notebook calls, :func:`check`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from vaebook.exercises import tripwire

DEFAULT_SEED = 0

# A check takes the student's object and a seed and returns (what was checked, passed) pairs.
Check = Callable[[object, int], list[tuple[str, bool]]]


class CheckFailed(AssertionError):
    """At least one check of an exercise failed; the message names each failed check."""


@dataclass(frozen=True)
class Exercise:
    """One coding exercise: the name the cell defines, what it is worth, how it is checked,
    and the package functions it must not call (``module.attribute``)."""

    id: str
    chapter: str
    name: str
    points: int
    check: Check
    forbidden: tuple[str, ...] = ()


EXERCISES: dict[str, Exercise] = {}


def register(exercise: Exercise) -> Exercise:
    """Add an exercise to the registry; an id may be registered once."""
    if exercise.id in EXERCISES:
        raise ValueError(f"exercise id {exercise.id!r} is registered twice")
    EXERCISES[exercise.id] = exercise
    return exercise


def run_checks(exercise_id: str, candidate: object, seed: int = DEFAULT_SEED) -> list[tuple[str, bool, str]]:
    """Run every check of an exercise on ``candidate``: (check, passed, reason when it failed).

    An exception raised by the candidate fails the check it happened in, with its message;
    a call of a forbidden function fails the whole exercise.
    """
    _load_chapters()
    if exercise_id not in EXERCISES:
        raise KeyError(f"no exercise {exercise_id!r}; known: {', '.join(sorted(EXERCISES))}")
    exercise = EXERCISES[exercise_id]
    guarded = tripwire.armed_while_called(candidate)
    try:
        pairs = exercise.check(guarded, seed)
    except tripwire.ForbiddenCall as error:
        return [("forbidden call", False, str(error))]
    except NotImplementedError:
        return [("not written yet", False, "the cell raises NotImplementedError")]
    except Exception as error:                               # the student's code raised
        return [("runs", False, f"{type(error).__name__}: {error}".splitlines()[0])]
    return [(what, ok, "" if ok else "failed") for what, ok in pairs]


def check(exercise_id: str, candidate: object, seed: int = DEFAULT_SEED) -> None:
    """Print one line per check of the exercise and raise :class:`CheckFailed` if any failed."""
    results = run_checks(exercise_id, candidate, seed)
    for what, ok, reason in results:
        print(f"{'PASS' if ok else 'FAIL'} {exercise_id}: {what}" + ("" if ok else f" ({reason})"))
    failed = [what for what, ok, _ in results if not ok]
    if failed:
        raise CheckFailed(f"exercise {exercise_id}: failed: {'; '.join(failed)}")


def _load_chapters() -> None:
    """Import the modules that register the exercises (once)."""
    from vaebook.exercises import chapters  # noqa: F401


def matches(got: object, want: torch.Tensor, rtol: float = 1e-9, atol: float = 1e-12) -> bool:
    """A candidate's output equals the reference: a tensor of the same shape, within the tolerances."""
    return (isinstance(got, torch.Tensor) and got.shape == want.shape
            and bool(torch.allclose(got.double(), want.double(), rtol=rtol, atol=atol)))
