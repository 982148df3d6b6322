"""Evaluate a MAEPose (stage 2) checkpoint: MPJPE (m), PCK@5 cm, normalised MPJPE, plus the
shared pose metrics (OKS AP, pixel MPJPE, PCK of the box diagonal), and the mean-pose baseline.

Examples::

    python -m training.maepose.evaluate --checkpoint runs/mae_S03/checkpoints/best.pt \
        --dataset data/lab.zarr                      # the checkpoint fold's test part
    python -m training.maepose.evaluate --checkpoint best.pt --dataset data/lab.zarr \
        --split val --out report.json

Prints a table (model and mean-pose columns) and writes the JSON report (default
``<checkpoint dir>/../eval_<split>.json``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from training.data.protocols import DatasetSource


def evaluate_checkpoint(
    checkpoint: str | Path,
    source: DatasetSource,
    *,
    split: str = "test",
    sequences: list[str] | None = None,
    device: str = "auto",
    batch_size: int = 16,
    baseline: bool = True,
) -> dict[str, Any]:
    """Reports of the model (and of the mean pose of the fold's training labels) on the
    labelled windows of ``sequences`` or of the checkpoint fold's ``split``.

    Returns:
        ``{"sequences", "excluded_windows", "reports": {"maepose": {...}, "mean-pose": {...}}}``.
    """
    from training.evaluation import evaluate_predictions, mean_pose_predictions, predict_frames
    from training.maepose.metrics import metric_pose_report
    from training.maepose.trainer import make_pose_windows
    from training.trainer import load_trained, skeleton_info

    trained = load_trained(checkpoint, device=device)
    cfg = trained.cfg
    seq_ids = list(sequences) if sequences else list(trained.fold[split])
    if not seq_ids:
        raise ValueError(f"no sequences in split {split!r} of the checkpoint's fold")
    windows = make_pose_windows(cfg, source, seq_ids, train=False)
    sigmas, joints = skeleton_info(cfg.data.skeleton)
    thresholds = cfg.eval.pck_thresholds_m

    def report(preds: Any) -> dict[str, Any]:
        r = evaluate_predictions(windows, preds, sigmas=sigmas, joint_names=joints, cfg=cfg.eval)
        r.update(metric_pose_report(windows, preds, thresholds_m=thresholds))
        return r

    preds = predict_frames(trained.model, windows, device=trained.device, batch_size=batch_size)
    reports = {cfg.model.name: report(preds)}
    if baseline:
        train_windows = make_pose_windows(cfg, source, trained.fold["train"], train=False)
        reports["mean-pose"] = report(mean_pose_predictions(train_windows, windows))
    return {
        "checkpoint": str(checkpoint),
        "sequences": seq_ids,
        "excluded_windows": windows.excluded,
        "reports": reports,
    }


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m training.maepose.evaluate",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--dataset", required=True)
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--sequences", nargs="*", help="evaluate these sequence ids instead")
    p.add_argument("--out", help="JSON report path")
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--no-baseline", action="store_true", help="leave out the mean-pose column")
    return p


def main(argv: list[str] | None = None, *, source: DatasetSource | None = None) -> int:
    args = build_parser().parse_args(argv)
    from training.data.source import open_training_dataset
    from training.evaluation import format_table, write_report

    src = source if source is not None else open_training_dataset(args.dataset)
    result = evaluate_checkpoint(
        args.checkpoint,
        src,
        split=args.split,
        sequences=args.sequences,
        device=args.device,
        batch_size=args.batch_size,
        baseline=not args.no_baseline,
    )
    print(f"{len(result['sequences'])} sequences, excluded windows {result['excluded_windows']}")
    print(format_table(result["reports"]))
    out = (
        Path(args.out)
        if args.out
        else Path(args.checkpoint).resolve().parent.parent / f"eval_{args.split}.json"
    )
    write_report(out, {"dataset": str(args.dataset), **result})
    print(f"report: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
