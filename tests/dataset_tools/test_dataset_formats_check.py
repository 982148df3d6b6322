"""Zarr and HDF5 builds hold identical arrays; dataset-check finds damaged chunks and files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dataset_tools.build import BuildConfig, build_dataset
from dataset_tools.check import check_dataset
from dataset_tools.cli import dataset_check
from dataset_tools.dataset import open_dataset
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


def test_zarr_and_hdf5_hold_identical_arrays(two_takes: Path, tmp_path: Path) -> None:
    z = tmp_path / "d.zarr"
    h = tmp_path / "d.h5"
    build_dataset(_config(two_takes, z))
    build_dataset(_config(two_takes, h, format="hdf5"))
    assert h.is_file() and not partial_path(h).exists()
    _assert_same(z, h)
    dz, dh = open_dataset(z), open_dataset(h)
    assert dz.sequence_ids == dh.sequence_ids and dz.splits == dh.splits
    sz, sh = dz.sequence("S01_walk_001"), dh.sequence("S01_walk_001")
    np.testing.assert_array_equal(sz.read("vertical", "ra", 1, 4), sh.read("vertical", "ra", 1, 4))
    assert check_dataset(z) == [] and check_dataset(h) == []


def test_dataset_check_catches_a_truncated_or_missing_chunk(
    two_takes: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "d.zarr"
    build_dataset(_config(two_takes, out))
    assert dataset_check.main([str(out)]) == 0
    chunk_dir = out / "sequences" / "S01_walk_001" / "radar" / "horizontal" / "ra" / "c"
    chunk = next(p for p in sorted(chunk_dir.rglob("*")) if p.is_file())
    chunk.write_bytes(chunk.read_bytes()[: chunk.stat().st_size // 2])
    assert dataset_check.main([str(out)]) == 1
    err = capsys.readouterr().err
    assert "radar/horizontal/ra" in err and "damaged chunk" in err
    os.remove(chunk)
    problems = check_dataset(out)
    assert any("chunks missing" in p.what for p in problems)


def test_dataset_check_reports_a_truncated_hdf5_file(two_takes: Path, tmp_path: Path) -> None:
    out = tmp_path / "d.h5"
    build_dataset(_config(two_takes, out, format="hdf5"))
    size = out.stat().st_size
    with open(out, "r+b") as f:
        f.truncate(size * 2 // 3)
    assert check_dataset(out) != []
