"""tools/book.py: the book's execution cache is forgotten exactly when src/ or the profile changes."""

import os
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def make_build(build: Path) -> list[Path]:
    folders = [build / ".jupyter_cache", build / ".doctrees", build / "jupyter_execute"]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    return folders


def test_cache_cleared_on_a_new_key_and_kept_otherwise(tmp_path, monkeypatch, load_tool):
    book = load_tool("book")
    monkeypatch.setattr(book, "BUILD", tmp_path / "_build")
    folders = make_build(tmp_path / "_build")
    book.clear_stale_cache("book")                 # no key yet: everything goes
    assert not any(f.exists() for f in folders)
    make_build(tmp_path / "_build")
    book.clear_stale_cache("book")                 # same source, same profile: kept
    assert all(f.exists() for f in folders)
    book.clear_stale_cache("full")                 # another profile: everything goes
    assert not any(f.exists() for f in folders)


def test_source_key_depends_on_the_profile_and_the_source(load_tool):
    book = load_tool("book")
    assert book.source_key("book") == book.source_key("book")
    assert book.source_key("book") != book.source_key("smoke")


def test_a_partial_toc_always_holds_the_references_page(tmp_path, load_tool):
    """Every {cite} needs the bibliography page, so checking one chapter must not warn for its citations."""
    book = load_tool("book")
    toc = yaml.safe_load(book.write_toc(["notebooks/02_em.ipynb"], tmp_path).read_text())
    assert toc["root"] == "notebooks/02_em" and toc["chapters"] == [{"file": "book/references"}]
    toc = yaml.safe_load(book.write_toc(["book/references.md", "notebooks/02_em.ipynb"], tmp_path).read_text())
    assert toc["root"] == "book/references" and toc["chapters"] == [{"file": "notebooks/02_em"}]


def test_the_toc_names_every_chapter_notebook(load_tool):
    book = load_tool("book")
    listed = {path.name for path in book.toc_notebooks(ROOT / "_toc.yml")}
    assert listed == {path.name for path in (ROOT / "notebooks").glob("*.ipynb")}


def test_notebooks_executed_side_by_side_are_found_in_the_build_cache(tmp_path, monkeypatch, load_tool):
    """What execute_uncached stores must be what Jupyter Book's cache mode looks up, or the build runs twice."""
    import nbformat
    from jupyter_cache import get_cache

    book = load_tool("book")
    monkeypatch.setattr(book, "BUILD", tmp_path / "_build")
    monkeypatch.setattr(book, "ROOT", tmp_path)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):   # set for the kernels; restored after the test
        monkeypatch.setenv(name, "")
    threads = max(1, (os.cpu_count() or 1) // 2)
    paths = []
    for name, code in [("a", "print(6 * 7)"), ("b", "import os\nprint(os.environ['OMP_NUM_THREADS'])"),
                       ("c", "raise ValueError('broken')")]:
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        paths.append(tmp_path / f"{name}.ipynb")
        nbformat.write(notebook, paths[-1])
    failed = book.execute_uncached(paths, timeout=60, jobs=2)
    assert failed == [str(paths[2])]                      # left to the build, which shows the error
    cache = get_cache(str(tmp_path / "_build" / ".jupyter_cache"))
    for path, printed in [(paths[0], "42\n"), (paths[1], f"{threads}\n")]:
        _, merged = cache.merge_match_into_notebook(nbformat.read(path, as_version=4))
        assert merged.cells[0].outputs[0]["text"] == printed
    assert book.execute_uncached(paths[:2], timeout=60, jobs=2) == []   # cached: nothing runs again


def test_a_chapters_pages_are_grouped_in_their_order(load_tool):
    book = load_tool("book")
    paths = [Path(name) for name in ("09_evaluating.ipynb", "09b_exploring.ipynb", "10_next.ipynb", "intro.ipynb")]
    assert book.chapters(paths) == {"09": paths[:2], "10": [paths[2]], "intro": [paths[3]]}


def test_a_second_page_runs_after_the_first_and_sees_what_it_saved(tmp_path, monkeypatch, load_tool):
    """With two workers, chapter 9's second page would otherwise start beside the first and train its models again."""
    import nbformat

    book = load_tool("book")
    monkeypatch.setattr(book, "BUILD", tmp_path / "_build")
    monkeypatch.setattr(book, "ROOT", tmp_path)
    monkeypatch.setenv("VAEBOOK_CHECKPOINTS", str(tmp_path / "checkpoints"))
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(name, "")
    first = ("import os, pathlib, time\ntime.sleep(2)\nfolder = pathlib.Path(os.environ['VAEBOOK_CHECKPOINTS'])\n"
             "folder.mkdir()\n(folder / 'model.pt').write_text('trained')")
    second = "import os, pathlib\nprint((pathlib.Path(os.environ['VAEBOOK_CHECKPOINTS']) / 'model.pt').read_text())"
    paths = []
    for name, code in [("07_first", first), ("07b_second", second)]:
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        paths.append(tmp_path / f"{name}.ipynb")
        nbformat.write(notebook, paths[-1])
    assert book.execute_uncached(paths, timeout=60, jobs=2) == []
