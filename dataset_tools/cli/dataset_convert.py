"""dataset-convert: copy a dataset between Zarr and HDF5 (same hierarchy, chunks and codecs).

Examples::

    dataset-convert datasets/2024-05.zarr datasets/2024-05.h5
    dataset-convert datasets/2024-05.h5 datasets/2024-05.zarr

The copy is written as ``<out>.partial`` and renamed when complete.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from dataset_tools.convert import copy_dataset
from dataset_tools.dataset import DatasetError, open_dataset
from dataset_tools.dataset.storage import detect_format, open_storage
from dataset_tools.dataset.writer import partial_path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="dataset-convert", description="Zarr <-> HDF5 copy.")
    p.add_argument("src")
    p.add_argument("out")
    args = p.parse_args(argv)
    out = Path(args.out)
    if out.exists():
        print(f"dataset-convert: {out} exists", file=sys.stderr)
        return 2
    try:
        open_dataset(args.src).close()  # refuses unfinished builds and unknown versions
        part = partial_path(out)
        with (
            open_storage(args.src, "r") as src,
            open_storage(part, "w", format=detect_format(out)) as dst,
        ):
            copy_dataset(src, dst)
        os.replace(part, out)
    except DatasetError as exc:
        print(f"dataset-convert: {exc}", file=sys.stderr)
        return 2
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
