"""HuPR's published layout: export a dataset to it, import it (or HuPR's own release) back.

Layout (what the authors' loader reads)::

    ROOT/single_{i}/hori/{frame:09d}.npy     VRDAE map of the horizontal radar, (16, 64, 64, 8)
    ROOT/single_{i}/vert/{frame:09d}.npy     same for the vertical radar
    ROOT/hrnet_annot_{train,val,test}.json   one list per sequence of the split, in split order:
        [{"image": "000000012.jpg", "joints": [[x, y] * 14], "bbox": [x1, y1, x2, y2]}, ...]

Joints are HuPR-14 in a 256 x 256 image space (source-camera pixels scaled per axis). Sequence
numbers ``i`` start at 1 in sorted sequence-id order. Two files the authors' loader ignores are
added so that an export imports back losslessly: ``ROOT/splits.json`` (split -> sequence
numbers) and ``ROOT/single_{i}/meta.json`` (sequence id and attributes, radar names, image size,
trigger indexes, timestamps, masks, joint validity and scores). The VRDAE ``.npy`` files are
complex128 by default, as the authors store them; import stores complex64 when that is exact.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dataset_tools.dataset import DatasetWriter, open_dataset
from dataset_tools.dataset.format import StorageFormat
from dataset_tools.splits import SplitConfig, make_splits

HUPR_SPACE = 256.0
HUPR_SCHEMA = "hupr14"
RADAR_DIRS = ("hori", "vert")
SPLITS = ("train", "val", "test")


def _radar_for(attrs: dict[str, Any], radars: list[str], mounting: str) -> str:
    for name in radars:
        if (attrs.get("radars", {}).get(name, {}) or {}).get("mounting") == mounting:
            return name
    fallback = {"horizontal": 0, "vertical": 1}[mounting]
    if len(radars) <= fallback:
        raise ValueError(f"no {mounting} radar among {radars}")
    return sorted(radars)[fallback]


def export_hupr(
    dataset: str | Path,
    out: str | Path,
    *,
    schema: str = HUPR_SCHEMA,
    split_family: str = "by_sequence",
    dtype: type[np.complexfloating[Any, Any]] = np.complex128,
    window: int = 32,
) -> dict[str, int]:
    """Write a dataset in HuPR's layout; returns counts (sequences, frames, files)."""
    ds = open_dataset(dataset)
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    numbers = {seq_id: i + 1 for i, seq_id in enumerate(sorted(ds.sequence_ids))}
    splits = ds.splits.get(split_family, {})
    annotations: dict[str, list[list[dict[str, Any]]]] = {s: [] for s in SPLITS}
    split_numbers: dict[str, list[int]] = {s: [] for s in SPLITS}
    files = frames = 0
    for seq_id in sorted(ds.sequence_ids):
        seq = ds.sequence(seq_id)
        i = numbers[seq_id]
        folder = root / f"single_{i}"
        radar_names = {
            "hori": _radar_for(seq.attrs, seq.radars, "horizontal"),
            "vert": _radar_for(seq.attrs, seq.radars, "vertical"),
        }
        for sub, radar in radar_names.items():
            (folder / sub).mkdir(parents=True, exist_ok=True)
            for start in range(0, seq.num_frames, window):
                stop = min(start + window, seq.num_frames)
                maps = seq.read(radar, "vrdae", start, stop).astype(dtype)
                for k in range(stop - start):
                    np.save(folder / sub / f"{start + k:09d}.npy", maps[k])
                    files += 1
        frames += seq.num_frames
        labels = seq.labels(schema) if schema in seq.label_schemas else None
        entries, meta_labels = _annotations(labels, seq.num_frames)
        meta = {
            "sequence": seq_id,
            "attrs": seq.attrs,
            "radars": radar_names,
            "num_frames": seq.num_frames,
            "trigger_index": seq.trigger_index.tolist(),
            "timeline_ns": seq.timestamps("trigger").tolist(),
            "radar_meta": {
                sub: {
                    "present": seq.mask(f"radar/{r}/present").tolist(),
                    "complete": seq.mask(f"radar/{r}").tolist(),
                    "lost_bytes": seq.lost_bytes(r).tolist(),
                    "frame_number": seq.frame_numbers(f"radar/{r}").tolist(),
                    "timestamp_ns": seq.timestamps(f"radar/{r}").tolist(),
                }
                for sub, r in radar_names.items()
            },
            "labels": meta_labels,
        }
        (folder / "meta.json").write_text(json.dumps(meta))
        # sequences outside the split family (none should be) train, as HuPR has no "other"
        split = next((s for s in SPLITS if seq_id in splits.get(s, [])), "train")
        annotations[split].append(entries)
        split_numbers[split].append(i)
    for split in SPLITS:
        (root / f"hrnet_annot_{split}.json").write_text(json.dumps(annotations[split]))
    (root / "splits.json").write_text(json.dumps(split_numbers, indent=1))
    return {"sequences": len(numbers), "frames": frames, "files": files}


def _annotations(
    labels: dict[str, Any] | None, n: int
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    if labels is None:
        empty = [
            {"image": f"{f:09d}.jpg", "joints": [[0.0, 0.0]] * 14, "bbox": [0.0] * 4}
            for f in range(n)
        ]
        return empty, None
    w, h = labels["image_size"]
    sx = HUPR_SPACE / w if w else 1.0
    sy = HUPR_SPACE / h if h else 1.0
    kp = labels["keypoints_2d"].astype(np.float64)
    boxes = labels["boxes"].astype(np.float64)
    xy = np.nan_to_num(kp[..., :2] * [sx, sy])
    bb = np.nan_to_num(boxes * [sx, sy, sx, sy])
    entries = [
        {"image": f"{f:09d}.jpg", "joints": xy[f].tolist(), "bbox": bb[f].tolist()}
        for f in range(n)
    ]
    meta = {
        "image_size": [w, h],
        "camera": labels["camera"],
        "source": labels["source"],
        "present": labels["present"].tolist(),
        "valid": labels["valid"].tolist(),
        "xy_nan": np.isnan(kp[..., :2]).any(axis=-1).tolist(),
        "box_nan": np.isnan(boxes).any(axis=-1).tolist(),
        "scores": np.nan_to_num(kp[..., 2], nan=-1.0).tolist(),
        "score_nan": np.isnan(kp[..., 2]).tolist(),
        "keypoints_3d": _none_for_nan(labels["keypoints_3d"]),
    }
    return entries, meta


def _none_for_nan(a: NDArray[Any]) -> list[Any]:
    """Nested lists with None for NaN (strict JSON has no NaN)."""
    obj = np.asarray(a, dtype=np.float64).astype(object)
    obj[np.isnan(np.asarray(a, dtype=np.float64))] = None
    result: list[Any] = obj.tolist()
    return result


def _vrdae_dtype(maps: NDArray[Any]) -> NDArray[Any]:
    """complex64 when that is exact, else the maps unchanged (NaN compare equal here)."""
    if maps.dtype == np.complex64:
        return maps
    small = maps.astype(np.complex64)
    if np.array_equal(small.astype(maps.dtype), maps, equal_nan=True):
        return small
    return maps


def import_hupr(
    root: str | Path,
    out: str | Path,
    *,
    format: StorageFormat | None = None,
    overwrite: bool = False,
) -> dict[str, int]:
    """HuPR layout (an export of ours or HuPR's release) -> our format at ``out``."""
    from labeling.skeletons import get_schema

    root = Path(root)
    folders = sorted(
        (p for p in root.glob("single_*") if p.is_dir()), key=lambda p: int(p.name.split("_")[1])
    )
    if not folders:
        raise FileNotFoundError(f"{root}: no single_<i> folders (not a HuPR layout)")
    split_numbers: dict[str, list[int]]
    if (root / "splits.json").exists():
        split_numbers = json.loads((root / "splits.json").read_text())
    else:  # HuPR's release: annotation lists follow sorted sequence numbers, train then val, test
        counts = {s: len(_load_annotations(root, s)) for s in SPLITS}
        numbers = [int(p.name.split("_")[1]) for p in folders]
        split_numbers, k = {}, 0
        for s in SPLITS:
            split_numbers[s] = numbers[k : k + counts[s]]
            k += counts[s]
    annotations = {s: _load_annotations(root, s) for s in SPLITS}
    entry_of = {
        n: annotations[s][k]
        for s in SPLITS
        for k, n in enumerate(split_numbers.get(s, []))
        if k < len(annotations[s])
    }
    schema = get_schema(HUPR_SCHEMA)
    fmt: StorageFormat = format or ("hdf5" if str(out).endswith((".h5", ".hdf5")) else "zarr")
    writer = DatasetWriter.create(
        out,
        format=fmt,
        overwrite=overwrite,
        attrs={"imported_from": {"layout": "hupr", "root": str(root)}},
    )
    seq_attrs: dict[str, dict[str, Any]] = {}
    frames = 0
    radars_attr: dict[str, Any] = {}
    for folder in folders:
        number = int(folder.name.split("_")[1])
        meta = (
            json.loads((folder / "meta.json").read_text())
            if (folder / "meta.json").exists()
            else None
        )
        files = {sub: sorted((folder / sub).glob("*.npy")) for sub in RADAR_DIRS}
        n = max(len(v) for v in files.values())
        seq_id = meta["sequence"] if meta else folder.name
        seq = writer.begin_sequence(seq_id, n)
        trig = np.asarray(meta["trigger_index"], np.int64) if meta else np.arange(n, dtype=np.int64)
        timeline = np.asarray(meta["timeline_ns"], np.int64) if meta else np.full(n, -1, np.int64)
        seq.write_time_axis(trig, timeline)
        names = meta["radars"] if meta else {"hori": "horizontal", "vert": "vertical"}
        for sub in RADAR_DIRS:
            radar = names[sub]
            maps = np.stack([np.load(f) for f in files[sub]]) if files[sub] else None
            if maps is not None:
                maps = _vrdae_dtype(maps)
                arr = seq.create(f"radar/{radar}/vrdae", maps.shape[1:], maps.dtype)
                arr[...] = maps
            if meta:
                rm = meta["radar_meta"][sub]
                seq.write_stream_meta(
                    f"radar/{radar}",
                    {
                        "present": np.asarray(rm["present"], bool),
                        "complete": np.asarray(rm["complete"], bool),
                        "lost_bytes": np.asarray(rm["lost_bytes"], np.int64),
                        "frame_number": np.asarray(rm["frame_number"], np.int64),
                        "timestamp_ns": np.asarray(rm["timestamp_ns"], np.int64),
                    },
                )
            else:
                seq.write_stream_meta(
                    f"radar/{radar}",
                    {
                        "present": np.ones(n, bool),
                        "complete": np.ones(n, bool),
                        "lost_bytes": np.zeros(n, np.int64),
                        "frame_number": np.arange(n, dtype=np.int64),
                        "timestamp_ns": np.full(n, -1, np.int64),
                    },
                )
            radars_attr[radar] = {"mounting": "horizontal" if sub == "hori" else "vertical"}
        entries = entry_of.get(number)
        if entries is not None:
            _write_labels(seq, entries, meta.get("labels") if meta else None, n, schema)
        attrs = (
            dict(meta["attrs"])
            if meta
            else {
                "session": root.name,
                "take": folder.name,
                "subject": None,
                "action": None,
                "scene": None,
                "radars": {
                    names[s]: {"mounting": radars_attr[names[s]]["mounting"]} for s in RADAR_DIRS
                },
            }
        )
        attrs.pop("complete", None)
        attrs.pop("num_frames", None)
        attrs["imported_from"] = f"hupr:{folder.name}"
        seq.finish(attrs)
        seq_attrs[seq_id] = attrs
        frames += n
    number_to_id = {
        int(f.name.split("_")[1]): (
            json.loads((f / "meta.json").read_text())["sequence"]
            if (f / "meta.json").exists()
            else f.name
        )
        for f in folders
    }
    splits = make_splits(seq_attrs, SplitConfig())
    splits["by_sequence"] = {
        s: sorted(number_to_id[i] for i in split_numbers.get(s, []) if i in number_to_id)
        for s in SPLITS
    }
    writer.finalize(
        splits=splits,
        radars=radars_attr,
        skeletons={schema.name: list(schema.joints)},
        subjects=sorted({str(a.get("subject")) for a in seq_attrs.values()}),
        actions=sorted({str(a.get("action")) for a in seq_attrs.values()}),
    )
    return {"sequences": len(folders), "frames": frames}


def _load_annotations(root: Path, split: str) -> list[list[dict[str, Any]]]:
    path = root / f"hrnet_annot_{split}.json"
    if not path.exists():
        return []
    data: list[list[dict[str, Any]]] = json.loads(path.read_text())
    return data


def _write_labels(
    seq: Any, entries: list[dict[str, Any]], meta: dict[str, Any] | None, n: int, schema: Any
) -> None:
    j = schema.num_joints
    xy = np.zeros((n, j, 2))
    boxes = np.zeros((n, 4))
    for f, e in enumerate(entries[:n]):
        xy[f] = np.asarray(e["joints"], dtype=np.float64).reshape(j, 2)
        boxes[f] = np.asarray(e["bbox"], dtype=np.float64)
    if meta is not None:
        w, h = meta["image_size"]
        sx = w / HUPR_SPACE if w else 1.0
        sy = h / HUPR_SPACE if h else 1.0
        xy = xy * [sx, sy]
        boxes = boxes * [sx, sy, sx, sy]
        xy[np.asarray(meta["xy_nan"], bool)] = np.nan
        boxes[np.asarray(meta["box_nan"], bool)] = np.nan
        scores = np.asarray(meta["scores"], np.float64)
        scores[np.asarray(meta["score_nan"], bool)] = np.nan
        valid = np.asarray(meta["valid"], bool)
        present = np.asarray(meta["present"], bool)
        k3 = np.asarray(
            [[[np.nan if v is None else v for v in p] for p in fr] for fr in meta["keypoints_3d"]],
            np.float64,
        ).reshape(n, j, 3)
        attrs = {"image_size": [w, h], "camera": meta["camera"], "source": meta["source"]}
    else:
        present = np.array([f < len(entries) for f in range(n)])
        valid = np.repeat(present[:, None], j, axis=1)
        scores = np.where(valid, 1.0, np.nan)
        k3 = np.full((n, j, 3), np.nan)
        attrs = {"image_size": [int(HUPR_SPACE), int(HUPR_SPACE)], "camera": None, "source": "hupr"}
    seq.write_labels(
        schema.name,
        keypoints_2d=np.concatenate([xy, scores[..., None]], axis=-1),
        keypoints_3d=k3,
        valid=valid,
        boxes=boxes,
        present=present,
        attrs={**attrs, "schema": schema.name, "joint_names": list(schema.joints)},
    )
