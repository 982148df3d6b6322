"""dataset-info: summary of a dataset.

Examples::

    dataset-info datasets/2024-05.zarr
    dataset-info datasets/2024-05.h5 --sequences
    dataset-info datasets/2024-05.zarr --json
"""

from __future__ import annotations

import argparse
import json
import sys

from dataset_tools.dataset import DatasetError
from dataset_tools.info import dataset_summary, format_summary


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="dataset-info", description="Summary of a dataset.")
    p.add_argument("dataset")
    p.add_argument("--sequences", action="store_true", help="one line per sequence")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    try:
        summary = dataset_summary(args.dataset)
    except DatasetError as exc:
        print(f"dataset-info: {exc}", file=sys.stderr)
        return 2
    print(
        json.dumps(summary, indent=1)
        if args.json
        else format_summary(summary, verbose=args.sequences)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
