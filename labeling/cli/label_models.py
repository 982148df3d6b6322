"""List, download and check the model weights labeling needs.

Examples::

    label-models list                                  # what each preset needs, and where
    label-models list --config labeling.yaml
    label-models download hrnet_w32 yolo11m            # on a machine with internet access
    label-models download --all --models-dir /data/models
    label-models check                                 # sha256 of every file present

Weights are never downloaded while labeling. The models folder is ``--models-dir``, else
``$RADAR_LABELING_MODELS``, else ``~/.cache/radar-sensing-toolkit/models``; copy it to machines
without internet access and point ``models_dir`` of the labeling config (or the environment
variable) at it. mmpose checkpoints are checked against the sha256 prefix in their published
file name; the sha256 of every download is recorded in ``models.lock.json`` and checked later.
Exit status 0 when every requested file is present and checks, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from labeling.config import PRESETS, LabelingConfig, load_config
from labeling.models import (
    MODEL_FILES,
    MissingWeights,
    WeightsMismatch,
    default_models_dir,
    download_model,
    verify_model,
)


def _needed(config: LabelingConfig | None) -> list[str]:
    configs = [config] if config is not None else list(PRESETS.values())
    names: list[str] = []
    for cfg in configs:
        for part in (cfg.detector, cfg.pose):
            if part.model in MODEL_FILES and part.model not in names:
                names.append(part.model)
    return names


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="label-models",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("action", choices=("list", "download", "check"))
    parser.add_argument("models", nargs="*", help="registry names (default: what is needed)")
    parser.add_argument("--config", type=Path, help="labeling config YAML")
    parser.add_argument("--models-dir", type=Path, help="models folder")
    parser.add_argument("--all", action="store_true", help="every known model")
    args = parser.parse_args(argv)

    config = load_config(args.config) if args.config else None
    models_dir = (
        args.models_dir
        or (config.resolved_models_dir() if config is not None else None)
        or default_models_dir()
    ).expanduser()
    names = list(MODEL_FILES) if args.all else (args.models or _needed(config))
    unknown = [n for n in names if n not in MODEL_FILES]
    if unknown:
        print(f"label-models: unknown models {unknown}; known: {sorted(MODEL_FILES)}")
        return 2

    ok = True
    for name in names:
        model = MODEL_FILES[name]
        path = models_dir / model.filename
        if args.action == "list":
            state = "present" if path.is_file() else "MISSING"
            print(f"{name:14s} {model.role:8s} {model.backend:11s} {state:8s} {path}")
            print(f"{'':14s} {model.description}; from {model.url}")
            ok &= path.is_file()
            continue
        if args.action == "download" and not path.is_file():
            print(f"downloading {name} from {model.url} ...", flush=True)
            try:
                download_model(model, models_dir)
            except (OSError, WeightsMismatch) as exc:
                print(f"  FAILED: {exc}")
                ok = False
                continue
        try:
            digest = verify_model(model, path)
            print(f"{name:14s} ok  sha256 {digest}  {path}")
        except (MissingWeights, WeightsMismatch) as exc:
            print(f"{name:14s} {exc}")
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
