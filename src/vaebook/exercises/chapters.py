"""The registered exercises, chapter by chapter (importing this module registers them)."""

from vaebook.exercises import (  # noqa: F401
    ch00_first_vae,
    ch01_latent_variables,
    ch02_em,
    ch03_vb_em,
    ch04_elbo,
    ch05_kl_divergences,
    ch06_reparameterization,
    ch07_to_ch10,
    ch11_structured_prediction,
    ch12_vq_vae,
    ch13_autoregressive_models,
    ch14_adversarial_autoencoders,
    ch15_denoising_and_adversarial_vb,
    ch16_colour_images,
    ch17_generative_landscape,
)
