"""Subject selection and tracking with a synthetic bystander."""

from __future__ import annotations

import numpy as np
import pytest

from labeling.tracking import (
    FLAG_MULTIPLE_CANDIDATES,
    FLAG_NO_SUBJECT,
    TrackingConfig,
    box_iou,
    track_subject,
)

SIZE = (640, 480)


def _box(cx: float, cy: float, w: float, h: float, score: float = 0.9) -> list[float]:
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, score]


def test_box_iou() -> None:
    a = np.array([[0, 0, 10, 10]], dtype=float)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], dtype=float)
    np.testing.assert_allclose(box_iou(a, b), [[1.0, 1 / 3, 0.0]])


def test_subject_followed_while_a_bystander_walks_across() -> None:
    frames = []
    for i in range(60):
        subject = _box(320 + 3 * np.sin(i / 5), 240, 120, 300)
        bystander_x = 40 + 10 * i  # walks left to right, smaller (farther away)
        bystander = _box(bystander_x, 220, 70, 180, 0.8)
        frames.append(np.array([bystander, subject]))  # detector order carries no meaning
    track = track_subject(frames, SIZE)
    # Locked on the first frame: the subject is clearly the largest person.
    assert track.detection_index[0] == 1
    overlap = np.array([box_iou(np.array(f[1][:4])[None], np.array(f[0][:4])[None])[0, 0]
                        for f in frames])  # fmt: skip
    ambiguous = (track.flags & FLAG_MULTIPLE_CANDIDATES) != 0
    assert ambiguous.any()
    # Never the bystander: every chosen box is the subject's.
    chosen = track.detection_index >= 0
    assert (track.detection_index[chosen] == 1).all()
    # Frames flagged are exactly those where the bystander overlaps the subject.
    assert (overlap[ambiguous] > 0).all()
    assert set(track.track_id[chosen]) == {0}
    assert chosen.sum() > 40


def test_two_equal_people_at_the_start_are_not_guessed() -> None:
    frames = [np.array([_box(200, 240, 100, 300), _box(440, 240, 100, 300)])] * 5
    track = track_subject(frames, SIZE)
    assert (track.detection_index == -1).all()
    assert (track.flags == FLAG_MULTIPLE_CANDIDATES).all()
    assert (track.num_candidates == 2).all()


def test_lost_subject_is_flagged_and_reacquired_with_a_new_track() -> None:
    cfg = TrackingConfig(max_lost_frames=2)
    seq = [np.array([_box(320, 240, 100, 300)])] * 3
    seq += [np.zeros((0, 5))] * 4
    seq += [np.array([_box(100, 240, 100, 300), _box(600, 240, 20, 40, 0.2)])] * 3
    track = track_subject(seq, SIZE, cfg)
    assert (track.flags[3:7] == FLAG_NO_SUBJECT).all()
    assert track.track_id.tolist() == [0, 0, 0, -1, -1, -1, -1, 1, 1, 1]
    assert (track.num_candidates[7:] == 1).all()  # low score detection is no candidate


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="min_iou"):
        TrackingConfig(min_iou=0.0)
