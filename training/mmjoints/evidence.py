"""Evidence on simulated data for Mission and mmJoints (issue 9), one command, fixed seeds::

    python -m training.mmjoints.evidence --out runs/evidence_sim

Simulates (in memory, the same simulator and CFAR point detector as ``simpoints:``) a walking
data set for Mission (every subject with their own body size and gait, several takes each) and
an arm-action data set for mmJoints, then runs

* Mission under the ``75/25`` protocol (queries from held-out takes of every subject, gallery =
  camera clips of the other takes) and the ``unseen`` protocol (subjects held out), with the CPU
  config ``training/configs/mission_tiny.yaml``;
* mmJoints around the point-cloud baseline with ``training/configs/mmjoints_tiny.yaml``:
  descriptor sMAPE / wMAPE (and the training-mean reference), MPJPE before / after refinement,
  activity accuracy with and without the predicted descriptors.

Writes ``OUT/summary.json``, ``OUT/summary.md`` (the figures against chance, seeds, wall times)
and each run's directory (``mission_75-25/``, ``mission_unseen/``, ``mmjoints/``). About 10-15
minutes on 2 CPU cores (``--quick``: smaller data and fewer epochs, a smoke run, not evidence).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from training.config import CONFIG_DIR

MISSION_DATA = "simpoints:subjects=10,actions=walk_across,takes=4,frames=32,image_size=64"
MMJOINTS_DATA = (
    "simpoints:subjects=5,actions=standing+wave_one_hand+wave_both_hands+arm_raise,"
    "takes=2,frames=32,image_size=0"
)
QUICK_MISSION_DATA = "simpoints:subjects=4,actions=walk_across,takes=3,frames=12,image_size=32"
QUICK_MMJOINTS_DATA = (
    "simpoints:subjects=3,actions=standing+wave_both_hands,takes=2,frames=12,image_size=0"
)
QUICK_OVERRIDES = [("optim.epochs", 2)]


def _mission(spec: str, out: Path, quick: bool, log: Any) -> dict[str, Any]:
    from training.mission.config import load_mission_config
    from training.mission.pipeline import run_mission
    from training.mmjoints.pointdata import open_point_dataset

    t0 = time.perf_counter()
    source = open_point_dataset(spec)
    log(f"simulated {spec} in {time.perf_counter() - t0:.0f} s")
    results: dict[str, Any] = {"dataset": spec, "simulation_s": time.perf_counter() - t0}
    for protocol in ("75/25", "unseen"):
        overrides: list[tuple[str, Any]] = [("data.protocol", protocol)]
        if quick:
            overrides += [*QUICK_OVERRIDES, ("model.image_size", 32), ("data.clip_frames", 4)]
        cfg = load_mission_config(CONFIG_DIR / "mission_tiny.yaml", overrides)
        rep = run_mission(cfg, source, out=out / f"mission_{protocol.replace('/', '-')}", log=log)
        test = rep["test"]
        results[protocol] = {
            "seed": cfg.seed,
            "queries": test["queries"],
            "gallery_identities": test["gallery_identities"],
            "top1_%": test["CMC_%"]["top1"],
            "top5_%": test["CMC_%"]["top5"],
            "mAP_%": test["mAP_%"],
            "chance_%": test["chance_random_ranking_%"],
            "gallery_size_sweep": test["gallery_size_sweep"],
            "radar_pose_error_m": test["radar_pose_error_m"],
            "wall_s": rep["wall_s"],
        }
    results["wall_s"] = sum(results[p]["wall_s"] for p in ("75/25", "unseen"))
    return results


def _mmjoints(spec: str, out: Path, quick: bool, log: Any) -> dict[str, Any]:
    from training.mmjoints.config import load_mmjoints_config
    from training.mmjoints.pipeline import run_mmjoints
    from training.mmjoints.pointdata import open_point_dataset

    t0 = time.perf_counter()
    source = open_point_dataset(spec)
    sim_s = time.perf_counter() - t0
    log(f"simulated {spec} in {sim_s:.0f} s")
    overrides = [*QUICK_OVERRIDES, ("optim.baseline_epochs", 2)] if quick else []
    cfg = load_mmjoints_config(CONFIG_DIR / "mmjoints_tiny.yaml", overrides)
    rep = run_mmjoints(cfg, source, base="baseline", out=out / "mmjoints", log=log)
    d = rep["descriptors"]
    return {
        "dataset": spec,
        "simulation_s": sim_s,
        "seed": cfg.seed,
        "test_windows": rep["test_windows"],
        "xi": d["xi"],
        "kappa": d["kappa"],
        "training_mean_reference": d["training_mean_baseline"],
        "MPJPE_m": {
            "base": rep["refined_pose"]["before"]["MPJPE_m"],
            "refined": rep["refined_pose"]["after"]["MPJPE_m"],
        },
        "activity_accuracy_%": rep.get("activity_accuracy_%"),
        "wall_s": rep["wall_s"],
    }


def _markdown(summary: dict[str, Any]) -> str:
    lines = ["# Simulated evidence: Mission and mmJoints", ""]
    mission = summary["mission"]
    lines += [
        f"Mission (`{mission['dataset']}`, `training/configs/mission_tiny.yaml`)",
        "",
        "| protocol | seed | queries | identities | top-1 % | top-5 % | mAP % "
        "| chance (random ranking) top-1 / top-5 / mAP % | wall s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for protocol in ("75/25", "unseen"):
        r = mission[protocol]
        c = r["chance_%"]
        lines.append(
            f"| {protocol} | {r['seed']} | {r['queries']} | {r['gallery_identities']} "
            f"| {r['top1_%']:.1f} | {r['top5_%']:.1f} | {r['mAP_%']:.1f} "
            f"| {c['top1_%']:.1f} / {c['top5_%']:.1f} / {c['mAP_%']:.1f} | {r['wall_s']:.0f} |"
        )
    m = summary["mmjoints"]
    act = m["activity_accuracy_%"] or {}
    ref = m["training_mean_reference"]
    lines += [
        "",
        f"mmJoints (`{m['dataset']}`, `training/configs/mmjoints_tiny.yaml`, seed {m['seed']}, "
        f"{m['test_windows']} test windows, {m['wall_s']:.0f} s)",
        "",
        "| figure | value |",
        "|---|---|",
        f"| xi sMAPE / wMAPE % | {m['xi']['sMAPE_%']:.1f} / {m['xi']['wMAPE_%']:.1f} "
        f"(training mean: {ref['xi_sMAPE_%']:.1f}) |",
        f"| kappa sMAPE / wMAPE % | {m['kappa']['sMAPE_%']:.1f} / {m['kappa']['wMAPE_%']:.1f} "
        f"(training mean: {ref['kappa_sMAPE_%']:.1f}) |",
        f"| MPJPE base -> refined (m) | {m['MPJPE_m']['base']:.3f} -> "
        f"{m['MPJPE_m']['refined']:.3f} |",
    ]
    if act:
        lines.append(
            f"| activity accuracy % ({len(act['classes'])} classes, {act['test_windows']} "
            f"windows): pose only / pose + descriptors | {act['pose_only']:.1f} / "
            f"{act['pose_and_descriptors']:.1f} |"
        )
    lines += ["", f"Simulation and training wall time, summed: {summary['wall_s']:.0f} s."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="runs/evidence_sim", help="output directory")
    p.add_argument("--quick", action="store_true", help="tiny smoke run (not evidence)")
    p.add_argument(
        "--only",
        choices=["mission", "mmjoints"],
        help="run one half and merge it into OUT/summary.json (halves can run in parallel)",
    )
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    path = out / "summary.json"
    # ``--only`` updates its half of an existing summary (the halves can run in parallel)
    summary: dict[str, Any] = json.loads(path.read_text()) if args.only and path.is_file() else {}
    if args.only in (None, "mission"):
        spec = QUICK_MISSION_DATA if args.quick else MISSION_DATA
        summary["mission"] = _mission(spec, out, args.quick, print)
    if args.only in (None, "mmjoints"):
        spec = QUICK_MMJOINTS_DATA if args.quick else MMJOINTS_DATA
        summary["mmjoints"] = _mmjoints(spec, out, args.quick, print)
    if args.only and path.is_file():  # the other half may have finished meanwhile
        other = "mmjoints" if args.only == "mission" else "mission"
        earlier = json.loads(path.read_text())
        if other in earlier:
            summary[other] = earlier[other]
    summary["wall_s"] = sum(
        float(summary[k].get("wall_s", 0.0)) + float(summary[k].get("simulation_s", 0.0))
        for k in ("mission", "mmjoints")
        if k in summary
    )
    summary["command_wall_s"] = time.perf_counter() - t0
    path.write_text(json.dumps(summary, indent=2, default=float))
    if "mission" in summary and "mmjoints" in summary:
        text = _markdown(summary)
        (out / "summary.md").write_text(text)
        print(text)
    else:
        print(json.dumps(summary, indent=2, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
