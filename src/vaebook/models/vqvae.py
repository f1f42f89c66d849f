"""The VQ-VAE (van den Oord et al. 2017): an encoder to a grid of vectors, each replaced by its
nearest codebook vector, and a decoder. The codebook learns by gradient (the paper's codebook
term) or by exponential moving averages; dead codes can be restarted on encoder outputs.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from vaebook.likelihoods import Likelihood, make_likelihood


def _positive_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer of at least 1, got {value!r}")
    return value


def perplexity(indices: torch.Tensor, num_codes: int) -> torch.Tensor:
    """exp(entropy) of how often each code is chosen: K when all K are used equally, 1 when one code is."""
    counts = torch.bincount(indices.flatten(), minlength=num_codes).float()
    p = counts / counts.sum()
    return torch.exp(-(p * torch.log(p.clamp(min=1e-12))).sum())


class VectorQuantizer(nn.Module):
    """Replace each d-vector of a (B, d, H, W) grid by its nearest of K codebook vectors.

    Returns the straight-through output z_e + sg[z_q − z_e] (forward: z_q; backward: the identity
    to z_e), the code indices, and the two terms of the paper's loss, per image (summed over
    positions and dimensions): ``codebook`` = ‖sg[z_e] − e‖² and ``commitment`` = ‖z_e − sg[e]‖².
    With ``ema=True`` the codebook is not trained by gradient but set to moving averages of the
    encoder outputs assigned to each code (decay ``decay``, cluster sizes Laplace-smoothed so that
    an unused code never divides by zero). ``restart_below`` > 0 moves every code whose moving
    average use falls under that many vectors per batch onto a random encoder output.
    """

    def __init__(self, num_codes: int, code_dim: int, beta: float = 0.25, ema: bool = False,
                 decay: float = 0.99, restart_below: float = 0.0, epsilon: float = 1e-5):
        super().__init__()
        self.num_codes = _positive_int("num_codes (the codebook size K)", num_codes)
        self.code_dim = _positive_int("code_dim (the code dimension d)", code_dim)
        if not (math.isfinite(beta) and beta >= 0):
            raise ValueError(f"beta (the commitment weight) must be finite and at least 0, got {beta!r}")
        if not 0 < decay < 1:
            raise ValueError(f"decay must lie strictly between 0 and 1, got {decay!r}")
        if not restart_below >= 0:
            raise ValueError(f"restart_below must be at least 0, got {restart_below!r}")
        self.beta, self.ema, self.decay, self.epsilon = float(beta), bool(ema), float(decay), float(epsilon)
        self.restart_below = float(restart_below)
        self.codebook = nn.Parameter(torch.empty(num_codes, code_dim).uniform_(-1 / num_codes, 1 / num_codes),
                                     requires_grad=not ema)
        self.register_buffer("usage", torch.ones(num_codes))          # moving average of vectors per code per batch
        self.register_buffer("ema_count", torch.ones(num_codes))      # EMA: cluster sizes
        self.register_buffer("ema_sum", self.codebook.detach().clone())  # EMA: sums of the assigned vectors

    def nearest(self, flat: torch.Tensor) -> torch.Tensor:
        """Index of the nearest code for each row of an (N, D) tensor: argmin ‖z − e_k‖², expanded."""
        distances = (flat.pow(2).sum(1, keepdim=True) - 2 * flat @ self.codebook.t()
                     + self.codebook.pow(2).sum(1))
        return distances.argmin(1)

    def forward(
        self, z_e: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        if z_e.dim() != 4 or z_e.shape[1] != self.code_dim:
            raise ValueError(f"VectorQuantizer expects (N, {self.code_dim}, H, W), "
                             f"got {tuple(z_e.shape)}")
        b, d, h, w = z_e.shape
        flat = z_e.permute(0, 2, 3, 1).reshape(-1, d)
        indices = self.nearest(flat.detach())
        z_q = self.codebook[indices].view(b, h, w, d).permute(0, 3, 1, 2)
        # both terms from z_q and z_e *before* the straight-through patch below
        terms = {"codebook": (z_q - z_e.detach()).pow(2).flatten(1).sum(1),
                 "commitment": (z_e - z_q.detach()).pow(2).flatten(1).sum(1)}
        if self.training:
            self._update(flat.detach(), indices)
        z_st = z_e + (z_q - z_e).detach()
        return z_st, indices.view(b, h, w), terms

    @torch.no_grad()
    def _update(self, flat: torch.Tensor, indices: torch.Tensor) -> None:
        """After quantizing a batch: move the EMA codebook, track code use, restart
        dead codes."""
        one_hot = F.one_hot(indices, self.num_codes).type_as(flat)
        counts = one_hot.sum(0)
        self.usage.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        if self.ema:
            self.ema_count.mul_(self.decay).add_(counts, alpha=1 - self.decay)
            self.ema_sum.mul_(self.decay).add_(one_hot.t() @ flat, alpha=1 - self.decay)
            n = self.ema_count.sum()
            k, delta = self.num_codes, self.epsilon
            smoothed = (self.ema_count + delta) / (n + k * delta) * n
            self.codebook.copy_(self.ema_sum / smoothed[:, None])
        if self.restart_below > 0:
            dead = (self.usage < self.restart_below).nonzero().flatten()
            if len(dead):
                chosen = torch.randint(len(flat), (len(dead),), device=flat.device)
                self.set_codes(dead, flat[chosen])

    @torch.no_grad()
    def set_codes(self, which: torch.Tensor, vectors: torch.Tensor) -> None:
        """Put codes ``which`` at ``vectors`` and treat them as freshly used (EMA state included)."""
        self.codebook[which] = vectors
        self.ema_sum[which] = vectors
        self.ema_count[which] = 1.0
        self.usage[which] = max(1.0, 2 * self.restart_below)

    @torch.no_grad()
    def init_kmeans(self, vectors: torch.Tensor, iterations: int = 10, generator: torch.Generator | None = None) -> None:
        """Start the codebook at k-means centres of (N, D) encoder outputs (Lloyd's algorithm)."""
        if len(vectors) < self.num_codes:
            raise ValueError(f"k-means needs at least {self.num_codes} vectors (one per code), got {len(vectors)}")
        start = torch.randperm(len(vectors), generator=generator)[: self.num_codes].to(vectors.device)
        centres = vectors[start].clone()
        for _ in range(iterations):
            assign = torch.cdist(vectors, centres).argmin(1)
            sums = torch.zeros_like(centres).index_add_(0, assign, vectors)
            counts = torch.bincount(assign, minlength=self.num_codes).type_as(vectors)
            used = counts > 0   # an empty cluster keeps its centre
            centres[used] = sums[used] / counts[used, None]
        self.set_codes(torch.arange(self.num_codes, device=vectors.device), centres)


class VQVAE(nn.Module):
    """Encoder (two stride-2 convolutions: 28 → 14 → 7) to a grid of ``code_dim``-vectors, the
    vector quantizer, and the mirror-image decoder. Loss: −log p(x|z_q) + codebook + β·commitment.
    """

    def __init__(self, num_codes: int = 64, code_dim: int = 16, width: int = 64, beta: float = 0.25,
                 ema: bool = False, decay: float = 0.99, restart_below: float = 0.0,
                 image_shape: tuple[int, ...] = (1, 28, 28), likelihood: str | dict = "bernoulli"):
        super().__init__()
        if len(image_shape) != 3 or image_shape[1] % 4 or image_shape[2] % 4:
            raise ValueError(f"VQVAE needs image_shape (channels, height, width) with sides divisible by 4, "
                             f"got {tuple(image_shape)}")
        _positive_int("width", width)
        self.quantizer = VectorQuantizer(num_codes, code_dim, beta, ema, decay, restart_below)
        self.likelihood: Likelihood = make_likelihood(likelihood)
        self.image_shape = tuple(image_shape)
        self.config = dict(num_codes=num_codes, code_dim=code_dim, width=width, beta=beta, ema=ema, decay=decay,
                           restart_below=restart_below, image_shape=list(image_shape),
                           likelihood=self.likelihood.config())
        c = image_shape[0]
        self.encoder = nn.Sequential(
            nn.Conv2d(c, width, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(width, width, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(width, code_dim, 1))
        self.decoder = nn.Sequential(
            nn.Conv2d(code_dim, width, 3, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(width, width, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(width, c * self.likelihood.params_per_pixel, 4, stride=2, padding=1))

    @property
    def grid_shape(self) -> tuple[int, int]:
        """The shape of the code grid: a quarter of the image's height and width."""
        return self.image_shape[1] // 4, self.image_shape[2] // 4

    def check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 4 or tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(f"VQVAE expects a batch of shape (N, {', '.join(map(str, self.image_shape))}), "
                             f"got {tuple(x.shape)}")

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """Returns (decoder output, code indices (N, H/4, W/4), the quantizer's two loss terms)."""
        self.check_input(x)
        z_q, indices, terms = self.quantizer(self.encoder(x))
        return self.decoder(z_q), indices, terms

    def loss(
        self, batch: tuple[torch.Tensor, ...], beta: float | None = None
    ) -> dict[str, torch.Tensor]:
        """The paper's loss, per image, with the bound
        −log p(x) ≤ −log p(x|z_q) + positions · log K (uniform prior over the codes)
        and the batch's code perplexity."""
        x = batch[0]
        out, indices, terms = self(x)
        beta = self.quantizer.beta if beta is None else beta
        distortion = -self.likelihood.log_prob(x, out)
        ema = self.quantizer.ema
        codebook = torch.zeros_like(distortion) if ema else terms["codebook"]
        positions = indices[0].numel()
        return {
            "loss": (distortion + codebook + beta * terms["commitment"]).mean(),
            "distortion": distortion.mean(),
            "codebook": terms["codebook"].mean(),
            "commitment": terms["commitment"].mean(),
            "bound_uniform": distortion.mean()
            + positions * math.log(self.quantizer.num_codes),
            "perplexity": perplexity(indices, self.quantizer.num_codes),
        }

    @torch.no_grad()
    def codes(self, x: torch.Tensor) -> torch.Tensor:
        """The code indices of images: (N, H/4, W/4) integers in [0, K)."""
        self.check_input(x)
        return self.quantizer.nearest(self.encoder(x).permute(0, 2, 3, 1).reshape(-1, self.quantizer.code_dim)
                                      ).view(len(x), *self.grid_shape)

    @torch.no_grad()
    def decode_codes(self, indices: torch.Tensor, mean: bool = True) -> torch.Tensor:
        """Images from a grid of code indices: the decoder's mean (or a draw from p(x|z_q))."""
        codes = self.quantizer.codebook.shape[0]
        if indices.dtype.is_floating_point or indices.dim() != 3:
            raise ValueError(f"decode_codes expects integer code indices of shape (N, H, W), "
                             f"got {indices.dtype} of shape {tuple(indices.shape)}")
        low, high = (int(indices.min()), int(indices.max())) if indices.numel() else (0, 0)
        if low < 0 or high >= codes:
            raise ValueError(f"code index {low if low < 0 else high} lies outside 0..{codes - 1}, "
                             f"the codebook's {codes} codes")
        z_q = self.quantizer.codebook[indices].permute(0, 3, 1, 2)
        out = self.decoder(z_q)
        return self.likelihood.mean(out) if mean else self.likelihood.sample(out)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode_codes(self.codes(x))

    @torch.no_grad()
    def distortion(self, x: torch.Tensor) -> torch.Tensor:
        """−log p(x|z_q) per image, z_q the codes of x: the first term of the bound on −log p(x)."""
        return -self.likelihood.log_prob(x, self.decoder(self.quantizer.codebook[self.codes(x)].permute(0, 3, 1, 2)))


#: Chapter 12's VQ-VAE on MNIST by profile, for ``vaebook.by_profile(**MNIST_VQVAE)``: its
#: epochs, training images and sizes. Chapter 13 trains (or loads) the same model as its prior's data.
MNIST_VQVAE: dict[str, dict] = {
    "smoke": {"epochs": 1, "train_images": 2_000, "config": {"num_codes": 32, "code_dim": 8, "width": 16}},
    "book": {"epochs": 3, "train_images": 20_000, "config": {"num_codes": 64, "code_dim": 16, "width": 32}},
    "full": {"epochs": 40, "train_images": 60_000, "config": {"num_codes": 128, "code_dim": 32, "width": 128}},
}
#: The checkpoint name both chapters give it, so that a saved model is shared.
MNIST_VQVAE_CHECKPOINT = "ch12-vqvae"


def mnist_vqvae(config: dict) -> VQVAE:
    """Chapter 12's VQ-VAE with the sizes ``config``: an EMA codebook with dead-code restarts."""
    return VQVAE(**config, ema=True, restart_below=1.0)


@torch.no_grad()
def codebook_usage(model: VQVAE, loader) -> dict[str, float]:
    """Over a whole loader: how many codes are used at least once, and the perplexity of their use
    (unlike a batch's perplexity, this does not depend on the batch size)."""
    was_training = model.training
    model.eval()
    counts = torch.zeros(model.quantizer.num_codes, dtype=torch.long)
    for batch in loader:
        counts += torch.bincount(model.codes(batch[0]).flatten().cpu(), minlength=model.quantizer.num_codes)
    model.train(was_training)
    p = counts.double() / counts.sum()
    entropy = -(p[p > 0] * p[p > 0].log()).sum()
    return {"codes_used": int((counts > 0).sum()), "perplexity": float(entropy.exp())}


def straight_through_passes(quantize=None, beta: float = 0.25, seed: int = 0) -> bool:
    """Do a quantizer's gradients follow the VQ-VAE paper? Checked by autograd on a tiny example.

    ``quantize(quantizer, z_e)`` returns (output, indices, terms) like :meth:`VectorQuantizer.forward`
    (the default). With loss = r(output) + codebook + β·commitment for a fixed smooth r, the
    encoder output must receive r's gradient at z_q plus 2β(z_e − e), and each code e_k exactly
    2·Σ(e_k − z_e) over the vectors assigned to it (none of r's gradient). Returns True or False.
    """
    quantize = quantize or (lambda quantizer, z_e: quantizer(z_e))
    g = torch.Generator().manual_seed(seed)
    quantizer = VectorQuantizer(5, 3, beta=beta).eval().double()
    with torch.no_grad():
        quantizer.codebook.copy_(torch.randn(5, 3, generator=g, dtype=torch.float64))
    z_e = torch.randn(2, 3, 2, 2, generator=g, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(3, 3, generator=g, dtype=torch.float64)

    def r(z: torch.Tensor) -> torch.Tensor:           # a stand-in for the decoder's −log p(x|z_q)
        return torch.einsum("ij,njhw->nihw", weight, z).sin().flatten(1).sum(1)

    out, indices, terms = quantize(quantizer, z_e)
    (r(out) + terms["codebook"] + beta * terms["commitment"]).mean().backward()
    n = z_e.shape[0]
    z_q = quantizer.codebook.detach()[indices].permute(0, 3, 1, 2).clone().requires_grad_(True)
    r(z_q).mean().backward()
    expected_encoder = z_q.grad + 2 * beta * (z_e.detach() - z_q.detach()) / n
    flat = z_e.detach().permute(0, 2, 3, 1).reshape(-1, 3)
    k = indices.flatten()
    expected_codebook = torch.zeros(5, 3, dtype=torch.float64).index_add_(
        0, k, 2 * (quantizer.codebook.detach()[k] - flat) / n)
    codebook_grad = quantizer.codebook.grad
    return bool(z_e.grad is not None and codebook_grad is not None
                and torch.allclose(z_e.grad, expected_encoder, atol=1e-10)
                and torch.allclose(codebook_grad, expected_codebook, atol=1e-10))


def train_tracking_codes(model: VQVAE, loader, epochs: int, test_loader, lr: float = 1e-3
                         ) -> tuple[dict[str, list[float]], list[dict[str, float]]]:
    """Train with the book's Trainer and, after every epoch, count the codes the test images use.

    Returns the training history (with each epoch's mean batch perplexity) and one
    :func:`codebook_usage` per epoch.
    """
    from vaebook.train import Trainer

    usage: list[dict[str, float]] = []
    trainer = Trainer(model, lr=lr, progress=False)
    history = trainer.fit(loader, epochs, on_epoch=lambda epoch, metrics: usage.append(
        codebook_usage(model, test_loader)))
    return history, usage


class StepLoader:
    """Batches drawn at random from in-memory images, ``steps`` of them per pass: a schedule counted in
    optimizer steps (as the Sonnet VQ-VAE example counts it) run through the book's epoch-based Trainer."""

    def __init__(self, images: torch.Tensor, batch_size: int, steps: int, seed: int = 0):
        _positive_int("batch_size", batch_size)
        _positive_int("steps", steps)
        self.x, self.batch_size, self.steps = images, batch_size, steps
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return self.steps

    def __iter__(self):
        for _ in range(self.steps):
            index = torch.randint(len(self.x), (self.batch_size,), generator=self.generator).to(self.x.device)
            yield self.x[index], index


@torch.no_grad()
def normalised_mse(model: VQVAE, images: torch.Tensor, variance: float, batch_size: int = 500) -> float:
    """Mean squared error of the reconstructions divided by the data's variance (NMSE)."""
    total = sum(float((model.reconstruct(x) - x).pow(2).sum()) for x in images.split(batch_size))
    return total / images.numel() / variance


def train_logging_nmse(model: VQVAE, train_images: torch.Tensor, test_images: torch.Tensor,
                       log_at: tuple[int, ...], batch_size: int = 32, lr: float = 3e-4
                       ) -> list[dict[str, float]]:
    """Train for ``log_at[-1]`` steps; at each step count in ``log_at``, the test images' NMSE
    (variance of the training images), the codes' perplexity and the codes used on them."""
    from vaebook.data import TensorLoader
    from vaebook.train import Trainer

    if list(log_at) != sorted(set(log_at)) or log_at[0] < 1:
        raise ValueError(f"log_at must be increasing step counts of at least 1, got {log_at}")
    variance = float(train_images.var())
    trainer = Trainer(model, lr=lr, progress=False)
    test_loader = TensorLoader((test_images, torch.zeros(len(test_images))), 500, shuffle=False)
    log, done = [], 0
    for step in log_at:
        trainer.fit(StepLoader(train_images, batch_size, step - done, seed=step), trainer.epoch + 1)
        done = step
        log.append({"step": step, "nmse": normalised_mse(model.eval(), test_images, variance),
                    **codebook_usage(model, test_loader)})
        model.train()
    return log
