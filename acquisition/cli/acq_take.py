"""Look at recorded takes: list a session, show one take, recover an interrupted one.

Examples::

    acq-take list ~/radar_sessions/sim 2024-05
    acq-take show ~/radar_sessions/sim/2024-05/S01_wave_20240501T101500
    acq-take show TAKE --json                  # the manifest, as recorded
    acq-take recover TAKE                      # mark a killed take interrupted, count what's left

``show`` reads the whole stream file once and reports what it holds per topic, so it also
verifies that the take is readable; a take whose recorder was killed is reported as interrupted
with what was recovered. Exit status 1 when a take cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from acquisition.cli.acq_record import summary_text
from acquisition.recording.reader import TakeReader, list_takes


def show(path: Path, *, as_json: bool) -> int:
    take = TakeReader(path)
    if as_json:
        print(json.dumps(take.manifest.to_dict(), indent=2))
        return 0
    report = take.scan()
    print(summary_text(take.manifest, path, take.status))
    print(f"  subject {take.manifest.subject}, action {take.manifest.action}")
    print(
        f"  streams.mcap: {report.messages} messages"
        + (f", truncated ({report.truncation_reason})" if report.truncated else "")
    )
    for topic, count in sorted(report.per_topic.items()):
        print(f"    {topic:<32} {count}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="acq-take", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="action", required=True)
    lst = sub.add_parser("list", help="takes of a session")
    lst.add_argument("sessions_root")
    lst.add_argument("session")
    shw = sub.add_parser("show", help="summary of one take")
    shw.add_argument("take", type=Path)
    shw.add_argument("--json", action="store_true", help="print the manifest")
    rec = sub.add_parser("recover", help="mark an interrupted take and count what it holds")
    rec.add_argument("take", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.action == "list":
            for path in list_takes(args.sessions_root, args.session):
                take = TakeReader(path)
                m = take.manifest
                print(f"{path.name:<40} {take.status:<12} {m.subject or '-':<6} {m.action or '-'}")
            return 0
        if args.action == "show":
            return show(args.take, as_json=args.json)
        take = TakeReader(args.take, repair=True)
        print(f"{args.take}: {take.status}; {take.scan().messages} messages readable")
        return 0
    except (FileNotFoundError, ValueError, OSError) as exc:
        print(f"acq-take: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
