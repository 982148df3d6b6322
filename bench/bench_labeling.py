"""Benchmark: labeling throughput, frames/s, for each backend (CPU, and the GPU when present).

Examples::

    python bench/bench_labeling.py                       # every installed backend, random weights
    python bench/bench_labeling.py --frames 64 --batch-size 16 --device cuda
    python bench/bench_labeling.py --backends yolo11m hrnet_w32 --models-dir /data/models

Frames are 640 x 480 RGB-D renderings of the simulated person (acquisition.sim), one subject per
frame. Models are built from their architectures with random weights unless ``--models-dir``
holds the checkpoints (speed does not depend on the weights; random detectors find nobody, so
pose models are timed on the true boxes). Printed per backend: frames/s of batched inference
(best of ``--repeat`` passes over the frames, after one warm-up pass), and for the numpy stages
(depth lifting of 17 joints, One-Euro smoothing) frames/s on one thread. Figures depend on the
machine's load (printed with the load average at start and end): compare runs on one machine
at similar load only.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from numpy.typing import NDArray

from acquisition.geometry import Pose
from acquisition.sim.camera import PinholeCamera, RgbdRenderer, keypoints_2d
from acquisition.sim.person import PersonMotion
from labeling.config import (
    DetectorConfig,
    LabelingConfig,
    LiftingConfig,
    PoseConfig,
)
from labeling.filters import one_euro
from labeling.geometry import lift_keypoints


def _frames(
    n: int,
) -> tuple[list[NDArray[np.uint8]], list[NDArray[np.uint16]], NDArray[np.float64]]:
    cam = PinholeCamera(
        500.0, 500.0, 320.0, 240.0, 640, 480, Pose.from_xyz_rpy((0, 0, 1.12), (0, 0, 0))
    )
    renderer = RgbdRenderer(cam)
    motion = PersonMotion("walk_wave", start_position=(3.0, 0.0), seed=3)
    joints = motion.joints_at(np.arange(n) / 10.0)
    colour, depth = zip(*(renderer.render(j) for j in joints), strict=True)
    uv = np.stack([keypoints_2d(cam, j)[:17] for j in joints])
    boxes = np.concatenate([uv.min(axis=1) - 15, uv.max(axis=1) + 15], axis=1)
    return list(colour), list(depth), boxes


def _rate(run: Callable[[], object], frames: int, repeat: int) -> float:
    run()  # warm-up (allocations, cuDNN autotune)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return frames / best


def _load() -> str:
    """The 1/5/15-minute load average and core count: figures are only comparable at equal load."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "load average unknown"
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--models-dir", type=Path)
    parser.add_argument(
        "--backends",
        nargs="*",
        default=["yolo11n", "yolo11m", "yolo11m_pose", "hrnet_w32", "vitpose_b"],
    )
    args = parser.parse_args()
    os.environ.setdefault("YOLO_OFFLINE", "1")

    colour, depth, boxes = _frames(args.frames)
    n, b = args.frames, args.batch_size
    print(f"bench_labeling: {n} frames 640x480, batch {b}, {_load()}")

    lifting = LiftingConfig()

    def lift() -> None:
        for d, box in zip(depth, boxes, strict=True):
            uv = np.column_stack([np.linspace(box[0], box[2], 17), np.linspace(box[1], box[3], 17)])
            lift_keypoints(uv, d, fx=500, fy=500, cx=320, cy=240, depth_scale=0.001,
                           surface_offset_m=lifting.surface_offset_m)  # fmt: skip

    print(f"  depth lifting (17 joints, numpy)        {_rate(lift, n, args.repeat):9.1f} frames/s")
    track = np.random.default_rng(0).normal(size=(600, 17, 3))
    t = np.arange(600) / 10.0
    rate = _rate(lambda: one_euro(track, t, beta=0.05), 600, args.repeat)
    print(f"  One-Euro smoothing (17 x 3, numpy)      {rate:9.1f} frames/s")

    have_ultra = importlib.util.find_spec("ultralytics") is not None
    have_mmpose = importlib.util.find_spec("mmpose") is not None
    from labeling.backends.base import PersonDetector, PoseEstimator, resolve_device
    from labeling.models import MODEL_FILES

    device = resolve_device(args.device)
    for name in args.backends:
        entry = MODEL_FILES[name]
        if entry.backend == "ultralytics" and not have_ultra:
            print(f"  {name:38s}  skipped (ultralytics not installed)")
            continue
        if entry.backend == "mmpose" and not have_mmpose:
            print(f"  {name:38s}  skipped (mmpose not installed: scripts/install_mmpose.sh)")
            continue
        random = args.models_dir is None or not (args.models_dir / entry.filename).is_file()
        base = LabelingConfig(device=args.device, models_dir=args.models_dir, batch_size=b)
        if entry.role == "detector":
            cfg = replace(base, detector=DetectorConfig(model=name, random_weights=random))
            from labeling.backends.base import create_detector

            det = create_detector(cfg)

            def run_det(det: PersonDetector = det) -> None:
                for i in range(0, n, b):
                    det.detect(colour[i : i + b])

            rate = _rate(run_det, n, args.repeat)
        else:
            cfg = replace(base, pose=PoseConfig(model=name, random_weights=random))
            from labeling.backends.base import create_pose_estimator

            est = create_pose_estimator(cfg)

            def run_pose(est: PoseEstimator = est) -> None:
                for i in range(0, n, b):
                    chunk = colour[i : i + b]
                    est.estimate(chunk, boxes[i : i + b], np.arange(len(chunk)))

            rate = _rate(run_pose, n, args.repeat)
        weights = "random weights" if random else "checkpoint"
        label = f"{name} ({entry.role}, {weights}, {device})"
        print(f"  {label:38s}  {rate:9.1f} frames/s")
    print(f"bench_labeling: done, {_load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
