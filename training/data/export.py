"""Write an in-memory dataset (``training.data.memory``) as a real dataset (CONTRACT 2) with
``dataset_tools.dataset.DatasetWriter``: for integration tests and for keeping a simulated
dataset on disk (``python -m training.data.export "sim:subjects=4" out.zarr``)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from training.data.memory import MemoryDataset


def write_memory_dataset(ds: MemoryDataset, out: str | Path, *, overwrite: bool = False) -> Path:
    """Write every sequence (radar maps with ``present``/``complete`` from the radar masks,
    labels with ``present`` from the label masks) and the splits; returns the dataset path."""
    from dataset_tools.dataset import DatasetWriter

    schemas = sorted({s for q in ds.sequences.values() for s in q.label_sets})
    skeletons: dict[str, list[str]] = {}
    for schema in schemas:
        try:
            from labeling.skeletons import get_schema

            skeletons[schema] = list(get_schema(schema).joints)
        except KeyError:
            skeletons[schema] = []
    radars = sorted({r for q in ds.sequences.values() for r in q.radar_data})
    writer = DatasetWriter.create(
        out,
        attrs={"radars": {r: {} for r in radars}, "source": "memory", **ds.attrs},
        overwrite=overwrite,
    )
    for seq_id, seq in ds.sequences.items():
        n = seq.num_frames
        sw = writer.begin_sequence(seq_id, n)
        sw.write_time_axis(np.arange(n, dtype=np.int64), np.arange(n, dtype=np.int64) * 100_000_000)
        for radar, reps in seq.radar_data.items():
            ok = seq.mask(f"radar/{radar}")
            sw.write_stream_meta(f"radar/{radar}", {"present": ok, "complete": ok})
            for rep, values in reps.items():
                sw.write(f"radar/{radar}/{rep}", values)
        for schema, lab in seq.label_sets.items():
            w, h = lab["image_size"]
            sw.write_labels(
                schema,
                keypoints_2d=lab["keypoints_2d"],
                keypoints_3d=lab["keypoints_3d"],
                valid=lab["valid"],
                boxes=lab["boxes"],
                present=seq.mask(f"labels/{schema}"),
                attrs={"image_size": [int(w), int(h)], "joint_names": skeletons.get(schema, [])},
            )
        sw.finish(dict(seq.attrs))
    return writer.finalize(splits=ds.splits, skeletons=skeletons)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m training.data.export SIM_SPEC OUT(.zarr|.h5)", file=sys.stderr)
        return 2
    from training.data.simulated import build_simulated_dataset, parse_sim_spec

    path = write_memory_dataset(build_simulated_dataset(parse_sim_spec(args[0])), args[1])
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
