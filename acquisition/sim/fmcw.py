"""FMCW radar simulator: complex baseband ADC cubes of point scatterers moving in the rig frame.

Signal model (one TX element ``e_t``, one RX element ``e_r``, one scatterer ``p(t)``)::

    tau(t)  = (|p(t) - e_t| + |p(t) - e_r|) / c                      round-trip delay, near field
    s[n]    = a * exp(j 2 pi (f_start * tau + S * tau * t_n)),   t_n = adc_start + n / fs

``t_n`` is measured from the start of the ramp. The beat frequency ``S * tau`` is positive, so a
plain ``np.fft.fft`` over the samples puts a target at range ``R`` in bin
``round(R / params.range_resolution_m)`` (bin spacing ``c / 2B`` with ``B = S * N / fs``). A
receding target (range growing) advances the phase from chirp to chirp: positive radial velocity
means moving away and lands in a positive bin of a plain Doppler FFT over loops. An element at
larger TI-frame ``x`` (right, looking out of the antennas) is closer to a target on the right, so
such a target gives a phase that *decreases* along the azimuth array (negative spatial frequency
in a plain FFT over the virtual array).

Timing (TDM-MIMO): the chirp of loop ``l`` in TX slot ``t`` starts at
``frame_start + (l * T + t) * chirp_period``. Each scatterer moves linearly,
``p(t) = position + velocity * (t - reference_time)``, and is frozen at the chirp start for that
chirp ("stop and hop"), so motion shows as Doppler across loops and as a phase step between TX
slots of one loop.

Factorisation (what makes this fast): the delay is split as ``tau = tau_bar(p) + delta``, with
``tau_bar`` the mean over the frame's chirps and antennas. Expanding the phase around the middle
of the ADC window ``t_mid = adc_start + N / (2 fs)``::

    f_start tau + S tau t_n  =  f_c tau  +  S tau_bar (t_n - t_mid)  +  S delta (t_n - t_mid)

with ``f_c = f_start + S t_mid`` (``params.center_freq_hz``). The last term (range migration of
``delta``, at most ``B * delta / 2`` cycles at the window edges: ~0.04 cycle across the
virtual array, ~0.2 cycle for 2 m/s over a HuPR frame) is dropped. What remains is a product of a
per-(chirp, antenna, scatterer) "slow" phasor ``exp(j 2 pi f_c tau)`` (exact near-field distances
per element pair, from ``|q + v t - e|^2 = |q - e|^2 + 2 t v.(q - e) + t^2 |v|^2``) and a
per-(scatterer, sample) "fast" phasor, i.e. one complex matrix product
``(chirps * RX, P) @ (P, N)``.

Amplitude (radar equation, amplitude ~ sqrt(power)): ``a = amplitude_scale_counts *
sqrt(rcs / 1 m^2) / (R / 1 m)^2 * max(cos(theta), 0)^pattern_exponent`` in ADC counts, with ``R``
the one-way range from the radar origin at the middle of the frame and ``theta`` the angle off
boresight. The default scale (3000 counts for a 1 m^2 target at 1 m) puts a person (about 0.7 m^2
in all) at 3 m at ~350 counts rms per sample (peaks ~600): ~30 dB above the default noise
(8 counts per I/Q) per sample, ~55 dB after a 256-point range FFT, far from int16 clipping, while
a 1 m^2 reflector closer than ~0.3 m clips, as a close object does on a real board.

Noise: complex white Gaussian noise, ``noise_std`` ADC counts per I and per Q component. Drawing
fresh normals costs more than the whole signal (about 7 ms for a HuPR frame on one core, against
~3.5 ms for the signal of a ~100-scatterer person), so by
default (``noise_mode="bank"``) each simulator draws a bank of ``noise_bank_frames`` frames of noise
once and adds, per frame, a contiguous slice at a random offset: within a frame the noise is
i.i.d. Gaussian, across frames it is re-used (shifted). ``noise_mode="fresh"`` draws new noise
every frame.

Quantisation (``quantize=True``): round to the nearest integer and clip each of I and Q to the
int16 range, counting the complex samples that clipped (``last_clipped_samples``,
``total_clipped_samples``); the cube stays complex64 holding integer values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from acquisition.geometry import Pose
from acquisition.radar.params import SPEED_OF_LIGHT_MPS, RadarParams

INT16_MIN = -32768
INT16_MAX = 32767
DEFAULT_AMPLITUDE_SCALE_COUNTS = 3000.0
DEFAULT_NOISE_STD_COUNTS = 8.0

NoiseMode = Literal["bank", "fresh"]


def _as_points(values: ArrayLike, name: str) -> NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 3:
        raise ValueError(f"{name} must have shape (P, 3), got {array.shape}")
    return array


@dataclass(frozen=True)
class Scatterers:
    """Point scatterers in the rig frame.

    Attributes:
        positions: (P, 3) metres, rig frame, at ``reference_time_s``.
        velocities: (P, 3) metres per second, rig frame.
        rcs: (P,) radar cross sections in m^2.
        reference_time_s: time at which ``positions`` hold; ``None`` means "at the start of the
            frame being simulated".
    """

    positions: NDArray[np.float64]
    velocities: NDArray[np.float64]
    rcs: NDArray[np.float64]
    reference_time_s: float | None = None

    def __post_init__(self) -> None:
        positions = _as_points(self.positions, "positions")
        velocities = _as_points(self.velocities, "velocities")
        rcs = np.asarray(self.rcs, dtype=np.float64).reshape(-1)
        if velocities.shape != positions.shape or rcs.shape != (positions.shape[0],):
            raise ValueError(
                f"inconsistent scatterer shapes: positions {positions.shape}, velocities "
                f"{velocities.shape}, rcs {rcs.shape}"
            )
        if np.any(rcs < 0):
            raise ValueError("rcs must be non-negative")
        object.__setattr__(self, "positions", positions)
        object.__setattr__(self, "velocities", velocities)
        object.__setattr__(self, "rcs", rcs)

    @property
    def count(self) -> int:
        return int(self.positions.shape[0])

    @classmethod
    def empty(cls) -> Scatterers:
        return cls(np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0))

    @classmethod
    def point(
        cls,
        position: ArrayLike,
        *,
        velocity: ArrayLike = (0.0, 0.0, 0.0),
        rcs_m2: float = 1.0,
    ) -> Scatterers:
        """One scatterer at ``position`` (3,) m moving with ``velocity`` (3,) m/s."""
        return cls(
            np.asarray(position, dtype=np.float64).reshape(1, 3),
            np.asarray(velocity, dtype=np.float64).reshape(1, 3),
            np.array([rcs_m2], dtype=np.float64),
        )

    def at_time(self, time_s: float) -> Scatterers:
        """The same scatterers with positions moved to ``time_s`` (reference time set to it)."""
        if self.reference_time_s is None:
            raise ValueError("scatterers without a reference time cannot be moved")
        dt = time_s - self.reference_time_s
        return Scatterers(self.positions + dt * self.velocities, self.velocities, self.rcs, time_s)

    @staticmethod
    def concatenate(parts: Sequence[Scatterers], *, reference_time_s: float) -> Scatterers:
        """Join scatterer sets, first moving each to ``reference_time_s`` (None = already there)."""
        moved = [p if p.reference_time_s is None else p.at_time(reference_time_s) for p in parts]
        return Scatterers(
            np.concatenate([p.positions for p in moved]) if moved else np.zeros((0, 3)),
            np.concatenate([p.velocities for p in moved]) if moved else np.zeros((0, 3)),
            np.concatenate([p.rcs for p in moved]) if moved else np.zeros(0),
            reference_time_s,
        )


def antenna_positions_radar(
    params: RadarParams,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """TX and RX element positions in the TI radar frame, metres.

    Returns:
        ``(tx, rx)``: (num_board_tx, 3) and (num_rx_enabled, 3) arrays; the board's half-wavelength
        units (at ``board.design_freq_hz``) scaled to metres, in the antenna plane ``y = 0``.
    """
    board = params.board
    half_wavelength_m = SPEED_OF_LIGHT_MPS / board.design_freq_hz / 2.0

    def to_xyz(points: tuple[tuple[float, float], ...]) -> NDArray[np.float64]:
        plane = np.asarray(points, dtype=np.float64).reshape(-1, 2) * half_wavelength_m
        return np.stack([plane[:, 0], np.zeros(len(plane)), plane[:, 1]], axis=1)

    return to_xyz(board.tx_positions), to_xyz(board.rx_positions)[list(params.rx_channels)]


def quantize_int16(cube: NDArray[np.complex64]) -> int:
    """Round ``cube`` in place to integers and clip I and Q to the int16 range.

    Returns:
        The number of complex samples whose I or Q was clipped.
    """
    parts = cube.view(np.float32)
    np.rint(parts, out=parts)
    if float(parts.max(initial=0.0)) <= INT16_MAX and float(parts.min(initial=0.0)) >= INT16_MIN:
        return 0
    pairs = parts.reshape(-1, 2)
    clipped = int(np.count_nonzero(((pairs > INT16_MAX) | (pairs < INT16_MIN)).any(axis=1)))
    np.clip(parts, INT16_MIN, INT16_MAX, out=parts)
    return clipped


@dataclass(frozen=True)
class _Geometry:
    """Per-simulator constants (rig frame, metres / seconds), precomputed once."""

    origin: NDArray[np.float64]  # (3,) radar origin
    tx_slots: NDArray[np.float64]  # (T, 3) TX element of each TDM slot, relative to the origin
    rx: NDArray[np.float64]  # (R, 3) RX elements, relative to the origin
    chirp_offsets_s: NDArray[np.float64]  # (L, T) chirp start times from the frame start
    fast_time_s: NDArray[np.float64]  # (N,) t_n - t_mid
    boresight: NDArray[np.float64]  # (3,) rig-frame unit vector


class RadarSimulator:
    """Simulates one TDM-MIMO FMCW radar's ADC cubes (see the module docstring for the model).

    Args:
        params: chirp/frame geometry and board.
        pose: the radar's body frame in the rig frame.
        noise_std: thermal noise, ADC counts per I and per Q component.
        clutter: static (or moving) scatterers added to every frame, rig frame.
        seed: seeds all randomness (noise); equal seeds and equal calls give equal cubes.
        quantize: round and clip to int16 values (counting clipped samples).
        amplitude_scale_counts: amplitude of a 1 m^2 scatterer at 1 m on boresight, ADC counts.
        pattern_exponent: amplitude ~ cos(off-boresight angle) ** pattern_exponent; nothing is
            received from behind the antenna plane.
        noise_mode: ``"bank"`` (slice of a pre-drawn bank, fast) or ``"fresh"``.
        noise_bank_frames: size of the noise bank in frames.
    """

    def __init__(
        self,
        params: RadarParams,
        pose: Pose,
        *,
        noise_std: float = DEFAULT_NOISE_STD_COUNTS,
        clutter: Scatterers | None = None,
        seed: int = 0,
        quantize: bool = True,
        amplitude_scale_counts: float = DEFAULT_AMPLITUDE_SCALE_COUNTS,
        pattern_exponent: float = 1.0,
        noise_mode: NoiseMode = "bank",
        noise_bank_frames: int = 4,
    ) -> None:
        if noise_std < 0:
            raise ValueError("noise_std must be non-negative")
        if not params.complex_samples:
            raise ValueError("only complex baseband ADC output (adcCfg 2 1) is simulated")
        if noise_mode not in ("bank", "fresh"):
            raise ValueError(f"noise_mode must be 'bank' or 'fresh', got {noise_mode!r}")
        self.params = params
        self.pose = pose
        self.noise_std = float(noise_std)
        self.clutter = clutter
        self.seed = seed
        self.quantize = quantize
        self.amplitude_scale_counts = float(amplitude_scale_counts)
        self.pattern_exponent = float(pattern_exponent)
        self.noise_mode: NoiseMode = noise_mode
        self.last_clipped_samples = 0
        self.total_clipped_samples = 0
        self._rng = np.random.default_rng(seed)
        self._geometry = self._build_geometry()
        self._cube_size = int(np.prod(params.cube_shape))
        self._noise_bank: NDArray[np.complex64] | None = None
        if noise_mode == "bank" and self.noise_std > 0:
            self._noise_bank = self._draw_noise(max(2, noise_bank_frames) * self._cube_size)

    # --- set-up -------------------------------------------------------------------------------
    def _build_geometry(self) -> _Geometry:
        p = self.params
        tx_radar, rx_radar = antenna_positions_radar(p)
        origin = self.pose.radar_to_rig(np.zeros(3))
        tx = self.pose.radar_to_rig(tx_radar) - origin
        rx = self.pose.radar_to_rig(rx_radar) - origin
        chirps = np.arange(p.chirps_per_frame, dtype=np.float64).reshape(p.num_loops, -1)
        t_mid = p.adc_start_time_s + p.num_samples / (2.0 * p.sample_rate_hz)
        t_n = p.adc_start_time_s + np.arange(p.num_samples) / p.sample_rate_hz
        boresight = self.pose.radar_to_rig(np.array([0.0, 1.0, 0.0])) - origin
        return _Geometry(
            origin=origin,
            tx_slots=tx[list(p.tx_order)],
            rx=rx,
            chirp_offsets_s=chirps * p.chirp_period_s,
            fast_time_s=t_n - t_mid,
            boresight=boresight / np.linalg.norm(boresight),
        )

    def _draw_noise(self, count: int) -> NDArray[np.complex64]:
        parts = self._rng.standard_normal(2 * count, dtype=np.float32)
        parts *= np.float32(self.noise_std)
        return parts.view(np.complex64)

    # --- simulation ---------------------------------------------------------------------------
    def noise_free_frame(
        self, scatterers: Scatterers, frame_start_time_s: float = 0.0
    ) -> NDArray[np.complex64]:
        """The deterministic signal part of one frame (clutter included, no noise, no rounding).

        Returns:
            complex64 (loops, T, R, N) in ADC counts.
        """
        return self._signal(scatterers, frame_start_time_s).reshape(self.params.cube_shape)

    def simulate_frame(
        self, scatterers: Scatterers, frame_start_time_s: float = 0.0
    ) -> NDArray[np.complex64]:
        """One frame: signal of ``scatterers`` (+ clutter) + noise (+ int16 quantisation).

        Args:
            scatterers: targets in the rig frame (positions at their ``reference_time_s``, or at
                the frame start when it is None).
            frame_start_time_s: start of the first chirp, seconds.

        Returns:
            complex64 (loops, T, R, N) ADC cube, ADC counts; slot ``t`` is ``params.tx_order[t]``.
        """
        out = self._signal(scatterers, frame_start_time_s).reshape(-1)
        if self.noise_std > 0:
            if self._noise_bank is not None:
                start = int(self._rng.integers(0, self._noise_bank.size - out.size + 1))
                out += self._noise_bank[start : start + out.size]
            else:
                out += self._draw_noise(out.size)
        if self.quantize:
            self.last_clipped_samples = quantize_int16(out)
            self.total_clipped_samples += self.last_clipped_samples
        return out.reshape(self.params.cube_shape)

    def simulate_frames(
        self, scatterers: Sequence[Scatterers], frame_start_times_s: ArrayLike
    ) -> NDArray[np.complex64]:
        """Several frames in order (same random stream as repeated :meth:`simulate_frame`).

        Args:
            scatterers: one scatterer set per frame, length F.
            frame_start_times_s: (F,) frame start times, seconds.

        Returns:
            complex64 (F, loops, T, R, N).
        """
        times = np.asarray(frame_start_times_s, dtype=np.float64).reshape(-1)
        if len(times) != len(scatterers):
            raise ValueError(f"{len(scatterers)} scatterer sets for {len(times)} frame times")
        out = np.empty((len(times), *self.params.cube_shape), dtype=np.complex64)
        for i, (frame, time_s) in enumerate(zip(scatterers, times, strict=True)):
            out[i] = self.simulate_frame(frame, float(time_s))
        return out

    def _signal(self, scatterers: Scatterers, frame_start_time_s: float) -> NDArray[np.complex64]:
        """(chirps * R, N) complex64 noise-free signal of targets and clutter."""
        p = self.params
        g = self._geometry
        parts = [scatterers] if self.clutter is None else [scatterers, self.clutter]
        targets = Scatterers.concatenate(parts, reference_time_s=frame_start_time_s)
        num_rows = p.chirps_per_frame * p.num_rx
        if targets.count == 0:
            return np.zeros((num_rows, p.num_samples), dtype=np.complex64)

        # Distance from element e to scatterer p at chirp time t (from the frame start):
        # |q0 + v t - e|^2 = |q0 - e|^2 + 2 t v.(q0 - e) + t^2 |v|^2, exact, evaluated on
        # (chirps, elements * P) grids in place (no (C, P, 3) position arrays).
        q0 = targets.positions - g.origin  # (P, 3)
        vel = targets.velocities
        n_p = targets.count
        n_chirps = p.chirps_per_frame
        t_col = g.chirp_offsets_s.reshape(n_chirps, 1)
        v_sq = np.einsum("pk,pk->p", vel, vel)

        def coefficients(
            elements: NDArray[np.float64],
        ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
            rel = q0[None, :, :] - elements[:, None, :]  # (E, P, 3)
            return np.einsum("epk,epk->ep", rel, rel), 2.0 * np.einsum("epk,pk->ep", rel, vel)

        def distances(
            a: NDArray[np.float64], b: NDArray[np.float64], c: NDArray[np.float64]
        ) -> NDArray[np.float64]:
            d = t_col * c  # a + t (b + t c), (chirps, columns)
            d += b
            d *= t_col
            d += a
            result: NDArray[np.float64] = np.sqrt(d, out=d)
            return result

        a_rx, b_rx = coefficients(g.rx)  # (R, P)
        path_m = distances(
            a_rx.reshape(1, -1), b_rx.reshape(1, -1), np.tile(v_sq, p.num_rx)[None, :]
        ).reshape(n_chirps, p.num_rx, n_p)
        a_tx, b_tx = coefficients(g.tx_slots)  # (T, P); chirp row l * T + t uses slot t
        d_tx = distances(
            np.tile(a_tx, (p.num_loops, 1)), np.tile(b_tx, (p.num_loops, 1)), v_sq[None, :]
        )
        path_m += d_tx[:, None, :]  # round-trip path length, (chirps, R, P)
        tau_bar = path_m.reshape(num_rows, n_p).mean(axis=0) / SPEED_OF_LIGHT_MPS

        # Carrier phase in cycles (~1e3), less a whole number of cycles per scatterer so that
        # float32 keeps ~1e-5 cycle precision over the frame's few tens of cycles of variation.
        per_metre = p.center_freq_hz / SPEED_OF_LIGHT_MPS
        whole = np.floor(path_m[0, 0] * per_metre)
        path_m *= per_metre
        path_m -= whole
        slow = _unit_phasors(path_m.astype(np.float32)).reshape(num_rows, n_p)

        # Fast-time phasor with the mean delay, amplitude folded in: (P, N).
        fast_cycles = (p.slope_hz_per_s * tau_bar)[:, None] * g.fast_time_s[None, :]
        fast = _unit_phasors(fast_cycles.astype(np.float32))
        fast *= self._amplitudes(q0, targets)[:, None].astype(np.float32)
        return slow @ fast

    def _amplitudes(self, q0: NDArray[np.float64], targets: Scatterers) -> NDArray[np.float64]:
        """(P,) amplitude in ADC counts from the radar equation and the element pattern."""
        mid = q0 + (float(self._geometry.chirp_offsets_s[-1, -1]) / 2.0) * targets.velocities
        range_m = np.maximum(np.linalg.norm(mid, axis=1), 1e-3)
        cos_theta = np.clip(mid @ self._geometry.boresight / range_m, 0.0, 1.0)
        gain = cos_theta**self.pattern_exponent
        amplitude: NDArray[np.float64] = (
            self.amplitude_scale_counts * np.sqrt(targets.rcs) / range_m**2 * gain
        )
        return amplitude


def _unit_phasors(cycles: NDArray[np.float32]) -> NDArray[np.complex64]:
    """exp(j 2 pi cycles) as complex64; ``cycles`` already reduced to a few hundred at most."""
    angle = cycles * np.float32(2.0 * np.pi)
    out = np.empty(cycles.shape, dtype=np.complex64)
    parts = out.view(np.float32).reshape(*cycles.shape, 2)
    np.cos(angle, out=parts[..., 0])
    np.sin(angle, out=parts[..., 1])
    return out
