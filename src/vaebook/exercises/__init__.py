"""Coding exercises: a registry of checks, versioned with the book.

A source notebook holds each coding exercise as one self-contained code cell whose first
line is ``# EXERCISE <id> (<n> points)``, with the worked solution between ``# BEGIN
SOLUTION`` and ``# END SOLUTION``; the cell after it calls :func:`check`. Students see the
same check pass or fail in their copy, and ``python -m vaebook grade`` runs the same
checks under another seed.
"""

from __future__ import annotations

from vaebook.exercises.registry import (
    DEFAULT_SEED,
    EXERCISES,
    CheckFailed,
    Exercise,
    check,
    run_checks,
)

__all__ = ["DEFAULT_SEED", "EXERCISES", "CheckFailed", "Exercise", "check", "run_checks"]
