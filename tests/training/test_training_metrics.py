"""Metrics on hand-made cases (exact answers) and against pycocotools when it is importable."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import math
from typing import Any

import numpy as np
import pytest

from training.metrics import (
    ImageKeypoints,
    keypoint_ap,
    lopo_folds,
    mpjpe,
    oks,
    pck,
    per_joint_ap,
    summarise_folds,
)
from training.metrics.folds import lopo_fold

# HuPR's sigmas, as REFERENCE.md gives them
HUPR_SIGMAS = (
    np.array([1.07, 0.87, 0.89, 1.07, 0.87, 0.89, 1.0, 1.0, 0.79, 0.72, 0.62, 0.79, 0.72, 0.62])
    / 10
)


def test_hupr_schema_sigmas_are_hupr_s() -> None:
    from labeling.skeletons import get_schema

    np.testing.assert_allclose(get_schema("hupr14").sigmas_array(), HUPR_SIGMAS)


def test_oks_exact_value() -> None:
    gt = np.zeros((1, 2, 2))
    det = np.array([[[3.0, 4.0], [0.0, 0.0]]])  # joint 0 off by 5 px
    sig = np.array([0.1, 0.1])
    o = oks(det, gt, np.ones((1, 2), bool), np.array([100.0]), sig)
    expected = (math.exp(-25 / (2 * 100 * 0.2**2)) + 1.0) / 2
    assert o[0, 0] == pytest.approx(expected)
    # an unlabelled joint does not count
    o2 = oks(det, gt, np.array([[False, True]]), np.array([100.0]), sig)
    assert o2[0, 0] == pytest.approx(1.0)


def test_ap_perfect_and_half() -> None:
    gt = np.random.default_rng(0).uniform(0, 100, (14, 2))
    vis = np.ones(14, bool)
    perfect = [ImageKeypoints.single(gt, vis, 1000.0, gt, 1.0) for _ in range(4)]
    assert keypoint_ap(perfect, HUPR_SIGMAS) == {"AP": 1.0, "AP50": 1.0, "AP75": 1.0}
    # two images exact (score 0.9), two far off (score 0.1): precision 1 up to recall 0.5
    far = gt + 500.0
    mixed = perfect[:2] + [ImageKeypoints.single(gt, vis, 1000.0, far, 0.1) for _ in range(2)]
    mixed = [
        ImageKeypoints.single(gt, vis, 1000.0, gt, 0.9),
        ImageKeypoints.single(gt, vis, 1000.0, gt, 0.9),
        *mixed[2:],
    ]
    res = keypoint_ap(mixed, HUPR_SIGMAS)
    assert res["AP"] == pytest.approx(51 / 101)  # recall points 0.00..0.50 have precision 1
    # the wrong detections ranked first instead: precision 2/4 at every reachable recall
    flipped = [ImageKeypoints.single(gt, vis, 1000.0, far, 0.9) for _ in range(2)] + [
        ImageKeypoints.single(gt, vis, 1000.0, gt, 0.1) for _ in range(2)
    ]
    assert keypoint_ap(flipped, HUPR_SIGMAS)["AP"] == pytest.approx(51 / 101 * 0.5)


def test_per_joint_ap_isolates_joints() -> None:
    gt = np.zeros((2, 2))
    det = np.array([[0.0, 0.0], [400.0, 0.0]])  # joint 0 exact, joint 1 far
    images = [ImageKeypoints.single(gt, [True, True], 100.0, det, 1.0)]
    res = per_joint_ap(images, [0.1, 0.1], ["a", "b"])
    assert res == {"a": 1.0, "b": 0.0}


def test_mpjpe_pck_exact() -> None:
    gt = np.zeros((2, 3, 3))
    pred = gt.copy()
    pred[0, 0] = [0.03, 0.04, 0.0]  # 5 cm
    pred[1, 2] = [0.0, 0.0, 0.2]  # 20 cm
    valid = np.array([[True, True, True], [True, True, False]])
    assert mpjpe(pred, gt, valid) == pytest.approx(0.05 / 5)
    assert pck(pred, gt, valid, 0.05) == pytest.approx(1.0)
    assert pck(pred, gt, np.ones((2, 3), bool), 0.049) == pytest.approx(4 / 6)
    # per-sample thresholds (e.g. fractions of each box diagonal)
    assert pck(pred, gt, np.ones((2, 3), bool), np.array([0.01, 1.0])) == pytest.approx(5 / 6)
    assert math.isnan(mpjpe(pred, gt, np.zeros((2, 3), bool)))


def test_lopo_folds_never_leak() -> None:
    by_subject = {f"S{i}": [f"S{i}_a", f"S{i}_b", f"S{i}_c"] for i in range(1, 5)}
    folds = lopo_folds(by_subject)
    assert [f.held_out for f in folds] == ["S1", "S2", "S3", "S4"]
    for f in folds:
        assert f.held_out is not None
        assert set(f.test) == set(by_subject[f.held_out])
        assert not any(q.startswith(f.held_out + "_") for q in f.train + f.val)
        assert len(f.val) == 1 and len(f.train) == 8
    assert lopo_fold(by_subject, "S2") == folds[1]  # seeded
    summary = summarise_folds({"a": {"AP": 0.5}, "b": {"AP": 0.7}})
    assert summary["AP"]["mean"] == pytest.approx(0.6)
    assert summary["AP"]["std"] == pytest.approx(math.sqrt(0.02))


def _random_case(seed: int) -> list[ImageKeypoints]:
    rng = np.random.default_rng(seed)
    images = []
    for i in range(12):
        g = int(rng.integers(0, 3))
        d = int(rng.integers(0, 4))
        gt = rng.uniform(0, 200, (g, 14, 2))
        vis = rng.random((g, 14)) < 0.8
        if g and i % 5 == 0:
            vis[0] = False  # a gt without labelled joints (ignored)
        area = rng.uniform(500, 5000, g)
        base = gt[rng.integers(0, g, d)] if g else rng.uniform(0, 200, (d, 14, 2))
        det = base + rng.normal(0, rng.uniform(1, 15), (d, 14, 2))
        images.append(ImageKeypoints(gt, vis, area, det, rng.random(d)))
    return images


@pytest.mark.skipif(
    importlib.util.find_spec("pycocotools") is None, reason="pycocotools not installed"
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ap_matches_pycocotools(seed: int) -> None:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images = _random_case(seed)
    gts: list[dict[str, Any]] = []
    dets: list[dict[str, Any]] = []
    for i, im in enumerate(images):
        for g in range(im.gt.shape[0]):
            kp = np.concatenate([im.gt[g], 2.0 * im.gt_visible[g][:, None]], axis=1)
            gts.append(
                {
                    "id": len(gts) + 1,
                    "image_id": i,
                    "category_id": 1,
                    "iscrowd": 0,
                    "area": float(im.gt_area[g]),
                    "bbox": [0.0, 0.0, 10.0, 10.0],
                    "keypoints": kp.ravel().tolist(),
                    "num_keypoints": int(im.gt_visible[g].sum()),
                }
            )
        for d in range(im.det.shape[0]):
            kp = np.concatenate([im.det[d], np.ones((14, 1))], axis=1)
            dets.append(
                {
                    "image_id": i,
                    "category_id": 1,
                    "keypoints": kp.ravel().tolist(),
                    "score": float(im.det_score[d]),
                }
            )
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = {
            "images": [{"id": i} for i in range(len(images))],
            "annotations": gts,
            "categories": [{"id": 1, "name": "person"}],
        }
        coco.createIndex()
        ev = COCOeval(coco, coco.loadRes(dets), "keypoints")
        ev.params.kpt_oks_sigmas = HUPR_SIGMAS
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    ours = keypoint_ap(images, HUPR_SIGMAS)
    assert ours["AP"] == pytest.approx(ev.stats[0], abs=1e-9)
    assert ours["AP50"] == pytest.approx(ev.stats[1], abs=1e-9)
    assert ours["AP75"] == pytest.approx(ev.stats[2], abs=1e-9)
