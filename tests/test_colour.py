"""Chapter 16's package code: PPCA and the full-covariance Gaussian in closed form, the dequantization
convention for bits/dim, the linear VAE reaching PPCA's likelihood and not more, the sharpness measure,
and the class and CIFAR-10 file checks."""

import math
import pickle

import pytest
import torch

from vaebook.data import DataNotFoundError, one_class, read_cifar10_folder
from vaebook.estimators import mean_agrees
from vaebook.linear_gaussian import LinearGaussian, ppca_maximum_likelihood
from vaebook.losses import negative_elbo
from vaebook.models import LinearVAE, build_model
from vaebook.ppca import (dequantize, dequantized_bits_per_dim, fit_gaussian, gaussian_log_likelihood,
                          ppca_max_log_likelihood)
from vaebook.sharpness import high_frequency_fraction, relative_sharpness


def ppca_data(n: int = 600, D: int = 8, d: int = 2, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return LinearGaussian.random(D, d, noise_var=0.3, generator=generator).sample(n, generator)[0]


def test_ppca_in_closed_form_is_the_maximum_of_the_likelihood():
    x = ppca_data()
    model = ppca_maximum_likelihood(x, 2)
    total = model.log_marginal(x).sum()
    assert math.isclose(total.item(), ppca_max_log_likelihood(x, 2), rel_tol=1e-10)
    total.backward()                    # a maximum: every gradient vanishes
    for p in (model.W, model.b, model.log_noise_var):
        assert p.grad.abs().max() < 1e-8 * len(x)
    with torch.no_grad():
        model.W.mul_(1.05)
    assert model.log_marginal(x).sum() < total


def test_the_full_gaussian_is_ppca_with_nothing_discarded():
    x = ppca_data(D=5)
    mean, cov = fit_gaussian(x)
    N, D = x.shape
    expected = -N / 2 * (D * math.log(2 * math.pi) + torch.logdet(cov) + D)
    assert math.isclose(float(gaussian_log_likelihood(x, mean, cov).sum()), float(expected), rel_tol=1e-10)
    assert ppca_max_log_likelihood(x, 4) <= float(expected) + 1e-9
    with pytest.raises(ValueError, match="singular"):
        fit_gaussian(torch.zeros(10, 3))


def test_dequantization_and_its_bits_per_dim():
    values = torch.arange(256, dtype=torch.float64).view(1, 1, 16, 16)
    y = dequantize(values / 255, torch.Generator().manual_seed(0))
    assert torch.equal((y * 256).floor(), values)          # each value stays in its own cube
    assert dequantized_bits_per_dim(0.0, 10) == 8           # the uniform density on [0, 1]^D
    # a 1-D Gaussian density: its bound is above the exact discrete -log2 P(k), and close for a broad one
    for std in (0.3, 0.02):
        normal = torch.distributions.Normal(0.5, std)
        k = torch.arange(256, dtype=torch.float64)
        exact = -torch.log2(normal.cdf((k + 1) / 256) - normal.cdf(k / 256))
        u = torch.rand(256, 4000, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
        bound = dequantized_bits_per_dim(normal.log_prob((k[:, None] + u) / 256), 1).mean(1)
        weights = normal.cdf((k + 1) / 256) - normal.cdf(k / 256)
        seen = weights > 1e-12                              # values the data ever takes
        gap = float((weights[seen] * (bound - exact)[seen]).sum())   # E over the data: bound minus truth
        assert gap >= -1e-3 and (gap < 1e-3 if std == 0.3 else gap < 0.1)
    with pytest.raises(ValueError, match="0.5 is not one of the 256 values"):
        dequantize(torch.full((1, 1, 2, 2), 0.5))


def train_linear_vae(x: torch.Tensor, kind: type = LinearVAE, steps: int = 3000) -> LinearVAE:
    torch.manual_seed(0)
    model = kind(latent_dim=2, image_shape=(1, 1, 8)).double()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    batch = (x.view(len(x), 1, 1, -1),)
    for _ in range(steps):
        optimizer.zero_grad()
        model.loss(batch)["loss"].backward()
        optimizer.step()
    return model


def test_the_linear_vae_reaches_the_ppca_likelihood_and_not_more():
    x = ppca_data()
    best = ppca_max_log_likelihood(x, 2) / len(x)
    model = train_linear_vae(x)
    with torch.no_grad():
        elbo = -float(model.loss((x.view(len(x), 1, 1, -1),))["neg_elbo"])
    with torch.no_grad():
        log_p = float(model.generative_model().log_marginal(x).mean())
    assert elbo <= log_p + 1e-9 and log_p <= best + 1e-9   # ELBO <= log p(x) <= the maximum
    # within 0.001 nats per example in log p(x), 0.01 in the ELBO (measured: 5e-5 and 1e-3)
    assert best - log_p < 1e-3 and best - elbo < 0.01


class MissingLogVariance(LinearVAE):
    """The distortion without its D/2 log σ² term: a likelihood computed wrongly."""

    def loss(self, batch, beta=1.0):
        terms = super().loss(batch, beta)
        missing = 0.5 * batch[0][0].numel() * self.log_noise_var
        return {key: value - missing if key in ("loss", "neg_elbo", "distortion") else value
                for key, value in terms.items()}


def test_a_linear_vae_whose_likelihood_lacks_its_variance_term_beats_ppca_and_is_caught():
    x = ppca_data()
    model = train_linear_vae(x, MissingLogVariance, steps=300)
    with torch.no_grad():
        elbo = -float(model.loss((x.view(len(x), 1, 1, -1),))["neg_elbo"])
    assert elbo > ppca_max_log_likelihood(x, 2) / len(x)


def test_the_closed_form_elbo_is_the_mean_of_the_one_sample_estimate():
    torch.manual_seed(0)
    model = build_model("linear", latent_dim=3, image_shape=[1, 2, 3]).double()
    with torch.no_grad():
        model.log_var.fill_(-0.5)
        model.log_noise_var.fill_(-1.0)
        x = torch.rand(1, 1, 2, 3, dtype=torch.float64).expand(20_000, 1, 2, 3)
        draws = torch.stack([negative_elbo(model, x[i:i + 1])["neg_elbo"] for i in range(0, 20_000, 10)])
        estimates = negative_elbo_per_example(model, x)
        exact = float(model.loss((x[:1],))["neg_elbo"])
    assert mean_agrees(estimates, exact) and mean_agrees(draws, exact)
    assert not mean_agrees(estimates, exact + 0.1)


def negative_elbo_per_example(model, x: torch.Tensor) -> torch.Tensor:
    out, mu, log_var, _ = model(x)
    from vaebook.distributions import kl_normal_std_normal
    return -model.likelihood.log_prob(x, out) + kl_normal_std_normal(mu, log_var)


def test_high_frequency_fraction_on_images_whose_answer_is_known():
    i, j = torch.meshgrid(torch.arange(16), torch.arange(16), indexing="ij")
    checkerboard = ((i + j) % 2).double().view(1, 1, 16, 16)
    slow = torch.cos(2 * math.pi * j / 16).double().view(1, 1, 16, 16)   # one cycle: |f| = 1/16
    flat = torch.full((1, 3, 16, 16), 0.7)
    scores = high_frequency_fraction(torch.cat([checkerboard, slow, flat[:, :1]]))
    assert torch.allclose(scores, torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64), atol=1e-12)
    noise = torch.rand(200, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    # white noise spreads its power evenly: the fraction is the share of frequencies beyond the radius
    from vaebook.sharpness import radial_frequency
    share = float((radial_frequency(16, 16) > 0.25).double().sum() / 255)      # the mean's frequency removed
    assert abs(float(high_frequency_fraction(noise).mean()) - share) < 0.01
    blurred = torch.nn.functional.avg_pool2d(noise, 3, stride=1, padding=1)
    assert relative_sharpness(blurred, noise) < 0.5
    with pytest.raises(ValueError, match="radius must lie in"):
        high_frequency_fraction(noise, radius=0.6)


def test_one_class_refuses_a_label_the_data_set_lacks():
    images, labels = torch.zeros(6, 1, 2, 2), torch.tensor([0, 1, 9, 9, 3, 9])
    assert len(one_class(images, labels, 9, "fashion-mnist")) == 3
    with pytest.raises(ValueError, match="class 10 is not one of cifar-10's classes 0-9 .*airplane"):
        one_class(images, labels, 10, "cifar-10")
    with pytest.raises(ValueError, match="class -1 is not one of fashion-mnist's"):
        one_class(images, labels, -1, "fashion-mnist")


def test_a_cifar_folder_with_a_missing_or_wrong_batch_is_named(tmp_path):
    (tmp_path / "test_batch").write_bytes(pickle.dumps({"data": [[0] * 10], "labels": [0]}))
    with pytest.raises(DataNotFoundError, match="data_batch_1 is missing"):
        read_cifar10_folder(tmp_path, "train")
    with pytest.raises(DataNotFoundError, match="test_batch is not a CIFAR-10 batch"):
        read_cifar10_folder(tmp_path, "test")


def test_gaussian_log_likelihood_of_many_rows_is_the_package_density_row_by_row():
    from vaebook.linear_gaussian import log_normal_full
    from vaebook.ppca import ppca_log_likelihood

    x = ppca_data(n=50)
    model = ppca_maximum_likelihood(x, 3)
    expected = log_normal_full(x, model.b.detach(), model.marginal_cov().detach())
    assert torch.allclose(ppca_log_likelihood(model, x), expected, rtol=1e-12)


def tiny_data(n: int = 64):
    from vaebook.colour import EightBitData

    generator = torch.Generator().manual_seed(0)
    train = torch.randint(0, 256, (n, 3, 8, 8), generator=generator).float() / 255
    test = torch.randint(0, 256, (16, 3, 8, 8), generator=generator).float() / 255
    labels = torch.arange(n) % 10
    return EightBitData("tiny", train, labels, test, labels[:16], dequantize(train, generator),
                        dequantize(test, generator))


def test_every_blur_variant_trains_and_is_scored_in_bits_per_dim():
    from vaebook.colour import blur_variants, score_variant, train_variant

    data = tiny_data()
    variants = blur_variants(latent_dim=4, width=4, small_latent=2, small_width=2)
    assert variants["beta"].beta == pytest.approx(1 / 3) and variants["fixed"].dequantized
    for key, variant in variants.items():
        model, training = train_variant(variant, data, 1, f"tiny-{key}")
        scores = score_variant(model, variant, data, n=8)
        assert set(scores) == {"bits", "rate", "sample_mean", "sample_noisy", "reconstruction"}
        assert scores["rate"] >= 0
        assert all(math.isfinite(v) for v in scores.values()) and training.seconds > 0


def test_bits_per_dim_bound_is_the_negative_elbo_in_bits_and_the_dequantized_one_adds_8():
    from vaebook.colour import bits_per_dim_bound, train_conv_vae

    data = tiny_data()
    model, _ = train_conv_vae(data.train, 1, "tiny", latent_dim=2, width=4, likelihood="gaussian")
    torch.manual_seed(1)
    with torch.no_grad():
        nats = float(negative_elbo(model, data.test_dequantized)["neg_elbo"])
    bits = bits_per_dim_bound(model, data.test_dequantized, dequantized=True)
    assert bits == pytest.approx(nats / (data.dims * math.log(2)) + 8, rel=1e-6)
    with pytest.raises(ValueError, match="'fashion-mnist' and 'cifar-10', got 'svhn'"):
        from vaebook.colour import load_eight_bit
        load_eight_bit("svhn", 10, 10)


def test_the_linear_models_of_the_table_in_bits_per_dim():
    from vaebook.colour import fit_linear_models

    data = tiny_data(n=1_000)
    fitted = fit_linear_models(data, latent_dim=4, steps=50, name="tiny-linear")
    bits = fitted.bits
    assert bits["linear_train_elbo"] >= bits["linear_train"] >= bits["ppca_train"] - 1e-9
    # uniform noise images: no model does much better than 8 bits/dim, the closed forms near it
    assert 7.5 < bits["ppca_train"] < 8.5 and 7.5 < bits["gaussian_test"] < 9


def test_image_grid_shows_colour_images():
    import matplotlib

    matplotlib.use("Agg")
    from vaebook.plotting import image_grid

    ax = image_grid(torch.rand(6, 3, 5, 5), nrow=3)
    assert ax.images[0].get_array().shape == (2 * 6 + 1, 3 * 6 + 1, 3)


def test_gallery_rows_have_the_images_shape():
    from vaebook.colour import fit_linear_models, gallery, train_conv_vae

    data = tiny_data(n=1_000)
    fitted = fit_linear_models(data, latent_dim=4, steps=5, name="tiny-linear")
    conv, _ = train_conv_vae(data.train, 1, "tiny-conv", latent_dim=2, width=4, likelihood="discretized-logistic")
    rows = gallery(data, fitted, {"conv": conv}, n=3)
    assert len(rows) == 8 and all(images.shape == (3, 3, 8, 8) for images in rows.values())
    assert torch.equal(rows["test images"], data.test[:3])


def test_a_model_on_fewer_images_gets_as_many_gradient_steps():
    from vaebook.colour import epochs_for_steps, gradient_steps

    assert gradient_steps(2_000, 1) == 16 and gradient_steps(128, 3) == 3    # 15 full batches and one partial
    steps = gradient_steps(20_000, 6)                                       # 157 an epoch: 942
    epochs = epochs_for_steps(2_000, steps)
    assert epochs == 59 and abs(gradient_steps(2_000, epochs) - steps) <= gradient_steps(2_000, 1) / 2
    assert epochs_for_steps(10_000, 1) == 1                                 # never fewer than one epoch
    with pytest.raises(ValueError, match="images >= 1"):
        gradient_steps(0, 1)


def test_elbo_terms_add_up_and_a_bernoulli_decoder_pays_at_least_the_grey_levels_entropy():
    from vaebook.colour import bits_per_dim_bound, elbo_terms, train_conv_vae
    from vaebook.likelihoods import Bernoulli

    data = tiny_data()
    model, _ = train_conv_vae(data.train, 1, "tiny-bce", latent_dim=2, width=4, likelihood="bernoulli")
    terms = elbo_terms(model, data.test)
    assert terms["neg_elbo"] == pytest.approx(terms["distortion"] + terms["rate"], rel=1e-6)
    assert terms["rate"] >= 0
    bits = bits_per_dim_bound(model, data.test)
    assert bits == pytest.approx(terms["neg_elbo"] / (data.dims * math.log(2)), rel=1e-6)
    x = data.test.double().clamp(1e-6, 1 - 1e-6)
    floor = float(-Bernoulli().log_prob(x, torch.logit(x)).mean())           # the BCE at p = x
    assert floor <= terms["distortion"]


def test_no_full_gaussian_with_no_more_images_than_dimensions():
    from vaebook.colour import fit_linear_models, gallery

    data = tiny_data(n=150)                       # D = 192
    fitted = fit_linear_models(data, latent_dim=4, steps=5, name="tiny-linear")
    assert fitted.gaussian is None and math.isnan(fitted.bits["gaussian_test"])
    assert "full Gaussian: samples" not in gallery(data, fitted, {}, n=2)
