"""The negative ELBO, returned with its two parts so that every chapter can plot them.

    −ELBO(x) = E_q[−log p(x|z)] + KL(q(z|x) || p(z)) = distortion + rate      (nats per example)

All terms are *per example*: summed over pixels and latent dimensions, averaged
over the batch, in one place, so no chapter mixes sums and means.
"""

from __future__ import annotations

import torch

from vaebook.distributions import kl_normal_std_normal


def negative_elbo(model, x: torch.Tensor, beta: float = 1.0,
                  target: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """One-sample estimate of −ELBO for a VAE, with the KL in closed form.

    Returns ``loss`` (distortion + β·rate, what the optimiser minimises), ``neg_elbo``
    (distortion + rate, the bound itself), ``rate`` and ``distortion``; each a batch mean.
    ``target``: the images the decoder is scored on, when not ``x`` itself (the denoising
    criterion of chapter 15 encodes a corrupted x and scores the clean one).
    """
    out, mu, log_var, _ = model(x)
    distortion = -model.likelihood.log_prob(x if target is None else target, out)
    rate = kl_normal_std_normal(mu, log_var)
    return {
        "loss": (distortion + beta * rate).mean(),
        "neg_elbo": (distortion + rate).mean(),
        "rate": rate.mean(),
        "distortion": distortion.mean(),
    }


def model_loss(model, batch: tuple[torch.Tensor, ...], **options) -> dict[str, torch.Tensor]:
    """The trainer's default loss: the model's own ``loss(batch, **options)``.

    Every model in the book defines ``loss``: a VAE returns :func:`negative_elbo` of the
    images, a conditional VAE uses the labels too. The trainer, evaluation and CLI call
    this, so they work for every model unchanged.
    """
    return model.loss(batch, **options)
