"""The shared :class:`training.trainer.Trainer` for MAEPose's two stages.

Everything of the shared loop is kept (steps, AMP, checkpoints with exact resume, best /
early stopping, CSV logs, DDP); what differs:

- data: MAEPose clips (:mod:`training.maepose.clips`); stage 1 uses every take of the fold's
  train / val parts, labelled or not, stage 2 the labelled ones;
- optimiser: AdamW-style parameter groups, no weight decay on biases / norms / embeddings;
  stage 2 adds layer-wise learning-rate decay (``model.params.layer_decay``);
- stage 2 can start from a stage-1 checkpoint (``init``): its encoder weights;
- validation: stage 1 reports the masked-patch MSE with fixed masks (``loss``), stage 2 the
  shared pose metrics plus ``mpjpe_m`` / ``pck@5cm`` / ``mpjpe_norm``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from training.config import RunConfig
from training.data.protocols import DatasetSource
from training.data.windows import RadarWindowDataset
from training.maepose.clips import MaeposeWindowDataset, RadarClipDataset, modalities_of
from training.maepose.metrics import metric_pose_report
from training.metrics.folds import Fold
from training.model_params import model_params
from training.models.base import PoseModel
from training.models.maepose import (
    Maepose,
    MaeposePretrain,
    layer_decay_param_groups,
    sample_mask,
)
from training.trainer import Trainer

PRETRAIN = "maepose-pretrain"
FINETUNE = "maepose"
VAL_MASK_SEED = 1234  # validation masks are the same at every epoch (comparable losses)


def labelled_sequences(source: DatasetSource, seq_ids: tuple[str, ...], schema: str) -> list[str]:
    """The sequences of ``seq_ids`` that carry labels of ``schema``."""
    return [q for q in seq_ids if schema in source.sequence(q).label_schemas]


def make_pose_windows(
    cfg: RunConfig,
    source: DatasetSource,
    seq_ids: tuple[str, ...] | list[str],
    *,
    train: bool,
    require_labels: bool = True,
) -> MaeposeWindowDataset:
    """Labelled windows (stage 2, evaluation) of the sequences of ``seq_ids`` with labels."""
    ids = labelled_sequences(source, tuple(seq_ids), cfg.data.skeleton)
    windows = MaeposeWindowDataset(
        source,
        ids,
        cfg.data,
        model_params(cfg),
        train=train,
        seed=cfg.trainer.seed,
        require_labels=require_labels,
    )
    windows.input_scale = 1.0  # frames are min-max normalised; data.input_scale does not apply
    return windows


def make_maepose_windows(
    cfg: RunConfig,
    source: DatasetSource,
    seq_ids: tuple[str, ...] | list[str],
    *,
    train: bool,
    require_labels: bool = True,
) -> RadarClipDataset | MaeposeWindowDataset:
    """Stage 1: clips of every sequence; stage 2: labelled windows of the labelled ones."""
    if cfg.model.name == PRETRAIN:
        return RadarClipDataset(source, list(seq_ids), cfg.data, model_params(cfg), train=train)
    return make_pose_windows(cfg, source, seq_ids, train=train, require_labels=require_labels)


def maepose_optimizer(cfg: RunConfig, model: nn.Module) -> torch.optim.Optimizer:
    """AdamW (or ``optim.optimizer``) over parameter groups: layer-wise lr decay in stage 2,
    no weight decay on tensors with fewer than 2 dimensions."""
    o = cfg.optim
    params = model_params(cfg)
    if isinstance(model, Maepose):
        groups = layer_decay_param_groups(
            model,
            lr=o.lr,
            weight_decay=o.weight_decay,
            layer_decay=params.layer_decay,
            depth=params.depth,
        )
    else:
        decay = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]
        rest = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]
        groups = [
            {"params": decay, "lr": o.lr, "weight_decay": o.weight_decay},
            {"params": rest, "lr": o.lr, "weight_decay": 0.0},
        ]
    betas = (o.betas[0], o.betas[1])
    if o.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=o.lr, betas=betas)
    if o.optimizer == "adam":
        return torch.optim.Adam(groups, lr=o.lr, betas=betas)
    return torch.optim.SGD(groups, lr=o.lr, momentum=0.9)


def load_pretrained_encoder(model: Maepose, path: str | Path) -> int:
    """Initialise ``model``'s encoder from a stage-1 checkpoint; returns tensors loaded."""
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    name = ckpt.get("config", {}).get("model", {}).get("name")
    if name != PRETRAIN:
        raise ValueError(f"{path} is a {name!r} checkpoint, not {PRETRAIN!r}")
    return model.load_encoder(ckpt["model"])


class MaeposeTrainer(Trainer):
    """Trains MAEPose stage 1 (``maepose-pretrain``) or stage 2 (``maepose``) on one fold.

    Args:
        cfg, source, fold, run_dir, resume, log_stream: as :class:`Trainer`.
        init: stage-1 checkpoint whose encoder initialises stage 2 (ignored when resuming:
            the checkpoint then holds the fine-tuned weights).
    """

    def __init__(
        self,
        cfg: RunConfig,
        source: DatasetSource,
        fold: Fold,
        run_dir: str | Path,
        *,
        resume: str | Path | None = None,
        init: str | Path | None = None,
        log_stream: Any = None,
    ) -> None:
        if cfg.model.name not in (PRETRAIN, FINETUNE):
            raise ValueError(f"MaeposeTrainer trains {PRETRAIN} / {FINETUNE}, not {cfg.model.name}")
        if init is not None and cfg.model.name != FINETUNE:
            raise ValueError("init (a pre-trained encoder) applies to the maepose model only")
        modalities_of(cfg.data.representation)
        self.init = str(init) if init is not None else None
        self._loaded = 0
        super().__init__(cfg, source, fold, run_dir, resume=resume, log_stream=log_stream)

    # --- Trainer's set-up steps, MAEPose's way ----------------------------------------------
    def _make_datasets(self) -> tuple[RadarWindowDataset, RadarWindowDataset | None]:
        # stage 1's clips quack like RadarWindowDataset where the shared loop uses them
        cfg, fold = self.cfg, self.fold
        train = make_maepose_windows(cfg, self.source, fold.train, train=True)
        val = make_maepose_windows(cfg, self.source, fold.val, train=False) if fold.val else None
        return train, val  # type: ignore[return-value]

    def _init_input_scale(self, checkpoint: dict[str, Any] | None) -> float:
        return 1.0  # frames are min-max normalised (training.maepose.clips)

    def _build_model(self, checkpoint: dict[str, Any] | None) -> PoseModel:
        model = super()._build_model(checkpoint)
        if checkpoint is not None:
            self.init = checkpoint.get("init")  # the fine-tuned weights come from the checkpoint
        elif self.init is not None:
            assert isinstance(model, Maepose)
            self._loaded = load_pretrained_encoder(model, self.init)
        return model

    def _make_optimizer(self) -> torch.optim.Optimizer:
        return maepose_optimizer(self.cfg, self.model)

    def _init_note(self, checkpoint: dict[str, Any] | None) -> str | None:
        if checkpoint is not None:
            return None
        if self.init is not None:
            return f"encoder initialised from {self.init} ({self._loaded} tensors)"
        if self.cfg.model.name == FINETUNE:
            return "encoder randomly initialised (from scratch)"
        return None

    def checkpoint_dict(self) -> dict[str, Any]:
        ckpt = super().checkpoint_dict()
        ckpt["init"] = self.init
        return ckpt

    @torch.no_grad()
    def reconstruction_loss(self, dataset: RadarClipDataset) -> float:
        """Mean masked-patch MSE of stage 1 over ``dataset`` with seeded (fixed) masks."""
        model = self.model
        assert isinstance(model, MaeposePretrain)
        model.eval()
        gen = torch.Generator().manual_seed(VAL_MASK_SEED)
        loader = DataLoader(dataset, batch_size=self.cfg.optim.batch_size, shuffle=False)
        total, count = 0.0, 0
        for batch in loader:
            radar = batch["radar"].to(self.device)
            b = radar.shape[0]
            mask = sample_mask(
                b,
                radar.shape[2],
                model.grid,
                model.params.mask_ratio,
                mode=model.params.masking,
                generator=gen,
                device=self.device,
            )
            with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.amp):
                outputs = model(radar, mask)
            loss, _ = model.loss(outputs, batch)
            total += float(loss) * b
            count += b
        model.train()
        return total / max(count, 1)

    def validate(self) -> dict[str, Any]:
        if self.val_set is None or len(self.val_set) == 0:
            return {}
        if isinstance(self.val_set, RadarClipDataset):
            return {"loss": self.reconstruction_loss(self.val_set)}
        from training.evaluation import evaluate_predictions, predict_frames

        preds = predict_frames(
            self.model,
            self.val_set,
            device=self.device,
            batch_size=self.cfg.optim.batch_size,
            amp=self.amp,
        )
        self.model.train()
        report = evaluate_predictions(
            self.val_set,
            preds,
            sigmas=self.sigmas,
            joint_names=self.joint_names,
            cfg=self.cfg.eval,
        )
        report.update(
            metric_pose_report(self.val_set, preds, thresholds_m=self.cfg.eval.pck_thresholds_m)
        )
        return report
