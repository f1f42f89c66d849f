"""Priors on the latent space, by name: what an adversarial autoencoder's codes are asked to look like.

A VAE needs KL(q(z|x) || p(z)), so its prior must have a log-density, and a closed-form KL helps.
An adversarial autoencoder only needs *samples* of p(z): a discriminator compares them with the codes.
So any prior that can be sampled will do. Three, as in Makhzani et al. (2015):

- ``gaussian``: N(0, scale² I) in any dimension;
- ``mixture``: n two-dimensional Gaussians, elongated along the radius, spaced evenly on a circle;
- ``swiss-roll``: a noisy spiral of one and a half turns in two dimensions.

Each samples (``sample``) and gives its log-density (``log_prob``, by quadrature along the spiral
for the swiss roll), for the contour plots behind the codes.
"""

from __future__ import annotations

import math

import torch


class Prior:
    """Base class: ``sample(n)`` draws (n, dim) points, ``log_prob(z)`` is their log-density, ``config()``
    the arguments that rebuild it with :func:`make_prior`."""

    name = ""

    def __init__(self, dim: int):
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ValueError(f"a prior's dimension must be a positive integer, got {dim!r}")
        self.dim = dim

    def sample(self, n: int, generator: torch.Generator | None = None,
               device: torch.device | str = "cpu") -> torch.Tensor:
        raise NotImplementedError

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def config(self) -> dict:
        return {"name": self.name}

    def _check(self, z: torch.Tensor) -> None:
        if z.dim() != 2 or z.shape[1] != self.dim:
            raise ValueError(f"{type(self).__name__} expects points of shape (N, {self.dim}), got {tuple(z.shape)}")


def _positive(name: str, value: float) -> float:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


class GaussianPrior(Prior):
    """N(0, scale² I)."""

    name = "gaussian"

    def __init__(self, dim: int, scale: float = 1.0):
        super().__init__(dim)
        self.scale = _positive("scale", scale)

    def sample(self, n, generator=None, device="cpu"):
        return (self.scale * torch.randn(n, self.dim, generator=generator)).to(device)

    def log_prob(self, z):
        self._check(z)
        return (-0.5 * (z / self.scale) ** 2 - math.log(self.scale) - 0.5 * math.log(2 * math.pi)).sum(1)

    def config(self):
        return {"name": self.name, "scale": self.scale}


def _two_dimensional(prior: str, dim: int) -> None:
    if dim != 2:
        raise ValueError(f"the {prior} prior is two-dimensional; got dim={dim!r}")


class MixturePrior(Prior):
    """``components`` equally weighted 2-D Gaussians with means on a circle of radius ``radius``, each
    with standard deviation ``radial`` along its radius and ``tangential`` across it (petals)."""

    name = "mixture"

    def __init__(self, dim: int = 2, components: int = 10, radius: float = 4.0, radial: float = 1.0,
                 tangential: float = 0.25):
        super().__init__(dim)
        _two_dimensional("mixture", dim)
        if isinstance(components, bool) or not isinstance(components, int) or components < 1:
            raise ValueError(f"a mixture needs at least one component, got components={components!r}")
        self.components = components
        self.radius = _positive("radius", radius)
        self.radial, self.tangential = _positive("radial", radial), _positive("tangential", tangential)
        angles = 2 * math.pi * torch.arange(components, dtype=torch.float64) / components
        self.directions = torch.stack([angles.cos(), angles.sin()], 1)        # (K, 2) unit radial vectors

    def sample(self, n, generator=None, device="cpu"):
        return self.sample_with_components(n, generator, device)[0]

    def sample_with_components(self, n, generator=None, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
        """Points and the component each came from (for colouring a figure)."""
        k = torch.randint(self.components, (n,), generator=generator)
        u = self.directions[k].float()                                 # radial direction
        v = torch.stack([-u[:, 1], u[:, 0]], 1)                        # tangential direction
        noise = torch.randn(n, 2, generator=generator)
        z = (self.radius + self.radial * noise[:, :1]) * u + self.tangential * noise[:, 1:] * v
        return z.to(device), k.to(device)

    def log_prob(self, z):
        self._check(z)
        u = self.directions.to(z.device, z.dtype)                      # (K, 2)
        along = z @ u.T - self.radius                                  # (N, K) radial offset from each mean
        across = z @ torch.stack([-u[:, 1], u[:, 0]], 1).T             # (N, K) tangential offset
        log_components = (-0.5 * (along / self.radial) ** 2 - 0.5 * (across / self.tangential) ** 2
                          - math.log(2 * math.pi * self.radial * self.tangential))
        return torch.logsumexp(log_components, 1) - math.log(self.components)

    def config(self):
        return {"name": self.name, "components": self.components, "radius": self.radius,
                "radial": self.radial, "tangential": self.tangential}


class SwissRollPrior(Prior):
    """A point at u ~ U(0, 1) along a spiral of ``turns`` turns, radius ``scale``·√u at angle
    2π·turns·√u, plus N(0, noise² I). Its density is an integral over u, computed by quadrature."""

    name = "swiss-roll"

    def __init__(self, dim: int = 2, scale: float = 3.0, turns: float = 1.5, noise: float = 0.25):
        super().__init__(dim)
        _two_dimensional("swiss-roll", dim)
        self.scale, self.turns = _positive("scale", scale), _positive("turns", turns)
        self.noise = _positive("noise", noise)

    def curve(self, u: torch.Tensor) -> torch.Tensor:
        """The spiral's point at position u in [0, 1]."""
        s, angle = u.sqrt(), 2 * math.pi * self.turns * u.sqrt()
        return self.scale * s[:, None] * torch.stack([torch.cos(angle), torch.sin(angle)], 1)

    def sample(self, n, generator=None, device="cpu"):
        u = torch.rand(n, generator=generator)
        return (self.curve(u) + self.noise * torch.randn(n, 2, generator=generator)).to(device)

    def log_prob(self, z, points: int = 1_000, batch_size: int = 4_096):
        """log ∫₀¹ N(z; curve(u), noise² I) du by the midpoint rule on ``points`` values of u (their
        spacing along the spiral stays under a tenth of the noise), ``batch_size`` points of z at a time."""
        self._check(z)
        u = (torch.arange(points, dtype=torch.float64) + 0.5) / points
        centres = self.curve(u).to(z.device, z.dtype)
        log_norm = math.log(2 * math.pi * self.noise**2) + math.log(points)
        return torch.cat([torch.logsumexp(-0.5 * torch.cdist(zb, centres) ** 2 / self.noise**2, 1) - log_norm
                          for zb in z.split(batch_size)])

    def config(self):
        return {"name": self.name, "scale": self.scale, "turns": self.turns, "noise": self.noise}


PRIORS: dict[str, type[Prior]] = {"gaussian": GaussianPrior, "mixture": MixturePrior, "swiss-roll": SwissRollPrior}


def make_prior(spec: str | dict, dim: int) -> Prior:
    """A prior from its name (``"mixture"``) or a config dict (``{"name": "mixture", "components": 10}``)."""
    options = dict(spec) if isinstance(spec, dict) else {"name": spec}
    name = options.pop("name", None)
    if name not in PRIORS:
        raise ValueError(f"unknown prior {name!r}; known priors: {', '.join(PRIORS)}")
    try:
        return PRIORS[name](dim, **options)
    except TypeError as error:
        raise ValueError(f"the {name} prior does not take these options {options}: {error}") from None
