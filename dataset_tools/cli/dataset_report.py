"""dataset-report: an HTML page with PNG figures describing a dataset.

Examples::

    dataset-report datasets/2024-05.zarr --out reports/2024-05
    xdg-open reports/2024-05/index.html
"""

from __future__ import annotations

import argparse
import sys

from dataset_tools.dataset import DatasetError
from dataset_tools.report import write_report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="dataset-report", description="HTML report of a dataset.")
    p.add_argument("dataset")
    p.add_argument("--out", required=True)
    p.add_argument("--max-sequences", type=int, default=50)
    args = p.parse_args(argv)
    try:
        page = write_report(args.dataset, args.out, max_sequences=args.max_sequences)
    except DatasetError as exc:
        print(f"dataset-report: {exc}", file=sys.stderr)
        return 2
    print(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
