"""Simulated rig: FMCW radar ADC cubes, a moving person, a pinhole RGB-D camera, and a scene that
drives them frame by frame (numpy only)."""

from acquisition.sim.camera import (
    PinholeCamera,
    RenderStyle,
    RgbdRenderer,
    keypoints_2d,
    render_depth,
    render_person,
    render_rgbd,
)
from acquisition.sim.fmcw import RadarSimulator, Scatterers, antenna_positions_radar, quantize_int16
from acquisition.sim.person import (
    ACTIONS,
    JOINT_INDEX,
    SIM_JOINTS,
    SKELETON_BONES,
    PersonMotion,
    PersonScattererLayout,
    SubjectBody,
    SubjectGait,
    finite_difference_velocities,
    person_scatterers,
    simulate_motion,
)
from acquisition.sim.presets import hupr_radar_params
from acquisition.sim.scene import SceneFrame, SimulatedRadar, SimulatedScene, static_room_clutter

__all__ = [
    "ACTIONS",
    "JOINT_INDEX",
    "SIM_JOINTS",
    "SKELETON_BONES",
    "PersonMotion",
    "PersonScattererLayout",
    "PinholeCamera",
    "RadarSimulator",
    "RenderStyle",
    "RgbdRenderer",
    "Scatterers",
    "SceneFrame",
    "SimulatedRadar",
    "SimulatedScene",
    "SubjectBody",
    "SubjectGait",
    "antenna_positions_radar",
    "finite_difference_velocities",
    "hupr_radar_params",
    "keypoints_2d",
    "person_scatterers",
    "quantize_int16",
    "render_depth",
    "render_person",
    "render_rgbd",
    "simulate_motion",
    "static_room_clutter",
]
