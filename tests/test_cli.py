"""The command line, as a reader runs it: train, evaluate, help, unknown names, clear errors."""

import json
import math
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


# ---------------------------------------------------------------- the VQ-VAE and the PixelCNNs

@pytest.fixture
def bundled_data(tmp_path, monkeypatch):
    """The MNIST subset bundled for the smoke profile (a 1,000-image test set), on one thread."""
    monkeypatch.setenv("VAEBOOK_PROFILE", "smoke")
    monkeypatch.delenv("VAEBOOK_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # models this small train faster on one thread than on a shared pair
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("model, options, keys", [
    ("vqvae", ["--binarize", "dynamic", "--option", "width=8", "--option", "num_codes=16"],
     {"test_loss", "test_distortion", "test_codebook", "test_commitment", "test_bound_uniform", "test_perplexity"}),
    ("pixelcnn", ["--binarize", "static", "--option", "channels=8", "--option", "layers=2"], {"test_loss", "test_nll"}),
    ("gated-pixelcnn", ["--binarize", "static", "--option", "channels=8", "--option", "layers=2"],
     {"test_loss", "test_nll"}),
    ("gated-pixelcnn", ["--binarize", "static", "--option", "channels=8", "--option", "layers=2",
                        "--option", "num_labels=10"], {"test_loss", "test_nll"}),
], ids=["vqvae", "pixelcnn", "gated-pixelcnn", "conditional-gated-pixelcnn"])
def test_new_models_train_and_evaluate_from_the_cli(tmp_path, capsys, bundled_data, model, options, keys):
    out = tmp_path / "run.json"
    assert main(["train", "--model", model, "--epochs", "1", "--subset", "128", *options, "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["epochs"][0]["train_loss"] > 0 and record["config"]["latent_dim"] is None
    assert "latent_dim" not in record["model_config"]
    checkpoint = tmp_path / "run.pt"
    result = tmp_path / "eval.json"
    assert main(["evaluate", "--checkpoint", str(checkpoint), "--subset", "100", "--json", str(result)]) == 0
    scores = json.loads(result.read_text())
    assert scores["model"] == model and scores["test_images"] == 100 and keys <= set(scores)
    if "test_nll" in scores:
        assert scores["test_nll"] == pytest.approx(scores["test_loss"]) and scores["test_nll"] > 0
    else:
        assert scores["test_bound_uniform"] == pytest.approx(scores["test_distortion"] + 49 * math.log(16), rel=1e-6)
    capsys.readouterr()
    # no importance-weighted estimate for these models: one line, before any data is read
    assert main(["evaluate", "--checkpoint", str(checkpoint), "--iw-samples", "5"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "no importance-weighted estimate" in err and repr(model) in err
    if model != "vqvae":
        assert "test_nll is already the exact" in err


def test_the_vqvae_commitment_weight_is_its_own_unless_beta_is_given(tmp_path, bundled_data):
    for extra, expected in [([], 0.25), (["--beta", "0.7"], 0.7)]:
        out = tmp_path / "vq.json"
        assert main(["train", "--model", "vqvae", "--epochs", "1", "--subset", "64", "--binarize", "static",
                     "--option", "width=4", *extra, "--json", str(out)]) == 0
        epoch = json.loads(out.read_text())["epochs"][0]
        assert epoch["test_loss"] == pytest.approx(epoch["test_distortion"] + epoch["test_codebook"]
                                                   + expected * epoch["test_commitment"], rel=1e-5)


@pytest.mark.parametrize("given", [["--latent-dim", "8"], ["--likelihood", "gaussian"], ["--beta", "0.5"]])
def test_an_option_the_model_does_not_take_is_a_one_line_error(capsys, given):
    assert main(["train", "--model", "pixelcnn", "--epochs", "1", "--subset", "64", *given]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("vaebook train: error:")
    assert given[0] in err and "'pixelcnn'" in err


def test_latent_dim_and_likelihood_keep_their_defaults_where_they_apply():
    from vaebook.cli import build_parser, model_config

    parse = build_parser().parse_args
    assert model_config(parse(["train", "--model", "mlp"])) == {"latent_dim": 20, "likelihood": "bernoulli"}
    assert model_config(parse(["train", "--model", "conv", "--latent-dim", "4", "--likelihood", "gaussian"])) == {
        "latent_dim": 4, "likelihood": "gaussian"}
    assert model_config(parse(["train", "--model", "vqvae"])) == {"likelihood": "bernoulli"}
    assert model_config(parse(["train", "--model", "pixelcnn", "--option", "channels=8"])) == {"channels": 8}
    assert model_config(parse(["train", "--model", "mlp", "--option", "latent_dim=3"]))["latent_dim"] == 3
    with pytest.raises(ValueError, match="both given"):
        model_config(parse(["train", "--model", "mlp", "--option", "latent_dim=3", "--latent-dim", "4"]))


@pytest.mark.parametrize("command, option, value", [
    ("train", "--epochs", "0"),
    ("train", "--epochs", "two"),
    ("train", "--batch-size", "0"),
    ("train", "--latent-dim", "-3"),
    ("train", "--subset", "0"),
    ("train", "--val-size", "-1"),
    ("train", "--lr", "0"),
    ("train", "--lr", "-0.001"),
    ("train", "--lr", "nan"),
    ("train", "--lr", "inf"),
    ("train", "--beta", "-1"),
    ("train", "--beta", "nan"),
    ("train", "--beta", "inf"),
    ("evaluate", "--batch-size", "0"),
    ("evaluate", "--subset", "0"),
    ("evaluate", "--iw-samples", "-1"),
])
def test_bad_numbers_are_refused_before_any_work(tmp_path, capsys, command, option, value):
    args = [command, option, value] + (["--checkpoint", str(tmp_path / "none.pt")] if command == "evaluate" else [])
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert "Traceback" not in captured.err and captured.out == ""
    assert lines[-1].startswith(f"python -m vaebook {command}: error: argument {option}") and value in lines[-1]
    assert all(line.startswith("usage") or line.startswith(" ") for line in lines[:-1])
