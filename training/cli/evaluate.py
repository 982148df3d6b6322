"""Evaluate a checkpoint on a dataset: COCO OKS AP / AP50 / AP75, per-joint AP, MPJPE, PCK.

Examples::

    evaluate --checkpoint runs/hupr/checkpoints/best.pt --dataset data/lab.zarr
    evaluate --checkpoint best.pt --dataset data/lab.zarr --split val --out report.json
    evaluate --checkpoint best.pt --dataset data/lab.zarr --sequences take_01 take_02 --baseline

``--split`` picks the part of the checkpoint's own fold (default ``test``); ``--sequences``
names sequences instead; ``--baseline`` adds the mean-pose baseline (mean training pose of the
fold). Prints a table and writes the JSON report (default next to the checkpoint).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from training.data.protocols import DatasetSource


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="evaluate",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--dataset", required=True)
    p.add_argument("--split", default="test", choices=["train", "val", "test", "all"])
    p.add_argument("--sequences", nargs="*", help="evaluate these sequence ids instead")
    p.add_argument("--out", help="JSON report path (default: <checkpoint dir>/eval_<split>.json)")
    p.add_argument("--baseline", action="store_true", help="also report the mean-pose baseline")
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=16)
    return p


def main(argv: list[str] | None = None, *, source: DatasetSource | None = None) -> int:
    args = build_parser().parse_args(argv)
    from training.data.source import open_training_dataset
    from training.evaluation import (
        evaluate_predictions,
        format_table,
        mean_pose_predictions,
        predict_frames,
        write_report,
    )
    from training.trainer import load_trained, make_windows, skeleton_info

    trained = load_trained(args.checkpoint, device=args.device)
    src = source if source is not None else open_training_dataset(args.dataset)
    if args.sequences:
        seq_ids = list(args.sequences)
    elif args.split == "all":
        seq_ids = list(src.sequence_ids)
    else:
        seq_ids = list(trained.fold[args.split])
    if not seq_ids:
        print(f"evaluate: no sequences in split {args.split!r} of the checkpoint's fold")
        return 1
    windows = trained.windows(src, seq_ids)
    sigmas, joints = skeleton_info(trained.cfg.data.skeleton)
    preds = predict_frames(
        trained.model, windows, device=trained.device, batch_size=args.batch_size
    )
    model_name = trained.cfg.model.name
    reports: dict[str, dict[str, Any]] = {
        model_name: evaluate_predictions(
            windows, preds, sigmas=sigmas, joint_names=joints, cfg=trained.cfg.eval
        )
    }
    if args.baseline:
        train_windows = make_windows(trained.cfg, src, trained.fold["train"], train=False)
        reports["mean-pose"] = evaluate_predictions(
            windows,
            mean_pose_predictions(train_windows, windows),
            sigmas=sigmas,
            joint_names=joints,
            cfg=trained.cfg.eval,
        )
    print(f"{len(seq_ids)} sequences, {windows.excluded} windows excluded by masks")
    print(format_table(reports))
    out = Path(args.out) if args.out else Path(args.checkpoint).parent / f"eval_{args.split}.json"
    write_report(
        out,
        {
            "checkpoint": str(args.checkpoint),
            "dataset": str(args.dataset),
            "sequences": seq_ids,
            "excluded_windows": windows.excluded,
            "reports": reports,
        },
    )
    print(f"report: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
