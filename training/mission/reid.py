"""Re-identification metrics (numpy): CMC and mAP over a query x gallery distance matrix, and
the gallery-size sweep."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray


def cmc_map(
    dist: ArrayLike,
    query_ids: ArrayLike,
    gallery_ids: ArrayLike,
    *,
    valid: ArrayLike | None = None,
    top_k: int = 10,
) -> tuple[NDArray[np.float64], float, int]:
    """CMC curve and mean average precision.

    Args:
        dist: (Q, G) distances (smaller = more similar).
        query_ids, gallery_ids: (Q,), (G,) identities.
        valid: optional (Q, G) bool: gallery entries allowed for each query (e.g. not from the
            query's own take).
        top_k: length of the CMC curve.

    Returns:
        (cmc (top_k,) fractions: cmc[k-1] = share of queries with a correct match within the
        first k), mAP, number of queries evaluated (those with at least one correct match).
    """
    d = np.asarray(dist, np.float64)
    q_ids, g_ids = np.asarray(query_ids), np.asarray(gallery_ids)
    allowed = np.ones_like(d, bool) if valid is None else np.asarray(valid, bool)
    cmc = np.zeros(top_k)
    aps = []
    for q in range(d.shape[0]):
        cols = np.flatnonzero(allowed[q])
        order = cols[np.argsort(d[q, cols], kind="stable")]
        hits = g_ids[order] == q_ids[q]
        if not hits.any():
            continue
        first = int(np.argmax(hits))
        if first < top_k:
            cmc[first:] += 1
        ranks = np.flatnonzero(hits) + 1
        aps.append(float((np.arange(1, len(ranks) + 1) / ranks).mean()))
    n = len(aps)
    if n == 0:
        return np.full(top_k, np.nan), float("nan"), 0
    return cmc / n, float(np.mean(aps)), n


def gallery_size_sweep(
    dist: ArrayLike,
    query_ids: ArrayLike,
    gallery_ids: ArrayLike,
    sizes: Sequence[int],
    *,
    valid: ArrayLike | None = None,
    repeats: int = 10,
    seed: int = 0,
) -> dict[int, dict[str, float]]:
    """Top-1 / top-5 / mAP when the gallery holds only ``size`` identities (the query's own plus
    random others, ``repeats`` draws per query)."""
    d = np.asarray(dist, np.float64)
    q_ids, g_ids = np.asarray(query_ids), np.asarray(gallery_ids)
    base = np.ones_like(d, bool) if valid is None else np.asarray(valid, bool)
    identities = np.unique(g_ids)
    rng = np.random.default_rng(seed)
    out: dict[int, dict[str, float]] = {}
    for size in sorted({min(int(s), len(identities)) for s in sizes if s >= 1}):
        top1, top5, maps = [], [], []
        for _ in range(repeats):
            mask = base.copy()
            for q in range(d.shape[0]):
                others = identities[identities != q_ids[q]]
                keep = np.concatenate([[q_ids[q]], rng.permutation(others)[: size - 1]])
                mask[q] &= np.isin(g_ids, keep)
            cmc, m, n = cmc_map(d, q_ids, g_ids, valid=mask, top_k=5)
            if n:
                top1.append(cmc[0])
                top5.append(cmc[4])
                maps.append(m)
        out[size] = {
            "top1_%": 100.0 * float(np.mean(top1)) if top1 else float("nan"),
            "top5_%": 100.0 * float(np.mean(top5)) if top5 else float("nan"),
            "mAP_%": 100.0 * float(np.mean(maps)) if maps else float("nan"),
            "chance_top1_%": 100.0 / size,
        }
    return out


def random_ranking_chance(
    query_ids: ArrayLike,
    gallery_ids: ArrayLike,
    *,
    valid: ArrayLike | None = None,
    repeats: int = 20,
    seed: int = 0,
) -> dict[str, float]:
    """Chance levels of :func:`cmc_map` on this query x gallery set: the mean top-1 / top-5 / mAP
    (%) of ``repeats`` random distance matrices (clip-level CMC: with many gallery clips per
    identity, chance top-k is not k times chance top-1)."""
    q_ids, g_ids = np.asarray(query_ids), np.asarray(gallery_ids)
    rng = np.random.default_rng(seed)
    top1, top5, maps = [], [], []
    for _ in range(repeats):
        cmc, m, n = cmc_map(rng.random((len(q_ids), len(g_ids))), q_ids, g_ids, valid=valid)
        if n:
            top1.append(cmc[0])
            top5.append(cmc[4])
            maps.append(m)
    if not top1:
        return {"top1_%": float("nan"), "top5_%": float("nan"), "mAP_%": float("nan")}
    return {
        "top1_%": 100.0 * float(np.mean(top1)),
        "top5_%": 100.0 * float(np.mean(top5)),
        "mAP_%": 100.0 * float(np.mean(maps)),
    }
