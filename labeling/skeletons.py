"""Skeleton schemas as data, and conversion between them.

A :class:`SkeletonSchema` names its joints in order, gives each joint's parent (for drawing and
bone-length checks), left/right flip pairs and, where published, the COCO OKS sigmas.

Conversion works through *landmarks*: every joint of every schema is tagged with the anatomical
landmark it stands for. A target joint is

1. copied when the source schema has the same landmark;
2. derived when the landmark is defined as the mean of other landmarks that the source has
   (:data:`DERIVED_LANDMARKS`, e.g. ``mid_shoulders`` = mean of both shoulders); every component
   must be valid, otherwise the derived joint is missing;
3. approximated, only with ``approximate=True`` (the default), when :data:`APPROXIMATE_LANDMARKS`
   names a landmark that the source gives by rule 1 or 2 and whose definition differs by a few
   centimetres at most (e.g. Azure Kinect's ``NECK`` from COCO's mid-shoulders);
4. otherwise missing: NaN and ``valid == False``. Nothing is invented (no hand tips from
   wrists, no spine from a guess of its curvature).

Definitions used here (document them in any dataset built with them):

- HuPR-14 ``Neck`` = mid-shoulders, ``Head`` = mid-ears. HuPR's pseudo ground truth comes from a
  COCO-17 HRNet and its 14 joints drop the face; its code does not state the derivation, so the
  two definitions closest to the head/neck centres are used. Both ears must be valid for
  ``Head`` (in profile the far ear is often low-confidence: the head is then missing rather than
  moved to the nose).
- MAEPose-13 = COCO-17 without eyes and ears, in the order of the MAEPose paper.
- SIM-20 = the simulator's ``SIM_JOINTS`` (acquisition/sim/person.py): COCO-17 then ``neck``
  (exactly mid-shoulders in the simulator), ``head_top`` and ``pelvis`` (exactly mid-hips).
- Kinect-32 = Azure Kinect Body Tracking SDK joint order (``K4ABT_JOINT_*``). Its hips,
  knees, ankles, shoulders, elbows, wrists, nose, eyes and ears are treated as the COCO landmarks;
  ``PELVIS``, ``NECK`` and ``HEAD`` are approximated by mid-hips, mid-shoulders and mid-ears.
- SMPL-24 = SMPL body joints (regressed from the mesh). Its hips sit inside the pelvis, a few
  centimetres from COCO's annotated hips: approximate only. ``pelvis``, ``neck`` and ``head`` as
  for Kinect.

Pure numpy; no torch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "APPROXIMATE_LANDMARKS",
    "COCO17",
    "DERIVED_LANDMARKS",
    "HUPR14",
    "KINECT32",
    "MAEPOSE13",
    "SCHEMAS",
    "SIM20",
    "SMPL24",
    "SkeletonSchema",
    "conversion_table",
    "convert",
    "get_schema",
]


@dataclass(frozen=True)
class SkeletonSchema:
    """One skeleton definition.

    Attributes:
        name: registry key (lower case, e.g. ``"hupr14"``).
        joints: joint names in the schema's own spelling and order (J,).
        landmarks: anatomical landmark of each joint (J,), the vocabulary used by :func:`convert`.
        parents: parent index of each joint for drawing, ``-1`` for a root (J,).
        flip_pairs: (left, right) index pairs swapped by a horizontal flip.
        oks_sigmas: per-joint COCO OKS sigmas (J,), or ``None`` where none is published.
        description: where the order and definitions come from.
    """

    name: str
    joints: tuple[str, ...]
    landmarks: tuple[str, ...]
    parents: tuple[int, ...]
    flip_pairs: tuple[tuple[int, int], ...] = ()
    oks_sigmas: tuple[float, ...] | None = None
    description: str = ""
    _index: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        j = len(self.joints)
        if len(self.landmarks) != j or len(self.parents) != j:
            raise ValueError(f"schema {self.name}: joints, landmarks and parents differ in length")
        if len(set(self.joints)) != j or len(set(self.landmarks)) != j:
            raise ValueError(f"schema {self.name}: duplicate joint or landmark names")
        for i, p in enumerate(self.parents):
            if not -1 <= p < j or p == i:
                raise ValueError(f"schema {self.name}: bad parent {p} for joint {self.joints[i]}")
        if self.oks_sigmas is not None and len(self.oks_sigmas) != j:
            raise ValueError(f"schema {self.name}: {len(self.oks_sigmas)} sigmas for {j} joints")
        for a, b in self.flip_pairs:
            if not (0 <= a < j and 0 <= b < j):
                raise ValueError(f"schema {self.name}: bad flip pair ({a}, {b})")
        self._index.update({n: i for i, n in enumerate(self.joints)})

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    @property
    def edges(self) -> tuple[tuple[int, int], ...]:
        """(parent, child) index pairs for drawing, in joint order."""
        return tuple((p, i) for i, p in enumerate(self.parents) if p >= 0)

    def index(self, joint: str) -> int:
        """Index of ``joint`` (schema spelling)."""
        try:
            return self._index[joint]
        except KeyError:
            raise KeyError(f"schema {self.name} has no joint {joint!r}") from None

    def sigmas_array(self) -> NDArray[np.float64]:
        """OKS sigmas as an array (J,); raises when the schema has none."""
        if self.oks_sigmas is None:
            raise ValueError(f"schema {self.name} has no published OKS sigmas")
        return np.asarray(self.oks_sigmas, dtype=np.float64)


# Landmarks defined as the mean of other landmarks (exact by definition).
DERIVED_LANDMARKS: dict[str, tuple[str, ...]] = {
    "mid_shoulders": ("left_shoulder", "right_shoulder"),
    "mid_hips": ("left_hip", "right_hip"),
    "mid_ears": ("left_ear", "right_ear"),
    "mid_eyes": ("left_eye", "right_eye"),
}

# Landmark -> a landmark whose definition differs by a few centimetres at most; used only with
# ``approximate=True``. Both directions are listed where both make sense.
APPROXIMATE_LANDMARKS: dict[str, str] = {
    "kinect_pelvis": "mid_hips",
    "kinect_neck": "mid_shoulders",
    "kinect_head": "mid_ears",
    "smpl_pelvis": "mid_hips",
    "smpl_neck": "mid_shoulders",
    "smpl_head": "mid_ears",
    "smpl_left_hip": "left_hip",
    "smpl_right_hip": "right_hip",
    "left_hip": "smpl_left_hip",
    "right_hip": "smpl_right_hip",
    "mid_hips": "kinect_pelvis",
    "mid_shoulders": "kinect_neck",
    "mid_ears": "kinect_head",
}

_COCO_LANDMARKS: tuple[str, ...] = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
_COCO_SIGMAS = (
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072,
    0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089,
)  # fmt: skip
_COCO_SIGMA = dict(zip(_COCO_LANDMARKS, _COCO_SIGMAS, strict=True))


def _parents(names: Sequence[str], pairs: Mapping[str, str | None]) -> tuple[int, ...]:
    idx = {n: i for i, n in enumerate(names)}
    out = []
    for n in names:
        parent = pairs[n]
        out.append(-1 if parent is None else idx[parent])
    return tuple(out)


def _flips(names: Sequence[str], left: str, right: str) -> tuple[tuple[int, int], ...]:
    idx = {n: i for i, n in enumerate(names)}
    out = []
    for n, i in idx.items():
        if left in n:
            other = n.replace(left, right)
            if other in idx:
                out.append((i, idx[other]))
    return tuple(out)


# COCO-17: the nose is the root; the drawing edges are the usual COCO limbs as a tree.
_COCO_PARENT: dict[str, str | None] = {
    "nose": None,
    "left_eye": "nose",
    "right_eye": "nose",
    "left_ear": "left_eye",
    "right_ear": "right_eye",
    "left_shoulder": "nose",
    "right_shoulder": "nose",
    "left_elbow": "left_shoulder",
    "right_elbow": "right_shoulder",
    "left_wrist": "left_elbow",
    "right_wrist": "right_elbow",
    "left_hip": "left_shoulder",
    "right_hip": "right_shoulder",
    "left_knee": "left_hip",
    "right_knee": "right_hip",
    "left_ankle": "left_knee",
    "right_ankle": "right_knee",
}

COCO17 = SkeletonSchema(
    name="coco17",
    joints=_COCO_LANDMARKS,
    landmarks=_COCO_LANDMARKS,
    parents=_parents(_COCO_LANDMARKS, _COCO_PARENT),
    flip_pairs=_flips(_COCO_LANDMARKS, "left_", "right_"),
    oks_sigmas=_COCO_SIGMAS,
    description="COCO person keypoints (17), COCO order; OKS sigmas of the COCO evaluation.",
)

_HUPR_JOINTS = (
    "R_Hip", "R_Knee", "R_Ankle", "L_Hip", "L_Knee", "L_Ankle", "Neck", "Head",
    "L_Shoulder", "L_Elbow", "L_Wrist", "R_Shoulder", "R_Elbow", "R_Wrist",
)  # fmt: skip
_HUPR_LANDMARKS = (
    "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "mid_shoulders", "mid_ears", "left_shoulder", "left_elbow", "left_wrist",
    "right_shoulder", "right_elbow", "right_wrist",
)  # fmt: skip
_HUPR_SIGMAS = (
    0.107, 0.087, 0.089, 0.107, 0.087, 0.089, 0.100, 0.100,
    0.079, 0.072, 0.062, 0.079, 0.072, 0.062,
)  # fmt: skip
HUPR14 = SkeletonSchema(
    name="hupr14",
    joints=_HUPR_JOINTS,
    landmarks=_HUPR_LANDMARKS,
    parents=_parents(
        _HUPR_JOINTS,
        {
            "Neck": None,
            "Head": "Neck",
            "R_Hip": "Neck",
            "L_Hip": "Neck",
            "R_Knee": "R_Hip",
            "R_Ankle": "R_Knee",
            "L_Knee": "L_Hip",
            "L_Ankle": "L_Knee",
            "L_Shoulder": "Neck",
            "L_Elbow": "L_Shoulder",
            "L_Wrist": "L_Elbow",
            "R_Shoulder": "Neck",
            "R_Elbow": "R_Shoulder",
            "R_Wrist": "R_Elbow",
        },
    ),
    flip_pairs=_flips(_HUPR_JOINTS, "L_", "R_"),
    oks_sigmas=_HUPR_SIGMAS,
    description=(
        "HuPR (WACV 2023) 14 joints in the authors' order; Neck = mid-shoulders, Head = mid-ears "
        "(derived from COCO-17); OKS sigmas of the HuPR evaluation code."
    ),
)

_MAEPOSE_LANDMARKS = (
    "nose", "left_shoulder", "left_elbow", "left_wrist", "right_shoulder", "right_elbow",
    "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle",
)  # fmt: skip
MAEPOSE13 = SkeletonSchema(
    name="maepose13",
    joints=_MAEPOSE_LANDMARKS,
    landmarks=_MAEPOSE_LANDMARKS,
    parents=_parents(_MAEPOSE_LANDMARKS, _COCO_PARENT),
    flip_pairs=_flips(_MAEPOSE_LANDMARKS, "left_", "right_"),
    oks_sigmas=tuple(_COCO_SIGMA[n] for n in _MAEPOSE_LANDMARKS),
    description="MAEPose 13 joints (COCO-17 without eyes and ears) in the paper's order.",
)

# Simulator skeleton; must equal acquisition.sim.person.SIM_JOINTS (checked by a test, not
# imported, so that this module stays free of the simulator).
_SIM_JOINTS = (*_COCO_LANDMARKS, "neck", "head_top", "pelvis")
SIM20 = SkeletonSchema(
    name="sim20",
    joints=_SIM_JOINTS,
    landmarks=(*_COCO_LANDMARKS, "mid_shoulders", "head_top", "mid_hips"),
    parents=_parents(
        _SIM_JOINTS,
        {
            **_COCO_PARENT,
            "pelvis": None,
            "neck": "pelvis",
            "head_top": "neck",
            "nose": "neck",
            "left_shoulder": "neck",
            "right_shoulder": "neck",
            "left_hip": "pelvis",
            "right_hip": "pelvis",
        },
    ),
    flip_pairs=_flips(_SIM_JOINTS, "left_", "right_"),
    oks_sigmas=None,
    description="Simulator joints: COCO-17 + neck (mid-shoulders), head_top, pelvis (mid-hips).",
)

_KINECT_JOINTS = (
    "PELVIS", "SPINE_NAVEL", "SPINE_CHEST", "NECK", "CLAVICLE_LEFT", "SHOULDER_LEFT",
    "ELBOW_LEFT", "WRIST_LEFT", "HAND_LEFT", "HANDTIP_LEFT", "THUMB_LEFT", "CLAVICLE_RIGHT",
    "SHOULDER_RIGHT", "ELBOW_RIGHT", "WRIST_RIGHT", "HAND_RIGHT", "HANDTIP_RIGHT", "THUMB_RIGHT",
    "HIP_LEFT", "KNEE_LEFT", "ANKLE_LEFT", "FOOT_LEFT", "HIP_RIGHT", "KNEE_RIGHT", "ANKLE_RIGHT",
    "FOOT_RIGHT", "HEAD", "NOSE", "EYE_LEFT", "EAR_LEFT", "EYE_RIGHT", "EAR_RIGHT",
)  # fmt: skip
_KINECT_LANDMARKS = (
    "kinect_pelvis", "kinect_spine_navel", "kinect_spine_chest", "kinect_neck",
    "kinect_clavicle_left", "left_shoulder", "left_elbow", "left_wrist", "kinect_hand_left",
    "kinect_handtip_left", "kinect_thumb_left", "kinect_clavicle_right", "right_shoulder",
    "right_elbow", "right_wrist", "kinect_hand_right", "kinect_handtip_right",
    "kinect_thumb_right", "left_hip", "left_knee", "left_ankle", "kinect_foot_left", "right_hip",
    "right_knee", "right_ankle", "kinect_foot_right", "kinect_head", "nose", "left_eye",
    "left_ear", "right_eye", "right_ear",
)  # fmt: skip
_KINECT_PARENTS = (
    -1, 0, 1, 2, 2, 4, 5, 6, 7, 8, 7, 2, 11, 12, 13, 14, 15, 14,
    0, 18, 19, 20, 0, 22, 23, 24, 3, 26, 26, 26, 26, 26,
)  # fmt: skip
KINECT32 = SkeletonSchema(
    name="kinect32",
    joints=_KINECT_JOINTS,
    landmarks=_KINECT_LANDMARKS,
    parents=_KINECT_PARENTS,
    flip_pairs=_flips(_KINECT_JOINTS, "_LEFT", "_RIGHT"),
    oks_sigmas=None,
    description="Azure Kinect Body Tracking SDK joints (K4ABT_JOINT_*), SDK order and hierarchy.",
)

_SMPL_JOINTS = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hand", "right_hand",
)  # fmt: skip
# SMPL limb joints are the COCO landmarks; hips, pelvis, neck and head only approximately.
_SMPL_SHARED = {
    "left_knee", "right_knee", "left_ankle", "right_ankle", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist",
}  # fmt: skip
_SMPL_LANDMARKS = tuple(n if n in _SMPL_SHARED else f"smpl_{n}" for n in _SMPL_JOINTS)
SMPL24 = SkeletonSchema(
    name="smpl24",
    joints=_SMPL_JOINTS,
    landmarks=_SMPL_LANDMARKS,
    parents=(-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21),
    flip_pairs=_flips(_SMPL_JOINTS, "left_", "right_"),
    oks_sigmas=None,
    description="SMPL body model joints (24), SMPL kinematic-tree order.",
)

SCHEMAS: dict[str, SkeletonSchema] = {
    s.name: s for s in (COCO17, HUPR14, MAEPOSE13, KINECT32, SMPL24, SIM20)
}
_ALIASES = {
    "coco": "coco17",
    "hupr": "hupr14",
    "maepose": "maepose13",
    "kinect": "kinect32",
    "azure_kinect": "kinect32",
    "smpl": "smpl24",
    "sim": "sim20",
}


def get_schema(name: str | SkeletonSchema) -> SkeletonSchema:
    """Schema by registry name (``coco17``, ``hupr14``, ``maepose13``, ``kinect32``, ``smpl24``,
    ``sim20``; case-insensitive, short aliases ``coco``/``hupr``/... accepted)."""
    if isinstance(name, SkeletonSchema):
        return name
    key = name.lower().replace("-", "").replace(" ", "")
    key = _ALIASES.get(key, key)
    try:
        return SCHEMAS[key]
    except KeyError:
        raise KeyError(f"unknown skeleton schema {name!r}; known: {sorted(SCHEMAS)}") from None


# A rule: source joint indices to average (one index = copy; empty = missing), and whether the
# rule is an approximation.
_Rule = tuple[tuple[int, ...], bool]


def _exact_rule(landmark: str, src: Mapping[str, int]) -> tuple[int, ...]:
    if landmark in src:
        return (src[landmark],)
    parts = DERIVED_LANDMARKS.get(landmark)
    if parts is not None and all(p in src for p in parts):
        return tuple(src[p] for p in parts)
    return ()


def conversion_table(
    from_schema: str | SkeletonSchema,
    to_schema: str | SkeletonSchema,
    *,
    approximate: bool = True,
) -> list[tuple[str, tuple[str, ...], bool]]:
    """How each target joint is obtained: ``(target joint, source joints averaged, approximate)``;
    an empty tuple of source joints means the joint is missing. For documentation and reports."""
    src, dst = get_schema(from_schema), get_schema(to_schema)
    return [
        (dst.joints[j], tuple(src.joints[i] for i in idx), approx)
        for j, (idx, approx) in enumerate(_rules(src, dst, approximate))
    ]


def _rules(src: SkeletonSchema, dst: SkeletonSchema, approximate: bool) -> list[_Rule]:
    src_index = {lm: i for i, lm in enumerate(src.landmarks)}
    rules: list[_Rule] = []
    for lm in dst.landmarks:
        idx = _exact_rule(lm, src_index)
        approx = False
        if not idx and approximate and lm in APPROXIMATE_LANDMARKS:
            idx = _exact_rule(APPROXIMATE_LANDMARKS[lm], src_index)
            approx = bool(idx)
        rules.append((idx, approx))
    return rules


def convert(
    keypoints: ArrayLike,
    from_schema: str | SkeletonSchema,
    to_schema: str | SkeletonSchema,
    *,
    valid: ArrayLike | None = None,
    score_channel: int | None = None,
    approximate: bool = True,
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Convert keypoints between skeleton schemas.

    Args:
        keypoints: (..., J_from, D) coordinates in any units (2-D pixels, 3-D metres, with or
            without a score channel). A joint with a NaN in any channel is invalid.
        from_schema, to_schema: schemas or registry names.
        valid: optional (..., J_from) mask of valid source joints (ANDed with the NaN test).
        score_channel: index of a confidence channel in D (e.g. 2 for (x, y, score)); a derived
            joint gets the minimum score of its components instead of their mean.
        approximate: allow the approximate landmark equivalences of
            :data:`APPROXIMATE_LANDMARKS`; ``False`` gives exact copies and means only.

    Returns:
        ``(out, out_valid)``: (..., J_to, D) float64 with NaN where missing, and the (..., J_to)
        validity mask. A derived joint is valid only when all its components are.
    """
    src, dst = get_schema(from_schema), get_schema(to_schema)
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.ndim < 2 or kp.shape[-2] != src.num_joints:
        raise ValueError(
            f"keypoints must have shape (..., {src.num_joints}, D) for {src.name}, got {kp.shape}"
        )
    d = kp.shape[-1]
    if score_channel is not None and not -d <= score_channel < d:
        raise ValueError(f"score_channel {score_channel} out of range for D = {d}")
    ok = ~np.any(np.isnan(kp), axis=-1)
    if valid is not None:
        ok &= np.broadcast_to(np.asarray(valid, dtype=bool), ok.shape)
    lead = kp.shape[:-2]
    out = np.full((*lead, dst.num_joints, d), np.nan)
    out_ok = np.zeros((*lead, dst.num_joints), dtype=bool)
    for j, (idx, _approx) in enumerate(_rules(src, dst, approximate)):
        if not idx:
            continue
        sel = list(idx)
        comp_ok = np.all(ok[..., sel], axis=-1)
        value = np.mean(kp[..., sel, :], axis=-2)
        if score_channel is not None:
            value[..., score_channel] = np.min(kp[..., sel, score_channel], axis=-1)
        out[..., j, :] = np.where(comp_ok[..., None], value, np.nan)
        out_ok[..., j] = comp_ok
    return out, out_ok
