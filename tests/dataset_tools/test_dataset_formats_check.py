"""Zarr and HDF5 builds hold identical arrays; dataset-check finds damaged chunks and files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from dataset_tools.build import build_dataset
from dataset_tools.check import check_dataset
from dataset_tools.cli import dataset_check
from dataset_tools.dataset import open_dataset
from dataset_tools.dataset.writer import partial_path
from tests.dataset_tools.sim_takes import (
    SimTakeFactory,
    TakeFaults,
    assert_same_dataset,
    build_config,
)


def test_zarr_and_hdf5_hold_identicaldataset_arrays(two_takes: Path, tmp_path: Path) -> None:
    z = tmp_path / "d.zarr"
    h = tmp_path / "d.h5"
    build_dataset(build_config(two_takes, z))
    build_dataset(build_config(two_takes, h, format="hdf5"))
    assert h.is_file() and not partial_path(h).exists()
    assert_same_dataset(z, h)
    dz, dh = open_dataset(z), open_dataset(h)
    assert dz.sequence_ids == dh.sequence_ids and dz.splits == dh.splits
    sz, sh = dz.sequence("S01_walk_001"), dh.sequence("S01_walk_001")
    np.testing.assert_array_equal(sz.read("vertical", "ra", 1, 4), sh.read("vertical", "ra", 1, 4))
    assert check_dataset(z) == [] and check_dataset(h) == []


def test_dataset_check_catches_a_truncated_or_missing_chunk(
    two_takes: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "d.zarr"
    build_dataset(build_config(two_takes, out))
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
    build_dataset(build_config(two_takes, out, format="hdf5"))
    size = out.stat().st_size
    with open(out, "r+b") as f:
        f.truncate(size * 2 // 3)
    assert check_dataset(out) != []


def test_a_camera_silent_for_a_whole_chunk_still_writes_it(
    sim_take_factory: SimTakeFactory, tmp_path: Path
) -> None:
    faults = TakeFaults(camera_missing=set(range(16)))  # the whole first 16-frame window
    take = sim_take_factory("Q", "Q01_walk_001", frames=18, faults=faults)
    out = tmp_path / "q.zarr"
    build_dataset(build_config(take.path.parents[1], out, sessions=("Q",)))
    seq = open_dataset(out).sequence("Q01_walk_001")
    assert seq.mask("camera/rgb").tolist() == [False] * 16 + [True] * 2
    assert check_dataset(out) == []  # the all-zero chunk exists: it is not "missing"
