"""A plain-text summary of a dataset (``dataset-info``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dataset_tools.dataset import open_dataset


def dataset_summary(path: str | Path) -> dict[str, Any]:
    """Everything ``dataset-info`` prints, as a dict (also ``dataset-info --json``)."""
    ds = open_dataset(path, allow_incomplete=True)
    seqs = []
    total = 0
    for seq in ds:
        total += seq.num_frames
        seqs.append(
            {
                "id": seq.id,
                "frames": seq.num_frames,
                "subject": seq.attrs.get("subject"),
                "action": seq.attrs.get("action"),
                "scene": seq.attrs.get("scene"),
                "radars": {r: seq.representations(r) for r in seq.radars},
                "radar_frames_usable": {r: int(seq.mask(f"radar/{r}").sum()) for r in seq.radars},
                "cameras": {
                    c: {
                        "frames": int(seq.mask(f"camera/{c}").sum()),
                        "images": [
                            s
                            for s in ("color", "depth")
                            if seq.dataset.storage.exists(f"{seq.path}/camera/{c}/{s}")
                        ],
                    }
                    for c in seq.cameras
                },
                "labels": seq.label_schemas,
            }
        )
    attrs = ds.attrs
    return {
        "path": str(path),
        "storage": ds.format,
        "format": attrs.get("format"),
        "format_version": attrs.get("format_version"),
        "status": attrs.get("status"),
        "created_utc": attrs.get("created_utc"),
        "toolkit_version": attrs.get("toolkit_version"),
        "sequences": len(seqs),
        "frames": total,
        "subjects": attrs.get("subjects", []),
        "actions": attrs.get("actions", []),
        "radars": sorted(attrs.get("radars", {})),
        "representations": attrs.get("representations", {}),
        "skeletons": sorted(attrs.get("skeletons", {})),
        "privacy": attrs.get("privacy", {}),
        "splits": {k: {n: len(v) for n, v in g.items()} for k, g in ds.splits.items()},
        "dropped": attrs.get("provenance", {}).get("dropped", []),
        "per_sequence": seqs,
    }


def format_summary(s: dict[str, Any], *, verbose: bool = False) -> str:
    lines = [
        f"{s['path']}  ({s['storage']}, {s['format']} v{s['format_version']}, {s['status']})",
        f"  created {s['created_utc']} by toolkit {s['toolkit_version']}",
        f"  {s['sequences']} sequences, {s['frames']} frames; subjects {s['subjects']}; "
        f"actions {s['actions']}",
        f"  radars {s['radars']}; skeletons {s['skeletons']}",
        f"  privacy {s['privacy']}",
        f"  splits {s['splits']}",
    ]
    for d in s["dropped"]:
        lines.append(f"  dropped {d['session']}/{d['take']}: {d['reason']}")
    if verbose:
        for q in s["per_sequence"]:
            lines.append(
                f"  {q['id']}: {q['frames']} frames, {q['subject']} {q['action']}, "
                f"radars {q['radars']} usable {q['radar_frames_usable']}, cameras {q['cameras']}, "
                f"labels {q['labels']}"
            )
    return "\n".join(lines)
