"""The VQ-VAE: nearest codes, the loss terms, straight-through gradients, EMA, k-means, restarts, usage."""

from __future__ import annotations

import math

import pytest
import torch

from vaebook.checkpoint import load_model, save_checkpoint
from vaebook.data import TensorLoader
from vaebook.models.vqvae import (MNIST_VQVAE, MNIST_VQVAE_CHECKPOINT, VQVAE, VectorQuantizer, codebook_usage,
                                 mnist_vqvae, perplexity)
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


def _flat(z: torch.Tensor) -> torch.Tensor:
    """(B, D, H, W) → (B·H·W, D), positions in the order the quantizer numbers them."""
    return z.permute(0, 2, 3, 1).reshape(-1, z.shape[1])


def _tiny_vqvae(**options) -> VQVAE:
    return VQVAE(num_codes=5, code_dim=3, width=4, image_shape=(1, 8, 8), **options)


# ---------------------------------------------------------------- nearest codes and the loss

def test_nearest_code_is_the_brute_force_argmin(generator):
    quantizer = VectorQuantizer(17, 4)
    with torch.no_grad():
        quantizer.codebook.copy_(torch.randn(17, 4, generator=generator))
    z_e = torch.randn(3, 4, 5, 6, generator=generator)
    _, indices, _ = quantizer.eval()(z_e)
    expected = torch.cdist(_flat(z_e), quantizer.codebook.detach()).argmin(1)
    assert torch.equal(indices.flatten(), expected)
    assert torch.equal(quantizer.nearest(_flat(z_e)), expected)
    assert indices.shape == (3, 5, 6)


def test_quantizer_output_is_the_chosen_codes(generator):
    quantizer = VectorQuantizer(6, 2).eval()
    z_e = torch.randn(2, 2, 3, 3, generator=generator)
    out, indices, _ = quantizer(z_e)
    torch.testing.assert_close(out, quantizer.codebook.detach()[indices].permute(0, 3, 1, 2))


def test_quantizer_terms_by_hand():
    quantizer = VectorQuantizer(2, 1).eval()
    with torch.no_grad():
        quantizer.codebook.copy_(torch.tensor([[0.0], [1.0]]))
    z_e = torch.tensor([[[[0.2, 0.9]]], [[[0.6, -1.0]]]])             # (2 images, D=1, 1×2 positions)
    _, indices, terms = quantizer(z_e)
    assert indices.flatten().tolist() == [0, 1, 1, 0]
    squared = [0.2 ** 2 + 0.1 ** 2, 0.4 ** 2 + 1.0 ** 2]               # summed over positions, per image
    torch.testing.assert_close(terms["codebook"], torch.tensor(squared))
    torch.testing.assert_close(terms["commitment"], torch.tensor(squared))


@pytest.mark.parametrize("ema", [False, True])
def test_vqvae_loss_by_hand(ema):
    model = _tiny_vqvae(beta=0.3, ema=ema).eval()
    x = torch.rand(4, 1, 8, 8).bernoulli()
    got = model.loss((x, None))
    z_e = model.encoder(x)
    flat = _flat(z_e)
    codebook = model.quantizer.codebook.detach()
    k = torch.cdist(flat, codebook).argmin(1)
    squared = (flat - codebook[k]).pow(2).view(4, -1).sum(1)          # per image, over positions and code dims
    z_q = codebook[k].view(4, 2, 2, 3).permute(0, 3, 1, 2)
    logits = model.decoder(z_q)
    distortion = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
    expected = distortion + (0 if ema else squared) + 0.3 * squared
    torch.testing.assert_close(got["loss"], expected.mean())
    torch.testing.assert_close(got["distortion"], distortion.mean())
    torch.testing.assert_close(got["codebook"], squared.mean())
    torch.testing.assert_close(got["commitment"], squared.mean())
    torch.testing.assert_close(got["bound_uniform"], distortion.mean() + 4 * math.log(5))   # 2×2 positions
    torch.testing.assert_close(model.distortion(x), distortion)
    # beta given to loss replaces the quantizer's own, in the commitment term only
    torch.testing.assert_close(model.loss((x, None), beta=2.0)["loss"],
                               (distortion + (0 if ema else squared) + 2.0 * squared).mean())


def test_codes_decode_and_reconstruct_agree():
    model = _tiny_vqvae().eval()
    x = torch.rand(3, 1, 8, 8)
    codes = model.codes(x)
    assert codes.shape == (3, 2, 2) and codes.dtype == torch.long and 0 <= int(codes.min()) <= int(codes.max()) < 5
    _, indices, _ = model(x)
    assert torch.equal(codes, indices)
    images = model.decode_codes(codes)
    assert images.shape == x.shape and bool(((images >= 0) & (images <= 1)).all())
    torch.testing.assert_close(model.reconstruct(x), images)
    with pytest.raises(ValueError, match=r"\(N, 1, 8, 8\)"):
        model.codes(torch.rand(3, 1, 28, 28))


# ---------------------------------------------------------------- straight-through gradients

def _gradients(model: VQVAE, x: torch.Tensor, beta: float | None = None):
    """The loss's gradients at the encoder output and at the decoder input, by autograd, and z_e."""
    seen = {}

    def keep_output(module, inputs, output):
        output.retain_grad()
        seen["z_e"] = output

    def keep_input(module, inputs):
        inputs[0].retain_grad()
        seen["z_q"] = inputs[0]

    handles = [model.encoder.register_forward_hook(keep_output), model.decoder.register_forward_pre_hook(keep_input)]
    model.zero_grad(set_to_none=True)
    model.loss((x, None), beta=beta)["loss"].backward()
    for handle in handles:
        handle.remove()
    return seen["z_e"], seen["z_q"]


@pytest.mark.parametrize("beta", [0.25, 1.7])
def test_straight_through_gradients_by_autograd(beta):
    model = _tiny_vqvae(beta=beta).double().eval()
    x = torch.rand(3, 1, 8, 8, dtype=torch.float64).bernoulli()
    z_e, z_q = _gradients(model, x)
    n = len(x)
    codebook = model.quantizer.codebook.detach()
    flat = _flat(z_e.detach())
    k = torch.cdist(flat, codebook).argmin(1)
    e = codebook[k].view(3, 2, 2, 3).permute(0, 3, 1, 2)
    torch.testing.assert_close(z_q.detach(), e)                        # the decoder gets the codes
    # encoder: the decoder's gradient at z_q passed straight through, plus the commitment's 2β(z_e − e)
    torch.testing.assert_close(z_e.grad, z_q.grad + beta * 2 * (z_e.detach() - e) / n, rtol=0, atol=1e-12)
    # codebook: only the codebook term's 2(e − z_e), summed over the vectors assigned to each code
    expected = torch.zeros_like(codebook).index_add_(0, k, 2 * (codebook[k] - flat) / n)
    torch.testing.assert_close(model.quantizer.codebook.grad, expected, rtol=0, atol=1e-12)
    assert float(z_q.grad.abs().max()) > 0                            # there was a reconstruction gradient to leak


def test_beta_scales_only_the_encoders_commitment_gradient():
    model = _tiny_vqvae().double().eval()
    x = torch.rand(3, 1, 8, 8, dtype=torch.float64).bernoulli()
    z_e_1, z_q_1 = _gradients(model, x, beta=0.1)
    codebook_1 = model.quantizer.codebook.grad.clone()
    encoder_weight_1 = model.encoder[0].weight.grad.clone()
    z_e_2, z_q_2 = _gradients(model, x, beta=0.9)
    torch.testing.assert_close(model.quantizer.codebook.grad, codebook_1, rtol=0, atol=1e-12)
    torch.testing.assert_close(z_q_2.grad, z_q_1.grad, rtol=0, atol=1e-12)   # the decoder's part is unchanged
    e = z_q_1.detach()
    torch.testing.assert_close(z_e_2.grad - z_e_1.grad, 0.8 * 2 * (z_e_1.detach() - e) / 3, rtol=0, atol=1e-12)
    assert not torch.allclose(model.encoder[0].weight.grad, encoder_weight_1)


def test_ema_codebook_gets_no_gradient():
    model = _tiny_vqvae(ema=True)
    model.loss((torch.rand(2, 1, 8, 8), None))["loss"].backward()
    assert not model.quantizer.codebook.requires_grad and model.quantizer.codebook.grad is None
    assert model.encoder[0].weight.grad is not None and model.decoder[0].weight.grad is not None


# ---------------------------------------------------------------- EMA, k-means, restarts

def test_ema_update_by_hand():
    k, d, decay, eps = 3, 2, 0.8, 1e-5
    quantizer = VectorQuantizer(k, d, ema=True, decay=decay, epsilon=eps).double()
    old = torch.tensor([[0.0, 0.0], [1.0, 1.0], [10.0, -10.0]], dtype=torch.float64)
    count = torch.tensor([2.0, 0.5, 0.0], dtype=torch.float64)
    total = torch.tensor([[0.2, 0.0], [0.4, 0.6], [0.0, 0.0]], dtype=torch.float64)
    with torch.no_grad():
        quantizer.codebook.copy_(old)
        quantizer.ema_count.copy_(count)
        quantizer.ema_sum.copy_(total)
    vectors = torch.tensor([[0.1, 0.2], [-0.3, 0.1], [1.2, 0.8], [0.2, 0.1]], dtype=torch.float64)
    z_e = vectors.t().reshape(1, d, 2, 2)                           # positions in raster order
    out, indices, _ = quantizer.train()(z_e)
    assert indices.flatten().tolist() == [0, 0, 1, 0]              # nearest of the codebook *before* the update
    torch.testing.assert_close(_flat(out), old[[0, 0, 1, 0]])
    counts = torch.tensor([3.0, 1.0, 0.0], dtype=torch.float64)
    sums = torch.stack([vectors[[0, 1, 3]].sum(0), vectors[2], torch.zeros(2, dtype=torch.float64)])
    new_count = decay * count + (1 - decay) * counts
    new_sum = decay * total + (1 - decay) * sums
    n = new_count.sum()
    smoothed = (new_count + eps) / (n + k * eps) * n
    torch.testing.assert_close(quantizer.ema_count, new_count)
    torch.testing.assert_close(quantizer.ema_sum, new_sum)
    torch.testing.assert_close(quantizer.codebook.detach(), new_sum / smoothed[:, None])
    assert float(quantizer.codebook[2].abs().max()) == 0.0             # unused with nothing summed: at 0, not NaN


def test_ema_unused_code_stays_finite_and_eval_does_not_update():
    quantizer = VectorQuantizer(4, 2, ema=True, decay=0.5)
    with torch.no_grad():
        quantizer.codebook.copy_(torch.tensor([[5.5, 5.5], [0.0, 0.0], [1.0, -1.0], [-50.0, -50.0]]))
        quantizer.ema_sum.copy_(quantizer.codebook)
    z_e = 5 + torch.rand(2, 2, 3, 3)                                 # all nearest to code 0
    for _ in range(300):                                             # the unused codes' counts underflow to 0
        _, indices, _ = quantizer(z_e)
        assert bool((indices == 0).all())
    assert quantizer.ema_count[1:].tolist() == [0.0, 0.0, 0.0]
    assert bool(torch.isfinite(quantizer.codebook).all())
    torch.testing.assert_close(quantizer.codebook.detach()[0], _flat(z_e).mean(0))   # code 0: the mean of its vectors
    frozen = quantizer.codebook.detach().clone()
    quantizer.eval()(z_e)
    assert torch.equal(quantizer.codebook.detach(), frozen)


def _clustered(generator, clusters=8, per_cluster=50, d=2):
    centres = torch.randn(clusters, d, generator=generator) * 5
    return (centres[:, None] + 0.1 * torch.randn(clusters, per_cluster, d, generator=generator)).reshape(-1, d)


def _quantization_error(quantizer: VectorQuantizer, vectors: torch.Tensor) -> float:
    return float(torch.cdist(vectors, quantizer.codebook.detach()).min(1).values.pow(2).mean())


def test_kmeans_init_reduces_the_quantization_error(generator):
    vectors = _clustered(generator)
    quantizer = VectorQuantizer(8, 2, ema=True)
    random_error = _quantization_error(quantizer, vectors)
    quantizer.init_kmeans(vectors, iterations=20, generator=torch.Generator().manual_seed(0))
    kmeans_error = _quantization_error(quantizer, vectors)
    assert kmeans_error < random_error / 10
    assert kmeans_error < 1.0                                        # well below the spread of the centres (25)
    torch.testing.assert_close(quantizer.ema_sum, quantizer.codebook.detach())   # the EMA state starts there too
    with pytest.raises(ValueError, match="at least 8 vectors"):
        quantizer.init_kmeans(vectors[:5])


def test_dead_code_restart_moves_unused_codes_onto_encoder_outputs():
    quantizer = VectorQuantizer(4, 2, decay=0.5, restart_below=0.5)
    far = torch.tensor([100.0, 100.0])
    with torch.no_grad():
        quantizer.codebook.copy_(torch.stack([torch.tensor([0.0, 0.0]), torch.tensor([1.0, 0.0]),
                                              torch.tensor([0.0, 1.0]), far]))
    z_e = torch.rand(2, 2, 4, 4)
    quantizer(z_e)                                                   # usage of code 3: 1 → 0.5, not below 0.5
    assert torch.equal(quantizer.codebook.detach()[3], far)
    quantizer(z_e)                                                   # 0.5 → 0.25: restarted
    moved = quantizer.codebook.detach()[3]
    assert bool((_flat(z_e) == moved).all(1).any()), "the dead code sits on one of the encoder outputs"
    assert float(quantizer.usage[3]) >= 0.5
    torch.testing.assert_close(quantizer.codebook.detach()[:3], torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))


def test_set_codes_sets_the_codebook_and_the_ema_state():
    quantizer = VectorQuantizer(4, 2, ema=True)
    vectors = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    quantizer.set_codes(torch.tensor([1, 3]), vectors)
    torch.testing.assert_close(quantizer.codebook.detach()[[1, 3]], vectors)
    torch.testing.assert_close(quantizer.ema_sum[[1, 3]], vectors)
    torch.testing.assert_close(quantizer.ema_count[[1, 3]], torch.ones(2))


# ---------------------------------------------------------------- perplexity and usage

def test_perplexity_of_uniform_and_single_code_use():
    assert float(perplexity(torch.arange(7).repeat(3), 7)) == pytest.approx(7.0, rel=1e-5)
    assert float(perplexity(torch.full((20,), 3), 7)) == pytest.approx(1.0, rel=1e-5)
    assert float(perplexity(torch.tensor([0, 0, 1, 1]), 8)) == pytest.approx(2.0, rel=1e-5)


def test_codebook_usage_counts_distinct_codes_over_a_loader():
    model = _tiny_vqvae().train()
    x = torch.rand(10, 1, 8, 8)
    codes = model.codes(x).flatten()
    counts = torch.bincount(codes, minlength=5).double()
    p = counts[counts > 0] / counts.sum()
    expected = {"codes_used": int((counts > 0).sum()), "perplexity": float(torch.exp(-(p * p.log()).sum()))}
    for batch_size in (3, 10):
        usage = codebook_usage(model, TensorLoader((x, torch.zeros(10)), batch_size, shuffle=False))
        assert usage["codes_used"] == expected["codes_used"]
        assert usage["perplexity"] == pytest.approx(expected["perplexity"], rel=1e-9)
    assert model.training, "codebook_usage leaves the model in the mode it found it in"
    with torch.no_grad():                                            # only codes 0 and 1 left near the encoder outputs
        model.quantizer.codebook[2:] = 1e3
    assert codebook_usage(model, TensorLoader((x, torch.zeros(10)), 4))["codes_used"] <= 2


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("options, match", [
    (dict(num_codes=0), "num_codes"), (dict(code_dim=0), "code_dim"), (dict(beta=-1.0), "beta"),
    (dict(decay=1.5), "decay"), (dict(beta=math.inf), "beta"), (dict(restart_below=-1.0), "restart_below"),
])
def test_bad_arguments(options, match):
    with pytest.raises(ValueError, match=match):
        VectorQuantizer(**{"num_codes": 4, "code_dim": 2, **options})
    with pytest.raises(ValueError, match=match):
        VQVAE(**{"num_codes": 4, "code_dim": 2, "width": 4, **options})


def test_bad_shapes():
    with pytest.raises(ValueError, match="sides divisible by 4"):
        VQVAE(image_shape=(1, 10, 10))
    with pytest.raises(ValueError, match=r"\(N, 2, H, W\)"):
        VectorQuantizer(4, 2)(torch.rand(1, 3, 4, 4))
    with pytest.raises(ValueError, match="expects a batch of shape"):
        _tiny_vqvae().loss((torch.rand(2, 64), None))


# ---------------------------------------------------------------- checkpoints and training

@pytest.mark.parametrize("ema", [False, True])
def test_checkpoint_round_trip(tmp_path, ema):
    model = _tiny_vqvae(ema=ema, restart_below=0.1)
    x = torch.rand(4, 1, 8, 8).bernoulli()
    for _ in range(3):                                               # move the EMA buffers off their start
        model.loss((x, None))
    path = save_checkpoint(tmp_path / "vq.pt", model)
    assert torch.load(path, weights_only=True)["model_name"] == "vqvae"
    loaded, _ = load_model(path)
    assert isinstance(loaded, VQVAE) and loaded.quantizer.ema == ema
    state, again = model.state_dict(), loaded.state_dict()
    assert {"quantizer.usage", "quantizer.ema_count", "quantizer.ema_sum"} <= state.keys()
    assert state.keys() == again.keys() and all(torch.equal(state[key], again[key]) for key in state)
    model.eval()
    for key, value in model.loss((x, None)).items():
        torch.testing.assert_close(loaded.loss((x, None))[key], value)


@pytest.mark.parametrize("ema", [False, True])
def test_trainer_lowers_the_loss(ema):
    # β = 1 keeps the encoder near the small initial codebook, so that the total loss (not only the
    # distortion) goes down within a few steps
    model = VQVAE(num_codes=5, code_dim=3, width=16, image_shape=(1, 8, 8), beta=1.0, ema=ema, decay=0.9)
    x = torch.rand(4, 1, 8, 8).bernoulli()
    history = Trainer(model, lr=3e-3, progress=False).fit(TensorLoader((x, torch.zeros(4)), 4), 60)
    first, last = history["train_loss"][0], sum(history["train_loss"][-3:]) / 3
    assert last < first - 2.0


# ---------------------------------------------------------------- chapter 12's model, shared with 13

def test_mnist_vqvae_settings_and_builder():
    assert set(MNIST_VQVAE) == {"smoke", "book", "full"}
    for settings in MNIST_VQVAE.values():
        assert set(settings) == {"epochs", "train_images", "config"}
        model = mnist_vqvae(settings["config"])
        assert model.quantizer.ema and model.quantizer.restart_below == 1.0
        assert model.quantizer.num_codes == settings["config"]["num_codes"]
        assert model.grid_shape == (7, 7)
    assert MNIST_VQVAE_CHECKPOINT == "ch12-vqvae"


def test_mnist_vqvae_rejects_a_bad_size():
    with pytest.raises(ValueError, match="code_dim"):
        mnist_vqvae({"num_codes": 4, "code_dim": 0, "width": 8})
