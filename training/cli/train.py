"""Train a radar pose model on a built dataset.

Examples::

    train --model hupr --dataset data/hupr.zarr
    train --model millimamba --dataset data/lab.zarr --fold lopo:S03 --out runs/mm_S03
    train --model hupr --dataset data/lab.zarr --config my_hupr.yaml --set optim.lr=3e-4
    train --model hupr --dataset data/lab.zarr --resume runs/hupr/checkpoints/last.pt
    torchrun --nproc_per_node 4 -m training.cli.train --model hupr --dataset data/lab.zarr
    train --model maepose-pretrain --dataset data/lab.zarr --fold lopo:S03 --out runs/mae_pre_S03
    train --model maepose --dataset data/lab.zarr --fold lopo:S03 \
          --init runs/mae_pre_S03/checkpoints/best.pt --out runs/mae_S03   # or --from-scratch
    train --model hupr --dataset "sim:subjects=3,actions=squat,frames=32" \
          --set data.doppler_bins=null optim.epochs=2           # simulated, in memory

``--config`` defaults to the paper config ``training/configs/<model>.yaml``; ``--set`` overrides
any key. Writes ``OUT/checkpoints/{last,best}.pt``, ``OUT/train.csv``, ``OUT/epochs.csv``,
``OUT/config.yaml`` and, after training, ``OUT/eval_test.json`` (best checkpoint on the fold's
test sequences).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="train",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    p.add_argument("--model", required=True, help="hupr | millimamba | maepose-pretrain | maepose")
    p.add_argument("--dataset", required=True, help="built dataset (.zarr dir / .h5) or sim:...")
    p.add_argument("--config", help="YAML run config (default: the model's paper config)")
    p.add_argument(
        "--fold",
        default="by_sequence",
        help="by_sequence (the dataset's split), lopo:<subject> or a subject id",
    )
    p.add_argument("--out", help="run directory (default runs/<model>_<fold>)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides")
    p.add_argument("--resume", help="checkpoint to continue from (e.g. OUT/checkpoints/last.pt)")
    p.add_argument("--device", help="cpu | cuda | cuda:N (overrides trainer.device)")
    p.add_argument("--epochs", type=int, help="overrides optim.epochs")
    p.add_argument("--no-test", action="store_true", help="skip the final test evaluation")
    p.add_argument(
        "--init", metavar="PRETRAINED", help="maepose: stage-1 checkpoint initialising the encoder"
    )
    p.add_argument(
        "--from-scratch",
        action="store_true",
        help="maepose: random encoder initialisation (the no-pre-training ablation)",
    )
    p.add_argument(
        "--base",
        metavar="PREDICTIONS",
        help="mmjoints: base-model predictions (.npz, 3-D or 2-D) or 'baseline' (default)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.model in ("mmjoints", "mission"):  # own configs and loops: training/mmjoints/cli.py
        from training.mmjoints.cli import run_own_model

        return run_own_model(args)
    from training.config import ConfigError, load_config, parse_overrides

    try:
        overrides = parse_overrides(args.set)
        if args.device:
            overrides.append(("trainer.device", args.device))
        if args.epochs:
            overrides.append(("optim.epochs", args.epochs))
        cfg = load_config(args.config, model=args.model, overrides=overrides)
    except ConfigError as exc:
        print(f"train: config error: {exc}", file=sys.stderr)
        return 2
    maepose = cfg.model.name in ("maepose-pretrain", "maepose")
    if (args.init or args.from_scratch) and cfg.model.name != "maepose":
        print("train: --init / --from-scratch apply to --model maepose", file=sys.stderr)
        return 2
    if cfg.model.name == "maepose" and not args.resume and bool(args.init) == args.from_scratch:
        print(
            "train: maepose needs exactly one of --init PRETRAINED, --from-scratch", file=sys.stderr
        )
        return 2

    from training.data.source import open_training_dataset
    from training.metrics.folds import resolve_fold
    from training.trainer import Trainer

    source = open_training_dataset(args.dataset)
    fold = resolve_fold(source, args.fold)
    out = Path(args.out or f"runs/{args.model}_{fold.name}")
    if maepose:
        from training.maepose.trainer import MaeposeTrainer

        trainer: Trainer = MaeposeTrainer(
            cfg, source, fold, out, resume=args.resume, init=args.init
        )
    else:
        trainer = Trainer(cfg, source, fold, out, resume=args.resume)
    if trainer.dist.is_main:
        (out / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    state = trainer.fit()
    if not trainer.dist.is_main:
        return 0
    print(f"best {state.best_metric} {state.best_value:.4g} at epoch {state.best_epoch}")
    if maepose and fold.test and not args.no_test:
        if cfg.model.name != "maepose":
            return 0  # stage 1 has no pose to test
        from training.maepose.evaluate import main as maepose_evaluate

        best = str(out / "checkpoints" / "best.pt")
        return maepose_evaluate(
            ["--checkpoint", best, "--dataset", args.dataset, "--out", str(out / "eval_test.json")]
            + (["--device", args.device] if args.device else []),
            source=source,
        )
    if fold.test and not args.no_test:
        from training.cli.evaluate import main as evaluate_main

        return evaluate_main(
            [
                "--checkpoint",
                str(out / "checkpoints" / "best.pt"),
                "--dataset",
                args.dataset,
                "--split",
                "test",
                "--out",
                str(out / "eval_test.json"),
                "--baseline",
                *(["--device", args.device] if args.device else []),
            ],
            source=source,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
