"""mmpose top-down heatmap models (HRNet-W32, ViTPose-B), imported only when chosen.

mmpose builds the network from its config; cropping, normalisation and heatmap decoding are this
package's own (:mod:`labeling.geometry`), so every box of a whole batch of frames goes through
the network in one forward pass. Keypoints are always finite: a joint whose heatmap has no
positive peak (or holds non-finite values) gets score 0 (:func:`labeling.geometry.heatmap_argmax`).
Install: ``bash scripts/install_mmpose.sh VENV``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from acquisition.errors import MissingDependency
from labeling.backends.base import ModelInfo, checkpoint_and_hash, resolve_device
from labeling.config import LabelingConfig
from labeling.geometry import (
    box_to_center_scale,
    crop_affine,
    decode_heatmaps,
    invert_affine,
    warp_crops,
)
from labeling.models import MODEL_FILES
from labeling.skeletons import COCO17

RANDOM_WEIGHTS_SEED = 0
"""torch seed of the untrained networks built with ``random_weights``."""


class MissingMMPose(MissingDependency):
    """mmpose (or its compiled mmcv) is not installed; a plain pip install does not work."""

    def __init__(self, reason: str) -> None:
        ImportError.__init__(
            self,
            "HRNet / ViTPose labeling needs mmpose 1.3.2 with mmcv 2.1.0 compiled for this torch "
            f"({reason}): run bash scripts/install_mmpose.sh <venv> (pip alone cannot install "
            "it: mmcv has no wheel for torch 2.14), or use the yolo-pose preset",
        )
        self.package = "mmpose"
        self.extra = "labeling"


def _import_mmpose() -> tuple[Any, Any]:
    try:
        import mmpose
        from mmpose.apis import init_model
    except ImportError as exc:
        raise MissingMMPose(str(exc)) from exc
    return mmpose, init_model


def resolve_mmpose_config(architecture: str) -> Path:
    """An mmpose config: an existing path, or one relative to mmpose's packaged configs."""
    direct = Path(architecture).expanduser()
    if direct.is_file():
        return direct
    mmpose, _ = _import_mmpose()
    packaged = Path(mmpose.__file__).parent / ".mim" / "configs" / architecture
    if packaged.is_file():
        return packaged
    raise FileNotFoundError(
        f"mmpose config {architecture!r} not found (neither a file nor under {packaged.parent})"
    )


class MMPoseTopDown:
    """Top-down heatmap pose model from an mmpose config (COCO-17 output)."""

    def __init__(self, config: LabelingConfig) -> None:
        import torch

        mmpose, init_model = _import_mmpose()
        p = config.pose
        arch = p.architecture or MODEL_FILES[p.model].architecture
        cfg_path = resolve_mmpose_config(arch)
        device = resolve_device(config.device)
        path, digest = checkpoint_and_hash(config, "pose", p.model)
        # Random weights are PyTorch's default initialisation (init_model neither loads nor
        # initialises anything without a checkpoint), drawn from a fixed seed so that untrained
        # models, and so tests and benchmarks, are reproducible; the global RNG is left alone.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_WEIGHTS_SEED)
            self.net = init_model(str(cfg_path), None if path is None else str(path), device=device)
        self.net.eval()
        pre = self.net.data_preprocessor
        self._mean = pre.mean.reshape(1, 3, 1, 1).to(device)
        self._std = pre.std.reshape(1, 3, 1, 1).to(device)
        self.input_size = p.resolved_input_size
        self.padding = p.bbox_padding
        self.refine = p.refine
        self.device = device
        self._torch = torch
        # Flip test as the model's config asks (HRNet / ViTPose COCO configs: heatmap flip with a
        # one-column shift), with COCO's left/right pairs.
        test_cfg = dict(getattr(self.net, "test_cfg", None) or {})
        self.flip_test = bool(test_cfg.get("flip_test", False))
        self.shift_heatmap = bool(test_cfg.get("shift_heatmap", False))
        flip = list(range(COCO17.num_joints))
        for a, b in COCO17.flip_pairs:
            flip[a], flip[b] = b, a
        self._flip_index = flip
        import mmcv
        import mmengine

        self.info = ModelInfo(
            name=p.model,
            backend="mmpose",
            architecture=arch,
            checkpoint=None if path is None else str(path),
            checkpoint_sha256=digest,
            random_weights=path is None,
            device=device,
            versions={
                "mmpose": str(mmpose.__version__),
                "mmcv": str(mmcv.__version__),
                "mmengine": str(mmengine.__version__),
                "torch": str(torch.__version__),
            },
        )

    def _heatmaps(self, x: Any) -> Any:
        out = self.net(x, None, mode="tensor")  # forward(inputs, data_samples, mode)
        return out[0] if isinstance(out, tuple | list) else out

    def estimate(
        self,
        images: Sequence[NDArray[np.uint8]],
        boxes: NDArray[np.float64],
        image_index: NDArray[np.int64],
    ) -> NDArray[np.float32]:
        torch = self._torch
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        if boxes.shape[0] == 0:
            return np.zeros((0, 17, 3), dtype=np.float32)
        w, h = self.input_size
        center, size = box_to_center_scale(boxes, aspect_ratio=w / h, padding=self.padding)
        to_crop = crop_affine(center, size, (w, h))
        crops = warp_crops(images, image_index, to_crop, (w, h))
        with torch.no_grad():
            x = torch.from_numpy(crops).to(self.device).permute(0, 3, 1, 2).float()
            x = (x - self._mean) / self._std
            heatmaps = self._heatmaps(x)
            if self.flip_test:
                flipped = self._heatmaps(x.flip(3)).flip(3)[:, self._flip_index]
                if self.shift_heatmap:
                    flipped[..., 1:] = flipped[..., :-1].clone()
                heatmaps = (heatmaps + flipped) / 2.0
            hm = heatmaps.float().cpu().numpy()
        return decode_heatmaps(hm, invert_affine(to_crop), (w, h), refine=self.refine).astype(
            np.float32
        )
