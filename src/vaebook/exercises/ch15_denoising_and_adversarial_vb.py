"""Chapter 15's coding exercises: the salt-and-pepper corruption, and AVB's critic loss."""

from __future__ import annotations

import torch

from vaebook.avb import critic_loss
from vaebook.denoising import corrupt
from vaebook.exercises.registry import Exercise, matches, register


def check_corrupt(candidate, seed: int) -> list[tuple[str, bool]]:
    """The same draw as :func:`vaebook.denoising.corrupt` given the same uniforms (hits first, then coins)."""
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(6, 1, 8, 8, generator=g) < 0.3).double()
    level = float(0.1 + 0.5 * torch.rand(1, generator=g))
    state = g.get_state()
    want = corrupt(x, "salt-and-pepper", level, generator=g)
    g.set_state(state)
    u_hit = torch.rand(x.shape, generator=g).double()
    u_coin = torch.rand(x.shape, generator=g).double()
    return [(f"salt_and_pepper(x, {level:.3f}, u_hit, u_coin) replaces each hit pixel by a fair coin",
             matches(candidate(x, level, u_hit, u_coin), want))]


def check_critic(candidate, seed: int) -> list[tuple[str, bool]]:
    """AVB's critic loss with posterior pairs labelled 1 and prior pairs 0, for a fixed bilinear critic."""
    g = torch.Generator().manual_seed(seed)
    weight = torch.randn(6, 3, generator=g, dtype=torch.float64)
    x = torch.randn(25, 6, generator=g, dtype=torch.float64)
    z_post = torch.randn(25, 3, generator=g, dtype=torch.float64) + 1
    z_prior = torch.randn(25, 3, generator=g, dtype=torch.float64)

    def critic(xs: torch.Tensor, zs: torch.Tensor) -> torch.Tensor:
        return ((xs @ weight) * zs).sum(-1)

    return [("avb_critic_loss(critic, x, z_posterior, z_prior) labels posterior pairs 1, prior pairs 0",
             matches(candidate(critic, x, z_post, z_prior), critic_loss(critic, x, z_post, z_prior)))]


register(Exercise("salt-and-pepper", "15_denoising_and_adversarial_vb", "salt_and_pepper", 2, check_corrupt,
                  ("vaebook.denoising.corrupt",)))
register(Exercise("avb-critic-loss", "15_denoising_and_adversarial_vb", "avb_critic_loss", 2, check_critic,
                  ("vaebook.avb.critic_loss", "vaebook.adversarial.discriminator_loss",
                   "torch.nn.functional.binary_cross_entropy_with_logits")))
