"""vaebook.autoregressive, the helpers of the chapter on autoregressive models: enumeration, receptive
fields and the blind spot, timed sampling, VQ codes and the bounds a prior over them gives."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from vaebook.autoregressive import (all_images, blind_spot, causal_window, encode_codes,  # noqa: E402
                                    plot_receptive_field, receptive_radius, timed_samples, vq_bounds,
                                    vq_log_px_exact)
from vaebook.data import binarize_static  # noqa: E402
from vaebook.models.pixelcnn import GatedPixelCNN, PixelCNN, dependence  # noqa: E402
from vaebook.models.vqvae import VQVAE  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_all_images_enumerates_in_raster_order():
    images = all_images(3, (1, 2))
    assert images.tolist() == [[[a, b]] for a in range(3) for b in range(3)]
    binary = all_images(2, (2, 3))
    assert binary.shape == (64, 2, 3) and len(torch.unique(binary.flatten(1), dim=0)) == 64
    assert binary[1].tolist() == [[0, 0, 0], [0, 0, 1]]


def test_all_images_refuses_what_cannot_be_enumerated():
    with pytest.raises(ValueError, match="too many"):
        all_images(2, (5, 5))
    with pytest.raises(ValueError, match="num_values"):
        all_images(1, (2, 2))


def test_untrained_models_are_normalised_over_all_images():
    images = all_images(3, (2, 2))
    for model in (PixelCNN(num_values=3, channels=8, layers=2, image_shape=(2, 2)),
                  GatedPixelCNN(num_values=3, channels=8, layers=2, image_shape=(2, 2))):
        with torch.no_grad():
            assert abs(float(model.log_prob(images).exp().sum()) - 1) < 1e-5


def test_receptive_radius_adds_half_of_each_kernel():
    assert receptive_radius(PixelCNN(channels=4, layers=5)) == 3 + 5
    assert receptive_radius(GatedPixelCNN(channels=4, layers=4)) == 3 + 4
    assert receptive_radius(GatedPixelCNN(channels=4, layers=2, kernel_size=5)) == 3 + 2 * 2
    with pytest.raises(TypeError, match="PixelCNN"):
        receptive_radius(torch.nn.Linear(2, 2))


def test_causal_window_by_hand():
    window = causal_window((4, 5), (2, 2), radius=1)
    expected = torch.tensor([[0, 0, 0, 0, 0],
                             [0, 1, 1, 1, 0],
                             [0, 1, 0, 0, 0],
                             [0, 0, 0, 0, 0]], dtype=torch.bool)
    assert torch.equal(window, expected)
    corner = causal_window((3, 3), (0, 0), radius=2)
    assert not corner.any(), "the first pixel has nothing before it"
    with pytest.raises(ValueError, match="outside"):
        causal_window((3, 3), (3, 0), radius=1)


def test_pixelcnn_has_a_blind_spot_above_right_and_the_gated_one_none():
    position = (10, 10)
    plain = PixelCNN(channels=8, layers=4, image_shape=(20, 20))
    blind = blind_spot(plain, position)
    rows, cols = blind.nonzero().T
    assert len(rows) > 0 and bool((rows < position[0]).all()) and bool((cols > position[1]).all())
    # every blind pixel is further right than it is up, by more than the first layer's reach
    assert bool(((cols - position[1]) - (position[0] - rows) > 2).all())
    gated = GatedPixelCNN(channels=8, layers=4, image_shape=(20, 20))
    assert not blind_spot(gated, position).any()
    for model in (plain, gated):   # and nothing outside the causal window is seen
        seen = dependence(model, position) > 0
        assert not (seen & ~causal_window(model.image_shape, position, receptive_radius(model))).any()


def test_plot_receptive_field_draws_and_returns_a_legend():
    fig, ax = plt.subplots()
    handles = plot_receptive_field(ax, PixelCNN(channels=4, layers=2, image_shape=(10, 10)), (5, 5), "x")
    assert [h.get_label() for h in handles] == ["not seen", "seen", "blind spot", "predicted pixel"]
    assert ax.get_title() == "x" and len(ax.images) == 1
    plt.close(fig)


def test_timed_samples_returns_samples_and_seconds():
    model = GatedPixelCNN(channels=4, layers=1, num_labels=3, image_shape=(3, 3))
    samples, seconds = timed_samples(model, 5, labels=torch.tensor([0, 1, 2, 0, 1]))
    assert samples.shape == (5, 3, 3) and samples.dtype == torch.long and seconds > 0
    assert int(samples.min()) >= 0 and int(samples.max()) <= 1


def test_encode_codes_binarizes_once_and_does_not_depend_on_the_batch_size():
    vq = VQVAE(num_codes=8, code_dim=3, width=8).eval()
    images = torch.rand(7, 1, 28, 28)
    codes = encode_codes(vq, images, batch_size=3, seed=5)
    assert codes.shape == (7, 7, 7) and codes.dtype == torch.long
    assert torch.equal(codes, encode_codes(vq, images, batch_size=1_000, seed=5))
    assert torch.equal(codes, vq.codes(binarize_static(images, seed=5)))


def test_vq_bounds_uniform_matches_the_vqvae_loss_and_a_flat_prior_gives_the_same():
    vq = VQVAE(num_codes=8, code_dim=3, width=8, ema=True).eval()
    x = torch.bernoulli(torch.rand(6, 1, 28, 28))
    prior = GatedPixelCNN(num_values=8, channels=4, layers=1, image_shape=(7, 7))
    with torch.no_grad():            # logits all zero: the prior is uniform over the codes
        prior.head[-1].weight.zero_()
        prior.head[-1].bias.zero_()
        expected = vq.loss((x,))["bound_uniform"]
    bounds = vq_bounds(vq, prior, x, batch_size=4)
    assert bounds["uniform_rate"] == pytest.approx(49 * math.log(8))
    assert bounds["bound_uniform"] == pytest.approx(float(expected), rel=1e-5)
    assert bounds["prior_nll"] == pytest.approx(bounds["uniform_rate"], rel=1e-5)
    assert bounds["bound_learned"] == pytest.approx(bounds["distortion"] + bounds["prior_nll"])


def test_vq_log_px_exact_by_brute_force_and_above_the_bound():
    vq = VQVAE(num_codes=3, code_dim=2, width=4, image_shape=(1, 8, 8)).eval()
    prior = PixelCNN(num_values=3, channels=4, layers=1, image_shape=(2, 2))
    x = torch.bernoulli(torch.full((2, 1, 8, 8), 0.4))
    with torch.no_grad():
        exact = vq_log_px_exact(vq, prior.log_prob, x)
        terms = []
        for grid in all_images(3, (2, 2)):       # p(x) = Σ_z p(x|z) p(z), one grid at a time
            out = vq.decoder(vq.quantizer.codebook[grid[None]].permute(0, 3, 1, 2))
            terms.append(vq.likelihood.log_prob(x, out.expand(len(x), -1, -1, -1))
                         + prior.log_prob(grid[None]))
        brute = torch.logsumexp(torch.stack(terms), dim=0)
        bound = -vq.distortion(x) + prior.log_prob(vq.codes(x))
    assert torch.allclose(exact, brute, atol=1e-4)
    assert bool((bound <= exact + 1e-5).all())


def test_sees_future_with_include_self_reaches_the_last_position():
    """A first layer with a type-B mask sees its own pixel and nothing later; the check must say so
    at every position, the last one included (where nothing comes after)."""
    from vaebook.models.pixelcnn import causal_mask, sees_future

    model = PixelCNN(channels=4, layers=1, image_shape=(3, 3))
    model.first.mask.copy_(causal_mask(7, 7, "B"))
    assert sees_future(model, include_self=True) == []
    assert sees_future(model) != []
