"""Gaussian mixture models with full covariances fitted by EM, and model selection by BIC (numpy).

Used by mmJoints to cluster training poses (the pose basis is initialised from the cluster means).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass
class GaussianMixture:
    """A fitted mixture.

    Attributes:
        weights: (C,) mixing weights.
        means: (C, D).
        covariances: (C, D, D).
        log_likelihood: total log-likelihood of the fitted data.
    """

    weights: NDArray[np.float64]
    means: NDArray[np.float64]
    covariances: NDArray[np.float64]
    log_likelihood: float

    @property
    def num_components(self) -> int:
        return int(self.weights.shape[0])

    def num_parameters(self) -> int:
        c, d = self.means.shape
        return int(c * d + c * d * (d + 1) // 2 + c - 1)

    def log_responsibilities(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """(N, D) -> (N, C) log p(component, x)."""
        return _log_joint(np.asarray(x, np.float64), self.weights, self.means, self.covariances)

    def predict(self, x: NDArray[np.float64]) -> NDArray[np.int64]:
        """(N, D) -> (N,) most likely component."""
        return np.asarray(self.log_responsibilities(x).argmax(1), np.int64)

    def bic(self, n: int) -> float:
        """Bayesian information criterion for ``n`` samples (lower is better)."""
        return float(-2.0 * self.log_likelihood + self.num_parameters() * np.log(n))


def _log_joint(
    x: NDArray[np.float64],
    w: NDArray[np.float64],
    mu: NDArray[np.float64],
    cov: NDArray[np.float64],
) -> NDArray[np.float64]:
    n, d = x.shape
    out = np.empty((n, len(w)))
    for c in range(len(w)):
        chol = np.linalg.cholesky(cov[c])
        sol = np.linalg.solve(chol, (x - mu[c]).T)
        logdet = 2.0 * np.log(np.diag(chol)).sum()
        out[:, c] = np.log(w[c]) - 0.5 * (d * np.log(2 * np.pi) + logdet + (sol**2).sum(0))
    return out


def _logsumexp(a: NDArray[np.float64]) -> NDArray[np.float64]:
    m = a.max(1, keepdims=True)
    return np.asarray((m + np.log(np.exp(a - m).sum(1, keepdims=True)))[:, 0], np.float64)


def fit_gmm(
    x: NDArray[np.float64],
    num_components: int,
    *,
    seed: int = 0,
    iterations: int = 100,
    tol: float = 1e-6,
    reg_covar: float = 1e-6,
) -> GaussianMixture:
    """EM for a full-covariance GMM, initialised by k-means++ seeding.

    Args:
        x: (N, D) data.
        reg_covar: added to every covariance diagonal (keeps them positive definite).
    """
    x = np.asarray(x, np.float64)
    n, d = x.shape
    if num_components < 1 or num_components > n:
        raise ValueError(f"num_components must be in [1, {n}]")
    rng = np.random.default_rng(seed)
    centres = [x[rng.integers(n)]]
    for _ in range(1, num_components):
        d2 = np.min([((x - c) ** 2).sum(1) for c in centres], axis=0)
        total = d2.sum()
        probs = d2 / total if total > 0 else np.full(n, 1.0 / n)
        centres.append(x[rng.choice(n, p=probs)])
    mu = np.stack(centres)
    eye = np.eye(d)
    scale = x.var(0).mean() + reg_covar
    cov = np.stack([eye * scale for _ in range(num_components)])
    w = np.full(num_components, 1.0 / num_components)
    prev = -np.inf
    ll = prev
    for _ in range(iterations):
        lj = _log_joint(x, w, mu, cov)
        lse = _logsumexp(lj)
        ll = float(lse.sum())
        resp = np.exp(lj - lse[:, None])
        nk = resp.sum(0) + 1e-10
        w = nk / n
        mu = (resp.T @ x) / nk[:, None]
        for c in range(num_components):
            diff = x - mu[c]
            cov[c] = (resp[:, c, None] * diff).T @ diff / nk[c] + reg_covar * eye
        if abs(ll - prev) <= tol * max(1.0, abs(ll)):
            break
        prev = ll
    ll = float(_logsumexp(_log_joint(x, w, mu, cov)).sum())
    return GaussianMixture(w, mu, cov, ll)


def select_gmm_bic(
    x: NDArray[np.float64], candidates: Iterable[int], *, seed: int = 0, restarts: int = 2
) -> tuple[GaussianMixture, dict[int, float]]:
    """The GMM with the lowest BIC over ``candidates`` component counts (best of ``restarts``
    seeds each), and the BIC of every candidate."""
    x = np.asarray(x, np.float64)
    best: GaussianMixture | None = None
    bics: dict[int, float] = {}
    for k in candidates:
        if k > len(x):
            continue
        fits = [fit_gmm(x, k, seed=seed + r) for r in range(restarts)]
        model = max(fits, key=lambda m: m.log_likelihood)
        bics[k] = model.bic(len(x))
        if best is None or bics[k] < best.bic(len(x)):
            best = model
    if best is None:
        raise ValueError("no candidate component count fits the data")
    return best, bics
