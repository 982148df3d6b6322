"""Evidence that the models learn: tiny CPU runs on a simulated dataset, held-out subject.

    python -m training.evidence --out runs/evidence            # both models, tiny configs, CPU
    python -m training.evidence --models hupr --epochs 4 --subjects 3 --frames 32
    python -m training.evidence --dataset /tmp/S.zarr --held-out S04   # a dataset-build output
    python -m training.evidence --record runs/evidence_takes   # record + dataset-build, then train

Simulates ``--subjects`` subjects doing ``--actions`` (``training.data.simulated``), or opens
``--dataset``, or (``--record ROOT``) records one 5 s take per subject and action with the
simulated rig (``dual_radar_sim.yaml``, subject seed 100 + k: another body and gait each), builds
them with ``dataset-build`` (VRDAE + RD, no images) into ``ROOT/evidence.zarr`` and uses that;
then trains each model with its tiny config (``training/configs/<model>_tiny.yaml``;
the paper configs are far larger) on all subjects but the held-out one (default the last),
evaluates on it (LOPO fold) and prints AP / AP50 / AP75 / MPJPE / PCK against the
mean-pose baseline (every frame gets the mean training pose). Fixed seeds; the JSON report goes
to ``OUT/evidence.json``. These are small-scale sanity figures, not paper reproductions.
"""

from __future__ import annotations

import argparse
import json
import pickle
import time
from pathlib import Path
from typing import Any

CONFIGS = Path(__file__).resolve().parent / "configs"

SIM_RIG = Path(__file__).resolve().parents[1] / "sensor_configs" / "rigs" / "dual_radar_sim.yaml"

TINY_CONFIGS = {
    "hupr": CONFIGS / "hupr_tiny.yaml",
    "millimamba": CONFIGS / "millimamba_tiny.yaml",
}


def record_and_build(
    root: Path, subjects: int, actions: list[str], *, seconds: float = 5.0, seed: int = 0
) -> Path:
    """Record ``subjects`` x ``actions`` takes on the simulated rig (session ``evidence``) and
    build them with dataset-build; returns the dataset path. Takes already there are kept."""
    import yaml

    from acquisition.cli.acq_record import record_take
    from acquisition.recorder import TakeInfo
    from dataset_tools.build import BuildConfig, build_dataset
    from dataset_tools.representations import RepresentationConfig

    sessions, rigs = root / "sessions", root / "rigs"
    rigs.mkdir(parents=True, exist_ok=True)
    for k in range(subjects):
        for action in actions:
            doc = yaml.safe_load(SIM_RIG.read_text(encoding="utf-8"))
            for radar in doc["radars"]:
                radar["cfg"] = str((SIM_RIG.parent / radar["cfg"]).resolve())
            sim = doc.setdefault("simulation", {})
            sim["seed"] = seed + 10 * k + len(action)  # radar noise draws
            sim.setdefault("subject", {}).update({"seed": 100 + k, "action": action})
            subject, take = f"S{k + 1:02d}", f"S{k + 1:02d}_{action}"
            rig = rigs / f"{take}.yaml"
            rig.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
            if not (sessions / "evidence" / take).exists():
                info = TakeInfo(session="evidence", take=take, subject=subject, action=action)
                record_take(rig, info, seconds, sessions_root=sessions, quiet=True)
                print(f"recorded {take}", flush=True)
    out = root / "evidence.zarr"
    build_dataset(
        BuildConfig(
            sessions=("evidence",),
            sessions_root=sessions,
            out=out,
            representations=RepresentationConfig(names=("vrdae", "rd")),
            rgb=False,
            depth=False,
            overwrite=True,
            quiet=True,
        )
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/evidence")
    parser.add_argument("--models", nargs="+", default=["hupr", "millimamba"])
    parser.add_argument("--subjects", type=int, default=4)
    parser.add_argument("--actions", nargs="+", default=["wave_one_hand", "squat"])
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--epochs", type=int, help="default: the tiny config's")
    parser.add_argument("--batch-size", type=int, help="default: the tiny config's")
    parser.add_argument("--lr", type=float, help="default: the tiny config's")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", help="pickle file to keep the simulated dataset in")
    parser.add_argument(
        "--dataset",
        help="use this dataset instead of simulating one: a dataset-build output (e.g. of "
        "simulated-rig takes of several subjects) or a sim: spec",
    )
    parser.add_argument("--held-out", help="subject to test on (default: the last one)")
    parser.add_argument(
        "--record",
        metavar="ROOT",
        help="record --subjects x --actions 5 s takes on the simulated rig under ROOT, build "
        "them with dataset-build and train on that dataset",
    )
    args = parser.parse_args(argv)

    from training.config import load_config
    from training.data.protocols import DatasetSource
    from training.data.simulated import SimulatedDatasetSpec, build_simulated_dataset
    from training.data.source import open_training_dataset
    from training.evaluation import (
        evaluate_predictions,
        format_table,
        mean_pose_predictions,
        predict_frames,
        write_report,
    )
    from training.metrics.folds import lopo_fold, subjects_of
    from training.trainer import Trainer, load_trained, skeleton_info

    out = Path(args.out)
    t0 = time.monotonic()
    spec = SimulatedDatasetSpec(
        subjects=args.subjects, actions=tuple(args.actions), frames=args.frames, seed=args.seed
    )
    cache = Path(args.cache) if args.cache else None
    ds: DatasetSource
    if args.record:
        args.dataset = str(record_and_build(Path(args.record), args.subjects, args.actions))
    if args.dataset:
        ds = open_training_dataset(args.dataset)
    elif cache is not None and cache.exists():
        with cache.open("rb") as fh:
            ds = pickle.load(fh)
    else:
        ds = build_simulated_dataset(spec)
        if cache is not None:
            with cache.open("wb") as fh:
                pickle.dump(ds, fh)
    what = args.dataset or spec
    print(f"dataset of {len(ds.sequence_ids)} takes ready in {time.monotonic() - t0:.0f} s: {what}")
    subjects = subjects_of(ds)
    fold = lopo_fold(subjects, args.held_out or sorted(subjects)[-1])
    reports: dict[str, dict[str, Any]] = {}
    timings: dict[str, float] = {}
    for name in args.models:
        overrides: list[tuple[str, Any]] = [
            ("data.num_workers", 0),
            ("trainer.seed", args.seed),
            ("trainer.device", "cpu"),
        ]
        # a compact simulated dataset: Doppler 4..11 already cut, elevation averaged
        if getattr(ds, "attrs", {}).get("vrdae_compact"):
            overrides.append(("data.doppler_bins", None))
        for key, value in (
            ("optim.epochs", args.epochs),
            ("optim.batch_size", args.batch_size),
            ("optim.lr", args.lr),
        ):
            if value is not None:
                overrides.append((key, value))
        cfg = load_config(TINY_CONFIGS[name], model=name, overrides=overrides)
        t1 = time.monotonic()
        trainer = Trainer(cfg, ds, fold, out / name)
        trainer.fit()
        timings[name] = time.monotonic() - t1
        trained = load_trained(out / name / "checkpoints" / "best.pt", device="cpu")
        test = trained.windows(ds, fold.test)
        sigmas, joints = skeleton_info(cfg.data.skeleton)
        preds = predict_frames(
            trained.model, test, device=trained.device, batch_size=cfg.optim.batch_size
        )
        reports[name] = evaluate_predictions(
            test, preds, sigmas=sigmas, joint_names=joints, cfg=cfg.eval
        )
        if "mean-pose" not in reports:
            reports["mean-pose"] = evaluate_predictions(
                test,
                mean_pose_predictions(trainer.train_set, test),
                sigmas=sigmas,
                joint_names=joints,
                cfg=cfg.eval,
            )
    print(f"\nheld-out subject {fold.held_out} ({len(fold.test)} takes); TINY models, CPU")
    print(format_table(reports))
    write_report(
        out / "evidence.json",
        {
            "dataset": str(what) if args.dataset else repr(spec),
            "fold": fold.name,
            "reports": reports,
            "train_seconds": timings,
            "args": vars(args),
        },
    )
    print(json.dumps({k: round(v, 1) for k, v in timings.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
