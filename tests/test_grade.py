"""python -m vaebook grade: graded by marker in a fresh process; bad input costs one line, not the run."""

import csv
import importlib
import json
import random
import sys
from pathlib import Path

import nbformat
import pytest

from fixtures.wrong_exercises import CALLS_THE_REFERENCE, WRONG
from vaebook import __version__
from vaebook.cli import main

ROOT = Path(__file__).resolve().parents[1]
FIRST = ROOT / "notebooks" / "00_first_vae.ipynb"      # two coding exercises, 4 points


def student_tool():
    """tools/student_copy.py as a module (tools/ is a folder of scripts, not a package)."""
    if str(ROOT / "tools") not in sys.path:
        sys.path.insert(0, str(ROOT / "tools"))
    return importlib.import_module("student_copy")


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    """The student edition of every chapter (stubs and manifest), written once."""
    tool = student_tool()
    out = tmp_path_factory.mktemp("student")
    assert tool.main([str(p) for p in sorted((ROOT / "notebooks").glob("*.ipynb"))] + ["--out", str(out)]) == 0
    return out


def grade(edition: Path, submissions: Path, out: Path, *extra: str) -> dict[str, dict[str, str]]:
    assert main(["grade", "--manifest", str(edition / "manifest.json"), "--submissions", str(submissions),
                 "--out", str(out), *extra]) == 0
    with open(out / "grades.csv") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


def first_chapter_only(*extra: str) -> list[str]:
    return ["--chapters", "00_first_vae", *extra]


def test_the_source_chapter_scores_full_marks_under_the_default_and_a_random_seed(edition, tmp_path):
    (tmp_path / "in").mkdir()
    nbformat.write(nbformat.read(FIRST, as_version=4), tmp_path / "in" / "solver.ipynb")
    for seed in (0, random.randrange(1, 2**31)):
        rows = grade(edition, tmp_path / "in", tmp_path / f"out{seed}", *first_chapter_only("--seed", str(seed)))
        assert rows["solver"]["total"] == "4" and rows["solver"]["percent"] == "100", f"seed {seed}"
        results = json.loads((tmp_path / f"out{seed}" / "results.json").read_text())
        assert results["score"] == 4
        assert {t["name"]: (t["score"], t["max_score"]) for t in results["tests"]} == {
            "kl-diag-gaussian": (2, 2), "reparameterized-sample": (2, 2)}


def test_the_stubs_score_zero_without_a_crash(edition, tmp_path):
    (tmp_path / "in").mkdir()
    nbformat.write(nbformat.read(edition / "notebooks" / FIRST.name, as_version=4), tmp_path / "in" / "blank.ipynb")
    rows = grade(edition, tmp_path / "in", tmp_path / "out", *first_chapter_only("--timeout", "30"))
    assert rows["blank"]["total"] == "0"
    feedback = (tmp_path / "out" / "feedback" / "blank.txt").read_text().splitlines()
    assert feedback[1:] == [f"{e}: not written yet: the cell raises NotImplementedError"
                            for e in ("kl-diag-gaussian", "reparameterized-sample")]


def test_reordered_cells_a_raising_cell_no_check_cells_and_no_metadata_still_grade(edition, tmp_path):
    nb = nbformat.read(FIRST, as_version=4)
    cells = [c for c in nb.cells if "vaebook.exercises.check" not in c.source]
    cells.reverse()
    cells.insert(0, nbformat.v4.new_code_cell("raise RuntimeError('an unrelated cell')"))
    for cell in cells:
        cell.metadata = {}
    nb.cells, nb.metadata = cells, {}
    (tmp_path / "in").mkdir()
    nbformat.write(nb, tmp_path / "in" / "shuffled.ipynb")
    assert grade(edition, tmp_path / "in", tmp_path / "out", *first_chapter_only())["shuffled"]["total"] == "4"


def test_a_forbidden_reference_and_a_wrong_formula_each_cost_their_exercise(edition, tmp_path):
    nb = nbformat.read(FIRST, as_version=4)
    for cell in nb.cells:
        if cell.source.startswith("# EXERCISE kl-diag-gaussian"):
            cell.source = CALLS_THE_REFERENCE
        elif cell.source.startswith("# EXERCISE reparameterized-sample"):
            cell.source = "# EXERCISE reparameterized-sample (2 points)\n" + \
                WRONG["reparameterized-sample"]["exp(0.5 ** log_var)"]
    (tmp_path / "in").mkdir()
    nbformat.write(nb, tmp_path / "in" / "cheat.ipynb")
    assert grade(edition, tmp_path / "in", tmp_path / "out", *first_chapter_only())["cheat"]["total"] == "0"
    feedback = (tmp_path / "out" / "feedback" / "cheat.txt").read_text().splitlines()[1:]
    assert feedback == [
        "kl-diag-gaussian: forbidden call: calls vaebook.distributions.kl_normal_std_normal, "
        "which this exercise asks you to write yourself",
        "reparameterized-sample: failed: reparameterize(mu, log_var, eps) draws N(mu, exp(log_var)) with the "
        "pathwise gradients"]


def test_bad_input_gives_one_line_each_and_the_rest_is_graded(edition, tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    nbformat.write(nbformat.read(FIRST, as_version=4), folder / "good.ipynb")
    (folder / "binary.ipynb").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    (folder / "truncated.ipynb").write_text(FIRST.read_text()[:500])
    (folder / "list.ipynb").write_text("[1, 2]")
    slow = nbformat.read(FIRST, as_version=4)
    for cell in slow.cells:
        if cell.source.startswith("# EXERCISE kl-diag-gaussian"):
            cell.source += "\nimport time\ntime.sleep(60)\n"
    nbformat.write(slow, folder / "slow.ipynb")
    rows = grade(edition, folder, tmp_path / "out", *first_chapter_only("--timeout", "15"))
    assert sorted(rows) == ["good", "slow"] and rows["good"]["total"] == "4" and rows["slow"]["total"] == "2"
    assert "kl-diag-gaussian: past the time limit: ran longer than 15 s" in \
        (tmp_path / "out" / "feedback" / "slow.txt").read_text()
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3
    assert err[0].endswith("binary.ipynb: not a notebook (not UTF-8 text)")
    assert "list.ipynb: not a notebook (no list of cells)" in err[1]
    assert "truncated.ipynb: not a notebook (invalid or truncated JSON" in err[2]


def test_a_manifest_from_another_version_is_one_line(edition, tmp_path, capsys):
    manifest = json.loads((edition / "manifest.json").read_text())
    manifest["book_version"] = "0.0.1"
    (tmp_path / "old.json").write_text(json.dumps(manifest))
    (tmp_path / "in").mkdir()
    assert main(["grade", "--manifest", str(tmp_path / "old.json"), "--submissions", str(tmp_path / "in"),
                 "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"vaebook grade: error: {tmp_path / 'old.json'}: manifest is for book version 0.0.1, "
                   f"this is vaebook {__version__}; grade with the matching version"]


def test_regenerating_the_manifest_changes_nothing_and_every_exercise_has_a_check_or_hand_grading(edition,
                                                                                                     tmp_path):
    from vaebook.exercises import EXERCISES
    from vaebook.exercises.registry import _load_chapters

    _load_chapters()
    tool = student_tool()
    assert tool.main([str(p) for p in sorted((ROOT / "notebooks").glob("*.ipynb"))] + ["--out", str(tmp_path)]) == 0
    assert (tmp_path / "manifest.json").read_text() == (edition / "manifest.json").read_text()
    manifest = json.loads((edition / "manifest.json").read_text())
    assert manifest["book_version"] == __version__
    for entry in manifest["exercises"]:
        assert entry["kind"] in ("auto", "hand")
        if entry["kind"] == "auto":
            assert EXERCISES[entry["id"]].points == entry["points"]


def test_every_chapter_at_once_scores_full_marks(edition, tmp_path):
    """End to end: one student folder with every source chapter, under a random seed."""
    (tmp_path / "in" / "solver").mkdir(parents=True)
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nbformat.write(nbformat.read(path, as_version=4), tmp_path / "in" / "solver" / path.name)
    rows = grade(edition, tmp_path / "in", tmp_path / "out", "--seed", str(random.randrange(2**31)))
    assert rows["solver"]["percent"] == "100"
