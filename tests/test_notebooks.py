"""Every notebook is in the book, starts with the book's macros and the setup and parameters cells, pins
the package's version, and is committed clean: no outputs outside NBVAL_CHECK_OUTPUT cells, no absolute paths."""

import json
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
    """After the macro cell: the title, then the setup cell (Colab install, version check), then the parameters."""
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert nb.cells[1].cell_type == "markdown" and nb.cells[1].source.startswith("# ")
    setup, parameters = code[0].source, code[1]
    assert 'if "google.colab" in sys.modules:' in setup
    assert f'vaebook.check_version("{vaebook.__version__}")' in setup
    assert f"@v{vaebook.__version__}" in setup
    assert "parameters" in parameters.metadata.get("tags", [])
    assert "by_profile(" in parameters.source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_defines_the_book_macros_first(path, load_tool):
    """Jupyter and Colab know only what the notebook defines: its first cell is _config.yml's macros, hidden in the book."""
    tool = load_tool("nbclean")
    nb = nbformat.read(path, as_version=4)
    first = nb.cells[0]
    assert tool.is_macro_cell(first) and "remove-cell" in first.metadata.get("tags", [])
    macros = tool.book_macros()
    assert not tool.put_macro_cell(nb, tool.macro_source(macros)), \
        "stale macro cell: run python tools/nbclean.py notebooks/*.ipynb"
    for name, body in macros.items():
        assert f"\\newcommand{{\\{name}}}{{{body}}}" in first.source


def test_macro_cell_is_inserted_once_and_updated_in_place(load_tool):
    tool = load_tool("nbclean")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Title\n\n$\\x$")])
    assert tool.put_macro_cell(nb, tool.macro_source({"x": "\\mathbf{x}"}))
    assert not tool.put_macro_cell(nb, tool.macro_source({"x": "\\mathbf{x}"}))
    assert tool.put_macro_cell(nb, tool.macro_source({"x": "\\boldsymbol{x}"}))
    assert len(nb.cells) == 2 and nb.cells[1].source.startswith("# Title")
    assert nb.cells[0].source.endswith("$\\newcommand{\\x}{\\boldsymbol{x}}$")
    nb.cells[0].source = "<!-- an older header -->\n$\\newcommand{\\x}{\\mathbf{x}}$"    # found by its id
    assert tool.put_macro_cell(nb, tool.macro_source({"x": "\\mathbf{x}"})) and len(nb.cells) == 2
    nbformat.validate(nb)
    assert not tool.clean(nb, macros=tool.macro_source({"x": "\\mathbf{x}"})), "a clean notebook stays as it is"


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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_cell_has_a_unique_id(path):
    """nbformat 4.5 requires cell ids; a cell added without one only warns today and will be an error later."""
    raw = json.loads(path.read_text())
    if (raw["nbformat"], raw["nbformat_minor"]) >= (4, 5):
        ids = [cell.get("id") for cell in raw["cells"]]
        assert None not in ids, f"cells without an id: {[i for i, v in enumerate(ids) if v is None]}"
        assert len(set(ids)) == len(ids), "duplicate cell ids"
