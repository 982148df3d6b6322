"""The labeling stage's ``labels/<labeler>.h5`` goes into the dataset (``--labels auto``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dataset_tools.build import BuildConfig, build_dataset
from dataset_tools.dataset import open_dataset
from dataset_tools.representations import RepresentationConfig
from labeling.labels_file import TakeLabels, labels_path, write_labels
from tests.dataset_tools.sim_takes import SimTakeFactory


def test_labeling_stage_labels_are_attached(
    sim_take_factory: SimTakeFactory, tmp_path: Path
) -> None:
    take = sim_take_factory("S", "S01_wave_001", frames=4, action="wave_one_hand")
    (take.path / "sim_ground_truth.npz").unlink()  # a real take: labels only from the labeler
    n = 3  # pulses 0..2 labelled; pulse 1 flagged (no subject)
    rng = np.random.default_rng(0)
    kp = np.concatenate([rng.uniform(0, 400, (n, 17, 2)), np.full((n, 17, 1), 0.9)], axis=-1)
    nan3 = np.full((n, 17, 3), np.nan, np.float32)
    labels = TakeLabels(
        trigger_index=np.arange(n, dtype=np.int64),
        frame_number=np.arange(n, dtype=np.int64),
        stamp_ns=np.arange(n, dtype=np.int64),
        flags=np.array([0, 1, 0], np.uint8),
        box=np.zeros((n, 4), np.float32),
        box_score=np.ones(n, np.float32),
        track_id=np.zeros(n, np.int32),
        num_candidates=np.ones(n, np.int16),
        keypoints_2d=kp.astype(np.float32),
        keypoints_2d_smooth=kp.astype(np.float32),
        valid_2d=np.ones((n, 17), bool),
        keypoints_3d_camera=nan3,
        keypoints_3d_camera_smooth=nan3,
        keypoints_3d_rig=nan3,
        keypoints_3d_rig_smooth=nan3,
        valid_3d=np.zeros((n, 17), bool),
        attrs={"labeler": "hrnet", "camera": "rgb", "skeleton": "coco17", "joint_names": []},
    )
    write_labels(labels_path(take.path, "hrnet"), labels)
    out = tmp_path / "d.zarr"
    build_dataset(
        BuildConfig(
            sessions=("S",),
            sessions_root=take.path.parent.parent,
            out=out,
            representations=RepresentationConfig(names=("rd",)),
            label_schemas=("coco17", "hupr14"),
            quiet=True,
        )
    )
    seq = open_dataset(out).sequence("S01_wave_001")
    coco = seq.labels("coco17")
    np.testing.assert_array_equal(coco["present"], [True, False, True, False])
    np.testing.assert_allclose(coco["keypoints_2d"][2], kp[2], rtol=1e-6)
    assert coco["source"] == "labeling:hrnet" and coco["image_size"] == (640, 480)
    assert np.isnan(coco["keypoints_3d"]).all()
    assert seq.labels("hupr14")["valid"][0].all()
    assert "labels/hrnet.h5" in seq.attrs["source"]["sha256"]
