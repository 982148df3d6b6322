"""Splits for training: named dataset splits and leave-one-person-out (LOPO) folds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # training.data imports torch; the metrics stay numpy-only
    from training.data.protocols import DatasetSource

LOPO_SEED = 42  # MAEPose's split seed


@dataclass(frozen=True)
class Fold:
    """One train / val / test assignment of sequence ids.

    Attributes:
        name: ``by_sequence`` or ``lopo-<subject>``.
        held_out: the left-out subject (LOPO), else None.
    """

    name: str
    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]
    held_out: str | None = None

    def check_disjoint(self) -> None:
        """Raises when a sequence is in two parts."""
        parts = [set(self.train), set(self.val), set(self.test)]
        for i in range(3):
            for j in range(i + 1, 3):
                if parts[i] & parts[j]:
                    raise ValueError(f"fold {self.name}: sequences in two parts")


def subjects_of(ds: DatasetSource) -> dict[str, list[str]]:
    """Subject -> sequence ids, from ``splits["by_subject"]`` or the sequences' attributes."""
    by_subject = ds.splits.get("by_subject")
    if by_subject:
        return {s: list(q) for s, q in by_subject.items()}
    out: dict[str, list[str]] = {}
    for seq_id in ds.sequence_ids:
        out.setdefault(str(ds.sequence(seq_id).attrs.get("subject", "unknown")), []).append(seq_id)
    return out


def lopo_fold(
    by_subject: Mapping[str, Sequence[str]],
    held_out: str,
    *,
    val_fraction: float = 0.1,
    seed: int = LOPO_SEED,
) -> Fold:
    """Leave ``held_out`` out: its sequences are the test set; of the other subjects' sequences
    a seeded random ``val_fraction`` (at least one when there are two or more) is validation."""
    if held_out not in by_subject:
        raise KeyError(f"no subject {held_out!r}; subjects: {sorted(by_subject)}")
    rest = sorted(q for s, seqs in by_subject.items() if s != held_out for q in seqs)
    n_val = round(val_fraction * len(rest))
    if len(rest) >= 2:
        n_val = max(1, n_val)
    rng = np.random.default_rng(seed)
    val = sorted(rng.choice(rest, size=n_val, replace=False).tolist()) if n_val else []
    train = [q for q in rest if q not in val]
    fold = Fold(
        f"lopo-{held_out}",
        tuple(train),
        tuple(val),
        tuple(sorted(by_subject[held_out])),
        held_out,
    )
    fold.check_disjoint()
    return fold


def lopo_folds(
    by_subject: Mapping[str, Sequence[str]], *, val_fraction: float = 0.1, seed: int = LOPO_SEED
) -> list[Fold]:
    """Every LOPO fold, subjects in sorted order."""
    return [
        lopo_fold(by_subject, s, val_fraction=val_fraction, seed=seed) for s in sorted(by_subject)
    ]


def resolve_fold(ds: DatasetSource, spec: str = "by_sequence") -> Fold:
    """``by_sequence`` (or any split name of the dataset with train/val/test parts),
    ``lopo:<subject>`` or a bare subject id."""
    if spec in ds.splits and "train" in ds.splits[spec]:
        parts = ds.splits[spec]
        fold = Fold(
            spec,
            tuple(parts.get("train", [])),
            tuple(parts.get("val", [])),
            tuple(parts.get("test", [])),
        )
        fold.check_disjoint()
        return fold
    subject = spec.removeprefix("lopo:")
    return lopo_fold(subjects_of(ds), subject)


def summarise_folds(results: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """Per-metric mean and sample std over folds: {metric: {"mean", "std", "n"}}."""
    metrics = sorted({m for r in results.values() for m in r})
    out: dict[str, dict[str, float]] = {}
    for m in metrics:
        vals = np.array([r[m] for r in results.values() if m in r], dtype=float)
        out[m] = {
            "mean": float(vals.mean()),
            "std": float(vals.std(ddof=1)) if vals.size > 1 else 0.0,
            "n": float(vals.size),
        }
    return out
