"""dataset-check: verify a dataset (schema, shapes, masks, chunk checksums).

Examples::

    dataset-check datasets/2024-05.zarr
    dataset-check datasets/2024-05.h5 --quick      # structure only, no chunk reads

Exit status 0 when sound, 1 with one line per problem otherwise.
"""

from __future__ import annotations

import argparse
import sys

from dataset_tools.check import check_dataset


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="dataset-check", description="Verify a dataset.")
    p.add_argument("dataset")
    p.add_argument("--quick", action="store_true", help="skip reading chunk data")
    args = p.parse_args(argv)
    problems = check_dataset(args.dataset, read_data=not args.quick)
    for problem in problems:
        print(f"dataset-check: {problem}", file=sys.stderr)
    if problems:
        print(f"{args.dataset}: {len(problems)} problems", file=sys.stderr)
        return 1
    print(f"{args.dataset}: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
