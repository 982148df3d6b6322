"""mmpose HRNet-W32 and ViTPose-B built from their configs with random weights: batched top-down
inference on rendered frames, and the pipeline end to end on a rendered sequence. Skipped when
mmpose is not installed (scripts/install_mmpose.sh)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from numpy.typing import NDArray

from acquisition.geometry import Pose
from acquisition.sim.camera import PinholeCamera, RgbdRenderer, keypoints_2d
from acquisition.sim.person import PersonMotion
from labeling.config import LabelingConfig, PoseConfig
from labeling.geometry import box_to_center_scale

pytest.importorskip("mmpose")
pytestmark = pytest.mark.timeout(600)


def _rendered(n: int) -> tuple[list[NDArray[np.uint8]], NDArray[np.float64]]:
    cam = PinholeCamera(
        500.0, 500.0, 320.0, 240.0, 640, 480, Pose.from_xyz_rpy((0, 0, 1.1), (0, 0, 0))
    )
    renderer = RgbdRenderer(cam)
    joints = PersonMotion("wave_one_hand", seed=2).joints_at(np.arange(n) / 10.0)
    images = [renderer.render(j)[0] for j in joints]
    uv = np.stack([keypoints_2d(cam, j)[:17] for j in joints])
    boxes = np.concatenate([uv.min(axis=1) - 15, uv.max(axis=1) + 15], axis=1)
    return images, boxes


@pytest.mark.parametrize("model", ["hrnet_w32", "vitpose_b"])
def test_topdown_random_weights_batched(model: str) -> None:
    import torch

    from labeling.backends.mmpose_backend import MMPoseTopDown

    est = MMPoseTopDown(
        LabelingConfig(pose=PoseConfig(model=model, random_weights=True), device="cpu")
    )
    assert est.info.random_weights and est.info.versions["mmpose"].startswith("1.")
    images, boxes = _rendered(3)
    # Two boxes on the first image, one on the third: one forward pass for all.
    out = est.estimate(images, boxes[[0, 0, 2]], np.array([0, 0, 2]))
    assert out.shape == (3, 17, 3) and out.dtype == np.float32
    assert np.isfinite(out).all() and (out[..., 2] >= 0).all()
    np.testing.assert_allclose(out[0], out[1], rtol=1e-4, atol=1e-3)  # same crop, same answer
    # Every keypoint lies inside the padded crop of its box.
    center, size = box_to_center_scale(boxes[[0, 0, 2]], aspect_ratio=192 / 256, padding=1.25)
    assert np.all(np.abs(out[..., :2] - center[:, None]) <= size[:, None] / 2 + 1)

    # Degenerate heatmaps through the real network: finite keypoints with score 0, never NaN.
    final = est.net.head.final_layer
    with torch.no_grad():
        final.bias.fill_(-1e3)  # every heatmap negative: nothing found, argmax kept
        negative = est.estimate(images, boxes[[0, 2]], np.array([0, 2]))
        final.weight.fill_(float("nan"))  # non-finite heatmaps: the box centre
        broken = est.estimate(images, boxes[[0, 2]], np.array([0, 2]))
    for degenerate in (negative, broken):
        assert np.isfinite(degenerate).all() and (degenerate[..., 2] == 0).all()
        assert np.all(
            np.abs(degenerate[..., :2] - center[[0, 2], None]) <= size[[0, 2], None] / 2 + 1
        )
    np.testing.assert_allclose(
        broken[..., :2], np.repeat(center[[0, 2], None], 17, axis=1), atol=1e-3
    )


class _BoxDetector:
    from labeling.backends.base import ModelInfo

    info = ModelInfo("boxes", "test", "", None, None, False, "cpu")

    def __init__(self, boxes: NDArray[np.float64]) -> None:
        self.boxes = list(boxes)

    def detect(self, images: Sequence[NDArray[np.uint8]]) -> list[NDArray[np.float32]]:
        return [np.r_[self.boxes.pop(0), 0.9][None].astype(np.float32) for _ in images]


def test_hrnet_in_the_pipeline_batch() -> None:
    """Random HRNet behind the tracker in one pipeline batch: plumbing, shapes, track."""
    from labeling.pipeline import CameraFrame, CameraModel, TakeLabeler
    from labeling.tracking import SubjectTracker

    images, boxes = _rendered(4)
    config = LabelingConfig(pose=PoseConfig(model="hrnet_w32", random_weights=True), device="cpu")
    labeler = TakeLabeler(config, detector=_BoxDetector(boxes))
    cam = CameraModel("rgb", 500.0, 500.0, 320.0, 240.0, 640, 480, (), Pose())
    frames = [CameraFrame(i, i, i, True, im, None) for i, im in enumerate(images)]
    rows = labeler._label_batch(frames, SubjectTracker(config.tracking, (640, 480)), cam)
    assert len(rows) == 4
    assert all(r["keypoints_2d"].shape == (17, 3) for r in rows)
    assert all(np.isfinite(r["keypoints_2d"]).all() for r in rows)
    assert all(r["track_id"] == 0 for r in rows)
