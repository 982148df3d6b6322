"""The main job on the simulated rig: record a dual-radar take, build a dataset, train on it.

Examples::

    rig-demo                                  # 5 s take, everything under ./demo_output
    rig-demo --duration 10 --out /tmp/demo
    rig-demo --inject-loss 0.01               # with 1 % packet loss on both capture cards

Steps, each printed as it finishes:

1. record: the emulated HuPR rig (trigger board, two IWR1843BOOST radars with DCA1000 cards, a
   camera) runs in a child process; the recorder configures the radars over their serial CLIs,
   arms the capture cards, starts the trigger and records a synchronised take
   (``<out>/sessions/demo/<take>/``);
2. dataset: ``dataset-build`` aligns the streams by trigger index and computes the maps the
   models consume (HuPR VRDAE maps 16 x 64 x 64 x 8, range-Doppler maps, CFAR point clouds),
   with the simulator's ground truth as labels (``<out>/datasets/demo.zarr``);
3. check: the subject's range in every range-Doppler map is compared with the ground truth;
4. train: one epoch of a small HuPR model on the dataset (``training/configs/hupr_tiny.yaml``),
   checkpoint and logs under ``<out>/runs/hupr``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from acquisition.cli.acq_record import record_take, summary_text
from acquisition.emulated_rig import FaultPlan
from acquisition.recorder import TakeInfo

DEFAULT_RIG = (
    Path(__file__).resolve().parents[2] / "sensor_configs" / "rigs" / "dual_radar_sim.yaml"
)


def check_ranges(dataset_path: Path) -> list[str]:
    """Per radar: median error between each RD map's strongest range and the subject's pelvis
    range from the labels (simulator ground truth), over every labelled frame."""
    from dataset_tools.dataset import open_dataset

    ds = open_dataset(dataset_path)
    lines = []
    for seq_id in ds.sequence_ids:
        seq = ds.sequence(seq_id)
        labels = seq.labels("sim20")
        pelvis = labels["keypoints_3d"][:, list(labels["joint_names"]).index("pelvis")]
        for radar in seq.radars:
            info = ds.attrs["radars"][radar]
            resolution = float(info["params"]["range_resolution_m"])
            position = np.asarray(info["pose"]["xyz"], dtype=np.float64)
            rd = seq.read(
                radar, "rd", 0, seq.num_frames
            )  # (F, Doppler, range), zero Doppler centred
            centre = rd.shape[1] // 2
            rd[:, centre - 1 : centre + 2] = -np.inf  # the static room; the subject moves
            ok = seq.mask(f"radar/{radar}") & np.isfinite(pelvis).all(axis=1)
            measured = np.argmax(rd.max(axis=1), axis=1) * resolution
            truth = np.linalg.norm(pelvis - position, axis=1)
            errors = np.abs(measured - truth)[ok]
            lines.append(
                f"  {radar}: subject range vs ground truth, median error "
                f"{np.median(errors) * 100:.1f} cm over {int(ok.sum())} frames "
                f"(range resolution {resolution * 100:.1f} cm)"
            )
    return lines


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
        f"[1/3] recording a {args.duration:g} s take on the simulated rig ({Path(args.rig).name})"
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

    from dataset_tools.cli.dataset_build import main as dataset_build
    from dataset_tools.cli.dataset_info import main as dataset_info

    dataset = out / "datasets" / "demo.zarr"
    print(f"[2/4] building the dataset -> {dataset}")
    status = dataset_build(
        [
            "--session",
            "demo",
            "--sessions-root",
            str(out / "sessions"),
            "--out",
            str(dataset),
            "--representations",
            "vrdae,rd,points",
            "--overwrite",
        ]
    )
    if status != 0:
        print("rig-demo: dataset-build failed", file=sys.stderr)
        return 1
    dataset_info([str(dataset)])

    print("[3/4] checking the radar maps against the simulator's ground truth")
    for line in check_ranges(dataset):
        print(line)

    import training
    from training.cli.train import main as train

    tiny = Path(training.__file__).resolve().parent / "configs" / "hupr_tiny.yaml"
    print(f"[4/4] training HuPR (small widths, 1 epoch) -> {out / 'runs' / 'hupr'}")
    status = train(
        [
            "--model",
            "hupr",
            "--dataset",
            str(dataset),
            "--config",
            str(tiny),
            "--epochs",
            "1",
            "--out",
            str(out / "runs" / "hupr"),
        ]
    )
    if status not in (0, None):
        print("rig-demo: training failed", file=sys.stderr)
        return 1
    print(f"done: recording, dataset, maps and model are under {out}")
    return 0 if manifest.status == "complete" else 1


if __name__ == "__main__":
    sys.exit(main())
