"""Train chapter 17's models once and keep them, with the slow samplers' samples, for the chapter to load.

Six models do not train well within a chapter's five minutes on a laptop. This script trains every model
of the chapter's table in the current profile (``VAEBOOK_PROFILE``, the book profile by default) with
:func:`vaebook.train.train_or_load`, so that an interrupted run continues where it stopped, and saves them
under ``VAEBOOK_CHECKPOINTS``; the PixelCNN's and the DDPM's samples (one network pass per pixel, or per
step) are drawn here too, timed, and saved beside them, and the VAE and the DCGAN are trained again from
two more seeds, for the spread of their results. The chapter, built with the same
``VAEBOOK_CHECKPOINTS``, loads all of it and reports the training and sampling times measured here.

    VAEBOOK_CHECKPOINTS=runs make landscape          # then: VAEBOOK_CHECKPOINTS=runs make book
"""

from __future__ import annotations

import sys
import time

from vaebook import by_profile, get_device, hardware, landscape, profile, seed_everything
from vaebook.data import load_images
from vaebook.settings import checkpoint_dir


def main() -> int:
    if checkpoint_dir() is None:
        print("set VAEBOOK_CHECKPOINTS to the folder the chapter will load the models from", file=sys.stderr)
        return 2
    seed_everything(0)
    device = get_device()
    samples = by_profile(**landscape.SAMPLES_BY_PROFILE)
    train = load_images("mnist", "train")
    start = time.perf_counter()
    print(f"profile {profile()}, {hardware(device)}, saving under {checkpoint_dir()}", flush=True)
    trained = {}
    for key in ("classifier", *landscape.KEYS):
        trained[key] = landscape.obtain(key, train.images, train.labels, device, reduce=False)
        print(f"{landscape.LABELS[key]}: {trained[key]}", flush=True)
    vqvae = trained["vqvae"]
    codes = landscape.codes_of(vqvae.model, train.images[:vqvae.spec.images])
    prior = landscape.obtain("vqvae-prior", train.images, train.labels, device, reduce=False, images=codes)
    print(f"the VQ-VAE's prior: {prior}", flush=True)
    for key in landscape.SLOW_SAMPLERS:
        if landscape.load_samples(key) is None:
            images, seconds = landscape.timed_samples(landscape.sampler(key, trained[key].model), samples)
            landscape.save_samples(key, images, seconds, hardware(device))
        _, seconds, where = landscape.load_samples(key)
        milliseconds = landscape.three_digits(1_000 * seconds)
        print(f"{landscape.LABELS[key]}: {samples:,} samples, {milliseconds} ms each on {where}", flush=True)
    for key in landscape.SEEDED:
        for seed, run in zip(landscape.SEEDS, landscape.seed_runs(key, train.images, train.labels, device, False)):
            print(f"{landscape.LABELS[key]} from seed {seed}: {run}", flush=True)
    print(f"done in {(time.perf_counter() - start) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
