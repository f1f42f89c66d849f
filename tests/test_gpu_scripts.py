"""tools/gpu_bundle.sh and tools/gpu_full.sh: what a GPU machine without network runs, rehearsed here."""

import os
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def run_script(name: str, *args, env: dict | None = None) -> subprocess.CompletedProcess:
    # the scripts call python3: make it this environment's Python, as on the GPU machine
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(["bash", str(ROOT / "tools" / name), *map(str, args)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PATH": path, **(env or {})})


def test_scripts_parse_and_every_wheel_is_pinned():
    for name in ("gpu_bundle.sh", "gpu_full.sh"):
        assert subprocess.run(["bash", "-n", str(ROOT / "tools" / name)]).returncode == 0
    lines = [line for line in (ROOT / "tools" / "gpu_wheels.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines and all("==" in line for line in lines)
    assert {"nbclient", "ipykernel"} <= {line.split("==")[0] for line in lines}


def test_bundle_without_data_says_which_folder_is_missing(tmp_path):
    result = run_script("gpu_bundle.sh", tmp_path / "nowhere")
    assert result.returncode == 1
    assert f"no {tmp_path / 'nowhere'}/MNIST/raw" in result.stderr


def test_full_run_needs_an_output_folder():
    result = run_script("gpu_full.sh")
    assert result.returncode != 0 and "usage: bash tools/gpu_full.sh OUT_DIR" in result.stderr


def test_rehearsal_runs_the_notebook_and_returns_models_and_copy(tmp_path):
    bundle = tmp_path / "bundle"
    (bundle / "checkpoints").mkdir(parents=True)
    (bundle / "checkpoints" / "earlier-full.pt").write_bytes(b"a model an interrupted run sent back")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import os, vaebook\n"
        "print(vaebook.profile(), sorted(os.listdir(os.environ['VAEBOOK_CHECKPOINTS'])))")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "probe.ipynb")
    result = run_script("gpu_full.sh", tmp_path / "out", tmp_path / "probe.ipynb",
                        env={"GPU_DIR": str(bundle), "PROFILE": "smoke"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no wheels in" in result.stdout and "probe.ipynb: ran in" in result.stdout
    executed = nbformat.read(tmp_path / "out" / "probe.ipynb", as_version=4)
    assert executed.cells[0].outputs[0]["text"].strip() == "smoke ['earlier-full.pt']"
    assert (tmp_path / "out" / "checkpoints" / "earlier-full.pt").is_file()
