"""Command line: train and evaluate the book's models without a notebook.

    python -m vaebook train --model mlp --dataset mnist --epochs 10 --json runs/mlp.json
    python -m vaebook evaluate --checkpoint runs/mlp.pt --iw-samples 1000 --json runs/mlp-eval.json
    python -m vaebook grade --manifest _build/student/manifest.json --submissions DIR --out OUT
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import sys
import time
from functools import partial
from pathlib import Path

import torch

from vaebook import __version__
from vaebook.checkpoint import CheckpointError, load_model
from vaebook.data import DATASETS, DataNotFoundError, TensorLoader, load_images
from vaebook.evaluate import evaluate, evaluate_iw
from vaebook.losses import model_loss
from vaebook.models import MODELS, build_model
from vaebook.settings import get_device, seed_everything
from vaebook.train import NonFiniteLossError, Trainer


def _choice(known) -> callable:
    """An argparse type that rejects unknown names with a message listing the known ones."""
    def check(value: str) -> str:
        if value not in known:
            raise argparse.ArgumentTypeError(f"unknown name {value!r}; known: {', '.join(sorted(known))}")
        return value
    return check


def _count(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer of at least 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    """An argparse type: an integer of at least 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer of at least 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {value}")
    return value


def _positive_float(text: str) -> float:
    """An argparse type: a finite number above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be finite and above 0, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    """An argparse type: a finite number of at least 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be finite and at least 0, got {text}")
    return value


def _key_value(text: str) -> tuple[str, object]:
    """Parse KEY=VALUE; VALUE is read as JSON when it can be (numbers, true/false, lists), else kept as text."""
    key, sep, value = text.partition("=")
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE with KEY a Python name, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


# what --latent-dim and --likelihood stand for when not given, for the models that take them
MODEL_DEFAULTS = {"latent_dim": 20, "likelihood": "bernoulli"}


def model_config(args: argparse.Namespace) -> dict:
    """The model's constructor arguments from the command line: the --option pairs, and --latent-dim
    and --likelihood for a model that has such a parameter (as given, else ``MODEL_DEFAULTS``).
    Either one given to a model without that parameter is a ValueError naming both."""
    parameters = inspect.signature(MODELS[args.model]).parameters
    config = dict(args.option)
    for name, default in MODEL_DEFAULTS.items():
        value, flag = getattr(args, name), "--" + name.replace("_", "-")
        if name not in parameters:
            if value is not None:
                raise ValueError(f"{flag} does not apply to model {args.model!r} (it has no {name})")
        elif value is not None:
            if name in config:
                raise ValueError(f"{flag} and --option {name}=... are both given; give one")
            config[name] = value
        else:
            config.setdefault(name, default)
    return config


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m vaebook", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"vaebook {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{train,evaluate,grade}")

    train = commands.add_parser("train", help="train a model and write a checkpoint and a JSON history",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    train.add_argument("--model", type=_choice(MODELS), default="mlp", help=f"model name: {', '.join(sorted(MODELS))}")
    train.add_argument("--dataset", type=_choice(DATASETS), default="mnist", help=f"dataset: {', '.join(DATASETS)}")
    train.add_argument("--epochs", type=_count, default=10, help="training epochs (in total, when resuming)")
    train.add_argument("--batch-size", type=_count, default=128, help="examples per step")
    train.add_argument("--lr", type=_positive_float, default=1e-3, help="Adam learning rate")
    train.add_argument("--latent-dim", type=_count, default=None,
                       help=f"size of z, for a model that has one (if not given: {MODEL_DEFAULTS['latent_dim']})")
    train.add_argument("--likelihood", type=_choice(["bernoulli", "gaussian", "gaussian-learned"]), default=None,
                       help=f"decoder likelihood p(x|z), for a model that has one "
                            f"(if not given: {MODEL_DEFAULTS['likelihood']})")
    train.add_argument("--beta", type=_non_negative_float, default=None,
                       help="weight of the KL term in the training loss (for vqvae: of the commitment term; "
                            "default: the model's own)")
    train.add_argument("--binarize", type=_choice(["none", "static", "dynamic"]), default="none",
                       help="grey levels, one fixed binary sample, or a fresh sample every batch")
    train.add_argument("--val-size", type=_non_negative_int, default=0,
                       help="training images held out for validation (not trained on)")
    train.add_argument("--subset", type=_count, default=None, help="use only the first N training images")
    train.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", type=_key_value,
                       help="extra model argument, e.g. --option hidden=200 or --option given_quadrants=2 (repeatable)")
    train.add_argument("--seed", type=int, default=1, help="random seed")
    train.add_argument("--checkpoint", type=Path, default=None, help="where to save (default: next to --json, .pt)")
    train.add_argument("--resume", type=Path, default=None, help="continue from this checkpoint")
    train.add_argument("--json", type=Path, default=None, help="write the per-epoch history here")

    ev = commands.add_parser("evaluate", help="evaluate a checkpoint on the test set",
                             formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ev.add_argument("--checkpoint", type=Path, required=True, help="a checkpoint written by 'train'")
    ev.add_argument("--iw-samples", type=_non_negative_int, default=0,
                    help="K for the importance-weighted log p(x) (0: skip)")
    ev.add_argument("--batch-size", type=_count, default=500, help="test examples per batch")
    ev.add_argument("--subset", type=_count, default=None, help="evaluate on the first N test images only")
    ev.add_argument("--seed", type=int, default=0, help="random seed for the Monte Carlo estimates")
    ev.add_argument("--json", type=Path, default=None, help="write the results here")

    gr = commands.add_parser("grade", help="grade students' notebooks against a student edition's manifest",
                             formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    gr.add_argument("--manifest", type=Path, required=True, help="manifest.json written by make student")
    gr.add_argument("--submissions", type=Path, required=True, help="folder of submitted .ipynb files")
    gr.add_argument("--out", type=Path, required=True, help="folder for grades.csv, feedback/ and results.json")
    gr.add_argument("--seed", type=int, default=None,
                    help="grading seed (default: a fresh random one, printed; the book's checks use 0)")
    gr.add_argument("--chapters", type=lambda text: text.split(","), default=None, metavar="NN_name,...",
                    help="grade only these chapters' exercises (default: every chapter in the manifest)")
    gr.add_argument("--timeout", type=_positive_float, default=60.0, help="seconds allowed per exercise")
    return parser


def _write_json(path: Path | None, payload: dict) -> None:
    text = json.dumps(payload, indent=2)
    if path is None:
        print(text)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")
    print(f"wrote {path}")


def run_train(args: argparse.Namespace) -> None:
    config = model_config(args)
    if args.beta is not None and "beta" not in inspect.signature(MODELS[args.model].loss).parameters:
        raise ValueError(f"--beta does not apply to model {args.model!r} (its loss has no beta)")
    device = get_device()
    seed_everything(args.seed)
    binarize_store = "static" if args.binarize == "static" else "none"
    train_set = load_images(args.dataset, "train", val_size=args.val_size, binarize=binarize_store,
                            subset=args.subset, seed=args.seed, device=device)
    test_set = load_images(args.dataset, "test", binarize=binarize_store, seed=args.seed, device=device)
    train_loader = TensorLoader(train_set, args.batch_size, shuffle=True, binarize=args.binarize, seed=args.seed)
    test_loader = TensorLoader(test_set, 500, shuffle=False, binarize=args.binarize, seed=args.seed + 1)

    try:
        model = build_model(args.model, **config)
    except TypeError as error:
        raise ValueError(f"model {args.model!r} does not take these options: {error}") from None
    model = model.to(device)
    # a beta only when asked for: models without a KL term (PixelCNN, the adversarial autoencoders) take none
    loss_fn = model_loss if args.beta is None else partial(model_loss, beta=args.beta)
    trainer = Trainer(model, loss_fn=loss_fn, lr=args.lr)
    trainer.meta = {"dataset": args.dataset, "binarize": args.binarize, "seed": args.seed}
    if args.resume:
        trainer.resume(args.resume, train_loader)
    checkpoint = args.checkpoint or (args.json.with_suffix(".pt") if args.json else Path("runs") / f"{args.model}.pt")
    print(f"training {args.model} on {args.dataset} ({len(train_set)} images) on {device}, "
          f"{args.epochs} epochs; checkpoint {checkpoint}")
    history = trainer.fit(train_loader, args.epochs, test_loader, checkpoint=checkpoint)
    _write_json(args.json, {
        "vaebook_version": __version__, "command": "train", "config": _jsonable(vars(args)),
        "device": str(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
        "model_config": config, "train_images": len(train_set), "checkpoint": str(checkpoint),
        "epochs": [{key: values[i] for key, values in history.items()} for i in range(len(history["epoch"]))],
    })


def run_evaluate(args: argparse.Namespace) -> None:
    device = get_device()
    seed_everything(args.seed)
    model, state = load_model(args.checkpoint, map_location=device)
    if args.iw_samples and not hasattr(model, "iw_log_likelihood"):
        exact = "; its test_nll is already the exact -log p(x)" if hasattr(model, "log_prob") else ""
        raise ValueError(f"model {state['model_name']!r} has no importance-weighted estimate of log p(x) "
                         f"(--iw-samples {args.iw_samples}){exact}; evaluate it without --iw-samples")
    meta = state["extra"]
    binarize = meta.get("binarize", "none")
    test_set = load_images(meta.get("dataset", "mnist"), "test", subset=args.subset, device=device,
                           binarize="static" if binarize == "static" else "none", seed=meta.get("seed", 0))
    loader = TensorLoader(test_set, args.batch_size, shuffle=False,
                          binarize="dynamic" if binarize == "dynamic" else "none", seed=args.seed)
    start = time.perf_counter()
    results = {"checkpoint": str(args.checkpoint), "model": state["model_name"], "epoch": state["epoch"],
               "test_images": len(test_set), **{f"test_{k}": v for k, v in evaluate(model, loader).items()}}
    if args.iw_samples:
        results["iw_samples"] = args.iw_samples
        results["test_iw_nll"] = evaluate_iw(model, loader, args.iw_samples)
    results["seconds"] = time.perf_counter() - start
    _write_json(args.json, results)


def run_grade(args: argparse.Namespace) -> None:
    from vaebook.grade import grade

    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(3), "big")
    print(f"grading with seed {seed}")
    problems = grade(args.manifest, args.submissions, args.out, seed, args.timeout, args.chapters)
    for line in problems:
        print(line, file=sys.stderr)
    print(f"wrote {args.out / 'grades.csv'} and {args.out / 'feedback'}/"
          + (f"; {len(problems)} file(s) not graded" if problems else ""))


def _jsonable(config: dict) -> dict:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in config.items()}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        {"train": run_train, "evaluate": run_evaluate, "grade": run_grade}[args.command](args)
    except (DataNotFoundError, CheckpointError, NonFiniteLossError, ValueError) as error:
        print(f"vaebook {args.command}: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
