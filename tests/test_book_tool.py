"""tools/book.py: the book's execution cache is forgotten exactly when src/ or the profile changes."""

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
