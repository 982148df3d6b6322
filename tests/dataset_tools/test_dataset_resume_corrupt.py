"""A crashed build resumes to the same result; corrupt takes are reported and skipped (or stop
the build)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dataset_tools import build_tasks
from dataset_tools.build import BuildConfig, CorruptTakeError, build_dataset
from dataset_tools.dataset import IncompleteDatasetError, open_dataset
from dataset_tools.dataset.storage import Storage, open_storage
from dataset_tools.dataset.writer import partial_path
from dataset_tools.representations import RepresentationConfig
from tests.dataset_tools.sim_takes import TakeFaults, write_sim_take


def _config(root: Path, out: Path, **kw: Any) -> BuildConfig:
    base: dict[str, Any] = {
        "sessions": ("S",),
        "sessions_root": root,
        "out": out,
        "representations": RepresentationConfig(names=("rd", "ra")),
        "quiet": True,
    }
    base.update(kw)
    return BuildConfig(**base)


def _arrays(storage: Storage, group: str = "") -> dict[str, np.ndarray[Any, Any]]:
    groups, arrays = storage.members(group)
    out = {}
    for a in arrays:
        path = f"{group}/{a}" if group else a
        out[path] = np.asarray(storage.array(path)[...])
    for g in groups:
        out.update(_arrays(storage, f"{group}/{g}" if group else g))
    return out


def _assert_same(a: Path, b: Path) -> None:
    with open_storage(a, "r") as sa, open_storage(b, "r") as sb:
        xa, xb = _arrays(sa), _arrays(sb)
        assert sorted(xa) == sorted(xb)
        for k in xa:
            assert xa[k].dtype == xb[k].dtype, k
            np.testing.assert_array_equal(xa[k], xb[k], err_msg=k)
        for seq in sa.members("sequences")[0]:
            assert sa.attrs(f"sequences/{seq}") == sb.attrs(f"sequences/{seq}")


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


def test_a_crashed_build_resumes_to_the_same_result(
    two_takes: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean = tmp_path / "clean.zarr"
    build_dataset(_config(two_takes, clean))
    out = tmp_path / "resumed.zarr"
    real = build_tasks._run_camera
    calls = {"n": 0}

    def crash_in_second_take(task: build_tasks.CameraTask) -> build_tasks.TaskResult:
        calls["n"] += 1
        if task.seq_id == "S02_squat_001":
            raise KeyboardInterrupt("killed")
        return real(task)

    monkeypatch.setattr(build_tasks, "_run_camera", crash_in_second_take)
    with pytest.raises(KeyboardInterrupt):
        build_dataset(_config(two_takes, out))
    assert not out.exists(), "nothing may look complete"
    with pytest.raises(IncompleteDatasetError):
        open_dataset(partial_path(out))
    monkeypatch.setattr(build_tasks, "_run_camera", real)
    summary = build_dataset(_config(two_takes, out))
    assert [o.status for o in summary.outcomes] == ["kept", "built"]
    _assert_same(clean, out)


def test_corrupted_takes_are_skipped_or_fail_the_build(two_takes: Path, tmp_path: Path) -> None:
    mcap = two_takes / "S" / "S02_squat_001" / "streams.mcap"
    data = bytearray(mcap.read_bytes())
    data[len(data) // 2] ^= 0xFF
    mcap.write_bytes(bytes(data))
    summary = build_dataset(_config(two_takes, tmp_path / "a.zarr"))
    assert [o.status for o in summary.outcomes] == ["built", "dropped"]
    assert "SHA-256" in summary.dropped[0].reason
    ds = open_dataset(tmp_path / "a.zarr")
    assert ds.sequence_ids == ["S01_walk_001"]
    assert ds.attrs["provenance"]["dropped"][0]["take"] == "S02_squat_001"
    with pytest.raises(CorruptTakeError, match="S02_squat_001"):
        build_dataset(_config(two_takes, tmp_path / "b.zarr", fail_on_corrupt=True))
    # truncated, yet marked complete (checksum check off to reach the truncation check)
    mcap.write_bytes(bytes(data[: len(data) // 3]))
    summary = build_dataset(_config(two_takes, tmp_path / "c.zarr", verify_checksums=False))
    assert summary.dropped and "truncated" in summary.dropped[0].reason
