"""The registered exercises, chapter by chapter (importing this module registers them)."""

from vaebook.exercises import ch00_first_vae, ch01_latent_variables, ch02_em  # noqa: F401
