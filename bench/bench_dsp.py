"""Single-core throughput of the DSP chain on HuPR-shaped frames (frames per second).

Examples:
    PYTHONPATH=. python bench/bench_dsp.py
    PYTHONPATH=. python bench/bench_dsp.py --frames 128 --batch 32

Pins itself to one thread and one CPU core (thread-pool variables are set before numpy is
imported), decodes random int16 raw frames of HuPR's configuration (64 loops x 3 TX x 4 RX x 256
samples, 786,432 bytes) and times each stage on batches of frames. The VRDAE map is checked
against the 100 frames/s per radar target (PASS/FAIL).
"""

from __future__ import annotations

import os

for _var in (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from numpy.typing import NDArray  # noqa: E402

from acquisition.radar.params import RadarParams  # noqa: E402
from dataset_tools.dsp import (  # noqa: E402
    decode_adc_frames,
    detect_points,
    range_azimuth_elevation_map,
    range_azimuth_map,
    range_doppler_map,
    range_fft,
    rd_video_frames,
    vrdae_maps,
)

VRDAE_TARGET_FPS = 100.0

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


def pin_to_one_core() -> str:
    if hasattr(os, "sched_setaffinity") and hasattr(os, "sched_getaffinity"):
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        return f"pinned to CPU {core}"
    return "CPU affinity not available; thread pools limited to 1"


def frames_per_batch(batch: Any) -> int:
    """Raw byte batches count in HuPR frames, decoded cubes by their leading axis."""
    if isinstance(batch, bytes):
        return len(batch) // HUPR_PARAMS.bytes_per_frame
    return len(batch)


def time_stage(
    stage: Callable[[Any], object], batches: list[Any], repeats: int
) -> tuple[float, float]:
    """Best-of-``repeats`` seconds for running ``stage`` over all batches, and frames/s."""
    stage(batches[0])  # warm-up: caches, plans, page faults
    n_frames = sum(frames_per_batch(b) for b in batches)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for batch in batches:
            stage(batch)
        best = min(best, time.perf_counter() - start)
    return best, n_frames / best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=64, help="frames per stage (default 64)")
    parser.add_argument("--batch", type=int, default=16, help="frames per call (default 16)")
    parser.add_argument("--repeats", type=int, default=2, help="best of N runs (default 2)")
    args = parser.parse_args(argv)

    print(pin_to_one_core(), f"| numpy {np.__version__}")
    params = HUPR_PARAMS
    rng = np.random.default_rng(0)
    n_batches = max(1, args.frames // args.batch)
    raw = [
        rng.integers(-2048, 2048, size=args.batch * params.bytes_per_frame // 2, dtype=np.int16)
        .astype("<i2")
        .tobytes()
        for _ in range(n_batches)
    ]
    cubes: list[NDArray[np.complex64]] = [decode_adc_frames(b, params) for b in raw]
    print(
        f"{n_batches} batches x {args.batch} frames of {params.cube_shape} "
        f"({params.bytes_per_frame} bytes each)"
    )

    stages: list[tuple[str, Callable[[Any], object], list[Any]]] = [
        ("decode (sdk)", lambda b: decode_adc_frames(b, params), raw),
        ("range FFT (hann)", lambda c: range_fft(c, window="hann"), cubes),
        ("RD map", lambda c: range_doppler_map(c), cubes),
        ("RA map (64 angles)", lambda c: range_azimuth_map(c, params), cubes),
        ("RAE map (64 x 16)", lambda c: range_azimuth_elevation_map(c, params), cubes),
        ("VRDAE map (HuPR)", lambda c: vrdae_maps(c), cubes),
        ("MAEPose RD frames", lambda c: rd_video_frames(c), cubes),
        ("CFAR point cloud", lambda c: detect_points(c, params), cubes),
    ]
    verdict = 0
    print(f"{'stage':<22}{'frames/s':>12}{'ms/frame':>11}")
    for name, stage, batches in stages:
        _seconds, fps = time_stage(stage, batches, args.repeats)
        line = f"{name:<22}{fps:>12.1f}{1e3 / fps:>11.2f}"
        if name.startswith("decode"):
            line += f"   {fps * params.bytes_per_frame / 1e9:.2f} GB/s"
        if name.startswith("VRDAE"):
            passed = fps >= VRDAE_TARGET_FPS
            verdict = 0 if passed else 1
            line += f"   {'PASS' if passed else 'FAIL'} (target >= {VRDAE_TARGET_FPS:.0f})"
        print(line)
    return verdict


if __name__ == "__main__":
    raise SystemExit(main())
