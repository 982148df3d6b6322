"""Shared fixtures: paths to the repository's and the third-party radar configurations."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SENSOR_CONFIGS = REPO_ROOT / "sensor_configs"
# Real third-party TI configurations from public repositories (see PROVENANCE.tsv there).
THIRD_PARTY_CFGS = Path(
    os.environ.get("RADAR_THIRD_PARTY_CFGS", REPO_ROOT / "tests" / "data" / "ti_cfgs")
)


def repo_cfgs() -> list[Path]:
    return sorted(SENSOR_CONFIGS.glob("*.cfg"))


def third_party_cfgs() -> list[Path]:
    return sorted(THIRD_PARTY_CFGS.glob("*.cfg"))


@pytest.fixture(scope="session")
def hupr_cfg_path() -> Path:
    return SENSOR_CONFIGS / "hupr_horizontal.cfg"
