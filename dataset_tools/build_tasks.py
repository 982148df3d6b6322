"""Per-stream build work that runs in worker processes: one radar or one camera of one take.

Each task reads its stream from the take (all rows in file order), places row ``r`` at frame
``frame_of_row[r]`` and writes whole windows of frames into arrays the main process created, so
tasks of different streams never touch the same chunk. Frames a stream did not deliver are
written too (NaN for float maps, 0 for integers and images): every chunk exists, and
``dataset-check`` can tell a missing chunk from a missing frame.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from acquisition.radar.config import parse_radar_config
from acquisition.recording import TakeReader
from dataset_tools.blas_threads import limit_blas_threads
from dataset_tools.dataset.storage import open_storage
from dataset_tools.dataset.writer import SequenceWriter
from dataset_tools.dsp import decode_adc_frames
from dataset_tools.privacy import blur_regions
from dataset_tools.representations import RepresentationConfig, compute, frame_layout


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


def run_task(task: RadarTask | CameraTask) -> TaskResult:
    """Entry point of a worker process (also called in-process with ``--workers 1``)."""
    limit_blas_threads(1)
    if isinstance(task, RadarTask):
        return _run_radar(task)
    return _run_camera(task)


def _run_radar(task: RadarTask) -> TaskResult:
    t0 = time.perf_counter()
    params = parse_radar_config(task.cfg_text).params(task.board)
    storage = open_storage(Path(task.store), "a", format="zarr")
    seq = SequenceWriter(storage, task.seq_id, task.num_frames)
    base = f"{seq.path}/radar/{task.radar}"
    fixed = tuple(n for n in task.names if n != "points")
    arrays = {n: storage.array(f"{base}/{n}") for n in fixed}
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
