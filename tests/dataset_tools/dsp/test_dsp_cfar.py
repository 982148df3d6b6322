"""CFAR detectors: design false-alarm rate on exponential noise, detection of strong targets."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from dataset_tools.dsp import (
    ca_cfar_1d,
    ca_cfar_2d,
    ca_scale,
    os_cfar_1d,
    os_cfar_2d,
    os_scale,
)
from dataset_tools.dsp.cfar import EdgeMode


def exponential_noise(shape: tuple[int, ...], seed: int = 0) -> NDArray[np.float64]:
    """|complex Gaussian|^2 with unit mean: the square-law noise CFAR designs assume."""
    return np.random.default_rng(seed).exponential(1.0, size=shape)


def test_scale_factors_match_closed_forms() -> None:
    assert ca_scale(16, 1e-3) == pytest.approx(16 * (1e-3 ** (-1 / 16) - 1))
    # OS with rank N reduces to the maximum of N cells: pfa = prod (N - i) / (N - i + alpha)
    alpha = os_scale(8, 8, 1e-2)
    i = np.arange(8)
    assert np.prod((8 - i) / (8 - i + alpha)) == pytest.approx(1e-2, rel=1e-6)


@pytest.mark.parametrize("detector", ["ca", "os"])
def test_1d_false_alarm_rate_near_design(detector: str) -> None:
    noise = exponential_noise((400, 256))
    pfa = 1e-2
    if detector == "ca":
        result = ca_cfar_1d(noise, guard=2, train=8, pfa=pfa, mode="wrap")
    else:
        result = os_cfar_1d(noise, guard=2, train=8, pfa=pfa, mode="wrap")
    rate = result.detections.mean()
    assert 0.8 * pfa < rate < 1.25 * pfa, rate  # ~1000 expected alarms: +-6 % standard error
    assert result.threshold.shape == noise.shape
    assert result.noise.mean() == pytest.approx(1.0, rel=0.05)  # unbiased noise estimate


@pytest.mark.parametrize("detector", ["ca", "os"])
def test_2d_false_alarm_rate_near_design(detector: str) -> None:
    noise = exponential_noise((20, 64, 256), seed=1)
    pfa = 1e-3
    if detector == "ca":
        result = ca_cfar_2d(noise, guard=(1, 2), train=(3, 6), pfa=pfa, mode=("wrap", "wrap"))
    else:
        result = os_cfar_2d(noise, guard=(1, 2), train=(3, 6), pfa=pfa, mode=("wrap", "wrap"))
    rate = result.detections.mean()
    assert 0.75 * pfa < rate < 1.33 * pfa, rate  # ~330 expected alarms


def test_edges_are_not_flooded_with_alarms() -> None:
    noise = exponential_noise((400, 64), seed=2)
    modes: list[EdgeMode] = ["symmetric", "edge", "wrap"]
    for mode in modes:
        result = ca_cfar_1d(noise, guard=2, train=8, pfa=1e-2, mode=mode)
        edge_rate = result.detections[:, :10].mean()
        assert edge_rate < 3e-2, (mode, edge_rate)


def test_targets_found_with_few_false_alarms() -> None:
    noise = exponential_noise((64, 256), seed=3)
    targets = [(10, 40), (32, 128), (50, 200)]
    power = noise.copy()
    for d, r in targets:
        power[d, r] += 10 ** (20 / 10)  # 20 dB SNR
    for detect in (ca_cfar_2d, os_cfar_2d):
        result = detect(power, pfa=1e-4)
        assert all(result.detections[d, r] for d, r in targets)
        assert result.detections.sum() <= len(targets) + 5
    along_range = ca_cfar_1d(power, pfa=1e-4)
    assert all(along_range.detections[d, r] for d, r in targets)


def test_os_cfar_survives_a_neighbouring_target_that_masks_ca() -> None:
    power = np.ones(64)
    power[30] = 100.0  # weak target
    power[36] = 1e5  # strong neighbour inside the training window
    ca = ca_cfar_1d(power, guard=1, train=8, pfa=1e-3)
    os_ = os_cfar_1d(power, guard=1, train=8, pfa=1e-3)
    assert not ca.detections[30]
    assert os_.detections[30]


def test_fixed_scale_db() -> None:
    power = np.ones((4, 64))
    power[:, 20] = 10.0  # 10 dB
    assert ca_cfar_1d(power, scale_db=9.0).detections[:, 20].all()
    assert not ca_cfar_1d(power, scale_db=11.0).detections.any()
    with pytest.raises(ValueError, match="either pfa or scale_db"):
        ca_cfar_1d(power, pfa=1e-3, scale_db=10.0)


def test_cfar_runs_along_the_requested_axis_for_batches() -> None:
    power = np.ones((3, 16, 40))
    power[1, 5, 17] = 1e4
    along_range = ca_cfar_1d(power, pfa=1e-3, axis=-1)
    along_doppler = os_cfar_1d(power, pfa=1e-3, axis=-2)
    np.testing.assert_array_equal(np.argwhere(along_range.detections), [[1, 5, 17]])
    np.testing.assert_array_equal(np.argwhere(along_doppler.detections), [[1, 5, 17]])
