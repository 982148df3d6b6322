"""Raw LVDS bytes <-> ADC cubes: bytes on the wire, ordering, round trips, bad lengths."""

from __future__ import annotations

import dataclasses
import struct

import numpy as np
import pytest

from acquisition.radar.params import RadarParams
from dataset_tools.dsp import decode_adc_frames, encode_adc_frames
from dataset_tools.dsp.raw import IqOrder

HUPR_PARAMS = RadarParams(
    start_freq_hz=77e9,
    slope_hz_per_s=60.012e12,
    idle_time_s=10e-6,
    adc_start_time_s=6e-6,
    ramp_end_time_s=72e-6,
    num_samples=256,
    sample_rate_hz=4.4e6,
    tx_order=(0, 1, 2),
    rx_channels=(0, 1, 2, 3),
    num_loops=64,
    frame_period_s=0.1,
)

# One chirp of one RX with 4 samples: 16 bytes per frame.
TINY = dataclasses.replace(HUPR_PARAMS, num_samples=4, num_loops=1, tx_order=(0,), rx_channels=(0,))
# Every axis of length >= 2 to check the loop -> chirp -> RX -> sample order.
SMALL = dataclasses.replace(HUPR_PARAMS, num_samples=6, num_loops=2)


def test_sdk_order_is_q0_q1_i0_i1_little_endian() -> None:
    # samples 0..3 = (1+2j), (3-4j), (-5+6j), (300-32768j)
    wire = struct.pack("<8h", 2, -4, 1, 3, 6, -32768, -5, 300)
    assert wire[:2] == b"\x02\x00"  # little-endian int16 on the wire
    cube = decode_adc_frames(wire, TINY)
    assert cube.shape == (1, 1, 1, 1, 4) and cube.dtype == np.complex64
    np.testing.assert_array_equal(cube.ravel(), [1 + 2j, 3 - 4j, -5 + 6j, 300 - 32768j])
    assert encode_adc_frames(cube) == wire


def test_studio_order_is_i0_i1_q0_q1() -> None:
    wire = struct.pack("<8h", 1, 3, 2, -4, -5, 300, 6, -32768)
    cube = decode_adc_frames(wire, TINY, iq_order="studio")
    np.testing.assert_array_equal(cube.ravel(), [1 + 2j, 3 - 4j, -5 + 6j, 300 - 32768j])
    assert encode_adc_frames(cube, iq_order="studio") == wire
    # the same bytes read as an SDK stream swap the roles of I and Q
    swapped = decode_adc_frames(wire, TINY, iq_order="sdk")
    np.testing.assert_array_equal(swapped.ravel(), [2 + 1j, -4 + 3j, 6 - 5j, -32768 + 300j])


def test_frame_order_loop_chirp_rx_sample() -> None:
    n_complex = SMALL.bytes_per_frame // 4
    stream_index = np.arange(2 * n_complex)  # two frames; real part = position in the stream
    cube_in = stream_index.astype(np.complex64) + 1j * (-stream_index.astype(np.complex64))
    wire = encode_adc_frames(cube_in.reshape(2, *SMALL.cube_shape))
    cube = decode_adc_frames(wire, SMALL)
    f, loop, slot, rx, n = np.indices(cube.shape)
    loops, slots, rxs, samples = SMALL.cube_shape
    expected = (((f * loops + loop) * slots + slot) * rxs + rx) * samples + n
    np.testing.assert_array_equal(cube.real, expected)
    np.testing.assert_array_equal(cube.imag, -expected)
    # sample 1 of frame 0, loop 0, slot 0, RX 0 sits in bytes 2..3 (Q) and 6..7 (I) of the stream
    assert struct.unpack_from("<h", wire, 6)[0] == 1
    assert struct.unpack_from("<h", wire, 2)[0] == -1


@pytest.mark.parametrize("iq_order", ["sdk", "studio"])
def test_round_trip_random_frames(iq_order: IqOrder) -> None:
    rng = np.random.default_rng(1)
    ints = rng.integers(-32768, 32768, size=(3, *HUPR_PARAMS.cube_shape, 2))
    cube = (ints[..., 0] + 1j * ints[..., 1]).astype(np.complex64)
    wire = encode_adc_frames(cube, iq_order=iq_order)
    assert len(wire) == 3 * HUPR_PARAMS.bytes_per_frame == 3 * 786_432
    decoded = decode_adc_frames(wire, HUPR_PARAMS, iq_order=iq_order)
    np.testing.assert_array_equal(decoded, cube)
    as_array = np.frombuffer(wire, dtype="<i2").reshape(3, -1)
    np.testing.assert_array_equal(decode_adc_frames(as_array, HUPR_PARAMS, iq_order=iq_order), cube)
    # a single frame encodes like a batch of one
    assert encode_adc_frames(cube[0], iq_order=iq_order) == wire[: HUPR_PARAMS.bytes_per_frame]


def test_encode_rounds_and_clips() -> None:
    cube = np.array([1.4 - 2.6j, 40000.0 - 40000.0j, 0.5, -0.5], dtype=np.complex128)
    wire = encode_adc_frames(cube.reshape(1, 1, 1, 4), iq_order="studio")
    assert struct.unpack("<8h", wire) == (1, 32767, -3, -32768, 0, 0, 0, 0)


def test_real_samples_decode_with_zero_imaginary_part() -> None:
    params = dataclasses.replace(TINY, complex_samples=False)
    assert params.bytes_per_frame == 8
    wire = struct.pack("<4h", 7, -8, 9, -10)
    cube = decode_adc_frames(wire, params)
    np.testing.assert_array_equal(cube.ravel(), [7, -8, 9, -10])
    assert cube.dtype == np.complex64 and not cube.imag.any()
    assert encode_adc_frames(cube, complex_samples=False) == wire


def test_bad_length_names_expected_and_actual_bytes() -> None:
    wire = bytes(HUPR_PARAMS.bytes_per_frame + 100)
    with pytest.raises(ValueError, match=r"786532 bytes.*multiple of 786432 bytes per frame"):
        decode_adc_frames(wire, HUPR_PARAMS)
    with pytest.raises(ValueError, match="0 bytes"):
        decode_adc_frames(b"", HUPR_PARAMS)
    with pytest.raises(ValueError, match="odd byte count"):
        decode_adc_frames(bytes(7), HUPR_PARAMS)
    with pytest.raises(ValueError, match="iq_order"):
        decode_adc_frames(bytes(16), TINY, iq_order="qi")  # type: ignore[arg-type]


def test_big_endian_int16_array_is_read_by_value() -> None:
    values = np.array([2, -4, 1, 3, 6, -8, -5, 30], dtype=">i2")
    cube = decode_adc_frames(values, TINY)
    np.testing.assert_array_equal(cube.ravel(), [1 + 2j, 3 - 4j, -5 + 6j, 30 - 8j])


def test_hupr_frame_is_786432_bytes() -> None:
    assert HUPR_PARAMS.bytes_per_frame == 786_432
