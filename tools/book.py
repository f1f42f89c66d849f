"""Build the book: execute every notebook (cached), or check it without executing.

    python tools/book.py                      # execute in $VAEBOOK_PROFILE (default book), cached, HTML in _build/html
    python tools/book.py --check              # no execution; fail on any Sphinx warning (make test runs this)
    python tools/book.py --check notebooks/02_em.ipynb    # only these pages, through a temporary toc

The execution cache (_build/.jupyter_cache) keys on the notebooks' code only, so it is
cleared whenever the package's source or the profile changes: the book then always shows
what the current code computes. The full profile trains for hours on a GPU, so it runs
without a per-notebook timeout; the others keep _config.yml's.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"


def source_key(profile: str) -> str:
    """A hash of every file under src/ and the profile: when it changes, cached executions are stale."""
    digest = hashlib.sha256(profile.encode())
    for path in sorted((ROOT / "src").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def clear_stale_cache(profile: str) -> None:
    """Forget every executed notebook when src/ or the profile changed.

    Both the execution cache and Sphinx's saved environment go: Sphinx re-reads (and so
    re-executes) only the pages whose source changed, which would leave the other pages
    showing what the old code computed.
    """
    key_file, key = BUILD / ".book-key", source_key(profile)
    if not key_file.exists() or key_file.read_text() != key:
        stale = [BUILD / name for name in (".jupyter_cache", ".doctrees", "jupyter_execute")]
        if any(path.exists() for path in stale):
            print("src/ or the profile changed since the last build: re-executing every notebook")
        for path in stale:
            shutil.rmtree(path, ignore_errors=True)
        BUILD.mkdir(exist_ok=True)
        key_file.write_text(key)


REFERENCES = "book/references.md"   # holds the bibliography: without it every {cite} on a page is a warning


def write_toc(pages: list[str], folder: Path) -> Path:
    """A temporary table of contents holding only the given pages, and the references page."""
    pages = pages + [REFERENCES] * (REFERENCES not in pages)
    toc = {"format": "jb-book", "root": str(Path(pages[0]).with_suffix(""))}
    if pages[1:]:
        toc["chapters"] = [{"file": str(Path(p).with_suffix(""))} for p in pages[1:]]
    path = folder / "_toc.yml"
    path.write_text(yaml.safe_dump(toc))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="do not execute notebooks; only check that the book builds")
    parser.add_argument("pages", nargs="*", help="build only these pages (paths from the repository root)")
    args = parser.parse_args(argv)

    from vaebook.settings import profile  # validates VAEBOOK_PROFILE with a clear message

    current = profile()
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    execute = config.setdefault("execute", {})
    if args.check:
        execute["execute_notebooks"] = "off"
        output = BUILD / "check"
    else:
        if current == "full":
            execute["timeout"] = -1
        clear_stale_cache(current)
        output = ROOT
    with tempfile.TemporaryDirectory() as tmp:
        config_path = Path(tmp) / "_config.yml"
        config_path.write_text(yaml.safe_dump(config))
        toc_path = write_toc(args.pages, Path(tmp)) if args.pages else ROOT / "_toc.yml"
        jupyter_book = Path(sys.executable).with_name("jupyter-book")
        command = [str(jupyter_book), "build", str(ROOT), "--config", str(config_path), "--toc", str(toc_path),
                   "--path-output", str(output), "-W", "-n", "--keep-going"]
        print(f"building the book ({'not executing' if args.check else f'{current} profile'})", flush=True)
        # no progress bars in the pages (vaebook.settings.progress_bars): they would be saved as widgets that show
        # nothing but weigh half of a chapter's HTML; the epoch lines still print
        env = {**os.environ, "VAEBOOK_PROFILE": current, "TQDM_DISABLE": "1"}
        return subprocess.call(command, cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main())
