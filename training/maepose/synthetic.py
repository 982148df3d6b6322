"""A tiny in-memory RD / RA dataset with ``maepose13`` labels, for tests and benchmarks.

Not a radar simulation (use ``acq-record`` + ``dataset-build`` on the simulated rig for that):
each frame's RD map holds a bright return whose Doppler bin follows the right wrist's vertical
velocity and whose range bin follows the body's scale, the RA map one whose azimuth follows the
wrist's x, over noise, in dB. Labels: a fixed pose per subject, the right arm waving; 3-D joints
are the 2-D ones times 1 cm per pixel at 3 m depth (so metric errors are pixel errors / 100).
"""

from __future__ import annotations

import numpy as np

from training.data.memory import MemoryDataset, MemorySequence, subject_splits

IMAGE = 128
_BASE = np.array(
    [
        [64, 20], [54, 38], [50, 56], [48, 72], [74, 38], [78, 56], [80, 72],
        [58, 76], [70, 76], [57, 98], [71, 98], [56, 120], [72, 120],
    ],
    dtype=np.float64,
)  # fmt: skip


def synthetic_maepose_dataset(
    *,
    subjects: int = 3,
    takes_per_subject: int = 1,
    frames: int = 40,
    doppler: int = 16,
    ranges: int = 32,
    azimuths: int = 16,
    seed: int = 0,
    unlabelled_takes: int = 0,
) -> MemoryDataset:
    """Sequences ``S0k_take{i}`` (radar ``horizontal``, representations ``rd`` (F, D, Rg) and
    ``ra`` (F, Rg, A) float32 dB) with ``maepose13`` labels, plus ``unlabelled_takes`` per
    subject without any labels. Splits: ``by_subject`` and ``by_sequence`` (last subject test,
    second-to-last val)."""
    rng = np.random.default_rng(seed)
    sequences: dict[str, MemorySequence] = {}
    by_subject: dict[str, list[str]] = {}
    t = np.arange(frames) / 10.0
    for s in range(subjects):
        subject = f"S{s + 1:02d}"
        scale = 1.0 + 0.08 * (s - subjects / 2)
        for q in range(takes_per_subject + unlabelled_takes):
            rate = rng.uniform(0.6, 1.2)
            phase = rng.uniform(0, 2 * np.pi)
            kp = np.repeat((_BASE - 64.0)[None] * scale + 64.0, frames, axis=0)
            wave = np.sin(2 * np.pi * rate * t + phase)
            kp[:, 6, 1] = 72 - 40 * (0.5 + 0.5 * wave)  # right wrist up and down
            kp[:, 5, 1] = 56 - 16 * (0.5 + 0.5 * wave)
            vel = np.gradient(kp[:, 6, 1])
            rd = rng.normal(-60.0, 3.0, (frames, doppler, ranges))
            ra = rng.normal(-60.0, 3.0, (frames, ranges, azimuths))
            r_bin = int(np.clip(ranges // 2 + 4 * (scale - 1) * ranges, 2, ranges - 3))
            for f in range(frames):
                d_bin = int(np.clip(doppler // 2 + vel[f] / 2.0, 0, doppler - 1))
                a_bin = int(np.clip(kp[f, 6, 0] / IMAGE * azimuths, 0, azimuths - 1))
                rd[f, doppler // 2, r_bin - 2 : r_bin + 3] += 30.0  # torso, zero Doppler
                rd[f, d_bin, r_bin] += 25.0
                ra[f, r_bin - 1 : r_bin + 2, azimuths // 2] += 30.0
                ra[f, r_bin, a_bin] += 20.0 + 0.3 * (72 - kp[f, 6, 1])
            labelled = q < takes_per_subject
            seq_id = f"{subject}_take{q + 1}" if labelled else f"{subject}_unlabelled{q + 1}"
            label_sets = {}
            if labelled:
                k3 = np.concatenate([(kp - 64.0) * 0.01, np.full((frames, 13, 1), 3.0)], axis=-1)
                label_sets["maepose13"] = {
                    "keypoints_2d": np.concatenate([kp, np.ones((frames, 13, 1))], -1).astype(
                        np.float32
                    ),
                    "keypoints_3d": k3.astype(np.float32),
                    "valid": np.ones((frames, 13), dtype=bool),
                    "boxes": np.tile(np.array([[0, 0, IMAGE, IMAGE]], np.float32), (frames, 1)),
                    "image_size": (IMAGE, IMAGE),
                }
            sequences[seq_id] = MemorySequence(
                num_frames=frames,
                attrs={
                    "session": "synthetic",
                    "take": seq_id,
                    "subject": subject,
                    "action": "wave",
                    "scene": "none",
                },
                radar_data={
                    "horizontal": {"rd": rd.astype(np.float32), "ra": ra.astype(np.float32)}
                },
                label_sets=label_sets,
            )
            by_subject.setdefault(subject, []).append(seq_id)
    return MemoryDataset(
        sequences=sequences,
        splits=subject_splits(sequences, by_subject),
    )
