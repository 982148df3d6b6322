"""Radar input augmentation (training only; off in the paper configs, see AugmentConfig)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from training.config import AugmentConfig


def augment_radar(
    radar: NDArray[np.float32], cfg: AugmentConfig, rng: np.random.Generator
) -> NDArray[np.float32]:
    """Per-radar log-normal gain and white noise.

    Args:
        radar: (R, C, T, ...) inputs (C = 2 for real/imaginary parts).
        cfg: augmentation settings.
        rng: generator derived from (seed, epoch, window): deterministic and resumable.

    Returns:
        Array of the same shape.
    """
    out = radar
    if cfg.gain_std > 0:
        gains = np.exp(rng.normal(0.0, cfg.gain_std, size=radar.shape[0])).astype(np.float32)
        out = out * gains.reshape(-1, *([1] * (radar.ndim - 1)))
    if cfg.noise_std > 0:
        rms = float(np.sqrt(np.mean(np.square(out)))) or 1.0
        out = out + rng.normal(0.0, cfg.noise_std * rms, size=out.shape).astype(np.float32)
    return out.astype(np.float32, copy=False)
