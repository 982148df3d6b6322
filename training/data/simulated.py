"""Small simulated datasets in memory, from the toolkit's FMCW simulator and HuPR DSP.

Stand-in for a dataset built by ``dataset-build`` from simulated recordings, for tests and for
the small evidence runs: same sequence / label / mask layout (CONTRACT 2), built directly from
the simulator's scenes (no recording, no labeling pipeline: labels are the simulator's exact
joints projected by its camera, converted ``sim20 -> hupr14`` / ``coco17``).

``compact=True`` (default) keeps only what HuPR-style inputs use, to fit in memory: the
``vrdae`` representation then holds Doppler bins 4..11 averaged over elevation, shape
(F, 8, 64, 64, 1), instead of the full (F, 16, 64, 64, 8) map; train on it with
``data.doppler_bins = null`` (the dataset's ``attrs["vrdae_compact"]`` says so). Elevation
averaging is linear, so this equals what the model would compute from the full map.

Also usable from the commands as ``--dataset sim:subjects=3,actions=squat+wave_one_hand,frames=48``
(see :func:`parse_sim_spec`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from training.data.memory import MemoryDataset, MemorySequence, subject_splits

RADAR_NAMES = ("horizontal", "vertical")
IMAGE_SIZE = 256  # square camera image, as HuPR's 256 x 256 image space


@dataclass(frozen=True)
class SimulatedDatasetSpec:
    """What to simulate.

    Attributes:
        subjects: number of subjects S01..Sn (each its own body and motion seed).
        actions: actions of ``acquisition.sim.person.ACTIONS``; one take per subject and action.
        frames: frames per take (10 frames/s).
        seed: master seed (bodies, motion, radar noise).
        compact: store the compact VRDAE (see module docstring).
        lost_radar_fraction: fraction of radar frames marked lost (mask False, data NaN), drawn
            per radar, to exercise mask handling.
        unlabelled_fraction: fraction of frames without labels (mask False).
    """

    subjects: int = 3
    actions: tuple[str, ...] = ("wave_one_hand", "squat")
    frames: int = 48
    seed: int = 0
    compact: bool = True
    lost_radar_fraction: float = 0.0
    unlabelled_fraction: float = 0.0


def parse_sim_spec(text: str) -> SimulatedDatasetSpec:
    """``sim:subjects=3,actions=squat+walk_wave,frames=48,seed=0`` -> spec (any field, ``+``
    separates actions; ``sim:`` alone gives the defaults)."""
    body = text.removeprefix("sim:").strip()
    kwargs: dict[str, Any] = {}
    types = {f.name: f.type for f in fields(SimulatedDatasetSpec)}
    for item in filter(None, body.split(",")):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in types:
            raise ValueError(f"bad sim dataset item {item!r}; keys: {', '.join(types)}")
        if key == "actions":
            kwargs[key] = tuple(v for v in value.split("+") if v)
        elif key == "compact":
            kwargs[key] = value.lower() in ("1", "true", "yes")
        elif key in ("lost_radar_fraction", "unlabelled_fraction"):
            kwargs[key] = float(value)
        else:
            kwargs[key] = int(value)
    return SimulatedDatasetSpec(**kwargs)


def _box(kp: NDArray[np.float64], ok: NDArray[np.bool_]) -> NDArray[np.float32]:
    """(F, J, 2), (F, J) -> (F, 4) [x1, y1, x2, y2] of the valid joints, 10 % margin."""
    out = np.full((kp.shape[0], 4), np.nan, dtype=np.float32)
    for f in range(kp.shape[0]):
        if ok[f].any():
            lo, hi = kp[f, ok[f]].min(0), kp[f, ok[f]].max(0)
            pad = 0.1 * (hi - lo) + 2.0
            out[f] = [lo[0] - pad[0], lo[1] - pad[1], hi[0] + pad[0], hi[1] + pad[1]]
    return out


def simulate_sequence(
    *, subject_seed: int, action: str, frames: int, noise_seed: int, compact: bool
) -> tuple[dict[str, NDArray[Any]], dict[str, dict[str, Any]]]:
    """One simulated take: radar name -> vrdae, and schema -> labels (module docstring)."""
    from acquisition.geometry import Pose
    from acquisition.sim import PinholeCamera, SimulatedRadar, SimulatedScene, hupr_radar_params
    from dataset_tools.dsp import vrdae_maps
    from labeling.skeletons import convert

    params = hupr_radar_params()
    radars = [
        SimulatedRadar("horizontal", params, Pose.from_xyz_rpy((0.0, 0.015, 0.0), (0, 0, 0))),
        SimulatedRadar("vertical", params, Pose.from_xyz_rpy((0.0, -0.015, 0.0), (-90, 0, 0))),
    ]
    camera = PinholeCamera.from_fov(
        hfov_deg=62.0,
        width=IMAGE_SIZE,
        height=IMAGE_SIZE,
        pose=Pose.from_xyz_rpy((0.0, 0.0, 0.12), (0, 0, 0)),
    )
    scene = SimulatedScene(
        radars,
        camera=None,
        action=action,
        subject_seed=subject_seed,
        num_frames=frames,
        seed=noise_seed,
    )
    maps: dict[str, list[NDArray[np.complex64]]] = {r: [] for r in RADAR_NAMES}
    joints = np.empty((frames, 20, 3))
    for frame in scene.frames():
        joints[frame.index] = frame.joints_rig
        for name in RADAR_NAMES:
            vr = vrdae_maps(frame.adc[name][None])[0]
            if compact:
                vr = vr[4:12].mean(axis=-1, keepdims=True)
            maps[name].append(vr.astype(np.complex64))
    uv, depth = camera.project(joints)
    inside = (
        (depth > 0)
        & (uv[..., 0] >= 0)
        & (uv[..., 0] < IMAGE_SIZE)
        & (uv[..., 1] >= 0)
        & (uv[..., 1] < IMAGE_SIZE)
    )
    kp2 = np.concatenate([uv, np.ones((*uv.shape[:-1], 1))], axis=-1)
    labels: dict[str, dict[str, Any]] = {}
    for schema in ("hupr14", "coco17"):
        k2, ok2 = convert(kp2, "sim20", schema, valid=inside, score_channel=2)
        k3, ok3 = convert(joints, "sim20", schema)
        valid = ok2 & ok3
        labels[schema] = {
            "keypoints_2d": np.where(valid[..., None], k2, np.nan).astype(np.float32),
            "keypoints_3d": np.where(valid[..., None], k3, np.nan).astype(np.float32),
            "valid": valid,
            "boxes": _box(k2[..., :2], valid),
            "image_size": (IMAGE_SIZE, IMAGE_SIZE),
        }
    return {r: np.stack(m) for r, m in maps.items()}, labels


def build_simulated_dataset(spec: SimulatedDatasetSpec | None = None) -> MemoryDataset:
    """Simulate every (subject, action) take of ``spec`` into a :class:`MemoryDataset`.

    Splits: ``by_subject`` (subject -> sequence ids) and ``by_sequence`` (the last subject's
    takes are ``test``, the second-to-last's ``val`` when there are 3+ subjects, the rest
    ``train``).
    """
    from acquisition.sim import ACTIONS

    spec = spec or SimulatedDatasetSpec()
    for action in spec.actions:
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}; known: {', '.join(ACTIONS)}")
    rng = np.random.default_rng(spec.seed)
    sequences: dict[str, MemorySequence] = {}
    by_subject: dict[str, list[str]] = {}
    for s in range(spec.subjects):
        subject = f"S{s + 1:02d}"
        subject_seed = int(np.random.SeedSequence([spec.seed, s]).generate_state(1)[0])
        for a, action in enumerate(spec.actions):
            seq_id = f"sim_{subject}_{action}"
            maps, labels = simulate_sequence(
                subject_seed=subject_seed,
                action=action,
                frames=spec.frames,
                noise_seed=spec.seed * 1000 + s * 31 + a,
                compact=spec.compact,
            )
            masks: dict[str, NDArray[np.bool_]] = {}
            for name in RADAR_NAMES:
                lost = rng.random(spec.frames) < spec.lost_radar_fraction
                maps[name][lost] = complex(math.nan, math.nan)
                masks[f"radar/{name}"] = ~lost
            unlabelled = rng.random(spec.frames) < spec.unlabelled_fraction
            for schema, lab in labels.items():
                masks[f"labels/{schema}"] = ~unlabelled
                lab["valid"] = lab["valid"] & ~unlabelled[:, None]
            sequences[seq_id] = MemorySequence(
                num_frames=spec.frames,
                attrs={
                    "session": "sim",
                    "take": seq_id,
                    "subject": subject,
                    "action": action,
                    "scene": "sim_room",
                },
                radar_data={name: {"vrdae": maps[name]} for name in RADAR_NAMES},
                masks=masks,
                label_sets=labels,
            )
            by_subject.setdefault(subject, []).append(seq_id)
    return MemoryDataset(
        sequences=sequences,
        splits=subject_splits(sequences, by_subject),
        attrs={"simulated": True, "vrdae_compact": spec.compact, "spec": repr(spec)},
    )
