"""Build the book without executing notebooks and fail on any Sphinx warning.

    python tools/build_check.py                         # the whole book, as in _toc.yml
    python tools/build_check.py notebooks/02_em.ipynb   # only these pages (a temporary toc)

Catches broken references, missing citations, bad directives and a bad toc in a
minute, without running a single cell. Output goes to _build/check.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pages", nargs="*", help="build only these pages (paths from the repository root)")
    args = parser.parse_args(argv)

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config.setdefault("execute", {})["execute_notebooks"] = "off"
    with tempfile.TemporaryDirectory() as tmp:
        config_path = Path(tmp) / "_config.yml"
        config_path.write_text(yaml.safe_dump(config))
        toc_path = ROOT / "_toc.yml"
        if args.pages:
            toc_path = Path(tmp) / "_toc.yml"
            chapters = [{"file": str(Path(p).with_suffix(""))} for p in args.pages[1:]]
            toc = {"format": "jb-book", "root": str(Path(args.pages[0]).with_suffix(""))}
            if chapters:
                toc["chapters"] = chapters
            toc_path.write_text(yaml.safe_dump(toc))
        command = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(ROOT), "--config", str(config_path),
                   "--toc", str(toc_path), "--path-output", str(ROOT / "_build" / "check"), "-W", "-n", "--keep-going"]
        return subprocess.call(command, cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())
