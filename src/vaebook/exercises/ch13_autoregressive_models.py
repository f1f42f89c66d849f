"""Chapter 13's coding exercises: the masked convolution's mask (types A and B), and log p(x) of a PixelCNN."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vaebook.exercises.registry import Exercise, register
from vaebook.models.pixelcnn import causal_mask


def check_mask(candidate, seed: int) -> list[tuple[str, bool]]:
    """Masks of seeded odd sizes against :func:`vaebook.models.pixelcnn.causal_mask`."""
    g = torch.Generator().manual_seed(seed)
    sizes = [(1 + 2 * int(a), 1 + 2 * int(b)) for a, b in torch.randint(1, 5, (3, 2), generator=g)]
    results = []
    for mask_type in ("A", "B"):
        ok = True
        for h, w in sizes:
            got = torch.as_tensor(candidate(h, w, mask_type)).double()
            ok = ok and got.shape == (h, w) and bool((got == causal_mask(h, w, mask_type).double()).all())
        results.append((f"causal_mask(height, width, {mask_type!r}) for sizes {sizes}", ok))
    return results


def check_log_prob(candidate, seed: int) -> list[tuple[str, bool]]:
    """Σ over pixels of log softmax(logits)[x], per image, against the cross-entropy."""
    g = torch.Generator().manual_seed(seed)
    logits = 3 * torch.randn(4, 5, 6, 6, generator=g, dtype=torch.float64)
    x = torch.randint(0, 5, (4, 6, 6), generator=g)
    want = -F.cross_entropy(logits, x, reduction="none").flatten(1).sum(1)
    got = candidate(logits, x)
    ok = got.shape == want.shape and bool(torch.allclose(got, want, rtol=1e-10, atol=1e-10))
    return [("pixel_log_prob(logits, x) sums log p(x_i | x_<i) over the pixels of each image", ok)]


register(Exercise("causal-mask", "13_autoregressive_models", "causal_mask", 2, check_mask,
                  ("vaebook.models.pixelcnn.causal_mask", "vaebook.models.pixelcnn.vertical_mask")))
register(Exercise("pixel-log-prob", "13_autoregressive_models", "pixel_log_prob", 2, check_log_prob,
                  ("torch.nn.functional.cross_entropy", "torch.nn.functional.nll_loss")))
