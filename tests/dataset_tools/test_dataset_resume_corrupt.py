"""A crashed build resumes to the same result; corrupt takes are reported and skipped (or stop
the build)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataset_tools import build_tasks
from dataset_tools.build import CorruptTakeError, build_dataset
from dataset_tools.dataset import IncompleteDatasetError, open_dataset
from dataset_tools.dataset.writer import partial_path
from tests.dataset_tools.sim_takes import (
    assert_same_dataset,
    build_config,
)


def test_a_crashed_build_resumes_to_the_same_result(
    two_takes: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean = tmp_path / "clean.zarr"
    build_dataset(build_config(two_takes, clean))
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
        build_dataset(build_config(two_takes, out))
    assert not out.exists(), "nothing may look complete"
    with pytest.raises(IncompleteDatasetError):
        open_dataset(partial_path(out))
    monkeypatch.setattr(build_tasks, "_run_camera", real)
    summary = build_dataset(build_config(two_takes, out))
    assert [o.status for o in summary.outcomes] == ["kept", "built"]
    assert_same_dataset(clean, out)


def test_corrupted_takes_are_skipped_or_fail_the_build(two_takes: Path, tmp_path: Path) -> None:
    mcap = two_takes / "S" / "S02_squat_001" / "streams.mcap"
    data = bytearray(mcap.read_bytes())
    data[len(data) // 2] ^= 0xFF
    mcap.write_bytes(bytes(data))
    summary = build_dataset(build_config(two_takes, tmp_path / "a.zarr"))
    assert [o.status for o in summary.outcomes] == ["built", "dropped"]
    # checked with the CRC32C the recorder stored (the fast path) ...
    assert "streams.mcap CRC32C" in summary.dropped[0].reason
    ds = open_dataset(tmp_path / "a.zarr")
    assert ds.sequence_ids == ["S01_walk_001"]
    assert ds.attrs["provenance"]["dropped"][0]["take"] == "S02_squat_001"
    # ... or by recomputing SHA-256
    summary = build_dataset(build_config(two_takes, tmp_path / "s.zarr", recompute_sha256=True))
    assert [o.status for o in summary.outcomes] == ["built", "dropped"]
    assert "streams.mcap SHA-256" in summary.dropped[0].reason
    with pytest.raises(CorruptTakeError, match="S02_squat_001"):
        build_dataset(build_config(two_takes, tmp_path / "b.zarr", fail_on_corrupt=True))
    # truncated, yet marked complete (checksum check off to reach the truncation check)
    mcap.write_bytes(bytes(data[: len(data) // 3]))
    summary = build_dataset(build_config(two_takes, tmp_path / "c.zarr", verify_checksums=False))
    assert summary.dropped and "truncated" in summary.dropped[0].reason
