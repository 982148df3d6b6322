"""Label a recorded take: detect -> choose the subject -> 2-D pose -> lift with depth -> smooth
-> rig and radar frames -> QA -> ``labels/<labeler>.h5``.

The take's MCAP file is read once: colour and depth frames of the chosen camera stream through
in batches of ``batch_size`` (detection and pose run batched, on the GPU when there is one) and
only the per-frame results are kept. Backends are created once per :class:`TakeLabeler` and
reused across takes.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from acquisition.geometry import Pose
from acquisition.recording import TakeReader, schemas
from labeling.backends.base import PersonDetector, PoseEstimator
from labeling.config import LabelingConfig
from labeling.filters import one_euro, savgol
from labeling.geometry import lift_keypoints, optical_to_rig, radar_bins
from labeling.labels_file import RadarLabels, TakeLabels, labels_path, write_labels
from labeling.skeletons import COCO17
from labeling.tracking import (
    FLAG_BITS,
    FLAG_FRAME_INVALID,
    FLAG_LOW_CONFIDENCE,
    FLAG_MULTIPLE_CANDIDATES,
    FLAG_NO_DEPTH,
    FLAG_NO_SUBJECT,
    SubjectTracker,
)

log = logging.getLogger(__name__)

__all__ = ["CameraFrame", "CameraModel", "TakeLabeler", "camera_model", "iter_camera_frames"]

_UNUSABLE = FLAG_NO_SUBJECT | FLAG_MULTIPLE_CANDIDATES | FLAG_FRAME_INVALID | FLAG_LOW_CONFIDENCE


@dataclass(frozen=True)
class CameraModel:
    """Intrinsics (pixels), distortion (OpenCV k1 k2 p1 p2 k3) and body pose in the rig."""

    name: str
    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    distortion: tuple[float, ...]
    pose: Pose

    @property
    def matrix(self) -> NDArray[np.float64]:
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])


@dataclass
class CameraFrame:
    """One colour frame with its aligned depth (None when not recorded or lost)."""

    trigger_index: int
    frame_number: int
    stamp_ns: int
    valid: bool
    color: NDArray[np.uint8]
    depth: NDArray[np.uint16] | None


def camera_model(take: TakeReader, camera: str) -> CameraModel:
    """The camera's intrinsics from the manifest and its pose from the take's ``rig.yaml``
    (``manifest.rig`` when the take has no rig file)."""
    entry = take.manifest.cameras.get(camera)
    if entry is None:
        raise KeyError(f"take {take.directory} has no camera {camera!r}")
    intr = entry.get("intrinsics") or {}
    missing = [k for k in ("fx", "fy", "cx", "cy", "width", "height") if k not in intr]
    if missing:
        raise ValueError(f"take {take.directory}: camera {camera} intrinsics lack {missing}")
    return CameraModel(
        name=camera,
        fx=float(intr["fx"]),
        fy=float(intr["fy"]),
        cx=float(intr["cx"]),
        cy=float(intr["cy"]),
        width=int(intr["width"]),
        height=int(intr["height"]),
        distortion=tuple(float(v) for v in intr.get("distortion", ()) or ()),
        pose=_rig_poses(take)["cameras"][camera],
    )


def _pose_from_dict(d: dict[str, Any]) -> Pose:
    x, y, z = (float(v) for v in d["xyz"])
    roll, pitch, yaw = (float(v) for v in d["rpy_deg"])
    return Pose.from_xyz_rpy((x, y, z), (roll, pitch, yaw))


def _rig_poses(take: TakeReader) -> dict[str, dict[str, Pose]]:
    rig: dict[str, Any]
    rig_file = take.directory / "rig.yaml"
    if rig_file.is_file():
        import yaml

        rig = yaml.safe_load(rig_file.read_text(encoding="utf-8")) or {}
    else:
        rig = take.manifest.rig
    return {
        "cameras": {c["name"]: _pose_from_dict(c["pose"]) for c in rig.get("cameras", [])},
        "radars": {r["name"]: _pose_from_dict(r["pose"]) for r in rig.get("radars", [])},
    }


def _image(msg: Any) -> NDArray[Any]:
    data = bytes(msg.data)
    h, w = int(msg.height), int(msg.width)
    if msg.encoding in ("rgb8", "bgr8"):
        img = np.frombuffer(data, np.uint8).reshape(h, w, 3)
        return img[..., ::-1] if msg.encoding == "bgr8" else img
    if msg.encoding in ("16UC1", "mono16"):
        dtype = ">u2" if msg.is_bigendian else "<u2"
        return np.frombuffer(data, dtype).reshape(h, w).astype(np.uint16)
    raise ValueError(f"unsupported image encoding {msg.encoding!r}")


def iter_camera_frames(take: TakeReader, camera: str) -> Iterator[CameraFrame]:
    """Colour frames of ``camera`` joined with their depth frames (by trigger index), in one
    pass over the take. Frames without a trigger index (-1) are yielded too."""
    topics = {
        f"/{camera}/{stream}/{kind}"
        for stream in ("color", "depth")
        for kind in ("image_raw", "sync")
    }
    has_depth = f"/{camera}/depth/image_raw" in take.manifest.streams
    pending: dict[str, dict[str, list[Any]]] = {
        s: {"image_raw": [], "sync": []} for s in ("color", "depth")
    }
    colour_queue: list[CameraFrame] = []
    depth_by_trigger: dict[int, NDArray[np.uint16]] = {}
    last_depth_trigger = -1

    def ready(final: bool) -> Iterator[CameraFrame]:
        while colour_queue:
            frame = colour_queue[0]
            t = frame.trigger_index
            if has_depth and not final and t >= 0 and t not in depth_by_trigger:
                if last_depth_trigger <= t:
                    return  # its depth frame may still come
            colour_queue.pop(0)
            frame.depth = depth_by_trigger.pop(t, None) if t >= 0 else None
            for old in [k for k in depth_by_trigger if k < t]:
                del depth_by_trigger[old]
            yield frame

    for raw in take.messages(topics):
        _, _, stream, kind = raw.topic.split("/")
        pending[stream][kind].append(schemas.decoder(raw.schema)(raw.data))
        q = pending[stream]
        while q["image_raw"] and q["sync"]:
            image, sync = q["image_raw"].pop(0), q["sync"].pop(0)
            trigger = int(sync.trigger_index)
            if stream == "depth":
                if trigger >= 0:
                    depth_by_trigger[trigger] = _image(image)
                    last_depth_trigger = max(last_depth_trigger, trigger)
            else:
                stamp = image.header.stamp
                colour_queue.append(
                    CameraFrame(
                        trigger_index=trigger,
                        frame_number=int(sync.frame_number),
                        stamp_ns=int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec),
                        valid=bool(sync.valid),
                        color=_image(image),
                        depth=None,
                    )
                )
        yield from ready(final=False)
    yield from ready(final=True)


def _batches(frames: Iterator[CameraFrame], size: int) -> Iterator[list[CameraFrame]]:
    batch: list[CameraFrame] = []
    for frame in frames:
        batch.append(frame)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class TakeLabeler:
    """Labels takes with one configuration; backends are built once (or injected: tests, other
    detectors)."""

    def __init__(
        self,
        config: LabelingConfig,
        *,
        detector: PersonDetector | None = None,
        pose: PoseEstimator | None = None,
    ) -> None:
        from labeling.backends.base import create_detector, create_pose_estimator

        self.config = config
        self.detector = detector if detector is not None else create_detector(config)
        self.pose = pose if pose is not None else create_pose_estimator(config)
        self._duplicates = 0

    # --- per take ---------------------------------------------------------------------------------
    def label_take(
        self,
        take_dir: str | Path,
        *,
        write: bool = True,
        progress: Callable[[int], None] | None = None,
    ) -> tuple[TakeLabels, Path | None]:
        """Label one take; returns the labels and the file written (None with ``write=False``).

        ``progress`` is called with the number of frames done after each batch.
        """
        cfg = self.config
        take = TakeReader(take_dir)
        camera_name = cfg.camera or next(iter(take.manifest.cameras), None)
        if camera_name is None:
            raise ValueError(f"take {take_dir} has no camera to label")
        cam = camera_model(take, camera_name)
        tracker = SubjectTracker(cfg.tracking, (cam.width, cam.height))

        rows: list[dict[str, Any]] = []
        no_trigger = 0
        done = 0
        for batch in _batches(iter_camera_frames(take, camera_name), cfg.batch_size):
            usable = [f for f in batch if f.trigger_index >= 0]
            no_trigger += len(batch) - len(usable)
            if usable:
                rows.extend(self._label_batch(usable, tracker, cam))
            done += len(batch)
            if progress is not None:
                progress(done)

        labels = self._assemble(rows, cam, take)
        labels.attrs.update(self._attrs(take, cam))
        labels.attrs["qa"] = take_qa(labels, no_trigger, self._random_weights())
        labels.attrs["qa"]["frames_duplicate_trigger"] = self._duplicates
        path = None
        if write:
            path = write_labels(labels_path(take.directory, cfg.labeler_name), labels)
        return labels, path

    def _random_weights(self) -> bool:
        return bool(self.detector.info.random_weights or self.pose.info.random_weights)

    def _label_batch(
        self, frames: Sequence[CameraFrame], tracker: SubjectTracker, cam: CameraModel
    ) -> list[dict[str, Any]]:
        cfg = self.config
        images = [f.color for f in frames]
        detections = self.detector.detect(images)
        rows: list[dict[str, Any]] = []
        for frame, det in zip(frames, detections, strict=True):
            row: dict[str, Any] = {
                "trigger_index": frame.trigger_index,
                "frame_number": frame.frame_number,
                "stamp_ns": frame.stamp_ns,
                "box": np.full(4, np.nan),
                "box_score": np.nan,
                "track_id": -1,
                "num_candidates": 0,
                "flags": 0,
            }
            if not frame.valid:
                row["flags"] = FLAG_FRAME_INVALID
            else:
                index, track_id, n, flags = tracker.update(det)
                row.update(track_id=track_id, num_candidates=n, flags=flags)
                if index >= 0:
                    row["box"] = np.asarray(det[index, :4], dtype=np.float64)
                    row["box_score"] = float(det[index, 4])
            rows.append(row)
        chosen = [i for i, r in enumerate(rows) if np.all(np.isfinite(r["box"]))]
        keypoints = np.full((len(rows), 17, 3), np.nan)
        keypoints[..., 2] = 0.0
        if chosen:
            boxes = np.stack([rows[i]["box"] for i in chosen])
            keypoints[chosen] = self.pose.estimate(images, boxes, np.asarray(chosen))
        lift = cfg.lifting
        for i, (frame, row) in enumerate(zip(frames, rows, strict=True)):
            kp = keypoints[i]
            row["keypoints_2d"] = kp
            scores = np.nan_to_num(kp[:, 2], nan=0.0)
            if i in chosen and float(np.mean(scores)) < cfg.pose.low_confidence_score:
                row["flags"] |= FLAG_LOW_CONFIDENCE
            valid = (
                (scores >= cfg.pose.min_joint_score)
                & np.all(np.isfinite(kp[:, :2]), axis=1)
                & ((row["flags"] & _UNUSABLE) == 0)
            )
            row["valid_2d"] = valid
            points = np.full((17, 3), np.nan)
            valid3 = np.zeros(17, dtype=bool)
            if frame.depth is None:
                row["flags"] |= FLAG_NO_DEPTH
            elif valid.any():
                uv = np.where(valid[:, None], kp[:, :2], np.nan)
                points, valid3 = lift_keypoints(
                    uv,
                    frame.depth,
                    fx=cam.fx,
                    fy=cam.fy,
                    cx=cam.cx,
                    cy=cam.cy,
                    surface_offset_m=lift.surface_offset_m,
                    window=lift.window,
                    cluster_gap_m=lift.cluster_gap_m,
                    min_pixels=lift.min_pixels,
                    depth_scale=lift.depth_scale,
                    body_depth_range_m=lift.body_depth_range_m,
                    uv_undistorted=_undistort(uv, cam),
                    prefer=lift.depth_layer,
                )
                valid3 &= valid
                if not valid3.any():
                    row["flags"] |= FLAG_NO_DEPTH
            row["keypoints_3d_camera"] = points
            row["valid_3d"] = valid3
        return rows

    def _smooth(
        self, values: NDArray[np.float64], times_s: NDArray[np.float64], index: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        s = self.config.smoothing
        if values.shape[0] == 0 or s.method == "none":
            return values.copy()
        if s.method == "savgol":
            return savgol(values, window=s.window, order=s.order, frame_index=index)
        return one_euro(
            values,
            times_s,
            min_cutoff_hz=s.min_cutoff_hz,
            beta=s.beta,
            d_cutoff_hz=s.d_cutoff_hz,
        )

    def _assemble(
        self, rows: list[dict[str, Any]], cam: CameraModel, take: TakeReader
    ) -> TakeLabels:
        f = len(rows)

        def col(name: str, shape: tuple[int, ...], dtype: Any, fill: Any) -> NDArray[Any]:
            if f == 0:
                return np.full((0, *shape), fill, dtype=dtype)
            return np.asarray([r[name] for r in rows], dtype=dtype).reshape(f, *shape)

        trigger = col("trigger_index", (), np.int64, 0)
        order = np.argsort(trigger, kind="stable")
        # One row per trigger pulse: a repeated trigger index (a sync glitch) keeps its first frame.
        keep = np.ones(order.size, dtype=bool)
        keep[1:] = np.diff(trigger[order]) != 0
        self._duplicates = int((~keep).sum())
        rows = [rows[i] for i in order[keep]]
        f = len(rows)
        trigger = trigger[order[keep]]
        kp2 = col("keypoints_2d", (17, 3), np.float64, np.nan)
        valid2 = col("valid_2d", (17,), bool, False)
        kp3 = col("keypoints_3d_camera", (17, 3), np.float64, np.nan)
        valid3 = col("valid_3d", (17,), bool, False)

        rate = _trigger_rate_hz(take)
        times = trigger / rate
        uv = np.where(valid2[..., None], kp2[..., :2], np.nan)
        kp2_smooth = np.concatenate([self._smooth(uv, times, trigger), kp2[..., 2:]], axis=-1)
        cam_pts = np.where(valid3[..., None], kp3, np.nan)
        kp3_smooth = self._smooth(cam_pts, times, trigger)
        rig_raw = optical_to_rig(kp3, cam.pose)
        rig_smooth = optical_to_rig(kp3_smooth, cam.pose)

        labels = TakeLabels(
            trigger_index=trigger,
            frame_number=col("frame_number", (), np.int64, 0),
            stamp_ns=col("stamp_ns", (), np.int64, 0),
            flags=col("flags", (), np.uint8, 0),
            box=col("box", (4,), np.float32, np.nan),
            box_score=col("box_score", (), np.float32, np.nan),
            track_id=col("track_id", (), np.int32, -1),
            num_candidates=col("num_candidates", (), np.int16, 0),
            keypoints_2d=kp2.astype(np.float32),
            keypoints_2d_smooth=kp2_smooth.astype(np.float32),
            valid_2d=valid2,
            keypoints_3d_camera=kp3.astype(np.float32),
            keypoints_3d_camera_smooth=kp3_smooth.astype(np.float32),
            keypoints_3d_rig=rig_raw.astype(np.float32),
            keypoints_3d_rig_smooth=rig_smooth.astype(np.float32),
            valid_3d=valid3,
        )
        labels.radars = self._radar_labels(take, rig_smooth)
        return labels

    def _radar_labels(
        self, take: TakeReader, rig_points: NDArray[np.float64]
    ) -> dict[str, RadarLabels]:
        from acquisition.radar.config import RadarConfigError, load_radar_config

        poses = _rig_poses(take)["radars"]
        wanted = self.config.radars if self.config.radars is not None else tuple(poses)
        rig_radars = {r["name"]: r for r in _rig_dict(take).get("radars", [])}
        out: dict[str, RadarLabels] = {}
        for name in wanted:
            if name not in poses:
                raise KeyError(f"take {take.directory} has no radar {name!r}")
            pose = poses[name]
            ti = pose.rig_to_radar(rig_points)
            spec = rig_radars.get(name, {})
            cfg_path = take.directory / str(spec.get("cfg", f"cfg/{name}.cfg"))
            try:
                params = load_radar_config(cfg_path).params(spec.get("board"))
                bins = radar_bins(rig_points, pose, params)
                n_range = params.num_samples
            except (RadarConfigError, OSError, KeyError, ValueError) as exc:
                log.warning("radar %s: no map bins (%s)", name, exc)
                bins = np.full_like(rig_points, np.nan)
                n_range = 0
            out[name] = RadarLabels(
                keypoints_3d=ti.astype(np.float32),
                bins=bins.astype(np.float32),
                n_range=n_range,
                n_azimuth=64,
                n_elevation=16,
            )
        return out

    def _attrs(self, take: TakeReader, cam: CameraModel) -> dict[str, Any]:
        cfg = self.config
        return {
            "labeler": cfg.labeler_name,
            "camera": cam.name,
            "skeleton": COCO17.name,
            "joint_names": list(COCO17.joints),
            "flag_bits": dict(FLAG_BITS),
            "take": take.manifest.take,
            "session": take.manifest.session,
            "created_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "config": cfg.to_dict(),
            "models": {
                "detector": asdict(self.detector.info),
                "pose": asdict(self.pose.info),
                "random_weights": self._random_weights(),
            },
            "intrinsics": {
                "fx": cam.fx,
                "fy": cam.fy,
                "cx": cam.cx,
                "cy": cam.cy,
                "width": cam.width,
                "height": cam.height,
                "distortion": list(cam.distortion),
            },
            "camera_pose_rig": {
                "xyz": [float(v) for v in cam.pose.position],
                "rotation": np.asarray(cam.pose.rotation).tolist(),
            },
        }


def _rig_dict(take: TakeReader) -> dict[str, Any]:
    rig_file = take.directory / "rig.yaml"
    if rig_file.is_file():
        import yaml

        loaded = yaml.safe_load(rig_file.read_text(encoding="utf-8")) or {}
        return dict(loaded)
    return dict(take.manifest.rig)


def _trigger_rate_hz(take: TakeReader) -> float:
    trigger = _rig_dict(take).get("trigger") or {}
    rate = trigger.get("rate_hz")
    if rate:
        return float(rate)
    cams = take.manifest.cameras
    fps = next((c.get("fps") for c in cams.values() if c.get("fps")), None)
    return float(fps) if fps else 10.0


def _undistort(uv: NDArray[np.float64], cam: CameraModel) -> NDArray[np.float64] | None:
    if not any(cam.distortion):
        return None
    import cv2

    ok = np.all(np.isfinite(uv), axis=1)
    out = np.full_like(uv, np.nan)
    if ok.any():
        pts = uv[ok].reshape(-1, 1, 2).astype(np.float64)
        und = cv2.undistortPoints(pts, cam.matrix, np.asarray(cam.distortion), P=cam.matrix)
        out[ok] = und.reshape(-1, 2)
    return out


def take_qa(
    labels: TakeLabels, frames_without_trigger: int, random_weights: bool
) -> dict[str, Any]:
    """Per-take QA summary (also written as ``labels/<labeler>.qa.json``; read by
    ``dataset-report``)."""
    f = labels.num_frames
    flags = labels.flags.astype(np.int64)
    labelled = labels.valid_2d.any(axis=1)
    with_subject = np.isfinite(labels.box).all(axis=1)
    scores = labels.keypoints_2d[..., 2].astype(np.float64)
    names = COCO17.joints

    def per_joint(values: NDArray[Any]) -> dict[str, float | None]:
        return {
            n: (None if not np.isfinite(v) else round(float(v), 4))
            for n, v in zip(names, values, strict=True)
        }

    with np.errstate(invalid="ignore"):
        mean_score = (
            np.nanmean(scores[with_subject], axis=0) if with_subject.any() else np.full(17, np.nan)
        )
    return {
        "frames": f,
        "frames_without_trigger": int(frames_without_trigger),
        "frames_labelled": int(labelled.sum()),
        "fraction_labelled": round(float(labelled.mean()), 4) if f else 0.0,
        "frames_3d": int(labels.valid_3d.any(axis=1).sum()),
        "frames_flagged": {k: int(((flags & bit) != 0).sum()) for k, bit in FLAG_BITS.items()},
        "flagged_trigger_indexes": {
            k: labels.trigger_index[(flags & bit) != 0].astype(int).tolist()
            for k, bit in FLAG_BITS.items()
        },
        "mean_score_per_joint": per_joint(mean_score),
        "valid_2d_fraction_per_joint": per_joint(
            labels.valid_2d.mean(axis=0) if f else np.full(17, np.nan)
        ),
        "valid_3d_fraction_per_joint": per_joint(
            labels.valid_3d.mean(axis=0) if f else np.full(17, np.nan)
        ),
        "track_ids": sorted({int(t) for t in labels.track_id if t >= 0}),
        "random_weights": bool(random_weights),
    }


def dumps_qa(qa: dict[str, Any]) -> str:
    """QA as indented JSON."""
    return json.dumps(qa, indent=2, sort_keys=True)
