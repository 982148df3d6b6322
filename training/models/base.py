"""What every pose model of the trainer provides, and the losses they share."""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn


class PoseModel(nn.Module):
    """A radar pose model: ``forward(radar) -> outputs``, plus its loss and its decoding.

    ``radar`` is the batch of :class:`training.data.RadarWindowDataset` items' ``radar``
    tensors: (B, R, C, T, *frame_shape).
    """

    needs_heatmaps: ClassVar[bool] = False

    # A model may define ``optimizer_groups(lr, weight_decay) -> list[dict]`` (torch optimiser
    # parameter groups, e.g. layer-wise lr decay); the trainer uses it when present.

    def loss(
        self, outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(total loss, named parts) for a batch."""
        raise NotImplementedError

    def decode(
        self, outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(keypoints (B, P, J, 2) image pixels, scores (B, P, J)) for the target frames."""
        raise NotImplementedError


def weighted_heatmap_bce(
    logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """BCE between sigmoid(logits) and Gaussian targets, averaged over the pixels of joints with
    weight > 0 (computed from logits: numerically stable, AMP-safe).

    Args:
        logits, targets: (B, P, J, h, w).
        weights: (B, P, J).
    """
    bce = F.binary_cross_entropy_with_logits(logits.float(), targets.float(), reduction="none")
    per_joint = bce.mean(dim=(-1, -2))
    return (per_joint * weights).sum() / weights.sum().clamp_min(1.0)
