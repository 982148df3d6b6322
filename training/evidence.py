"""Evidence that the models learn: tiny CPU runs on a simulated dataset, held-out subject.

    python -m training.evidence --out runs/evidence            # both models, ~10-20 min on 2 cores
    python -m training.evidence --models hupr --epochs 4 --subjects 3 --frames 32

Simulates ``--subjects`` subjects doing ``--actions`` (``training.data.simulated``), trains each
model with TINY widths (``TINY`` below; the paper configs are far larger) on all subjects but the
last, evaluates on the last (LOPO fold) and prints AP / AP50 / AP75 / MPJPE / PCK against the
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

TINY: dict[str, list[tuple[str, Any]]] = {
    "hupr": [
        (
            "model.params",
            {
                "channels": [8, 16, 32],
                "mnet_channels": 8,
                "temporal_strides": [4, 2, 1],
                "attention_heads": 4,
                "attention_tokens": 8,
                "gcn_features": 64,
            },
        ),
        ("data.heatmap_size", [32, 32]),
    ],
    "millimamba": [
        (
            "model.params",
            {
                "dim": 64,
                "stem_channels": [16, 32, 64],
                "tokens_per_frame": 2,
                "encoder_layers": 2,
                "d_state": 8,
                "decoder_layers": 2,
                "decoder_heads": 4,
            },
        ),
        ("data.window", 8),
        ("data.target_offsets", [2, 3, 4, 5]),
    ],
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/evidence")
    parser.add_argument("--models", nargs="+", default=["hupr", "millimamba"])
    parser.add_argument("--subjects", type=int, default=4)
    parser.add_argument("--actions", nargs="+", default=["wave_one_hand", "squat"])
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", help="pickle file to keep the simulated dataset in")
    args = parser.parse_args(argv)

    from training.config import load_config
    from training.data.simulated import SimulatedDatasetSpec, build_simulated_dataset
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
    if cache is not None and cache.exists():
        with cache.open("rb") as fh:
            ds = pickle.load(fh)
    else:
        ds = build_simulated_dataset(spec)
        if cache is not None:
            with cache.open("wb") as fh:
                pickle.dump(ds, fh)
    print(f"simulated {len(ds.sequence_ids)} takes in {time.monotonic() - t0:.0f} s: {spec}")
    subjects = subjects_of(ds)
    fold = lopo_fold(subjects, sorted(subjects)[-1])
    reports: dict[str, dict[str, Any]] = {}
    timings: dict[str, float] = {}
    for name in args.models:
        overrides = [
            *TINY[name],
            ("data.doppler_bins", None),
            ("data.stride", 2),
            ("data.num_workers", 0),
            ("optim.epochs", args.epochs),
            ("optim.batch_size", args.batch_size),
            ("optim.lr", args.lr),
            ("trainer.seed", args.seed),
            ("trainer.log_every", 10),
        ]
        cfg = load_config(model=name, overrides=overrides)
        t1 = time.monotonic()
        trainer = Trainer(cfg, ds, fold, out / name)
        trainer.fit()
        timings[name] = time.monotonic() - t1
        trained = load_trained(out / name / "checkpoints" / "best.pt", device="cpu")
        test = trained.windows(ds, fold.test)
        sigmas, joints = skeleton_info(cfg.data.skeleton)
        preds = predict_frames(
            trained.model, test, device=trained.device, batch_size=args.batch_size
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
            "spec": repr(spec),
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
