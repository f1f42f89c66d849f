"""Write the student edition of chapter notebooks: the exercises stay, their solutions go.

In the rendered book a solution is folded away; in the notebook a student opens
it is plain text under the exercise. This tool writes copies in which every
``{solution}`` block is replaced by one line naming the exercise it belongs to,
and every coding exercise's ``# BEGIN SOLUTION`` ... ``# END SOLUTION`` region by
``raise NotImplementedError("exercise <id>")``; the check cells stay, so students see
their own pass/fail. It also writes ``manifest.json`` (book version, exercises, points,
auto or hand grading, hashes), which ``python -m vaebook grade`` reads:

    python tools/student_copy.py notebooks/*.ipynb --out _build/student [--book]

The folder it writes is the student edition, laid out as a repository of its own:
``notebooks/`` (the student notebooks), ``manifest.json``, ``README.md`` (a table of Colab
links to the student notebooks), and with ``--book`` the book's pages and a ``_config.yml``
whose launch buttons point at that repository (``--repository``, ``--branch``; by default the
book's repository, branch ``student``), built without executing into ``_build/html``.

An exercise whose label has no solution block is reported, since the book
promises one for each; so is a coding exercise the package has no check for.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import yaml

from vaebook import __version__
from vaebook.exercises.cells import MARKER, exercise_cells, stub

# A MyST directive fence: ```{exercise} label  /  ```{solution} label ... ``` (three backticks or more).
SOLUTION_BLOCK = re.compile(r"^(?P<fence>`{3,})\{solution\}[ \t]*(?P<label>\S*).*?^(?P=fence)[ \t]*$\n?", re.M | re.S)
EXERCISE_LABEL = re.compile(r"^`{3,}\{exercise\}.*?^:label:[ \t]*(?P<label>\S+)", re.M | re.S)
RUBRIC_POINTS = re.compile(r"\*\*Rubric \((?P<points>\d+) points?\)", re.I)
WITHHELD = "*The solution to this exercise ({label}) is withheld in the students' copy.*\n"


def withhold_solutions(markdown: str) -> tuple[str, list[str]]:
    """Return the markdown with each solution block replaced by a one-line note, and the labels withheld."""
    labels: list[str] = []

    def replace(match: re.Match) -> str:
        labels.append(match.group("label"))
        return WITHHELD.format(label=match.group("label") or "unlabelled")

    return SOLUTION_BLOCK.sub(replace, markdown), labels


def hand_graded(nb: nbformat.NotebookNode, chapter: str) -> list[dict]:
    """The prose exercises of a notebook, with the points of the rubric in their solution (None if none)."""
    entries = []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for match in SOLUTION_BLOCK.finditer(cell.source):
            rubric = RUBRIC_POINTS.search(match.group(0))
            entries.append({"id": match.group("label"), "chapter": chapter, "kind": "hand",
                            "points": int(rubric.group("points")) if rubric else None,
                            "source_sha256": hashlib.sha256(match.group(0).encode()).hexdigest()})
    return entries


def manifest_entries(nb: nbformat.NotebookNode, chapter: str) -> list[dict]:
    """The manifest's rows for one notebook: its coding exercises (auto), then its prose ones (hand)."""
    from vaebook.exercises import registry

    registry._load_chapters()
    auto = []
    for cell in exercise_cells(nb):
        known = registry.EXERCISES.get(cell.id)
        if known is None:
            raise ValueError(f"{chapter}: exercise {cell.id} has no check in vaebook.exercises")
        if known.points != cell.points:
            raise ValueError(f"{chapter}: exercise {cell.id} is worth {cell.points} points in the notebook "
                             f"but {known.points} in vaebook.exercises")
        auto.append({"id": cell.id, "chapter": chapter, "kind": "auto", "points": cell.points,
                     "function": known.name, "source_sha256": cell.sha256})
    coded = {entry["id"] for entry in auto}
    return auto + [entry for entry in hand_graded(nb, chapter) if entry["id"] not in coded]


def student_copy(nb: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, list[str], list[str]]:
    """A copy of the notebook without solutions; also the exercise labels and the solution labels withheld."""
    copy = nbformat.from_dict(nb)
    exercises: list[str] = []
    withheld: list[str] = []
    for cell in copy.cells:
        if cell.cell_type == "code" and MARKER.search(cell.source):
            cell.source = stub(cell.source)
            cell.outputs, cell.execution_count = [], None
            tags = [tag for tag in cell.metadata.get("tags", []) if tag != "hide-input"]
            cell.metadata["tags"] = tags               # the stub is shown: it is where students write
            if not tags:
                del cell.metadata["tags"]
        if cell.cell_type != "markdown":
            continue
        exercises += [m.group("label") for m in EXERCISE_LABEL.finditer(cell.source)]
        cell.source, labels = withhold_solutions(cell.source)
        withheld += labels
    return copy, exercises, withheld


ROOT = Path(__file__).resolve().parents[1]
COLAB = "https://colab.research.google.com/github/{repo}/blob/{branch}/notebooks/{name}"


def student_config(repository: str, branch: str) -> dict:
    """The book's _config.yml for the student edition: nothing executed, launch buttons on its repository."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["title"] = f"{config['title']} (student edition)"
    config["execute"] = {**config.get("execute", {}), "execute_notebooks": "off"}
    config["repository"] = {**config.get("repository", {}), "url": f"https://github.com/{repository}",
                            "branch": branch, "path_to_book": ""}
    return config


def write_links(out: Path, names: list[str], repository: str, branch: str) -> None:
    """README.md of the student edition: one Colab link per student notebook."""
    rows = "".join(f"| {name.removesuffix('.ipynb')} | [open in Colab]("
                   f"{COLAB.format(repo=repository, branch=branch, name=name)}) |\n" for name in names)
    (out / "README.md").write_text(
        "# Student edition\n\nThe chapters with their exercises and without solutions. Write your code where a "
        "cell raises `NotImplementedError`; the cell after it checks it.\n\n| chapter | notebook |\n|---|---|\n"
        + rows)


def build_book(out: Path, repository: str, branch: str) -> int:
    """Copy the book's pages next to the student notebooks and build the HTML without executing."""
    for name in ("book", "references.bib", "_toc.yml"):
        source, target = ROOT / name, out / name
        if source.is_dir():
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(source, target)
        else:
            shutil.copy2(source, target)
    (out / "_config.yml").write_text(yaml.safe_dump(student_config(repository, branch), sort_keys=False))
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    done = subprocess.run([str(jupyter_book), "build", str(out), "--quiet"], capture_output=True, text=True)
    if done.returncode != 0:
        print(f"{out}: the student book did not build:\n{done.stdout[-2000:]}{done.stderr[-2000:]}", file=sys.stderr)
        return 1
    print(f"{out / '_build' / 'html' / 'index.html'}: the student edition of the book")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path, help="chapter notebooks")
    parser.add_argument("--out", type=Path, default=Path("_build/student"), help="folder for the student edition")
    parser.add_argument("--book", action="store_true", help="also build the student edition's HTML (no execution)")
    parser.add_argument("--repository", default="vae-book/vae-book",
                        help="GitHub owner/name where the student edition is published (Colab links)")
    parser.add_argument("--branch", default="student", help="its branch")
    args = parser.parse_args(argv)
    notebooks = args.out / "notebooks"
    notebooks.mkdir(parents=True, exist_ok=True)
    problems = 0
    entries: list[dict] = []
    for path in args.paths:
        original = nbformat.read(path, as_version=4)
        try:
            entries += manifest_entries(original, path.stem)
        except ValueError as error:
            problems += 1
            print(error, file=sys.stderr)
        copy, exercises, withheld = student_copy(original)
        unsolved = [label for label in exercises if label not in withheld]
        if unsolved:
            problems += 1
            print(f"{path}: no solution found for {', '.join(unsolved)}", file=sys.stderr)
        nbformat.validate(copy)
        nbformat.write(copy, notebooks / path.name)
        print(f"{notebooks / path.name}: {len(exercises)} exercises, {len(withheld)} solutions withheld")
    manifest = {"book_version": __version__, "exercises": entries}
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    auto = [e for e in entries if e["kind"] == "auto"]
    print(f"{args.out / 'manifest.json'}: {len(auto)} coding exercises ({sum(e['points'] for e in auto)} points), "
          f"{len(entries) - len(auto)} graded by hand")
    write_links(args.out, [path.name for path in args.paths], args.repository, args.branch)
    if args.book and not problems:
        problems += build_book(args.out, args.repository, args.branch)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
