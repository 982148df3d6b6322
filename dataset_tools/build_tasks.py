"""Per-stream build work that runs in worker processes: one radar or one camera of one take.

Each task reads its stream from the take (all rows in file order), places row ``r`` at frame
``frame_of_row[r]`` and writes whole windows of frames into arrays the main process created, so
tasks of different streams never touch the same chunk. Frames a stream did not deliver are
written too (NaN for float maps, 0 for integers and images): every chunk exists, and
``dataset-check`` can tell a missing chunk from a missing frame.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from acquisition.radar.config import parse_radar_config
from acquisition.recording import TakeReader
from acquisition.recording.chunk_reader import read_chunk
from acquisition.recording.manifest import STREAMS_NAME
from acquisition.recording.radar_frame_cdr import view_radar_frame
from dataset_tools.blas_threads import limit_blas_threads, single_blas_thread
from dataset_tools.dataset.storage import open_storage
from dataset_tools.dataset.writer import SequenceWriter
from dataset_tools.dsp import decode_adc_frames
from dataset_tools.privacy import blur_regions
from dataset_tools.representations import (
    RepresentationConfig,
    compute,
    frame_layout,
    stored_array,
)

#: frames decoded and computed at a time inside a window: their cube, scratch and maps stay in
#: cache (all 16 of a window at once measured ~14 % slower per frame: ~180 MB of temporaries)
SUB_BATCH = 4


@dataclass(frozen=True)
class RadarTask:
    """Compute and write the representations of one radar of one take."""

    store: str
    seq_id: str
    take_dir: str
    radar: str
    num_frames: int
    frame_of_row: NDArray[np.int64]
    cfg_text: str
    board: str | None
    iq_order: str
    names: tuple[str, ...]
    config: RepresentationConfig
    window: int = 16


@dataclass(frozen=True)
class RadarBlockTask:
    """Compute and write frames ``[start, stop)`` of several radars of one take.

    Reads only the MCAP chunks holding those frames (``chunk_of_row``, from the take index), so
    a take split into blocks is decompressed once over all workers, and every radar of a chunk
    is used by the one task that decompressed it. ``start`` (and ``stop`` unless it is the
    end) are multiples of ``window``; with ``window`` = the VRDAE shard frames every shard is
    written whole, straight from the computed block (``storage.write_frames``).
    """

    store: str
    seq_id: str
    take_dir: str
    start: int
    stop: int
    num_frames: int
    radars: tuple[RadarTask, ...]
    chunk_of_row: tuple[NDArray[np.int64], ...]
    trigger_of_row: tuple[NDArray[np.int64], ...]
    channels: dict[int, tuple[str, str]]
    window: int = 16


@dataclass(frozen=True)
class CameraTask:
    """Copy (and optionally blur) the images of one camera stream of one take."""

    store: str
    seq_id: str
    take_dir: str
    camera: str
    stream: str  # color | depth
    num_frames: int
    frame_of_row: NDArray[np.int64]
    shape: tuple[int, ...]
    face_boxes: NDArray[np.float32] | None = None  # (F, 4) when blurring
    window: int = 16


@dataclass
class TaskResult:
    """What a task did (sent back to the main process)."""

    stream: str
    frames_written: int = 0
    malformed_frames: list[int] = field(default_factory=list)
    late_frames: int = 0
    points: int = 0
    blurred: int = 0
    seconds: float = 0.0
    #: block tasks: frame -> (P, 8) point cloud of the frames they built (main writes them)
    clouds: dict[int, NDArray[np.float32]] | None = None

    def merge(self, other: TaskResult) -> None:
        """Add the counts of another block of the same stream."""
        self.frames_written += other.frames_written
        self.malformed_frames = sorted(self.malformed_frames + other.malformed_frames)
        self.late_frames += other.late_frames
        self.points += other.points
        self.blurred += other.blurred
        self.seconds += other.seconds
        if other.clouds is not None:
            self.clouds = {**(self.clouds or {}), **other.clouds}


def run_task(task: RadarTask | CameraTask) -> TaskResult:
    """Entry point of a worker process (also called in the building process)."""
    with single_blas_thread():
        if isinstance(task, RadarTask):
            return _run_radar(task)
        return _run_camera(task)


def run_block(task: RadarBlockTask) -> list[TaskResult]:
    """Entry point for a block of frames of all radars: one result per radar."""
    with single_blas_thread():
        return _run_block(task)


def run_any(task: RadarTask | CameraTask | RadarBlockTask) -> list[TaskResult]:
    """Any task; a list of results (block tasks give one per radar)."""
    if isinstance(task, RadarBlockTask):
        return run_block(task)
    return [run_task(task)]


def warm_up() -> None:
    """Import what the tasks need (submitted once per worker while the main process indexes)."""
    limit_blas_threads(1)
    import scipy.fft  # noqa: F401
    import zarr  # noqa: F401
    import zstandard  # noqa: F401

    from dataset_tools.dsp import fused  # noqa: F401


@dataclass
class _BlockRadar:
    """Per-radar state of a block task."""

    task: RadarTask
    params: Any
    layouts: dict[str, tuple[tuple[int, ...], np.dtype[Any]]]
    rows_by_frame: dict[int, int]
    first_row: dict[int, int]  # chunk offset -> first row of this radar in that chunk
    chunk_of_row: NDArray[np.int64]
    trigger_of_row: NDArray[np.int64]
    result: TaskResult
    buffers: dict[str, NDArray[Any]] = field(default_factory=dict)


def _run_block(task: RadarBlockTask) -> list[TaskResult]:
    t0 = time.perf_counter()
    storage = open_storage(Path(task.store), "a", format="zarr")
    base = f"sequences/{task.seq_id}/radar"
    w = task.window
    states: dict[str, _BlockRadar] = {}
    for rt, chunks, triggers in zip(
        task.radars, task.chunk_of_row, task.trigger_of_row, strict=True
    ):
        params = parse_radar_config(rt.cfg_text).params(rt.board)
        fixed = tuple(n for n in rt.names if n != "points")
        f = rt.frame_of_row
        rows = np.nonzero((f >= task.start) & (f < task.stop))[0]
        first_row: dict[int, int] = {}
        for r in range(chunks.shape[0] - 1, -1, -1):
            first_row[int(chunks[r])] = r
        states[f"/{rt.radar}/frames"] = _BlockRadar(
            task=rt,
            params=params,
            layouts={n: frame_layout(n, params, rt.config) for n in fixed},
            rows_by_frame={int(f[r]): int(r) for r in rows},
            first_row=first_row,
            chunk_of_row=chunks,
            trigger_of_row=triggers,
            result=TaskResult(
                stream=f"radar/{rt.radar}", clouds={} if "points" in rt.names else None
            ),
        )
    # chunk -> last window that needs it (so a decompressed chunk is dropped once used)
    last_use: dict[int, int] = {}
    for st in states.values():
        for frame, row in st.rows_by_frame.items():
            c = int(st.chunk_of_row[row])
            last_use[c] = max(last_use.get(c, -1), (frame - task.start) // w)
    by_channel = {cid: topic for cid, (topic, _) in task.channels.items() if topic in states}
    radar_channels = set(by_channel)
    payloads: dict[tuple[str, int], memoryview] = {}  # (topic, row) -> frame bytes (a view)
    loaded: set[int] = set()
    fd = os.open(Path(task.take_dir) / STREAMS_NAME, os.O_RDONLY)
    try:
        for k, w0 in enumerate(range(task.start, task.stop, w)):
            w1 = min(w0 + w, task.stop)
            need = sorted(
                {
                    int(st.chunk_of_row[st.rows_by_frame[fr]])
                    for st in states.values()
                    for fr in range(w0, w1)
                    if fr in st.rows_by_frame
                }
                - loaded
            )
            for offset in need:
                seen: dict[str, int] = {}
                for msg in read_chunk(fd, offset, channels=radar_channels):
                    topic = by_channel[msg.channel_id]
                    st = states[topic]
                    nth = seen.get(topic, 0)
                    seen[topic] = nth + 1
                    row = st.first_row.get(offset, -1) + nth
                    frame = (
                        int(st.task.frame_of_row[row]) if 0 <= row < len(st.chunk_of_row) else -1
                    )
                    if task.start <= frame < task.stop and st.rows_by_frame.get(frame) == row:
                        view = view_radar_frame(msg.data)
                        if view.trigger_index != st.trigger_of_row[row]:
                            raise ValueError(
                                f"{topic} row {row}: message has trigger index "
                                f"{view.trigger_index}, the take index {st.trigger_of_row[row]}"
                            )
                        payloads[(topic, row)] = view.data
            loaded.update(need)
            for topic, st in states.items():
                _block_window(storage, base, st, w0, w1, payloads, topic)
            loaded = {c for c in loaded if last_use.get(c, -1) > k}
    finally:
        os.close(fd)
    storage.close()
    results = [st.result for st in states.values()]
    for res in results:
        res.seconds = time.perf_counter() - t0
        res.points = int(sum(c.shape[0] for c in (res.clouds or {}).values()))
    return results


def _block_window(
    storage: Any,
    base: str,
    st: _BlockRadar,
    w0: int,
    w1: int,
    payloads: dict[tuple[str, int], memoryview],
    topic: str,
) -> None:
    """Compute and write frames [w0, w1) of one radar (NaN / 0 where it delivered nothing)."""
    rt, n = st.task, w1 - w0
    frame_bytes = st.params.bytes_per_frame
    frames: list[int] = []
    data: list[memoryview] = []
    for fr in range(w0, w1):
        row = st.rows_by_frame.get(fr)
        if row is None:
            continue
        payload = payloads.pop((topic, row), None)
        if payload is None:
            raise RuntimeError(f"{topic}: row {row} (frame {fr}) not found in its MCAP chunk")
        if len(payload) != frame_bytes:
            st.result.malformed_frames.append(fr)
            continue
        frames.append(fr)
        data.append(payload)
    outputs: dict[str, NDArray[Any]] = {}
    for name, (shape, dt) in st.layouts.items():
        buf = st.buffers.get(name)
        if buf is None or buf.shape[0] < n:
            buf = st.buffers[name] = np.empty((max(n, rt.window), *shape), dtype=dt)
        outputs[name] = buf[:n]
    rows = np.asarray(frames, dtype=np.int64) - w0
    if rows.shape[0] < n:  # frames the radar did not deliver
        missing = np.ones(n, dtype=bool)
        missing[rows] = False
        for out in outputs.values():
            out[missing] = np.nan if out.dtype.kind in "fc" else 0
    for a in range(0, len(frames), SUB_BATCH):
        part = rows[a : a + SUB_BATCH]
        k = part.shape[0]
        raw = st.buffers.get("_raw")
        if raw is None:
            raw = st.buffers["_raw"] = np.empty((SUB_BATCH, frame_bytes), np.uint8)
        for i in range(k):
            raw[i] = np.frombuffer(data[a + i], np.uint8)
        cube = decode_adc_frames(raw[:k].view("<i2"), st.params, iq_order=rt.iq_order)  # type: ignore[arg-type]
        work = st.buffers.get("_work")
        if work is None or work.shape != cube.shape:
            work = st.buffers["_work"] = np.empty_like(cube)
        r0 = int(part[0])
        contiguous = bool(part[-1] - r0 == k - 1)  # compute straight into the outputs
        dest = {name: out[r0 : r0 + k] for name, out in outputs.items()} if contiguous else None
        reps = compute(cube, st.params, rt.config, rt.names, out=dest, work=work)
        for name in st.layouts:
            if dest is None or reps[name] is not dest[name]:
                outputs[name][part] = reps[name]
        if "points" in reps:
            assert st.result.clouds is not None
            for i in range(k):
                cloud = reps["points"][i]
                cloud[:, 7] = frames[a + i]
                st.result.clouds[frames[a + i]] = cloud
    st.result.frames_written += len(frames)
    for name, out in outputs.items():
        storage.write_frames(f"{base}/{rt.radar}/{stored_array(name)}", w0, out)


def _run_radar(task: RadarTask) -> TaskResult:
    t0 = time.perf_counter()
    params = parse_radar_config(task.cfg_text).params(task.board)
    storage = open_storage(Path(task.store), "a", format="zarr")
    seq = SequenceWriter(storage, task.seq_id, task.num_frames)
    base = f"{seq.path}/radar/{task.radar}"
    fixed = tuple(n for n in task.names if n != "points")
    arrays = {n: storage.array(f"{base}/{stored_array(n)}") for n in fixed}
    layouts = {n: frame_layout(n, params, task.config) for n in fixed}
    result = TaskResult(stream=f"radar/{task.radar}")
    clouds: list[NDArray[np.float32]] = [np.zeros((0, 8), np.float32)] * task.num_frames
    frame_bytes = params.bytes_per_frame
    iq: Any = task.iq_order

    def flush(start: int, stop: int, pending: dict[int, bytes]) -> None:
        frames = sorted(f for f in pending if start <= f < stop)
        outputs = {
            n: np.full((stop - start, *shape), np.nan if dt.kind in "fc" else 0, dtype=dt)
            for n, (shape, dt) in layouts.items()
        }
        if frames:
            cube = decode_adc_frames(b"".join(pending.pop(f) for f in frames), params, iq_order=iq)
            reps = compute(cube, params, task.config, task.names)
            rows = np.asarray(frames) - start
            for n in fixed:
                outputs[n][rows] = reps[n]
            if "points" in reps:
                for i, f in enumerate(frames):
                    cloud = reps["points"][i]
                    cloud[:, 7] = f
                    clouds[f] = cloud
            result.frames_written += len(frames)
        for n in fixed:
            arrays[n][start:stop] = outputs[n]

    reader = TakeReader(task.take_dir)
    pending: dict[int, bytes] = {}
    window_start = 0
    w = task.window
    n_rows = task.frame_of_row.shape[0]
    for row, rec in enumerate(reader.radar_frames(task.radar)):
        f = int(task.frame_of_row[row]) if row < n_rows else -1
        if f < 0:
            continue
        if len(rec.data) != frame_bytes:
            result.malformed_frames.append(f)
            continue
        if f < window_start:  # arrived after its window was written (out of order)
            result.late_frames += 1
            flush(f, f + 1, {f: rec.data})
            continue
        pending[f] = rec.data
        while f >= window_start + w:
            flush(window_start, window_start + w, pending)
            window_start += w
    while window_start < task.num_frames:
        flush(window_start, min(window_start + w, task.num_frames), pending)
        window_start += w
    if "points" in task.names:
        seq.write_points(task.radar, clouds)
        result.points = int(sum(c.shape[0] for c in clouds))
    storage.close()
    result.seconds = time.perf_counter() - t0
    return result


def _run_camera(task: CameraTask) -> TaskResult:
    t0 = time.perf_counter()
    storage = open_storage(Path(task.store), "a", format="zarr")
    array = storage.array(f"sequences/{task.seq_id}/camera/{task.camera}/{task.stream}")
    result = TaskResult(stream=f"camera/{task.camera}/{task.stream}")
    w = task.window
    buffer = np.zeros((w, *task.shape), dtype=array.dtype)
    window_start = 0
    n_rows = task.frame_of_row.shape[0]

    def flush(start: int, stop: int) -> None:
        array[start:stop] = buffer[: stop - start]
        buffer[...] = 0

    reader = TakeReader(task.take_dir)
    for row, rec in enumerate(reader.camera_frames(task.camera, task.stream)):
        f = int(task.frame_of_row[row]) if row < n_rows else -1
        if f < 0:
            continue
        image = rec.image
        if image.shape != task.shape:
            result.malformed_frames.append(f)
            continue
        if task.face_boxes is not None and task.stream == "color":
            box = task.face_boxes[f]
            if np.isfinite(box).all():
                image = blur_regions(np.ascontiguousarray(image, dtype=np.uint8), box[None])
                result.blurred += 1
        if f < window_start:
            result.late_frames += 1
            array[f : f + 1] = image[None]
            continue
        while f >= window_start + w:
            flush(window_start, min(window_start + w, task.num_frames))
            window_start += w
        buffer[f - window_start] = image
        result.frames_written += 1
    while window_start < task.num_frames:
        flush(window_start, min(window_start + w, task.num_frames))
        window_start += w
    storage.close()
    result.seconds = time.perf_counter() - t0
    return result
