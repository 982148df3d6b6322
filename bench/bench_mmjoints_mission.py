"""Benchmark: mmJoints and Mission training samples/s and inference samples/s, CPU or GPU.

Examples::

    python bench/bench_mmjoints_mission.py                          # tiny widths, CPU
    python bench/bench_mmjoints_mission.py --size paper --device cuda
    python bench/bench_mmjoints_mission.py --model mission --size paper --batch-size 4

Synthetic inputs (the data pipeline is not measured). mmJoints: K = 5 frames x 32 points, COCO-17
joints; a sample is one window; training = forward + all losses + backward + Adam step.
Mission: clips of 8 frames (32 points per frame, RGB at ``image_size``); a training sample is one
radar/camera pair of a batch whose B x B pairs are all scored; inference samples/s counts
radar x camera pairs scored from precomputed branch features, and clips/s the branch features.
``--size paper``: the configs' paper sizes (ResNet-50 at 224 x 224); ``tiny``: the widths of the
evidence runs (3-layer CNN at 64 x 64). Each figure is the median of ``--repeats`` timed blocks
after a warm-up. No pass/fail target.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch

from training.mission.config import load_mission_config
from training.mission.models import MissionModel, cross_modal_triplet
from training.mmjoints.config import load_mmjoints_config
from training.mmjoints.models import MmJoints, orthonormal_basis
from training.mmjoints.pipeline import mmjoints_losses

MMJ_TINY = [("model.hidden", 64), ("model.attention_layers", 1)]
MISSION_TINY = [
    ("model.backbone", "tiny"),
    ("model.image_size", 64),
    ("model.embed_dim", 64),
    ("model.attention_dim", 32),
    ("model.vision_mlp_hidden", 64),
    ("model.rf_lstm_hidden", 32),
]


def _timed(fn: Callable[[], None], device: torch.device, repeats: int, steps: int) -> float:
    """Median seconds per call over ``repeats`` blocks of ``steps`` calls (after one warm-up)."""
    fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        for _ in range(steps):
            fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append((time.perf_counter() - t0) / steps)
    return statistics.median(times)


def bench_mmjoints(size: str, batch: int, device: torch.device, repeats: int, steps: int) -> None:
    cfg = load_mmjoints_config(None, MMJ_TINY if size == "tiny" else [])
    m, j, k, n = cfg.model, 17, cfg.data.window, cfg.data.max_points
    rng = np.random.default_rng(0)
    model = MmJoints(
        num_joints=j,
        hidden=m.hidden,
        heads=m.attention_heads,
        layers=m.attention_layers,
        signal_dim=m.signal_dim,
        components=m.mixture_components,
        basis=orthonormal_basis(rng.normal(size=(4, 3 * j)), m.pose_basis),
        mean_pose=np.zeros(3 * j),
        n_clusters=4,
    ).to(device)
    b = {
        "points": torch.randn(batch, k, n, 5, device=device),
        "mask": torch.rand(batch, k, n, device=device) > 0.5,
        "base_rel": torch.randn(batch, 3 * j, device=device) * 0.3,
        "gt_rel": torch.randn(batch, 3 * j, device=device) * 0.3,
        "gt_pose_rel": torch.randn(batch, 3 * j, device=device) * 0.3,
        "xi": torch.rand(batch, j, device=device),
        "xi_obs": torch.rand(batch, j, device=device),
        "kappa": torch.rand(batch, j, device=device),
        "cluster": torch.randint(0, 4, (batch,), device=device),
    }
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def train() -> None:
        loss, _ = mmjoints_losses(model, b, cfg)
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()

    @torch.no_grad()
    def infer() -> None:
        model(b["points"], b["mask"], b["base_rel"], b["xi_obs"])

    model.train()
    t_train = _timed(train, device, repeats, steps)
    model.eval()
    t_inf = _timed(infer, device, repeats, steps)
    print(
        f"mmjoints [{size}] batch {batch}: train {batch / t_train:.1f} samples/s, "
        f"inference {batch / t_inf:.1f} samples/s ({1e3 * t_inf / batch:.2f} ms/sample)"
    )


def bench_mission(size: str, batch: int, device: torch.device, repeats: int, steps: int) -> None:
    cfg = load_mission_config(None, MISSION_TINY if size == "tiny" else [])
    t, n, s = cfg.data.clip_frames, cfg.data.max_points, cfg.model.image_size
    model = MissionModel(cfg.model, 17).to(device)
    pts = torch.randn(batch, t, n, 5, device=device)
    mask = torch.rand(batch, t, n, device=device) > 0.3
    images = torch.rand(batch, t, 3, s, s, device=device)
    ids = torch.arange(batch, device=device) // 2
    takes = torch.arange(batch, device=device)
    pose = torch.randn(batch, t, 17, 3, device=device)
    opt = torch.optim.Adam(model.parameters(), lr=2e-4)

    def train() -> None:
        r, v = model.rf(pts, mask), model.vision(images)
        dist = model.pair_distances(r, v)
        loss = 2.0 * cross_modal_triplet(dist, ids, ids, takes, takes, 0.3)
        _, _, y_r, y_v = model.coordinate(r, v)
        loss = loss + (model.pose_r(y_r).view_as(pose) - pose).abs().mean()
        loss = loss + (model.pose_v(y_v).view_as(pose) - pose).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    with torch.no_grad():
        model.eval()
        r_feat, v_feat = model.rf(pts, mask), model.vision(images)

    @torch.no_grad()
    def branches() -> None:
        model.rf(pts, mask)
        model.vision(images)

    @torch.no_grad()
    def pairs() -> None:
        model.pair_distances(r_feat, v_feat)

    model.train()
    t_train = _timed(train, device, repeats, steps)
    model.eval()
    t_branch = _timed(branches, device, repeats, steps)
    t_pairs = _timed(pairs, device, repeats, steps)
    print(
        f"mission [{size}, {cfg.model.backbone} {s}x{s}] batch {batch}: train "
        f"{batch / t_train:.1f} pairs/s; inference {batch / t_branch:.1f} clips/s (both "
        f"branches), {batch * batch / t_pairs:.0f} radar x camera pairs/s scored"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", choices=["mmjoints", "mission", "both"], default="both")
    p.add_argument("--size", choices=["tiny", "paper"], default="tiny")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--steps", type=int, default=3)
    args = p.parse_args(argv)
    device = torch.device(args.device)
    torch.manual_seed(0)
    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    if args.model in ("mmjoints", "both"):
        bench_mmjoints(args.size, args.batch_size, device, args.repeats, args.steps)
    if args.model in ("mission", "both"):
        bench_mission(args.size, args.batch_size, device, args.repeats, args.steps)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
