"""Radar clips for MAEPose: reading RD / RA video from a dataset, preparing frames, windows.

Every item's ``radar`` is (R, M, T, H, W) float32: R radars (``data.radars``), M modalities in
the order of :data:`training.maepose.params.REPRESENTATIONS` (``rd``, ``ra`` or both), T =
``data.window`` frames. Preparation per frame: keep ``range_bins`` (RD frames are (Doppler,
range): range is the last axis; RA frames are (range, azimuth): range is the first), resize to
``frame_size`` (bilinear), then min-max to [0, 1] (the dataset stores dB; per-frame scaling is
``dataset_tools.dsp.maepose``'s default for MAEPose video).

Two datasets: :class:`RadarClipDataset` (stage 1: any take, labels not needed) and
:class:`MaeposeWindowDataset` (stage 2: :class:`training.data.RadarWindowDataset`'s windows,
labels, masks and weights, with MAEPose's clip reading).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch.utils.data import Dataset

from training.config import ConfigError, DataConfig
from training.data.protocols import DatasetSource, SequenceSource
from training.data.windows import DataIntegrityError, RadarWindowDataset, Window
from training.maepose.params import REPRESENTATIONS, MaeposeBackboneParams


def modalities_of(representation: str) -> tuple[str, ...]:
    """``data.representation`` (``rd``, ``ra``, ``rd+ra``) -> dataset representations read."""
    try:
        return REPRESENTATIONS[representation]
    except KeyError:
        raise ConfigError(
            f"data.representation {representation!r} is not a MAEPose input; "
            f"choose from {', '.join(REPRESENTATIONS)}"
        ) from None


def prepare_frames(
    frames: NDArray[np.floating],
    representation: str,
    *,
    range_bins: Sequence[int] | None,
    frame_size: Sequence[int] | None,
) -> NDArray[np.float32]:
    """Crop, resize and normalise one radar's frames.

    Args:
        frames: (T, D, Rg) for ``rd`` or (T, Rg, A) for ``ra``, dB.
        representation: ``rd`` or ``ra``.
        range_bins: ``[start, stop)`` range bins kept, or None.
        frame_size: (H, W) output size, or None (cropped size).

    Returns:
        (T, H, W) float32 in [0, 1] (a constant frame gives zeros).
    """
    x = np.asarray(frames, dtype=np.float32)
    if range_bins is not None:
        lo, hi = int(range_bins[0]), int(range_bins[1])
        axis = 2 if representation == "rd" else 1
        if hi > x.shape[axis]:
            raise ValueError(f"range_bins {list(range_bins)} outside {x.shape[axis]} range bins")
        x = x[:, :, lo:hi] if axis == 2 else x[:, lo:hi]
    if frame_size is not None and tuple(x.shape[1:]) != tuple(frame_size):
        t = F.interpolate(
            torch.from_numpy(np.ascontiguousarray(x))[:, None],
            size=(int(frame_size[0]), int(frame_size[1])),
            mode="bilinear",
            align_corners=False,
        )
        x = t[:, 0].numpy()
    lo_v = x.min(axis=(1, 2), keepdims=True)
    hi_v = x.max(axis=(1, 2), keepdims=True)
    span = np.where(hi_v > lo_v, hi_v - lo_v, 1.0)
    out: NDArray[np.float32] = ((x - lo_v) / span).astype(np.float32)
    return out


def read_clip(
    seq: SequenceSource,
    radars: Sequence[str],
    representations: Sequence[str],
    start: int,
    stop: int,
    params: MaeposeBackboneParams,
) -> NDArray[np.float32]:
    """(R, M, T, H, W) prepared clip of frames ``[start, stop)`` (see the module docstring)."""
    per_radar = []
    for r in radars:
        mods = [
            prepare_frames(
                seq.read(r, rep, start, stop),
                rep,
                range_bins=params.range_bins,
                frame_size=params.frame_size,
            )
            for rep in representations
        ]
        shapes = {m.shape for m in mods}
        if len(shapes) > 1:
            raise ValueError(
                f"modalities {list(representations)} give frames of shapes {sorted(shapes)}; "
                "set model.params.frame_size (and/or range_bins) so that they agree"
            )
        per_radar.append(np.stack(mods))
    out = np.stack(per_radar)
    if not np.isfinite(out).all():
        raise DataIntegrityError(f"frames [{start}, {stop}): non-finite radar values")
    return out


class MaeposeWindowDataset(RadarWindowDataset):
    """Labelled windows (stage 2, evaluation) with MAEPose clips as ``radar``.

    Same windows, masks, label weights and items as :class:`RadarWindowDataset` (which checks
    the first modality's availability; the others are checked here), ``radar`` from
    :func:`read_clip`.
    """

    def __init__(
        self,
        source: DatasetSource,
        seq_ids: Sequence[str],
        cfg: DataConfig,
        params: MaeposeBackboneParams,
        *,
        train: bool,
        seed: int = 0,
        require_labels: bool = True,
    ) -> None:
        self.representations = modalities_of(cfg.representation)
        first = dataclasses.replace(cfg, representation=self.representations[0])
        super().__init__(
            source,
            seq_ids,
            first,
            train=train,
            heatmaps=False,
            augment=None,
            seed=seed,
            require_labels=require_labels,
        )
        self.params = params
        for seq_id in seq_ids:
            seq = source.sequence(seq_id)
            for r in self.radars:
                for rep in self.representations[1:]:
                    if rep not in seq.representations(r):
                        raise KeyError(f"sequence {seq_id}, radar {r}: no {rep!r}")

    def read_radar(self, window: Window) -> NDArray[np.float32]:
        seq = self.source.sequence(window.seq_id)
        return read_clip(
            seq,
            self.radars,
            self.representations,
            window.start,
            window.start + self.cfg.window,
            self.params,
        )


class RadarClipDataset(Dataset[dict[str, torch.Tensor]]):
    """Clips for stage 1: every ``stride``-spaced window of ``cfg.window`` frames in which all
    used radars delivered every frame; labels are neither needed nor read.

    Items: ``radar`` (R, M, T, H, W) float32 and ``window`` () int64.
    """

    def __init__(
        self,
        source: DatasetSource,
        seq_ids: Sequence[str],
        cfg: DataConfig,
        params: MaeposeBackboneParams,
        *,
        train: bool,
    ) -> None:
        self.source, self.cfg, self.params = source, cfg, params
        self.representations = modalities_of(cfg.representation)
        self.radars: list[str] = list(cfg.radars) if cfg.radars else []
        self.windows: list[Window] = []
        self.excluded: dict[str, int] = {"lost_radar": 0}
        self.input_scale = 1.0
        self.num_joints = 0
        stride = cfg.stride if train else cfg.eval_stride
        for seq_id in seq_ids:
            seq = source.sequence(seq_id)
            if not self.radars:
                self.radars = list(seq.radars)
            ok = np.ones(seq.num_frames, dtype=bool)
            for r in self.radars:
                if r not in seq.radars:
                    raise KeyError(f"sequence {seq_id} has no radar {r!r}")
                for rep in self.representations:
                    if rep not in seq.representations(r):
                        raise KeyError(f"sequence {seq_id}, radar {r}: no {rep!r}")
                ok &= np.asarray(seq.mask(f"radar/{r}"), dtype=bool)
            lost = np.concatenate([[0], np.cumsum(~ok)])
            for start in range(0, seq.num_frames - cfg.window + 1, stride):
                if lost[start + cfg.window] - lost[start] > 0:
                    self.excluded["lost_radar"] += 1
                else:
                    self.windows.append(Window(seq_id, start))

    def __len__(self) -> int:
        return len(self.windows)

    def set_epoch(self, epoch: int) -> None:
        """No augmentation in stage 1 (kept for the trainer's interface)."""

    def estimate_input_scale(self, max_windows: int = 32) -> float:
        """Frames are min-max normalised, so the scale is 1."""
        return 1.0

    def read_radar(self, window: Window) -> NDArray[np.float32]:
        seq = self.source.sequence(window.seq_id)
        stop = window.start + self.cfg.window
        return read_clip(seq, self.radars, self.representations, window.start, stop, self.params)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        radar = self.read_radar(self.windows[index]) / np.float32(self.input_scale)
        return {
            "radar": torch.from_numpy(np.ascontiguousarray(radar)),
            "window": torch.tensor(index, dtype=torch.int64),
        }
