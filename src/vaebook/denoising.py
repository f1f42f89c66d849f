"""The denoising criterion of Im et al. (2017): corrupt x with a known p(x̃|x), encode x̃, score x.

    L_dvae(x) = E_{p(x̃|x)} E_{q(z|x̃)} [ log p(x, z) − log q(z|x̃) ]  ≤  log p(x)

Two corruptions of images in [0, 1], each with a level p in [0, 1]:

- ``salt-and-pepper``: each pixel, with probability p, is replaced by 0 or 1 with equal chance;
- ``flip``: each pixel, with probability p, becomes 1 − x (a bit flip for binary images).

:func:`denoising_negative_elbo` is the loss; the linear-Gaussian functions at the end give the
criterion in closed form for a linear encoder and Gaussian corruption, where log p(x) is exact.
"""

from __future__ import annotations

import torch

from vaebook.linear_gaussian import LinearGaussian, mean_field_q
from vaebook.losses import negative_elbo

CORRUPTIONS = ("salt-and-pepper", "flip")


def check_corruption(kind: str, level: float) -> None:
    """One clear ValueError for an unknown corruption or a level outside [0, 1]."""
    if kind not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {kind!r}; known corruptions: {', '.join(CORRUPTIONS)}")
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 <= level <= 1:
        raise ValueError(f"a corruption level is a probability in [0, 1], got {level!r}")


def _uniform(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    if generator is None:
        return torch.rand_like(x)
    return torch.rand(x.shape, generator=generator, device=generator.device).to(x.device, x.dtype)


def corrupt(x: torch.Tensor, kind: str = "salt-and-pepper", level: float = 0.1,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """A draw x̃ ~ p(x̃|x): each pixel is hit with probability ``level`` (ρ in the
    book); a hit pixel becomes a fair coin in {0, 1} (salt-and-pepper) or 1 − x
    (flip). The uniforms decide the hits first, then the coins."""
    check_corruption(kind, level)
    hit = _uniform(x, generator) < level
    if kind == "flip":
        return torch.where(hit, 1 - x, x)
    coin = (_uniform(x, generator) < 0.5).to(x.dtype)
    return torch.where(hit, coin, x)


def denoising_negative_elbo(model, x: torch.Tensor, kind: str, level: float,
                            beta: float = 1.0) -> dict[str, torch.Tensor]:
    """−L_dvae with one corrupted copy per image: the VAE's −ELBO with the encoder fed x̃ ~ p(x̃|x)
    and the decoder scored on the clean x (keys as :func:`vaebook.losses.negative_elbo`)."""
    return negative_elbo(model, corrupt(x, kind, level), beta=beta, target=x)


# ------------------------------------------- closed forms on the linear-Gaussian model

def linear_encoder(model: LinearGaussian) -> torch.Tensor:
    """M with E[z|x] = M (x − b): the exact posterior mean's linear map, (d, D)."""
    precision = torch.eye(model.W.shape[1], dtype=model.W.dtype) + model.W.T @ model.W / model.noise_var
    return torch.linalg.solve(precision, model.W.T) / model.noise_var


def linear_gaussian_denoising(
    model: LinearGaussian, x: torch.Tensor, noise_std: float,
    log_var: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """The encoder q(z|x̃) = N(M(x̃ − b), C), C = diag(exp(log_var)) (default: the
    mean-field variances), under Gaussian corruption x̃ = x + s·ε. Closed forms, one
    number per row of x:

    ``log_px``; ``elbo``, the ELBO of q(z|x) on the clean x; ``mixture_elbo``, the
    ELBO of q̃(z|x) = N(M(x − b), C + s² M Mᵀ); ``information``,
    I(x̃; z) = ½ log det(I + s² C⁻¹ M Mᵀ); ``denoising``,
    L_dvae = mixture_elbo − information.
    """
    if not noise_std >= 0:
        raise ValueError(f"noise_std must be at least 0, got {noise_std}")
    with torch.no_grad():
        mu, default_log_var = mean_field_q(model, x)
        cov = torch.diag(torch.exp(default_log_var[0] if log_var is None else log_var))
        M = linear_encoder(model)
        mixture_cov = cov + noise_std**2 * M @ M.T
        information = 0.5 * (torch.logdet(mixture_cov) - torch.logdet(cov))
        mixture = model.elbo(x, mu, mixture_cov)
        return {"log_px": model.log_marginal(x), "elbo": model.elbo(x, mu, cov),
                "mixture_elbo": mixture, "information": information.expand(len(x)),
                "denoising": mixture - information}


def linear_gaussian_denoising_draws(model: LinearGaussian, x: torch.Tensor, noise_std: float, n: int,
                                    log_var: torch.Tensor | None = None,
                                    generator: torch.Generator | None = None) -> torch.Tensor:
    """n draws of E_{q(z|x̃)}[log p(x, z) − log q(z|x̃)], one x̃ = x + s·ε per draw: shape (n, N).
    Their mean over draws is L_dvae; the expectation over z is exact (:meth:`LinearGaussian.elbo`)."""
    if n < 1:
        raise ValueError(f"the number of corrupted copies must be at least 1, got {n}")
    with torch.no_grad():
        _, default_log_var = mean_field_q(model, x)
        cov = torch.diag(torch.exp(default_log_var[0] if log_var is None else log_var))
        M = linear_encoder(model)
        noisy = x + noise_std * torch.randn(n, *x.shape, generator=generator, dtype=x.dtype)
        return model.elbo(x, (noisy - model.b) @ M.T, cov)     # the n copies at once: (n, N)


__all__ = ["CORRUPTIONS", "check_corruption", "corrupt", "denoising_negative_elbo", "linear_encoder",
           "linear_gaussian_denoising", "linear_gaussian_denoising_draws"]
