"""On a recorded simulated take (RGB-D camera, subject facing the rig): the geometry reproduces
the simulator's ground truth, and the whole pipeline runs end to end (random-weight YOLO models,
and an oracle detector/pose pair with a synthetic bystander for the 3-D path)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import yaml
from numpy.typing import NDArray

from acquisition.recording import TakeReader
from labeling.backends.base import ModelInfo
from labeling.cli import label_session
from labeling.config import DetectorConfig, LabelingConfig, PoseConfig
from labeling.geometry import lift_keypoints, optical_to_rig, radar_bins
from labeling.labels_file import read_labels
from labeling.pipeline import TakeLabeler, camera_model, iter_camera_frames
from labeling.skeletons import HUPR14, convert
from labeling.tracking import FLAG_MULTIPLE_CANDIDATES, FLAG_NO_SUBJECT
from tests.conftest import REPO_ROOT, SENSOR_CONFIGS

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def take(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("labeling_sim")
    rig = yaml.safe_load((SENSOR_CONFIGS / "rigs" / "dual_radar_sim.yaml").read_text())
    for radar in rig["radars"]:
        radar["cfg"] = str((SENSOR_CONFIGS / "rigs" / radar["cfg"]).resolve())
    rig["cameras"][0]["depth"] = True
    rig["simulation"]["subject"].update(action="wave_one_hand", position=[2.8, 0.0])
    rig_path = root / "rig.yaml"
    rig_path.write_text(yaml.safe_dump(rig))
    subprocess.run(
        [sys.executable, "-m", "acquisition.cli.acq_record", "--rig", str(rig_path),
         "--session", "L", "--subject", "S01", "--action", "wave_one_hand",
         "--duration", "3", "--sessions-root", str(root / "sessions"), "--quiet"],
        check=True, cwd=REPO_ROOT, timeout=300,
    )  # fmt: skip
    (take_dir,) = sorted((root / "sessions" / "L").iterdir())
    return take_dir


def _truth(take: Path) -> dict[str, NDArray[np.float64]]:
    with np.load(take / "sim_ground_truth.npz") as gt:
        return {k: np.asarray(gt[k]) for k in gt.files}


def _visible(depth_m: NDArray[np.floating], uv: NDArray[np.float64], z_true: NDArray[np.float64]):  # type: ignore[no-untyped-def]
    """Joints with no surface more than 15 cm in front of them (not self-occluded)."""
    h, w = depth_m.shape
    cols = np.clip(np.floor(uv[:, 0]).astype(int), 0, w - 1)
    rows = np.clip(np.floor(uv[:, 1]).astype(int), 0, h - 1)
    return depth_m[rows, cols] > z_true - 0.15


def test_lifting_true_keypoints_recovers_true_joints(take: Path) -> None:
    reader = TakeReader(take)
    cam = camera_model(reader, "rgb")
    gt = _truth(take)
    row_of = {int(t): i for i, t in enumerate(gt["trigger_index"])}
    errors, n_visible, n_total = [], 0, 0
    for frame in iter_camera_frames(reader, "rgb"):
        assert frame.depth is not None and frame.trigger_index in row_of
        i = row_of[frame.trigger_index]
        joints = gt["joints_rig"][i, :17]
        uv = gt["keypoints_2d__rgb"][i, :17]
        z_true = cam.pose.rig_to_optical(joints)[:, 2]
        visible = _visible(frame.depth * 0.001, uv, z_true)
        points, valid = lift_keypoints(
            uv, frame.depth, fx=cam.fx, fy=cam.fy, cx=cam.cx, cy=cam.cy, depth_scale=0.001,
            surface_offset_m=LabelingConfig().lifting.surface_offset_m,
        )  # fmt: skip
        rig = optical_to_rig(points, cam.pose)
        ok = visible & valid
        errors.append(np.linalg.norm(rig[ok] - joints[ok], axis=1))
        n_visible += int(visible.sum())
        n_total += visible.size
        assert np.all(np.abs(points[ok, 2] - z_true[ok]) < 0.08)
    err = np.concatenate(errors)
    assert n_visible > 0.8 * n_total  # facing the rig: most joints are visible
    assert err.size > 0.95 * n_visible  # and get a depth
    assert np.median(err) < 0.03
    assert np.percentile(err, 95) < 0.06


def test_hupr_from_sim_joints_and_radar_bins_of_the_truth(take: Path) -> None:
    gt = _truth(take)
    reader = TakeReader(take)
    hupr, valid = convert(gt["joints_rig"], "sim20", "hupr14")
    assert valid.all()
    neck = gt["joints_rig"][:, list(gt["joint_names"]).index("neck")]
    np.testing.assert_allclose(hupr[:, HUPR14.index("Neck")], neck, atol=1e-12)
    from acquisition.radar.config import load_radar_config

    rig = yaml.safe_load((take / "rig.yaml").read_text())
    spec = rig["radars"][0]
    params = load_radar_config(take / spec["cfg"]).params(spec["board"])
    from labeling.pipeline import _rig_poses

    pose = _rig_poses(reader)["radars"][spec["name"]]
    bins = radar_bins(gt["joints_rig"], pose, params)
    # The subject stands about 2.8 m in front: pelvis near the boresight, range ~2.8 m.
    pelvis = bins[:, list(gt["joint_names"]).index("pelvis")]
    assert np.all(np.abs(pelvis[:, 0] * params.range_resolution_m - 2.8) < 0.35)
    assert np.all(np.abs(pelvis[:, 1] - 32) < 4)


def test_pipeline_with_random_weight_yolo_models(take: Path, tmp_path: Path) -> None:
    os.environ.setdefault("YOLO_CONFIG_DIR", str(tmp_path / "ultralytics"))
    os.environ["YOLO_OFFLINE"] = "1"
    pytest.importorskip("ultralytics")
    config = tmp_path / "labeling.yaml"
    config.write_text(
        "preset: yolo-pose\n"
        "detector: {model: yolo11n, image_size: 320}\n"
        "pose: {model: yolo11m_pose, architecture: yolo11n-pose.yaml}\n"
    )
    args = [str(take), "--config", str(config), "--random-weights", "--labeler", "random"]
    assert label_session.main([*args, "--device", "cpu", "--batch-size", "8"]) == 0
    labels = read_labels(take, "random")
    f = labels.num_frames
    assert f >= 5  # a loaded machine drops simulated frames: any count works
    assert labels.keypoints_2d.shape == (f, 17, 3) and labels.keypoints_3d_rig.shape == (f, 17, 3)
    assert set(labels.radars) == {"horizontal", "vertical"}
    assert labels.attrs["models"]["random_weights"] is True
    assert labels.attrs["models"]["pose"]["backend"] == "ultralytics"
    # An untrained detector finds nobody: every frame is flagged, nothing is invented.
    assert np.all(labels.flags & FLAG_NO_SUBJECT)
    assert not labels.valid_2d.any() and np.isnan(labels.keypoints_3d_rig).all()
    assert labels.qa["fraction_labelled"] == 0.0
    assert (take / "labels" / "random.qa.json").is_file()
    # A second run does not overwrite.
    assert label_session.main(args) == 0


class _OracleDetector:
    """Boxes around the true 2-D keypoints, plus a bystander who passes behind the subject
    during the middle third of the take."""

    info = ModelInfo("oracle", "test", "", None, None, False, "cpu")

    def __init__(self, triggers: list[int], truth: dict[str, NDArray[np.float64]]) -> None:
        self.triggers = list(triggers)
        self.order = {t: k for k, t in enumerate(triggers)}
        self.truth = truth
        self.rows = {int(t): i for i, t in enumerate(truth["trigger_index"])}
        self.frame_boxes: list[NDArray[np.float64]] = []

    def detect(self, images: Sequence[NDArray[np.uint8]]) -> list[NDArray[np.float32]]:
        out = []
        for _ in images:
            t = self.triggers.pop(0)
            uv = self.truth["keypoints_2d__rgb"][self.rows[t], :17]
            subject = np.r_[uv.min(axis=0) - 15, uv.max(axis=0) + 15, 0.95]
            w, h = subject[2] - subject[0], subject[3] - subject[1]
            k, n = self.order[t], len(self.order)
            if n / 3 <= k < 2 * n / 3:  # the bystander passes just behind the subject
                x, y = subject[0] + 0.2 * w, subject[1] + 0.1 * h
            else:  # elsewhere, small and far to the side
                x, y, w, h = 5.0, 150.0, 0.4 * w, 0.4 * h
            bystander = np.array([x, y, x + 0.9 * w, y + 0.9 * h, 0.9])
            self.frame_boxes.append(subject)
            out.append(np.stack([bystander, subject]).astype(np.float32))
        return out


class _OraclePose:
    """The true 2-D keypoints of the person whose true box matches (score 0.9)."""

    info = ModelInfo("oracle", "test", "", None, None, False, "cpu")

    def __init__(self, detector: _OracleDetector) -> None:
        self.detector = detector

    def estimate(
        self,
        images: Sequence[NDArray[np.uint8]],
        boxes: NDArray[np.float64],
        image_index: NDArray[np.int64],
    ) -> NDArray[np.float32]:
        out = np.full((len(boxes), 17, 3), np.nan, dtype=np.float32)
        truth = self.detector.truth
        for n, box in enumerate(boxes):
            for row in self.detector.rows.values():
                uv = truth["keypoints_2d__rgb"][row, :17]
                true_box = np.r_[uv.min(axis=0) - 15, uv.max(axis=0) + 15]
                if np.allclose(true_box, box, atol=1e-3):
                    out[n, :, :2] = uv
                    out[n, :, 2] = 0.9
                    break
        return out


def test_pipeline_3d_labels_match_the_simulator(take: Path) -> None:
    truth = _truth(take)
    reader = TakeReader(take)
    triggers = [f.trigger_index for f in iter_camera_frames(reader, "rgb") if f.trigger_index >= 0]
    detector = _OracleDetector(triggers, truth)
    config = LabelingConfig(
        detector=DetectorConfig(model="yolo11n", random_weights=True),
        pose=PoseConfig(model="hrnet_w32", random_weights=True),
        labeler="oracle",
        batch_size=4,
    )
    labels, path = TakeLabeler(config, detector=detector, pose=_OraclePose(detector)).label_take(
        take
    )
    assert path is not None and read_labels(path).num_frames == labels.num_frames
    rows = np.array([list(truth["trigger_index"]).index(t) for t in labels.trigger_index])
    joints = truth["joints_rig"][rows, :17]
    ambiguous = (labels.flags & FLAG_MULTIPLE_CANDIDATES) != 0
    assert ambiguous.any() and (~ambiguous).sum() >= 0.3 * labels.num_frames
    good = labels.valid_3d
    assert not good[ambiguous].any()  # no label while the bystander overlaps
    err_raw = np.linalg.norm(labels.keypoints_3d_rig[good] - joints[good], axis=1)
    err_smooth = np.linalg.norm(labels.keypoints_3d_rig_smooth[good] - joints[good], axis=1)
    assert np.median(err_raw) < 0.03 and np.median(err_smooth) < 0.05
    # 2-D raw values are the model's; smoothed ones differ but stay close.
    np.testing.assert_allclose(
        labels.keypoints_2d[~ambiguous, :, :2], truth["keypoints_2d__rgb"][rows[~ambiguous], :17],
        atol=1e-3,
    )  # fmt: skip
    # Radar frames and map bins are consistent with the rig-frame joints.
    radar = labels.radars["horizontal"]
    assert np.isfinite(radar.bins[good]).all() and radar.n_range == 256
    qa = labels.qa
    assert qa["frames_flagged"]["multiple_candidates"] == int(ambiguous.sum())
    assert 0.3 < qa["fraction_labelled"] < 1.0
    assert qa["mean_score_per_joint"]["nose"] == pytest.approx(0.9)
