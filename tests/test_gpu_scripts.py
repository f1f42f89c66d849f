"""tools/gpu_bundle.sh and tools/gpu_full.sh: what a GPU machine without network runs, rehearsed here."""

import os
import subprocess
import sys
from pathlib import Path

import nbformat
from test_run_full import write_notebook

from vaebook.checkpoint import load_checkpoint

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
    probe = write_notebook(tmp_path / "probe.ipynb", "import os, vaebook\n"
                           "print(vaebook.profile(), sorted(os.listdir(os.environ['VAEBOOK_CHECKPOINTS'])))")
    result = run_script("gpu_full.sh", tmp_path / "out", probe,
                        env={"GPU_DIR": str(bundle), "PROFILE": "smoke"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no wheels in" in result.stdout and "probe.ipynb: ran in" in result.stdout
    executed = nbformat.read(tmp_path / "out" / "probe.ipynb", as_version=4)
    assert executed.cells[0].outputs[0]["text"].strip() == "smoke ['earlier-full.pt']"
    assert (tmp_path / "out" / "checkpoints" / "earlier-full.pt").is_file()


def test_a_run_cut_off_by_time_limit_keeps_its_unfinished_model_and_its_record(tmp_path):
    """TIME_LIMIT stops the notebook; the model saved after its last whole epoch comes back and is kept,
    and so does a record the notebook wrote before it was cut off (chapter 9 writes its table early)."""
    from vaebook.records import RECORDS_DIR

    record = RECORDS_DIR / "probe_gpu_full_test.json"
    grid = RECORDS_DIR / "probe_gpu_full_test_samples.png"   # a record's samples, as chapter 17 keeps them
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    slow = write_notebook(tmp_path / "slow.ipynb",
        "import time, torch\n"
        "from vaebook.data import TensorLoader\n"
        "from vaebook.models import build_model\n"
        "from vaebook.records import save_record\n"
        "from vaebook.train import train_or_load\n"
        "save_record('probe_gpu_full_test', {'x': 1.0}, hardware='test', seconds=1)\n"
        "from PIL import Image\n"
        "from vaebook.records import RECORDS_DIR\n"
        "Image.new('L', (4, 4)).save(RECORDS_DIR / 'probe_gpu_full_test_samples.png')\n"
        "class SlowLoader(TensorLoader):      # half a second per epoch, so that the limit lands mid-run\n"
        "    def __iter__(self):\n"
        "        time.sleep(0.5)\n"
        "        yield from super().__iter__()\n"
        "x = torch.ones(64, 1, 28, 28)\n"
        "train_or_load(build_model('mlp', latent_dim=2, hidden=8), SlowLoader((x, torch.zeros(64, dtype=torch.long)), 64),\n"
        "              1000, 'slow')")
    try:
        result = run_script("gpu_full.sh", tmp_path / "out", slow,
                            env={"GPU_DIR": str(bundle), "PROFILE": "smoke", "TIME_LIMIT": "12"})
        assert (tmp_path / "out" / record.name).read_text() == record.read_text()
        assert (tmp_path / "out" / grid.name).read_bytes() == grid.read_bytes()
    finally:
        record.unlink(missing_ok=True)
        grid.unlink(missing_ok=True)
    assert result.returncode == 124, result.stdout + result.stderr
    assert "gpu_full: stopped after TIME_LIMIT=12 s" in result.stderr
    for folder in (tmp_path / "out" / "checkpoints", bundle / "checkpoints"):
        assert [p.name for p in folder.iterdir()] == ["slow-smoke.unfinished.pt"]
    state = load_checkpoint(bundle / "checkpoints" / "slow-smoke.unfinished.pt")
    assert 1 <= state["epoch"] < 1000 and state["optimizer_state"] is not None and state["rng_state"] is not None
