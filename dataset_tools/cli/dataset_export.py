"""dataset-export: write a dataset in another project's layout.

Examples::

    dataset-export datasets/2024-05.zarr --format hupr hupr_data/
    dataset-export datasets/2024-05.zarr --format hupr hupr_data/ --dtype complex64

``--format hupr`` writes HuPR's published layout (``single_{i}/{hori,vert}/{frame:09d}.npy``,
``hrnet_annot_{train,val,test}.json``, 14 joints in 256 x 256 image space) for the authors' code.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from dataset_tools.dataset import DatasetError
from dataset_tools.hupr import export_hupr


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="dataset-export", description="Export a dataset.")
    p.add_argument("dataset")
    p.add_argument("out")
    p.add_argument("--format", choices=("hupr",), default="hupr")
    p.add_argument("--dtype", choices=("complex128", "complex64"), default="complex128")
    p.add_argument("--split-family", default="by_sequence")
    args = p.parse_args(argv)
    try:
        counts = export_hupr(
            args.dataset,
            args.out,
            dtype=np.complex128 if args.dtype == "complex128" else np.complex64,
            split_family=args.split_family,
        )
    except (DatasetError, ValueError) as exc:
        print(f"dataset-export: {exc}", file=sys.stderr)
        return 2
    print(
        f"{args.out}: {counts['sequences']} sequences, {counts['frames']} frames, "
        f"{counts['files']} files"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
