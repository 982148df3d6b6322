"""Zero-copy chunk reads return the messages the mcap package reads, for every compression."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from acquisition.recording import TakeReader, TakeWriter
from acquisition.recording.chunk_reader import ChunkError, read_chunk
from acquisition.recording.frame_index import read_frame_index
from acquisition.recording.radar_frame_cdr import view_radar_frame
from tests.acquisition.recording.test_recording import radar_frame


@pytest.mark.parametrize("compression", ["zstd", "lz4", "none"])
def test_chunks_read_back_every_message(tmp_path: Path, compression: str) -> None:
    with TakeWriter.create(tmp_path, "s", "t", compression=compression, chunk_size=20_000) as take:
        for i in range(12):
            take.write_radar_frame(radar_frame(i, "radar_h", lost=100 if i == 4 else 0))
            take.write_radar_frame(radar_frame(100 + i, "radar_v"))
    reader = TakeReader(tmp_path / "s" / "t")
    expected = [(m.topic, m.sequence, m.data) for m in reader.messages()]
    index = read_frame_index(reader.path)
    assert index is not None
    chunks = sorted({int(c) for rows in index.chunk_of_row.values() for c in rows})
    assert len(chunks) > 2  # several chunks, so offsets matter
    got = []
    fd = os.open(reader.path, os.O_RDONLY)
    try:
        for offset in chunks:
            for m in read_chunk(fd, offset, check_crc=True):
                got.append((index.channels[m.channel_id][0], m.sequence, bytes(m.data)))
        only_v = [
            m
            for o in chunks
            for m in read_chunk(
                fd,
                o,
                channels={cid for cid, (t, _) in index.channels.items() if t == "/radar_v/frames"},
            )
        ]
        with pytest.raises(ChunkError, match="not a chunk"):
            list(read_chunk(fd, 8))  # the header record, not a chunk
    finally:
        os.close(fd)
    assert got == expected
    assert [view_radar_frame(m.data).trigger_index for m in only_v] == [105 + i for i in range(12)]
    lost = [view_radar_frame(d).lost_bytes for t, _, d in got if t == "/radar_h/frames"]
    assert lost == [100 if i == 4 else 0 for i in range(12)]
