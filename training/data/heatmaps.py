"""Gaussian heatmap targets and their decoding (numpy for targets, torch for decoding).

Coordinates: an image pixel coordinate ``x`` maps to heatmap coordinate ``x * w / W`` (heatmap
pixel ``i`` centred at coordinate ``i``); the Gaussian is centred at the exact sub-pixel location
(no rounding), peak 1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    import torch


def gaussian_heatmaps(
    keypoints: NDArray[np.floating],
    weights: NDArray[np.floating],
    *,
    image_size: tuple[float, float],
    heatmap_size: tuple[int, int],
    sigma: float,
) -> NDArray[np.float32]:
    """Target heatmaps.

    Args:
        keypoints: (..., J, 2) image pixels (x, y).
        weights: (..., J); joints with weight 0 get an all-zero map.
        image_size: (W, H) of the image the keypoints are in.
        heatmap_size: (h, w).
        sigma: heatmap pixels.

    Returns:
        (..., J, h, w) float32 in [0, 1].
    """
    h, w = heatmap_size
    sx, sy = w / image_size[0], h / image_size[1]
    cx = np.nan_to_num(keypoints[..., 0] * sx)[..., None, None]
    cy = np.nan_to_num(keypoints[..., 1] * sy)[..., None, None]
    xs = np.arange(w, dtype=np.float64)
    ys = np.arange(h, dtype=np.float64)[:, None]
    maps = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2.0 * sigma**2))
    maps *= (np.asarray(weights) > 0)[..., None, None]
    out: NDArray[np.float32] = maps.astype(np.float32)
    return out


def decode_heatmaps(
    heatmaps: torch.Tensor, *, image_size: tuple[float, float]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Argmax decoding with the usual quarter-pixel shift towards the higher neighbour.

    Args:
        heatmaps: (..., J, h, w) scores (e.g. sigmoid outputs).
        image_size: (W, H) of the output coordinates.

    Returns:
        ``(keypoints, scores)``: (..., J, 2) image pixels and (..., J) peak values.
    """
    import torch

    *lead, h, w = heatmaps.shape
    flat = heatmaps.reshape(-1, h * w).float()
    scores, idx = flat.max(dim=-1)
    y = torch.div(idx, w, rounding_mode="floor")
    x = idx - y * w
    rows = torch.arange(flat.shape[0], device=flat.device)

    def at(yy: torch.Tensor, xx: torch.Tensor) -> torch.Tensor:
        return flat[rows, yy.clamp(0, h - 1) * w + xx.clamp(0, w - 1)]

    dx = torch.sign(at(y, x + 1) - at(y, x - 1)) * ((x > 0) & (x < w - 1))
    dy = torch.sign(at(y + 1, x) - at(y - 1, x)) * ((y > 0) & (y < h - 1))
    px = (x.float() + 0.25 * dx) * (image_size[0] / w)
    py = (y.float() + 0.25 * dy) * (image_size[1] / h)
    kp = torch.stack([px, py], dim=-1).reshape(*lead, 2)
    return kp, scores.reshape(*lead)
