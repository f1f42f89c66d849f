"""Chapter 17's comparison: six families of generative model on the same 8-bit MNIST, one table.

Each model is named by a key (``vae``, ``vqvae``, ``pixelcnn``, ``dcgan``, ``ddpm``, ``aae``, and
the ``classifier`` that scores samples). :func:`specs` gives its network, epochs and learning rate in
the current profile; :func:`train` trains it with :func:`vaebook.train.train_or_load` under the name
``landscape-<key>``, so that ``make landscape`` (``tools/train_landscape.py``) can train the book
profile's models once and the chapter load them; without those checkpoints the chapter trains the
``reduced`` versions that fit its budget, and says so. Samples of the slow samplers are saved beside
the checkpoints with the seconds they took. :func:`likelihood_bits` scores test images in bits per
dimension, :func:`claims` writes the course notes' four claims as sentences from the table's numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image
from torch import nn

from vaebook.data import TensorLoader
from vaebook.discretized import bits_per_dim
from vaebook.distributions import kl_normal_std_normal
from vaebook.models import AAE, DCGAN, DDPM, VQVAE, ConvVAE, GatedPixelCNN, PixelCNN
from vaebook.models.base import check_sample_count
from vaebook.records import RECORDS_DIR, describe, duration, load_record, save_record
from vaebook.sample_quality import MNISTClassifier, sample_quality
from vaebook.settings import by_profile, checkpoint_dir, profile, seed_everything
from vaebook.timing import timed
from vaebook.train import Training, train_or_load

KEYS = ("vae", "vqvae", "pixelcnn", "dcgan", "ddpm", "aae")
LABELS = {"vae": "VAE (conv, discretized logistic)", "vqvae": "VQ-VAE + Gated PixelCNN prior",
          "pixelcnn": "PixelCNN (256-way)", "dcgan": "DCGAN", "ddpm": "DDPM", "aae": "AAE",
          "classifier": "MNIST classifier"}
NAMES = {"vae": "VAE", "vqvae": "VQ-VAE + prior", "pixelcnn": "PixelCNN", "dcgan": "DCGAN", "ddpm": "DDPM",
         "aae": "AAE"}   # short, for figure titles
SLOW_SAMPLERS = ("pixelcnn", "ddpm")   # a network pass per pixel, or per step: sampled by make landscape
SAMPLES_BY_PROFILE = dict(smoke=200, book=1_000, full=10_000)   # samples scored per model, here and there
SEEDED, SEEDS = ("vae", "dcgan"), (1, 2)   # trained again from these seeds, to measure their spread
RECORDS = {"book": "generative_landscape_book", "full": "generative_landscape"}   # profile → record, shortest first
GRID = 16   # samples of each model shown, and kept with a record


@dataclass(frozen=True)
class Spec:
    """How one model is built and trained: ``build()`` a fresh network, ``epochs`` over ``images``."""

    build: Callable[[], nn.Module]
    epochs: int
    images: int
    lr: float | dict[str, float] = 1e-3


def specs(reduced: bool = False) -> dict[str, Spec]:
    """Every model's network and schedule in the current profile. ``reduced``: what the chapter trains
    itself in the book profile when ``make landscape`` has not run: the same networks for one epoch,
    each on as many images as take it about twenty seconds on one CPU core (a slow network sees fewer)."""
    images = by_profile(smoke=1_000, book=60_000, full=60_000)

    def schedule(smoke: int, book: int, full: int, reduced_images: int) -> tuple[int, int]:
        """(epochs, images) in this profile."""
        if reduced:
            return 1, by_profile(smoke=min(reduced_images, 1_000), book=reduced_images, full=images)
        return by_profile(smoke, book, full), images

    gan_lr = {"discriminator": 2e-4, "generator": 2e-4}
    aae_lr = {"reconstruction": 1e-3, "discriminator": 3e-4, "generator": 3e-4}
    # the classifier scores every model: even in the smoke profile it sees enough images to tell digits apart
    classifier = (1, by_profile(smoke=5_000, book=20_000, full=60_000)) if reduced else \
        (by_profile(1, 2, 5), by_profile(smoke=5_000, book=60_000, full=60_000))
    return {
        "classifier": Spec(lambda: MNISTClassifier(), *classifier),
        "vae": Spec(lambda: ConvVAE(latent_dim=32, width=32, likelihood="discretized-logistic"),
                    *schedule(1, 10, 50, 30_000)),
        "vqvae": Spec(lambda: VQVAE(num_codes=64, code_dim=16, width=32, ema=True,
                                    likelihood="discretized-logistic"), *schedule(1, 10, 40, 30_000)),
        "vqvae-prior": Spec(lambda: GatedPixelCNN(num_values=64, channels=32, layers=5, image_shape=(7, 7)),
                            *schedule(1, 10, 40, 30_000)),
        "pixelcnn": Spec(lambda: PixelCNN(num_values=256, channels=by_profile(16, 32, 64),
                                          layers=by_profile(2, 5, 7)), *schedule(1, 1, 30, 2_000)),
        "dcgan": Spec(lambda: DCGAN(latent_dim=64, width=by_profile(16, 64, 64)), *schedule(1, 5, 50, 20_000),
                      gan_lr),
        # the paper's 2e-4 over the full profile's 100 epochs; 1e-3 reaches a lower loss in the book's 6
        "ddpm": Spec(lambda: DDPM(steps=by_profile(50, 200, 1000), channels=by_profile(8, 32, 64)),
                     *schedule(1, 6, 100, 4_000), by_profile(smoke=1e-3, book=1e-3, full=2e-4)),
        "aae": Spec(lambda: AAE(latent_dim=8, hidden=512, disc_hidden=256), *schedule(1, 10, 50, 30_000), aae_lr),
    }


def checkpoint_name(key: str, reduced: bool, seed: int | None = None) -> str:
    return f"landscape-{key}" + ("-reduced" if reduced else "") + ("" if seed is None else f"-seed{seed}")


def trained_by_make_landscape(key: str, seed: int | None = None) -> bool:
    """Whether ``make landscape`` has left this profile's trained ``key`` in ``VAEBOOK_CHECKPOINTS``."""
    folder = checkpoint_dir()
    return folder is not None and (folder / f"{checkpoint_name(key, False, seed)}-{profile()}.pt").exists()


def train(key: str, train_images: torch.Tensor, train_labels: torch.Tensor, device: torch.device,
          reduced: bool = False, images: torch.Tensor | None = None, seed: int | None = None
          ) -> tuple[nn.Module, Training]:
    """Train (or load) one model of the table on the first ``spec.images`` training images; the
    VQ-VAE's prior is trained on the codes of those images (``images``: the codes, given by the caller).
    ``seed``: a repeat of the table's run from that seed, kept under its own name (see :data:`SEEDS`)."""
    spec = specs(reduced)[key]
    if seed is not None:
        seed_everything(seed)
    x = train_images[:spec.images] if images is None else images[:spec.images]
    loader = TensorLoader((x.to(device), train_labels[:len(x)].to(device)), batch_size=128)
    return train_or_load(spec.build().to(device), loader, spec.epochs, checkpoint_name(key, reduced, seed),
                         lr=spec.lr, progress=False)


@dataclass
class Trained:
    """A model of the table with its training time and hardware, and whether it is the reduced run."""

    model: nn.Module
    training: Training
    reduced: bool
    spec: Spec

    def __str__(self) -> str:
        text = f"{duration(self.training.seconds)}, {self.training.hardware}"
        if self.reduced:
            plural = "s" * (self.spec.epochs != 1)
            text += f" (reduced: {self.spec.images:,} images × {self.spec.epochs} epoch{plural}, see make landscape)"
        return text


def obtain(key: str, train_images: torch.Tensor, train_labels: torch.Tensor, device: torch.device,
           reduce: bool, images: torch.Tensor | None = None, seed: int | None = None) -> Trained:
    """The model ``make landscape`` trained, where it did; otherwise trained here, the reduced
    version if ``reduce`` (the book profile on a laptop), else the profile's own."""
    reduced = reduce and not trained_by_make_landscape(key, seed)
    model, training = train(key, train_images, train_labels, device, reduced, images, seed)
    return Trained(model, training, reduced, specs(reduced)[key])


def seed_runs(key: str, train_images: torch.Tensor, train_labels: torch.Tensor, device: torch.device,
              reduce: bool) -> list[Trained]:
    """``key`` trained again from each of :data:`SEEDS`, everything else the same: the spread of these
    runs and the table's own is what "unstable" can mean for one budget."""
    return [obtain(key, train_images, train_labels, device, reduce, seed=seed) for seed in SEEDS]


def seed_scores(runs: dict[str, list[dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Per model, the lowest and highest Fréchet distance and effective number of classes over its runs."""
    return {key: {f"{stat}_{column}": fn(run[column] for run in scores)
                  for column in ("frechet", "classes") for stat, fn in (("min", min), ("max", max))}
            for key, scores in runs.items()}


@torch.no_grad()
def codes_of(vqvae: VQVAE, images: torch.Tensor, batch_size: int = 1_000) -> torch.Tensor:
    """The code grids (N, 7, 7) of 8-bit images, the training data of the VQ-VAE's prior (on the CPU)."""
    device = next(vqvae.parameters()).device
    return torch.cat([vqvae.codes(x.to(device)).cpu() for x in images.split(batch_size)])


def sampler(key: str, model: nn.Module, prior: nn.Module | None = None) -> Callable[[int], torch.Tensor]:
    """A function n → n images (n, 1, 28, 28) in [0, 1]: decoder means for the VAE, the VQ-VAE and the
    AAE, the 256 values of the PixelCNN and the DDPM, the generator's output for the DCGAN."""
    if key == "vqvae":
        return lambda n: model.decode_codes(prior.sample(n))
    if key == "pixelcnn":
        return lambda n: model.sample(n).unsqueeze(1).float() / 255
    return model.sample


def timed_samples(sample: Callable[[int], torch.Tensor], n: int, batch_size: int = 500
                  ) -> tuple[torch.Tensor, float]:
    """n samples drawn in batches, on the CPU, and the wall seconds per image (synchronised on a GPU)."""
    n = check_sample_count(n)
    images, seconds = timed(lambda: [sample(min(batch_size, n - i)).cpu() for i in range(0, n, batch_size)])
    return torch.cat(images).clamp(0, 1), seconds / n


def samples_path(key: str) -> Path | None:
    folder = checkpoint_dir()
    return None if folder is None else folder / f"{checkpoint_name(key, False)}-{profile()}-samples.pt"


def save_samples(key: str, images: torch.Tensor, seconds_per_image: float, where: str) -> Path:
    """Keep a slow sampler's samples (as 8-bit values) with their time per image and hardware."""
    path = samples_path(key)
    if path is None:
        raise ValueError("set VAEBOOK_CHECKPOINTS to a folder to keep samples")
    torch.save({"values": (images * 255).round().to(torch.uint8), "seconds_per_image": seconds_per_image,
                "hardware": where}, path)
    return path


def load_samples(key: str) -> tuple[torch.Tensor, float, str] | None:
    """The samples ``make landscape`` saved for ``key`` in this profile: images, seconds per image, hardware."""
    path = samples_path(key)
    if path is None or not path.exists():
        return None
    saved = torch.load(path, map_location="cpu", weights_only=True)
    return saved["values"].float() / 255, float(saved["seconds_per_image"]), str(saved["hardware"])


@torch.no_grad()
def likelihood_bits(key: str, model: nn.Module, images: torch.Tensor, prior: nn.Module | None = None,
                    batch_size: int = 250, steps: int = 10) -> tuple[float, float, str] | None:
    """Test bits per dimension (mean, standard error over images) and what the number is: ``exact``,
    or a ``bound``; None for a model without a likelihood. The DDPM's bound draws ``steps`` steps
    per image (an unbiased estimate of the sum over its T steps)."""
    if key in ("dcgan", "aae"):
        return None
    device = next(model.parameters()).device
    nats = []
    for x in images.split(batch_size):
        x = x.to(device)
        if key == "vae":
            out, mu, log_var, _ = model(x)         # −ELBO per image, one sample of z
            nats.append(-model.likelihood.log_prob(x, out) + kl_normal_std_normal(mu, log_var))
        elif key == "vqvae":
            nats.append(model.distortion(x) - prior.log_prob(model.codes(x)))
        elif key == "pixelcnn":
            nats.append(-model.log_prob(x))
        else:
            nats.append(model.nll_bound(x, samples=steps)["total"])
    nats = torch.cat(nats).double().cpu()
    dims = math.prod(images.shape[1:])
    kind = "exact" if key == "pixelcnn" else "bound"
    return float(bits_per_dim(nats.mean(), dims)), float(bits_per_dim(nats.std() / len(nats) ** 0.5, dims)), kind


def score(key: str, trained: Trained, samples: torch.Tensor, seconds_per_image: float, sampled_on: str,
          classifier: MNISTClassifier, real: torch.Tensor, train_images: torch.Tensor,
          test_images: torch.Tensor, steps: int, prior: Trained | None = None) -> dict:
    """One row of the table: bits/dim of ``test_images`` (with its kind), the sample measures of
    :func:`vaebook.sample_quality.sample_quality` when there are as many samples as ``real`` images
    (none from too few), the time per sample, network passes, parameters and what training it took."""
    extra = [] if prior is None else [prior.model]
    device = next(trained.model.parameters()).device
    bits = likelihood_bits(key, trained.model, test_images.to(device), *extra, steps=steps)
    quality = sample_quality(classifier, samples[:len(real)], real, train_images) \
        if len(samples) >= len(real) else {}
    return {**quality, "bits": bits and bits[0], "bits_se": bits and bits[1], "kind": bits and bits[2],
            "ms_per_image": 1_000 * seconds_per_image, "passes": network_passes(key, trained.model),
            "parameters": parameters(trained.model, *extra),
            "trained": str(trained) + ("" if prior is None else f"; prior {prior}"), "sampled_on": sampled_on}


def grid_path(name: str, directory: Path | str | None = None) -> Path:
    return Path(directory if directory is not None else RECORDS_DIR) / f"{name}_samples.png"


def save_run(rows: dict[str, dict], seeds: dict[str, dict[str, float]], accuracy: float,
             samples: dict[str, torch.Tensor], where: str, seconds: float,
             directory: Path | str | None = None) -> Path:
    """Keep this profile's table (see :data:`RECORDS`) as a record, and the first :data:`GRID`
    samples of each model beside it as one 8-bit PNG (a row of samples per model, in ``rows``' order),
    so that a book built without ``make landscape`` can show the trained models' numbers and samples."""
    name = RECORDS[profile()]
    save_record(name, {"rows": rows, "seeds": seeds, "classifier_accuracy": accuracy}, hardware=where,
                seconds=seconds, directory=directory)
    path = grid_path(name, directory)
    strips = [torch.cat(list(samples[key][:GRID, 0]), dim=1) for key in rows]   # (28, GRID·28) each
    Image.fromarray((torch.cat(strips) * 255).round().to(torch.uint8).cpu().numpy()).save(path, optimize=True)
    return path


def load_run(name: str, directory: Path | str | None = None
             ) -> tuple[dict, dict[str, torch.Tensor] | None] | None:
    """A saved table (the record) and its samples, key → (GRID, 1, side, side) in [0, 1]; None if not run.
    The PNG holds one row of :data:`GRID` square grey-level images per model, so its width gives their side."""
    record = load_record(name, directory)
    if record is None:
        return None
    path = grid_path(name, directory)
    if not path.exists():
        return record, None
    grid = torch.from_numpy(np.array(Image.open(path).convert("L"))).float() / 255
    keys = list(record["results"]["rows"])
    side = grid.shape[1] // GRID
    if side * GRID != grid.shape[1] or grid.shape[0] != side * len(keys):
        raise ValueError(f"{path} is {grid.shape[1]}x{grid.shape[0]} pixels, not {len(keys)} rows of {GRID} square "
                         f"images, one row for each model of its record")
    return record, {key: torch.stack(strip.split(side, dim=1)).unsqueeze(1)
                    for key, strip in zip(keys, grid.split(side))}


def seed_spread(rows: dict[str, dict], runs: dict[str, list[Trained]], classifier: MNISTClassifier,
                real: torch.Tensor, train_images: torch.Tensor) -> dict[str, dict[str, float]]:
    """:func:`seed_scores` over the table's own run of each model in ``runs`` (its row) and the runs
    trained from other seeds, each scored on as many samples as ``real`` has images."""
    scores = {key: [rows[key]] + [sample_quality(classifier, timed_samples(sampler(key, run.model), len(real))[0],
                                                 real, train_images) for run in key_runs]
              for key, key_runs in runs.items()}
    return seed_scores(scores)


def saved_runs(reduced: bool) -> dict[str, tuple[dict, dict[str, torch.Tensor] | None] | None]:
    """Profile → the saved table and samples to show beside this run's (None: not yet run). This
    profile's own is shown only when this run's models are reduced, since such a run saves no record."""
    return {name_profile: load_run(name) for name_profile, name in RECORDS.items()
            if name_profile != profile() or reduced}


def record_rows(name_profile: str, run: tuple[dict, dict | None] | None) -> list[dict[str, str]]:
    """The rows of a saved table, formatted for the chapter's table, or one row saying it has not run."""
    if run is None:
        return [{"model": f"profile `{name_profile}`", "where": "not yet run"}]
    record = run[0]
    return [table_row(f"{LABELS[key]}, {name_profile} record", row, source_of(record["profile"], row, record["date"]))
            for key, row in record["results"]["rows"].items()]


def source_of(name_profile: str, row: dict, date: str | None = None) -> str:
    """The table's last column: the profile and the training behind a row (and a record's date)."""
    return f"profile `{name_profile}`, trained {row['trained']}" + ("" if date is None else f", {date}")


def claims_source(rows: dict[str, dict], seeds: dict[str, dict[str, float]], reduced: bool,
                  saved: dict[str, tuple[dict, dict | None] | None]) -> tuple[dict, dict, str]:
    """The rows and seed spreads the claims are read from, and a line saying whose: this run's, unless
    its models are reduced and a saved run of trained models exists (the full profile's first)."""
    if reduced:
        for name_profile in reversed(RECORDS):   # the longest schedules first
            run = saved.get(name_profile)
            if run is not None:
                results = run[0]["results"]
                return results["rows"], results["seeds"], f"From the saved run ({describe(run[0])}):"
        return rows, seeds, "From this run, whose models are reduced (no saved run yet):"
    return rows, seeds, f"From this run (profile `{profile()}`):"


def network_passes(key: str, model: nn.Module) -> int:
    """Network passes per sample: one pixel at a time for the PixelCNN, one per step for the DDPM,
    one per code position and a decoder pass for the VQ-VAE, one for the rest."""
    if key == "pixelcnn":
        return math.prod(model.image_shape)
    if key == "ddpm":
        return model.schedule.T
    if key == "vqvae":
        return math.prod(model.grid_shape) + 1
    return 1


def table_row(name: str, row: dict, where: str) -> dict[str, str]:
    """One row of the chapter's table, formatted: '—' where a number was not measured."""
    def cell(column: str, fmt: str) -> str:
        return "—" if row.get(column) is None else format(row[column], fmt)

    if row.get("bits") is None:
        bits = "no likelihood"
    else:
        bits = f"{row['bits']:.3f} ± {row['bits_se']:.3f} ({row['kind']})"
    return {"model": name, "bits/dim": bits, "Fréchet": cell("frechet", ".1f"),
            "precision": cell("precision", ".2f"), "recall": cell("recall", ".2f"),
            "classes": cell("classes", ".1f"), "top class": cell("top_class", ".0%"),
            "nearest": cell("nearest", ".2f"), "sharpness": cell("sharpness", ".2f"),
            "parameters": cell("parameters", ","),
            "ms / sample": f"{three_digits(row['ms_per_image'])} ({row['sampled_on']})", "where": where}


def three_digits(x: float) -> str:
    """A time or a ratio to three significant digits, without an exponent: 3,650, 643, 0.215, 0.00657."""
    rounded = float(f"{x:.3g}")
    return f"{rounded:,.0f}" if rounded >= 1_000 else f"{x:.3g}"


def parameters(*models: nn.Module) -> int:
    return sum(p.numel() for model in models for p in model.parameters())


def claims(rows: dict[str, dict], seeds: dict[str, dict[str, float]]) -> dict[str, str]:
    """The course notes' four claims, each as sentences of the table's numbers. ``rows[key]`` holds
    the columns of :func:`vaebook.sample_quality.sample_quality` (None where samples were not
    scored), ``bits`` (None without a likelihood), ``ms_per_image`` and ``passes`` (network passes
    per sample); ``seeds``, from :func:`seed_scores`, the spread of the models trained again from
    other seeds. Every comparison word is chosen by the numbers, never assumed."""
    def q(key: str, column: str, fmt: str = ".2f") -> str:
        value = rows[key].get(column)
        return "not measured" if value is None else format(value, fmt)

    def compare(a: str, b: str, column: str, above: str = "above", below: str = "below",
                same: str = "equal to", fmt: str = ".2f") -> str:
        """``above``, ``below`` or ``same`` for a's column against b's, the same when they print alike."""
        x, y = rows[a].get(column), rows[b].get(column)
        if x is None or y is None:
            return "not compared (not measured)"
        return same if format(x, fmt) == format(y, fmt) else (above if x > y else below)

    def detail(a: str, b: str) -> str:
        """The a's samples carry more, less or as much fine detail as the b's."""
        word = compare(a, b, "sharpness", "more fine detail than", "less fine detail than", "as much fine detail as")
        if word.startswith("not compared"):
            return f"the {NAMES[a]}'s and the {NAMES[b]}'s fine detail is {word}"
        return f"the {NAMES[a]}'s carry {word} the {NAMES[b]}'s"

    def listed(keys: list[str]) -> str:
        names = [f"the {NAMES[key]}" for key in keys]
        return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"

    def vae_detail() -> str:
        """The VAE's decoder means against the test images (sharpness 1) and each other model's samples."""
        vae = rows["vae"].get("sharpness")
        if vae is None:
            return "the VAE's fine detail is not compared (not measured)"
        test = ("as much fine detail as" if format(vae, ".2f") == "1.00" else
                "more high-frequency power than" if vae > 1 else "less fine detail than")
        others = [key for key in ("dcgan", "ddpm", "pixelcnn") if rows[key].get("sharpness") is not None]
        sharper = [key for key in others if compare(key, "vae", "sharpness") == "above"]
        rest = [key for key in others if key not in sharper]
        text = f"the VAE's carry {test} the test images"
        if sharper:
            text += (" and than" if test.startswith("less") else ", and less fine detail than") + \
                f" the samples of {listed(sharper)}"
        if rest:
            text += f"; the samples of {listed(rest)} carry no more than the VAE's"
        return text

    def times(a: str, b: str) -> str:
        return three_digits(rows[a]["ms_per_image"] / rows[b]["ms_per_image"])

    def spread(key: str, column: str) -> float:
        return seeds[key][f"max_{column}"] - seeds[key][f"min_{column}"]

    def ranges(key: str) -> str:
        s = seeds[key]
        return (f"Fréchet distance ranged from {s['min_frechet']:.1f} to {s['max_frechet']:.1f} and its effective "
                f"number of classes from {s['min_classes']:.1f} to {s['max_classes']:.1f}")

    runs = len(SEEDS) + 1
    unstable = (f" Stability: over {runs} training runs from different seeds, the DCGAN's {ranges('dcgan')}; the "
                f"VAE's {ranges('vae')}. The DCGAN's Fréchet distance varies "
                f"{'more' if spread('dcgan', 'frechet') > spread('vae', 'frechet') else 'less'} than the VAE's.")

    def noisy(*keys: str) -> str:
        """A share of high frequencies above the test images' is more than digits have: noise gives it too."""
        above = [NAMES[k] for k in keys if (rows[k].get("sharpness") or 0) > 1]
        return "" if not above else (f" (above 1, for the {' and the '.join(above)}: more high-frequency power than "
                                     f"digits have, which noise gives as well as sharp strokes)")

    return {
        "gan": (f"Sharp: the DCGAN's samples have {q('dcgan', 'sharpness')} times the test images' share of "
                f"high-frequency power, the VAE's {q('vae', 'sharpness')}, so {detail('dcgan', 'vae')}"
                f"{noisy('dcgan', 'vae')}. "
                f"Modes: the DCGAN's samples "
                f"fall into {q('dcgan', 'classes', '.1f')} effective classes of 10 ({q('dcgan', 'top_class', '.0%')} "
                f"in its most frequent), the VAE's into {q('vae', 'classes', '.1f')}; its recall is "
                f"{q('dcgan', 'recall')}, {compare('dcgan', 'vae', 'recall')} the VAE's "
                f"{q('vae', 'recall')}, at precision {q('dcgan', 'precision')} against the VAE's "
                f"{q('vae', 'precision')}." + unstable),
        "diffusion": (f"A DDPM sample took {three_digits(rows['ddpm']['ms_per_image'])} ms ({rows['ddpm']['passes']} "
                      f"network passes), {times('ddpm', 'vae')} times a VAE sample's "
                      f"{three_digits(rows['vae']['ms_per_image'])} ms "
                      f"and {times('ddpm', 'dcgan')} times a DCGAN sample's (one pass each). Its bound is "
                      f"{q('ddpm', 'bits', '.3f')} bits/dim and its samples' Fréchet distance "
                      f"{q('ddpm', 'frechet', '.1f')}, against the VAE's {q('vae', 'frechet', '.1f')}."),
        "vae": (f"The VAE's decoder means have {q('vae', 'sharpness')} times the test images' share of "
                f"high-frequency power, the DCGAN's samples {q('dcgan', 'sharpness')}, the DDPM's "
                f"{q('ddpm', 'sharpness')} and the PixelCNN's {q('pixelcnn', 'sharpness')}"
                f"{noisy('vae', 'dcgan', 'ddpm', 'pixelcnn')}: {vae_detail()}. Its Fréchet "
                f"distance is {q('vae', 'frechet', '.1f')} and its bound {q('vae', 'bits', '.3f')} bits/dim."),
        "autoregressive": (f"The PixelCNN's {q('pixelcnn', 'bits', '.3f')} bits/dim is exact; the VAE's "
                           f"{q('vae', 'bits', '.3f')}, the VQ-VAE's {q('vqvae', 'bits', '.3f')} and the DDPM's "
                           f"{q('ddpm', 'bits', '.3f')} are upper bounds. A PixelCNN sample took "
                           f"{three_digits(rows['pixelcnn']['ms_per_image'])} ms ({rows['pixelcnn']['passes']} "
                           f"network passes, one per pixel), {times('pixelcnn', 'vae')} times a VAE sample's."),
    }


__all__ = ["KEYS", "LABELS", "NAMES", "SLOW_SAMPLERS", "Spec", "specs", "train", "trained_by_make_landscape", "codes_of",
           "sampler", "timed_samples", "save_samples", "load_samples", "likelihood_bits", "parameters", "claims",
           "Trained", "obtain", "network_passes", "table_row", "SAMPLES_BY_PROFILE", "SEEDED", "SEEDS",
           "seed_runs", "seed_scores", "seed_spread", "RECORDS", "GRID", "score", "save_run", "load_run", "grid_path",
           "saved_runs", "record_rows", "claims_source", "three_digits", "source_of"]
