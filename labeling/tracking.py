"""Choosing and following the recorded subject among the people detected in each frame.

Bystanders walk through takes (MAEPose evaluates with one). The tracker never guesses: a frame
gets a subject box only when exactly one candidate is plausible, and is flagged otherwise.

Rules (online, frame by frame, one subject):

* candidates are person detections with ``score >= min_score`` and an area of at least
  ``min_area_fraction`` of the image;
* while no track is locked, a frame with one candidate locks it; with several, the largest one
  locks only if its area is ``dominance_ratio`` times the next one's (the subject is the person
  closest to the rig); otherwise the frame is ``MULTIPLE_CANDIDATES``;
* a locked track continues with the candidate of highest IoU with the last subject box, when that
  IoU is at least ``min_iou``. When a second candidate also overlaps the last box by
  ``min_iou`` or more (a bystander crossing in front of or behind the subject) the frame is
  ``MULTIPLE_CANDIDATES`` and the track keeps its last box (ambiguous frames do not count as
  lost);
* a track not matched for more than ``max_lost_frames`` frames is dropped; frames without a
  subject are ``NO_SUBJECT``. A new lock starts a new ``track_id``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "FLAG_BITS",
    "FLAG_FRAME_INVALID",
    "FLAG_LOW_CONFIDENCE",
    "FLAG_MULTIPLE_CANDIDATES",
    "FLAG_NO_DEPTH",
    "FLAG_NO_SUBJECT",
    "SubjectTrack",
    "SubjectTracker",
    "TrackingConfig",
    "box_iou",
    "track_subject",
]

FLAG_NO_SUBJECT = 1
FLAG_MULTIPLE_CANDIDATES = 2
FLAG_LOW_CONFIDENCE = 4
FLAG_NO_DEPTH = 8
FLAG_FRAME_INVALID = 16
FLAG_BITS: dict[str, int] = {
    "no_subject": FLAG_NO_SUBJECT,
    "multiple_candidates": FLAG_MULTIPLE_CANDIDATES,
    "low_confidence": FLAG_LOW_CONFIDENCE,
    "no_depth": FLAG_NO_DEPTH,
    "frame_invalid": FLAG_FRAME_INVALID,
}


@dataclass(frozen=True)
class TrackingConfig:
    """Subject selection thresholds (see the module docstring)."""

    min_score: float = 0.5
    min_area_fraction: float = 0.005
    dominance_ratio: float = 1.5
    min_iou: float = 0.3
    max_lost_frames: int = 5

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_score <= 1.0:
            raise ValueError(f"tracking.min_score must be in [0, 1], got {self.min_score}")
        if not 0.0 < self.min_iou < 1.0:
            raise ValueError(f"tracking.min_iou must be in (0, 1), got {self.min_iou}")
        if self.dominance_ratio < 1.0:
            raise ValueError(f"tracking.dominance_ratio must be >= 1, got {self.dominance_ratio}")
        if self.max_lost_frames < 0:
            raise ValueError("tracking.max_lost_frames must be >= 0")


def box_iou(a: NDArray[np.floating], b: NDArray[np.floating]) -> NDArray[np.float64]:
    """IoU matrix (N, M) of (N, 4) and (M, 4) ``x1, y1, x2, y2`` boxes."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


@dataclass
class SubjectTrack:
    """Per-frame result of subject selection over F frames.

    Attributes:
        box: (F, 4) subject box ``x1, y1, x2, y2`` pixels, NaN where none.
        score: (F,) detection score of the subject box, NaN where none.
        detection_index: (F,) index of the chosen detection in that frame's list, -1 where none.
        track_id: (F,) 0, 1, ... per lock (a re-acquisition after a loss is a new id), -1 none.
        num_candidates: (F,) number of candidates (detections passing the thresholds).
        flags: (F,) uint8 bitmask of ``FLAG_*``.
    """

    box: NDArray[np.float64]
    score: NDArray[np.float64]
    detection_index: NDArray[np.int64]
    track_id: NDArray[np.int32]
    num_candidates: NDArray[np.int16]
    flags: NDArray[np.uint8]


class SubjectTracker:
    """Online subject tracker: feed one frame's detections at a time with :meth:`update`."""

    def __init__(self, config: TrackingConfig, image_size: tuple[int, int]) -> None:
        self.config = config
        self.image_area = float(image_size[0] * image_size[1])
        self._last_box: NDArray[np.float64] | None = None
        self._lost = 0
        self._next_id = 0
        self._track_id = -1

    def update(self, detections: NDArray[np.floating]) -> tuple[int, int, int, int]:
        """One frame.

        Args:
            detections: (N, 5) ``x1, y1, x2, y2, score`` person detections.

        Returns:
            ``(detection_index, track_id, num_candidates, flags)``; index -1 when no subject.
        """
        cfg = self.config
        det = np.asarray(detections, dtype=np.float64).reshape(-1, 5)
        area = (det[:, 2] - det[:, 0]) * (det[:, 3] - det[:, 1])
        cand = np.flatnonzero(
            (det[:, 4] >= cfg.min_score) & (area >= cfg.min_area_fraction * self.image_area)
        )
        n = int(cand.size)
        if self._last_box is not None:
            if n:
                iou = box_iou(self._last_box[None], det[cand, :4])[0]
                order = np.argsort(-iou)
                if iou[order[0]] >= cfg.min_iou:
                    if n > 1 and iou[order[1]] >= cfg.min_iou:
                        # Still there, but which one it is cannot be told: keep the lock.
                        return -1, -1, n, FLAG_MULTIPLE_CANDIDATES
                    chosen = int(cand[order[0]])
                    self._last_box = det[chosen, :4].copy()
                    self._lost = 0
                    return chosen, self._track_id, n, 0
            self._lose()
            if self._last_box is not None:
                return -1, -1, n, FLAG_NO_SUBJECT
        # No locked track: lock only on an unambiguous frame.
        if n == 0:
            return -1, -1, 0, FLAG_NO_SUBJECT
        if n > 1:
            areas = np.sort(area[cand])[::-1]
            if areas[0] < cfg.dominance_ratio * areas[1]:
                return -1, -1, n, FLAG_MULTIPLE_CANDIDATES
        chosen = int(cand[np.argmax(area[cand])])
        self._last_box = det[chosen, :4].copy()
        self._lost = 0
        self._track_id = self._next_id
        self._next_id += 1
        return chosen, self._track_id, n, 0

    def _lose(self) -> None:
        self._lost += 1
        if self._lost > self.config.max_lost_frames:
            self._last_box = None
            self._track_id = -1


def track_subject(
    detections: Sequence[NDArray[np.floating]],
    image_size: tuple[int, int],
    config: TrackingConfig | None = None,
) -> SubjectTrack:
    """Run :class:`SubjectTracker` over a sequence of per-frame (N_i, 5) detections."""
    tracker = SubjectTracker(config or TrackingConfig(), image_size)
    f = len(detections)
    out = SubjectTrack(
        box=np.full((f, 4), np.nan),
        score=np.full(f, np.nan),
        detection_index=np.full(f, -1, dtype=np.int64),
        track_id=np.full(f, -1, dtype=np.int32),
        num_candidates=np.zeros(f, dtype=np.int16),
        flags=np.zeros(f, dtype=np.uint8),
    )
    for i, det in enumerate(detections):
        d = np.asarray(det, dtype=np.float64).reshape(-1, 5)
        index, track_id, n, flags = tracker.update(d)
        out.detection_index[i] = index
        out.track_id[i] = track_id
        out.num_candidates[i] = n
        out.flags[i] = flags
        if index >= 0:
            out.box[i] = d[index, :4]
            out.score[i] = d[index, 4]
    return out
