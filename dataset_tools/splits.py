"""Dataset splits: never by shuffled frames (neighbouring frames leak), always by whole sequences.

* ``by_sequence``: ``train`` / ``val`` / ``test`` lists of sequence ids, a seeded shuffle of the
  sorted ids cut at the configured fractions (the same ids and seed always give the same split).
* ``by_subject``: subject pseudonym -> its sequences. Leave-one-person-out fold ``k`` tests on
  one subject and trains on all the others.
* ``by_scene``: scene -> its sequences (``"unknown"`` where a take names none).
* ``by_action``: action -> its sequences.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class SplitConfig:
    """Fractions of sequences in train / val / test and the shuffle seed (MAEPose uses 42)."""

    train: float = 0.8
    val: float = 0.1
    test: float = 0.1
    seed: int = 42

    def __post_init__(self) -> None:
        if (
            min(self.train, self.val, self.test) < 0
            or abs(self.train + self.val + self.test - 1) > 1e-6
        ):
            raise ValueError("split fractions must be >= 0 and sum to 1")


def split_by_sequence(ids: list[str], config: SplitConfig) -> dict[str, list[str]]:
    order = sorted(ids)
    rng = np.random.default_rng(config.seed)
    shuffled = [order[i] for i in rng.permutation(len(order))]
    n = len(shuffled)
    n_val = round(n * config.val)
    n_test = round(n * config.test)
    if n >= 3:  # small datasets still get one sequence in each non-empty fraction
        n_val = max(n_val, 1 if config.val > 0 else 0)
        n_test = max(n_test, 1 if config.test > 0 else 0)
    n_train = max(0, n - n_val - n_test)
    return {
        "train": sorted(shuffled[:n_train]),
        "val": sorted(shuffled[n_train : n_train + n_val]),
        "test": sorted(shuffled[n_train + n_val :]),
    }


def _group(seq_attrs: dict[str, dict[str, Any]], key: str) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for seq_id, attrs in sorted(seq_attrs.items()):
        groups.setdefault(str(attrs.get(key) or "unknown"), []).append(seq_id)
    return groups


def make_splits(
    seq_attrs: dict[str, dict[str, Any]], config: SplitConfig
) -> dict[str, dict[str, list[str]]]:
    """All split families for sequences with their attributes (subject, scene, action)."""
    return {
        "by_sequence": split_by_sequence(list(seq_attrs), config),
        "by_subject": _group(seq_attrs, "subject"),
        "by_scene": _group(seq_attrs, "scene"),
        "by_action": _group(seq_attrs, "action"),
    }


def lopo_folds(splits: dict[str, dict[str, list[str]]]) -> list[tuple[str, list[str], list[str]]]:
    """Leave-one-person-out folds: (held-out subject, train sequences, test sequences)."""
    by_subject = splits.get("by_subject", {})
    folds = []
    for subject in sorted(by_subject):
        test = by_subject[subject]
        train = sorted(s for other, seqs in by_subject.items() if other != subject for s in seqs)
        folds.append((subject, train, test))
    return folds
