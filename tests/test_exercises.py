"""vaebook.exercises: each coding exercise's check passes the book's solution and fails the wrong ones."""

import random
from pathlib import Path

import nbformat
import pytest

from fixtures.wrong_exercises import HARD_CODED_FOR_SEED_0, WRONG
from vaebook.exercises import EXERCISES, CheckFailed, check, run_checks
from vaebook.exercises.cells import exercise_cells, stub
from vaebook.exercises.registry import _load_chapters

ROOT = Path(__file__).resolve().parents[1]
_load_chapters()
SOURCES = {cell.id: cell.source for path in sorted((ROOT / "notebooks").glob("*.ipynb"))
           for cell in exercise_cells(nbformat.read(path, as_version=4))}


def defined(code: str, name: str):
    """Run an exercise cell's code and return the object it defines."""
    namespace: dict = {}
    exec(compile(code, "<cell>", "exec"), namespace)
    return namespace[name]


def passed(exercise_id: str, code: str, seed: int) -> bool:
    results = run_checks(exercise_id, defined(code, EXERCISES[exercise_id].name), seed)
    return all(ok for _, ok, _ in results)


def test_every_registered_exercise_is_in_a_notebook_and_every_notebook_exercise_is_registered():
    assert sorted(SOURCES) == sorted(EXERCISES)


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_the_books_solution_passes_under_the_default_and_a_random_seed(exercise_id):
    seed = random.randrange(1, 2**31)
    assert passed(exercise_id, SOURCES[exercise_id], 0)
    assert passed(exercise_id, SOURCES[exercise_id], seed), f"seed {seed}"


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_the_stub_fails_with_not_implemented(exercise_id):
    results = run_checks(exercise_id, defined(stub(SOURCES[exercise_id]), EXERCISES[exercise_id].name))
    assert [ok for _, ok, _ in results] == [False] and "NotImplementedError" in results[0][2]


@pytest.mark.parametrize("exercise_id, mistake", [(e, m) for e, wrong in WRONG.items() for m in wrong])
def test_each_wrong_answer_fails_its_check(exercise_id, mistake):
    assert not passed(exercise_id, WRONG[exercise_id][mistake], 0)


def test_every_exercise_has_wrong_answers_kept():
    assert set(WRONG) == set(EXERCISES)


def test_an_answer_hard_coded_for_seed_0_fails_under_another_seed():
    kl = defined(HARD_CODED_FOR_SEED_0, "kl_diag_gaussian")
    first = run_checks("kl-diag-gaussian", kl, 0)[0]
    assert first[1], "it does reproduce seed 0's values"
    assert not any(ok for _, ok, _ in run_checks("kl-diag-gaussian", kl, 7))


def test_check_prints_one_line_per_check_and_raises_naming_the_failure(capsys):
    with pytest.raises(CheckFailed, match="kl-diag-gaussian"):
        check("kl-diag-gaussian", defined(WRONG["kl-diag-gaussian"]["without its -1"], "kl_diag_gaussian"))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(line.startswith("FAIL kl-diag-gaussian: ") for line in lines)
