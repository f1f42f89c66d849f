"""The command line, as a reader runs it: train, evaluate, help, unknown names, clear errors."""

import json
import subprocess
import sys

import pytest
import torch

from vaebook.cli import main
from vaebook.models import MODELS


def test_train_then_evaluate_writes_json(tmp_path, capsys):
    out = tmp_path / "mlp.json"
    assert main(["train", "--model", "mlp", "--epochs", "2", "--subset", "512", "--latent-dim", "4",
                 "--option", "hidden=64", "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    assert [e["epoch"] for e in record["epochs"]] == [1, 2]
    first = record["epochs"][0]
    assert {"train_neg_elbo", "test_neg_elbo", "seconds", "test_rate", "test_distortion"} <= set(first)
    assert first["test_neg_elbo"] == pytest.approx(first["test_rate"] + first["test_distortion"], rel=1e-5)
    checkpoint = tmp_path / "mlp.pt"
    assert torch.load(checkpoint, weights_only=True)["model_config"]["hidden"] == 64

    result = tmp_path / "eval.json"
    assert main(["evaluate", "--checkpoint", str(checkpoint), "--iw-samples", "20", "--subset", "200",
                 "--json", str(result)]) == 0
    scores = json.loads(result.read_text())
    assert scores["iw_samples"] == 20 and scores["test_images"] == 200
    assert scores["test_iw_nll"] < scores["test_neg_elbo"] + 1.0  # the IW bound is tighter, up to MC noise


def test_resume_from_checkpoint(tmp_path):
    args = ["train", "--epochs", "1", "--subset", "256", "--option", "hidden=32", "--json", str(tmp_path / "r.json")]
    assert main(args) == 0
    assert main(args[:2] + ["2"] + args[3:] + ["--resume", str(tmp_path / "r.pt")]) == 0
    assert [e["epoch"] for e in json.loads((tmp_path / "r.json").read_text())["epochs"]] == [1, 2]


def test_unknown_names_list_the_known_ones(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--model", "transformer"])
    err = capsys.readouterr().err
    assert "unknown name 'transformer'" in err and all(name in err for name in MODELS)
    with pytest.raises(SystemExit):
        main(["train", "--dataset", "imagenet"])
    assert "known: fashion-mnist, mnist" in capsys.readouterr().err


def test_bad_option_and_bad_checkpoint_are_one_line_errors(tmp_path, capsys):
    assert main(["train", "--epochs", "1", "--subset", "64", "--option", "depth=3"]) == 1
    assert "does not take these options" in capsys.readouterr().err
    bad = tmp_path / "bad.pt"
    bad.write_text("hello")
    assert main(["evaluate", "--checkpoint", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("vaebook evaluate: error:") and "Traceback" not in err


def test_help_documents_every_option():
    text = subprocess.run([sys.executable, "-m", "vaebook", "train", "--help"], capture_output=True, text=True,
                          check=True).stdout
    for option in ["--model", "--dataset", "--epochs", "--json", "--resume", "--binarize", "--beta", "--option"]:
        assert option in text
    text = subprocess.run([sys.executable, "-m", "vaebook", "evaluate", "--help"], capture_output=True, text=True,
                          check=True).stdout
    assert "--iw-samples" in text and "--checkpoint" in text


@pytest.mark.parametrize("model", ["cvae", "quadrant-cvae"])
def test_conditional_models_train_and_evaluate_from_the_cli(tmp_path, model):
    out = tmp_path / f"{model}.json"
    assert main(["train", "--model", model, "--epochs", "1", "--subset", "256", "--option", "hidden=64",
                 "--json", str(out)]) == 0
    result = tmp_path / "eval.json"
    assert main(["evaluate", "--checkpoint", str(tmp_path / f"{model}.pt"), "--iw-samples", "5", "--subset", "100",
                 "--json", str(result)]) == 0
    scores = json.loads(result.read_text())
    assert scores["model"] == model and scores["test_iw_nll"] > 0
