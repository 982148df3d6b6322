"""Privacy: face blurring from the labels' head joints, subject pseudonyms.

Faces are located from the 2-D keypoints of the frame (nose, eyes, ears, head top of the SIM-20 /
COCO-17 schemas; ``Head`` and ``Neck`` of HuPR-14): a square around the head joints, sized from
their spread or, with a single joint, from the shoulder width, is Gaussian-blurred in place.
A frame without head joints is left as is and counted (the report says how many).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageFilter

HEAD_JOINTS = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "head_top", "Head")
SHOULDERS = (("left_shoulder", "right_shoulder"), ("L_Shoulder", "R_Shoulder"))


def face_boxes(
    keypoints_2d: NDArray[np.floating], joint_names: list[str], *, min_size: float = 16.0
) -> NDArray[np.float32]:
    """(F, 4) x1, y1, x2, y2 face squares in pixels from (F, J, 2+) keypoints; NaN when none."""
    idx = [joint_names.index(n) for n in HEAD_JOINTS if n in joint_names]
    kp = np.asarray(keypoints_2d, dtype=np.float64)[..., :2]
    out = np.full((kp.shape[0], 4), np.nan, np.float32)
    if not idx:
        return out
    head = kp[:, idx]
    shoulder_w = np.full(kp.shape[0], np.nan)
    for left, right in SHOULDERS:
        if left in joint_names and right in joint_names:
            d = kp[:, joint_names.index(left)] - kp[:, joint_names.index(right)]
            shoulder_w = np.linalg.norm(d, axis=-1)
    for f in range(kp.shape[0]):
        pts = head[f][np.isfinite(head[f]).all(axis=-1)]
        if not len(pts):
            continue
        centre = pts.mean(axis=0)
        spread = float(np.ptp(pts, axis=0).max()) if len(pts) > 1 else 0.0
        size = max(min_size, 1.6 * spread, 0.6 * float(np.nan_to_num(shoulder_w[f])))
        out[f] = [
            centre[0] - size / 2,
            centre[1] - size / 2,
            centre[0] + size / 2,
            centre[1] + size / 2,
        ]
    return out


def blur_regions(image: NDArray[np.uint8], boxes: NDArray[np.float32]) -> NDArray[np.uint8]:
    """Gaussian-blur the given (K, 4) pixel boxes of an (H, W, 3) image (a blurred copy)."""
    h, w = image.shape[:2]
    pil = Image.fromarray(image)
    for box in np.atleast_2d(boxes):
        if not np.isfinite(box).all():
            continue
        x1, y1 = max(0, int(box[0])), max(0, int(box[1]))
        x2, y2 = min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3])))
        if x2 - x1 < 2 or y2 - y1 < 2:
            continue
        region = pil.crop((x1, y1, x2, y2))
        radius = max(2.0, (x2 - x1) / 6)
        pil.paste(region.filter(ImageFilter.GaussianBlur(radius)), (x1, y1))
    return np.asarray(pil)


@dataclass(frozen=True)
class Pseudonymizer:
    """Maps subject ids to pseudonyms.

    ``keep`` (manifests already hold pseudonyms), ``hash:<secret>`` (``P`` + 8 hex digits of
    HMAC-SHA256(secret, subject): stable across datasets built with the same secret, not
    reversible without it) or a JSON file ``{"subject": "pseudonym", ...}``.
    """

    spec: str = "keep"

    def __call__(self, subject: str | None) -> str | None:
        if subject is None or self.spec == "keep":
            return subject
        if self.spec.startswith("hash:"):
            key = self.spec.removeprefix("hash:").encode()
            return "P" + hmac.new(key, subject.encode(), hashlib.sha256).hexdigest()[:8]
        mapping = json.loads(Path(self.spec).read_text())
        if subject not in mapping:
            raise KeyError(f"subject {subject!r} has no pseudonym in {self.spec}")
        return str(mapping[subject])

    @property
    def method(self) -> str:
        if self.spec == "keep":
            return "keep (recording subject ids)"
        if self.spec.startswith("hash:"):
            return "hmac-sha256 with a secret key (not stored)"
        return f"mapping file {Path(self.spec).name}"

    def scrub(self, text: str, subject: str | None) -> str:
        """``text`` with the real subject id replaced by its pseudonym (take names, paths)."""
        if subject is None or self.spec == "keep":
            return text
        return text.replace(subject, self(subject) or "")
