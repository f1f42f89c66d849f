"""Tests for vaebook.evaluate: the ELBO with its rate/distortion split and the importance-weighted bound.

Two kinds of model: a linear-Gaussian VAE, whose log p(x), ELBO and exact posterior are known in
closed form, and a tiny MLP VAE trained for a few hundred steps on MNIST (the bundled subset offline).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from vaebook.data import TensorLoader, load_images
from vaebook.evaluate import evaluate, evaluate_iw, iw_log_likelihood
from vaebook.losses import negative_elbo
from vaebook.models import build_model
from vaebook.models.base import VAE
from vaebook.settings import profile
from vaebook.train import make_adam


class LinearGaussianVAE(VAE):
    """p(z) = N(0, I), p(x|z) = N(Wz + b, s²I) with orthogonal columns of W, so the exact posterior is
    a diagonal Gaussian; q(z|x) is that posterior, shifted by ``shift`` and with variances times ``scale``."""

    def __init__(self, pixels: int = 4, latent_dim: int = 2, noise_var: float = 0.3,
                 shift: float = 0.0, scale: float = 1.0, seed: int = 0):
        super().__init__(latent_dim, (1, pixels), {"name": "gaussian", "variance": noise_var})
        g = torch.Generator().manual_seed(seed)
        q, _ = torch.linalg.qr(torch.randn(pixels, latent_dim, generator=g, dtype=torch.float64))
        self.W = q * torch.linspace(1.0, 2.0, latent_dim, dtype=torch.float64)
        self.b = torch.randn(pixels, generator=g, dtype=torch.float64)
        self.s2, self.shift, self.scale = noise_var, shift, scale
        self.dummy = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact p(z|x): covariance (I + WᵀW/s²)⁻¹ (diagonal here), mean Σ Wᵀ(x − b)/s²."""
        var = 1.0 / (1.0 + (self.W**2).sum(0) / self.s2)
        mean = var * ((x.flatten(1) - self.b) @ self.W) / self.s2
        return mean, var.expand_as(mean)

    def encode(self, x):
        mean, var = self.posterior(x)
        return mean + self.shift, torch.log(var * self.scale)

    def decode(self, z):
        return (z @ self.W.T + self.b).view(-1, *self.image_shape)

    def exact_log_px(self, x: torch.Tensor) -> np.ndarray:
        cov = (self.W @ self.W.T + self.s2 * torch.eye(len(self.b), dtype=torch.float64)).numpy()
        return multivariate_normal(self.b.numpy(), cov).logpdf(x.flatten(1).numpy())

    def exact_elbo(self, x: torch.Tensor) -> torch.Tensor:
        """E_q[log p(x|z)] − KL(q || p), both in closed form."""
        m, log_v = self.encode(x)
        v = log_v.exp()
        residual = ((x.flatten(1) - m @ self.W.T - self.b) ** 2).sum(1) + (v * (self.W**2).sum(0)).sum(1)
        pixels = len(self.b)
        expected_log_lik = -0.5 * (pixels * math.log(2 * math.pi * self.s2) + residual / self.s2)
        kl = 0.5 * (v + m**2 - 1 - log_v).sum(1)
        return expected_log_lik - kl


def data_from(model: LinearGaussianVAE, n: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, model.latent_dim, generator=g, dtype=torch.float64)
    x = z @ model.W.T + model.b + math.sqrt(model.s2) * torch.randn(n, len(model.b), generator=g, dtype=torch.float64)
    return x.view(n, *model.image_shape)


def test_exact_posterior_gives_exact_log_likelihood_for_every_k():
    """With q = p(z|x) every importance weight equals p(x), so the estimate is exact for any K (and any chunk)."""
    model = LinearGaussianVAE()
    x = data_from(model, 50)
    exact = model.exact_log_px(x)
    for k, chunk in [(1, 500), (10, 3), (200, 500), (200, None)]:
        torch.manual_seed(k)
        np.testing.assert_allclose(iw_log_likelihood(model, x, k, chunk).numpy(), exact, atol=1e-9)
    # and then the ELBO is tight too: KL(q(z|x) || p(z|x)) = 0
    np.testing.assert_allclose(model.exact_elbo(x).numpy(), exact, atol=1e-9)


def test_k1_is_the_elbo_integrand_with_the_same_noise():
    """K = 1 is exactly log p(x, z) − log q(z|x) at z = μ + σ·ε, for the same ε."""
    model = LinearGaussianVAE(shift=0.4, scale=2.0)
    x = data_from(model, 7)
    torch.manual_seed(123)
    estimate = iw_log_likelihood(model, x, k=1)
    torch.manual_seed(123)
    mu, log_var = model.encode(x)
    eps = torch.randn(1, *mu.shape, dtype=mu.dtype)[0]
    z = mu + torch.exp(0.5 * log_var) * eps
    sigma = torch.exp(0.5 * log_var)
    by_hand = []
    for i in range(len(x)):
        log_px_z = multivariate_normal(model.decode(z[i:i + 1]).flatten().numpy(), model.s2).logpdf(x[i].flatten().numpy())
        log_pz = multivariate_normal(np.zeros(2), np.eye(2)).logpdf(z[i].numpy())
        log_qz = multivariate_normal(mu[i].numpy(), np.diag(sigma[i].numpy() ** 2)).logpdf(z[i].numpy())
        by_hand.append(log_px_z + log_pz - log_qz)
    np.testing.assert_allclose(estimate.numpy(), by_hand, rtol=1e-10)


def test_iw_bound_sits_between_elbo_and_log_px_and_rises_with_k():
    """Misspecified q: E[L_1] = ELBO ≤ E[L_10] ≤ E[L_100] ≤ log p(x), checked with Monte Carlo error bars."""
    model = LinearGaussianVAE(shift=0.5, scale=3.0)
    x = data_from(model, 2000)
    exact = torch.from_numpy(model.exact_log_px(x))
    elbo = model.exact_elbo(x)
    torch.manual_seed(0)
    gaps = {k: iw_log_likelihood(model, x, k) - exact for k in (1, 10, 100)}   # L_K − log p(x), per example

    def mean_se(t):
        return float(t.mean()), float(t.std() / math.sqrt(len(t)))

    m1, se1 = mean_se(gaps[1] - (elbo - exact))
    assert abs(m1) < 4 * se1, f"E[L_1] should equal the ELBO: difference {m1:.4f} ± {se1:.4f}"
    assert float((elbo - exact).mean()) < -0.1  # the misspecified q leaves a real gap
    for small, large in [(1, 10), (10, 100)]:
        m, se = mean_se(gaps[large] - gaps[small])   # paired: same examples
        assert m > 4 * se, f"L_{large} should exceed L_{small} on average: {m:.4f} ± {se:.4f}"
    m100, se100 = mean_se(gaps[100])
    assert m100 < 4 * se100, "L_K may not exceed log p(x) on average"
    assert abs(m100) < abs(float(gaps[1].mean())) / 5  # K = 100 closes most of the gap


@pytest.fixture(scope="module")
def tiny_trained_vae():
    """An MLP VAE trained for 300 steps on dynamically binarized MNIST (bundled subset when offline)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("VAEBOOK_PROFILE", "smoke")
    torch.manual_seed(0)
    train = load_images("mnist", "train", subset=3000)
    test = load_images("mnist", "test", binarize="static", subset=300)
    mp.undo()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a model this small trains faster on one thread than on a shared pair
    model = build_model("mlp", latent_dim=8, hidden=128)
    optimizer = make_adam(model.parameters(), lr=2e-3)
    loader = TensorLoader(train, batch_size=100, binarize="dynamic")
    step = 0
    while step < 300:
        for batch in loader:
            loss = model.loss(batch)["loss"]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            if step == 300:
                break
    torch.set_num_threads(threads)
    return model.eval(), test


def test_trained_model_iw_at_least_elbo_and_rising(tiny_trained_vae):
    model, test = tiny_trained_vae
    x = test.images
    torch.manual_seed(0)
    # the ELBO with the closed-form KL, averaged over 20 draws of z per example
    with torch.no_grad():
        elbo = -torch.stack([negative_elbo_per_example(model, x) for _ in range(20)]).mean(0)
    estimates = {k: iw_log_likelihood(model, x, k) for k in (1, 10, 100)}
    diff = estimates[1] - elbo
    se = float(diff.std() / math.sqrt(len(diff)))
    assert abs(float(diff.mean())) < 4 * se + 1e-3, "L_1 is an unbiased estimate of the ELBO"
    for small, large in [(1, 10), (10, 100)]:
        d = estimates[large] - estimates[small]
        se = float(d.std() / math.sqrt(len(d)))
        assert float(d.mean()) > 4 * se, f"L_{large} should exceed L_{small}: {float(d.mean()):.3f} ± {se:.3f}"
    assert float(estimates[100].mean()) > float(elbo.mean())
    # evaluate_iw is the mean negative of the same estimate over a loader
    torch.manual_seed(1)
    nll = evaluate_iw(model, TensorLoader(test, batch_size=128, shuffle=False), k=10)
    assert abs(nll + float(estimates[10].mean())) < 1.0


def negative_elbo_per_example(model, x):
    out, mu, log_var, _ = model(x)
    from vaebook.distributions import kl_normal_std_normal
    return -model.likelihood.log_prob(x, out) + kl_normal_std_normal(mu, log_var)


def test_evaluate_splits_neg_elbo_into_rate_and_distortion(tiny_trained_vae):
    model, test = tiny_trained_vae
    torch.manual_seed(0)
    metrics = evaluate(model, TensorLoader(test, batch_size=64, shuffle=False))
    assert set(metrics) >= {"loss", "neg_elbo", "rate", "distortion"}
    assert metrics["neg_elbo"] == pytest.approx(metrics["rate"] + metrics["distortion"], rel=1e-5)
    assert metrics["rate"] > 0
    # weighted by batch size: the same as one big batch, up to the sampling noise of z
    torch.manual_seed(0)
    with torch.no_grad():
        one_batch = {k: float(v) for k, v in negative_elbo(model, test.images).items()}
    assert metrics["rate"] == pytest.approx(one_batch["rate"], rel=1e-4)  # the rate has no sampling noise


def test_bad_input_raises_clear_errors(tiny_trained_vae):
    model, test = tiny_trained_vae
    with pytest.raises(ValueError, match="at least 1"):
        iw_log_likelihood(model, test.images[:2], k=0)
    with pytest.raises(ValueError, match="chunk"):
        iw_log_likelihood(model, test.images[:2], k=5, chunk=0)
    with pytest.raises(ValueError, match="expects a batch of shape"):
        iw_log_likelihood(model, test.images[:2].flatten(1), k=5)
    with pytest.raises(ValueError, match="empty"):
        evaluate(model, [])


def test_iw_decodes_at_most_samples_per_call_at_a_time(tiny_trained_vae, monkeypatch):
    import vaebook.evaluate

    model, test = tiny_trained_vae
    calls = []
    decode = model.decode
    monkeypatch.setattr(model, "decode", lambda z: calls.append(len(z)) or decode(z))
    monkeypatch.setattr(vaebook.evaluate, "SAMPLES_PER_CALL", 400)
    iw_log_likelihood(model, test.images[:30], k=100)            # 13 samples per image at a time: 390 images
    assert calls == [390] * 7 + [270]
    calls.clear()
    iw_log_likelihood(model, test.images[:300], k=3)             # 300 images: one sample of each at a time
    assert calls == [300] * 3


def _stopping_after(iw_log_likelihood, batches: int):
    """iw_log_likelihood that raises KeyboardInterrupt (a kernel stopped by hand) after this many batches."""
    calls = 0

    def stopping(batch, k):
        nonlocal calls
        calls += 1
        if calls > batches:
            raise KeyboardInterrupt
        return iw_log_likelihood(batch, k)

    return stopping


def _iw_file(folder):
    files = list(folder.glob("*.iw.unfinished.pt"))
    assert len(files) <= 1
    return files[0] if files else None


def test_evaluate_iw_resumes_where_it_stopped(tiny_trained_vae, tmp_path, monkeypatch):
    model, test = tiny_trained_vae
    loader = TensorLoader((test.images[:250], test.labels[:250]), batch_size=50, shuffle=False)
    torch.manual_seed(0)
    plain = evaluate_iw(model, loader, k=20)
    monkeypatch.setenv("VAEBOOK_CHECKPOINTS", str(tmp_path))
    torch.manual_seed(0)
    assert evaluate_iw(model, loader, k=20, name="test-iw") == plain     # saving after each batch changes nothing
    assert _iw_file(tmp_path) is None                                       # a finished evaluation leaves no file

    # stop it after two of five batches, as a killed kernel would
    real = model.iw_log_likelihood
    monkeypatch.setattr(model, "iw_log_likelihood", _stopping_after(real, 2))
    torch.manual_seed(0)
    with pytest.raises(KeyboardInterrupt):
        evaluate_iw(model, loader, k=20, name="test-iw")
    saved = torch.load(_iw_file(tmp_path), weights_only=True)
    assert (saved["batches"], saved["count"]) == (2, 100)
    monkeypatch.setattr(model, "iw_log_likelihood", real)
    torch.manual_seed(123)                 # the resumed run restores the generator the stopped run had reached
    assert evaluate_iw(model, loader, k=20, name="test-iw") == plain
    assert _iw_file(tmp_path) is None


def test_evaluate_iw_starts_over_for_another_k_and_names_a_corrupt_file(tiny_trained_vae, tmp_path, monkeypatch,
                                                                        capsys):
    from vaebook.checkpoint import CheckpointError

    model, test = tiny_trained_vae
    loader = TensorLoader((test.images[:100], test.labels[:100]), batch_size=50, shuffle=False)
    monkeypatch.setenv("VAEBOOK_CHECKPOINTS", str(tmp_path))
    real = model.iw_log_likelihood
    monkeypatch.setattr(model, "iw_log_likelihood", _stopping_after(real, 1))
    with pytest.raises(KeyboardInterrupt):
        evaluate_iw(model, loader, k=20, name="test-iw")
    monkeypatch.setattr(model, "iw_log_likelihood", real)
    torch.manual_seed(5)
    other_k = evaluate_iw(model, loader, k=10, name="test-iw")
    assert "saved for another model, data or K; starting the evaluation over" in capsys.readouterr().out
    torch.manual_seed(5)
    assert other_k == evaluate_iw(model, loader, k=10)                   # nothing of the K = 20 run was used

    (tmp_path / f"test-iw-{profile()}.iw.unfinished.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=f"test-iw-{profile()}.iw.unfinished.pt is not a readable evaluation"):
        evaluate_iw(model, loader, k=10, name="test-iw")
