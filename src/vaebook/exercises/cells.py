"""Exercise cells in a notebook, found by the markers in their text (never by position or metadata).

    # EXERCISE kl-diag-gaussian (2 points)
    import torch

    def kl_diag_gaussian(mu, log_var):
        # BEGIN SOLUTION
        return 0.5 * (log_var.exp() + mu**2 - 1 - log_var).sum(-1)
        # END SOLUTION
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

MARKER = re.compile(r"^#\s*EXERCISE\s+(?P<id>[A-Za-z0-9_-]+)\s*\((?P<points>\d+)\s+points?\)\s*$", re.M)
SOLUTION = re.compile(r"^(?P<indent>[ \t]*)#\s*BEGIN SOLUTION[^\n]*\n.*?^[ \t]*#\s*END SOLUTION[^\n]*$", re.M | re.S)
STUB = '{indent}raise NotImplementedError("exercise {id}")'


@dataclass(frozen=True)
class ExerciseCell:
    """An exercise cell's id, points and code."""

    id: str
    points: int
    source: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.source.encode()).hexdigest()


def exercise_cells(nb) -> list[ExerciseCell]:
    """The exercise cells of a notebook (an nbformat node or its dict), in order; the first of a repeated id."""
    found: dict[str, ExerciseCell] = {}
    for cell in nb["cells"]:
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        match = MARKER.search(source)
        if match and match.group("id") not in found:
            found[match.group("id")] = ExerciseCell(match.group("id"), int(match.group("points")), source)
    return list(found.values())


def stub(source: str) -> str:
    """The cell with each solution region replaced by a line raising NotImplementedError."""
    match = MARKER.search(source)
    if not match:
        raise ValueError("not an exercise cell: no '# EXERCISE <id> (<n> points)' line")
    if not SOLUTION.search(source):
        raise ValueError(f"exercise {match.group('id')}: no '# BEGIN SOLUTION' ... '# END SOLUTION' region")
    return SOLUTION.sub(lambda m: STUB.format(indent=m.group("indent"), id=match.group("id")), source)
