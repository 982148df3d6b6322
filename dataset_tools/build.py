"""dataset-build: the takes of one or more sessions -> one dataset.

Per take: check it (status, checksum, truncation), index its streams in one pass, build the
frame axis (one frame per trigger pulse) and align every stream to it, attach labels, then
compute the radar representations and copy images in worker processes (one task per radar and
camera stream, all writing straight into the dataset), and mark the sequence complete.

The dataset is written at ``<out>.partial`` (always Zarr; an HDF5 target is converted at the
end) and renamed to ``<out>`` only once every take is done. Rerunning the same command after a
crash resumes: complete sequences whose sources have not changed are kept.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from mcap.exceptions import McapError
from numpy.typing import NDArray

from acquisition.radar.config import parse_radar_config
from acquisition.recording import TakeReader, list_takes
from acquisition.recording.checksums import crc32c_file, sha256_file
from dataset_tools.alignment import (
    AlignmentConfig,
    StreamAlignment,
    Timeline,
    align_stream,
    build_timeline,
)
from dataset_tools.build_tasks import (
    CameraTask,
    RadarBlockTask,
    RadarTask,
    TaskResult,
    run_any,
    warm_up,
)
from dataset_tools.dataset.format import VRDAE_ANGLE, StorageFormat
from dataset_tools.dataset.storage import open_storage
from dataset_tools.dataset.writer import DatasetWriter, SequenceWriter, partial_path
from dataset_tools.dsp.hupr import vrdae_angle_matrix
from dataset_tools.labels import DEFAULT_SCHEMAS, LabelSet, find_labels, label_sets
from dataset_tools.privacy import Pseudonymizer, face_boxes
from dataset_tools.representations import (
    RepresentationConfig,
    applicable,
    frame_layout,
    stored_array,
)
from dataset_tools.splits import SplitConfig, make_splits
from dataset_tools.take_index import TakeIndex, index_take


class CorruptTakeError(Exception):
    """A take that must not go into a dataset (message says why)."""


@dataclass(frozen=True)
class BuildConfig:
    """Everything ``dataset-build`` does (the CLI fills it; tests build it directly).

    Attributes:
        sessions: session folder names under ``sessions_root``.
        out: dataset path (``.zarr`` directory or ``.h5`` / ``.hdf5`` file).
        format: storage of the result (the build itself always writes Zarr).
        labels: ``auto`` | ``sim`` | ``none`` | a labels file (see :mod:`dataset_tools.labels`).
        label_schemas: skeletons every label set is converted into.
        workers: worker processes (1 = in-process).
        rgb, depth: store camera images; labels are kept either way.
        blur_faces: blur faces in stored RGB using the labels' head joints.
        pseudonyms: ``keep`` | ``hash:<secret>`` | mapping JSON file.
        fail_on_corrupt: stop the build at the first corrupted take instead of skipping it.
        include_interrupted: build takes whose recorder was killed (their recovered part).
        verify_checksums: compare streams.mcap with the manifest's checksums: its CRC32C when
            the recorder stored one (3x faster; a match means the recorded SHA-256 holds), else
            its SHA-256.
        recompute_sha256: always recompute SHA-256 (tampering, not only damage).
        resume: continue a partial build at ``<out>.partial`` (else start over).
        overwrite: replace an existing complete dataset at ``out``.
        window: frames processed per batch (a multiple of the frame chunks).
    """

    sessions: tuple[str, ...]
    sessions_root: Path
    out: Path
    format: StorageFormat = "zarr"
    representations: RepresentationConfig = field(default_factory=RepresentationConfig)
    labels: str = "auto"
    label_schemas: tuple[str, ...] = DEFAULT_SCHEMAS
    workers: int = 1
    alignment: AlignmentConfig = field(default_factory=AlignmentConfig)
    splits: SplitConfig = field(default_factory=SplitConfig)
    rgb: bool = True
    depth: bool = True
    blur_faces: bool = False
    pseudonyms: str = "keep"
    fail_on_corrupt: bool = False
    include_interrupted: bool = True
    verify_checksums: bool = True
    recompute_sha256: bool = False
    resume: bool = True
    overwrite: bool = False
    window: int = 16
    quiet: bool = False

    def describe(self) -> dict[str, Any]:
        """The build arguments as stored in the dataset (the pseudonym secret left out)."""
        d = asdict(self)
        d["sessions_root"] = str(self.sessions_root)
        d["out"] = str(self.out)
        if self.pseudonyms.startswith("hash:"):
            d["pseudonyms"] = "hash:<key withheld>"
        d.pop("quiet")
        return d

    def fingerprint(self) -> str:
        """What must match for a partial build to be resumed (not workers / quiet / resume)."""
        d = self.describe()
        for k in ("workers", "resume", "overwrite", "fail_on_corrupt", "out"):
            d.pop(k, None)
        d["pseudonyms"] = self.pseudonyms
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class TakeOutcome:
    session: str
    take: str
    seq_id: str | None
    status: str  # built | kept (resumed) | dropped
    reason: str = ""
    frames: int = 0
    seconds: float = 0.0
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass
class BuildSummary:
    out: Path
    outcomes: list[TakeOutcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def built(self) -> list[TakeOutcome]:
        return [o for o in self.outcomes if o.status in ("built", "kept")]

    @property
    def dropped(self) -> list[TakeOutcome]:
        return [o for o in self.outcomes if o.status == "dropped"]

    def text(self) -> str:
        lines = [f"dataset {self.out}: {len(self.built)} sequences, {len(self.dropped)} dropped"]
        for o in self.outcomes:
            what = f"{o.frames} frames" if o.status != "dropped" else o.reason
            lines.append(f"  {o.status:8s} {o.session}/{o.take}: {what}")
            for note in o.stats.get("notes", []):
                lines.append(f"           {note}")
        lines.append(f"  {self.seconds:.1f} s")
        return "\n".join(lines)


class Progress:
    """Plain progress lines on stderr (one per event; no terminal control codes)."""

    def __init__(self, total: int, *, quiet: bool = False, stream: TextIO | None = None) -> None:
        self.total = total
        self.done = 0
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.t0 = time.perf_counter()

    def line(self, text: str) -> None:
        if not self.quiet:
            elapsed = time.perf_counter() - self.t0
            print(f"[{self.done}/{self.total} {elapsed:6.1f} s] {text}", file=self.stream)

    def step(self, text: str) -> None:
        self.done += 1
        self.line(text)


# --- preparing one take ---------------------------------------------------------------------------
@dataclass
class PreparedTake:
    session: str
    take_dir: Path
    reader: TakeReader
    seq_id: str
    hashing: Future[dict[str, str]]
    expected_sha256: str | None
    index: TakeIndex
    timeline: Timeline
    radar_alignment: dict[str, StreamAlignment]
    camera_alignment: dict[str, StreamAlignment]
    labels: list[LabelSet]
    notes: list[str]
    skipped_reps: dict[str, dict[str, str]]

    @property
    def checksums(self) -> dict[str, str]:
        """SHA-256 of the take's files (waits for the hashing thread)."""
        return self.hashing.result()

    def verify_source(self) -> None:
        """Raise :class:`CorruptTakeError` when streams.mcap does not match the manifest."""
        _verify_sha(self.hashing, self.expected_sha256)


_HASHER = ThreadPoolExecutor(1, thread_name_prefix="take-sha256")

#: what reading a damaged recording raises in a worker (anything else is a bug and propagates)
_DATA_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,  # includes ChunkError and RadarFrame parse errors
    RuntimeError,
    EOFError,
    struct.error,
    McapError,
)


def _verify_sha(hashing: Future[dict[str, str]], expected: str | None) -> None:
    got = hashing.result()["streams.mcap"]
    if expected and got != expected:
        what = f"CRC32C {got[7:]}" if got.startswith("crc32c:") else f"SHA-256 {got[:12]}..."
        raise CorruptTakeError(
            f"streams.mcap {what} does not match the manifest (SHA-256 {expected[:12]}...): "
            "file changed or damaged after recording"
        )


def _checksums(take_dir: Path, recorded: dict[str, str] | None) -> dict[str, str]:
    """SHA-256 of the take's files (the provenance).

    ``recorded``: the manifest's ``sha256`` and ``crc32c`` of streams.mcap. The file is then
    checked with its CRC32C (3x faster than rehashing, ``acquisition.recording.checksums``): on
    a match its SHA-256 is the recorded one, else the value is ``"crc32c:<got>"``, which matches
    nothing.
    """
    files = ["manifest.json", "streams.mcap", "sim_ground_truth.npz", "labels.npz", "rig.yaml"]
    files += [f"labels/{p.name}" for p in sorted((take_dir / "labels").glob("*.h5"))]
    files += [f"cfg/{p.name}" for p in sorted((take_dir / "cfg").glob("*.cfg"))]
    out: dict[str, str] = {}
    for f in files:
        path = take_dir / f
        if not path.exists():
            continue
        if f == "streams.mcap" and recorded:
            got = crc32c_file(path)
            out[f] = recorded["sha256"] if got == recorded["crc32c"] else f"crc32c:{got}"
        else:
            out[f] = sha256_file(path)
    return out


def prepare_take(
    session: str, take_dir: Path, config: BuildConfig, pseudo: Pseudonymizer
) -> PreparedTake:
    """Check, index, align and label a take (main process; raises CorruptTakeError)."""
    try:
        reader = TakeReader(take_dir)
    except (ValueError, FileNotFoundError, KeyError, TypeError) as exc:
        raise CorruptTakeError(f"unreadable manifest: {exc}") from exc
    m = reader.manifest
    notes: list[str] = []
    status = reader.status
    if status == "failed":
        raise CorruptTakeError("take marked failed by the recorder")
    if m.status == "recording" and not reader.interrupted:
        raise CorruptTakeError("take is still being recorded")
    if status == "interrupted":
        if not config.include_interrupted:
            raise CorruptTakeError("interrupted take (recorder killed); --include-interrupted")
        notes.append("interrupted take: recovered part only")
    if not (take_dir / "streams.mcap").exists():
        raise CorruptTakeError("no streams.mcap")
    # hashing (GIL released) runs beside indexing and, for a take with a recorded frame index,
    # beside the workers too; the take is only marked complete once it matches (verify_source)
    recorded = m.files.get("streams.mcap", {})
    expected = recorded.get("sha256")
    # only a complete take's checksum can be checked (a recovered file differs by design)
    check_sha = config.verify_checksums and status == "complete"
    expected_sha = expected if check_sha and expected else None
    fast = (
        {"sha256": str(expected), "crc32c": str(recorded["crc32c"])}
        if expected_sha and recorded.get("crc32c") and not config.recompute_sha256
        else None
    )
    hashing = _HASHER.submit(_checksums, take_dir, fast)
    try:
        index = index_take(reader)
    except Exception as exc:
        _verify_sha(hashing, expected_sha)
        raise CorruptTakeError(f"streams unreadable: {type(exc).__name__}: {exc}") from exc
    if index.source == "scan":  # the whole file was read anyway: give the verdict now
        _verify_sha(hashing, expected_sha)
    if index.truncated and status == "complete":
        raise CorruptTakeError(f"streams.mcap truncated ({index.truncation_reason})")
    for radar in m.radars:
        if radar not in index.radars and m.radars[radar].get("output", "raw_adc") == "raw_adc":
            notes.append(f"radar {radar}: no frames in the recording")
    timeline = build_timeline(index, config.alignment)
    if timeline.num_frames == 0:
        raise CorruptTakeError("no frames to align (no pulses and no radar frames)")
    radar_alignment = {
        r: align_stream(rows, timeline, config.alignment) for r, rows in index.radars.items()
    }
    camera_alignment = {
        c: align_stream(rows, timeline, config.alignment) for c, rows in index.cameras.items()
    }
    for name, al in {**radar_alignment, **camera_alignment}.items():
        if al.dropped:
            notes.append(f"{name}: dropped {al.dropped}")
    try:
        raw_labels = find_labels(take_dir, m, config.labels)
    except (FileNotFoundError, KeyError, ValueError) as exc:
        raise CorruptTakeError(f"labels: {exc}") from exc
    labels = label_sets(raw_labels, timeline, config.label_schemas) if raw_labels else []
    skipped: dict[str, dict[str, str]] = {}
    for radar in index.radars:
        params = _radar_params(reader, radar)
        for name in config.representations.names:
            reason = applicable(name, params)
            if reason:
                skipped.setdefault(radar, {})[name] = reason
                notes.append(f"radar {radar}: no {name}: {reason}")
    seq_id = pseudo.scrub(m.take, m.subject)
    return PreparedTake(
        session=session,
        take_dir=take_dir,
        reader=reader,
        seq_id=seq_id,
        hashing=hashing,
        expected_sha256=expected_sha,
        index=index,
        timeline=timeline,
        radar_alignment=radar_alignment,
        camera_alignment=camera_alignment,
        labels=labels,
        notes=notes,
        skipped_reps=skipped,
    )


def _radar_cfg(reader: TakeReader, radar: str) -> tuple[str, str | None]:
    info = reader.manifest.radars.get(radar, {})
    cfg_file = info.get("cfg_file", f"cfg/{radar}.cfg")
    return (reader.directory / cfg_file).read_text(), info.get("board")


def _radar_params(reader: TakeReader, radar: str) -> Any:
    text, board = _radar_cfg(reader, radar)
    return parse_radar_config(text).params(board)


def _iq_order(index: TakeIndex, reader: TakeReader, radar: str) -> str:
    for rec in reader.radar_frames(radar):
        return "studio" if rec.sample_format == "int16_iq_studio" else "sdk"
    return "sdk"


# --- writing one take -----------------------------------------------------------------------------
def _stream_meta(rows: Any, al: StreamAlignment, malformed: list[int]) -> dict[str, NDArray[Any]]:
    n = al.row_of_frame.shape[0]
    r = al.row_of_frame
    have = r >= 0
    present = have.copy()
    present[np.asarray(malformed, dtype=np.int64)] = False
    take = np.where(have, r, 0)
    pick = (
        (lambda a, fill: np.where(have, a[take], fill))
        if len(rows)
        else (lambda a, fill: np.full(n, fill, dtype=a.dtype))
    )
    return {
        "present": present,
        "complete": present & pick(rows.valid, False) & (pick(rows.lost_bytes, 0) == 0),
        "lost_bytes": np.where(present, pick(rows.lost_bytes, 0), 0).astype(np.int64),
        "frame_number": np.where(present, pick(rows.frame_number, -1), -1).astype(np.int64),
        "timestamp_ns": np.where(present, pick(rows.stamp_ns, -1), -1).astype(np.int64),
    }


def _camera_info(reader: TakeReader, camera: str) -> dict[str, Any]:
    m = reader.manifest
    rig_cam: dict[str, Any] = next(
        (c for c in m.rig.get("cameras", []) if c.get("name") == camera), {}
    )
    return {
        "intrinsics": m.cameras.get(camera, {}).get("intrinsics"),
        "pose": rig_cam.get("pose"),
        "kind": rig_cam.get("kind"),
        "fps": m.cameras.get(camera, {}).get("fps"),
    }


def _radar_info(reader: TakeReader, radar: str) -> dict[str, Any]:
    m = reader.manifest
    text, board = _radar_cfg(reader, radar)
    rig_radar: dict[str, Any] = next(
        (r for r in m.rig.get("radars", []) if r.get("name") == radar), {}
    )
    info = m.radars.get(radar, {})
    return {
        "cfg_text": text,
        "board": board,
        "mounting": info.get("mounting"),
        "params": info.get("params"),
        "pose": rig_radar.get("pose"),
    }


def _blocks(prep: PreparedTake, config: BuildConfig) -> list[tuple[int, int]]:
    """Frame blocks for RadarBlockTasks: whole windows, at most 256 frames, and about six per
    worker, so that workers finish together (two blocks per worker left one idle for a third of
    a take) while a chunk split between two blocks (decompressed twice) stays rare."""
    n, w = prep.timeline.num_frames, max(1, config.window)
    per = -(-n // max(2, 6 * config.workers))
    size = min(max(w, -(-per // w) * w), max(w, 256 // w * w))
    return [(a, min(n, a + size)) for a in range(0, n, size)]


def _block_tasks(
    prep: PreparedTake, config: BuildConfig, radar_tasks: list[RadarTask]
) -> list[RadarBlockTask] | None:
    """Radar work split into frame blocks, or None when the recording's chunks are unknown."""
    chunks = [prep.index.radar_chunks.get(t.radar) for t in radar_tasks]
    if not radar_tasks or any(
        c is None or c.shape[0] != t.frame_of_row.shape[0] or (c < 0).any()
        for c, t in zip(chunks, radar_tasks, strict=True)
    ):
        return None
    return [
        RadarBlockTask(
            store=radar_tasks[0].store,
            seq_id=prep.seq_id,
            take_dir=str(prep.take_dir),
            start=a,
            stop=b,
            num_frames=prep.timeline.num_frames,
            radars=tuple(radar_tasks),
            chunk_of_row=tuple(c for c in chunks if c is not None),
            trigger_of_row=tuple(prep.index.radars[t.radar].trigger_index for t in radar_tasks),
            channels=prep.index.channels,
            window=config.window,
        )
        for a, b in _blocks(prep, config)
    ]


def start_take(
    writer: DatasetWriter, prep: PreparedTake, config: BuildConfig
) -> tuple[SequenceWriter, list[RadarTask | CameraTask | RadarBlockTask]]:
    """Create the sequence and all its arrays; write what the main process already has.

    Radar work is one :class:`RadarBlockTask` per block of frames (all radars) when the take
    index knows the MCAP chunk of every radar frame, else one :class:`RadarTask` per radar.
    """
    n = prep.timeline.num_frames
    seq = writer.begin_sequence(prep.seq_id, n)
    seq.write_time_axis(prep.timeline.trigger_index, prep.timeline.stamp_ns)
    tasks: list[RadarTask | CameraTask | RadarBlockTask] = []
    store = str(writer.partial)
    for radar in sorted(prep.index.radars):
        params = _radar_params(prep.reader, radar)
        names = tuple(
            r for r in config.representations.names if r not in prep.skipped_reps.get(radar, {})
        )
        for name in names:
            if name != "points":
                shape, dt = frame_layout(name, params, config.representations)
                seq.create(f"radar/{radar}/{stored_array(name)}", shape, dt)
            if name == "vrdae":  # the angle step readers apply to the stored channels
                seq.write(f"radar/{radar}/{VRDAE_ANGLE}", vrdae_angle_matrix())
        text, board = _radar_cfg(prep.reader, radar)
        tasks.append(
            RadarTask(
                store=store,
                seq_id=prep.seq_id,
                take_dir=str(prep.take_dir),
                radar=radar,
                num_frames=n,
                frame_of_row=prep.radar_alignment[radar].frame_of_row,
                cfg_text=text,
                board=board,
                iq_order=_iq_order(prep.index, prep.reader, radar),
                names=names,
                config=config.representations,
                window=config.window,
            )
        )
    blocks = _block_tasks(prep, config, [t for t in tasks if isinstance(t, RadarTask)])
    if blocks is not None:
        tasks = list(blocks)
    boxes = None
    if config.blur_faces and config.rgb:
        source = next((ls for ls in prep.labels if ls.schema in ("sim20", "coco17")), None)
        source = source or (prep.labels[0] if prep.labels else None)
        if source is not None:
            boxes = face_boxes(source.keypoints_2d, list(source.attrs["joint_names"]))
    for key, _rows in sorted(prep.index.cameras.items()):
        camera, _, stream = key.partition("/")
        if (stream == "color" and not config.rgb) or (stream == "depth" and not config.depth):
            continue
        image_shape = _image_shape(prep.reader, camera, stream)
        if image_shape is None:
            continue
        dtype = np.uint8 if stream == "color" else np.uint16
        seq.create(f"camera/{camera}/{stream}", image_shape, dtype, fill_value=0)
        tasks.append(
            CameraTask(
                store=store,
                seq_id=prep.seq_id,
                take_dir=str(prep.take_dir),
                camera=camera,
                stream=stream,
                num_frames=n,
                frame_of_row=prep.camera_alignment[key].frame_of_row,
                shape=image_shape,
                face_boxes=boxes if stream == "color" else None,
                window=config.window,
            )
        )
    for ls in prep.labels:
        seq.write_labels(
            ls.schema,
            keypoints_2d=ls.keypoints_2d,
            keypoints_3d=ls.keypoints_3d,
            valid=ls.valid,
            boxes=ls.boxes,
            present=ls.present,
            attrs=ls.attrs,
        )
    return seq, tasks


def _image_shape(reader: TakeReader, camera: str, stream: str) -> tuple[int, ...] | None:
    intr = reader.manifest.cameras.get(camera, {}).get("intrinsics") or {}
    w, h = int(intr.get("width", 0)), int(intr.get("height", 0))
    if not (w and h):
        for rec in reader.camera_frames(camera, stream):
            return tuple(rec.image.shape)
        return None
    return (h, w, 3) if stream == "color" else (h, w)


def finish_take(
    seq: SequenceWriter,
    prep: PreparedTake,
    results: list[TaskResult],
    config: BuildConfig,
    pseudo: Pseudonymizer,
) -> dict[str, Any]:
    """Per-frame metadata, statistics and the sequence attributes (marks it complete)."""
    m = prep.reader.manifest
    by_stream = {r.stream: r for r in results}
    stats: dict[str, Any] = {"radar": {}, "camera": {}, "notes": list(prep.notes)}
    for radar, al in sorted(prep.radar_alignment.items()):
        res = by_stream.get(f"radar/{radar}", TaskResult(f"radar/{radar}"))
        meta = _stream_meta(prep.index.radars[radar], al, res.malformed_frames)
        seq.write_stream_meta(f"radar/{radar}", meta)
        stats["radar"][radar] = {
            "frames": int(meta["present"].sum()),
            "missing": int((~meta["present"]).sum()),
            "incomplete": int((meta["present"] & ~meta["complete"]).sum()),
            "lost_bytes": int(meta["lost_bytes"].sum()),
            "malformed": len(res.malformed_frames),
            "points": res.points,
            "alignment": al.summary(),
        }
        if stats["radar"][radar]["incomplete"]:
            stats["notes"].append(
                f"radar {radar}: {stats['radar'][radar]['incomplete']} frames with lost data "
                "(kept, masked)"
            )
    for key, al in sorted(prep.camera_alignment.items()):
        camera, _, stream = key.partition("/")
        res = by_stream.get(f"camera/{key}", TaskResult(f"camera/{key}"))
        meta = _stream_meta(prep.index.cameras[key], al, res.malformed_frames)
        if stream == "color":
            seq.write_stream_meta(
                f"camera/{camera}",
                {k: v for k, v in meta.items() if k in ("present", "frame_number", "timestamp_ns")},
            )
        else:
            seq.write_stream_meta(f"camera/{camera}", {"depth_present": meta["present"]})
        stats["camera"][key] = {
            "frames": int(meta["present"].sum()),
            "missing": int((~meta["present"]).sum()),
            "stored": (stream == "color" and config.rgb) or (stream == "depth" and config.depth),
            "faces_blurred": res.blurred,
            "alignment": al.summary(),
        }
    for camera in {k.partition("/")[0] for k in prep.camera_alignment}:
        if f"{camera}/depth" not in prep.camera_alignment:
            seq.write_stream_meta(
                f"camera/{camera}", {"depth_present": np.zeros(seq.num_frames, bool)}
            )
    subject = pseudo(m.subject)
    attrs = {
        "session": prep.session,
        "take": pseudo.scrub(m.take, m.subject),
        "subject": subject,
        "action": m.action,
        "scene": m.scene,
        "consent_ref": m.consent_ref,
        "started_at": m.started_at,
        "duration_s": m.duration_s,
        "rig": m.rig.get("name"),
        "radars": {r: _radar_info(prep.reader, r) for r in sorted(prep.index.radars)},
        "cameras": {c: _camera_info(prep.reader, c) for c in sorted(m.cameras)},
        "calibration": m.calibration,
        "simulation": m.simulation,
        "source": {
            "path": pseudo.scrub(f"{prep.session}/{prep.take_dir.name}", m.subject),
            "status": prep.reader.status,
            "recording_format_version": m.format_version,
            "sha256": prep.checksums,
        },
        "alignment": {
            "method": prep.timeline.method,
            "tolerance_ns": config.alignment.tolerance_ns,
            "first_trigger_index": int(prep.timeline.trigger_index[0]),
            "interpolated_pulse_times": prep.timeline.interpolated,
        },
        "labels": {ls.schema: ls.attrs["source"] for ls in prep.labels},
        "skipped_representations": prep.skipped_reps,
        "stats": stats,
        "events": [e for e in m.events if e.get("kind") not in ("radar_armed",)][:200],
    }
    seq.finish(attrs)
    return stats


def _run_tasks(
    pool: ProcessPoolExecutor | None,
    tasks: list[RadarTask | CameraTask | RadarBlockTask],
    pool_workers: int = 0,
) -> list[TaskResult]:
    """Run every task; block tasks give one result per radar.

    This process works too: the pool's ``pool_workers`` processes take tasks from the front of
    the list (the next one submitted as each finishes), this process from the back, until none
    is left. It has everything imported already, so with ``--workers 2`` one pool process
    instead of two saves a worker start (~0.7 s of imports) and its CPU.
    """
    if pool is None:
        return [r for t in tasks for r in run_any(t)]
    queue = deque(tasks)
    lock = threading.Lock()
    futures: list[Future[list[TaskResult]]] = []

    def feed(_done: Future[list[TaskResult]] | None = None) -> None:
        with lock:
            if not queue:
                return
            future = pool.submit(run_any, queue.popleft())
            futures.append(future)
        future.add_done_callback(feed)

    results: list[TaskResult] = []
    try:
        for _ in range(2 * max(1, pool_workers)):  # one running and one queued per process
            feed()
        while True:
            with lock:
                task = queue.pop() if queue else None
            if task is None:
                break
            results += run_any(task)
        while True:  # futures grows while earlier ones finish
            with lock:
                pending = [f for f in futures if not f.done()]
            if not pending:
                break
            wait(pending)
        for f in futures:
            results += f.result()
    except BaseException:
        # let no task of this take write on after the caller drops its sequence
        with lock:
            queue.clear()
            submitted = list(futures)
        for f in submitted:
            f.cancel()
        wait(submitted)
        raise
    return results


def _merge_results(seq: SequenceWriter, results: list[TaskResult]) -> list[TaskResult]:
    """One result per stream; point clouds from block tasks written here (one ragged array)."""
    merged: dict[str, TaskResult] = {}
    for r in results:
        if r.stream in merged:
            merged[r.stream].merge(r)
        else:
            merged[r.stream] = r
    for r in merged.values():
        if r.clouds is not None and r.stream.startswith("radar/"):
            empty = np.zeros((0, 8), np.float32)
            clouds = [r.clouds.get(f, empty) for f in range(seq.num_frames)]
            seq.write_points(r.stream.removeprefix("radar/"), clouds)
            r.points = int(sum(c.shape[0] for c in clouds))
            r.clouds = None
    return list(merged.values())


# --- the whole build ------------------------------------------------------------------------------
def discover(config: BuildConfig) -> list[tuple[str, Path]]:
    takes: list[tuple[str, Path]] = []
    for session in config.sessions:
        takes += [(session, p) for p in list_takes(config.sessions_root, session)]
    return takes


def _open_writer(config: BuildConfig) -> tuple[DatasetWriter, bool]:
    """(writer, resumed)."""
    out = config.out
    if out.exists() and not config.overwrite:
        raise FileExistsError(f"{out} exists (use --overwrite to replace it)")
    part = partial_path(out)
    if part.exists() and config.resume:
        try:
            writer = DatasetWriter.resume(out, format="zarr")
        except Exception:
            writer = None
        if (
            writer is not None
            and writer.attrs.get("build", {}).get("fingerprint") == config.fingerprint()
        ):
            return writer, True
        if writer is not None:
            writer.close()
    writer = DatasetWriter.create(out, format="zarr", overwrite=True)
    return writer, False


def build_dataset(
    config: BuildConfig, *, on_take: Callable[[TakeOutcome], None] | None = None
) -> BuildSummary:
    """Build (or resume) the dataset described by ``config``; see the module docstring.

    Raises:
        CorruptTakeError: a take is corrupted and ``fail_on_corrupt`` is set.
        FileExistsError: ``out`` exists and ``overwrite`` is not set.
    """
    t0 = time.perf_counter()
    takes = discover(config)
    pseudo = Pseudonymizer(config.pseudonyms)
    pool: ProcessPoolExecutor | None = None
    pool_workers = config.workers - 1  # this process is the last worker
    if pool_workers > 0 and takes:
        pool = ProcessPoolExecutor(pool_workers, mp_context=multiprocessing.get_context("spawn"))
        # start the workers (imports take ~0.7 s) while this process opens the dataset and
        # checks and indexes a take
        for _ in range(pool_workers):
            pool.submit(warm_up)
    try:
        writer, resumed = _open_writer(config)
    except BaseException:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        raise
    if not resumed:
        writer.set_root_attrs(
            {
                "build": {
                    "fingerprint": config.fingerprint(),
                    "args": config.describe(),
                    "command": " ".join(sys.argv),
                },
                "representations": config.representations.describe(),
                "privacy": {
                    "rgb": config.rgb,
                    "depth": config.depth,
                    "blur_faces": config.blur_faces,
                    "pseudonyms": pseudo.method,
                },
            }
        )
    done = writer.completed_sequences()
    summary = BuildSummary(out=config.out)
    progress = Progress(len(takes), quiet=config.quiet)
    progress.line(
        f"building {config.out} from {len(takes)} takes of {', '.join(config.sessions)}"
        + (f" (resuming: {len(done)} sequences already complete)" if resumed else "")
    )
    seen_ids: dict[str, str] = {}
    sources: list[dict[str, Any]] = []
    first_take: PreparedTake | None = None
    try:
        for session, take_dir in takes:
            started = time.perf_counter()
            outcome = TakeOutcome(session, take_dir.name, None, "dropped")
            try:
                prep = prepare_take(session, take_dir, config, pseudo)
                outcome.seq_id = prep.seq_id
                if prep.seq_id in seen_ids:
                    raise CorruptTakeError(
                        f"sequence id {prep.seq_id!r} also used by {seen_ids[prep.seq_id]}"
                    )
                seen_ids[prep.seq_id] = f"{session}/{take_dir.name}"
                first_take = first_take or prep
                previous = done.get(prep.seq_id)
                if previous and previous.get("source", {}).get("sha256") == prep.checksums:
                    prep.verify_source()
                    outcome.status, outcome.frames = "kept", int(previous["num_frames"])
                    outcome.stats = previous.get("stats", {})
                else:
                    seq, tasks = start_take(writer, prep, config)
                    try:
                        raw_results = _run_tasks(pool, tasks, pool_workers)
                    except (CorruptTakeError, BrokenExecutor):
                        raise
                    except _DATA_ERRORS as exc:  # a damaged chunk found by a worker
                        prep.verify_source()  # a checksum mismatch is the better reason
                        raise CorruptTakeError(
                            f"streams unreadable: {type(exc).__name__}: {exc}"
                        ) from exc
                    prep.verify_source()  # before the sequence is marked complete
                    results = _merge_results(seq, raw_results)
                    outcome.stats = finish_take(seq, prep, results, config, pseudo)
                    outcome.status, outcome.frames = "built", seq.num_frames
                sources.append(
                    {
                        "session": session,
                        "take": pseudo.scrub(take_dir.name, prep.reader.manifest.subject),
                        "sequence": prep.seq_id,
                        "status": prep.reader.status,
                        "sha256": prep.checksums,
                    }
                )
            except CorruptTakeError as exc:
                outcome.reason = str(exc)
                if outcome.seq_id and outcome.seq_id not in done:
                    writer.drop_sequence(outcome.seq_id)
                if config.fail_on_corrupt:
                    raise CorruptTakeError(f"{session}/{take_dir.name}: {exc}") from exc
            outcome.seconds = time.perf_counter() - started
            summary.outcomes.append(outcome)
            if on_take is not None:
                on_take(outcome)
            rate = outcome.frames / outcome.seconds if outcome.seconds else 0.0
            progress.step(
                f"{outcome.status} {session}/{take_dir.name}"
                + (f": {outcome.frames} frames, {rate:.0f} frames/s" if outcome.frames else "")
                + (f": {outcome.reason}" if outcome.reason else "")
            )
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    built = [o.seq_id for o in summary.built if o.seq_id]
    attrs = writer.attrs
    seq_attrs = {s: writer.storage.attrs(f"sequences/{s}") for s in built}
    splits = make_splits(seq_attrs, config.splits)
    root: dict[str, Any] = {
        "splits": splits,
        "provenance": {
            "toolkit_version": attrs.get("toolkit_version"),
            "build_args": config.describe(),
            "sources": sources,
            "dropped": [
                {"session": o.session, "take": o.take, "reason": o.reason} for o in summary.dropped
            ],
        },
        "skeletons": _skeletons(config) if any(s.get("labels") for s in seq_attrs.values()) else {},
        "subjects": sorted({str(a.get("subject")) for a in seq_attrs.values()}),
        "actions": sorted({str(a.get("action")) for a in seq_attrs.values()}),
        "scenes": sorted({str(a.get("scene")) for a in seq_attrs.values()}),
    }
    if seq_attrs:
        firsts = next(iter(seq_attrs.values()))
        root["radars"] = firsts.get("radars", {})
        root["cameras"] = firsts.get("cameras", {})
        root["rig"] = firsts.get("rig")
    if config.format == "hdf5":
        writer.update_root_attrs(**root)
        finalize_as_hdf5(writer, config.out)
    else:
        writer.finalize(**root)
    summary.seconds = time.perf_counter() - t0
    progress.line(
        f"done: {len(summary.built)} sequences, {len(summary.dropped)} dropped -> {config.out}"
    )
    return summary


def _skeletons(config: BuildConfig) -> dict[str, list[str]]:
    from labeling.skeletons import get_schema

    return {get_schema(s).name: list(get_schema(s).joints) for s in config.label_schemas}


def finalize_as_hdf5(writer: DatasetWriter, out: Path) -> None:
    """Copy the finished Zarr build into an HDF5 file at ``out`` (same hierarchy), then remove
    the Zarr build. The HDF5 file is itself written as ``<out>.partial`` first."""
    from dataset_tools.convert import copy_dataset

    src = writer.storage
    part = partial_path(out).with_name(partial_path(out).name + ".h5")
    with open_storage(part, "w", format="hdf5") as dst:
        copy_dataset(src, dst)
        h5 = DatasetWriter(out, dst)
        h5.partial = part
        h5.finalize(**{k: v for k, v in src.attrs("").items() if k not in ("status",)})
    import shutil

    shutil.rmtree(writer.partial, ignore_errors=True)
