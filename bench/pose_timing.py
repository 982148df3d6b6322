"""Timing shared by the pose-model benches (``bench_training.py``, ``bench_maepose.py``): one
training / inference step of a model on a fixed batch, and the median samples/s of timed blocks."""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch


def sync(device: torch.device) -> None:
    """Wait for queued GPU work (timings must not stop before it ends)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def pose_steps(
    model: Any, opt: torch.optim.Optimizer, batch: dict[str, Any], device: torch.device, amp: bool
) -> tuple[Callable[[], None], Callable[[], None]]:
    """(train step, inference step) of a PoseModel on ``batch`` (AMP when ``amp``)."""
    scaler = torch.amp.GradScaler("cuda", enabled=amp)

    def train_step() -> None:
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
            out = model(batch["radar"])
        loss, _ = model.loss(out, batch)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    @torch.no_grad()
    def infer_step() -> None:
        with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
            out = model(batch["radar"])
        model.decode(out, batch)

    return train_step, infer_step


def samples_per_s(
    args: argparse.Namespace, device: torch.device, step: Callable[[], None]
) -> float:
    """Median samples/s over ``args.repeats`` blocks of ``args.steps`` steps (after
    ``args.warmup`` steps) of ``args.batch_size`` samples each."""
    for _ in range(args.warmup):
        step()
    sync(device)
    blocks = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        for _ in range(args.steps):
            step()
        sync(device)
        blocks.append(args.steps * args.batch_size / (time.perf_counter() - t0))
    return float(statistics.median(blocks))
