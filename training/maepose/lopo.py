"""MAEPose's leave-one-person-out (LOPO) protocol: both stages per held-out subject.

Examples::

    python -m training.maepose.lopo run --dataset data/lab.zarr --out runs/mae_lopo
    python -m training.maepose.lopo run --dataset data/lab.zarr --out runs/mae_lopo \
        --subjects S01 S02 --variants pretrained scratch --device cuda \
        --set-pretrain optim.epochs=50 --set optim.epochs=50
    python -m training.maepose.lopo compare --metric mpjpe_m \
        rd=runs/mae_lopo/lopo_summary.json dual=runs/mae_dual/lopo_summary.json

``run``: for every subject S (sorted; or ``--subjects``), the fold ``lopo-S`` (split seed 42:
S's takes are the test set; of the other takes a seeded 10 % is validation) is checked for
leaks (no train / val take of S, by the takes' own ``subject`` attribute), stage 1 pre-trains on
the train + val takes of the other subjects (labelled or not; val for selection), and each
variant fine-tunes stage 2 (``pretrained``: from the stage-1 encoder, ``scratch``: random
init) on their labelled takes; the best checkpoint is tested on S with the mean-pose baseline.
Writes ``OUT/<fold>/{pretrain,<variant>}/`` runs and ``OUT/lopo_summary.json``: per-fold and
mean +- std MPJPE (m), PCK@5 cm and normalised MPJPE of every variant and of the mean pose, and
the paired statistics (Friedman, then Bonferroni-corrected paired t / Wilcoxon) over folds.

``compare``: the same statistics between variants of several summaries (``NAME=PATH`` or
``NAME=PATH:VARIANT``; default variant ``pretrained``).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from training.config import RunConfig
from training.data.protocols import DatasetSource
from training.metrics.folds import LOPO_SEED, Fold, lopo_fold, subjects_of, summarise_folds

VARIANTS = ("pretrained", "scratch")
SUMMARY_METRICS = ("mpjpe_m", "pck@5cm", "mpjpe_norm", "mpjpe_px")


class FoldLeakError(AssertionError):
    """A fold's train or val part holds a take of its held-out subject."""


def check_no_leak(source: DatasetSource, fold: Fold) -> None:
    """Raise :class:`FoldLeakError` when a train / val take of ``fold`` belongs to its held-out
    subject (by the take's own ``subject`` attribute) or a test take does not."""
    if fold.held_out is None:
        raise ValueError(f"fold {fold.name} is not a LOPO fold")
    fold.check_disjoint()
    for part in ("train", "val"):
        for seq_id in getattr(fold, part):
            if str(source.sequence(seq_id).attrs.get("subject")) == fold.held_out:
                raise FoldLeakError(f"{fold.name}: {part} take {seq_id} is of {fold.held_out}")
    for seq_id in fold.test:
        if str(source.sequence(seq_id).attrs.get("subject")) != fold.held_out:
            raise FoldLeakError(f"{fold.name}: test take {seq_id} is not of {fold.held_out}")


def pretrain_fold(fold: Fold) -> Fold:
    """Stage 1's part of a LOPO fold: the same train / val takes, no test (never the
    held-out subject)."""
    return Fold(f"{fold.name}-pretrain", fold.train, fold.val, (), fold.held_out)


def _finite(report: dict[str, Any]) -> dict[str, float]:
    out = {}
    for k in SUMMARY_METRICS:
        v = report.get(k)
        if isinstance(v, int | float) and math.isfinite(v):
            out[k] = float(v)
    return out


def run_lopo(
    pretrain_cfg: RunConfig,
    finetune_cfg: RunConfig,
    source: DatasetSource,
    out: str | Path,
    *,
    subjects: Sequence[str] | None = None,
    variants: Sequence[str] = VARIANTS,
    seed: int = LOPO_SEED,
    log_stream: Any = None,
) -> dict[str, Any]:
    """Run the protocol (module docstring) and return (and write) the summary."""
    from training.maepose.evaluate import evaluate_checkpoint
    from training.maepose.stats import compare_models
    from training.maepose.trainer import MaeposeTrainer

    unknown = set(variants) - set(VARIANTS)
    if unknown:
        raise ValueError(f"unknown variants {sorted(unknown)}; known: {VARIANTS}")
    out = Path(out)
    by_subject = subjects_of(source)
    chosen = sorted(subjects) if subjects else sorted(by_subject)
    per_fold: dict[str, dict[str, dict[str, float]]] = {v: {} for v in [*variants, "mean-pose"]}
    for subject in chosen:
        fold = lopo_fold(by_subject, subject, seed=seed)
        check_no_leak(source, fold)
        fold_dir = out / fold.name
        init = None
        if "pretrained" in variants:
            pre = MaeposeTrainer(
                pretrain_cfg,
                source,
                pretrain_fold(fold),
                fold_dir / "pretrain",
                log_stream=log_stream,
            )
            pre.fit()
            init = fold_dir / "pretrain" / "checkpoints" / "best.pt"
        for variant in variants:
            run_dir = fold_dir / variant
            trainer = MaeposeTrainer(
                finetune_cfg,
                source,
                fold,
                run_dir,
                init=init if variant == "pretrained" else None,
                log_stream=log_stream,
            )
            trainer.fit()
            result = evaluate_checkpoint(
                run_dir / "checkpoints" / "best.pt",
                source,
                split="test",
                device=finetune_cfg.trainer.device,
                baseline=True,
            )
            (run_dir / "eval_test.json").write_text(json.dumps(result, indent=2, default=str))
            per_fold[variant][fold.name] = _finite(result["reports"][finetune_cfg.model.name])
            per_fold["mean-pose"][fold.name] = _finite(result["reports"]["mean-pose"])
    summary: dict[str, Any] = {
        "split_seed": seed,
        "subjects": chosen,
        "per_fold": per_fold,
        "mean_std": {v: summarise_folds(r) for v, r in per_fold.items() if r},
        "statistics": {},
    }
    if len(chosen) >= 2:
        for metric in ("mpjpe_m", "pck@5cm"):
            values = {
                v: {f: r[metric] for f, r in folds.items() if metric in r}
                for v, folds in per_fold.items()
            }
            values = {v: x for v, x in values.items() if len(x) >= 2}
            if len(values) >= 2:
                summary["statistics"][metric] = compare_models(values)
    out.mkdir(parents=True, exist_ok=True)
    (out / "lopo_summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def format_summary(summary: dict[str, Any]) -> str:
    """Per-fold and mean +- std table of MPJPE (m) and PCK@5 cm, then the statistics."""
    lines = []
    for variant, folds in summary["per_fold"].items():
        for fold, r in sorted(folds.items()):
            lines.append(
                f"{variant:<11} {fold:<12} MPJPE {r.get('mpjpe_m', math.nan):.4f} m  "
                f"PCK@5cm {r.get('pck@5cm', math.nan):5.1f} %"
            )
        ms = summary["mean_std"].get(variant, {})
        if "mpjpe_m" in ms:
            lines.append(
                f"{variant:<11} {'mean+-std':<12} MPJPE {ms['mpjpe_m']['mean']:.4f} +- "
                f"{ms['mpjpe_m']['std']:.4f} m  PCK@5cm {ms['pck@5cm']['mean']:5.1f} +- "
                f"{ms['pck@5cm']['std']:.1f} %"
            )
    for metric, st in summary.get("statistics", {}).items():
        fr = st.get("friedman")
        if fr:
            lines.append(f"{metric}: Friedman chi2 {fr['statistic']:.3f} p {fr['p']:.4f}")
        for pair, r in st["pairs"].items():
            lines.append(
                f"{metric}: {pair}: {r['test']} p {r['p']:.4f} "
                f"(Bonferroni {r['p_bonferroni']:.4f}), mean diff {r['mean_difference']:.4g}"
            )
    return "\n".join(lines)


def compare_summaries(entries: Sequence[str], metric: str = "mpjpe_m") -> dict[str, Any]:
    """``NAME=PATH[:VARIANT]`` summaries -> :func:`training.maepose.stats.compare_models`."""
    from training.maepose.stats import compare_models

    values: dict[str, dict[str, float]] = {}
    for entry in entries:
        name, sep, rest = entry.partition("=")
        if not sep:
            raise ValueError(f"{entry!r}: expected NAME=PATH[:VARIANT]")
        path, _, variant = rest.partition(":")
        summary = json.loads(Path(path).read_text())
        folds = summary["per_fold"][variant or "pretrained"]
        values[name] = {f: r[metric] for f, r in folds.items() if metric in r}
    return compare_models(values)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m training.maepose.lopo",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the protocol")
    run.add_argument("--dataset", required=True)
    run.add_argument("--out", required=True)
    run.add_argument("--subjects", nargs="*", help="held-out subjects (default: all)")
    run.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=VARIANTS)
    run.add_argument("--pretrain-config", help="stage-1 YAML (default maepose-pretrain.yaml)")
    run.add_argument("--config", help="stage-2 YAML (default maepose.yaml)")
    run.add_argument("--set-pretrain", nargs="*", default=[], metavar="KEY=VALUE")
    run.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE")
    run.add_argument("--set-both", nargs="*", default=[], metavar="KEY=VALUE")
    run.add_argument("--device", help="cpu | cuda | cuda:N")
    cmp = sub.add_parser("compare", help="paired statistics between summaries")
    cmp.add_argument("entries", nargs="+", metavar="NAME=PATH[:VARIANT]")
    cmp.add_argument("--metric", default="mpjpe_m")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "compare":
        print(json.dumps(compare_summaries(args.entries, args.metric), indent=2))
        return 0
    from training.config import ConfigError, load_config, parse_overrides
    from training.data.source import open_training_dataset

    try:
        both = parse_overrides(args.set_both)
        if args.device:
            both.append(("trainer.device", args.device))
        pre_cfg = load_config(
            args.pretrain_config,
            model="maepose-pretrain",
            overrides=both + parse_overrides(args.set_pretrain),
        )
        ft_cfg = load_config(
            args.config, model="maepose", overrides=both + parse_overrides(args.set)
        )
    except ConfigError as exc:
        print(f"lopo: config error: {exc}", file=sys.stderr)
        return 2
    source = open_training_dataset(args.dataset)
    summary = run_lopo(
        pre_cfg, ft_cfg, source, args.out, subjects=args.subjects, variants=args.variants
    )
    print(format_summary(summary))
    print(f"summary: {Path(args.out) / 'lopo_summary.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
