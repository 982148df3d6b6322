"""Radar configuration (TI mmWave SDK ``.cfg``), board geometry and frame parameters."""

from acquisition.radar.boards import BOARDS, BoardGeometry, board_geometry
from acquisition.radar.config import (
    ConfigIssue,
    RadarConfig,
    RadarConfigError,
    load_radar_config,
    parse_radar_config,
)
from acquisition.radar.params import SPEED_OF_LIGHT_MPS, RadarParams

__all__ = [
    "BOARDS",
    "SPEED_OF_LIGHT_MPS",
    "BoardGeometry",
    "ConfigIssue",
    "RadarConfig",
    "RadarConfigError",
    "RadarParams",
    "board_geometry",
    "load_radar_config",
    "parse_radar_config",
]
