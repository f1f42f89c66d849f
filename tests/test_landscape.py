"""Chapter 17's comparison machinery: the specs build every model, training goes through train_or_load
under the landscape names (and is found again), samples keep their timing, bits/dim are of the right
kind, rows format what was and was not measured, and the claims choose their words from the numbers."""


import pytest
import torch
from PIL import Image

from vaebook import landscape
from vaebook.models import DCGAN, DDPM, PixelCNN


def test_specs_cover_every_model_and_reduce_only_the_data():
    full, reduced = landscape.specs(), landscape.specs(reduced=True)
    assert set(full) == {*landscape.KEYS, "classifier", "vqvae-prior"} == set(reduced)
    for key in full:
        assert reduced[key].epochs <= full[key].epochs and reduced[key].images <= full[key].images
    assert isinstance(full["ddpm"].build(), DDPM) and isinstance(full["dcgan"].build(), DCGAN)
    assert full["pixelcnn"].build().num_values == 256


def test_training_is_saved_under_the_landscape_name_and_found(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VAEBOOK_CHECKPOINTS", str(tmp_path))
    images = torch.randint(0, 256, (64, 1, 28, 28)).float() / 255
    labels = torch.zeros(64, dtype=torch.long)
    assert not landscape.trained_by_make_landscape("dcgan")
    first = landscape.obtain("dcgan", images, labels, torch.device("cpu"), reduce=True)
    assert first.reduced and "reduced: 1,000 images × 1 epoch, see make landscape" in str(first)
    assert (tmp_path / "landscape-dcgan-reduced-smoke.pt").exists()
    landscape.train("dcgan", images, labels, torch.device("cpu"))        # what make landscape does
    assert landscape.trained_by_make_landscape("dcgan")
    again = landscape.obtain("dcgan", images, labels, torch.device("cpu"), reduce=True)
    assert not again.reduced and "loaded landscape-dcgan-smoke.pt" in capsys.readouterr().out


def test_samples_keep_their_values_time_and_hardware(tmp_path, monkeypatch):
    monkeypatch.setenv("VAEBOOK_CHECKPOINTS", str(tmp_path))
    assert landscape.load_samples("ddpm") is None
    images = torch.randint(0, 256, (3, 1, 28, 28)).float() / 255
    landscape.save_samples("ddpm", images, 0.5, "a test machine")
    loaded, seconds, where = landscape.load_samples("ddpm")
    assert torch.equal(loaded, images) and seconds == 0.5 and where == "a test machine"


def test_timed_samples_in_batches_and_bad_counts():
    calls = []

    def draw(n):
        calls.append(n)
        return torch.full((n, 1, 28, 28), 2.0)      # clamped to [0, 1]
    images, seconds = landscape.timed_samples(draw, 7, batch_size=3)
    assert calls == [3, 3, 1] and images.shape == (7, 1, 28, 28) and images.max() == 1 and seconds >= 0
    for n in (0, -1, 1.5):
        with pytest.raises(ValueError, match=f"got {n!r}"):
            landscape.timed_samples(draw, n)


def test_likelihood_bits_and_passes():
    torch.manual_seed(0)
    images = torch.randint(0, 256, (6, 1, 28, 28)).float() / 255
    pixelcnn = PixelCNN(num_values=256, channels=8, layers=1)
    with torch.no_grad():
        pixelcnn.head[-1].weight.zero_()
        pixelcnn.head[-1].bias.zero_()
    mean, se, kind = landscape.likelihood_bits("pixelcnn", pixelcnn, images)
    assert (kind, se) == ("exact", 0.0) and mean == pytest.approx(8.0)
    ddpm = DDPM(steps=30, channels=8)
    mean, se, kind = landscape.likelihood_bits("ddpm", ddpm, images, steps=2)
    assert kind == "bound" and mean > 0 and se > 0
    assert landscape.likelihood_bits("dcgan", DCGAN(latent_dim=8, width=8), images) is None
    assert [landscape.network_passes(k, m) for k, m in (("pixelcnn", pixelcnn), ("ddpm", ddpm),
                                                         ("dcgan", None))] == [784, 30, 1]


def row(**overrides):
    base = {"frechet": 10.0, "precision": 0.8, "recall": 0.7, "classes": 9.5, "top_class": 0.15, "nearest": 5.0,
            "sharpness": 0.9, "bits": 1.2, "bits_se": 0.01, "kind": "bound", "ms_per_image": 1.0, "passes": 1,
            "parameters": 1000, "sampled_on": "2-core CPU", "trained": "60 s, 2-core CPU"}
    return {**base, **overrides}


def test_table_rows_say_what_was_not_measured():
    measured = landscape.table_row("VAE", row(), "here")
    assert measured["bits/dim"] == "1.200 ± 0.010 (bound)" and measured["Fréchet"] == "10.0"
    assert measured["parameters"] == "1,000" and measured["ms / sample"] == "1 (2-core CPU)"
    unscored = landscape.table_row("GAN", row(bits=None, frechet=None, recall=None), "here")
    assert unscored["bits/dim"] == "no likelihood" and unscored["Fréchet"] == unscored["recall"] == "—"


def test_claims_choose_their_words_from_the_numbers():
    rows = {"vae": row(sharpness=0.5, recall=0.6), "dcgan": row(sharpness=0.9, recall=0.2, classes=3.0),
            "ddpm": row(ms_per_image=200.0, passes=200), "pixelcnn": row(ms_per_image=700.0, passes=784,
                                                                            kind="exact"),
            "vqvae": row(), "aae": row()}
    seeds = {"dcgan": dict(min_frechet=10.0, max_frechet=30.0, min_classes=6.0, max_classes=9.5),
             "vae": dict(min_frechet=20.0, max_frechet=22.5, min_classes=9.0, max_classes=9.4)}
    sentences = landscape.claims(rows, seeds)
    assert ("the DCGAN's Fréchet distance ranged from 10.0 to 30.0 and its effective number of classes from 6.0 "
            "to 9.5; the VAE's Fréchet distance ranged from 20.0 to 22.5") in sentences["gan"]
    assert "varies more than the VAE's" in sentences["gan"]
    assert set(sentences) == {"gan", "diffusion", "vae", "autoregressive"}
    assert "so the DCGAN's carry more fine detail than the VAE's." in sentences["gan"]
    assert "0.20, below the VAE's 0.60" in sentences["gan"]
    assert "200 times a VAE sample's" in sentences["diffusion"] and "(200 network passes)" in sentences["diffusion"]
    assert ("the VAE's carry less fine detail than the test images and than the samples of the "
            "DCGAN, the DDPM and the PixelCNN. Its") in sentences["vae"]
    assert "700 times a VAE sample's" in sentences["autoregressive"]
    rows["ddpm"]["sharpness"] = 0.504   # prints as the VAE's 0.50: as much, not more
    assert ("than the samples of the DCGAN and the PixelCNN; the samples of the DDPM carry no more than the VAE's."
            in landscape.claims(rows, seeds)["vae"])
    rows["dcgan"]["recall"] = 0.6
    assert "0.60, equal to the VAE's 0.60" in landscape.claims(rows, seeds)["gan"]
    rows["vae"]["sharpness"] = 2.0
    assert "so the DCGAN's carry less fine detail than the VAE's (above 1, for the VAE: more high-frequency power" in \
        landscape.claims(rows, seeds)["gan"]
    assert "the VAE's carry more high-frequency power than the test images;" in landscape.claims(rows, seeds)["vae"]
    rows["dcgan"]["sharpness"] = None
    assert "not compared (not measured)" in landscape.claims(rows, seeds)["gan"]
    seeds["vae"]["max_frechet"] = 50.0
    assert "varies less than the VAE's" in landscape.claims(rows, seeds)["gan"]


def test_seed_scores_give_each_models_range():
    runs = {"dcgan": [dict(frechet=3.0, classes=9.0), dict(frechet=1.0, classes=9.9), dict(frechet=2.0,
                                                                                           classes=4.0)]}
    assert landscape.seed_scores(runs) == {"dcgan": dict(min_frechet=1.0, max_frechet=3.0, min_classes=4.0,
                                                         max_classes=9.9)}


def test_a_seeded_run_repeats_and_is_kept_apart(tmp_path, monkeypatch):
    monkeypatch.setenv("VAEBOOK_CHECKPOINTS", str(tmp_path))
    images = torch.randint(0, 256, (64, 1, 28, 28)).float() / 255
    labels = torch.zeros(64, dtype=torch.long)
    first = landscape.train("vae", images, labels, torch.device("cpu"), seed=1)[0]
    assert (tmp_path / "landscape-vae-seed1-smoke.pt").exists() and landscape.trained_by_make_landscape("vae", 1)
    monkeypatch.setenv("VAEBOOK_CHECKPOINTS", str(tmp_path / "again"))
    again = landscape.train("vae", images, labels, torch.device("cpu"), seed=1)[0]
    other = landscape.train("vae", images, labels, torch.device("cpu"), seed=2)[0]
    first_weights, again_weights = (torch.cat([p.flatten() for p in m.parameters()]) for m in (first, again))
    assert torch.equal(first_weights, again_weights)
    assert not torch.equal(first_weights, torch.cat([p.flatten() for p in other.parameters()]))


def test_a_run_keeps_its_table_and_samples(tmp_path, monkeypatch):
    monkeypatch.setenv("VAEBOOK_PROFILE", "book")
    rows = {"vae": row(), "dcgan": row(bits=None)}
    samples = {key: torch.randint(0, 256, (20, 1, 28, 28)).float() / 255 for key in rows}
    seeds = {"vae": dict(min_frechet=1.0, max_frechet=2.0, min_classes=9.0, max_classes=9.5)}
    path = landscape.save_run(rows, seeds, 0.99, samples, "a test machine", 60.0, directory=tmp_path)
    assert path.name == "generative_landscape_book_samples.png"
    record, grid = landscape.load_run("generative_landscape_book", tmp_path)
    assert record["profile"] == "book" and record["results"]["seeds"] == seeds
    assert list(grid) == ["vae", "dcgan"]
    for key in rows:
        assert grid[key].shape == (landscape.GRID, 1, 28, 28)
        assert torch.allclose(grid[key], samples[key][:landscape.GRID], atol=0.5 / 255)
    assert landscape.load_run("generative_landscape", tmp_path) is None
    shown = landscape.record_rows("book", (record, grid))
    assert [r["model"] for r in shown] == [f"{landscape.LABELS[key]}, book record" for key in rows]
    assert shown[0]["where"] == f"profile `book`, trained {rows['vae']['trained']}, {record['date']}"
    assert shown[1]["bits/dim"] == "no likelihood"
    assert landscape.record_rows("full", None) == [{"model": "profile `full`", "where": "not yet run"}]


def test_make_landscape_needs_a_folder(load_tool, monkeypatch, capsys):
    monkeypatch.delenv("VAEBOOK_CHECKPOINTS", raising=False)
    assert load_tool("train_landscape").main() == 2
    assert "set VAEBOOK_CHECKPOINTS" in capsys.readouterr().err


def test_times_print_three_significant_digits_without_an_exponent():
    printed = [landscape.three_digits(x) for x in (3650.4, 16974.2, 999.6, 643.1, 0.215, 0.006571)]
    assert printed == ["3,650", "17,000", "1,000", "643", "0.215", "0.00657"]


def test_a_kept_run_of_other_sized_images_reads_back_and_a_mismatched_png_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("VAEBOOK_PROFILE", "book")
    rows = {"vae": row(), "dcgan": row(bits=None), "ddpm": row()}
    samples = {key: torch.randint(0, 256, (16, 1, 32, 32)).float() / 255 for key in rows}
    seeds = {"vae": dict(min_frechet=1.0, max_frechet=2.0, min_classes=9.0, max_classes=9.5)}
    path = landscape.save_run(rows, seeds, 0.99, samples, "a test machine", 60.0, directory=tmp_path)
    _, grid = landscape.load_run("generative_landscape_book", tmp_path)
    assert all(torch.allclose(grid[key], samples[key], atol=0.5 / 255) for key in rows)
    Image.open(path).crop((0, 0, 16 * 32, 2 * 32)).save(path)   # two rows for three models
    with pytest.raises(ValueError, match="not 3 rows of 16 square images"):
        landscape.load_run("generative_landscape_book", tmp_path)
