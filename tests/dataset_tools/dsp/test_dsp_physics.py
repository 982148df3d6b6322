"""Physics of the DSP chain: analytic point targets land where they must in every map.

Ideal point-target ADC cubes are built here from first principles.

Model (the one ``dataset_tools.dsp.spectrum`` documents): the complex IF sample is
``a exp(+j 2 pi f(t) tau)`` with ``f(t) = f_start + S (adc_start + n / fs)`` the instantaneous
carrier and ``tau = (2 (R + v t_chirp) - p . u) / c`` the round-trip delay, ``p`` the virtual
antenna position (board half wavelengths at the design carrier, in metres) and ``u`` the unit
vector to the target in TI's frame (x right, y boresight, z up). ``t_chirp`` is the start time of
each chirp, TX slots included (TDM), so moving targets carry the TDM-MIMO phase.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import pytest
from numpy.typing import NDArray

from acquisition.radar.params import SPEED_OF_LIGHT_MPS, RadarParams
from dataset_tools.dsp import (
    angle_axis_deg,
    azimuth_row,
    decode_adc_frames,
    detect_points,
    element_spacing_wavelengths,
    encode_adc_frames,
    make_window,
    ra_video_frames,
    range_axis_m,
    range_azimuth_elevation_map,
    range_azimuth_map,
    range_doppler_map,
    range_doppler_spectrum,
    rd_video_frames,
    remove_static_clutter,
    split_points_by_frame,
    velocity_axis_mps,
    virtual_array,
    virtual_grid,
    vrdae_maps,
)

# HuPR's chirp (paper Table 1): 256 samples at 4.4 Msps = 58.2 us fit between ADC start 6 us and
# ramp end 72 us; 3 TX x 64 loops of 82 us chirps = 15.7 ms active per 100 ms frame.
HUPR_PARAMS = RadarParams(
    start_freq_hz=77e9,
    slope_hz_per_s=60.012e12,
    idle_time_s=10e-6,
    adc_start_time_s=6e-6,
    ramp_end_time_s=72e-6,
    num_samples=256,
    sample_rate_hz=4.4e6,
    tx_order=(0, 1, 2),
    rx_channels=(0, 1, 2, 3),
    num_loops=64,
    frame_period_s=0.1,
)


@dataclass(frozen=True)
class PointTarget:
    """One reflector: range (m), radial velocity (m/s, + away), azimuth / elevation (deg)."""

    range_m: float
    velocity_mps: float = 0.0
    azimuth_deg: float = 0.0
    elevation_deg: float = 0.0
    amplitude: float = 1.0

    def direction(self) -> NDArray[np.float64]:
        az, el = np.radians(self.azimuth_deg), np.radians(self.elevation_deg)
        return np.array([np.sin(az) * np.cos(el), np.cos(az) * np.cos(el), np.sin(el)])


def point_target_cube(
    params: RadarParams,
    targets: Sequence[PointTarget],
    *,
    noise_std: float = 0.0,
    seed: int = 0,
) -> NDArray[np.complex128]:
    """(loops, T, R, N) complex ADC cube of the targets plus complex white noise (std per part)."""
    loops, slots, rx, n = params.cube_shape
    positions = params.board.virtual_positions(params.tx_order, params.rx_channels)
    half_wavelength_m = SPEED_OF_LIGHT_MPS / params.board.design_freq_hz / 2.0
    pos_m = positions.reshape(slots, rx, 2) * half_wavelength_m  # (T, R, [x, z])
    t_chirp = (np.arange(loops)[:, None] * slots + np.arange(slots)[None, :]) * (
        params.chirp_period_s
    )  # (loops, T)
    freq = params.start_freq_hz + params.slope_hz_per_s * (
        params.adc_start_time_s + np.arange(n) / params.sample_rate_hz
    )  # (N,)
    cube = np.zeros(params.cube_shape, dtype=np.complex128)
    for target in targets:
        u = target.direction()
        path_diff = pos_m[..., 0] * u[0] + pos_m[..., 1] * u[2]  # (T, R)
        tau = (
            2.0 * (target.range_m + target.velocity_mps * t_chirp)[:, :, None] - path_diff[None]
        ) / SPEED_OF_LIGHT_MPS  # (loops, T, R)
        cube += target.amplitude * np.exp(2j * np.pi * tau[..., None] * freq)
    if noise_std > 0:
        rng = np.random.default_rng(seed)
        cube += noise_std * (rng.standard_normal(cube.shape) + 1j * rng.standard_normal(cube.shape))
    return cube


def range_on_bin(params: RadarParams, k: float) -> float:
    """Range (m) of range bin k of an N-point FFT."""
    return k * params.range_resolution_m


def velocity_on_bin(params: RadarParams, k: float) -> float:
    """Radial velocity (m/s) of signed Doppler bin k of a loops-point FFT."""
    return k * params.velocity_resolution_mps


def sine_on_bin(params: RadarParams, k: float, n_fft: int) -> float:
    """Direction cosine that lands on signed angle bin k of an n_fft-point angle FFT."""
    spacing = 0.5 * params.center_freq_hz / params.board.design_freq_hz
    return k / (n_fft * spacing)


def azimuth_deg_for_sine(u_x: float, elevation_deg: float = 0.0) -> float:
    """Azimuth whose direction cosine along x is u_x at the given elevation."""
    return float(np.degrees(np.arcsin(u_x / np.cos(np.radians(elevation_deg)))))


P = HUPR_PARAMS
CENTRE = P.num_loops // 2  # zero-velocity Doppler bin after fftshift


def target(
    range_bin: float,
    doppler_bin: float = 0.0,
    azimuth_bin: float = 0.0,
    n_azimuth: int = 64,
    elevation_bin: float = 0.0,
    n_elevation: int = 8,
    amplitude: float = 1.0,
) -> PointTarget:
    """A target placed on (signed) bins of range, Doppler and angle FFTs of the given lengths."""
    u_z = sine_on_bin(P, elevation_bin, n_elevation)
    el = float(np.degrees(np.arcsin(u_z)))
    return PointTarget(
        range_m=range_on_bin(P, range_bin),
        velocity_mps=velocity_on_bin(P, doppler_bin),
        azimuth_deg=azimuth_deg_for_sine(sine_on_bin(P, azimuth_bin, n_azimuth), el),
        elevation_deg=el,
        amplitude=amplitude,
    )


def frames_of(
    *targets: PointTarget, noise_std: float = 0.0, seed: int = 0
) -> NDArray[np.complex128]:
    return point_target_cube(P, targets, noise_std=noise_std, seed=seed)[None]


def peak(a: NDArray[np.floating]) -> tuple[int, ...]:
    """Index of the maximum of an n-d array as plain ints."""
    return tuple(int(i) for i in np.unravel_index(np.argmax(a), a.shape))


def local_maxima(profile: NDArray[np.floating], *, rel: float = 0.25) -> list[int]:
    """Indices of interior local maxima above rel * max (linear power)."""
    p = np.asarray(profile, dtype=np.float64)
    inner = (p[1:-1] > p[:-2]) & (p[1:-1] >= p[2:]) & (p[1:-1] > rel * p.max())
    return [int(i) + 1 for i in np.flatnonzero(inner)]


# --- spectrum -------------------------------------------------------------------------------------
def test_axes() -> None:
    np.testing.assert_allclose(np.diff(range_axis_m(P)), P.range_resolution_m)
    assert range_axis_m(P)[0] == 0.0 and range_axis_m(P).size == 256
    assert P.max_range_m == pytest.approx(11.0, abs=0.05)  # paper: 11 m
    v = velocity_axis_mps(P)
    assert v[CENTRE] == 0.0 and v.size == 64
    np.testing.assert_allclose(np.diff(v), P.velocity_resolution_mps)
    angles = angle_axis_deg(64)
    assert angles[32] == 0.0 and angles[48] == pytest.approx(30.0) and angles[0] == -90.0
    assert np.all(np.diff(angles) > 0)
    assert element_spacing_wavelengths(P) == pytest.approx(0.5 * 79.106 / 77.0, rel=1e-3)


def test_windows_and_clutter_removal() -> None:
    assert make_window("hann", 8)[0] == 0.0 and make_window("none", 5).tolist() == [1.0] * 5
    assert make_window("blackman", 16).dtype == np.float32
    with pytest.raises(ValueError, match="unknown window"):
        make_window("kaiser", 8)  # type: ignore[arg-type]
    cube = frames_of(target(40, 3)) + 7.0 + 2.0j  # a moving target plus a static offset
    cleaned = remove_static_clutter(cube)
    assert np.abs(cleaned.mean(axis=-4)).max() < 1e-9


@pytest.mark.parametrize(("range_bin", "doppler_bin"), [(60, 5), (120, -7), (31, 0)])
def test_range_doppler_peak(range_bin: int, doppler_bin: int) -> None:
    rd = range_doppler_map(frames_of(target(range_bin, doppler_bin)))
    assert rd.shape == (1, 64, 256) and rd.dtype == np.float32
    d, r = peak(rd[0])
    assert abs(r - range_bin) <= 1 and abs(d - (CENTRE + doppler_bin)) <= 1
    # receding targets (positive velocity) land above the centre bin
    assert np.sign(velocity_axis_mps(P)[d]) == np.sign(doppler_bin)


# --- virtual array --------------------------------------------------------------------------------
def test_iwr1843_virtual_array() -> None:
    array = virtual_array(P)
    assert array.azimuth_channels.tolist() == [0, 1, 2, 3, 8, 9, 10, 11]
    assert array.grid_index.tolist() == [
        [0, 1, 2, 3, 8, 9, 10, 11],
        [-1, -1, 4, 5, 6, 7, -1, -1],
    ]
    assert array.grid_mask.sum() == 12
    upper, lower, dz = array.elevation_pairs()
    assert upper.tolist() == [4, 5, 6, 7] and lower.tolist() == [2, 3, 8, 9]
    assert dz.tolist() == [1.0] * 4
    cube = np.arange(2 * 3 * 3 * 4 * 5).reshape(2, 3, 3, 4, 5).astype(np.complex64)
    assert azimuth_row(cube, array).shape == (2, 3, 8, 5)
    grid = virtual_grid(cube, array)
    assert grid.shape == (2, 3, 2, 8, 5)
    np.testing.assert_array_equal(grid[..., 1, 2, :], cube[..., 1, 0, :])
    assert not grid[..., 1, 0, :].any()


def test_tdm_doppler_phase_is_compensated() -> None:
    cube = frames_of(target(80, 25))  # fast target: large TDM phase between slots
    plain = range_azimuth_map(cube, P, range_bins=slice(80, 81))[0, 0]
    fixed = range_azimuth_map(cube, P, range_bins=slice(80, 81), compensate_tdm=True)[0, 0]
    assert abs(int(np.argmax(plain)) - 32) >= 2  # the uncompensated peak is off broadside
    assert int(np.argmax(fixed)) == 32


# --- range-azimuth and range-azimuth-elevation ---------------------------------------------------
@pytest.mark.parametrize("azimuth_bin", [12, -9, 0])
def test_range_azimuth_peak(azimuth_bin: int) -> None:
    cube = frames_of(target(70, 3, azimuth_bin), noise_std=0.01)
    ra = range_azimuth_map(cube, P, compensate_tdm=True)
    assert ra.shape == (1, 256, 64) and ra.dtype == np.float32
    r, a = peak(ra[0])
    assert abs(r - 70) <= 1 and abs(a - (32 + azimuth_bin)) <= 1
    # positive azimuth bin = target to the right (positive TI x)
    assert np.sign(target(70, 3, azimuth_bin).azimuth_deg) == np.sign(azimuth_bin)


def test_zero_doppler_mode_sees_static_targets() -> None:
    cube = frames_of(target(50, 0, -10))
    ra = range_azimuth_map(cube, P, doppler_mode="zero_doppler")
    r, a = peak(ra[0])
    assert (r, a) == (50, 22)
    moving_only = range_azimuth_map(cube, P)  # default removes the static scene
    assert moving_only.max() < 1e-6 * ra.max()
    with pytest.raises(ValueError, match="remove_clutter"):
        range_azimuth_map(cube, P, doppler_mode="zero_doppler", remove_clutter=True)


@pytest.mark.parametrize(("azimuth_bin", "elevation_bin"), [(8, 4), (-6, -3), (0, 0)])
def test_range_azimuth_elevation_peak(azimuth_bin: int, elevation_bin: int) -> None:
    t = target(90, 2, azimuth_bin, 64, elevation_bin, 16)
    rae = range_azimuth_elevation_map(frames_of(t), P, compensate_tdm=True)
    assert rae.shape == (1, 256, 64, 16) and rae.dtype == np.float32
    r, a, e = peak(rae[0])
    assert abs(r - 90) <= 1
    assert abs(a - (32 + azimuth_bin)) <= 1
    assert abs(e - (8 + elevation_bin)) <= 1
    assert np.sign(t.elevation_deg) == np.sign(elevation_bin)


def test_batched_maps_equal_per_frame_maps() -> None:
    cube = np.concatenate([frames_of(target(40, 2, 5)), frames_of(target(90, -4, -7))])
    maps: list[Callable[[NDArray[np.complex128]], NDArray[np.float32]]] = [
        range_doppler_map,
        partial(range_azimuth_map, params=P),
        partial(range_azimuth_elevation_map, params=P),
    ]
    for compute in maps:
        np.testing.assert_allclose(compute(cube)[1], compute(cube[1]), rtol=1e-5, atol=1e-6)
    db = range_doppler_map(cube, db=True)
    np.testing.assert_allclose(
        db, 10 * np.log10(np.maximum(range_doppler_map(cube), 1e-12)), atol=1e-4
    )


# --- resolution -----------------------------------------------------------------------------------
def test_range_resolution() -> None:
    def peaks(separation: float) -> list[int]:
        cube = frames_of(target(60, 3), target(60 + separation, 3))
        rd = range_doppler_map(cube, range_window="none", doppler_window="none")
        return local_maxima(rd[0, CENTRE + 3])

    assert peaks(3.0) == [60, 63]  # 3 resolution cells apart: resolved
    assert len(peaks(0.4)) == 1  # less than one cell: a single peak


def test_azimuth_resolution() -> None:
    # 8 elements: resolution 2 / 8 in sin(az), i.e. 8 bins of a 64-bin angle FFT
    def peaks(half_separation: int) -> list[int]:
        cube = frames_of(target(70, 3, -half_separation), target(70, 3, half_separation))
        ra = range_azimuth_map(cube, P, range_bins=slice(70, 71), compensate_tdm=True)
        return local_maxima(ra[0, 0])

    resolved = peaks(8)
    assert len(resolved) == 2 and abs(resolved[0] - 24) <= 1 and abs(resolved[1] - 40) <= 1
    assert len(peaks(2)) == 1


# --- HuPR VRDAE: where its quirks put a target ----------------------------------------------------
@pytest.mark.parametrize(("azimuth_bin", "elevation_bin"), [(9, 2), (-12, -1)])
def test_vrdae_target_lands_where_the_quirks_say(azimuth_bin: int, elevation_bin: int) -> None:
    range_bin, doppler_bin = 60, 2
    t = target(range_bin, doppler_bin, azimuth_bin, 64, elevation_bin, 8)
    vrdae = vrdae_maps(frames_of(t))[0]
    assert vrdae.shape == (16, 64, 64, 8)
    # range bins kept in descending order 94..31, Doppler shifted bins 24..39
    d_index, r_index = 32 + doppler_bin - 24, 94 - range_bin
    power = np.abs(vrdae) ** 2
    d, r, _, _ = peak(power)
    assert abs(d - d_index) <= 1 and abs(r - r_index) <= 1
    cell = power[d_index, r_index]  # (64 azimuth, 8 elevation)
    # after fftshift + reverse: azimuth index 31 + k, elevation index 3 + k
    assert abs(int(np.argmax(cell[:, 3 + elevation_bin])) - (31 + azimuth_bin)) <= 1
    # the untransformed columns 0, 1, 6, 7 all sit in elevation index 3; the elevated row's
    # energy peaks at 3 + k among the other elevation indexes
    others = [e for e in range(8) if e != 3]
    peak_elevation = others[int(np.argmax(cell[31 + azimuth_bin, others]))]
    assert abs(peak_elevation - (3 + elevation_bin)) <= 1


def test_vrdae_broadside_target_peaks_in_elevation_index_3() -> None:
    vrdae = vrdae_maps(frames_of(target(50, -3)))[0]
    cell = np.abs(vrdae[32 - 3 - 24, 94 - 50]) ** 2
    assert peak(cell) == (31, 3)


# --- point cloud ----------------------------------------------------------------------------------
def test_point_cloud_position_and_velocity() -> None:
    truth = PointTarget(range_m=2.5, velocity_mps=0.8, azimuth_deg=20.0, elevation_deg=12.0)
    cube = point_target_cube(P, [truth], noise_std=0.05, seed=4)[None]
    points = detect_points(cube, P)
    assert points.shape[1] == 8 and points.dtype == np.float32
    best = points[np.argmax(points[:, 5])]
    expected = 2.5 * truth.direction()
    np.testing.assert_allclose(best[:3], expected, atol=0.15)
    assert best[3] == pytest.approx(0.8, abs=P.velocity_resolution_mps)
    assert best[4] > 30.0  # SNR dB
    assert best[6] == pytest.approx(2.5, abs=P.range_resolution_m)
    assert len(points) <= 3


def test_point_cloud_batch_and_noise_only() -> None:
    noise = np.stack([point_target_cube(P, [], noise_std=1.0, seed=s) for s in range(3)])
    with_target = point_target_cube(P, [target(100, -5, 6, amplitude=3.0)], noise_std=1.0, seed=9)
    cube = np.concatenate([noise, with_target[None]])
    points = detect_points(cube, P)
    per_frame = split_points_by_frame(points, 4)
    assert sum(len(p) for p in per_frame[:3]) <= 2  # pure noise: (almost) no false alarms
    assert len(per_frame[3]) >= 1 and np.all(per_frame[3][:, 7] == 3)
    best = per_frame[3][np.argmax(per_frame[3][:, 5])]
    assert best[0] > 0  # positive azimuth bin -> positive x
    assert best[6] == pytest.approx(range_on_bin(P, 100), abs=P.range_resolution_m)


# --- MAEPose RD video -----------------------------------------------------------------------------
def test_rd_video_frames() -> None:
    cube = np.concatenate(
        [frames_of(target(40, 4), noise_std=0.01), frames_of(target(45, -2), noise_std=0.01)]
    )
    frames = rd_video_frames(cube, range_bins=slice(0, 128))
    assert frames.shape == (2, 64, 128) and frames.dtype == np.float32
    assert frames.min() == 0.0 and np.allclose(frames.max(axis=(1, 2)), 1.0)
    assert peak(frames[0]) == (CENTRE + 4, 40)
    assert peak(frames[1]) == (CENTRE - 2, 45)
    raw_db = rd_video_frames(cube, normalise="none")
    assert raw_db.shape == (2, 64, 256) and raw_db.max() > 0
    ra = ra_video_frames(cube, P, range_bins=slice(0, 128))
    assert ra.shape == (2, 128, 64) and ra.max() == pytest.approx(1.0)


def test_decode_then_maps_end_to_end() -> None:
    cube = point_target_cube(P, [target(75, 3, 5)], noise_std=2.0)[None] * 500
    decoded = decode_adc_frames(encode_adc_frames(cube, iq_order="studio"), P, iq_order="studio")
    rd = range_doppler_map(decoded)
    assert peak(rd[0]) == (CENTRE + 3, 75)


def test_angle_maps_equal_explicit_per_doppler_ffts() -> None:
    """The covariance shortcut equals zero-padded angle FFTs per Doppler bin, power summed."""
    rng = np.random.default_rng(5)
    shape = (2, *P.cube_shape)
    cube = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    spec = range_doppler_spectrum(cube, remove_clutter=True)  # (F, D, T, R, K)
    array = virtual_array(P)
    row = azimuth_row(spec, array)  # (F, D, 8, K)
    ra_direct = (np.abs(np.fft.fftshift(np.fft.ifft(row, 64, axis=-2), axes=-2) * 64) ** 2).sum(1)
    ra = range_azimuth_map(cube, P)
    np.testing.assert_allclose(ra, np.swapaxes(ra_direct, -1, -2), rtol=1e-3, atol=1e-3 * ra.max())
    grid = virtual_grid(spec, array)  # (F, D, 2, 8, K)
    both = np.fft.ifft2(grid, s=(16, 64), axes=(-3, -2)) * 16 * 64
    rae_direct = (np.abs(np.fft.fftshift(both, axes=(-3, -2))) ** 2).sum(1)  # (F, 16, 64, K)
    rae = range_azimuth_elevation_map(cube, P)
    expected = np.transpose(rae_direct, (0, 3, 2, 1))
    np.testing.assert_allclose(rae, expected, rtol=1e-3, atol=1e-3 * rae.max())


def test_point_cloud_of_an_empty_scene_is_empty() -> None:
    points = detect_points(np.zeros((2, *P.cube_shape), dtype=np.complex64), P)
    assert points.shape == (0, 8)
    assert [len(p) for p in split_points_by_frame(points, 2)] == [0, 0]
