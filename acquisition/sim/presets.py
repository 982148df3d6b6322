"""Radar set-ups used by the simulator's demos, tests and benchmarks.

These are simulation presets, not device configurations: a real rig takes its ``RadarParams`` from
the ``.cfg`` it sends to the board (``RadarConfig.params()``).
"""

from __future__ import annotations

from acquisition.radar.boards import board_geometry
from acquisition.radar.params import RadarParams


def hupr_radar_params(*, board: str = "IWR1843BOOST") -> RadarParams:
    """One HuPR radar (paper, Table 1): 60.012 MHz/us, 4400 ksps, 72 us ramp, 256 samples, 64 loops
    of TX0, TX1, TX2 (TDM), 4 RX, 10 frames/s.

    The paper does not give idle and ADC start times; 10 us and 6 us (TI's usual values) are
    assumed here (chirp period 82 us, active frame 15.7 ms).
    """
    return RadarParams(
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
        board=board_geometry(board),
    )
