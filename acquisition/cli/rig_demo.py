"""The main job on the simulated rig: record two dual-radar takes, build a dataset, train on one
simulated subject and evaluate on the other.

Examples::

    rig-demo                                  # two 5 s takes, everything under ./demo_output
    rig-demo --duration 10 --epochs 3 --out /tmp/demo
    rig-demo --inject-loss 0.01               # with 1 % packet loss on both capture cards

Steps, each printed as it finishes:

1. record: the emulated HuPR rig (trigger board, two IWR1843BOOST radars with DCA1000 cards, a
   camera) runs in a child process; the recorder configures the radars over their serial CLIs,
   arms the capture cards, starts the trigger and records a synchronised take
   (``<out>/sessions/<session>/<take>/``). Two takes: subject S01 as the rig file describes it,
   then S02, another simulated body and motion (the rig file's subject seed + 1, written to
   ``<out>/rigs/``) doing the same action;
2. dataset: ``dataset-build`` aligns the streams by trigger index and computes the maps the
   models consume (HuPR VRDAE maps 16 x 64 x 64 x 8, range-Doppler maps, CFAR point clouds),
   with the simulator's ground truth as labels (``<out>/datasets/demo.zarr``);
3. check: the subject's range in every range-Doppler map is compared with the ground truth;
4. train + evaluate: a small HuPR (``training/configs/hupr_tiny.yaml``) trains for a few epochs
   on S01's take (leave-one-person-out fold ``lopo:S02``), then the best checkpoint is
   evaluated on S02's held-out take: COCO OKS AP, MPJPE, PCK next to the mean-pose baseline
   (the mean training pose for every frame). Checkpoints, logs and ``eval_test.json`` under
   ``<out>/runs/hupr``. A demo-sized run: ``python -m training.evidence`` is the longer one
   that beats the baseline.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import yaml

from acquisition.cli.acq_record import record_take, summary_text
from acquisition.emulated_rig import FaultPlan
from acquisition.recorder import TakeInfo

DEFAULT_RIG = (
    Path(__file__).resolve().parents[2] / "sensor_configs" / "rigs" / "dual_radar_sim.yaml"
)


def rig_with_subject(rig: Path, out: Path, *, seed_offset: int) -> Path:
    """A copy of the simulated rig file whose subject is another simulated person (subject seed
    + ``seed_offset``: another body and motion variation), radar ``.cfg`` paths made absolute;
    written to ``out`` and returned."""
    doc = yaml.safe_load(rig.read_text(encoding="utf-8"))
    for radar in doc.get("radars", []):
        radar["cfg"] = str((rig.parent / Path(radar["cfg"]).expanduser()).resolve())
    subject = doc.setdefault("simulation", {}).setdefault("subject", {})
    subject["seed"] = int(subject.get("seed", 0)) + seed_offset
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{rig.stem}_subject{subject['seed']}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


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
                f"  {seq_id} {radar}: subject range vs ground truth, median error "
                f"{np.median(errors) * 100:.1f} cm over {int(ok.sum())} frames "
                f"(range resolution {resolution * 100:.1f} cm)"
            )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="rig-demo", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rig", default=str(DEFAULT_RIG), help="simulated rig file")
    parser.add_argument("--duration", type=float, default=5.0, help="length of each take, s")
    parser.add_argument("--epochs", type=int, default=2, help="training epochs (default 2)")
    parser.add_argument("--out", default="demo_output", help="output folder")
    parser.add_argument("--inject-loss", type=float, default=0.0, help="packet loss probability")
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    rig = Path(args.rig).resolve()
    stamp = time.strftime("%Y%m%dT%H%M%S")
    session = f"demo_{stamp}"  # one session per run: the dataset holds this run's two takes
    try:
        from acquisition.rig import load_rig

        spec = load_rig(rig, check_configs=False).simulation
        if spec is None:
            raise ValueError(f"{rig.name} is not a simulated rig")
        action = spec.subject.action
        rigs = [(rig, "S01"), (rig_with_subject(rig, out / "rigs", seed_offset=1), "S02")]
    except Exception as exc:  # the demo reports any failure in one line
        print(f"rig-demo: {exc}", file=sys.stderr)
        return 1

    complete = True
    for i, (rig_file, subject) in enumerate(rigs):
        print(
            f"[1/4] recording take {i + 1}/{len(rigs)}: {args.duration:g} s, simulated subject "
            f"{subject} ({action}) on the simulated rig ({rig.name})"
        )
        try:
            manifest, take_dir = record_take(
                rig_file,
                TakeInfo(
                    session=session,
                    take=f"{subject}_{action}_{stamp}",
                    subject=subject,
                    action=action,
                ),
                args.duration,
                sessions_root=out / "sessions",
                faults=FaultPlan(packet_loss=args.inject_loss) if args.inject_loss else None,
                quiet=True,
            )
        except Exception as exc:  # the demo reports any failure in one line
            print(f"rig-demo: recording failed: {exc}", file=sys.stderr)
            return 1
        print(summary_text(manifest, take_dir))
        complete = complete and manifest.status == "complete"

    from dataset_tools.cli.dataset_build import main as dataset_build
    from dataset_tools.cli.dataset_info import main as dataset_info

    dataset = out / "datasets" / "demo.zarr"
    print(f"[2/4] building the dataset -> {dataset}")
    status = dataset_build(
        [
            "--session",
            session,
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
    held_out = rigs[-1][1]
    print(
        f"[4/4] training HuPR (small widths, {args.epochs} epochs) on S01, evaluating on the "
        f"held-out subject {held_out} -> {out / 'runs' / 'hupr'}"
    )
    status = train(
        [
            "--model",
            "hupr",
            "--dataset",
            str(dataset),
            "--config",
            str(tiny),
            "--fold",
            f"lopo:{held_out}",
            "--epochs",
            str(args.epochs),
            "--out",
            str(out / "runs" / "hupr"),
        ]
    )
    if status not in (0, None):
        print("rig-demo: training or evaluation failed", file=sys.stderr)
        return 1
    print(f"done: recordings, dataset, maps, model and evaluation are under {out}")
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
