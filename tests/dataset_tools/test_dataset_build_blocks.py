"""Block tasks (frames [a, b) of every radar, read by MCAP chunk) build exactly what one task
per radar (whole file, in order) builds, faults included."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import dataset_tools.build as build
from dataset_tools.build import BuildConfig, build_dataset
from dataset_tools.dataset import open_dataset
from dataset_tools.dataset.storage import open_storage
from dataset_tools.representations import RepresentationConfig
from tests.dataset_tools.sim_takes import SimTakeFactory, TakeFaults

FAULTS = TakeFaults(
    radar_missing={"horizontal": {105, 131}},
    radar_lost={"horizontal": {107}},
    radar_late_start={"vertical": 3},
    first_pulse=100,
)


def _build(root: Path, out: Path, window: int) -> None:
    config = BuildConfig(
        sessions=("S",),
        sessions_root=root,
        out=out,
        representations=RepresentationConfig(names=("vrdae", "rd", "points", "raw")),
        labels="none",
        rgb=False,
        depth=False,
        window=window,
        quiet=True,
    )
    summary = build_dataset(config)
    assert [o.status for o in summary.outcomes] == ["built"]


@pytest.mark.parametrize("window", [16, 8])
def test_block_tasks_equal_per_radar_tasks(
    sim_take_factory: SimTakeFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    window: int,
) -> None:
    take = sim_take_factory("S", "S01_walk_001", frames=40, faults=FAULTS)
    root = take.path.parent.parent
    used: list[int] = []
    real = build._block_tasks

    def spy(*args: object, **kwargs: object) -> object:
        tasks = real(*args, **kwargs)  # type: ignore[arg-type]
        used.append(len(tasks or []))
        return tasks

    monkeypatch.setattr(build, "_block_tasks", spy)
    _build(root, tmp_path / "blocks.zarr", window)
    assert used and used[0] >= 2  # really split into blocks
    monkeypatch.setattr(build, "_block_tasks", lambda *a, **k: None)
    _build(root, tmp_path / "streams.zarr", window)

    a = open_dataset(tmp_path / "blocks.zarr").sequence("S01_walk_001")
    b = open_dataset(tmp_path / "streams.zarr").sequence("S01_walk_001")
    assert a.attrs["stats"] == b.attrs["stats"]
    for radar in ("horizontal", "vertical"):
        for rep in ("vrdae", "rd", "raw"):
            np.testing.assert_array_equal(a.read(radar, rep), b.read(radar, rep))
        for pa, pb in zip(a.read_points(radar), b.read_points(radar), strict=True):
            np.testing.assert_array_equal(pa, pb)
        np.testing.assert_array_equal(a.mask(f"radar/{radar}"), b.mask(f"radar/{radar}"))
    assert np.isnan(a.read("horizontal", "vrdae", 5, 6)).all()  # the missing frame
    with open_storage(tmp_path / "blocks.zarr", "r") as st:
        path = "sequences/S01_walk_001/radar/horizontal/vrdae_channels"  # VRDAE before its angles
        assert st.array(path).shape == (40, 16, 64, 12)
        assert st.shards_of(path) is None
        assert st.chunk_counts(path) == (3, 3)  # 16-frame chunks, every one written


def test_chunked_messages_match_messages_and_chunks_reread(
    sim_take_factory: SimTakeFactory,
) -> None:
    from acquisition.recording import TakeReader
    from acquisition.recording.chunk_reader import read_chunk

    take = sim_take_factory("S", "S01_walk_001", frames=6)
    reader = TakeReader(take.path)
    plain = [(m.topic, m.sequence, m.data) for m in reader.messages()]
    chunked = list(reader.chunked_messages())
    assert [(m.topic, m.sequence, m.data) for _, m in chunked] == plain
    assert reader.last_report.messages == len(plain)
    offsets = sorted({c for c, _ in chunked if c >= 0})
    assert offsets
    topic_of = {cid: topic for cid, (topic, _) in reader.last_channels.items()}
    fd = os.open(reader.path, os.O_RDONLY)
    try:
        again = [
            (c, topic_of[m.channel_id], bytes(m.data)) for c in offsets for m in read_chunk(fd, c)
        ]
        vertical = {cid for cid, topic in topic_of.items() if topic == "/vertical/frames"}
        holding = next(c for c, m in chunked if m.topic == "/vertical/frames")
        radar = list(read_chunk(fd, holding, channels=vertical))
    finally:
        os.close(fd)
    assert again == [(c, m.topic, m.data) for c, m in chunked if c >= 0]
    assert radar and all(topic_of[m.channel_id] == "/vertical/frames" for m in radar)
