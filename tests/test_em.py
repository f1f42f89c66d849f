"""EM for Gaussian mixtures: densities against SciPy, hand-computed steps, monotone log-likelihood, clear errors."""

import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from vaebook import em
from vaebook.data import gaussian_mixture_2d


def random_gmm(k=3, d=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(k, d, d, generator=g, dtype=torch.float64)
    covs = a @ a.transpose(1, 2) + 0.5 * torch.eye(d, dtype=torch.float64)
    weights = torch.softmax(torch.randn(k, generator=g, dtype=torch.float64), 0)
    return em.GMM(weights, 2 * torch.randn(k, d, generator=g, dtype=torch.float64), covs)


def test_log_density_matches_scipy():
    gmm = random_gmm()
    x = torch.randn(50, 2, dtype=torch.float64)
    ours = em.log_density(x, gmm).exp().numpy()
    ref = sum(float(w) * multivariate_normal(m.numpy(), c.numpy()).pdf(x.numpy())
              for w, m, c in zip(gmm.weights, gmm.means, gmm.covs))
    np.testing.assert_allclose(ours, ref, rtol=1e-10)


def test_far_points_do_not_underflow():
    gmm = random_gmm()
    x = torch.full((3, 2), 1e3, dtype=torch.float64)
    log_resp, ll = em.e_step(x, gmm)
    assert torch.isfinite(log_resp).all() and math.isfinite(ll)
    torch.testing.assert_close(log_resp.exp().sum(1), torch.ones(3, dtype=torch.float64))


def test_e_step_responsibilities_by_hand():
    gmm = random_gmm(k=2, d=1)
    x = torch.tensor([[0.3], [-1.0]], dtype=torch.float64)
    log_resp, _ = em.e_step(x, gmm)
    for n in range(2):
        joint = [float(gmm.weights[k]) * multivariate_normal(float(gmm.means[k, 0]), float(gmm.covs[k, 0, 0])).pdf(float(x[n, 0]))
                 for k in range(2)]
        np.testing.assert_allclose(log_resp[n].exp().numpy(), np.array(joint) / sum(joint), rtol=1e-10)


def test_m_step_with_hard_responsibilities_is_per_cluster_mle():
    x = torch.tensor([[0.0, 0.0], [2.0, 0.0], [10.0, 10.0], [12.0, 14.0]], dtype=torch.float64)
    resp = torch.tensor([[1, 0], [1, 0], [0, 1], [0, 1]], dtype=torch.float64)
    gmm = em.m_step(x, torch.log(resp))
    torch.testing.assert_close(gmm.weights, torch.tensor([0.5, 0.5], dtype=torch.float64))
    torch.testing.assert_close(gmm.means, torch.tensor([[1.0, 0.0], [11.0, 12.0]], dtype=torch.float64))
    torch.testing.assert_close(gmm.covs[1], torch.tensor([[1.0, 2.0], [2.0, 4.0]], dtype=torch.float64))
    floored = em.m_step(x, torch.log(resp), cov_floor=0.1)
    torch.testing.assert_close(floored.covs - gmm.covs, 0.1 * torch.eye(2, dtype=torch.float64).expand(2, 2, 2))


def test_fit_is_monotone_and_recovers_clusters():
    x, _ = gaussian_mixture_2d(600, seed=1)
    gmm, history = em.fit(x, 3, iterations=200, seed=0)
    ll = np.array(history["log_likelihood"])
    assert np.all(np.diff(ll) >= -1e-12)
    found = gmm.means[torch.argsort(gmm.means[:, 0] + 0.1 * gmm.means[:, 1])]
    torch.testing.assert_close(found, torch.tensor([[-2.0, 0.0], [0.0, 2.5], [2.0, 0.0]], dtype=torch.float64),
                               atol=0.1, rtol=0)
    assert abs(em.log_likelihood(x.double(), gmm) - ll[-1]) < 1e-9


def test_collapse_raises_or_stops_and_floor_prevents_it():
    x, _ = gaussian_mixture_2d(100, seed=2)
    x = x.double()
    start = random_gmm(k=2, d=2)
    start.means[1] = x[0]
    start.covs[1] = 1e-4 * torch.eye(2, dtype=torch.float64)
    with pytest.raises(em.ComponentCollapseError, match="iteration"):
        em.fit(x, start, iterations=50)
    _, history = em.fit(x, start, iterations=50, on_collapse="stop")
    assert history["stopped"] and history["log_likelihood"][-1] > history["log_likelihood"][0] + 1
    _, floored = em.fit(x, start, iterations=50, cov_floor=1e-2)
    assert not floored["stopped"]


def test_bad_input_is_named():
    gmm = random_gmm()
    with pytest.raises(ValueError, match="dimension"):
        em.log_density(torch.zeros(4, 3, dtype=torch.float64), gmm)
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        em.log_density(torch.zeros(4, dtype=torch.float64), gmm)
    with pytest.raises(ValueError, match="k must be"):
        em.init_gmm(torch.zeros(3, 2), 5)
    with pytest.raises(ValueError, match="cov_floor"):
        em.m_step(torch.zeros(3, 2), torch.zeros(3, 1), cov_floor=-1)
    with pytest.raises(ValueError, match="shapes"):
        em.GMM(torch.ones(2), torch.zeros(3, 2), torch.eye(2).expand(3, 2, 2))
    with pytest.raises(ValueError, match="on_collapse"):
        em.fit(torch.zeros(3, 2), 1, on_collapse="ignore")
