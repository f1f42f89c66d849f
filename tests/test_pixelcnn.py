"""The PixelCNN and the Gated PixelCNN: masks, causality by autograd, the blind spot, exact normalisation."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F

from vaebook.checkpoint import load_model, save_checkpoint
from vaebook.data import TensorLoader
from vaebook.models.pixelcnn import (GatedPixelCNN, MaskedConv2d, PixelCNN, causal_mask, dependence,
                                     horizontal_mask, sampling_seconds, sees_future, vertical_mask)
from vaebook.train import Trainer


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _one_thread():
    """Models this small run faster on one thread than on a shared pair of cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _models(shape=(6, 6), num_values=2):
    """A tiny PixelCNN, Gated PixelCNN and conditional Gated PixelCNN (label 1 where one is needed)."""
    return [(PixelCNN(num_values, channels=8, layers=2, image_shape=shape), None),
            (GatedPixelCNN(num_values, channels=8, layers=2, image_shape=shape), None),
            (GatedPixelCNN(num_values, channels=8, layers=2, num_labels=3, image_shape=shape), 1)]


def _sees_the_past(model) -> bool:
    """Whether the last pixel's output depends on the pixels before it at all: with every ReLU of a tiny
    head dead, no input would matter and a causality check would pass for nothing."""
    h, w = model.image_shape
    return bool(dependence(model, (h - 1, w - 1)).flatten()[:-1].gt(0).sum() >= 3)


def _all_binary_images(shape) -> torch.Tensor:
    """Every binary image of this shape, (2^(H·W), H, W)."""
    h, w = shape
    n = torch.arange(2 ** (h * w))
    return ((n[:, None] >> torch.arange(h * w)) & 1).view(-1, h, w)


def _sharpen(model) -> None:
    """Scale the last layer so that the conditionals are far from uniform (a stronger normalisation test)."""
    with torch.no_grad():
        model.head[-1].weight.mul_(20)
        model.head[-1].bias.normal_(0, 2)


# ---------------------------------------------------------------- masks

def test_causal_masks_by_hand():
    assert causal_mask(3, 3, "A").tolist() == [[1, 1, 1],
                                               [1, 0, 0],
                                               [0, 0, 0]]
    assert causal_mask(3, 3, "B").tolist() == [[1, 1, 1],
                                               [1, 1, 0],
                                               [0, 0, 0]]
    assert causal_mask(5, 5, "A").tolist() == [[1, 1, 1, 1, 1],
                                               [1, 1, 1, 1, 1],
                                               [1, 1, 0, 0, 0],
                                               [0, 0, 0, 0, 0],
                                               [0, 0, 0, 0, 0]]
    assert causal_mask(5, 5, "B").tolist() == [[1, 1, 1, 1, 1],
                                               [1, 1, 1, 1, 1],
                                               [1, 1, 1, 0, 0],
                                               [0, 0, 0, 0, 0],
                                               [0, 0, 0, 0, 0]]
    with pytest.raises(ValueError, match="mask_type"):
        causal_mask(3, 3, "C")


def test_gated_stack_masks_by_hand():
    assert vertical_mask(3, first=True).tolist() == [[1, 1, 1], [0, 0, 0], [0, 0, 0]]
    assert vertical_mask(3, first=False).tolist() == [[1, 1, 1], [1, 1, 1], [0, 0, 0]]
    assert horizontal_mask(5, first=True).tolist() == [[1, 1, 0, 0, 0]]
    assert horizontal_mask(5, first=False).tolist() == [[1, 1, 1, 0, 0]]


def _conv_dependence(conv: MaskedConv2d, shape, position) -> torch.Tensor:
    x = torch.randn(1, conv.in_channels, *shape, requires_grad=True)
    conv(x)[0, :, position[0], position[1]].sum().backward()
    return x.grad[0].abs().sum(0)


@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_one_masked_convolution_by_autograd(mask_type):
    h, w = 6, 6
    conv = MaskedConv2d(2, 3, causal_mask(3, 3, mask_type))
    for i in range(h):
        for j in range(w):
            seen = _conv_dependence(conv, (h, w), (i, j)).flatten() != 0
            index = i * w + j
            if mask_type == "A":
                assert not seen[index:].any(), f"type A: output {(i, j)} sees itself or a later input"
            else:
                assert not seen[index + 1:].any(), f"type B: output {(i, j)} sees a later input"
                assert bool(seen[index]), "type B sees the centre"
            # and it does see the pixels of the window before it: the row above and the left neighbour
            expected = {(i - 1, j + dj) for dj in (-1, 0, 1)} | {(i, j - 1)} | ({(i, j)} if mask_type == "B" else set())
            expected = {(a, b) for a, b in expected if 0 <= a < h and 0 <= b < w}
            assert {(int(k) // w, int(k) % w) for k in seen.nonzero().flatten()} == expected


def test_the_models_are_causal():
    for model, _ in _models():
        assert _sees_the_past(model)
        assert sees_future(model) == []


def test_a_mask_off_by_one_is_caught():
    plain = PixelCNN(channels=8, layers=2, image_shape=(6, 6))
    plain.first.mask = causal_mask(7, 7, "B")                      # type B in the first layer: sees itself
    assert _sees_the_past(plain)
    assert sees_future(plain) != []
    assert sees_future(plain, include_self=True) == []
    for stack, mask in [("horizontal", horizontal_mask(7, first=False)),   # sees itself
                        ("vertical", vertical_mask(7, first=False))]:      # sees its own row, right of it too
        gated = GatedPixelCNN(channels=8, layers=2, image_shape=(6, 6))
        setattr(getattr(gated.first, stack), "mask", mask)
        assert _sees_the_past(gated)
        assert sees_future(gated) != [], stack


def test_pixelcnn_blind_spot_and_the_gated_one_sees_every_pixel_above():
    """Two type-B 3×3 layers after the 7×7 type-A one: a reach of 5 pixels. At (6, 5) the PixelCNN misses
    (5, 9), (5, 10) and (4, 10), up and to the right; the Gated PixelCNN of as many layers sees the whole
    5-row band above within 5 columns either side, and the 5 pixels to the left."""
    position, shape = (6, 5), (8, 12)
    window = torch.zeros(shape, dtype=torch.bool)
    window[1:6, 0:11] = True                                       # rows i-5..i-1, columns j-5..j+5
    window[6, 0:5] = True                                          # row i, columns j-5..j-1
    blind = torch.zeros(shape, dtype=torch.bool)
    blind[5, 9] = blind[5, 10] = blind[4, 10] = True
    plain = PixelCNN(channels=8, layers=2, image_shape=shape)
    gated = GatedPixelCNN(channels=8, layers=2, image_shape=shape)
    assert torch.equal(dependence(plain, position) > 0, window & ~blind)
    assert torch.equal(dependence(gated, position) > 0, window)


# ---------------------------------------------------------------- log p(x), normalisation, sampling

def test_log_prob_is_the_sum_of_the_per_pixel_log_softmax():
    for model, label in _models((4, 5), num_values=3):
        x = torch.randint(3, (5, 4, 5))
        labels = None if label is None else torch.tensor([0, 1, 2, 1, 0])
        logits = model(x, labels)
        assert logits.shape == (5, 3, 4, 5)
        expected = F.log_softmax(logits, 1).gather(1, x[:, None]).flatten(1).sum(1)
        torch.testing.assert_close(model.log_prob(x, labels), expected)
        loss = model.loss((x, labels if labels is not None else torch.zeros(5)))
        torch.testing.assert_close(loss["loss"], -expected.mean())
        torch.testing.assert_close(loss["nll"], -expected.mean())


def test_probabilities_of_all_binary_images_sum_to_one():
    shape = (2, 3)
    images = _all_binary_images(shape)
    for model, label in _models(shape):
        _sharpen(model)
        with torch.no_grad():
            log_p = model.log_prob(images, label)
        assert float(log_p.std()) > 0.5, "far from uniform, so that the sum is a real test"
        assert float(torch.logsumexp(log_p.double(), 0).exp()) == pytest.approx(1.0, abs=1e-5)


def test_a_model_that_sees_the_future_is_not_normalised():
    shape = (2, 3)
    model = PixelCNN(channels=4, layers=1, image_shape=shape)
    _sharpen(model)
    model.first.mask = causal_mask(7, 7, "B")
    with torch.no_grad():
        total = float(torch.logsumexp(model.log_prob(_all_binary_images(shape)).double(), 0).exp())
    assert abs(total - 1) > 1e-2


def test_the_conditional_model_is_normalised_for_every_label():
    shape = (2, 2)
    images = _all_binary_images(shape)
    model = GatedPixelCNN(channels=4, layers=1, num_labels=3, image_shape=shape)
    _sharpen(model)
    with torch.no_grad():
        totals = [float(torch.logsumexp(model.log_prob(images, label).double(), 0).exp()) for label in range(3)]
        per_label = [model.log_prob(images, label) for label in range(3)]
    assert totals == pytest.approx([1.0] * 3, abs=1e-5)
    assert not torch.allclose(per_label[0], per_label[1]), "the label changes the distribution"
    with pytest.raises(ValueError, match="labels"):
        model.log_prob(images)
    with pytest.raises(ValueError, match="labels must lie"):
        model.log_prob(images, 3)


def test_ternary_pixelcnn_is_normalised():
    shape = (2, 2)
    n = torch.arange(3 ** 4)
    images = torch.stack([(n // 3 ** k) % 3 for k in range(4)], 1).view(-1, *shape)
    model = PixelCNN(3, channels=4, layers=1, image_shape=shape)
    _sharpen(model)
    with torch.no_grad():
        assert float(torch.logsumexp(model.log_prob(images).double(), 0).exp()) == pytest.approx(1.0, abs=1e-5)


def test_sample_is_in_the_alphabet_with_the_right_shape_and_reproducible():
    for model, label in _models((3, 4), num_values=3):
        model.train()
        torch.manual_seed(7)
        a = model.sample(5, label)
        torch.manual_seed(7)
        b = model.sample(5, label)
        assert a.shape == (5, 3, 4) and a.dtype == torch.long
        assert bool(((a >= 0) & (a < 3)).all())
        assert torch.equal(a, b)
        assert model.training, "sample leaves the model in the mode it found it in"
    assert sampling_seconds(PixelCNN(channels=2, layers=1, image_shape=(2, 2)), 2) > 0


def test_sample_follows_the_model():
    """A model whose every conditional puts (almost) all its mass on 1 draws images of ones."""
    model = PixelCNN(channels=4, layers=1, image_shape=(3, 3))
    with torch.no_grad():
        model.head[-1].weight.zero_()
        model.head[-1].bias.copy_(torch.tensor([-30.0, 30.0]))
    assert bool((model.sample(4) == 1).all())


# ---------------------------------------------------------------- to_values and bad input

def test_to_values():
    model = PixelCNN(2, channels=2, layers=1, image_shape=(2, 3))
    binary = torch.tensor([[[0.0, 1.0, 1.0], [0.0, 0.0, 1.0]]])
    assert model.to_values(binary).tolist() == [[[0, 1, 1], [0, 0, 1]]]
    assert model.to_values(binary[:, None]).shape == (1, 2, 3)          # (N, 1, H, W) too
    assert model.to_values(binary.long()).dtype == torch.long
    codes = PixelCNN(7, channels=2, layers=1, image_shape=(2, 2))
    assert codes.to_values(torch.tensor([[[0, 6], [3, 2]]])).tolist() == [[[0, 6], [3, 2]]]
    grey = PixelCNN(256, channels=2, layers=1, image_shape=(1, 256))
    levels = torch.arange(256)
    assert torch.equal(grey.to_values((levels.float() / 255).view(1, 1, 256))[0, 0], levels)


@pytest.mark.parametrize("num_values, bad, named", [
    (2, torch.tensor([[[0, 2, 1]]]), "value 2"),
    (2, torch.tensor([[[0.0, 2.0, 1.0]]]), "value 2"),
    (2, torch.tensor([[[0.0, 0.5, 1.0]]]), "0.5"),
    (2, torch.tensor([[[0, -1, 1]]]), "value -1"),
    (256, torch.tensor([[[0.0, 0.5, 1.0]]]), "0.5"),
    (5, torch.tensor([[[0, 1, 5]]]), "value 5"),
])
def test_to_values_rejects_values_outside_the_alphabet(num_values, bad, named):
    model = PixelCNN(num_values, channels=2, layers=1, image_shape=(1, 3))
    with pytest.raises(ValueError, match=named):
        model.to_values(bad)


def test_to_values_rejects_wrong_shapes():
    model = PixelCNN(2, channels=2, layers=1, image_shape=(2, 3))
    for shape in [(1, 3, 2), (1, 2, 3, 3), (6,), (1, 2, 2, 3)]:
        with pytest.raises(ValueError, match=re.escape(f"got {shape}")):
            model.to_values(torch.zeros(shape))


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_values"):
        PixelCNN(num_values=1)
    with pytest.raises(ValueError, match="num_values"):
        GatedPixelCNN(num_values=1)
    with pytest.raises(ValueError, match="kernel_size"):
        GatedPixelCNN(kernel_size=4)
    with pytest.raises(ValueError, match="image_shape"):
        PixelCNN(image_shape=(1, 28, 28))
    with pytest.raises(ValueError, match="num_labels"):
        GatedPixelCNN(num_labels=-1)
    with pytest.raises(ValueError, match="at least 1"):
        PixelCNN(channels=2, layers=1, image_shape=(2, 2)).sample(0)


# ---------------------------------------------------------------- checkpoints and training

@pytest.mark.parametrize("name, config", [
    ("pixelcnn", dict(num_values=3, channels=4, layers=2, image_shape=(4, 4))),
    ("gated-pixelcnn", dict(num_values=3, channels=4, layers=2, kernel_size=5, num_labels=4, image_shape=(4, 4))),
])
def test_checkpoint_round_trip(tmp_path, name, config):
    from vaebook.models import build_model

    model = build_model(name, **config)
    path = save_checkpoint(tmp_path / f"{name}.pt", model)
    assert torch.load(path, weights_only=True)["model_config"]["num_values"] == 3
    loaded, _ = load_model(path)
    assert type(loaded) is type(model) and loaded.config == model.config
    state = model.state_dict()
    assert all(torch.equal(state[key], value) for key, value in loaded.state_dict().items())
    batch = (torch.randint(3, (6, 4, 4)), torch.randint(4, (6,)))
    torch.testing.assert_close(loaded.loss(batch)["loss"], model.loss(batch)["loss"])


@pytest.mark.parametrize("which", ["pixelcnn", "gated", "conditional"])
def test_trainer_lowers_the_loss(which):
    model = {"pixelcnn": lambda: PixelCNN(channels=8, layers=1, image_shape=(6, 6)),
             "gated": lambda: GatedPixelCNN(channels=8, layers=1, image_shape=(6, 6)),
             "conditional": lambda: GatedPixelCNN(channels=8, layers=1, num_labels=2, image_shape=(6, 6))}[which]()
    x = (torch.rand(2, 6, 6) < 0.5).float().repeat(8, 1, 1)       # two images, eight times each
    labels = torch.tensor([0, 1]).repeat(8)
    history = Trainer(model, lr=1e-2, progress=False).fit(TensorLoader((x, labels), 16), 40)
    assert history["train_loss"][-1] < 0.5 * history["train_loss"][0]


def test_dependence_leaves_no_gradients_in_the_model():
    """Drawing a receptive field must not leave .grad behind for the next optimizer step to use."""
    model = PixelCNN(image_shape=(5, 5), channels=8, layers=2)
    dependence(model, (2, 2))
    assert all(parameter.grad is None for parameter in model.parameters())
