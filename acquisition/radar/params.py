"""Frame geometry of one radar, in SI units: what the simulator and the signal processing need.

``RadarParams`` is derived from a parsed TI ``.cfg`` (``RadarConfig.params()``) or built directly.
It carries no parsing state; every derived quantity is a property with its unit in the name.
"""

from __future__ import annotations

from dataclasses import dataclass

from acquisition.radar.boards import BOARDS, BoardGeometry

SPEED_OF_LIGHT_MPS = 299_792_458.0
_DEFAULT_BOARD = BOARDS["IWR1843BOOST"]


@dataclass(frozen=True)
class RadarParams:
    """One radar's chirp, frame and antenna set-up.

    Attributes:
        start_freq_hz: chirp start frequency.
        slope_hz_per_s: frequency slope.
        idle_time_s: idle time before each chirp.
        adc_start_time_s: ADC start after the ramp start.
        ramp_end_time_s: ramp duration.
        num_samples: ADC samples per chirp.
        sample_rate_hz: ADC sample rate.
        tx_order: TX index of each chirp inside one loop, in chirpCfg order (e.g. (0, 1, 2)).
        rx_channels: enabled RX indexes, ascending.
        num_loops: chirp loops per frame.
        frame_period_s: frame periodicity.
        complex_samples: True for complex baseband ADC output (adcCfg 2 1), False for real.
        board: antenna geometry of the board.
    """

    start_freq_hz: float
    slope_hz_per_s: float
    idle_time_s: float
    adc_start_time_s: float
    ramp_end_time_s: float
    num_samples: int
    sample_rate_hz: float
    tx_order: tuple[int, ...]
    rx_channels: tuple[int, ...]
    num_loops: int
    frame_period_s: float
    complex_samples: bool = True
    board: BoardGeometry = _DEFAULT_BOARD

    # --- counts -------------------------------------------------------------------------------
    @property
    def num_tx(self) -> int:
        """Distinct TX antennas used (TDM slots may repeat a TX)."""
        return len(set(self.tx_order))

    @property
    def chirps_per_loop(self) -> int:
        return len(self.tx_order)

    @property
    def num_rx(self) -> int:
        return len(self.rx_channels)

    @property
    def num_virtual_antennas(self) -> int:
        return self.chirps_per_loop * self.num_rx

    @property
    def chirps_per_frame(self) -> int:
        return self.chirps_per_loop * self.num_loops

    @property
    def cube_shape(self) -> tuple[int, int, int, int]:
        """Shape of one frame's ADC cube: (loops, TX slots, RX, samples)."""
        return (self.num_loops, self.chirps_per_loop, self.num_rx, self.num_samples)

    @property
    def bytes_per_frame(self) -> int:
        """Raw LVDS bytes per frame: int16 I and Q per complex sample, int16 per real sample."""
        per_sample = 4 if self.complex_samples else 2
        return self.chirps_per_frame * self.num_rx * self.num_samples * per_sample

    # --- timing -------------------------------------------------------------------------------
    @property
    def adc_sampling_time_s(self) -> float:
        return self.num_samples / self.sample_rate_hz

    @property
    def chirp_period_s(self) -> float:
        """Time from one chirp start to the next (idle + ramp)."""
        return self.idle_time_s + self.ramp_end_time_s

    @property
    def loop_period_s(self) -> float:
        """Time between chirps of the same TX slot in consecutive loops."""
        return self.chirp_period_s * self.chirps_per_loop

    @property
    def active_frame_time_s(self) -> float:
        return self.loop_period_s * self.num_loops

    @property
    def duty_cycle(self) -> float:
        return self.active_frame_time_s / self.frame_period_s

    # --- RF -----------------------------------------------------------------------------------
    @property
    def bandwidth_hz(self) -> float:
        """Bandwidth swept while the ADC samples (what sets range resolution)."""
        return self.slope_hz_per_s * self.adc_sampling_time_s

    @property
    def ramp_bandwidth_hz(self) -> float:
        """Bandwidth of the whole ramp."""
        return self.slope_hz_per_s * self.ramp_end_time_s

    @property
    def center_freq_hz(self) -> float:
        """Carrier in the middle of the ADC sampling window."""
        return self.start_freq_hz + self.slope_hz_per_s * (
            self.adc_start_time_s + self.adc_sampling_time_s / 2
        )

    @property
    def wavelength_m(self) -> float:
        return SPEED_OF_LIGHT_MPS / self.center_freq_hz

    @property
    def range_resolution_m(self) -> float:
        """c / 2B with B the sampled bandwidth; also the bin spacing of a num_samples-point FFT."""
        return SPEED_OF_LIGHT_MPS / (2.0 * self.bandwidth_hz)

    @property
    def max_range_m(self) -> float:
        """Range at the IF bandwidth limit: fs (complex) or fs / 2 (real) times c / 2S."""
        if_max = self.sample_rate_hz if self.complex_samples else self.sample_rate_hz / 2
        return if_max * SPEED_OF_LIGHT_MPS / (2.0 * self.slope_hz_per_s)

    @property
    def max_velocity_mps(self) -> float:
        """Maximum unambiguous radial velocity, lambda / (4 T_loop)."""
        return self.wavelength_m / (4.0 * self.loop_period_s)

    @property
    def velocity_resolution_mps(self) -> float:
        """lambda / (2 N_loops T_loop); also the bin spacing of a num_loops-point Doppler FFT."""
        return self.wavelength_m / (2.0 * self.num_loops * self.loop_period_s)

    @property
    def data_rate_mbps(self) -> float:
        """Average raw data rate over a frame period, megabits per second."""
        return self.bytes_per_frame * 8 / self.frame_period_s / 1e6

    @property
    def burst_data_rate_mbps(self) -> float:
        """Raw data rate while chirping (what the LVDS lanes and the capture card must carry)."""
        return self.bytes_per_frame * 8 / self.active_frame_time_s / 1e6
