"""Fixtures for dataset_tools tests (helpers in ``tests/dataset_tools/sim_takes.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.dataset_tools.sim_takes import SimTake, SimTakeFactory, write_sim_take


@pytest.fixture
def sim_take_factory(tmp_path: Path) -> SimTakeFactory:
    """``factory(session, take, **kwargs)`` writes a synthetic simulated take under tmp_path."""
    root = tmp_path / "sessions"
    root.mkdir(exist_ok=True)

    def make(session: str, take: str, **kwargs: Any) -> SimTake:
        return write_sim_take(root, session, take, **kwargs)

    return make
