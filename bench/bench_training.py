"""Benchmark: training samples/s and inference frames/s of the pose models, CPU or GPU.

Examples::

    python bench/bench_training.py                         # both models, tiny widths, CPU
    python bench/bench_training.py --size paper --device cuda --batch-size 20
    python bench/bench_training.py --model hupr --size paper --device cpu --steps 3

Synthetic inputs of the configured shape (paper: HuPR 2 radars x 2 (re/im) x 8 frames x
8 Doppler x 64 x 64 x 8 elevation; milliMamba 16 frames, elevation averaged); the data loader is
not measured. ``--size tiny`` uses the small widths of the evidence runs (``training.evidence``).
Training: forward + backward + optimiser step (AMP float16 on CUDA unless ``--no-amp``).
Inference: forward + decoding under ``torch.no_grad``; frames/s counts predicted frames (HuPR 1,
milliMamba 8 per window). Each figure is the median of ``--repeats`` timed blocks after warm-up.
On CUDA the mamba-ssm kernels are used when installed (printed). No pass/fail target.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from bench.pose_timing import pose_steps, samples_per_s
from training.config import load_config
from training.evidence import TINY_CONFIGS
from training.models import build_model
from training.models.selective_scan import mamba_kernel


def _batch(cfg: Any, shape: tuple[int, ...], b: int, device: torch.device) -> dict[str, Any]:
    p, j = len(cfg.data.target_offsets), 14
    h, w = cfg.data.heatmap_size
    return {
        "radar": torch.randn(b, *shape, device=device),
        "heatmaps": torch.rand(b, p, j, h, w, device=device),
        "keypoints": torch.rand(b, p, j, 2, device=device) * 256,
        "weights": torch.ones(b, p, j, device=device),
        "image_size": torch.full((b, 2), 256.0, device=device),
    }


def bench(name: str, args: argparse.Namespace, device: torch.device) -> None:
    cfg = load_config(TINY_CONFIGS[name] if args.size == "tiny" else None, model=name)
    t = cfg.data.window
    k = 8
    shape: tuple[int, ...] = (2, 2, t, k, 64, 64)
    if not cfg.data.elevation_mean:
        shape = (*shape, 8)
    torch.manual_seed(0)
    model = build_model(cfg, shape, 14).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    amp = device.type == "cuda" and not args.no_amp
    batch = _batch(cfg, shape, args.batch_size, device)
    params = sum(p.numel() for p in model.parameters())

    train_step, infer_step = pose_steps(model, opt, batch, device, amp)

    def rate(step: Any, train: bool) -> float:
        model.train(train)
        return samples_per_s(args, device, step)

    train_rate = rate(train_step, True)
    infer_rate = rate(infer_step, False)
    frames = len(cfg.data.target_offsets)
    print(
        f"{name:11s} {args.size:5s} {params / 1e6:7.2f} M params  input {shape}  "
        f"batch {args.batch_size}: train {train_rate:8.2f} samples/s   "
        f"inference {infer_rate:8.2f} windows/s = {infer_rate * frames:8.2f} frames/s"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", choices=["hupr", "millimamba", "all"], default="all")
    p.add_argument("--size", choices=["tiny", "paper"], default="tiny")
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--steps", type=int, default=3, help="steps per timed block")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--no-amp", action="store_true")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(
        f"device {name}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
        f"mamba-ssm kernels {'yes' if mamba_kernel() is not None else 'no'}"
    )
    for model in ["hupr", "millimamba"] if args.model == "all" else [args.model]:
        bench(model, args, device)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
