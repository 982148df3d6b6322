"""Radar point clouds in the rig frame, and a small simulated dataset that carries them (numpy).

Shared by mmJoints and Mission. A built dataset stores CFAR points per radar in that radar's TI
frame (``seq.read_points``, columns ``x, y, z, doppler, snr_db, intensity, range, frame``); labels
are in the rig frame. :func:`rig_points` moves every radar's points into the rig frame with the
radar pose stored in the sequence attributes and keeps the columns the models use:

    RIG_POINT_COLUMNS = (x, y, z, doppler, intensity)      metres, m/s, linear power

:func:`build_simulated_point_dataset` is an in-memory stand-in for ``acq-record`` +
``dataset-build --representations points``: the same simulator, the same CFAR point detector
(:func:`dataset_tools.dsp.pointcloud.detect_points`; by default with wider CFAR windows and no
peak grouping, ``SimPointSpec.detector``), RGB frames rendered by the simulated camera,
labels converted from the simulator's exact joints. Takes of one subject share the body (size,
proportions, scatterer layout) and the gait (cadence, stride, arm swing, knee flexion, lean; a
2 % jitter per take) and differ in motion (phases, wave rates, start point, heading), so
re-identification has to rely on the body and the gait, as with real people.
Usable from the commands as ``--dataset simpoints:subjects=6,takes=4,frames=32``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from training.data.memory import MemoryDataset, MemorySequence, subject_splits

RIG_POINT_COLUMNS = ("x", "y", "z", "doppler", "intensity")
#: indexes of those columns in the dataset's POINT_COLUMNS
_SOURCE_COLUMNS = (0, 1, 2, 3, 5)
WALKING_ACTIONS = ("walk_across", "walk_wave")


@runtime_checkable
class PointSequence(Protocol):
    """What the point-cloud models need from a sequence (a subset of the reading API)."""

    @property
    def num_frames(self) -> int: ...

    @property
    def attrs(self) -> Mapping[str, Any]: ...

    @property
    def radars(self) -> list[str]: ...

    def read_points(
        self, radar: str, start: int | None = None, stop: int | None = None
    ) -> list[NDArray[np.float32]]: ...

    def labels(self, schema: str) -> Mapping[str, Any]: ...

    def mask(self, stream: str) -> NDArray[np.bool_]: ...


def _pose(attrs: Mapping[str, Any], radar: str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(rotation (3, 3) TI frame -> rig, position (3,)) of ``radar`` from sequence attributes."""
    from acquisition.geometry import TI_TO_BODY, Pose

    info = attrs.get("radars", {}).get(radar, {})
    pose = info.get("pose") if isinstance(info, Mapping) else None
    if pose is None:
        raise KeyError(f"sequence has no pose for radar {radar!r} (attrs['radars'][r]['pose'])")
    p = Pose.from_xyz_rpy(tuple(pose["xyz"]), tuple(pose["rpy_deg"]))
    return p.rotation @ TI_TO_BODY, p.position  # rig = R_body @ TI_TO_BODY @ p + t


def rig_points(
    seq: PointSequence, start: int, stop: int, *, radars: Sequence[str] | None = None
) -> list[NDArray[np.float32]]:
    """Points of frames ``[start, stop)`` of every radar, merged, in the rig frame.

    Returns:
        one (P_f, 5) float32 array per frame, columns :data:`RIG_POINT_COLUMNS`.
    """
    names = list(radars) if radars else list(seq.radars)
    per_radar = []
    for name in names:
        rot, pos = _pose(seq.attrs, name)
        frames = seq.read_points(name, start, stop)
        moved = []
        for pts in frames:
            sel = np.asarray(pts, np.float64)[:, _SOURCE_COLUMNS]
            sel[:, :3] = sel[:, :3] @ rot.T + pos
            moved.append(sel.astype(np.float32))
        per_radar.append(moved)
    return [np.concatenate([r[f] for r in per_radar], axis=0) for f in range(stop - start)]


def pad_point_frames(
    frames: Sequence[NDArray[np.float32]], max_points: int, *, rng: np.random.Generator | None
) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
    """Frames of ragged points -> fixed arrays (sub-sampled at random when ``rng`` is given,
    else the strongest ``max_points`` by intensity).

    Returns:
        points (K, max_points, C) zero-padded and mask (K, max_points).
    """
    c = frames[0].shape[1] if frames else len(RIG_POINT_COLUMNS)
    out = np.zeros((len(frames), max_points, c), np.float32)
    mask = np.zeros((len(frames), max_points), bool)
    for k, pts in enumerate(frames):
        if len(pts) > max_points:
            if rng is not None:
                idx = rng.choice(len(pts), max_points, replace=False)
            else:
                idx = np.argsort(-pts[:, 4])[:max_points]
            pts = pts[np.sort(idx)]
        out[k, : len(pts)] = pts
        mask[k, : len(pts)] = True
    return out, mask


# --- simulated dataset -----------------------------------------------------------------------


@dataclass
class SimPointSequence(MemorySequence):
    """A :class:`MemorySequence` that also has point clouds and RGB frames.

    Attributes:
        points: radar -> list of F (P_f, 8) float32 arrays (POINT_COLUMNS, TI frame).
        images: camera -> (F, H, W, 3) uint8.
    """

    points: dict[str, list[NDArray[np.float32]]] = field(default_factory=dict)
    images: dict[str, NDArray[np.uint8]] = field(default_factory=dict)

    @property
    def radars(self) -> list[str]:
        return list(self.points) or list(self.radar_data)

    @property
    def cameras(self) -> list[str]:
        return list(self.images)

    def read_points(
        self, radar: str, start: int | None = None, stop: int | None = None
    ) -> list[NDArray[np.float32]]:
        s, e = start or 0, self.num_frames if stop is None else stop
        return self.points[radar][s:e]

    def read_images(
        self, camera: str, start: int | None = None, stop: int | None = None
    ) -> NDArray[np.uint8]:
        s, e = start or 0, self.num_frames if stop is None else stop
        return self.images[camera][s:e]

    def mask(self, stream: str) -> NDArray[np.bool_]:
        kind, _, name = stream.partition("/")
        if stream not in self.masks and (
            (kind == "radar" and name in self.points) or (kind == "camera" and name in self.images)
        ):
            return np.ones(self.num_frames, dtype=bool)
        return super().mask(stream)


#: keyword arguments of ``detect_points`` per ``SimPointSpec.detector``; guard / train are
#: (Doppler, range) cells per side. A walking person spans ~10 range bins (4.3 cm each) and
#: ~20 Doppler bins: with the narrow ``oob`` windows the body itself raises the noise estimate,
#: and peak grouping then keeps about one cell per body.
POINT_DETECTORS: dict[str, dict[str, Any]] = {
    "people": {"guard": (2, 4), "train": (8, 16), "group_peaks": False},
    "oob": {"guard": (2, 2), "train": (4, 8), "group_peaks": True},
}


@dataclass(frozen=True)
class SimPointSpec:
    """What to simulate.

    Attributes:
        subjects: subjects S01..Sn (each its own body).
        actions: actions of ``acquisition.sim.ACTIONS``.
        takes: takes per subject and action (same body, new motion, start point and heading).
        frames: frames per take (10 frames/s).
        image_size: side of the square rendered RGB frames (0 = no camera).
        points_pfa: CFAR false-alarm probability (``dataset-build`` uses 1e-5).
        detector: CFAR windows of the point detector (:data:`POINT_DETECTORS`): ``people``
            (default; wide guard and training windows, no peak grouping: ~40 points per radar
            frame on a person, like TI's people-tracking chain) or ``oob`` (the out-of-box
            demo's narrow windows and peak grouping, ``dataset-build``'s setting: 1-3 points
            per radar frame on the simulated person, who fills the training cells).
        seed: master seed.
    """

    subjects: int = 4
    actions: tuple[str, ...] = ("walk_across",)
    takes: int = 2
    frames: int = 24
    image_size: int = 64
    points_pfa: float = 1e-3
    detector: str = "people"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.detector not in POINT_DETECTORS:
            raise ValueError(f"detector must be one of {', '.join(POINT_DETECTORS)}")


def parse_simpoints_spec(text: str) -> SimPointSpec:
    """``simpoints:subjects=6,actions=walk_across+squat,takes=3,frames=32`` -> spec."""
    kwargs: dict[str, Any] = {}
    types = {f.name for f in fields(SimPointSpec)}
    for item in filter(None, text.removeprefix("simpoints:").split(",")):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in types:
            raise ValueError(f"bad simpoints item {item!r}; keys: {', '.join(sorted(types))}")
        if key == "actions":
            kwargs[key] = tuple(v for v in value.split("+") if v)
        elif key == "points_pfa":
            kwargs[key] = float(value)
        elif key == "detector":
            kwargs[key] = value.strip()
        else:
            kwargs[key] = int(value)
    return SimPointSpec(**kwargs)


_RADAR_POSES = {
    "horizontal": ((0.0, 0.015, 1.0), (0.0, 0.0, 0.0)),
    "vertical": ((0.0, -0.015, 1.0), (-90.0, 0.0, 0.0)),
}
_CAMERA_POSE = ((0.0, 0.0, 1.12), (0.0, 0.0, 0.0))


def _simulate_take(
    spec: SimPointSpec, subject_seed: int, action: str, take_seed: int
) -> SimPointSequence:
    from acquisition.geometry import Pose
    from acquisition.sim import (
        PersonMotion,
        PinholeCamera,
        SimulatedRadar,
        SimulatedScene,
        hupr_radar_params,
    )
    from dataset_tools.dsp.pointcloud import detect_points, split_points_by_frame
    from labeling.skeletons import convert

    params = hupr_radar_params()
    radars = [
        SimulatedRadar(name, params, Pose.from_xyz_rpy(xyz, rpy))
        for name, (xyz, rpy) in _RADAR_POSES.items()
    ]
    camera = (
        PinholeCamera.from_fov(
            hfov_deg=70.0,
            width=spec.image_size,
            height=spec.image_size,
            pose=Pose.from_xyz_rpy(*_CAMERA_POSE),
        )
        if spec.image_size
        else None
    )
    scene = SimulatedScene(
        radars,
        camera=camera,
        action=action,
        subject_seed=subject_seed,
        num_frames=spec.frames,
        seed=take_seed,
    )
    # Same body and scatterer layout, a new motion per take (module docstring).
    rng = np.random.default_rng(take_seed)
    walking = action in WALKING_ACTIONS
    heading = float(rng.uniform(0, 2 * math.pi)) if walking else math.pi + rng.uniform(-0.5, 0.5)
    start = (float(rng.uniform(2.5, 3.5)), float(rng.uniform(-0.8, 0.8)))
    if action == "walk_across":
        # cross the field of view through `start`, either direction
        heading = math.pi / 2 if rng.random() < 0.5 else -math.pi / 2
        start = (start[0], -heading / abs(heading) * 1.2)
    scene.motion = PersonMotion(
        action,
        body=scene.body,
        start_position=start,
        heading=heading,
        floor_z=-1.0,
        seed=int(rng.integers(2**31)),
        gait=scene.gait,
    )
    joints = np.empty((spec.frames, 20, 3))
    adc: dict[str, list[NDArray[np.complex64]]] = {r.name: [] for r in radars}
    images = []
    for frame in scene.frames():
        joints[frame.index] = frame.joints_rig
        for name in adc:
            adc[name].append(frame.adc[name])
        if frame.rgb is not None:
            images.append(frame.rgb)
    points = {
        name: split_points_by_frame(
            detect_points(
                np.stack(cubes), params, pfa=spec.points_pfa, **POINT_DETECTORS[spec.detector]
            ),
            spec.frames,
        )
        for name, cubes in adc.items()
    }
    labels: dict[str, dict[str, Any]] = {}
    for schema in ("sim20", "coco17", "hupr14"):
        k3, ok = convert(joints, "sim20", schema)
        labels[schema] = {
            "keypoints_3d": np.where(ok[..., None], k3, np.nan).astype(np.float32),
            "valid": ok,
            "image_size": (spec.image_size, spec.image_size),
        }
    return SimPointSequence(
        num_frames=spec.frames,
        attrs={},
        radar_data={},
        label_sets=labels,
        points=points,
        images={"rgb": np.stack(images)} if images else {},
    )


def build_simulated_point_dataset(spec: SimPointSpec | None = None) -> MemoryDataset:
    """Simulate every (subject, action, take) of ``spec`` (module docstring).

    Splits: ``by_subject``; ``by_sequence`` = last subject test, second-to-last val (3+
    subjects), the rest train.
    """
    from acquisition.sim import ACTIONS

    spec = spec or SimPointSpec()
    for action in spec.actions:
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}; known: {', '.join(ACTIONS)}")
    sequences: dict[str, MemorySequence] = {}
    by_subject: dict[str, list[str]] = {}
    radar_attrs = {
        name: {"pose": {"xyz": list(xyz), "rpy_deg": list(rpy)}}
        for name, (xyz, rpy) in _RADAR_POSES.items()
    }
    for s in range(spec.subjects):
        subject = f"S{s + 1:02d}"
        subject_seed = int(np.random.SeedSequence([spec.seed, s]).generate_state(1)[0])
        for a, action in enumerate(spec.actions):
            for t in range(spec.takes):
                take_seed = int(np.random.SeedSequence([spec.seed, s, a, t]).generate_state(1)[0])
                seq = _simulate_take(spec, subject_seed, action, take_seed)
                seq_id = f"sim_{subject}_{action}_{t + 1}"
                seq.attrs = {
                    "session": "simpoints",
                    "take": seq_id,
                    "subject": subject,
                    "action": action,
                    "scene": "sim_room",
                    "radars": radar_attrs,
                    "cameras": {"rgb": {"pose": {"xyz": list(_CAMERA_POSE[0])}}},
                }
                sequences[seq_id] = seq
                by_subject.setdefault(subject, []).append(seq_id)
    return MemoryDataset(
        sequences=sequences,
        splits=subject_splits(sequences, by_subject),
        attrs={"simulated": True, "spec": repr(spec)},
    )


@functools.lru_cache(maxsize=4)
def cached_point_dataset(spec: SimPointSpec) -> MemoryDataset:
    """:func:`build_simulated_point_dataset`, memoised per spec (tests, repeated commands)."""
    return build_simulated_point_dataset(spec)


def open_point_dataset(text: str) -> Any:
    """``simpoints:...`` (simulated, in memory) or any dataset ``open_training_dataset`` opens."""
    if text.startswith("simpoints:"):
        return cached_point_dataset(parse_simpoints_spec(text))
    from training.data.source import open_training_dataset

    return open_training_dataset(text)
