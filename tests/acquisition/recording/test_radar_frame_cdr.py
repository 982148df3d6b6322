"""The zero-copy RadarFrame view reads what the generic CDR decoder reads."""

from __future__ import annotations

import numpy as np
import pytest

from acquisition.recording.radar_frame_cdr import view_radar_frame
from acquisition.recording.schemas import decoder, encoder

TYPE = "acquisition_interfaces/RadarFrame"


def _message(
    radar_id: str, frame_id: str, sample_format: str, data: bytes, **over: object
) -> bytes:
    msg = {
        "header": {"stamp": {"sec": 12, "nanosec": 345}, "frame_id": frame_id},
        "radar_id": radar_id,
        "frame_number": 2**40 + 7,
        "trigger_index": -1,
        "device_stamp": {"sec": 1, "nanosec": 2},
        "host_stamp": {"sec": 3, "nanosec": 4},
        "num_loops": 64,
        "num_chirps_per_loop": 3,
        "num_rx": 4,
        "num_samples": 256,
        "sample_format": sample_format,
        "num_packets": 9,
        "lost_packets": 1,
        "lost_bytes": 1456,
        "valid": False,
        "data": data,
    }
    msg.update(over)
    return encoder(TYPE)(msg)


@pytest.mark.parametrize("radar_id", ["h", "horizontal", "vert_2", "abcdefg"])
@pytest.mark.parametrize("frame_id", ["", "x", "radar_frame"])
@pytest.mark.parametrize("sample_format", ["int16_iq_sdk", "int16_iq_studio", "int16_real"])
def test_view_matches_the_generic_decoder(radar_id: str, frame_id: str, sample_format: str) -> None:
    rng = np.random.default_rng(len(radar_id) * 7 + len(frame_id))
    data = rng.integers(0, 256, size=int(rng.integers(0, 40)) * 4 + 2, dtype=np.uint8).tobytes()
    for over in ({}, {"trigger_index": 123456789, "valid": True, "lost_bytes": 0}):
        raw = _message(radar_id, frame_id, sample_format, data, **over)
        ref = decoder(TYPE)(raw)
        view = view_radar_frame(raw)
        assert view.frame_number == ref.frame_number
        assert view.trigger_index == ref.trigger_index
        assert view.lost_bytes == ref.lost_bytes
        assert view.valid == ref.valid
        assert view.sample_format == ref.sample_format == sample_format
        assert bytes(view.data) == bytes(ref.data) == data


def test_view_shares_the_message_buffer_and_rejects_truncation() -> None:
    raw = bytearray(_message("h", "h", "int16_iq_sdk", bytes(range(200))))
    view = view_radar_frame(raw)
    raw[-1] = 0xAB  # the view is into the message, not a copy
    assert view.data[-1] == 0xAB
    with pytest.raises(ValueError, match="runs past"):
        view_radar_frame(raw[:-3])
    with pytest.raises(ValueError, match=r"truncated|bad string"):
        view_radar_frame(raw[:30])
    with pytest.raises(ValueError, match="little-endian"):
        view_radar_frame(b"\x01\x00\x00\x00" + bytes(raw[4:]))
