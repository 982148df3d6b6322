"""The training loop: AMP, gradient clipping, checkpoints with exact resume, best-checkpoint
selection, early stopping, seeded data order, CSV / TensorBoard logs, DDP under torchrun.

Exact resume: a checkpoint holds the model, optimiser, scheduler, GradScaler, every RNG state,
the epoch and the batch reached inside it, the selection / early-stopping state and the input
scale. Data order is a permutation of (seed, epoch) and augmentation draws depend on (seed,
epoch, window), so a run resumed from any checkpoint (mid-epoch included) continues with the
same batches and ends with the same weights as the uninterrupted run (single process; under
DDP the per-rank RNG streams restart from rank 0's).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from training.config import RunConfig, config_from_tree
from training.data.protocols import DatasetSource
from training.data.sampler import EpochBatchSampler
from training.data.windows import RadarWindowDataset
from training.distributed import DistContext, barrier, broadcast_flag, init_distributed
from training.evaluation import FramePredictions, evaluate_predictions, predict_frames
from training.metrics.folds import Fold
from training.models import build_model
from training.models.base import PoseModel
from training.run_log import RunLog
from training.seeding import rng_state, seed_everything, set_rng_state

CHECKPOINT_FORMAT = 1


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@dataclass
class TrainState:
    """Where the run is (saved in every checkpoint)."""

    epoch: int = 0  # epochs completed
    batch_in_epoch: int = 0  # batches done in the current epoch
    step: int = 0  # optimiser steps so far
    best_value: float | None = None
    best_metric: str = ""  # select_metric, or "train_loss" without a validation set
    best_loss: float | None = None  # loss at the best epoch (tie-break)
    best_epoch: int = -1
    bad_validations: int = 0
    stopped_early: bool = False
    history: list[dict[str, float]] = field(default_factory=list)


def make_windows(
    cfg: RunConfig,
    source: DatasetSource,
    seq_ids: tuple[str, ...] | list[str],
    *,
    train: bool,
    require_labels: bool = True,
) -> RadarWindowDataset:
    """Windows of ``seq_ids`` for ``cfg.model`` (heatmap targets when the model uses them)."""
    from training.model_params import MODELS

    needs_heatmaps = MODELS[cfg.model.name].heatmaps
    return RadarWindowDataset(
        source,
        list(seq_ids),
        cfg.data,
        train=train,
        heatmaps=needs_heatmaps,
        augment=cfg.augment,
        seed=cfg.trainer.seed,
        require_labels=require_labels,
    )


def _optimizer(cfg: RunConfig, model: nn.Module) -> torch.optim.Optimizer:
    o = cfg.optim
    groups = getattr(model, "optimizer_groups", None)  # e.g. layer-wise lr decay
    params: Any = (
        groups(o.lr, o.weight_decay)
        if callable(groups)
        else [p for p in model.parameters() if p.requires_grad]
    )
    betas = (o.betas[0], o.betas[1])
    if o.optimizer == "adam":
        return torch.optim.Adam(params, lr=o.lr, weight_decay=o.weight_decay, betas=betas)
    if o.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=o.lr, weight_decay=o.weight_decay, betas=betas)
    return torch.optim.SGD(params, lr=o.lr, weight_decay=o.weight_decay, momentum=0.9)


def skeleton_info(name: str) -> tuple[list[float], list[str]]:
    """(OKS sigmas, joint names) of a skeleton schema (COCO's 0.1 default where none)."""
    from labeling.skeletons import get_schema

    schema = get_schema(name)
    sigmas = list(schema.oks_sigmas) if schema.oks_sigmas else [0.1] * schema.num_joints
    return sigmas, list(schema.joints)


class Trainer:
    """Trains one model on one fold of a dataset.

    Args:
        cfg: the run config.
        source: the dataset.
        fold: train / val / test sequences.
        run_dir: where checkpoints (``checkpoints/last.pt``, ``best.pt``) and logs go.
        resume: a checkpoint to continue from.
        log_stream: progress lines (stdout by default).
    """

    def __init__(
        self,
        cfg: RunConfig,
        source: DatasetSource,
        fold: Fold,
        run_dir: str | Path,
        *,
        resume: str | Path | None = None,
        log_stream: Any = None,
    ) -> None:
        self.cfg, self.source, self.fold = cfg, source, fold
        self.run_dir = Path(run_dir)
        self.device = resolve_device(cfg.trainer.device)
        self.dist: DistContext = init_distributed(self.device)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
            torch.cuda.set_device(self.device)
        seed_everything(cfg.trainer.seed, deterministic=cfg.trainer.deterministic)
        if self.dist.is_main:
            (self.run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        barrier(self.dist)
        self.train_set, self.val_set = self._make_datasets()
        if len(self.train_set) == 0:
            raise ValueError(f"fold {fold.name}: no training windows ({self.train_set.excluded})")
        checkpoint = torch.load(resume, map_location="cpu", weights_only=False) if resume else None
        self.input_scale = self._init_input_scale(checkpoint)
        self.input_shape = tuple(self.train_set[0]["radar"].shape)
        self.num_joints = self.train_set.num_joints
        seed_everything(cfg.trainer.seed, deterministic=cfg.trainer.deterministic)
        self.model: PoseModel = self._build_model(checkpoint)
        self.net: nn.Module = self.model
        if self.dist.enabled:
            self.net = DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
        self.optimizer = self._make_optimizer()
        self.scheduler = torch.optim.lr_scheduler.StepLR(
            self.optimizer, step_size=cfg.optim.lr_step_iterations, gamma=cfg.optim.lr_gamma
        )
        self.amp = cfg.trainer.amp and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.sampler = EpochBatchSampler(
            len(self.train_set),
            cfg.optim.batch_size,
            seed=cfg.trainer.seed,
            shuffle=True,
            rank=self.dist.rank,
            world_size=self.dist.world_size,
        )
        self.state = TrainState()
        self.log = RunLog(
            self.run_dir,
            enabled=self.dist.is_main,
            tensorboard=cfg.trainer.tensorboard,
            stream=log_stream,
        )
        self.sigmas, self.joint_names = skeleton_info(cfg.data.skeleton)
        if checkpoint is not None:
            self._restore(checkpoint)
            self.log.truncate_after(self.state.step, self.state.epoch)
            self.log.message(
                f"resumed from {resume}: epoch {self.state.epoch}, "
                f"batch {self.state.batch_in_epoch}, step {self.state.step}"
            )
        note = self._init_note(checkpoint)
        if note:
            self.log.message(note)
        self.log.message(
            f"{cfg.model.name}: {sum(p.numel() for p in self.model.parameters()):,} parameters, "
            f"{len(self.train_set)} train windows, "
            f"{len(self.val_set) if self.val_set else 0} val windows, input {self.input_shape}, "
            f"device {self.device}{' (AMP)' if self.amp else ''}, "
            f"excluded {self.train_set.excluded}"
        )

    # --- set-up steps a model family's trainer may replace (MaeposeTrainer does) ------------
    def _make_datasets(self) -> tuple[RadarWindowDataset, RadarWindowDataset | None]:
        """(train, val) windows of the fold."""
        cfg, fold = self.cfg, self.fold
        train = make_windows(cfg, self.source, fold.train, train=True)
        val = make_windows(cfg, self.source, fold.val, train=False) if fold.val else None
        return train, val

    def _init_input_scale(self, checkpoint: dict[str, Any] | None) -> float:
        """The radar input scale (the checkpoint's when resuming), set on both datasets."""
        if checkpoint is not None:
            scale = float(checkpoint["input_scale"])
        elif self.cfg.data.input_scale is not None:
            scale = self.cfg.data.input_scale
        else:
            scale = self.train_set.estimate_input_scale()
        for ds in (self.train_set, self.val_set):
            if ds is not None:
                ds.input_scale = scale
        return scale

    def _build_model(self, checkpoint: dict[str, Any] | None) -> PoseModel:
        """The model on the device (weights come from ``checkpoint`` later, in ``_restore``)."""
        return build_model(self.cfg, self.input_shape, self.num_joints).to(self.device)

    def _make_optimizer(self) -> torch.optim.Optimizer:
        return _optimizer(self.cfg, self.model)

    def _init_note(self, checkpoint: dict[str, Any] | None) -> str | None:
        """A line for the log about where the initial weights came from (None: nothing to say)."""
        return None

    # --- checkpoints ------------------------------------------------------------------------
    def checkpoint_dict(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "config": self.cfg.to_dict(),
            "fold": {
                "name": self.fold.name,
                "train": list(self.fold.train),
                "val": list(self.fold.val),
                "test": list(self.fold.test),
                "held_out": self.fold.held_out,
            },
            "input_shape": list(self.input_shape),
            "num_joints": self.num_joints,
            "input_scale": self.input_scale,
            "radars": self.train_set.radars,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": rng_state(),
            "state": self.state.__dict__.copy(),
        }

    def save(self, name: str) -> Path:
        path = self.run_dir / "checkpoints" / name
        if self.dist.is_main:
            tmp = path.with_suffix(".tmp")
            torch.save(self.checkpoint_dict(), tmp)
            tmp.replace(path)
        return path

    def _restore(self, ckpt: Mapping[str, Any]) -> None:
        if ckpt.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"unsupported checkpoint format {ckpt.get('format')}")
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        self.scaler.load_state_dict(ckpt["scaler"])
        set_rng_state(ckpt["rng"])
        self.state = TrainState(**ckpt["state"])

    # --- loop -------------------------------------------------------------------------------
    def _loader(self) -> DataLoader[dict[str, torch.Tensor]]:
        workers = self.cfg.data.num_workers
        return DataLoader(
            self.train_set,
            batch_sampler=self.sampler,
            num_workers=workers,
            persistent_workers=False,
            pin_memory=self.device.type == "cuda",
        )

    def _step(self, batch: dict[str, torch.Tensor]) -> tuple[float, dict[str, float]]:
        batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
        self.optimizer.zero_grad(set_to_none=True)
        with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.amp):
            outputs = self.net(batch["radar"])
        loss, parts = self.model.loss(outputs, batch)
        self.scaler.scale(loss).backward()  # type: ignore[no-untyped-call]
        if self.cfg.optim.grad_clip_norm is not None:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.optim.grad_clip_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        return float(loss.detach()), {k: float(v) for k, v in parts.items()}

    def validate(self) -> dict[str, Any]:
        """Metrics of the current model on the validation windows (rank 0)."""
        if self.val_set is None or len(self.val_set) == 0:
            return {}
        preds: FramePredictions = predict_frames(
            self.model,
            self.val_set,
            device=self.device,
            batch_size=self.cfg.optim.batch_size,
            amp=self.amp,
        )
        self.model.train()
        return evaluate_predictions(
            self.val_set,
            preds,
            sigmas=self.sigmas,
            joint_names=self.joint_names,
            cfg=self.cfg.eval,
        )

    def _select(self, metrics: Mapping[str, Any], train_loss: float) -> bool:
        """Update best / early stopping; True when this epoch is the best so far."""
        key = self.cfg.trainer.select_metric
        value = metrics.get(key)
        if value is None:  # no validation: select on training loss
            value, mode, key = train_loss, "min", "train_loss"
        else:
            mode = self.cfg.trainer.select_mode
        self.state.best_metric = key
        value = float(value)
        # ties (e.g. AP still 0 early on) are broken by the validation (else training) loss
        loss = float(metrics.get("loss", train_loss))
        best = self.state.best_value
        better = best is not None and (value > best if mode == "max" else value < best)
        tie_better = (
            best is not None
            and value == best
            and (self.state.best_loss is None or loss < self.state.best_loss)
        )
        improved = best is None or better or tie_better
        if improved:
            self.state.best_value, self.state.best_epoch = value, self.state.epoch
            self.state.best_loss = loss
            self.state.bad_validations = 0
        else:
            self.state.bad_validations += 1
        return improved

    def fit(self, *, stop_after_steps: int | None = None) -> TrainState:
        """Train to ``optim.epochs`` (or early stop). ``stop_after_steps`` saves ``last.pt``
        and returns once that many optimiser steps are done (a simulated interruption)."""
        cfg = self.cfg
        self.model.train()
        log_every = cfg.trainer.log_every
        patience = cfg.trainer.early_stopping_patience
        while self.state.epoch < cfg.optim.epochs and not self.state.stopped_early:
            epoch = self.state.epoch
            self.sampler.set_epoch(epoch, self.state.batch_in_epoch)
            self.train_set.set_epoch(epoch)
            n_batches = self.sampler.batches_per_epoch()
            t0, seen, loss_sum, loss_n = time.monotonic(), 0, 0.0, 0
            for batch in self._loader():
                loss, parts = self._step(batch)
                if not math.isfinite(loss):
                    raise FloatingPointError(f"loss is {loss} at step {self.state.step}")
                self.state.batch_in_epoch += 1
                self.state.step += 1
                seen += int(batch["radar"].shape[0])
                loss_sum, loss_n = loss_sum + loss, loss_n + 1
                if self.state.step % log_every == 0 or self.state.batch_in_epoch == n_batches:
                    rate = seen * self.dist.world_size / max(time.monotonic() - t0, 1e-9)
                    lr = self.optimizer.param_groups[0]["lr"]
                    row: dict[str, Any] = {
                        "step": self.state.step,
                        "epoch": epoch + 1,
                        "loss": loss,
                        **parts,
                        "lr": lr,
                        "samples_per_s": rate,
                    }
                    self.log.iteration(
                        row,
                        f"epoch {epoch + 1}/{cfg.optim.epochs} "
                        f"batch {self.state.batch_in_epoch}/{n_batches} step {self.state.step} "
                        f"loss {loss:.5f} lr {lr:.2e} {rate:.1f} samples/s",
                    )
                every = cfg.trainer.checkpoint_every
                if every and self.state.step % every == 0:
                    self.save("last.pt")
                if stop_after_steps is not None and self.state.step >= stop_after_steps:
                    self.save("last.pt")
                    return self.state
            train_loss = loss_sum / max(loss_n, 1)
            self.state.epoch += 1
            self.state.batch_in_epoch = 0
            row = {"epoch": self.state.epoch, "train_loss": train_loss}
            stop = False
            if (
                self.state.epoch % cfg.trainer.val_every == 0
                or self.state.epoch == cfg.optim.epochs
            ):
                metrics = self.validate() if self.dist.is_main else {}
                flat = {f"val_{k}": v for k, v in metrics.items() if isinstance(v, int | float)}
                row.update(flat)
                improved = self._select(metrics, train_loss) if self.dist.is_main else False
                if improved:
                    self.save("best.pt")
                stop = patience is not None and self.state.bad_validations >= patience
                self.state.history.append({k: float(v) for k, v in row.items()})
                line = " ".join(f"{k} {v:.4g}" for k, v in row.items() if k != "epoch") + (
                    " *best" if improved else ""
                )
                self.log.epoch(row, f"epoch {self.state.epoch} done: {line}")
            self.state.stopped_early = broadcast_flag(self.dist, stop)
            if self.state.stopped_early:
                self.log.message(
                    f"early stop after epoch {self.state.epoch}: no improvement of "
                    f"{cfg.trainer.select_metric} in {patience} validations"
                )
            self.save("last.pt")
        barrier(self.dist)
        self.log.close()
        return self.state


@dataclass
class TrainedModel:
    """A model loaded from a checkpoint, ready for evaluation / prediction."""

    cfg: RunConfig
    model: PoseModel
    input_scale: float
    radars: list[str]
    fold: dict[str, Any]
    device: torch.device

    def windows(
        self,
        source: DatasetSource,
        seq_ids: list[str] | tuple[str, ...],
        *,
        require_labels: bool = True,
    ) -> RadarWindowDataset:
        ds = make_windows(self.cfg, source, seq_ids, train=False, require_labels=require_labels)
        ds.input_scale = self.input_scale
        return ds


def load_trained(
    checkpoint: str | Path, *, device: str = "auto", overrides: list[tuple[str, Any]] | None = None
) -> TrainedModel:
    """Rebuild the model of a checkpoint (``last.pt`` or ``best.pt``) with its weights."""
    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=False)
    cfg = config_from_tree(ckpt["config"], overrides)
    if cfg.data.radars is None:
        cfg.data.radars = list(ckpt["radars"])
    dev = resolve_device(device)
    model = build_model(cfg, ckpt["input_shape"], int(ckpt["num_joints"]))
    model.load_state_dict(ckpt["model"])
    model.to(dev).eval()
    return TrainedModel(
        cfg, model, float(ckpt["input_scale"]), list(ckpt["radars"]), ckpt["fold"], dev
    )
