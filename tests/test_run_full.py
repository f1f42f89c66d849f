"""tools/run_full.py: notebooks execute in the full profile, and a failing cell fails the run but keeps the copy."""

import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def write_notebook(path: Path, code: str) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def run_full(*args: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "tools" / "run_full.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def test_notebook_runs_in_the_full_profile_and_its_copy_is_kept(tmp_path):
    nb = write_notebook(tmp_path / "probe.ipynb", "import vaebook\nprint(vaebook.profile())")
    result = run_full(nb, "--out", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert "probe.ipynb: ran in" in result.stdout
    executed = nbformat.read(tmp_path / "out" / "probe.ipynb", as_version=4)
    assert executed.cells[0].outputs[0]["text"].strip() == "full"
    assert nbformat.read(nb, as_version=4).cells[0].outputs == []    # the notebook itself stays clean


def test_a_failing_cell_fails_the_run(tmp_path):
    nb = write_notebook(tmp_path / "broken.ipynb", "raise ValueError('wrong formula')")
    result = run_full(nb, "--out", tmp_path / "out")
    assert result.returncode == 1
    assert "broken.ipynb: FAILED" in result.stdout and "wrong formula" in result.stderr
    assert (tmp_path / "out" / "broken.ipynb").exists()


def test_a_rehearsal_runs_in_the_profile_it_names(tmp_path):
    nb = write_notebook(tmp_path / "probe.ipynb", "import vaebook\nprint(vaebook.profile())")
    result = run_full(nb, "--out", tmp_path / "out", "--profile", "smoke")
    assert result.returncode == 0, result.stderr
    executed = nbformat.read(tmp_path / "out" / "probe.ipynb", as_version=4)
    assert executed.cells[0].outputs[0]["text"].strip() == "smoke"


def test_a_record_written_is_reported_and_copied_beside_the_executed_notebook(tmp_path):
    from vaebook.records import RECORDS_DIR

    name = "probe_run_full_test"
    nb = write_notebook(tmp_path / "probe.ipynb",   # a record, and a PNG of samples beside it (chapter 17's)
                        "from PIL import Image\nfrom vaebook.records import RECORDS_DIR, save_record\n"
                        f"save_record({name!r}, {{'x': 1.0}}, hardware='test', seconds=1)\n"
                        f"Image.new('L', (4, 4)).save(RECORDS_DIR / '{name}_samples.png')")
    try:
        result = run_full(nb, "--out", tmp_path / "out")
        assert result.returncode == 0, result.stderr
        assert f"record written: {RECORDS_DIR / (name + '.json')}" in result.stdout
        assert (tmp_path / "out" / f"{name}.json").read_text() == (RECORDS_DIR / f"{name}.json").read_text()
        assert (tmp_path / "out" / f"{name}_samples.png").read_bytes() == (RECORDS_DIR / f"{name}_samples.png").read_bytes()
    finally:
        (RECORDS_DIR / f"{name}.json").unlink(missing_ok=True)
        (RECORDS_DIR / f"{name}_samples.png").unlink(missing_ok=True)
