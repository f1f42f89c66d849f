"""Evaluation shared by every chapter: the negative ELBO split into rate and distortion,
and the importance-weighted estimate of log p(x) (Burda et al. 2015).
"""

from __future__ import annotations

import hashlib
import math
import time
from pathlib import Path
from typing import Callable, Iterable

import torch

from vaebook.checkpoint import read_saved, save_atomically
from vaebook.distributions import log_normal_diag, log_standard_normal
from vaebook.losses import model_loss
from vaebook.settings import checkpoint_dir, profile, rng_state, set_rng_state


@torch.no_grad()
def evaluate(model, loader: Iterable, loss_fn: Callable = model_loss) -> dict[str, float]:
    """Average every metric ``loss_fn`` returns over a loader, weighted by batch size (nats per example)."""
    was_training = model.training
    model.eval()
    totals: dict[str, float] = {}
    count = 0
    for batch in loader:
        n = len(batch[0])
        for key, value in loss_fn(model, batch).items():
            totals[key] = totals.get(key, 0.0) + float(value) * n
        count += n
    model.train(was_training)
    if count == 0:
        raise ValueError("cannot evaluate on an empty loader")
    return {key: value / count for key, value in totals.items()}


def importance_weighted(log_weights: Callable[[int], torch.Tensor], k: int, chunk: int = 500) -> torch.Tensor:
    """log (1/K) Σ_k w_k from K log-weights drawn ``chunk`` at a time, combined with log-sum-exp.

    ``log_weights(m)`` draws m samples and returns their log-weights, shape (m, batch). Working in
    chunks keeps K = 5000 in memory; log-sum-exp keeps it from overflowing.
    """
    if k < 1:
        raise ValueError(f"the number of importance samples must be at least 1, got {k}")
    if chunk < 1:
        raise ValueError(f"the samples drawn at a time (chunk) must be at least 1, got {chunk}")
    pieces = [torch.logsumexp(log_weights(min(chunk, k - start)), dim=0) for start in range(0, k, chunk)]
    return torch.logsumexp(torch.stack(pieces), dim=0) - math.log(k)


SAMPLES_PER_CALL = 10_000   # decoded images per decoder call when iw_log_likelihood picks the chunk itself


@torch.no_grad()
def iw_log_likelihood(model, x: torch.Tensor, k: int, chunk: int | None = None) -> torch.Tensor:
    """Importance-weighted estimate of log p(x) with K samples from q(z|x), one number per example.

        log p(x) ≈ log (1/K) Σ_k p(x, z_k) / q(z_k|x),    z_k ~ q(z|x)

    K = 1 is the ELBO; the estimate rises towards log p(x) as K grows. The samples are decoded
    ``chunk`` per example at a time, by default as many as make ``SAMPLES_PER_CALL`` decoded images
    per call: memory stays bounded whatever the batch size, and on a 2-core CPU the convolutional
    VAE decodes twice as many images per second in calls of 10,000 as in calls of 50,000.
    """
    model.check_input(x)
    if chunk is None:
        chunk = max(1, SAMPLES_PER_CALL // len(x))
    mu, log_var = model.encode(x)
    std = torch.exp(0.5 * log_var)

    def log_weights(m: int) -> torch.Tensor:
        z = mu + std * torch.randn(m, *mu.shape, device=mu.device, dtype=mu.dtype)    # (m, B, D)
        out = model.decode(z.flatten(0, 1))
        log_px_z = model.likelihood.log_prob(x.repeat(m, *([1] * (x.dim() - 1))), out).view(m, -1)
        return log_px_z + log_standard_normal(z) - log_normal_diag(z, mu, log_var)

    return importance_weighted(log_weights, k, chunk)


@torch.no_grad()
def evaluate_iw(model, loader: Iterable, k: int, name: str | None = None) -> float:
    """Mean importance-weighted negative log-likelihood over a loader (nats per example).

    Every model answers ``iw_log_likelihood(batch, k)`` itself: a VAE through
    :func:`iw_log_likelihood`, a conditional model for its own conditional likelihood.

    With a ``name`` and a checkpoint folder (``VAEBOOK_CHECKPOINTS``), the sums so far are saved
    after every batch as ``<name>-<profile>.iw.unfinished.pt``, and a rerun with the same model,
    data and K goes on from the next batch, drawing the same random numbers as a run that was never
    stopped: K = 5000 on 10,000 test images takes a minute on a GPU and hours on a CPU. A saved
    evaluation of another model, data or K is not used: a message says so and the evaluation starts over.
    """
    folder = checkpoint_dir() if name is not None else None
    was_training = model.training
    model.eval()
    total, count = _iw_sums(model, loader, k, folder / f"{name}-{profile()}.iw.unfinished.pt" if folder else None)
    model.train(was_training)
    if count == 0:
        raise ValueError("cannot evaluate on an empty loader")
    return total / count


def _fingerprint(tensors: Iterable[torch.Tensor]) -> str:
    """A SHA-256 of the tensors' bytes, in order: equal for the same weights or the same data."""
    digest = hashlib.sha256()
    for t in tensors:
        digest.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _iw_sums(model, loader: Iterable, k: int, path: Path | None) -> tuple[float, int]:
    """evaluate_iw's sums over the loader; with a ``path``, saved there after every batch and resumed from it."""
    done = {"batches": 0, "total": 0.0, "count": 0, "seconds": 0.0}
    if path is not None:
        key = {"k": k, "model": _fingerprint(model.state_dict().values()),
               "data": _fingerprint(t for batch in loader for t in batch)}
        done = _resume(path, key, done)
        path.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter() - done["seconds"]
    for index, batch in enumerate(loader):
        if index < done["batches"]:
            continue
        done["total"] += float(-model.iw_log_likelihood(batch, k).sum())
        done["count"] += len(batch[0])
        if path is not None:
            done["batches"], done["seconds"] = index + 1, time.perf_counter() - start
            save_atomically({**key, **done, "rng_state": rng_state()}, path)
    if path is not None:
        path.unlink(missing_ok=True)
    return done["total"], done["count"]


def _resume(path: Path, key: dict, fresh: dict) -> dict:
    """The sums saved at ``path`` for this ``key`` (restoring the random state they reached), else ``fresh``."""
    if not path.exists():
        return fresh
    saved = read_saved(path, "evaluation", hint="; delete it to start the evaluation over")
    if not (isinstance(saved, dict) and {"rng_state", *fresh} <= saved.keys()
            and all(saved.get(name) == value for name, value in key.items())):
        print(f"note: {path.name} was saved for another model, data or K; starting the evaluation over")
        return fresh
    set_rng_state(saved["rng_state"])
    print(f"resuming {path.name}: {saved['batches']} batches ({saved['count']} examples) done "
          f"in {saved['seconds']:.0f} s")
    return {name: saved[name] for name in fresh}
