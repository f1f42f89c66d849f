"""Every notebook is in the book, starts with the setup and parameters cells, pins the package's
version, and is committed clean: no outputs outside NBVAL_CHECK_OUTPUT cells, no absolute paths."""

import re
from pathlib import Path

import nbformat
import pytest
import yaml

import vaebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def toc_files() -> set[str]:
    files = set()

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.add(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files.add(toc["root"])
    walk(toc)
    return files


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_in_the_toc(path):
    assert f"notebooks/{path.stem}" in toc_files()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_starts_with_setup_and_parameters(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    setup, parameters = code[0].source, code[1]
    assert 'if "google.colab" in sys.modules:' in setup
    assert f'vaebook.check_version("{vaebook.__version__}")' in setup
    assert f"@v{vaebook.__version__}" in setup
    assert "parameters" in parameters.metadata.get("tags", [])
    assert "by_profile(" in parameters.source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_clean(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        checked = "NBVAL_CHECK_OUTPUT" in cell.source
        assert checked or (not cell.outputs and cell.execution_count is None), cell.source[:60]
        if checked and cell.outputs:
            assert cell.execution_count is not None
        assert "/content" not in cell.source and not re.search(r"['\"](/work|/home|/Users|/tmp|C:\\)", cell.source)


def test_no_notebook_checkpoints_tracked():
    assert not list(ROOT.glob("**/.ipynb_checkpoints/*.ipynb")) or ".ipynb_checkpoints" in (ROOT / ".gitignore").read_text()
