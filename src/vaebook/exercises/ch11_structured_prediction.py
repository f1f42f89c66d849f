"""Chapter 11's coding exercises: the quadrant mask, and the log-likelihood of the missing pixels."""

from __future__ import annotations

import torch

from vaebook.conditional import masked_bernoulli_log_prob, quadrant_mask
from vaebook.exercises.registry import Exercise, matches, register


def check_quadrants(candidate, seed: int) -> list[tuple[str, bool]]:
    """Masks for 1, 2 and 3 given quadrants, at a seeded even size, against the book's layout."""
    g = torch.Generator().manual_seed(seed)
    h, w = (2 * int(v) for v in torch.randint(2, 15, (2,), generator=g))
    results = []
    for given in (1, 2, 3):
        got = candidate(given, h, w)
        want = quadrant_mask(given, h, w)
        ok = isinstance(got, torch.Tensor) and got.shape == want.shape and bool((got.bool() == want).all())
        results.append((f"quadrant_mask({given}, {h}, {w}) shows the given quadrants", ok))
    return results


def check_masked(candidate, seed: int) -> list[tuple[str, bool]]:
    """Σ over masked pixels of log Bernoulli(y; sigmoid(logits)), grey levels allowed."""
    g = torch.Generator().manual_seed(seed)
    y = torch.rand(5, 1, 8, 8, generator=g, dtype=torch.float64)
    mask = quadrant_mask(3, 8, 8) == 0
    results = []
    for what, scale in [("", 4.0), (", also for large logits (no log 0)", 60.0)]:
        logits = scale * torch.randn(5, 1, 8, 8, generator=g, dtype=torch.float64)
        want = masked_bernoulli_log_prob(y, logits, mask)
        results.append((f"masked_log_prob(y, logits, mask) sums log p(y_i) over the masked pixels{what}",
                        matches(candidate(y, logits, mask), want)))
    return results


register(Exercise("quadrant-mask", "11_structured_prediction", "quadrant_mask", 2, check_quadrants,
                  ("vaebook.conditional.quadrant_mask", "vaebook.conditional.hide_quadrants")))
register(Exercise("masked-log-prob", "11_structured_prediction", "masked_log_prob", 2, check_masked,
                  ("vaebook.conditional.masked_bernoulli_log_prob",
                   "torch.nn.functional.binary_cross_entropy_with_logits")))
