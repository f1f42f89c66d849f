"""Chapter 12's coding exercises: the vector quantizer's nearest code, and the straight-through gradient."""

from __future__ import annotations

import torch

from vaebook.exercises.registry import Exercise, register
from vaebook.models.vqvae import VectorQuantizer, straight_through_passes


def check_nearest(candidate, seed: int) -> list[tuple[str, bool]]:
    """Nearest-code indices against :meth:`VectorQuantizer.nearest` on a seeded codebook."""
    g = torch.Generator().manual_seed(seed)
    quantizer = VectorQuantizer(9, 4).double()
    with torch.no_grad():
        quantizer.codebook.copy_(torch.randn(9, 4, generator=g, dtype=torch.float64))
    z = 1.5 * torch.randn(200, 4, generator=g, dtype=torch.float64)
    codebook = quantizer.codebook.detach().clone()
    got = candidate(z, codebook)
    want = quantizer.nearest(z)
    ok = isinstance(got, torch.Tensor) and got.shape == want.shape and bool((got == want).all())
    return [("nearest_code(z, codebook) gives argmin_k |z - e_k|^2 for each row", ok)]


def check_straight_through(candidate, seed: int) -> list[tuple[str, bool]]:
    """Forward value z_q; gradient to z_e as if the quantizer were the identity; none to z_q."""
    g = torch.Generator().manual_seed(seed)
    z_e = torch.randn(3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    z_q = torch.randn(3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(3, 4, generator=g, dtype=torch.float64)
    out = candidate(z_e, z_q)
    value_ok = bool(torch.allclose(out.detach(), z_q.detach(), atol=1e-12))
    (out * weight).sum().backward()
    grads_ok = (z_e.grad is not None and bool(torch.allclose(z_e.grad, weight))
                and (z_q.grad is None or bool((z_q.grad == 0).all())))

    def quantize(quantizer, z):
        _, indices, terms = quantizer(z)
        codes = quantizer.codebook[indices].permute(0, 3, 1, 2)
        return candidate(z, codes), indices, terms

    return [("straight_through(z_e, z_q) has the value z_q", value_ok),
            ("its gradient reaches z_e unchanged and never z_q", grads_ok),
            ("in a VQ-VAE loss, encoder and codebook get the paper's gradients",
             straight_through_passes(quantize, seed=seed))]


register(Exercise("vq-nearest-code", "12_vq_vae", "nearest_code", 2, check_nearest,
                  ("vaebook.models.vqvae.VectorQuantizer.nearest", "torch.cdist")))
register(Exercise("vq-straight-through", "12_vq_vae", "straight_through", 2, check_straight_through))
