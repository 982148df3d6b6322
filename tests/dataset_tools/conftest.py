"""Fixtures for dataset_tools tests (helpers in ``tests/dataset_tools/sim_takes.py``)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.dataset_tools.sim_takes import SimTake, SimTakeFactory, TakeFaults, write_sim_take


@pytest.fixture
def sim_take_factory(tmp_path: Path) -> SimTakeFactory:
    """``factory(session, take, **kwargs)`` writes a synthetic simulated take under tmp_path."""
    root = tmp_path / "sessions"
    root.mkdir(exist_ok=True)

    def make(session: str, take: str, **kwargs: Any) -> SimTake:
        return write_sim_take(root, session, take, **kwargs)

    return make


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two small takes, written once for this module (tests copy them before changing them)."""
    root = tmp_path_factory.mktemp("sessions")
    write_sim_take(
        root, "S", "S01_walk_001", frames=4, faults=TakeFaults(radar_missing={"vertical": {2}})
    )
    write_sim_take(root, "S", "S02_squat_001", frames=4, subject="S02", action="squat", seed=3)
    return root


@pytest.fixture
def two_takes(sessions: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "sessions"
    shutil.copytree(sessions, copy)
    return copy
