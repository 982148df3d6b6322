"""dataset-import: read another project's layout into this toolkit's dataset format.

Examples::

    dataset-import hupr /data/HuPR --out datasets/hupr.zarr
    dataset-import hupr hupr_data/ --out datasets/roundtrip.h5
"""

from __future__ import annotations

import argparse
import sys

from dataset_tools.dataset import DatasetError
from dataset_tools.hupr import import_hupr


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="dataset-import", description="Import a dataset.")
    p.add_argument("layout", choices=("hupr",))
    p.add_argument("root")
    p.add_argument("--out", required=True)
    p.add_argument("--overwrite", action="store_true")
    args = p.parse_args(argv)
    try:
        counts = import_hupr(args.root, args.out, overwrite=args.overwrite)
    except (DatasetError, FileNotFoundError, ValueError) as exc:
        print(f"dataset-import: {exc}", file=sys.stderr)
        return 2
    print(f"{args.out}: {counts['sequences']} sequences, {counts['frames']} frames")
    return 0


if __name__ == "__main__":
    sys.exit(main())
