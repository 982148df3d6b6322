"""Inspect and check TI mmWave SDK radar configuration files.

Examples::

    radar-config show sensor_configs/hupr_horizontal.cfg
    radar-config show sensor_configs/hupr_horizontal.cfg --json
    radar-config check sensor_configs/*.cfg --trigger-period-ms 100
    radar-config format my.cfg > normalised.cfg

``check`` exits with status 1 when any file has an error (warnings do not fail unless
``--strict``); every finding is printed as ``file:line: severity: reason``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from acquisition.radar.boards import BOARDS
from acquisition.radar.config import RadarConfigError, load_radar_config

_ROWS: list[tuple[str, str, str]] = [
    ("board", "board", "{}"),
    ("TX / RX / virtual antennas", "_antennas", "{}"),
    ("TX order (chirpCfg)", "tx_order", "{}"),
    ("chirps per frame", "_chirps", "{}"),
    ("ADC samples", "num_samples", "{}"),
    ("sample rate", "sample_rate_ksps", "{:g} ksps"),
    ("ADC sampling / ramp", "_sampling", "{}"),
    ("chirp period", "chirp_period_us", "{:.2f} us"),
    ("start / centre frequency", "_freq", "{}"),
    ("slope", "slope_mhz_per_us", "{:g} MHz/us"),
    ("sampled / ramp bandwidth", "_bw", "{}"),
    ("range resolution", "range_resolution_m", "{:.4f} m"),
    ("max range", "max_range_m", "{:.2f} m"),
    ("velocity resolution", "velocity_resolution_mps", "{:.4f} m/s"),
    ("max velocity", "max_velocity_mps", "{:.3f} m/s"),
    ("frame period / rate", "_frame", "{}"),
    ("active frame / duty cycle", "_active", "{}"),
    ("trigger", "_trigger", "{}"),
    ("raw bytes per frame", "bytes_per_frame", "{:,}"),
    ("data rate avg / burst", "_rate", "{}"),
]


def _table(d: dict[str, object]) -> str:
    extra = {
        "_antennas": f"{d['num_tx']} / {d['num_rx']} / {d['num_virtual_antennas']}",
        "_chirps": f"{d['chirps_per_frame']} ({d['num_loops']} loops x {d['chirps_per_loop']})",
        "_sampling": f"{d['adc_sampling_time_us']:.2f} us / {d['ramp_end_time_us']:g} us",
        "_freq": f"{d['start_freq_ghz']:g} / {d['center_freq_ghz']:.3f} GHz",
        "_bw": f"{d['bandwidth_mhz']:.1f} / {d['ramp_bandwidth_mhz']:.1f} MHz",
        "_frame": f"{d['frame_period_ms']:g} ms / {d['frame_rate_hz']:.3f} Hz",
        "_active": f"{d['active_frame_time_ms']:.3f} ms / {100 * float(d['duty_cycle']):.1f} %",  # type: ignore[arg-type]
        "_trigger": "hardware (SYNC_IN)" if d["hardware_trigger"] else "software",
        "_rate": f"{d['data_rate_mbps']:.1f} / {d['burst_data_rate_mbps']:.1f} Mbit/s"
        + ("" if d["raw_adc_over_lvds"] else " (LVDS raw streaming off)"),
    }
    width = max(len(label) for label, _, _ in _ROWS)
    out = []
    for label, key, fmt in _ROWS:
        value = extra[key] if key.startswith("_") else fmt.format(d[key])
        out.append(f"  {label:<{width}}  {value}")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="radar-config", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="action", required=True)
    board_help = f"board geometry ({', '.join(BOARDS)}); guessed from the file by default"
    show = sub.add_parser("show", help="print derived parameters of a .cfg")
    show.add_argument("file")
    show.add_argument("--board", help=board_help)
    show.add_argument("--json", action="store_true", help="print one JSON object")
    check = sub.add_parser("check", help="validate .cfg files; exit 1 on errors")
    check.add_argument("files", nargs="+")
    check.add_argument("--board", help=board_help)
    check.add_argument(
        "--trigger-period-ms",
        type=float,
        help="external trigger period, checked against hardware-triggered frame periods",
    )
    check.add_argument("--strict", action="store_true", help="fail on warnings too")
    fmt = sub.add_parser("format", help="print the normalised .cfg (comments kept)")
    fmt.add_argument("file")
    args = parser.parse_args(argv)

    try:
        if args.action == "show":
            cfg = load_radar_config(args.file)
            derived = cfg.derived(args.board)
            if args.json:
                print(json.dumps({"file": args.file, **derived}, indent=2))
            else:
                print(f"{args.file}")
                print(_table(derived))
                for issue in cfg.validate(args.board):
                    print(f"  ! {issue}")
            return 0
        if args.action == "format":
            sys.stdout.write(load_radar_config(args.file).to_text())
            return 0
    except (RadarConfigError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    failed = 0
    trigger = args.trigger_period_ms / 1e3 if args.trigger_period_ms else None
    for path in args.files:
        try:
            issues = load_radar_config(path).validate(args.board, trigger_period_s=trigger)
        except RadarConfigError as exc:
            print(f"{exc.source}:{exc.line or 0}: error: {exc.reason}")
            failed += 1
            continue
        except KeyError as exc:
            print(f"{path}: error: {exc}")
            failed += 1
            continue
        for issue in issues:
            print(issue)
        bad = [i for i in issues if i.severity == "error" or args.strict]
        if bad:
            failed += 1
        else:
            print(f"{path}: ok")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
