"""The linear-Gaussian latent-variable model (probabilistic PCA), where every quantity is exact.

    z ~ N(0, I_d),    x | z ~ N(W z + b, σ² I_D)    ⇒    x ~ N(b, W Wᵀ + σ² I_D)

log p(x), the posterior p(z|x), the ELBO of a Gaussian q and its KL to the
posterior all have closed forms, so chapters 3 and 4 can check variational
inference against the truth. A Gaussian q is given by its mean ``mu`` (N, d)
and its covariance ``cov`` ((d, d) or (N, d, d)); a VAE-style diagonal q
(``mu``, ``log_var``) becomes ``diag_cov(log_var)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from vaebook.distributions import LOG_2PI, kl_mvn, log_normal_diag, log_standard_normal


def diag_cov(log_var: torch.Tensor) -> torch.Tensor:
    """The covariance matrix diag(exp(log σ²)) of a diagonal Gaussian, for the full-covariance functions here."""
    return torch.diag_embed(torch.exp(log_var))


def log_normal_full(x: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    """log N(x; mean, cov) for a full covariance, through its Cholesky factor (last dimension = event)."""
    chol = torch.linalg.cholesky(cov)
    diff = (x - mean).unsqueeze(-1)
    white = torch.linalg.solve_triangular(chol, diff, upper=False).squeeze(-1)
    logdet = 2 * torch.log(chol.diagonal(dim1=-2, dim2=-1)).sum(-1)
    return -0.5 * (x.shape[-1] * LOG_2PI + logdet + (white**2).sum(-1))


class LinearGaussian(nn.Module):
    """Probabilistic PCA: z ~ N(0, I_d), x|z ~ N(Wz + b, σ² I). Parameters θ = (W, b, log σ²)."""

    def __init__(self, W: torch.Tensor, b: torch.Tensor, noise_var: float | torch.Tensor):
        super().__init__()
        if W.dim() != 2 or b.shape != (W.shape[0],):
            raise ValueError(f"W must be (D, d) and b (D,), got W {tuple(W.shape)} and b {tuple(b.shape)}")
        noise_var = torch.as_tensor(noise_var, dtype=W.dtype)
        if noise_var.numel() != 1 or not bool(noise_var > 0):
            raise ValueError(f"noise_var must be one positive number, got {noise_var}")
        self.W = nn.Parameter(W.clone())
        self.b = nn.Parameter(b.clone())
        self.log_noise_var = nn.Parameter(torch.log(noise_var.reshape(())).clone())

    @classmethod
    def random(cls, data_dim: int, latent_dim: int, noise_var: float = 0.5,
               generator: torch.Generator | None = None, dtype=torch.float64) -> "LinearGaussian":
        """A model with standard-normal W and b, for examples and tests."""
        W = torch.randn(data_dim, latent_dim, generator=generator, dtype=dtype)
        b = torch.randn(data_dim, generator=generator, dtype=dtype)
        return cls(W, b, noise_var)

    @property
    def noise_var(self) -> torch.Tensor:
        return torch.exp(self.log_noise_var)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """n draws (x, z) from the joint p(z) p(x|z)."""
        d, D = self.W.shape[1], self.W.shape[0]
        z = torch.randn(n, d, generator=generator, dtype=self.W.dtype)
        noise = torch.randn(n, D, generator=generator, dtype=self.W.dtype)
        return z @ self.W.T + self.b + self.noise_var.sqrt() * noise, z

    def marginal_cov(self) -> torch.Tensor:
        """Cov[x] = W Wᵀ + σ² I."""
        return self.W @ self.W.T + self.noise_var * torch.eye(self.W.shape[0], dtype=self.W.dtype)

    def log_marginal(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log p(x) = log N(x; b, W Wᵀ + σ² I), one number per row of x."""
        return log_normal_full(x, self.b, self.marginal_cov())

    def log_joint(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x, z) = log N(z; 0, I) + log N(x; Wz + b, σ² I); z may carry extra leading sample dims."""
        log_var = self.log_noise_var.expand(x.shape[-1])
        return log_standard_normal(z) + log_normal_diag(x, z @ self.W.T + self.b, log_var)

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact p(z|x) = N(mean, cov): cov = (I + WᵀW/σ²)⁻¹, mean = cov Wᵀ (x − b)/σ². Cov is shared by all x."""
        precision = torch.eye(self.W.shape[1], dtype=self.W.dtype) + self.W.T @ self.W / self.noise_var
        cov = torch.linalg.inv(precision)
        mean = (x - self.b) @ self.W @ cov.T / self.noise_var
        return mean, cov

    def expected_log_likelihood(self, x: torch.Tensor, mu: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
        """E_q[log p(x|z)] for q = N(mu, cov), in closed form: the reconstruction term of the ELBO."""
        D = x.shape[-1]
        residual = x - mu @ self.W.T - self.b
        spread = (self.W @ cov @ self.W.T).diagonal(dim1=-2, dim2=-1).sum(-1)   # tr(W Σ Wᵀ)
        return -0.5 * (D * (LOG_2PI + self.log_noise_var) + ((residual**2).sum(-1) + spread) / self.noise_var)

    def elbo(self, x: torch.Tensor, mu: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
        """ELBO(q) = E_q[log p(x|z)] − KL(q || p(z)) in closed form, one number per row of x."""
        d = mu.shape[-1]
        zeros, eye = torch.zeros(d, dtype=mu.dtype), torch.eye(d, dtype=mu.dtype)
        return self.expected_log_likelihood(x, mu, cov) - kl_mvn(mu, cov, zeros, eye)

    def kl_to_posterior(self, x: torch.Tensor, mu: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
        """KL(q || p(z|x)), which chapter 4 proves equals log p(x) − ELBO(q)."""
        post_mean, post_cov = self.posterior(x)
        return kl_mvn(mu, cov, post_mean, post_cov)

    def iw_bound(self, x: torch.Tensor, mu: torch.Tensor, cov: torch.Tensor, k: int,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """One draw of the importance-weighted bound log (1/K) Σ_k p(x, z_k)/q(z_k), z_k ~ q; K = 1 is the ELBO."""
        if k < 1:
            raise ValueError(f"the number of importance samples must be at least 1, got {k}")
        chol = torch.linalg.cholesky(cov)
        eps = torch.randn(k, *mu.shape, generator=generator, dtype=mu.dtype)
        z = mu + (chol @ eps.unsqueeze(-1)).squeeze(-1)                          # (K, N, d)
        log_w = self.log_joint(x, z) - log_normal_full(z, mu, cov)
        return torch.logsumexp(log_w, dim=0) - math.log(k)


def mean_field_q(model: LinearGaussian, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The best diagonal Gaussian q = argmin KL(q || p(z|x)): the posterior mean, and variances 1/Λ_ii
    where Λ = I + WᵀW/σ² is the posterior precision. Returns (mu, log_var) like an encoder."""
    precision = torch.eye(model.W.shape[1], dtype=x.dtype) + model.W.T @ model.W / model.noise_var
    mean, _ = model.posterior(x)
    return mean, (-torch.log(precision.diagonal())).expand_as(mean)


@torch.no_grad()
def m_step(x: torch.Tensor, mu: torch.Tensor, cov: torch.Tensor) -> LinearGaussian:
    """θ = argmax Σ_n ELBO(q_n, θ) with every q_n = N(mu_n, cov_n) fixed, in closed form.

    With z̃ = (z, 1) and W̃ = [W b]: W̃ = (Σ x E[z̃]ᵀ)(Σ E[z̃z̃ᵀ])⁻¹ and
    σ² = (1/ND) Σ E||x − W̃z̃||², the least-squares solution with E[zzᵀ] = μμᵀ + Σ.
    """
    n, d = mu.shape
    cov = cov.expand(n, d, d)
    ez = torch.cat([mu, torch.ones(n, 1, dtype=mu.dtype)], dim=1)               # E[z̃]      (N, d+1)
    ezz = ez.unsqueeze(2) * ez.unsqueeze(1)                                     # E[z̃]E[z̃]ᵀ
    ezz[:, :d, :d] += cov                                                       # + Cov[z]
    W_tilde = torch.linalg.solve(ezz.sum(0), (x.T @ ez).T).T                    # (D, d+1)
    sq = (x**2).sum() - 2 * (x * (ez @ W_tilde.T)).sum() + (W_tilde.T @ W_tilde * ezz.sum(0)).sum()
    return LinearGaussian(W_tilde[:, :d], W_tilde[:, d], sq / x.numel())


def ppca_maximum_likelihood(x: torch.Tensor, latent_dim: int) -> LinearGaussian:
    """The closed-form maximum-likelihood PPCA (Tipping and Bishop; Bishop 2006, eqs. 12.45-12.46):
    b = mean, σ² = average of the discarded eigenvalues of the sample covariance, W = U (Λ − σ² I)^½."""
    if not 0 < latent_dim < x.shape[1]:
        raise ValueError(f"latent_dim must be between 1 and {x.shape[1] - 1}, got {latent_dim}")
    b = x.mean(0)
    values, vectors = torch.linalg.eigh((x - b).T @ (x - b) / x.shape[0])
    values, vectors = values.flip(0), vectors.flip(1)
    noise_var = values[latent_dim:].mean()
    W = vectors[:, :latent_dim] * (values[:latent_dim] - noise_var).clamp_min(0).sqrt()
    return LinearGaussian(W, b, noise_var)


def vb_em(model: LinearGaussian, x: torch.Tensor, iterations: int, family: str = "mean-field") -> dict[str, list]:
    """Variational-Bayes EM: alternate the E-step (best q in ``family``: "mean-field" or "full") and the
    closed-form M-step. Records the mean ELBO, log p(x) and KL(q||p(z|x)) after every half-step."""
    if family not in ("mean-field", "full"):
        raise ValueError(f"family must be 'mean-field' or 'full', got {family!r}")
    history: dict[str, list] = {"step": [], "elbo": [], "log_px": [], "kl": []}
    with torch.no_grad():
        for it in range(iterations):
            if family == "full":
                mu, cov = model.posterior(x)
            else:
                mu, log_var = mean_field_q(model, x)
                cov = diag_cov(log_var)
            for half, current in ((0.5, model), (1.0, m_step(x, mu, cov))):
                model = current
                history["step"].append(it + half)
                history["elbo"].append(float(model.elbo(x, mu, cov).mean()))
                history["log_px"].append(float(model.log_marginal(x).mean()))
                history["kl"].append(float(model.kl_to_posterior(x, mu, cov).mean()))
    history["model"] = model
    return history


def joint_gradient_ascent(model: LinearGaussian, x: torch.Tensor, steps: int, lr: float = 0.05) -> dict[str, list]:
    """Maximise the mean ELBO over θ and every example's own q_n = N(mu_n, diag exp(log_var_n)) at once, with Adam.
    The per-example (mu_n, log_var_n) are what an encoder network would replace (amortised inference)."""
    model = LinearGaussian(model.W.detach(), model.b.detach(), model.noise_var.detach())
    mu = torch.zeros(x.shape[0], model.W.shape[1], dtype=x.dtype, requires_grad=True)
    log_var = torch.zeros_like(mu, requires_grad=True)
    optimiser = torch.optim.Adam([*model.parameters(), mu, log_var], lr=lr)
    history: dict[str, list] = {"step": [], "elbo": [], "log_px": []}
    for step in range(steps + 1):
        elbo = model.elbo(x, mu, diag_cov(log_var)).mean()
        history["step"].append(step)
        history["elbo"].append(float(elbo.detach()))
        history["log_px"].append(float(model.log_marginal(x).detach().mean()))
        if step < steps:
            optimiser.zero_grad()
            (-elbo).backward()
            optimiser.step()
    history["model"] = model
    history["q"] = (mu.detach(), log_var.detach())
    return history
