"""Windows of N consecutive frames over a dataset, as a torch ``Dataset``.

Mask policy (never silently zero):

- a window is **excluded** when any frame of it lacks data of any radar used
  (``seq.mask("radar/<name>")`` False);
- target frames without labels (``labels/<schema>`` mask False), joints not ``valid`` or below
  ``min_label_score`` get **weight 0** in the loss and are ignored by metrics;
- a window whose target frames carry no valid joint at all is **excluded**.

Counts of excluded windows by reason are kept in :attr:`RadarWindowDataset.excluded`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch.utils.data import Dataset

from training.config import AugmentConfig, DataConfig
from training.data.augment import augment_radar
from training.data.heatmaps import gaussian_heatmaps
from training.data.protocols import DatasetSource, SequenceSource


class DataIntegrityError(RuntimeError):
    """A window passed the masks but holds non-finite radar values (a dataset bug)."""


@dataclass(frozen=True)
class Window:
    """Frames ``[start, start + T)`` of sequence ``seq_id``."""

    seq_id: str
    start: int


@dataclass
class _SequenceLabels:
    keypoints: NDArray[np.float32]  # (F, J, 2) pixels, 0 where invalid
    weights: NDArray[np.float32]  # (F, J)
    keypoints_3d: NDArray[np.float32] | None  # (F, J, 3) metres, 0 where invalid
    weights_3d: NDArray[np.float32] | None  # (F, J)
    boxes: NDArray[np.float32]  # (F, 4)
    image_size: tuple[float, float]


def _sequence_labels(seq: SequenceSource, cfg: DataConfig) -> _SequenceLabels:
    if cfg.skeleton not in seq.label_schemas:
        raise KeyError(
            f"sequence has no labels of schema {cfg.skeleton!r}; it has {seq.label_schemas}"
        )
    lab: Mapping[str, Any] = seq.labels(cfg.skeleton)
    kp = np.asarray(lab["keypoints_2d"], dtype=np.float32)
    valid = np.asarray(lab["valid"], dtype=bool) & seq.mask(f"labels/{cfg.skeleton}")[:, None]
    valid &= np.isfinite(kp[..., :2]).all(-1)
    if kp.shape[-1] > 2:
        valid &= np.nan_to_num(kp[..., 2], nan=-1.0) >= cfg.min_label_score
    k3 = lab.get("keypoints_3d")
    kp3: NDArray[np.float32] | None = None
    w3: NDArray[np.float32] | None = None
    if k3 is not None:
        kp3 = np.asarray(k3, dtype=np.float32)
        ok3 = valid & np.isfinite(kp3).all(-1)
        w3 = ok3.astype(np.float32)
        kp3 = np.where(ok3[..., None], kp3, 0.0).astype(np.float32)
    boxes = lab.get("boxes")
    if boxes is None:
        boxes = np.full((kp.shape[0], 4), np.nan, dtype=np.float32)
    w, h = lab["image_size"]
    return _SequenceLabels(
        keypoints=np.where(valid[..., None], kp[..., :2], 0.0).astype(np.float32),
        weights=valid.astype(np.float32),
        keypoints_3d=kp3,
        weights_3d=w3,
        boxes=np.asarray(boxes, dtype=np.float32),
        image_size=(float(w), float(h)),
    )


class RadarWindowDataset(Dataset[dict[str, torch.Tensor]]):
    """Windows of ``cfg.window`` frames of ``cfg.representation`` from the radars used.

    Each item is a dict of tensors (P = len(target_offsets), J joints, R radars, T frames):

    - ``radar``: (R, C, T, *frame_shape) float32, C = 2 (real, imaginary) for complex
      representations, else 1; for ``vrdae``: frame_shape = (K Doppler, 64 range, 64 azimuth,
      E elevation), E dropped with ``elevation_mean``. Divided by ``input_scale``.
    - ``keypoints``: (P, J, 2) image pixels (0 where weight 0); ``weights``: (P, J).
    - ``heatmaps``: (P, J, h, w) Gaussian targets (when ``heatmaps=True``).
    - ``keypoints_3d`` (P, J, 3) metres and ``weights_3d`` (P, J), when the labels have them.
    - ``boxes``: (P, 4) ground-truth boxes (NaN when unknown); ``image_size``: (2,) (W, H).
    - ``window``: () int64, index of the window in :attr:`windows`.

    Args:
        source: the dataset.
        seq_ids: sequences to cut windows from.
        cfg: data settings.
        train: use ``stride`` (else ``eval_stride``) and apply augmentation.
        heatmaps: generate heatmap targets.
        augment: augmentation settings (train only).
        seed: seeds augmentation, with the epoch (:meth:`set_epoch`) and window index.
        require_labels: exclude windows whose target frames have no valid joint (False for
            prediction: every window with radar data).
    """

    def __init__(
        self,
        source: DatasetSource,
        seq_ids: Sequence[str],
        cfg: DataConfig,
        *,
        train: bool,
        heatmaps: bool,
        augment: AugmentConfig | None = None,
        seed: int = 0,
        require_labels: bool = True,
    ) -> None:
        self.source = source
        self.cfg = cfg
        self.train = train
        self.with_heatmaps = heatmaps
        self.augment = augment if train else None
        self.seed = seed
        self.epoch = 0
        self.input_scale = cfg.input_scale if cfg.input_scale is not None else 1.0
        self.windows: list[Window] = []
        self.excluded: dict[str, int] = {"lost_radar": 0, "no_labels": 0}
        self._labels: dict[str, _SequenceLabels] = {}
        self.radars: list[str] = list(cfg.radars) if cfg.radars else []
        stride = cfg.stride if train else cfg.eval_stride
        offsets = np.asarray(cfg.target_offsets)
        for seq_id in seq_ids:
            seq = source.sequence(seq_id)
            if not self.radars:
                self.radars = list(seq.radars)
            missing = [r for r in self.radars if r not in seq.radars]
            if missing:
                raise KeyError(f"sequence {seq_id} has no radar(s) {missing}")
            labels = _sequence_labels(seq, cfg)
            self._labels[seq_id] = labels
            radar_ok = np.ones(seq.num_frames, dtype=bool)
            for r in self.radars:
                if cfg.representation not in seq.representations(r):
                    raise KeyError(f"sequence {seq_id}, radar {r}: no {cfg.representation!r}")
                radar_ok &= np.asarray(seq.mask(f"radar/{r}"), dtype=bool)
            lost = np.concatenate([[0], np.cumsum(~radar_ok)])
            labelled: NDArray[np.bool_] = np.asarray(labels.weights.any(-1))
            for start in range(0, seq.num_frames - cfg.window + 1, stride):
                if lost[start + cfg.window] - lost[start] > 0:
                    self.excluded["lost_radar"] += 1
                elif require_labels and not labelled[start + offsets].any():
                    self.excluded["no_labels"] += 1
                else:
                    self.windows.append(Window(seq_id, start))

    def __len__(self) -> int:
        return len(self.windows)

    def set_epoch(self, epoch: int) -> None:
        """Augmentation draws depend on (seed, epoch, window): set before each epoch."""
        self.epoch = epoch

    @property
    def num_joints(self) -> int:
        return next(iter(self._labels.values())).weights.shape[1] if self._labels else 0

    def read_radar(self, window: Window) -> NDArray[np.float32]:
        """(R, C, T, *frame_shape) unscaled inputs of one window (see class docstring)."""
        seq = self.source.sequence(window.seq_id)
        stop = window.start + self.cfg.window
        parts = []
        for r in self.radars:
            bins = self.cfg.doppler_bins if self.cfg.representation == "vrdae" else None
            # only the model's Doppler bins are read (and, for VRDAE stored as channels, expanded)
            index = (slice(bins[0], bins[1]),) if bins is not None else ()
            x = np.asarray(seq.read(r, self.cfg.representation, window.start, stop, index=index))
            if self.cfg.representation == "vrdae":
                if bins is not None and x.shape[1] != bins[1] - bins[0]:
                    raise ValueError(
                        f"doppler_bins {self.cfg.doppler_bins} outside the Doppler bins stored "
                        "(a compact simulated dataset needs data.doppler_bins=null)"
                    )
                if self.cfg.elevation_mean:
                    x = x.mean(axis=-1)
            if np.iscomplexobj(x):
                x = np.stack([x.real, x.imag], axis=0)
            else:
                x = x[None]
            parts.append(x.astype(np.float32, copy=False))
        out = np.stack(parts)
        if not np.isfinite(out).all():
            raise DataIntegrityError(
                f"{window.seq_id} frames [{window.start}, {stop}): non-finite radar values in "
                "frames the masks mark as present"
            )
        return out

    def estimate_input_scale(self, max_windows: int = 32) -> float:
        """Median RMS of up to ``max_windows`` evenly spaced windows (1.0 when empty)."""
        if not self.windows:
            return 1.0
        picks = np.unique(np.linspace(0, len(self.windows) - 1, max_windows).astype(int))
        rms = [float(np.sqrt(np.mean(np.square(self.read_radar(self.windows[i]))))) for i in picks]
        return float(np.median(rms)) or 1.0

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        window = self.windows[index]
        labels = self._labels[window.seq_id]
        frames = window.start + np.asarray(self.cfg.target_offsets)
        radar = self.read_radar(window) / np.float32(self.input_scale)
        if self.augment is not None:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            radar = augment_radar(radar, self.augment, rng)
        item: dict[str, torch.Tensor] = {
            "radar": torch.from_numpy(np.ascontiguousarray(radar)),
            "keypoints": torch.from_numpy(labels.keypoints[frames]),
            "weights": torch.from_numpy(labels.weights[frames]),
            "boxes": torch.from_numpy(labels.boxes[frames]),
            "image_size": torch.tensor(labels.image_size, dtype=torch.float32),
            "window": torch.tensor(index, dtype=torch.int64),
        }
        if labels.keypoints_3d is not None and labels.weights_3d is not None:
            item["keypoints_3d"] = torch.from_numpy(labels.keypoints_3d[frames])
            item["weights_3d"] = torch.from_numpy(labels.weights_3d[frames])
        if self.with_heatmaps:
            h, w = self.cfg.heatmap_size
            item["heatmaps"] = torch.from_numpy(
                gaussian_heatmaps(
                    labels.keypoints[frames],
                    labels.weights[frames],
                    image_size=labels.image_size,
                    heatmap_size=(h, w),
                    sigma=self.cfg.heatmap_sigma,
                )
            )
        return item

    def frame_of(self, index: int) -> tuple[str, NDArray[np.int64]]:
        """(sequence id, (P,) frame indices) of the targets of window ``index``."""
        window = self.windows[index]
        return window.seq_id, window.start + np.asarray(self.cfg.target_offsets, dtype=np.int64)
