"""Benchmark: MAEPose pre-training and fine-tuning samples/s (and inference), CPU or GPU.

Examples::

    python bench/bench_maepose.py                                  # tiny widths, CPU
    python bench/bench_maepose.py --size paper --device cuda --batch-size 16
    python bench/bench_maepose.py --size paper --representation rd+ra --device cuda

Synthetic clips of the configured shape; the data loader is not measured. ``--size paper``: the
paper's widths (encoder 12 x 384 / 6 heads, decoder 4 x 512 / 16 heads, 90 % masking) on 20 RD
frames of 256 x 256 cells (255 chirp loops x 256 samples resized; 2560 tokens per modality),
heatmaps 64 x 64, 13 joints, 5 target frames. ``--size tiny``: the widths of the small CPU
evidence runs (``docs/maepose.md``): 64-wide, 4 blocks, 32 x 32 frames, heatmaps 24 x 32.
Pre-training: forward (encoder on the visible tokens) + backward + AdamW step; fine-tuning:
the same for the unmasked encoder + heatmap decoder with layer-wise decay groups; inference:
fine-tuned forward + argmax decoding. AMP float16 on CUDA unless ``--no-amp``. Each figure is
the median of ``--repeats`` timed blocks after warm-up. No pass/fail target.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from bench.pose_timing import pose_steps, samples_per_s
from training.config import RunConfig, load_config
from training.maepose.params import REPRESENTATIONS
from training.maepose.trainer import maepose_optimizer
from training.models import build_model

TINY: list[tuple[str, Any]] = [
    ("model.params.embed_dim", 64),
    ("model.params.depth", 4),
    ("model.params.num_heads", 4),
    ("model.params.fusion_heads", 4),
    ("model.params.patch", 8),
    ("model.params.frame_size", [32, 32]),
]
TINY_PRE: list[tuple[str, Any]] = [
    ("model.params.decoder_dim", 32),
    ("model.params.decoder_depth", 2),
    ("model.params.decoder_heads", 4),
]
TINY_FT: list[tuple[str, Any]] = [
    ("data.heatmap_size", [24, 32]),
    ("model.params.head_channels", 32),
]


def _config(model: str, args: argparse.Namespace) -> RunConfig:
    overrides: list[tuple[str, Any]] = [("data.representation", args.representation)]
    if args.size == "tiny":
        overrides += TINY + (TINY_PRE if model == "maepose-pretrain" else TINY_FT)
    else:
        overrides.append(("model.params.frame_size", [256, 256]))
    return load_config(model=model, overrides=overrides)


def bench(model_name: str, args: argparse.Namespace, device: torch.device) -> None:
    cfg = _config(model_name, args)
    size = cfg.model.params["frame_size"]
    m = len(REPRESENTATIONS[args.representation])
    shape = (1, m, cfg.data.window, size[0], size[1])
    torch.manual_seed(0)
    model = build_model(cfg, shape, 13).to(device)
    opt = maepose_optimizer(cfg, model)
    amp = device.type == "cuda" and not args.no_amp
    b, p = args.batch_size, len(cfg.data.target_offsets)
    batch = {
        "radar": torch.rand(b, *shape, device=device),
        "keypoints": torch.rand(b, p, 13, 2, device=device) * 256,
        "weights": torch.ones(b, p, 13, device=device),
        "image_size": torch.full((b, 2), 256.0, device=device),
    }

    train_step, infer_step = pose_steps(model, opt, batch, device, amp)
    params = sum(q.numel() for q in model.parameters())
    model.train()
    train = samples_per_s(args, device, train_step)
    line = (
        f"{model_name:16s} {args.size:5s} {args.representation:5s} {params / 1e6:6.2f} M params  "
        f"clip {shape}  batch {b}: train {train:8.2f} samples/s"
    )
    if model_name == "maepose":
        model.eval()
        infer = samples_per_s(args, device, infer_step)
        line += f"   inference {infer:8.2f} clips/s = {infer * p:8.2f} frames/s"
    print(line)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--stage", choices=["pretrain", "finetune", "both"], default="both")
    p.add_argument("--size", choices=["tiny", "paper"], default="tiny")
    p.add_argument("--representation", choices=list(REPRESENTATIONS), default="rd")
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    p.add_argument("--batch-size", type=int, default=8)
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
    print(f"device {name}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    stages = {"pretrain": ["maepose-pretrain"], "finetune": ["maepose"]}
    for model in stages.get(args.stage, ["maepose-pretrain", "maepose"]):
        bench(model, args, device)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
