"""The discretized logistic likelihood on colour images: each pixel's probability against a hand
computation, bits per dimension near 8 for a broad logistic and never below, a three-channel
ConvVAE that trains a step and comes back from a checkpoint with its likelihood."""

import math

import pytest
import torch

from vaebook.checkpoint import load_model, save_checkpoint
from vaebook.discretized import bits_per_dim
from vaebook.likelihoods import DiscretizedLogistic, make_likelihood
from vaebook.models import ConvVAE, MLPVAE


def sigmoid(t: float) -> float:
    return 1 / (1 + math.exp(-t))


def by_hand(value: int, location: float, scale: float) -> float:
    """P(value) of a logistic on [-1, 1]: the mass of the value's bin, end bins to ±∞."""
    centre = 2 * value / 255 - 1
    upper = 1.0 if value == 255 else sigmoid((centre + 1 / 255 - location) / scale)
    lower = 0.0 if value == 0 else sigmoid((centre - 1 / 255 - location) / scale)
    return upper - lower


def test_log_prob_of_a_colour_image_against_a_hand_computation():
    values = torch.tensor([0, 17, 128, 200, 254, 255] * 3).view(1, 3, 2, 3)
    # each location a little off its value, by up to ±0.1 on [-1, 1]
    locations = 2 * values / 255 - 1 + torch.linspace(-0.1, 0.1, 18).view(1, 3, 2, 3)
    log_scales = torch.linspace(-4.0, -1.0, 18).view(1, 3, 2, 3)
    out = torch.cat([locations, log_scales], 1).double()
    got = float(DiscretizedLogistic().log_prob(values.double() / 255, out))
    expected = sum(math.log(by_hand(int(v), float(m), math.exp(float(s))))
                   for v, m, s in zip(values.flatten(), locations.flatten(), log_scales.flatten()))
    assert math.isclose(got, expected, rel_tol=1e-9)
    swapped = torch.cat([log_scales, locations], 1).double()   # location and log-scale swapped
    assert not math.isclose(float(DiscretizedLogistic().log_prob(values.double() / 255, swapped)),
                            expected, rel_tol=1e-3)


def test_bits_per_dim_of_every_value_once_is_never_below_8():
    """Scoring each of the 256 values once is the cross-entropy of the uniform distribution:
    8 bits exactly for a uniform model, more for any other (Gibbs' inequality)."""
    x = (torch.arange(256, dtype=torch.float64) / 255).view(1, 1, 16, 16)
    for location, log_scale in [(0.0, math.log(1 / math.pi)), (0.0, -1.0), (0.4, -2.0)]:
        out = torch.tensor([location, log_scale], dtype=torch.float64).view(1, 2, 1, 1).expand(1, 2, 16, 16)
        bits = float(bits_per_dim(-DiscretizedLogistic().log_prob(x, out), 256))
        assert bits >= 8 - 1e-9
        by_hand_bits = -sum(math.log2(by_hand(v, location, math.exp(log_scale))) for v in range(256)) / 256
        assert math.isclose(bits, by_hand_bits, rel_tol=1e-9)


@pytest.mark.parametrize("bad, named", [(float("nan"), "nan"), (128.0, "128"), (3 / 510, "0.005882")])
def test_images_not_in_0_1_or_not_8_bit_are_named(bad, named):
    x = torch.zeros(1, 3, 4, 4)
    x[0, 2, 1, 1] = bad
    with pytest.raises(ValueError, match=named):
        ConvVAE(latent_dim=2, width=4, image_shape=(3, 4, 4), likelihood="discretized-logistic").loss((x, None))


def test_a_colour_conv_vae_trains_a_step_and_round_trips_through_a_checkpoint(tmp_path):
    torch.manual_seed(0)
    model = ConvVAE(latent_dim=4, width=8, image_shape=(3, 32, 32), likelihood="discretized-logistic")
    assert model.decode(torch.zeros(1, 4)).shape == (1, 6, 32, 32)
    x = torch.randint(0, 256, (6, 3, 32, 32)).float() / 255
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    before = model.loss((x, None))["loss"]
    before.backward()
    optimizer.step()
    assert torch.isfinite(before)
    assert model.config["likelihood"] == {"name": "discretized-logistic", "levels": 256, "min_log_scale": -7.0}
    save_checkpoint(tmp_path / "colour.pt", model)
    loaded, _ = load_model(tmp_path / "colour.pt")
    assert isinstance(loaded.likelihood, DiscretizedLogistic)
    z = torch.randn(2, 4)
    assert torch.equal(loaded.decode(z), model.decode(z))
    samples = loaded.sample(3, mean=False)
    assert samples.shape == (3, 3, 32, 32) and torch.equal(samples * 255, (samples * 255).round())


def test_mlp_vae_and_make_likelihood_by_name():
    assert isinstance(make_likelihood("discretized-logistic"), DiscretizedLogistic)
    model = MLPVAE(latent_dim=2, hidden=8, image_shape=(3, 4, 4), likelihood="discretized-logistic")
    assert model.decode(torch.zeros(5, 2)).shape == (5, 6, 4, 4)
