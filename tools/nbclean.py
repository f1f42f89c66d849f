"""Put notebooks in their committed form: no outputs, and the book's LaTeX macros in the first cell.

Notebooks are committed without outputs: the book build executes them. The only
outputs kept are those of cells containing ``# NBVAL_CHECK_OUTPUT`` (or tagged
``nbval-check-output``), which nbval compares, so a changed derivation fails CI.

The rendered book takes its maths macros (``\\x``, ``\\KL``, ``\\bphi``, ...) from
``_config.yml``. A notebook opened in Jupyter or Colab knows none of them, and every
formula using one shows as an error, so each notebook's first cell defines them with
``\\newcommand``, written here from ``_config.yml`` and tagged ``remove-cell`` so that
the rendered book, which has them already, leaves it out.

    python tools/nbclean.py notebooks/*.ipynb          # clean in place
    python tools/nbclean.py --check notebooks/*.ipynb  # exit 1 if any is not clean
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
MACRO_TAG = "remove-cell"
MACRO_ID = "book-macros"
MACRO_HEADER = ("<!-- The book's LaTeX macros, for Jupyter and Colab: written from _config.yml by tools/nbclean.py; "
                "the rendered book defines them itself and leaves this cell out. -->\n")


def book_macros(config: Path = ROOT / "_config.yml") -> dict[str, str]:
    """The MathJax macros of the rendered book: name (without backslash) -> definition."""
    settings = yaml.safe_load(config.read_text())
    return settings["sphinx"]["config"]["mathjax3_config"]["tex"]["macros"]


def macro_source(macros: dict[str, str]) -> str:
    """The source of the macro cell: the header, then one ``$\\newcommand$`` a line."""
    return MACRO_HEADER + "\n".join(f"$\\newcommand{{\\{name}}}{{{body}}}$" for name, body in macros.items())


def is_macro_cell(cell: nbformat.NotebookNode) -> bool:
    """True for the macro cell, also one written by an older version of this tool (same id)."""
    return cell.cell_type == "markdown" and (cell.get("id") == MACRO_ID or cell.source.startswith(MACRO_HEADER))


def put_macro_cell(nb: nbformat.NotebookNode, source: str) -> bool:
    """Make the notebook's first cell the macro cell with this source; return True if anything changed."""
    if nb.cells and is_macro_cell(nb.cells[0]):
        cell = nb.cells[0]
        if cell.source == source and MACRO_TAG in cell.metadata.get("tags", []):
            return False
        cell.source = source
        cell.metadata["tags"] = sorted(set(cell.metadata.get("tags", [])) | {MACRO_TAG})
        return True
    cell = nbformat.v4.new_markdown_cell(source, metadata={"tags": [MACRO_TAG]})
    cell.id = MACRO_ID
    nb.cells.insert(0, cell)
    return True


def is_checked(cell: nbformat.NotebookNode) -> bool:
    """True for a code cell whose output nbval compares."""
    return "NBVAL_CHECK_OUTPUT" in cell.source or "nbval-check-output" in cell.metadata.get("tags", [])


def clean(nb: nbformat.NotebookNode, macros: str | None = None) -> bool:
    """Remove outputs, counts and per-run metadata in place, and put the macro cell first (the book's
    macros unless ``macros`` gives the cell's source); return True if anything changed."""
    changed = put_macro_cell(nb, macro_source(book_macros()) if macros is None else macros)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for key in ("execution", "collapsed", "scrolled"):
            if key in cell.metadata:
                del cell.metadata[key]
                changed = True
        if is_checked(cell):
            if cell.outputs and cell.execution_count is None:
                raise SystemExit("a cell marked NBVAL_CHECK_OUTPUT needs its execution count: re-run it")
            for output in cell.outputs:
                if "execution_count" in output and output.execution_count != cell.execution_count:
                    output.execution_count = cell.execution_count
                    changed = True
            continue
        if cell.outputs or cell.execution_count is not None:
            cell.outputs = []
            cell.execution_count = None
            changed = True
    for key in ("widgets",):
        if key in nb.metadata:
            del nb.metadata[key]
            changed = True
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--check", action="store_true", help="report unclean notebooks instead of cleaning them")
    args = parser.parse_args(argv)
    macros = macro_source(book_macros())   # read _config.yml once, not once a notebook
    dirty = []
    for path in args.paths:
        nb = nbformat.read(path, as_version=4)
        if clean(nb, macros):
            dirty.append(path)
            if not args.check:
                nbformat.write(nb, path)
    if args.check and dirty:
        print("notebooks with outputs outside NBVAL_CHECK_OUTPUT cells, or without the current macro cell "
              "(run python tools/nbclean.py notebooks/*.ipynb):", *dirty, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
