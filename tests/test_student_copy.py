"""tools/student_copy.py: students' copies keep every exercise and code cell and withhold every solution."""

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_a_solution_block_becomes_one_line_and_the_text_around_it_stays(load_tool):
    tool = load_tool("student_copy")
    markdown = ("Before.\n\n```{exercise} Two plus two\n:label: ex-add\n\nCompute it.\n```\n\n"
                "```{solution} ex-add\n:class: dropdown\n\nIt is `4`:\n$2 + 2 = 4$.\n```\n\nAfter.\n")
    text, labels = tool.withhold_solutions(markdown)
    assert labels == ["ex-add"]
    assert "{solution}" not in text and "2 + 2 = 4" not in text
    assert text.startswith("Before.\n\n```{exercise} Two plus two\n:label: ex-add\n\nCompute it.\n```\n\n")
    assert "(ex-add) is withheld" in text and text.endswith("\n\nAfter.\n")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_copy_withholds_each_solution_and_keeps_the_code(path, load_tool):
    tool = load_tool("student_copy")
    original = nbformat.read(path, as_version=4)
    copy, exercises, withheld = tool.student_copy(original)
    nbformat.validate(copy)
    assert exercises and sorted(exercises) == sorted(withheld), "each exercise has exactly one solution withheld"
    assert not any("{solution}" in cell.source for cell in copy.cells)
    assert len(copy.cells) == len(original.cells)
    for mine, theirs in zip(copy.cells, original.cells):
        if theirs.cell_type != "code":
            continue
        if tool.MARKER.search(theirs.source):    # a coding exercise: its solution becomes a stub
            assert mine.source == tool.stub(theirs.source) and "BEGIN SOLUTION" not in mine.source
        else:                                    # every other cell, the checks too, as in the chapter
            assert mine == theirs
    assert "{solution}" in "".join(cell.source for cell in original.cells), "the original is left as it was"
    assert exercises, "every chapter has exercises"


def test_the_command_writes_the_copies_and_names_an_exercise_without_solution(tmp_path, capsys, load_tool):
    tool = load_tool("student_copy")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        "```{exercise} Alone\n:label: ex-alone\n\nNo solution follows.\n```\n")])
    lonely = tmp_path / "lonely.ipynb"
    nbformat.write(nb, lonely)
    assert tool.main([str(CHAPTERS[0]), "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "notebooks" / CHAPTERS[0].name).is_file()
    assert "colab.research.google.com/github/vae-book/vae-book/blob/student/notebooks/" in \
        (tmp_path / "out" / "README.md").read_text()
    assert tool.main([str(lonely), "--out", str(tmp_path / "out")]) == 1
    assert "no solution found for ex-alone" in capsys.readouterr().err


def test_a_rubric_gives_a_prose_exercise_its_points_in_the_manifest(load_tool):
    tool = load_tool("student_copy")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        "```{exercise} Why\n:label: ex-why\n\nExplain.\n```\n\n```{solution} ex-why\n:class: dropdown\n\n"
        "Because.\n\n**Rubric (3 points):** 2 for the reason, 1 for an example.\n```\n\n"
        "```{exercise} Other\n:label: ex-other\n\nMore.\n```\n\n```{solution} ex-other\n:class: dropdown\n\nNo rubric.\n```\n")])
    entries = tool.manifest_entries(nb, "99_test")
    assert [(e["id"], e["kind"], e["points"]) for e in entries] == [("ex-why", "hand", 3), ("ex-other", "hand", None)]


def test_chapter_0s_prose_exercises_each_have_a_rubric(load_tool):
    tool = load_tool("student_copy")
    entries = tool.manifest_entries(nbformat.read(CHAPTERS[0], as_version=4), CHAPTERS[0].stem)
    assert [e["points"] for e in entries if e["kind"] == "hand"] == [3, 2, 3]
    assert [e["kind"] for e in entries].count("auto") == 2


@pytest.mark.parametrize("stem, rubric_points", [("16_colour_images", [3, 3, 4, 3]),
                                                 ("17_generative_landscape", [4, 3, 3, 3])])
def test_chapters_16_and_17_have_a_rubric_for_each_prose_exercise_and_two_coding_exercises(stem, rubric_points,
                                                                                           load_tool):
    tool = load_tool("student_copy")
    path = ROOT / "notebooks" / f"{stem}.ipynb"
    entries = tool.manifest_entries(nbformat.read(path, as_version=4), stem)
    assert [e["points"] for e in entries if e["kind"] == "hand"] == rubric_points
    assert [e["kind"] for e in entries].count("auto") == 2


@pytest.mark.parametrize("stem, rubric_points", [("12_vq_vae", [3, 3, 3, 3]),
                                                 ("13_autoregressive_models", [3, 4, 3, 4]),
                                                 ("14_adversarial_autoencoders", [3, 2, 4, 3, 3]),
                                                 ("15_denoising_and_adversarial_vb", [4, 3, 3, 3])])
def test_chapters_12_to_15_have_a_rubric_for_each_prose_exercise(stem, rubric_points, load_tool):
    tool = load_tool("student_copy")
    path = ROOT / "notebooks" / f"{stem}.ipynb"
    entries = tool.manifest_entries(nbformat.read(path, as_version=4), stem)
    assert [e["points"] for e in entries if e["kind"] == "hand"] == rubric_points


RUBRIC = re.compile(r"\*\*Rubric \((\d+) points?\):\*\*(.*?)(?:\n\s*\n|\n`{3,}|$)", re.S)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_exercise_has_points_and_every_rubric_adds_up(path, load_tool):
    """Each exercise of each chapter is graded: a coding one by its check, a prose one by a rubric
    whose parts ('1 for ...; 2 for ...') add up to the points it announces."""
    tool = load_tool("student_copy")
    nb = nbformat.read(path, as_version=4)
    entries = tool.manifest_entries(nb, path.stem)
    assert entries and all(isinstance(e["points"], int) and e["points"] > 0 for e in entries), \
        [e["id"] for e in entries if not e["points"]]
    for cell in nb.cells:
        for total, parts in RUBRIC.findall(cell.source):
            marks = [int(n) for n in re.findall(r"(?:^|;)\s*(\d+)\s+for\s", parts.strip())]
            assert sum(marks) == int(total), (path.stem, total, parts[:120])
