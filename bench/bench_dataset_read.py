"""Read speed: random 8-frame VRDAE windows from a built dataset vs HuPR's per-frame .npy layout.

Examples:
    PYTHONPATH=. python bench/bench_dataset_read.py
    PYTHONPATH=. python bench/bench_dataset_read.py --frames 200 --windows 200

Writes a dataset of VRDAE for two radars as ``dataset-build`` stores it (random complex64
channels and the angle matrix; the format does not compress them, so content does not matter:
``Sequence.read`` expands them to the maps), exports it to HuPR's layout with
``dataset-export`` (complex128 files, as the authors store them; a complex64 export is timed
too), then reads the same random windows (8 consecutive frames, both radars) both ways: our
``Sequence.read`` and ``np.load`` of 16 files. Also timed: our read of Doppler bins 4..11 only
(what HuPR's model uses). Every timing is warm (files in the page cache after one pass).
Prints windows/s and the speed-up against the >= 3x target.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

TARGET = 3.0
WINDOW = 8


def _make_dataset(path: Path, frames: int, seqs: int) -> None:
    from dataset_tools.dataset import DatasetWriter
    from dataset_tools.dataset.format import VRDAE_ANGLE, VRDAE_CHANNELS
    from dataset_tools.dsp.hupr import vrdae_angle_matrix

    rng = np.random.default_rng(0)
    w = DatasetWriter.create(path, attrs={}, overwrite=True)
    for s in range(seqs):
        seq = w.begin_sequence(f"seq{s}", frames)
        seq.write_time_axis(np.arange(frames), np.arange(frames) * 100_000_000)
        for radar in ("horizontal", "vertical"):
            # stored as dataset-build stores VRDAE: its channels and the angle matrix
            arr = seq.create(f"radar/{radar}/{VRDAE_CHANNELS}", (16, 64, 12), np.complex64)
            for start in range(0, frames, 16):
                n = min(16, frames - start)
                block = rng.standard_normal((n, 16, 64, 12, 2), dtype=np.float32)
                arr[start : start + n] = block.view(np.complex64)[..., 0]
            seq.write(f"radar/{radar}/{VRDAE_ANGLE}", vrdae_angle_matrix())
            seq.write_stream_meta(
                f"radar/{radar}",
                {
                    "present": np.ones(frames, bool),
                    "complete": np.ones(frames, bool),
                    "lost_bytes": np.zeros(frames, np.int64),
                    "frame_number": np.arange(frames),
                    "timestamp_ns": np.arange(frames) * 100_000_000,
                },
            )
        seq.finish(
            {
                "radars": {
                    "horizontal": {"mounting": "horizontal"},
                    "vertical": {"mounting": "vertical"},
                }
            }
        )
    w.finalize(
        splits={"by_sequence": {"train": [f"seq{s}" for s in range(seqs)], "val": [], "test": []}}
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--frames", type=int, default=120, help="frames per sequence")
    parser.add_argument("--sequences", type=int, default=2)
    parser.add_argument("--windows", type=int, default=100)
    parser.add_argument("--format", choices=("zarr", "hdf5"), default="zarr")
    args = parser.parse_args(argv)

    from dataset_tools.blas_threads import limit_blas_threads
    from dataset_tools.dataset import open_dataset
    from dataset_tools.hupr import export_hupr

    limit_blas_threads(1)
    work = Path(tempfile.mkdtemp(prefix="bench_dataset_read_"))
    try:
        ours = work / ("d.zarr" if args.format == "zarr" else "d.h5")
        if args.format == "hdf5":
            from dataset_tools.convert import copy_dataset
            from dataset_tools.dataset.storage import open_storage

            _make_dataset(work / "z.zarr", args.frames, args.sequences)
            with (
                open_storage(work / "z.zarr", "r") as src,
                open_storage(ours, "w", format="hdf5") as dst,
            ):
                copy_dataset(src, dst)
        else:
            _make_dataset(ours, args.frames, args.sequences)
        export_hupr(ours, work / "hupr128", dtype=np.complex128)
        export_hupr(ours, work / "hupr64", dtype=np.complex64)
        ds = open_dataset(ours)
        rng = np.random.default_rng(1)
        picks = [
            (int(rng.integers(args.sequences)), int(rng.integers(args.frames - WINDOW + 1)))
            for _ in range(args.windows)
        ]
        ids = sorted(ds.sequence_ids)

        def ours_full() -> None:
            for s, start in picks:
                seq = ds.sequence(ids[s])
                seq.read("horizontal", "vrdae", start, start + WINDOW)
                seq.read("vertical", "vrdae", start, start + WINDOW)

        def ours_doppler() -> None:
            for s, start in picks:
                seq = ds.sequence(ids[s])
                for radar in ("horizontal", "vertical"):
                    seq.read(radar, "vrdae", start, start + WINDOW, index=(slice(4, 12),))

        def hupr(root: Path) -> None:
            for s, start in picks:
                folder = root / f"single_{s + 1}"
                for sub in ("hori", "vert"):
                    np.stack(
                        [
                            np.load(folder / sub / f"{f:09d}.npy")
                            for f in range(start, start + WINDOW)
                        ]
                    )

        def timed(fn: Callable[[], None]) -> float:
            fn()  # warm the page cache
            best = float("inf")
            for _ in range(3):
                t0 = time.perf_counter()
                fn()
                best = min(best, time.perf_counter() - t0)
            return float(args.windows) / best

        r_ours = timed(ours_full)
        r_dop = timed(ours_doppler)
        r_h128 = timed(lambda: hupr(work / "hupr128"))
        r_h64 = timed(lambda: hupr(work / "hupr64"))
        mb = WINDOW * 2 * 16 * 64 * 64 * 8 * 8 / 1e6
        print(
            f"{args.windows} random {WINDOW}-frame windows x 2 radars ({args.format}, warm cache)"
        )
        print(
            f"  ours, full VRDAE (complex64)        {r_ours:7.1f} windows/s "
            f"({r_ours * mb / 2:6.0f} MB/s)"
        )
        print(f"  ours, Doppler bins 4..11 only       {r_dop:7.1f} windows/s")
        print(f"  HuPR .npy complex128 (as published) {r_h128:7.1f} windows/s")
        print(f"  HuPR .npy complex64                 {r_h64:7.1f} windows/s")
        speedup = r_ours / r_h128
        print(
            f"  speed-up vs HuPR layout: {speedup:.1f}x full maps, "
            f"{r_dop / r_h128:.1f}x model bins, "
            f"{r_ours / r_h64:.1f}x vs complex64 .npy"
        )
        print(
            f"{'PASS' if speedup >= TARGET else 'FAIL'}: target >= {TARGET:.0f}x "
            "(full maps vs the published layout)"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
