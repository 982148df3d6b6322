"""Shared fixtures: paths to the repository's and the third-party radar configurations."""

from __future__ import annotations

import os
import sys
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


_EXIT_STATUS: list[int] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _EXIT_STATUS.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    # After a full run that imported rclpy (Fast DDS) next to torch and the other native
    # libraries, the interpreter has crashed with SIGSEGV in C++ destructors while tearing down,
    # after the summary was printed. Everything is reported by now: leave without running those
    # destructors, with pytest's own exit status.
    if "rclpy" in sys.modules and _EXIT_STATUS:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_EXIT_STATUS[-1])
