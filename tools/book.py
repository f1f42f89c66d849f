"""Build the book: execute every notebook (cached), or check it without executing.

    python tools/book.py                      # execute in $VAEBOOK_PROFILE (default book), cached, HTML in _build/html
    python tools/book.py --check              # no execution; fail on any Sphinx warning (make test runs this)
    python tools/book.py --check notebooks/02_em.ipynb    # only these pages, through a temporary toc

The execution cache (_build/.jupyter_cache) keys on the notebooks' code only, so it is
cleared whenever the package's source or the profile changes: the book then always shows
what the current code computes. The full profile trains for hours on a GPU, so it runs
without a per-notebook timeout; the others keep _config.yml's.

Outside the full profile, the notebooks the cache lacks are executed first, several at a
time (``--jobs``, default: one per two CPU cores, at least two; each kernel's PyTorch gets an
equal share of the cores), and stored in the cache exactly as Jupyter Book would store them;
the build then finds every notebook cached. Small models use a second core poorly, so two
notebooks side by side on two cores take less time than the same two one after the other.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
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


def _execute(path: str, timeout: int) -> tuple[str, object, float, str | None]:
    """Run one notebook in its own folder, as Jupyter Book's cache mode does (in a thread; the kernel is a process)."""
    import nbformat
    from jupyter_cache.executors.utils import single_nb_execution

    notebook = nbformat.read(path, as_version=4)
    result = single_nb_execution(notebook, cwd=str(Path(path).parent), timeout=timeout, allow_errors=False,
                                 meta_override=True)
    return path, notebook, result.time, None if result.err is None else result.exc_string


def chapters(notebooks: list[Path]) -> dict[str, list[Path]]:
    """The notebooks grouped by chapter number (``09_...`` and ``09b_...`` together), each group in its given order."""
    groups: dict[str, list[Path]] = {}
    for path in notebooks:
        number = re.match(r"\d*", path.name).group() or path.stem
        groups.setdefault(number, []).append(path)
    return groups


def _execute_in_order(pages: list[Path], timeout: int) -> list[tuple[str, object, float, str | None]]:
    """One chapter's pages one after the other: a later page loads the models an earlier one saved."""
    return [_execute(str(path), timeout) for path in pages]


def execute_uncached(notebooks: list[Path], timeout: int, jobs: int) -> list[str]:
    """Execute the notebooks the cache lacks, ``jobs`` chapters at a time, and cache them; returns the failures.

    A chapter's pages run in order, in one worker, so that with a checkpoint folder (see :func:`main`)
    a second page loads what the first trained instead of training it again. A failed notebook is
    left out of the cache, so the build executes it again and reports its error the usual way.
    """
    from concurrent.futures import ThreadPoolExecutor, as_completed

    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    cache = get_cache(str(BUILD / ".jupyter_cache"))
    todo = []
    for path in notebooks:
        try:
            cache.match_cache_notebook(nbformat.read(path, as_version=4))
        except KeyError:
            todo.append(path)
    if not todo:
        return []
    threads = max(1, (os.cpu_count() or 1) // jobs)
    print(f"executing {len(todo)} notebooks, {jobs} at a time, {threads} thread(s) each", flush=True)
    os.environ.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))  # read by each kernel's torch
    failed = []
    # the later chapters train the most: started first, they do not finish last alone
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(_execute_in_order, pages, timeout)
                   for pages in sorted(chapters(todo).values(), reverse=True)]
        results = (result for future in as_completed(futures) for result in future.result())
        for path, notebook, seconds, error in results:
            name = Path(path).relative_to(ROOT)
            if error is not None:
                print(f"{name}: failed after {seconds:.0f} s (the build runs it again and shows the error)")
                failed.append(path)
                continue
            record = cache.add_nb_to_project(path)
            cache.cache_notebook_bundle(CacheBundleIn(notebook, record.uri, data={"execution_seconds": seconds}),
                                        check_validity=False, overwrite=True)
            print(f"{name}: {seconds:.0f} s", flush=True)
    return failed


def toc_notebooks(toc_path: Path) -> list[Path]:
    """The notebooks a table of contents names, in its order."""
    files = re.findall(r"^\s*-?\s*(?:file|root):\s*(\S+)", toc_path.read_text(), re.M)
    return [ROOT / f"{name}.ipynb" for name in files if (ROOT / f"{name}.ipynb").exists()]


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
    parser.add_argument("--jobs", type=int, default=max(2, (os.cpu_count() or 1) // 2),
                        help="notebooks executed at a time before the build (not in the full profile)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")

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
        if not args.check:
            # one checkpoint folder for this build, unless the reader named one: a chapter's second page loads
            # the models its first page trained (vaebook.train.train_or_load); gone with the build, so no later
            # build loads a model that older code trained
            os.environ.setdefault("VAEBOOK_CHECKPOINTS", str(Path(tmp) / "checkpoints"))
        if not args.check and current != "full" and args.jobs > 1:
            os.environ.update(VAEBOOK_PROFILE=current, TQDM_DISABLE="1")
            execute_uncached(toc_notebooks(toc_path), int(execute.get("timeout", 900)), args.jobs)
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
