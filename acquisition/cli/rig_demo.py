"""The main job on the simulated rig: record a dual-radar take, then compute its radar maps.

Examples::

    rig-demo                                  # 5 s take into ./demo_output
    rig-demo --duration 10 --out /tmp/demo
    rig-demo --rig sensor_configs/rigs/dual_radar_sim.yaml --inject-loss 0.01

Steps, each printed as it finishes:

1. record: the emulated HuPR rig (trigger board, two IWR1843BOOST radars with DCA1000 cards, a
   camera) runs in a child process; the recorder configures the radars over their serial CLIs,
   arms the capture cards, starts the trigger and records a synchronised take
   (``<out>/sessions/demo/<take>/``);
2. maps: every radar frame of the take is decoded and turned into the maps the models consume:
   HuPR VRDAE maps (16 x 64 x 64 x 8), range-Doppler maps and CFAR point clouds; the subject's
   range seen by each radar is compared with the simulator's ground truth.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from acquisition.cli.acq_record import record_take, summary_text
from acquisition.emulated_rig import FaultPlan
from acquisition.radar.config import load_radar_config
from acquisition.recorder import GROUND_TRUTH_NAME, TakeInfo
from acquisition.recording.reader import TakeReader
from acquisition.recording.records import RadarFrameRecord
from acquisition.rig import RigConfig, load_rig

DEFAULT_RIG = (
    Path(__file__).resolve().parents[2] / "sensor_configs" / "rigs" / "dual_radar_sim.yaml"
)


def compute_maps(take_dir: Path, out_dir: Path, *, batch: int = 16) -> list[str]:
    """Decode every radar of a take, compute VRDAE / RD maps and point clouds, save them as
    ``.npy`` under ``out_dir`` and return printable lines."""
    from dataset_tools.dsp import decode_adc_frames, detect_points, range_doppler_map, vrdae_maps

    take = TakeReader(take_dir)
    rig = load_rig(take_dir / "rig.yaml") if (take_dir / "rig.yaml").is_file() else None
    truth = (
        np.load(take_dir / GROUND_TRUTH_NAME) if (take_dir / GROUND_TRUTH_NAME).is_file() else None
    )
    lines: list[str] = []
    out_dir.mkdir(parents=True, exist_ok=True)
    for radar, info in take.manifest.radars.items():
        cfg = load_radar_config(take_dir / info["cfg_file"])
        params = cfg.params(info.get("board"))
        frames = list(take.radar_frames(radar))
        if not frames:
            lines.append(f"  {radar}: no frames")
            continue
        started = time.perf_counter()
        vrdae_parts: list[NDArray[np.complex64]] = []
        rd_parts: list[NDArray[np.float32]] = []
        n_points = 0
        for i in range(0, len(frames), batch):
            chunk = frames[i : i + batch]
            cube = decode_adc_frames(b"".join(f.data for f in chunk), params)
            rd_parts.append(range_doppler_map(cube, remove_clutter=True, db=True))
            if params.cube_shape == (64, 3, 4, 256):
                vrdae_parts.append(vrdae_maps(cube))
            n_points += len(detect_points(cube, params))
        elapsed = time.perf_counter() - started
        rd = np.concatenate(rd_parts)
        np.save(out_dir / f"{radar}_rd_db.npy", rd)
        shapes = f"RD {tuple(rd.shape)}"
        if vrdae_parts:
            vrdae = np.concatenate(vrdae_parts)
            np.save(out_dir / f"{radar}_vrdae.npy", vrdae)
            shapes = f"VRDAE {tuple(vrdae.shape)} {vrdae.dtype}, " + shapes
        valid = sum(f.valid for f in frames)
        lines.append(
            f"  {radar}: {len(frames)} frames ({valid} complete) -> {shapes}, "
            f"{n_points} CFAR points; {len(frames) / elapsed:.0f} frames/s"
        )
        if truth is not None and rig is not None:
            lines.append(
                "    " + _range_check(radar, rd, frames, truth, rig, params.range_resolution_m)
            )
    return lines


def _range_check(
    radar: str,
    rd_db: NDArray[np.float32],
    frames: list[RadarFrameRecord],
    truth: Mapping[str, NDArray[Any]],
    rig: RigConfig,
    range_resolution_m: float,
) -> str:
    """Median error between the RD map's strongest range and the subject's pelvis range."""
    from acquisition.sim.person import JOINT_INDEX

    spec = rig.radar(radar)
    index_of = {int(t): i for i, t in enumerate(truth["trigger_index"])}
    errors = []
    for frame, rd in zip(frames, rd_db, strict=True):
        row = index_of.get(frame.trigger_index)
        if row is None:
            continue
        pelvis = truth["joints_rig"][row, JOINT_INDEX["pelvis"]]
        true_range = float(np.linalg.norm(pelvis - spec.pose.position))
        measured = float(np.argmax(rd.max(axis=0)) * range_resolution_m)
        errors.append(abs(measured - true_range))
    if not errors:
        return "no frame matched the ground truth"
    return (
        f"subject range vs simulator truth: median error {np.median(errors) * 100:.1f} cm "
        f"over {len(errors)} frames (range resolution {range_resolution_m * 100:.1f} cm)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="rig-demo", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rig", default=str(DEFAULT_RIG), help="simulated rig file")
    parser.add_argument("--duration", type=float, default=5.0, help="take length, seconds")
    parser.add_argument("--out", default="demo_output", help="output folder")
    parser.add_argument("--inject-loss", type=float, default=0.0, help="packet loss probability")
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    take = f"demo_{time.strftime('%Y%m%dT%H%M%S')}"
    print(
        f"[1/2] recording a {args.duration:g} s take on the simulated rig ({Path(args.rig).name})"
    )
    try:
        manifest, take_dir = record_take(
            args.rig,
            TakeInfo(session="demo", take=take, subject="S00", action="demo"),
            args.duration,
            sessions_root=out / "sessions",
            faults=FaultPlan(packet_loss=args.inject_loss) if args.inject_loss else None,
            quiet=True,
        )
    except Exception as exc:  # the demo reports any failure in one line
        print(f"rig-demo: recording failed: {exc}", file=sys.stderr)
        return 1
    print(summary_text(manifest, take_dir))
    print(f"[2/2] radar maps -> {out / 'maps' / take}")
    for line in compute_maps(take_dir, out / "maps" / take):
        print(line)
    print("done: recording and maps are under", out)
    return 0 if manifest.status == "complete" else 1


if __name__ == "__main__":
    sys.exit(main())
