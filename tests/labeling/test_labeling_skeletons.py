"""Skeleton schemas and conversions between them."""

from __future__ import annotations

import numpy as np
import pytest

from acquisition.sim.person import SIM_JOINTS, PersonMotion
from labeling.skeletons import (
    COCO17,
    HUPR14,
    KINECT32,
    MAEPOSE13,
    SCHEMAS,
    SIM20,
    SMPL24,
    conversion_table,
    convert,
    get_schema,
)


def test_registry_and_sizes() -> None:
    sizes = {"coco17": 17, "hupr14": 14, "maepose13": 13, "kinect32": 32, "smpl24": 24}
    for name, n in sizes.items():
        assert get_schema(name).num_joints == n
    assert get_schema("HuPR-14") is HUPR14
    assert get_schema("coco") is COCO17
    assert SIM20.joints == SIM_JOINTS
    with pytest.raises(KeyError, match="unknown skeleton schema"):
        get_schema("mpii")


def test_orders_from_the_papers() -> None:
    assert HUPR14.joints == (
        "R_Hip", "R_Knee", "R_Ankle", "L_Hip", "L_Knee", "L_Ankle", "Neck", "Head",
        "L_Shoulder", "L_Elbow", "L_Wrist", "R_Shoulder", "R_Elbow", "R_Wrist",
    )  # fmt: skip
    assert MAEPOSE13.joints[0] == "nose" and MAEPOSE13.joints[-1] == "right_ankle"
    assert KINECT32.joints[0] == "PELVIS" and KINECT32.joints[26] == "HEAD"
    assert KINECT32.joints[KINECT32.parents[KINECT32.index("HANDTIP_LEFT")]] == "HAND_LEFT"
    assert SMPL24.joints[SMPL24.parents[SMPL24.index("left_wrist")]] == "left_elbow"
    np.testing.assert_allclose(HUPR14.sigmas_array()[[6, 7]], [0.1, 0.1])


@pytest.mark.parametrize("schema", list(SCHEMAS.values()), ids=lambda s: s.name)
def test_edges_form_a_tree_and_flips_are_involutions(schema: object) -> None:
    from labeling.skeletons import SkeletonSchema

    assert isinstance(schema, SkeletonSchema)
    assert sum(p < 0 for p in schema.parents) == 1
    assert len(schema.edges) == schema.num_joints - 1
    for a, b in schema.flip_pairs:
        na, nb = schema.joints[a].lower(), schema.joints[b].lower()
        assert na.replace("left", "right").replace("l_", "r_") == nb


def test_coco_to_hupr_neck_and_head_derived_and_scores_take_the_minimum() -> None:
    rng = np.random.default_rng(0)
    kp = rng.uniform(0, 100, size=(5, 17, 3))
    out, valid = convert(kp, "coco17", "hupr14", score_channel=2)
    assert out.shape == (5, 14, 3) and valid.all()
    c = COCO17.index
    np.testing.assert_allclose(
        out[:, 6, :2], (kp[:, c("left_shoulder"), :2] + kp[:, c("right_shoulder"), :2]) / 2
    )
    np.testing.assert_allclose(
        out[:, 7, :2], (kp[:, c("left_ear"), :2] + kp[:, c("right_ear"), :2]) / 2
    )
    np.testing.assert_allclose(
        out[:, 7, 2], np.minimum(kp[:, c("left_ear"), 2], kp[:, c("right_ear"), 2])
    )
    np.testing.assert_array_equal(out[:, 0], kp[:, c("right_hip")])


def test_missing_component_makes_the_derived_joint_missing() -> None:
    kp = np.ones((17, 2))
    kp[COCO17.index("left_ear")] = np.nan
    out, valid = convert(kp, "coco17", "hupr14")
    assert not valid[7] and np.isnan(out[7]).all()
    assert valid[6]
    valid_in = np.ones(17, dtype=bool)
    valid_in[COCO17.index("right_shoulder")] = False
    out, valid = convert(np.ones((17, 2)), "coco17", "hupr14", valid=valid_in)
    assert not valid[6] and not valid[HUPR14.index("R_Shoulder")]


def test_nothing_is_invented() -> None:
    out, valid = convert(np.zeros((17, 3)), "coco17", "kinect32")
    missing = {KINECT32.joints[i] for i in np.flatnonzero(~valid)}
    assert missing == {
        "SPINE_NAVEL", "SPINE_CHEST", "CLAVICLE_LEFT", "CLAVICLE_RIGHT", "HAND_LEFT",
        "HANDTIP_LEFT", "THUMB_LEFT", "HAND_RIGHT", "HANDTIP_RIGHT", "THUMB_RIGHT",
        "FOOT_LEFT", "FOOT_RIGHT",
    }  # fmt: skip
    assert np.isnan(out[~valid]).all()
    # HuPR has no face: COCO eyes/ears/nose cannot come back from it.
    _, valid = convert(np.zeros((14, 2)), "hupr14", "coco17")
    assert not valid[: COCO17.index("left_shoulder")].any()
    assert valid[COCO17.index("left_shoulder") :].all()


def test_approximations_only_when_allowed() -> None:
    _, valid_strict = convert(np.zeros((17, 3)), "coco17", "smpl24", approximate=False)
    _, valid_approx = convert(np.zeros((17, 3)), "coco17", "smpl24")
    assert not valid_strict[SMPL24.index("left_hip")] and valid_approx[SMPL24.index("left_hip")]
    assert valid_strict[SMPL24.index("left_knee")]
    table = dict((t, (s, a)) for t, s, a in conversion_table("coco17", "kinect32"))
    assert table["NECK"] == (("left_shoulder", "right_shoulder"), True)
    assert table["SHOULDER_LEFT"] == (("left_shoulder",), False)


def test_sim_to_hupr_matches_simulator_definitions() -> None:
    motion = PersonMotion(action="wave_one_hand", seed=3)
    joints = motion.joints_at(np.linspace(0.0, 2.0, 7))  # (7, 20, 3) rig frame
    out, valid = convert(joints, "sim20", "hupr14")
    assert valid.all()
    # The simulator's neck is mid-shoulders by construction.
    np.testing.assert_allclose(out[:, HUPR14.index("Neck")], joints[:, SIM20.index("neck")])
    np.testing.assert_allclose(
        out[:, HUPR14.index("L_Wrist")], joints[:, SIM20.index("left_wrist")]
    )
    coco, valid = convert(joints, "sim20", "coco17")
    assert valid.all()
    np.testing.assert_array_equal(coco, joints[:, :17])
    mae, valid = convert(coco, "coco17", "maepose13")
    assert valid.all() and mae.shape == (7, 13, 3)


def test_shape_errors() -> None:
    with pytest.raises(ValueError, match=r"\(\.\.\., 17, D\)"):
        convert(np.zeros((14, 2)), "coco17", "hupr14")
