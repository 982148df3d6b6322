"""A dataset held in memory that implements :mod:`training.data.protocols`.

For tests and for small simulated runs (``training.data.simulated``); real work reads built
datasets through ``dataset_tools.dataset.open_dataset``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray


@dataclass
class MemorySequence:
    """One sequence.

    Attributes:
        num_frames: F.
        attrs: session, take, subject, action, scene, ...
        radar_data: radar -> representation -> (F, ...) array.
        masks: stream name (``radar/<r>``, ``labels/<schema>``, ...) -> (F,) bool.
        label_sets: schema -> dict with ``keypoints_2d`` (F, J, 3), ``keypoints_3d`` (F, J, 3),
            ``valid`` (F, J), ``boxes`` (F, 4), ``image_size`` (w, h).
    """

    num_frames: int
    attrs: dict[str, Any]
    radar_data: dict[str, dict[str, NDArray[Any]]]
    masks: dict[str, NDArray[np.bool_]] = field(default_factory=dict)
    label_sets: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def radars(self) -> list[str]:
        return list(self.radar_data)

    def representations(self, radar: str) -> list[str]:
        return list(self.radar_data[radar])

    def read(
        self,
        radar: str,
        representation: str,
        start: int,
        stop: int,
        *,
        index: tuple[Any, ...] = (),
    ) -> NDArray[Any]:
        if not 0 <= start <= stop <= self.num_frames:
            raise IndexError(f"frames [{start}, {stop}) outside [0, {self.num_frames})")
        data: NDArray[Any] = self.radar_data[radar][representation][(slice(start, stop), *index)]
        return data

    def mask(self, stream: str) -> NDArray[np.bool_]:
        if stream in self.masks:
            return self.masks[stream]
        kind, _, name = stream.partition("/")
        known = (kind == "radar" and name in self.radar_data) or (
            kind == "labels" and name in self.label_sets
        )
        if not known:
            raise KeyError(f"no stream {stream!r}")
        return np.ones(self.num_frames, dtype=bool)

    @property
    def label_schemas(self) -> list[str]:
        return list(self.label_sets)

    def labels(self, schema: str) -> Mapping[str, Any]:
        return self.label_sets[schema]


@dataclass
class MemoryDataset:
    """Sequences by id plus named splits."""

    sequences: dict[str, MemorySequence]
    splits: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def sequence_ids(self) -> list[str]:
        return list(self.sequences)

    def sequence(self, seq_id: str) -> MemorySequence:
        return self.sequences[seq_id]


def subject_splits(
    sequences: Mapping[str, Any], by_subject: dict[str, list[str]]
) -> dict[str, Any]:
    """Splits of an in-memory dataset: the last subject (in insertion order) is the test set, the
    one before it the validation set (when there are that many), the rest trains."""
    names = list(by_subject)
    test = by_subject[names[-1]] if len(names) > 1 else []
    val = by_subject[names[-2]] if len(names) > 2 else []
    train = [q for q in sequences if q not in test and q not in val]
    return {"by_sequence": {"train": train, "val": val, "test": test}, "by_subject": by_subject}


def random_memory_dataset(
    *,
    subjects: int = 3,
    sequences_per_subject: int = 1,
    frames: int = 20,
    radars: tuple[str, ...] = ("horizontal", "vertical"),
    frame_shape: tuple[int, ...] = (4, 16, 16, 2),
    num_joints: int = 14,
    schema: str = "hupr14",
    image_size: tuple[int, int] = (64, 64),
    seed: int = 0,
) -> MemoryDataset:
    """A small dataset of random complex ``vrdae``-like frames (F, *frame_shape) whose labels
    depend on the data (joint positions follow the frame's mean power), for fast tests.

    Splits: ``by_subject`` and ``by_sequence`` (last subject test, second-to-last val).
    """
    rng = np.random.default_rng(seed)
    sequences: dict[str, MemorySequence] = {}
    by_subject: dict[str, list[str]] = {}
    w, h = image_size
    base = rng.uniform(0.3, 0.7, (num_joints, 2)) * np.array([w, h])
    for s in range(subjects):
        subject = f"S{s + 1:02d}"
        for q in range(sequences_per_subject):
            seq_id = f"{subject}_take{q + 1}"
            data = {
                r: (
                    rng.normal(size=(frames, *frame_shape))
                    + 1j * rng.normal(size=(frames, *frame_shape))
                ).astype(np.complex64)
                for r in radars
            }
            power = np.abs(data[radars[0]]).reshape(frames, -1).mean(1)
            shift = (power - power.mean()) / (power.std() + 1e-9)
            kp = base[None] + 4.0 * shift[:, None, None]
            kp2 = np.concatenate([kp, np.ones((frames, num_joints, 1))], -1).astype(np.float32)
            labels = {
                "keypoints_2d": kp2,
                "keypoints_3d": rng.normal(size=(frames, num_joints, 3)).astype(np.float32),
                "valid": np.ones((frames, num_joints), dtype=bool),
                "boxes": np.tile(np.array([[0, 0, w, h]], dtype=np.float32), (frames, 1)),
                "image_size": image_size,
            }
            sequences[seq_id] = MemorySequence(
                num_frames=frames,
                attrs={
                    "session": "fake",
                    "take": seq_id,
                    "subject": subject,
                    "action": "random",
                    "scene": "none",
                },
                radar_data={r: {"vrdae": data[r]} for r in radars},
                label_sets={schema: labels},
            )
            by_subject.setdefault(subject, []).append(seq_id)
    return MemoryDataset(sequences=sequences, splits=subject_splits(sequences, by_subject))
