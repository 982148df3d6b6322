"""``train --model mmjoints`` / ``train --model mission`` (called by ``training.cli.train``).

Examples::

    train --model mmjoints --dataset data/lab.zarr --base preds3d.npz --out runs/mmj
    train --model mmjoints --dataset "simpoints:subjects=4,actions=walk_across+squat,takes=2" \
          --base baseline --set optim.epochs=10
    train --model mission --dataset data/gait.zarr --set data.protocol=unseen
    train --model mission --dataset "simpoints:subjects=8,takes=4,frames=24,image_size=64" \
          --set model.backbone=tiny model.image_size=64

Both write ``OUT/<model>.pt``, ``OUT/config.yaml`` and ``OUT/report.json`` (the test
evaluation) and print the report.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

OWN_MODELS = ("mmjoints", "mission")


def run_own_model(args: Any) -> int:
    """Run an mmJoints or Mission training from the parsed ``train`` arguments."""
    from training.config import ConfigError, parse_overrides

    try:
        overrides = parse_overrides(args.set)
        if args.device:
            overrides.append(("device", args.device))
        if args.epochs:
            overrides.append(("optim.epochs", args.epochs))
        if args.model == "mmjoints":
            from training.mmjoints.config import load_mmjoints_config

            cfg: Any = load_mmjoints_config(args.config, overrides)
        else:
            from training.mission.config import load_mission_config

            cfg = load_mission_config(args.config, overrides)
    except ConfigError as exc:
        print(f"train: config error: {exc}", file=sys.stderr)
        return 2
    from training.mmjoints.pointdata import open_point_dataset

    source = open_point_dataset(args.dataset)
    out = Path(args.out or f"runs/{args.model}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    if args.model == "mmjoints":
        from training.mmjoints.pipeline import run_mmjoints

        split = "by_sequence" if args.fold in (None, "by_sequence") else args.fold
        report = run_mmjoints(cfg, source, base=args.base, out=out, split=split)
    else:
        from training.mission.pipeline import run_mission

        report = run_mission(cfg, source, out=out)
    print(json.dumps(report, indent=2, default=float))
    print(f"report: {out / 'report.json'}")
    return 0
