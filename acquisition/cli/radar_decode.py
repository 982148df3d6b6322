"""Decode a recorded DCA1000 stream (pcap / pcapng / TI raw .bin) into frames and a loss report.

Examples::

    radar-decode take.pcap --cfg sensor_configs/hupr_horizontal.cfg
    radar-decode take.pcapng --cfg sensor_configs/hupr_horizontal.cfg --out decoded/ \\
        --format npy-cube --iq-order sdk
    radar-decode adc_data_Raw_0.bin adc_data_Raw_1.bin --cfg my.cfg --iq-order studio
    radar-decode take.pcap --cfg my.cfg --port 4099 --expected-frames 600
    radar-decode take.pcap --cfg my.cfg --format recording --out sessions \
        --session 2024-05 --take S01_wave_001 --radar horizontal

Record the capture with e.g. ``tcpdump -i eth1 -s 0 -B 65536 -w take.pcap udp dst port 4098``
(see docs/dca1000.md). Frames are rebuilt exactly as the live receiver does (byte counts place
every payload, lost bytes are zero-filled). Output in ``--out`` (default ``<capture>_decoded``):

* ``adc_raw.npy``: (F, bytes_per_frame / 2) int16 raw stream per frame (``--format npy-raw``), or
  ``adc_cube.npy``: (F, loops, TX slots, RX, samples) complex64 (``--format npy-cube``);
* ``decode_summary.json``: totals and, per frame, ``lost_bytes``, ``lost_ranges`` (byte offsets
  inside the frame), packets, first sequence number and capture timestamps.

* ``--format recording``: a take of the toolkit's recording format instead
  (``<out>/<session>/<take>/``, radar name from ``--radar``), readable by ``TakeReader`` and
  ``dataset-build``; frames carry no trigger index (a capture has no trigger reports) and are
  stamped with their capture time.

Exit status: 0 decoded (losses are reported, not fatal), 1 unreadable capture, 2 bad arguments
or radar config.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from io import BufferedWriter
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from acquisition.dca1000.capture_file import CaptureFileError, CaptureSummary, decode_capture
from acquisition.dca1000.protocol import DATA_PORT
from acquisition.dca1000.receiver import RawFrame
from acquisition.radar.config import RadarConfigError, load_radar_config
from acquisition.radar.params import RadarParams

FORMATS = ("npy-raw", "npy-cube", "recording")
_CUBE_BATCH_FRAMES = 8


class NpyAppender:
    """Writes a ``.npy`` whose first dimension grows as rows are appended.

    The header is written with room for any row count and rewritten with the real shape on
    ``close`` (standard ``.npy`` v1; readers ignore the padding spaces).
    """

    def __init__(self, path: Path, dtype: np.dtype[Any], row_shape: tuple[int, ...]) -> None:
        self.path = path
        self.dtype = dtype
        self.row_shape = row_shape
        self.rows = 0
        widest = self._header_text(10**19)
        self._header_len = -(-(len(widest) + 11) // 64) * 64
        self._file: BufferedWriter = path.open("wb")
        self._file.write(self._header(0))

    def _header_text(self, rows: int) -> str:
        shape = (rows, *self.row_shape)
        return f"{{'descr': '{self.dtype.str}', 'fortran_order': False, 'shape': {shape}, }}"

    def _header(self, rows: int) -> bytes:
        text = self._header_text(rows)
        pad = self._header_len - 10 - len(text) - 1
        body = (text + " " * pad + "\n").encode("latin1")
        return b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body

    def append(self, rows: NDArray[Any]) -> None:
        if rows.shape[1:] != self.row_shape:
            raise ValueError(f"rows of shape {rows.shape[1:]}; expected {self.row_shape}")
        self._file.write(np.ascontiguousarray(rows, dtype=self.dtype).tobytes())
        self.rows += rows.shape[0]

    def close(self) -> None:
        self._file.seek(0)
        self._file.write(self._header(self.rows))
        self._file.close()


class _FrameSink:
    """Receives frames from the decoder: writes the array file and the per-frame report."""

    def __init__(self, out_dir: Path, params: RadarParams, fmt: str, iq_order: str) -> None:
        self.params = params
        self.iq_order = iq_order
        self.fmt = fmt
        self.frames: list[dict[str, Any]] = []
        self._pending: list[bytes] = []
        if fmt == "npy-raw":
            self.file = out_dir / "adc_raw.npy"
            self.writer = NpyAppender(self.file, np.dtype("<i2"), (params.bytes_per_frame // 2,))
        else:
            self.file = out_dir / "adc_cube.npy"
            self.writer = NpyAppender(self.file, np.dtype("<c8"), params.cube_shape)

    def _report(self, frame: RawFrame) -> None:
        self.frames.append(
            {
                "index": frame.index,
                "valid": frame.valid,
                "lost_bytes": frame.lost_bytes,
                "lost_ranges": [list(r) for r in frame.lost_ranges],
                "packets": frame.packets,
                "first_seq": frame.first_seq,
                "first_rx_time_ns": frame.first_rx_wall_ns,
                "last_rx_time_ns": frame.last_rx_wall_ns,
            }
        )

    def output_info(self) -> dict[str, Any]:
        return {
            "file": self.file.name,
            "format": self.fmt,
            "dtype": self.writer.dtype.str,
            "shape": [self.writer.rows, *self.writer.row_shape],
            "iq_order": self.iq_order if self.fmt == "npy-cube" else None,
        }

    def __call__(self, frame: RawFrame) -> None:
        self._report(frame)
        if self.fmt == "npy-raw":
            self.writer.append(frame.samples().reshape(1, -1))
            return
        self._pending.append(frame.data)
        if len(self._pending) >= _CUBE_BATCH_FRAMES:
            self._flush_cubes()

    def _flush_cubes(self) -> None:
        if not self._pending:
            return
        from dataset_tools.dsp.raw import decode_adc_frames

        cubes = decode_adc_frames(
            b"".join(self._pending),
            self.params,
            iq_order="studio" if self.iq_order == "studio" else "sdk",
        )
        self.writer.append(cubes)
        self._pending.clear()

    def close(self) -> None:
        if self.fmt == "npy-cube":
            self._flush_cubes()
        self.writer.close()


class _RecordingSink(_FrameSink):
    """Writes the frames into a take of the recording format (CONTRACT 1)."""

    def __init__(
        self, out_dir: Path, params: RadarParams, cfg_path: Path, args: argparse.Namespace
    ) -> None:
        from acquisition.recording.writer import TakeWriter

        self.params = params
        self.iq_order = args.iq_order
        self.fmt = "recording"
        self.frames = []
        self._pending = []
        self.radar = args.radar
        self.take = TakeWriter.create(out_dir, args.session, args.take, action=None)
        self.take.add_radar(
            self.radar,
            cfg_text=cfg_path.read_text(),
            info={"source": "radar-decode", "params": load_radar_config(cfg_path).derived()},
        )
        self.file = self.take.path
        self.sample_format = "int16_iq_studio" if args.iq_order == "studio" else "int16_iq_sdk"

    def __call__(self, frame: RawFrame) -> None:
        from acquisition.recording.records import NO_TRIGGER, RadarFrameRecord

        _FrameSink._report(self, frame)
        stamp = frame.first_rx_wall_ns or 0
        self.take.write_radar_frame(
            RadarFrameRecord(
                radar_id=self.radar,
                frame_number=frame.index,
                trigger_index=NO_TRIGGER,
                stamp_ns=stamp,
                device_time_ns=0,
                host_time_ns=stamp,
                shape=self.params.cube_shape,
                sample_format=self.sample_format,
                num_packets=frame.packets,
                lost_packets=-(-frame.lost_bytes // 1456),
                lost_bytes=frame.lost_bytes,
                valid=frame.valid,
                data=frame.data,
            )
        )

    def output_info(self) -> dict[str, Any]:
        return {"file": str(self.take.directory), "format": "recording", "frames": len(self.frames)}

    def close(self) -> None:
        self.take.close()


class _Progress:
    def __init__(self, quiet: bool, sink: _FrameSink) -> None:
        self.quiet = quiet
        self.sink = sink
        self.last = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if self.quiet or now - self.last < 2.0:
            return
        self.last = now
        pct = 100.0 * done / total if total else 100.0
        print(
            f"radar-decode: {pct:5.1f} % ({done / 1e9:.2f} of {total / 1e9:.2f} GB), "
            f"{len(self.sink.frames)} frames",
            file=sys.stderr,
            flush=True,
        )


def _summary_json(
    summary: CaptureSummary, sink: _FrameSink, args: argparse.Namespace
) -> dict[str, Any]:
    read = summary.read
    return {
        "tool": "radar-decode",
        "captures": summary.files,
        "capture_format": summary.format,
        "radar_cfg": str(args.cfg),
        "bytes_per_frame": summary.bytes_per_frame,
        "data_port": summary.port,
        "output": sink.output_info(),
        "totals": {
            "frames": summary.frames_complete + summary.frames_incomplete,
            "frames_complete": summary.frames_complete,
            "frames_incomplete": summary.frames_incomplete,
            "lost_bytes": summary.lost_bytes,
            "lost_packets": summary.lost_packets,
            "packets": summary.packets,
            "payload_bytes": summary.payload_bytes,
            "out_of_order": summary.out_of_order,
            "late_dropped": summary.late_dropped,
            "duplicates": summary.duplicates,
            "malformed": summary.malformed,
            "rejected": summary.rejected,
        },
        "reader": {
            "records": read.records,
            "datagrams": read.datagrams,
            "other_packets": read.other_packets,
            "snap_truncated": read.snap_truncated,
            "fragments": read.fragments,
            "unsupported_linktypes": read.unsupported_linktypes,
            "truncated": read.truncated,
            "partial_frame_bytes": read.partial_frame_bytes,
        },
        "frames": sink.frames,
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="radar-decode",
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "captures",
        nargs="+",
        type=Path,
        metavar="CAPTURE",
        help="pcap, pcapng or TI raw .bin file(s), read as one stream in order",
    )
    parser.add_argument("--cfg", required=True, type=Path, help="radar .cfg used for the take")
    parser.add_argument("--out", type=Path, help="output directory (default <capture>_decoded)")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="npy-raw",
        help="npy-raw: int16 per frame; npy-cube: complex64 ADC cubes",
    )
    parser.add_argument(
        "--iq-order",
        choices=("sdk", "studio"),
        default="sdk",
        help="I/Q order of the stream for npy-cube (sdk: Q0 Q1 I0 I1)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DATA_PORT,
        help="UDP destination port of the data packets (default 4098)",
    )
    parser.add_argument(
        "--expected-frames",
        type=int,
        help="frames of the take; missing trailing frames are reported lost",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="fail on a capture cut mid-record instead of decoding the rest",
    )
    parser.add_argument("--session", default="decoded", help="--format recording: session name")
    parser.add_argument("--take", help="--format recording: take name (default: capture name)")
    parser.add_argument("--radar", default="radar", help="--format recording: radar name")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        params = load_radar_config(args.cfg).params()
    except (RadarConfigError, OSError) as exc:
        print(f"radar-decode: {exc}", file=sys.stderr)
        return 2
    first = args.captures[0]
    out_dir: Path = args.out or first.with_name(first.stem + "_decoded")
    out_dir.mkdir(parents=True, exist_ok=True)
    sink: _FrameSink
    if args.format == "recording":
        from acquisition.recording.writer import RecordingError

        args.take = args.take or first.stem
        try:
            sink = _RecordingSink(out_dir, params, args.cfg, args)
        except RecordingError as exc:
            print(f"radar-decode: {exc}", file=sys.stderr)
            return 2
    else:
        sink = _FrameSink(out_dir, params, args.format, args.iq_order)
    try:
        summary = decode_capture(
            args.captures,
            params.bytes_per_frame,
            sink,
            port=args.port,
            expected_frames=args.expected_frames,
            strict=args.strict,
            progress=_Progress(args.quiet, sink),
        )
    except CaptureFileError as exc:
        sink.close()
        print(f"radar-decode: {exc}", file=sys.stderr)
        return 1
    sink.close()
    report = _summary_json(summary, sink, args)
    report_dir = sink.take.directory if isinstance(sink, _RecordingSink) else out_dir
    (report_dir / "decode_summary.json").write_text(json.dumps(report, indent=1) + "\n")
    totals = report["totals"]
    print(
        f"{totals['frames']} frames -> {sink.file} ({totals['frames_complete']} complete, "
        f"{totals['frames_incomplete']} incomplete; {totals['lost_bytes']} bytes / "
        f"{totals['lost_packets']} packets lost, {totals['duplicates']} duplicates, "
        f"{totals['out_of_order']} out of order)"
    )
    if summary.read.truncated:
        print(
            f"radar-decode: warning: capture truncated: {summary.read.truncated}", file=sys.stderr
        )
    if summary.read.partial_frame_bytes:
        print(
            f"radar-decode: warning: last frame is partial ({summary.read.partial_frame_bytes} of "
            f"{params.bytes_per_frame} bytes); zero-padded and marked incomplete",
            file=sys.stderr,
        )
    if summary.read.snap_truncated:
        print(
            f"radar-decode: warning: {summary.read.snap_truncated} datagrams cut by the capture's "
            "snap length (record with tcpdump -s 0); their bytes are counted as lost",
            file=sys.stderr,
        )
    if summary.read.datagrams == 0 and summary.format != "bin":
        print(
            f"radar-decode: warning: no UDP datagrams to port {args.port} in the capture",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
