"""Run chapters in the full profile and keep what they measured.

    python tools/run_full.py notebooks/11_structured_prediction.ipynb [more notebooks]
    make full NOTEBOOKS=notebooks/11_structured_prediction.ipynb

Each notebook executes in its own folder with ``VAEBOOK_PROFILE=full`` and no time limit per cell
(``--profile smoke`` rehearses the same run in seconds).
The executed copy (figures and printed numbers, for reading) goes to ``_build/full/``; the chapters
that have a results table save its numbers with ``vaebook.records.save_record`` into
``src/vaebook/records/``, which are committed so that the book's other profiles show them. A copy
of each record written (its JSON, and the PNG of samples a chapter keeps beside it, as chapter 17
does) goes beside the executed notebooks, so that one folder holds a run's results.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from vaebook import PROFILES
from vaebook.records import RECORDS_DIR

ROOT = Path(__file__).resolve().parent.parent
RECORD_FILES = ("*.json", "*.png")   # a record, and the samples a chapter keeps beside it


def record_files() -> dict[Path, float]:
    """Every file of the records folder, with its modification time."""
    return {path: path.stat().st_mtime for pattern in RECORD_FILES for path in RECORDS_DIR.glob(pattern)}


def run(notebook: Path, out_dir: Path) -> bool:
    """Execute one notebook in the full profile; True when every cell ran."""
    nb = nbformat.read(notebook, as_version=4)
    out = out_dir / notebook.name
    start = time.perf_counter()
    ok = True
    try:
        NotebookClient(nb, timeout=None, kernel_name="python3",
                       resources={"metadata": {"path": str(notebook.parent)}}).execute()
    except CellExecutionError as error:
        ok = False
        print(f"{notebook.name}: a cell failed:\n{error}", file=sys.stderr)
    finally:
        out_dir.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out)
    print(f"{notebook.name}: {'ran' if ok else 'FAILED'} in {time.perf_counter() - start:.0f} s; executed copy: {out}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "full", help="where the executed copies go")
    parser.add_argument("--profile", choices=PROFILES, default="full",
                        help="full (the default), or smoke to rehearse the run in seconds")
    args = parser.parse_args()
    os.environ["VAEBOOK_PROFILE"] = args.profile    # the kernel inherits it
    os.environ["TQDM_DISABLE"] = "1"                # and draws no progress bars into the executed copies
    before = record_files()
    ok = all([run(nb.resolve(), args.out) for nb in args.notebooks])
    for path, modified in record_files().items():
        if before.get(path) != modified:
            args.out.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, args.out)
            print(f"record written: {path} (copy in {args.out})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
