"""Build speed: a 10 fps dual-radar simulated take -> VRDAE + RD dataset, as a real-time factor.

Examples:
    PYTHONPATH=. python bench/bench_dataset_build.py                  # records a 60 s take first
    PYTHONPATH=. python bench/bench_dataset_build.py --duration 20 --workers 2
    PYTHONPATH=. python bench/bench_dataset_build.py --take-root /tmp/sessions --session bench

Records a take with the simulated rig (``dual_radar_sim.yaml``: two HuPR radars at 10 fps, one
RGB camera; 60 s by default, the rig's take length and HuPR's 600-frame sequences), then times
``dataset-build`` with VRDAE + RD, labels and images excluded (the target: at least 10x faster
than real time on a 2-core machine). Prints the wall time, the
CPU time, the machine's load average (the box is shared: compare figures at similar load), the
real-time factor the CPU time allows on idle cores, and PASS/FAIL (wall) against the 10x target.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

TARGET_REALTIME = 10.0
RIG = Path(__file__).resolve().parents[1] / "sensor_configs" / "rigs" / "dual_radar_sim.yaml"


def _cpu_s() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=60.0, help="take length, s")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--take-root", help="sessions root holding an existing session")
    parser.add_argument("--session", default="bench")
    parser.add_argument("--representations", default="vrdae,rd")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)

    from acquisition.cli.acq_record import record_take
    from acquisition.recorder import TakeInfo
    from acquisition.recording import TakeReader, list_takes
    from dataset_tools.build import BuildConfig, build_dataset
    from dataset_tools.representations import RepresentationConfig

    work = Path(tempfile.mkdtemp(prefix="bench_dataset_build_"))
    root = Path(args.take_root) if args.take_root else work / "sessions"
    if not args.take_root:
        print(f"recording a {args.duration:.0f} s simulated take ...", flush=True)
        record_take(
            RIG,
            TakeInfo(session=args.session, take="bench_take", subject="S01", action="walk_wave"),
            args.duration,
            sessions_root=root,
            quiet=True,
        )
    takes = list_takes(root, args.session)
    reader = TakeReader(takes[0])
    pulses = reader.manifest.sync.get("pulses") or 0
    rate = reader.manifest.sync.get("trigger_rate_hz") or 10.0
    take_s = pulses / rate
    radars = sorted(reader.manifest.radars)
    config = BuildConfig(
        sessions=(args.session,),
        sessions_root=root,
        out=work / "bench.zarr",
        representations=RepresentationConfig(names=tuple(args.representations.split(","))),
        labels="none",
        rgb=False,
        depth=False,
        workers=args.workers,
        overwrite=True,
        quiet=True,
    )
    cpu0 = _cpu_s()
    t0 = time.perf_counter()
    build_dataset(config)
    wall = time.perf_counter() - t0
    cpu = _cpu_s() - cpu0
    factor = take_s / wall
    load = os.getloadavg()
    print(
        f"take: {take_s:.1f} s, {pulses} pulses x {len(radars)} radars {radars}, "
        f"{args.representations}"
    )
    print(f"build: {wall:.2f} s wall, {cpu:.2f} s CPU, workers {args.workers}")
    print(f"       {pulses * len(radars) / wall:.1f} radar frames/s, {factor:.1f}x real time")
    print(f"load average during the run: {load[0]:.2f} (1 min) on {os.cpu_count()} CPUs")
    cores = os.cpu_count() or 1
    print(
        f"CPU bound: {take_s / (cpu / cores):.1f}x real time if all {cores} cores were free "
        f"(wall >= CPU / cores; {cpu * 1e3 / (pulses * len(radars)):.1f} ms CPU per radar frame)"
    )
    verdict = "PASS" if factor >= TARGET_REALTIME else "FAIL"
    print(f"{verdict}: target >= {TARGET_REALTIME:.0f}x real time")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"kept {work}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
