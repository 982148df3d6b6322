"""Paired statistics over LOPO folds, as MAEPose compares models: a Friedman test over all
models (three or more), then pairwise paired tests with a Bonferroni correction.

Each pair uses the paired t-test when the fold differences look normal (Shapiro-Wilk p above
``normality_alpha``, which needs three or more folds), otherwise the Wilcoxon signed-rank test.
With few folds the Wilcoxon test cannot reach small p-values (4 folds: p >= 0.125 two-sided);
the report says which test ran.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import stats


def paired_test(a: list[float], b: list[float], *, normality_alpha: float = 0.05) -> dict[str, Any]:
    """Paired comparison of two models' per-fold values (same fold order).

    Returns:
        ``test`` (``t`` or ``wilcoxon``), ``statistic``, ``p``, ``mean_difference`` (a - b),
        ``normality_p`` (NaN when not testable).
    """
    x, y = np.asarray(a, float), np.asarray(b, float)
    d = x - y
    normality_p = math.nan
    use_t = d.size >= 3
    if d.size >= 3 and np.ptp(d) > 0:
        normality_p = float(stats.shapiro(d).pvalue)
        use_t = normality_p > normality_alpha
    if np.all(d == 0):
        return {
            "test": "none (identical)",
            "statistic": 0.0,
            "p": 1.0,
            "mean_difference": 0.0,
            "normality_p": normality_p,
        }
    if use_t:
        res = stats.ttest_rel(x, y)
        name = "t"
    else:
        res = stats.wilcoxon(x, y)
        name = "wilcoxon"
    return {
        "test": name,
        "statistic": float(res.statistic),
        "p": float(res.pvalue),
        "mean_difference": float(d.mean()),
        "normality_p": normality_p,
    }


def compare_models(
    per_fold: Mapping[str, Mapping[str, float]], *, normality_alpha: float = 0.05
) -> dict[str, Any]:
    """Friedman then Bonferroni-corrected pairwise paired tests.

    Args:
        per_fold: model -> fold -> metric value. Only folds every model has are used.

    Returns:
        ``folds`` (used), ``friedman`` ({statistic, p} with 3+ models, else None),
        ``pairs`` ({"a vs b": paired_test result + ``p_bonferroni``}).
    """
    models = list(per_fold)
    if len(models) < 2:
        raise ValueError("compare at least two models")
    folds = sorted(set.intersection(*(set(per_fold[m]) for m in models)))
    if len(folds) < 2:
        raise ValueError(f"need two or more common folds, got {folds}")
    values = {m: [float(per_fold[m][f]) for f in folds] for m in models}
    friedman = None
    if len(models) >= 3:
        res = stats.friedmanchisquare(*values.values())
        friedman = {"statistic": float(res.statistic), "p": float(res.pvalue)}
    pairs: dict[str, dict[str, Any]] = {}
    combos = list(itertools.combinations(models, 2))
    for a, b in combos:
        r = paired_test(values[a], values[b], normality_alpha=normality_alpha)
        r["p_bonferroni"] = min(1.0, r["p"] * len(combos))
        pairs[f"{a} vs {b}"] = r
    return {"folds": folds, "friedman": friedman, "pairs": pairs}
