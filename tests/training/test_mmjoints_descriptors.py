"""mmJoints formulas: descriptors on hand-made cases, GMM + BIC, Hungarian-matched loss,
Jeffrey bound, triplet sampling."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from training.mmjoints.descriptors import (
    ground_truth_descriptors,
    reliability_score,
    sensing_psi,
    sensing_score,
    smape,
    torso_lengths,
    wmape,
)
from training.mmjoints.divergence import (
    jeffrey_diag_gaussians,
    kl_diag_gaussians,
    weighted_jeffrey_bound,
)
from training.mmjoints.gmm import select_gmm_bic
from training.mmjoints.models import batch_hard_triplet, hungarian_l1_loss, orthonormal_basis


def _sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def test_sensing_psi_and_xi_by_hand() -> None:
    points = np.array([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0]])
    intensity = np.array([2.0, 4.0])
    joints = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    psi = sensing_psi(points, intensity, joints)
    # joint 1: 2/1 + 4/1; joint 2: 2/1 + 4/(2^2 + 1^2)
    np.testing.assert_allclose(psi, [6.0, 2.8])
    np.testing.assert_allclose(sensing_score(psi), [_sig(1.6), _sig(-1.6)])


def test_reliability_by_hand() -> None:
    d0 = 20.0
    f0 = 1.0 - _sig(-10.0)
    np.testing.assert_allclose(
        reliability_score([0.0, 10.0, 13.0], d0), [1.0, 0.5 / f0, (1.0 - _sig(3.0)) / f0]
    )


def test_ground_truth_descriptors_units_and_scale() -> None:
    # the same case in metres with a 0.5 m unit and intensities scaled by 10
    pts = np.array([[0.0, 0.0, 0.0, 0.0, 20.0], [1.0, 0.0, 0.0, 0.0, 40.0]], np.float32)
    gt = np.array([[[0.5, 0.0, 0.0], [0.0, 0.5, 0.0]]])
    pred = gt + np.array([[[5.0, 0.0, 0.0], [0.0, 0.0, 0.0]]])  # 10 units off for joint 1
    xi, kappa = ground_truth_descriptors(
        [pts], gt, pred, torso_length=20.0, length_unit_m=0.5, intensity_scale=10.0
    )
    np.testing.assert_allclose(xi[0], [_sig(1.6), _sig(-1.6)], rtol=1e-6)
    np.testing.assert_allclose(kappa[0], [0.5 / (1.0 - _sig(-10.0)), 1.0], rtol=1e-6)


def test_torso_length_and_error_metrics() -> None:
    from labeling.skeletons import get_schema

    lm = get_schema("coco17").landmarks
    k = np.zeros((17, 3))
    k[[lm.index("left_shoulder"), lm.index("right_shoulder")], 2] = 0.5
    assert torso_lengths(k, lm) == pytest.approx(0.5)
    assert smape([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert smape([2.0], [1.0]) == pytest.approx(100.0 * 2 / 3)
    assert wmape([2.0, 1.0], [1.0, 1.0]) == pytest.approx(50.0)


def test_gmm_bic_picks_the_true_cluster_count() -> None:
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])
    x = np.concatenate([c + rng.normal(0, 0.7, (80, 2)) for c in centres])
    gmm, bics = select_gmm_bic(x, range(1, 6), seed=0)
    assert gmm.num_components == 3, bics
    labels = gmm.predict(x)
    assert len(set(labels[:80].tolist())) == 1 and len(set(labels.tolist())) == 3


def test_hungarian_l1_is_permutation_invariant() -> None:
    g = torch.Generator().manual_seed(0)
    pred = torch.randn(5, 4, 6, generator=g)
    pw = torch.softmax(torch.randn(5, 4, generator=g), -1)
    target = torch.randn(5, 4, 6, generator=g)
    tw = torch.softmax(torch.randn(5, 4, generator=g), -1)
    base = hungarian_l1_loss(pred, pw, target, tw)
    perm_p, perm_t = torch.tensor([2, 0, 3, 1]), torch.tensor([3, 1, 0, 2])
    assert torch.allclose(base, hungarian_l1_loss(pred[:, perm_p], pw[:, perm_p], target, tw))
    assert torch.allclose(base, hungarian_l1_loss(pred, pw, target[:, perm_t], tw[:, perm_t]))
    # identical sets in another order match exactly
    zero = hungarian_l1_loss(target[:, perm_t], tw[:, perm_t], target, tw)
    assert float(zero) == pytest.approx(0.0, abs=1e-7)


def _numeric_kl(p: np.ndarray, q: np.ndarray, dx: float) -> float:
    return float(np.sum(p * (np.log(p) - np.log(q))) * dx)


def _normal(x: np.ndarray, mu: float, sd: float) -> np.ndarray:
    return np.asarray(np.exp(-0.5 * ((x - mu) / sd) ** 2) / (sd * math.sqrt(2 * math.pi)))


def test_jeffrey_closed_form_and_bound_against_numeric_divergence() -> None:
    x = np.linspace(-15, 15, 300001)
    dx = float(x[1] - x[0])
    ps = _normal(x, 0.3, 0.8)
    comps = [(-1.0, 0.5), (1.5, 1.2), (0.0, 2.0)]
    phi = np.array([0.5, 0.3, 0.2])
    mix = sum(w * _normal(x, m, s) for w, (m, s) in zip(phi, comps, strict=True))
    exact = _numeric_kl(ps, mix, dx) + _numeric_kl(mix, ps, dx)
    t = torch.float64
    mu_s, lv_s = torch.tensor([[0.3]], dtype=t), torch.tensor([[math.log(0.64)]], dtype=t)
    mu_c = torch.tensor([[[m] for m, _ in comps]], dtype=t)
    lv_c = torch.tensor([[[math.log(s * s)] for _, s in comps]], dtype=t)
    bound = float(
        weighted_jeffrey_bound(mu_s, lv_s, torch.tensor(phi[None], dtype=t), mu_c, lv_c)[0]
    )
    assert bound >= exact > 0
    # one component: the bound is the exact divergence, and the closed form matches numerics
    single = _normal(x, -1.0, 0.5)
    numeric = _numeric_kl(ps, single, dx) + _numeric_kl(single, ps, dx)
    closed = float(jeffrey_diag_gaussians(mu_s, lv_s, mu_c[:, 0], lv_c[:, 0])[0])
    assert closed == pytest.approx(numeric, rel=1e-4)
    kl = float(kl_diag_gaussians(mu_s, lv_s, mu_c[:, 0], lv_c[:, 0])[0])
    assert kl == pytest.approx(_numeric_kl(ps, single, dx), rel=1e-4)


def test_triplet_never_uses_a_sample_as_its_own_positive() -> None:
    emb = torch.tensor([[0.0, 0.0], [5.0, 0.0], [0.1, 0.0]])
    labels = torch.tensor([0, 1, 2])  # no sample has a positive: nothing to learn
    assert float(batch_hard_triplet(emb, labels, 1.0)) == 0.0
    labels = torch.tensor([0, 0, 1])
    # anchor 0: positive 1 (d 5), negative 2 (d 0.1): 5 - 0.1 + 1; anchor 1: 5 - 4.9 + 1
    expected = ((5 - 0.1 + 1) + (5 - 4.9 + 1)) / 2
    assert float(batch_hard_triplet(emb, labels, 1.0)) == pytest.approx(expected, rel=1e-5)


def test_orthonormal_basis_spans_cluster_means() -> None:
    rng = np.random.default_rng(1)
    means = rng.normal(size=(4, 12))
    b = orthonormal_basis(means, 8)
    np.testing.assert_allclose(b @ b.T, np.eye(8), atol=1e-10)
    centred = means - means.mean(0)
    np.testing.assert_allclose(centred @ b.T @ b, centred, atol=1e-10)
    with pytest.raises(ValueError):
        orthonormal_basis(means, 13)
