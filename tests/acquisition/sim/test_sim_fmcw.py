"""Physics of the FMCW simulator, checked with plain numpy FFTs (no dependence on the DSP code)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from acquisition.geometry import Pose
from acquisition.radar.params import SPEED_OF_LIGHT_MPS, RadarParams
from acquisition.sim.fmcw import NoiseMode, RadarSimulator, Scatterers, quantize_int16
from acquisition.sim.person import PersonMotion, PersonScattererLayout
from acquisition.sim.presets import hupr_radar_params

PARAMS = hupr_radar_params()
# Virtual-element spacing in wavelengths at the centre frequency (board: lambda/2 at 77 GHz).
SPACING_WL = 0.5 * PARAMS.center_freq_hz / PARAMS.board.design_freq_hz


def ti_point(range_m: float, azimuth_deg: float, elevation_deg: float) -> NDArray[np.float64]:
    """TI-frame point (x right, y boresight, z up) at range / azimuth / elevation."""
    az, el = np.radians(azimuth_deg), np.radians(elevation_deg)
    return range_m * np.array([np.cos(el) * np.sin(az), np.cos(el) * np.cos(az), np.sin(el)])


def noiseless(pose: Pose | None = None, params: RadarParams = PARAMS) -> RadarSimulator:
    return RadarSimulator(params, pose or Pose(), noise_std=0.0, quantize=False)


def target(pose: Pose, range_m: float, az: float, el: float, radial_mps: float = 0.0) -> Scatterers:
    """A 1 m^2 point in the rig frame at a TI-frame direction, moving radially."""
    point_ti = ti_point(range_m, az, el)
    unit = point_ti / range_m
    origin = pose.radar_to_rig(np.zeros(3))
    position = pose.radar_to_rig(point_ti)
    velocity = pose.radar_to_rig(unit * radial_mps) - origin
    return Scatterers.point(position, velocity=velocity)


def peak_bin(values: NDArray[np.float64]) -> int:
    return int(np.argmax(values))


def circular_distance(a: int, b: int, n: int) -> int:
    d = abs(a - b) % n
    return min(d, n - d)


@pytest.mark.parametrize("range_m", [1.0, 2.37, 3.0, 5.5, 9.0])
def test_range_bin_of_a_plain_fft(range_m: float) -> None:
    cube = noiseless().simulate_frame(target(Pose(), range_m, 0.0, 0.0))
    profile = np.abs(np.fft.fft(cube, axis=-1)).sum(axis=(0, 1, 2))
    expected = round(range_m / PARAMS.range_resolution_m)
    assert abs(peak_bin(profile) - expected) <= 1


@pytest.mark.parametrize("radial_mps", [-2.5, -0.7, 0.0, 0.4, 1.3, 3.0])
def test_doppler_bin_of_a_plain_fft(radial_mps: float) -> None:
    cube = noiseless().simulate_frame(target(Pose(), 3.0, 0.0, 0.0, radial_mps))
    rbin = round(3.0 / PARAMS.range_resolution_m)
    spectrum = np.fft.fft(np.fft.fft(cube, axis=-1)[..., rbin - 2 : rbin + 3], axis=0)
    doppler = np.abs(spectrum).sum(axis=(1, 2, 3))
    expected = round(radial_mps / PARAMS.velocity_resolution_mps) % PARAMS.num_loops
    assert circular_distance(peak_bin(doppler), expected, PARAMS.num_loops) <= 1


def test_receding_target_is_a_positive_doppler_bin() -> None:
    cube = noiseless().simulate_frame(target(Pose(), 3.0, 0.0, 0.0, 1.0))
    doppler = np.abs(np.fft.fft(cube[:, 0, 0, :].sum(axis=-1)))
    assert 0 < peak_bin(doppler) < PARAMS.num_loops // 2


@pytest.mark.parametrize(
    ("azimuth_deg", "elevation_deg"), [(0.0, 0.0), (20.0, 0.0), (-35.0, 10.0), (10.0, -25.0)]
)
def test_azimuth_and_elevation_phases(azimuth_deg: float, elevation_deg: float) -> None:
    cube = noiseless().simulate_frame(target(Pose(), 3.0, azimuth_deg, elevation_deg))
    rbin = round(3.0 / PARAMS.range_resolution_m)
    channels = np.fft.fft(cube, axis=-1)[..., rbin].sum(axis=0)  # (T, R) at the target range
    # Azimuth row: slot 0 (TX0) RX0-3 at x = 0..3, slot 2 (TX2) RX0-3 at x = 4..7.
    row = np.concatenate([channels[0], channels[2]])
    spectrum = np.abs(np.fft.fft(row, 64))
    u_x = np.sin(np.radians(azimuth_deg)) * np.cos(np.radians(elevation_deg))
    # Closer element -> shorter path -> phase -2 pi d u per element: bin -64 d u of a plain FFT.
    expected = round(-64 * SPACING_WL * u_x) % 64
    assert circular_distance(peak_bin(spectrum), expected, 64) <= 1
    # Elevation: TX1 RX0-1 sit at x = 2, 3, half a wavelength above TX0 RX2-3.
    product = (channels[1, 0:2] * channels[0, 2:4].conj()).sum()
    u_z = -np.angle(product) / (2 * np.pi * SPACING_WL)
    assert u_z == pytest.approx(np.sin(np.radians(elevation_deg)), abs=0.02)


def test_vertical_radar_sees_world_elevation_along_its_array() -> None:
    """A board rolled 90 degrees about its boresight has its TI x axis pointing up."""
    pose = Pose.from_xyz_rpy((0.0, 0.0, 0.0), (90.0, 0.0, 0.0))
    up = pose.rig_vectors_to_radar(np.array([0.0, 0.0, 1.0]))
    assert abs(up[0]) == pytest.approx(1.0)
    # A point above boresight in the world: along the array for this board.
    scat = Scatterers.point([3.0, 0.0, 3.0 * np.tan(np.radians(15.0))])
    cube = noiseless(pose).simulate_frame(scat)
    rbin = round(np.hypot(3.0, 3.0 * np.tan(np.radians(15.0))) / PARAMS.range_resolution_m)
    channels = np.fft.fft(cube, axis=-1)[..., rbin].sum(axis=0)
    row = np.concatenate([channels[0], channels[2]])
    expected = round(-64 * SPACING_WL * np.sign(up[0]) * np.sin(np.radians(15.0))) % 64
    assert circular_distance(peak_bin(np.abs(np.fft.fft(row, 64))), expected, 64) <= 1


@pytest.mark.parametrize("radial_mps", [-1.7, 0.0, 0.6, 2.2])
def test_tdm_phase_between_slots_follows_the_motion(radial_mps: float) -> None:
    cube = noiseless().simulate_frame(target(Pose(), 3.0, 0.0, 0.0, radial_mps))
    wavelength = SPEED_OF_LIGHT_MPS / PARAMS.center_freq_hz
    step = 4 * np.pi * radial_mps * PARAMS.chirp_period_s / wavelength  # per chirp period
    # Same RX: the geometric phase of TX0 and TX2 cancels for a boresight target; TX1 is
    # elevated, also orthogonal to boresight. Compare slot 2 with slot 0: two chirp periods.
    measured = np.angle(np.vdot(cube[:, 0, 1, :], cube[:, 2, 1, :]))
    assert np.angle(np.exp(1j * (measured - 2 * step))) == pytest.approx(0.0, abs=0.03)
    # Loop to loop, same slot: T chirp periods.
    measured = np.angle(np.vdot(cube[:-1, 0, 0, :], cube[1:, 0, 0, :]))
    expected = step * PARAMS.chirps_per_loop
    assert np.angle(np.exp(1j * (measured - expected))) == pytest.approx(0.0, abs=0.03)


def test_amplitude_follows_the_radar_equation() -> None:
    sim = noiseless()
    near = np.abs(sim.simulate_frame(Scatterers.point([2.0, 0.0, 0.0], rcs_m2=1.0))).mean()
    far = np.abs(sim.simulate_frame(Scatterers.point([4.0, 0.0, 0.0], rcs_m2=1.0))).mean()
    big = np.abs(sim.simulate_frame(Scatterers.point([4.0, 0.0, 0.0], rcs_m2=4.0))).mean()
    assert near / far == pytest.approx(4.0, rel=0.01)  # amplitude ~ 1 / R^2
    assert big / far == pytest.approx(2.0, rel=0.01)  # amplitude ~ sqrt(rcs)
    assert near == pytest.approx(sim.amplitude_scale_counts / 4.0, rel=0.01)


def test_nothing_is_received_from_behind_the_antennas() -> None:
    cube = noiseless().simulate_frame(Scatterers.point([-3.0, 0.5, 0.0]))
    assert np.count_nonzero(cube) == 0


def test_radar_pose_offset_shifts_the_range() -> None:
    pose = Pose.from_xyz_rpy((0.5, 0.0, 0.0), (0.0, 0.0, 0.0))
    cube = noiseless(pose).simulate_frame(Scatterers.point([3.5, 0.0, 0.0]))
    profile = np.abs(np.fft.fft(cube, axis=-1)).sum(axis=(0, 1, 2))
    assert abs(peak_bin(profile) - round(3.0 / PARAMS.range_resolution_m)) <= 1


def test_positions_refer_to_their_reference_time() -> None:
    """A target given at t = 1 s, moving 2 m/s, is 0.2 m closer at a frame starting at 0.9 s."""
    scat = Scatterers(
        np.array([[3.0, 0.0, 0.0]]), np.array([[2.0, 0.0, 0.0]]), np.array([1.0]), 1.0
    )
    cube = noiseless().simulate_frame(scat, 0.9)
    profile = np.abs(np.fft.fft(cube, axis=-1)).sum(axis=(0, 1, 2))
    assert abs(peak_bin(profile) - round(2.8 / PARAMS.range_resolution_m)) <= 1


def test_same_seed_same_cube_different_seed_different() -> None:
    scat = target(Pose(), 3.0, 10.0, 5.0, 0.5)
    modes: tuple[NoiseMode, ...] = ("bank", "fresh")
    for mode in modes:
        a = RadarSimulator(PARAMS, Pose(), noise_std=8.0, seed=1, noise_mode=mode)
        b = RadarSimulator(PARAMS, Pose(), noise_std=8.0, seed=1, noise_mode=mode)
        c = RadarSimulator(PARAMS, Pose(), noise_std=8.0, seed=2, noise_mode=mode)
        first = [a.simulate_frame(scat, 0.1 * i) for i in range(3)]
        again = [b.simulate_frame(scat, 0.1 * i) for i in range(3)]
        other = [c.simulate_frame(scat, 0.1 * i) for i in range(3)]
        for x, y, z in zip(first, again, other, strict=True):
            np.testing.assert_array_equal(x, y)
            assert not np.array_equal(x, z)
        assert not np.array_equal(first[0], first[1])  # noise differs frame to frame


def test_batch_equals_repeated_frames() -> None:
    scat = [target(Pose(), 2.0 + 0.5 * i, 0.0, 0.0, 0.3) for i in range(3)]
    times = [0.0, 0.1, 0.2]
    a = RadarSimulator(PARAMS, Pose(), noise_std=4.0, seed=5)
    b = RadarSimulator(PARAMS, Pose(), noise_std=4.0, seed=5)
    batch = a.simulate_frames(scat, times)
    assert batch.shape == (3, *PARAMS.cube_shape)
    assert batch.dtype == np.complex64
    for i in range(3):
        np.testing.assert_array_equal(batch[i], b.simulate_frame(scat[i], times[i]))


@pytest.mark.parametrize("mode", ["bank", "fresh"])
def test_noise_std_is_as_requested(mode: NoiseMode) -> None:
    sim = RadarSimulator(PARAMS, Pose(), noise_std=6.0, quantize=False, seed=3, noise_mode=mode)
    cube = sim.simulate_frame(Scatterers.empty())
    for part in (cube.real, cube.imag):
        assert float(part.std()) == pytest.approx(6.0, rel=0.02)
        assert abs(float(part.mean())) < 0.1
    # White: neighbouring samples uncorrelated.
    flat = cube.reshape(-1)
    corr = np.vdot(flat[:-1], flat[1:]) / np.vdot(flat, flat)
    assert abs(corr) < 0.01


def test_quantisation_rounds_and_counts_clipping() -> None:
    sim = RadarSimulator(PARAMS, Pose(), noise_std=3.0, seed=0)
    weak = sim.simulate_frame(Scatterers.point([3.0, 0.0, 0.0], rcs_m2=0.5))
    assert sim.last_clipped_samples == 0
    np.testing.assert_array_equal(weak.real, np.rint(weak.real))
    np.testing.assert_array_equal(weak.imag, np.rint(weak.imag))

    strong = Scatterers.point([0.15, 0.0, 0.0], rcs_m2=10.0)
    clean = noiseless().simulate_frame(strong)
    expected = int(
        np.count_nonzero((np.abs(clean.real) > 32767.5) | (np.abs(clean.imag) > 32767.5))
    )
    assert expected > 0
    sim_q = RadarSimulator(PARAMS, Pose(), noise_std=0.0, seed=0)
    cube = sim_q.simulate_frame(strong)
    assert sim_q.last_clipped_samples == expected
    assert sim_q.total_clipped_samples == expected
    assert cube.real.max() <= 32767 and cube.real.min() >= -32768
    assert cube.imag.max() <= 32767 and cube.imag.min() >= -32768


def test_quantize_int16_counts_samples_not_components() -> None:
    cube = np.array([40000 + 40000j, 1.4 - 2.6j, -50000 + 3j], dtype=np.complex64)
    assert quantize_int16(cube) == 2
    np.testing.assert_array_equal(cube, np.array([32767 + 32767j, 1 - 3j, -32768 + 3j]))


def test_person_at_three_metres_is_well_above_noise_and_not_clipped() -> None:
    motion = PersonMotion("standing", seed=0, start_position=(3.0, 0.0), floor_z=-1.0)
    joints = motion.joints_at(0.0)[0]
    layout = PersonScattererLayout.sample(joints, rng=np.random.default_rng(0))
    scat = layout.scatterers(joints, motion.velocities_at(0.0)[0])
    sim = RadarSimulator(PARAMS, Pose(), seed=0)
    cube = sim.simulate_frame(scat)
    assert sim.last_clipped_samples == 0
    assert 30.0 < float(np.abs(cube).max()) < 8000.0
    profile = (np.abs(np.fft.fft(cube, axis=-1)) ** 2).mean(axis=(0, 1, 2))
    noise_only = RadarSimulator(PARAMS, Pose(), seed=1).simulate_frame(Scatterers.empty())
    floor = float((np.abs(np.fft.fft(noise_only, axis=-1)) ** 2).mean())
    person_bins = slice(
        round(2.6 / PARAMS.range_resolution_m), round(3.4 / PARAMS.range_resolution_m)
    )
    assert 10 * np.log10(profile[person_bins].max() / floor) > 30.0


def test_static_clutter_is_added_to_every_frame() -> None:
    clutter = Scatterers.point([5.0, 1.0, 0.0], rcs_m2=2.0)
    with_clutter = RadarSimulator(PARAMS, Pose(), noise_std=0.0, quantize=False, clutter=clutter)
    cube = with_clutter.simulate_frame(Scatterers.empty(), 3.0)
    np.testing.assert_allclose(cube, noiseless().simulate_frame(clutter), atol=1e-3)
    # Static: no Doppler.
    doppler = np.abs(np.fft.fft(cube[:, 0, 0, :].sum(axis=-1)))
    assert peak_bin(doppler) == 0


def test_scatterers_validate_shapes() -> None:
    with pytest.raises(ValueError, match="inconsistent"):
        Scatterers(np.zeros((2, 3)), np.zeros((3, 3)), np.ones(2))
    with pytest.raises(ValueError, match="non-negative"):
        Scatterers(np.zeros((1, 3)), np.zeros((1, 3)), -np.ones(1))
