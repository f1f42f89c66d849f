"""Write students' copies of chapter notebooks: the exercises stay, their solutions go.

In the rendered book a solution is folded away; in the notebook a student opens
it is plain text under the exercise. This tool writes copies in which every
``{solution}`` block is replaced by one line naming the exercise it belongs to.
Code cells are copied unchanged, including the stored outputs of cells marked
``# NBVAL_CHECK_OUTPUT``, so a student's copy is graded as the chapter is:

    python tools/student_copy.py notebooks/*.ipynb --out _build/student
    VAEBOOK_PROFILE=smoke pytest --nbval-lax _build/student/09_evaluating_vaes.ipynb

An exercise whose label has no solution block is reported, since the book
promises one for each.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

# A MyST directive fence: ```{exercise} label  /  ```{solution} label ... ``` (three backticks or more).
SOLUTION_BLOCK = re.compile(r"^(?P<fence>`{3,})\{solution\}[ \t]*(?P<label>\S*).*?^(?P=fence)[ \t]*$\n?", re.M | re.S)
EXERCISE_LABEL = re.compile(r"^`{3,}\{exercise\}.*?^:label:[ \t]*(?P<label>\S+)", re.M | re.S)
WITHHELD = "*The solution to this exercise ({label}) is withheld in the students' copy.*\n"


def withhold_solutions(markdown: str) -> tuple[str, list[str]]:
    """Return the markdown with each solution block replaced by a one-line note, and the labels withheld."""
    labels: list[str] = []

    def replace(match: re.Match) -> str:
        labels.append(match.group("label"))
        return WITHHELD.format(label=match.group("label") or "unlabelled")

    return SOLUTION_BLOCK.sub(replace, markdown), labels


def student_copy(nb: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, list[str], list[str]]:
    """A copy of the notebook without solutions; also the exercise labels and the solution labels withheld."""
    copy = nbformat.from_dict(nb)
    exercises: list[str] = []
    withheld: list[str] = []
    for cell in copy.cells:
        if cell.cell_type != "markdown":
            continue
        exercises += [m.group("label") for m in EXERCISE_LABEL.finditer(cell.source)]
        cell.source, labels = withhold_solutions(cell.source)
        withheld += labels
    return copy, exercises, withheld


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path, help="chapter notebooks")
    parser.add_argument("--out", type=Path, default=Path("_build/student"), help="folder for the copies")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    problems = 0
    for path in args.paths:
        copy, exercises, withheld = student_copy(nbformat.read(path, as_version=4))
        unsolved = [label for label in exercises if label not in withheld]
        if unsolved:
            problems += 1
            print(f"{path}: no solution found for {', '.join(unsolved)}", file=sys.stderr)
        nbformat.validate(copy)
        nbformat.write(copy, args.out / path.name)
        print(f"{args.out / path.name}: {len(exercises)} exercises, {len(withheld)} solutions withheld")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
