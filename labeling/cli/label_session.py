"""Label recorded takes: RGB(-D) frames -> subject keypoints (2-D, 3-D, per radar) + QA.

Examples::

    label-session ~/radar_sessions/2024-05/S01_wave_20240501T101500
    label-session --sessions-root ~/radar_sessions --session 2024-05 --preset vitpose
    label-session TAKE --config labeling.yaml --device cuda --batch-size 32
    label-session TAKE --preset yolo-pose --models-dir /data/models

Writes ``<take>/labels/<labeler>.h5`` and ``<take>/labels/<labeler>.qa.json`` (format in
docs/labeling.md; labeler default ``<detector>+<pose>``, e.g. ``yolo11m+hrnet_w32``). Model
weights are read from local files only: ``label-models list`` shows what is needed and where,
``label-models download`` fetches it on a machine with internet access. ``--random-weights``
builds the models untrained (pipeline checks only: the labels are noise and are marked so).
Exit status 0 when every take was labelled, 1 otherwise (2 for a bad config or missing weights).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from acquisition.errors import MissingDependency
from acquisition.recording import list_takes
from labeling.config import PRESETS, LabelingConfig, LabelingConfigError, load_config
from labeling.labels_file import labels_path
from labeling.models import MissingWeights


def _override(config: LabelingConfig, args: argparse.Namespace) -> LabelingConfig:
    changes: dict[str, object] = {}
    for key in ("labeler", "camera", "device", "batch_size", "models_dir"):
        value = getattr(args, key)
        if value is not None:
            changes[key] = value
    if args.random_weights:
        changes["detector"] = dataclasses.replace(config.detector, random_weights=True)
        changes["pose"] = dataclasses.replace(config.pose, random_weights=True)
    return dataclasses.replace(config, **changes)  # type: ignore[arg-type]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="label-session",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("takes", nargs="*", type=Path, help="take folders")
    parser.add_argument("--sessions-root", type=Path, help="with --session: every take of it")
    parser.add_argument("--session", help="session name under --sessions-root")
    parser.add_argument("--config", type=Path, help="labeling config YAML")
    parser.add_argument("--preset", choices=sorted(PRESETS), help="starting configuration")
    parser.add_argument("--labeler", help="labels file name (default <detector>+<pose>)")
    parser.add_argument("--camera", help="camera to label (default: the take's first)")
    parser.add_argument("--device", help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--batch-size", type=int, help="frames per inference batch")
    parser.add_argument("--models-dir", type=Path, help="folder of the model weights")
    parser.add_argument("--overwrite", action="store_true", help="replace existing labels")
    parser.add_argument(
        "--random-weights", action="store_true", help="untrained models (pipeline checks only)"
    )
    args = parser.parse_args(argv)

    takes = list(args.takes)
    if args.session:
        if args.sessions_root is None:
            parser.error("--session needs --sessions-root")
        takes += list_takes(args.sessions_root.expanduser(), args.session)
    if not takes:
        parser.error("no take given (TAKE folders, or --sessions-root and --session)")

    try:
        config = _override(load_config(args.config, preset=args.preset), args)
    except LabelingConfigError as exc:
        print(f"label-session: {exc}", file=sys.stderr)
        return 2
    todo = []
    for take in takes:
        target = labels_path(take, config.labeler_name)
        if target.exists() and not args.overwrite:
            print(f"{take}: {target.name} exists (use --overwrite)")
        else:
            todo.append(take)
    if not todo:
        return 0
    try:
        from labeling.pipeline import TakeLabeler

        labeler = TakeLabeler(config)
    except (MissingWeights, MissingDependency, FileNotFoundError) as exc:
        print(f"label-session: {exc}", file=sys.stderr)
        return 2
    if config.detector.random_weights or config.pose.random_weights:
        print("label-session: WARNING: random weights: the labels are noise", file=sys.stderr)

    failed = 0
    for take in todo:
        start = time.perf_counter()
        try:
            labels, path = labeler.label_take(take)
        except (OSError, ValueError, KeyError) as exc:
            print(f"{take}: FAILED: {exc}", file=sys.stderr)
            failed += 1
            continue
        elapsed = time.perf_counter() - start
        qa = labels.qa
        flagged = ", ".join(f"{k} {v}" for k, v in qa["frames_flagged"].items() if v)
        print(
            f"{take}: {qa['frames_labelled']}/{qa['frames']} frames labelled "
            f"({qa['frames_3d']} with 3-D) in {elapsed:.1f} s "
            f"({qa['frames'] / max(elapsed, 1e-9):.1f} frames/s)"
            + (f"; flagged: {flagged}" if flagged else "")
            + f" -> {path}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
