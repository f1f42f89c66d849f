"""Grade submitted notebooks against a student edition's manifest.

    python -m vaebook grade --manifest _build/student/manifest.json --submissions DIR --out OUT

A student is one ``DIR/<student>.ipynb`` or one folder ``DIR/<student>/`` of notebooks (one per
chapter); ``--chapters`` limits the grading to the chapters assigned. Each exercise cell of each submission is found by its ``# EXERCISE <id>`` line and run
alone in a fresh Python process (smoke profile, CPU, a time limit), followed by the
registry's checks under the grading seed. Writes ``OUT/grades.csv``,
``OUT/feedback/<student>.txt`` and Gradescope's ``results.json`` per student
(``OUT/gradescope/<student>.json``; also ``OUT/results.json`` for a single submission).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from vaebook import __version__
from vaebook.exercises.cells import exercise_cells
from vaebook.exercises.runner import RESULT_LINE


JOBS = max(1, min(4, os.cpu_count() or 1))    # exercises graded side by side, one process each


class ManifestError(ValueError):
    """The manifest cannot be used: unreadable, or from another version of the book."""


@dataclass
class Outcome:
    """One exercise of one submission: points earned and one line per failed check."""

    id: str
    points: float
    max_points: int
    failures: list[str] = field(default_factory=list)


def load_manifest(path: Path) -> dict:
    """The manifest, checked against this version of the book."""
    try:
        manifest = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ManifestError(f"{path}: cannot read the manifest ({error})") from None
    version = manifest.get("book_version") if isinstance(manifest, dict) else None
    if version != __version__:
        raise ManifestError(f"{path}: manifest is for book version {version}, this is vaebook {__version__}; "
                            "grade with the matching version")
    return manifest


def run_exercise(exercise_id: str, code: str, seed: int, timeout: float) -> list[tuple[str, bool, str]]:
    """The checks of one exercise cell, run in a fresh process with a time limit."""
    env = {**os.environ, "VAEBOOK_PROFILE": "smoke", "VAEBOOK_DEVICE": "cpu", "OMP_NUM_THREADS": "1",
           "MPLBACKEND": "Agg"}
    request = json.dumps({"id": exercise_id, "code": code, "seed": seed})
    try:
        done = subprocess.run([sys.executable, "-m", "vaebook.exercises.runner"], input=request, text=True,
                              capture_output=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return [("past the time limit", False, f"ran longer than {timeout:g} s")]
    _, marker, payload = done.stdout.rpartition(RESULT_LINE + "\n")
    if done.returncode != 0 or not marker:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return [("runs", False, f"the cell's process stopped: {last}")]
    return [tuple(row) for row in json.loads(payload)]


def grade_notebooks(notebooks: list[dict], auto: list[dict], seed: int, timeout: float) -> list[Outcome]:
    """Every exercise in ``auto`` (manifest rows), scored all or nothing on its checks; the first
    cell with an exercise's marker, over the student's notebooks, is the one graded."""
    cells: dict = {}
    for nb in notebooks:
        for cell in exercise_cells(nb):
            cells.setdefault(cell.id, cell)

    def one(entry: dict) -> Outcome:
        outcome = Outcome(entry["id"], 0, entry["points"])
        cell = cells.get(entry["id"])
        if cell is None:
            outcome.failures.append(f"{entry['id']}: not found: no cell starts '# EXERCISE {entry['id']}'")
            return outcome
        results = run_exercise(entry["id"], cell.source, seed, timeout)
        outcome.failures = [feedback_line(entry["id"], what, reason) for what, ok, reason in results if not ok]
        outcome.points = 0 if outcome.failures else entry["points"]
        return outcome

    with ThreadPoolExecutor(max_workers=JOBS) as pool:       # each exercise is its own process
        return list(pool.map(one, auto))


def feedback_line(exercise_id: str, what: str, reason: str) -> str:
    """One failed check in one line: the exercise, then the check that failed or what went wrong."""
    return f"{exercise_id}: failed: {what}" if reason == "failed" else f"{exercise_id}: {what}: {reason}"


def read_submission(path: Path) -> dict:
    """A submitted notebook as a dict; ValueError with a short reason when it is not one."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ValueError("not a notebook (not UTF-8 text)") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"not a notebook (invalid or truncated JSON: {error.msg} at line {error.lineno})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ValueError("not a notebook (no list of cells)")
    return nb


def gradescope_results(outcomes: list[Outcome]) -> dict:
    """Gradescope's results.json (its autograder specification, "Output format"): the total, and one
    test per exercise with its score, maximum, status and the feedback lines as its output."""
    return {"score": sum(o.points for o in outcomes),
            "tests": [{"name": o.id, "score": o.points, "max_score": o.max_points,
                       "status": "failed" if o.failures else "passed",
                       "output": "\n".join(o.failures) or "all checks passed"} for o in outcomes]}


def students(submissions: Path) -> dict[str, list[Path]]:
    """Each student's notebooks: ``<student>.ipynb`` files and ``<student>/`` folders of them."""
    if not submissions.is_dir():
        raise ValueError(f"{submissions}: not a folder of submissions")
    found = {path.stem: [path] for path in sorted(submissions.glob("*.ipynb")) if path.is_file()}
    for folder in sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith(".")):
        found[folder.name] = sorted(folder.glob("*.ipynb"))
    if not found:
        raise ValueError(f"{submissions}: no .ipynb files or folders of them to grade")
    return found


def grade(manifest_path: Path, submissions: Path, out: Path, seed: int, timeout: float,
          chapters: list[str] | None = None) -> list[str]:
    """Grade every student under ``submissions``; returns one line per file that could not be graded."""
    manifest = load_manifest(manifest_path)
    auto = [e for e in manifest["exercises"] if e["kind"] == "auto"]
    if chapters:
        unknown = sorted(set(chapters) - {e["chapter"] for e in auto})
        if unknown:
            raise ValueError(f"{manifest_path}: no coding exercises for chapter(s) {', '.join(unknown)}")
        auto = [e for e in auto if e["chapter"] in chapters]
    everyone = students(submissions)
    (out / "feedback").mkdir(parents=True, exist_ok=True)
    (out / "gradescope").mkdir(parents=True, exist_ok=True)
    problems, rows, results = [], [], {}
    total_points = sum(e["points"] for e in auto)
    for student, paths in everyone.items():
        notebooks = []
        for path in paths:
            try:
                notebooks.append(read_submission(path))
            except ValueError as error:
                problems.append(f"{path}: {error}")
        if not notebooks:
            continue
        outcomes = grade_notebooks(notebooks, auto, seed, timeout)
        earned = sum(o.points for o in outcomes)
        rows.append([student, *[o.points for o in outcomes], earned, f"{100 * earned / total_points:.0f}"])
        lines = [line for o in outcomes for line in o.failures]
        (out / "feedback" / f"{student}.txt").write_text(
            f"{student}: {earned} of {total_points} points (seed {seed})\n" + "".join(f"{x}\n" for x in lines))
        results[student] = gradescope_results(outcomes)
        (out / "gradescope" / f"{student}.json").write_text(json.dumps(results[student], indent=2) + "\n")
        print(f"{student}: {earned}/{total_points}")
    with open(out / "grades.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", *[e["id"] for e in auto], "total", "percent"])
        writer.writerows(rows)
    if len(results) == 1:
        (out / "results.json").write_text(json.dumps(next(iter(results.values())), indent=2) + "\n")
    return problems
