"""The recorded frame index gives exactly what a full pass over the messages gives."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import numpy as np

from acquisition.recording import TakeReader
from acquisition.recording.frame_index import ATTACHMENT_NAME, read_frame_index
from dataset_tools.take_index import TakeIndex, index_take
from tests.dataset_tools.sim_takes import SimTakeFactory, TakeFaults


def _same(a: TakeIndex, b: TakeIndex) -> None:
    assert np.array_equal(a.pulse_index, b.pulse_index)
    assert np.array_equal(a.pulse_stamp_ns, b.pulse_stamp_ns)
    assert a.radars.keys() == b.radars.keys() and a.cameras.keys() == b.cameras.keys()
    for streams_a, streams_b in ((a.radars, b.radars), (a.cameras, b.cameras)):
        for key, rows in streams_b.items():
            for f in ("trigger_index", "stamp_ns", "frame_number", "valid", "lost_bytes", "nbytes"):
                assert np.array_equal(getattr(streams_a[key], f), getattr(rows, f)), (key, f)
    for radar, chunks in b.radar_chunks.items():
        assert np.array_equal(a.radar_chunks[radar], chunks), radar
    assert a.channels == b.channels and a.messages == b.messages


def test_recorded_index_equals_a_scan_with_faults(sim_take_factory: SimTakeFactory) -> None:
    faults = TakeFaults(
        radar_missing={"horizontal": {5}},
        radar_lost={"horizontal": {7}},
        radar_late_start={"vertical": 3},
        camera_missing={4},
        camera_untriggered={8: 6_000_000},
        first_pulse=2,
    )
    take = sim_take_factory("S", "T1", frames=12, faults=faults)
    reader = TakeReader(take.path)
    fast, scanned = index_take(reader), index_take(reader, scan=True)
    assert (fast.source, scanned.source) == ("frame index", "scan")
    _same(fast, scanned)
    h = fast.radars["horizontal"]
    assert h.trigger_index.tolist() == [p for p in range(2, 14) if p != 5]  # pulse 5 missing
    assert h.trigger_index[h.lost_bytes > 0].tolist() == [7] and not h.valid[h.lost_bytes > 0].any()
    assert fast.radars["vertical"].trigger_index.tolist() == list(range(5, 14))  # starts late


def _rewrite_index(path: Path, edit: object) -> None:
    """Replace the attachment's JSON in place (same length) via ``edit(doc)``."""
    blob = bytearray(path.read_bytes())
    fi = read_frame_index(path)
    assert fi is not None
    start = blob.index(b'{"format":"radar-sensing-frame-index"')
    (length,) = struct.unpack_from("<Q", blob, start - 8)
    doc = json.loads(bytes(blob[start : start + length]))
    edit(doc)  # type: ignore[operator]
    new = json.dumps(doc, separators=(",", ":")).encode()
    assert len(new) <= length
    blob[start : start + length] = new.ljust(length)
    path.write_bytes(bytes(blob))


def test_index_that_disagrees_with_the_file_is_not_used(
    sim_take_factory: SimTakeFactory, tmp_path: Path
) -> None:
    take = sim_take_factory("S", "T2", frames=6)
    mcap = take.path / "streams.mcap"
    assert read_frame_index(mcap) is not None
    _rewrite_index(mcap, lambda d: d["topics"]["/horizontal/frames"]["rows"].pop())
    assert read_frame_index(mcap) is None  # one row short of the messages: fall back
    reader = TakeReader(take.path)
    assert index_take(reader).source == "scan"
    # a file without the attachment (an older writer): same fallback
    cut = tmp_path / "cut.mcap"
    shutil.copy(mcap, cut)
    name = ATTACHMENT_NAME.encode()
    cut.write_bytes(cut.read_bytes().replace(name, b"x" * len(name)))
    assert read_frame_index(cut) is None


def test_killed_recorder_has_no_index(sim_take_factory: SimTakeFactory) -> None:
    take = sim_take_factory("S", "T3", frames=6)
    mcap = take.path / "streams.mcap"
    data = mcap.read_bytes()
    mcap.write_bytes(data[: len(data) * 2 // 3])  # no summary, no attachment
    assert read_frame_index(mcap) is None
