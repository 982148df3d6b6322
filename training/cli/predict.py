"""Write a model's keypoints for every frame of a dataset.

Examples::

    predict --checkpoint runs/hupr/checkpoints/best.pt --dataset data/lab.zarr --out preds.npz
    predict --checkpoint best.pt --dataset data/lab.zarr --sequences take_01 --out take01.npz

Output (``.npz``): for each sequence ``<seq_id>/keypoints_2d`` (F, J, 3) float32 [x, y, score]
in the label camera's pixels, NaN for frames without a prediction (lost radar data, sequence
ends), and ``<seq_id>/predicted`` (F,) bool; ``__meta__`` holds a JSON string (model, skeleton,
joint names, checkpoint, dataset).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="predict",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--dataset", required=True)
    p.add_argument("--out", required=True, help=".npz file")
    p.add_argument("--sequences", nargs="*", help="default: every sequence of the dataset")
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=16)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from training.data.source import open_training_dataset
    from training.evaluation import predict_frames
    from training.trainer import load_trained, skeleton_info

    trained = load_trained(args.checkpoint, device=args.device)
    src = open_training_dataset(args.dataset)
    seq_ids = list(args.sequences) if args.sequences else list(src.sequence_ids)
    cfg = trained.cfg
    windows = trained.windows(src, seq_ids, require_labels=False)  # labelled or not
    preds = predict_frames(
        trained.model, windows, device=trained.device, batch_size=args.batch_size, with_loss=False
    )
    _, joints = skeleton_info(cfg.data.skeleton)
    arrays: dict[str, np.ndarray] = {}
    for seq_id in seq_ids:
        n = src.sequence(seq_id).num_frames
        kp = preds.keypoints.get(seq_id, np.full((n, len(joints), 2), np.nan, np.float32))
        sc = preds.scores.get(seq_id, np.full((n, len(joints)), np.nan, np.float32))
        arrays[f"{seq_id}/keypoints_2d"] = np.concatenate([kp, sc[..., None]], -1)
        arrays[f"{seq_id}/predicted"] = np.asarray(np.isfinite(kp).all(-1).all(-1))
    meta = {
        "model": cfg.model.name,
        "skeleton": cfg.data.skeleton,
        "joints": joints,
        "checkpoint": str(args.checkpoint),
        "dataset": str(args.dataset),
    }
    arrays["__meta__"] = np.array(json.dumps(meta))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)  # type: ignore[arg-type]
    total = sum(int(arrays[f"{q}/predicted"].sum()) for q in seq_ids)
    print(f"{total} frames predicted over {len(seq_ids)} sequences -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
