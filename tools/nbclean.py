"""Strip outputs and execution counts from notebooks, keeping those of cells marked for nbval.

Notebooks are committed without outputs: the book build executes them. The only
outputs kept are those of cells containing ``# NBVAL_CHECK_OUTPUT`` (or tagged
``nbval-check-output``), which nbval compares, so a changed derivation fails CI.

    python tools/nbclean.py notebooks/*.ipynb          # clean in place
    python tools/nbclean.py --check notebooks/*.ipynb  # exit 1 if any is not clean
"""

from __future__ import annotations

import argparse
import sys

import nbformat


def is_checked(cell: nbformat.NotebookNode) -> bool:
    """True for a code cell whose output nbval compares."""
    return "NBVAL_CHECK_OUTPUT" in cell.source or "nbval-check-output" in cell.metadata.get("tags", [])


def clean(nb: nbformat.NotebookNode) -> bool:
    """Remove outputs, counts and per-run metadata in place; return True if anything changed."""
    changed = False
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
    dirty = []
    for path in args.paths:
        nb = nbformat.read(path, as_version=4)
        if clean(nb):
            dirty.append(path)
            if not args.check:
                nbformat.write(nb, path)
    if args.check and dirty:
        print("notebooks with outputs outside NBVAL_CHECK_OUTPUT cells:", *dirty, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
