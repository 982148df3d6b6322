"""The trainer: loss goes down, exact resume, selection / early stopping, logs, CLIs, DDP."""

from __future__ import annotations

import csv
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from training.config import RunConfig, load_config
from training.data.memory import MemoryDataset, random_memory_dataset
from training.metrics.folds import resolve_fold
from training.trainer import Trainer, load_trained

TINY: dict[str, list[tuple[str, Any]]] = {
    "hupr": [
        (
            "model.params",
            {
                "channels": [4, 8],
                "mnet_channels": 4,
                "temporal_strides": [2, 2],
                "attention_heads": 2,
                "attention_tokens": 4,
                "gcn_features": 16,
            },
        ),
        ("data.heatmap_size", [8, 8]),
        ("data.window", 4),
        ("data.target_offsets", [2]),
    ],
    "millimamba": [
        (
            "model.params",
            {
                "dim": 16,
                "stem_channels": [8, 16],
                "tokens_per_frame": 2,
                "encoder_layers": 1,
                "d_state": 4,
                "decoder_layers": 1,
                "decoder_heads": 2,
            },
        ),
        ("data.window", 4),
        ("data.target_offsets", [1, 2]),
    ],
}


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """One torch thread: tiny models run several times faster than with two threads on a
    shared 2-core machine (no oversubscription)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_config(model: str, **extra: Any) -> RunConfig:
    overrides: list[tuple[str, Any]] = [
        *TINY[model],
        ("data.doppler_bins", None),
        ("data.num_workers", 0),
        ("optim.batch_size", 4),
        ("optim.epochs", 2),
        ("optim.lr", 1e-3),
        ("trainer.log_every", 1),
        ("trainer.tensorboard", False),
    ]
    overrides += list(extra.items())
    return load_config(model=model, overrides=[(k.replace("__", "."), v) for k, v in overrides])


def fake_dataset() -> MemoryDataset:
    return random_memory_dataset(subjects=3, frames=12, frame_shape=(2, 8, 8, 1))


def _params(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("model", ["hupr", "millimamba"])
def test_a_few_steps_reduce_the_loss(model: str, tmp_path: Path) -> None:
    ds = fake_dataset()
    cfg = tiny_config(model, optim__epochs=1, optim__lr=3e-3)
    trainer = Trainer(cfg, ds, resolve_fold(ds), tmp_path)
    batch = next(iter(torch.utils.data.DataLoader(trainer.train_set, batch_size=4)))
    trainer.model.train()
    losses = [trainer._step(batch)[0] for _ in range(8)]
    assert losses[-1] < 0.95 * losses[0] and losses[-1] < min(losses[:3]), losses


@pytest.mark.parametrize("model", ["hupr", "millimamba"])
def test_resume_reproduces_uninterrupted_run(model: str, tmp_path: Path) -> None:
    ds = fake_dataset()
    cfg = tiny_config(model, augment__gain_std=0.2, augment__noise_std=0.05)
    fold = resolve_fold(ds)
    full = Trainer(cfg, ds, fold, tmp_path / "full")
    full.fit()
    reference = _params(full.model)
    # interrupted mid-epoch-1 (step 3 of 2 x 3), resumed in a new trainer from last.pt
    part = Trainer(cfg, ds, fold, tmp_path / "part")
    steps_per_epoch = part.sampler.batches_per_epoch()
    assert steps_per_epoch == 3
    part.fit(stop_after_steps=4)
    del part
    resumed = Trainer(
        cfg, ds, fold, tmp_path / "part", resume=tmp_path / "part/checkpoints/last.pt"
    )
    assert resumed.state.step == 4 and resumed.state.batch_in_epoch == 1
    state = resumed.fit()
    assert state.step == 6 and state.epoch == 2
    for k, v in _params(resumed.model).items():
        assert torch.equal(v, reference[k]), k
    # the resumed run's CSV continues without duplicated steps
    with (tmp_path / "part/train.csv").open() as fh:
        steps = [int(r["step"]) for r in csv.DictReader(fh)]
    assert steps == [1, 2, 3, 4, 5, 6]


def test_best_checkpoint_and_early_stopping(tmp_path: Path) -> None:
    ds = fake_dataset()
    cfg = tiny_config(
        "millimamba",
        optim__epochs=20,
        optim__lr=1e-12,  # nothing improves after the first validation
        trainer__select_metric="loss",
        trainer__select_mode="min",
        trainer__early_stopping_patience=2,
    )
    trainer = Trainer(cfg, ds, resolve_fold(ds), tmp_path)
    state = trainer.fit()
    assert state.stopped_early and state.epoch < 20
    assert (tmp_path / "checkpoints/best.pt").exists()
    best = torch.load(tmp_path / "checkpoints/best.pt", weights_only=False)
    assert best["state"]["epoch"] == state.best_epoch
    with (tmp_path / "epochs.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == state.epoch and "val_AP" in rows[0] and "val_loss" in rows[0]
    trained = load_trained(tmp_path / "checkpoints/best.pt", device="cpu")
    assert trained.input_scale == pytest.approx(trainer.input_scale)


def test_cli_train_evaluate_predict_on_a_built_dataset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dataset_tools.dataset import open_dataset
    from training.cli import evaluate, predict, train
    from training.data.export import write_memory_dataset

    mem = fake_dataset()
    lost = np.ones(12, bool)
    lost[7] = False
    first = mem.sequence(mem.sequence_ids[0])
    first.masks["radar/vertical"] = lost
    first.radar_data["vertical"]["vrdae"][7] = np.nan
    path = write_memory_dataset(mem, tmp_path / "fake.zarr")
    ds = open_dataset(path)
    assert ds.splits["by_sequence"]["test"] == mem.splits["by_sequence"]["test"]
    assert ds.sequence(mem.sequence_ids[0]).mask("radar/vertical").tolist() == lost.tolist()
    sets = [f"{k}={json.dumps(v)}" for k, v in TINY["hupr"]] + [
        "data.doppler_bins=null",
        "data.num_workers=0",
        "optim.batch_size=4",
        "trainer.tensorboard=false",
    ]
    out = tmp_path / "run"
    argv = ["--model", "hupr", "--dataset", str(path), "--out", str(out), "--epochs", "1"]
    assert train.main([*argv, "--set", *sets]) == 0
    text = capsys.readouterr().out
    assert "AP50" in text and "mean-pose" in text
    assert "'lost_radar': 4" in text  # windows over the lost frame 7 are excluded
    report = json.loads((out / "eval_test.json").read_text())
    assert set(report["reports"]) == {"hupr", "mean-pose"}
    assert "R_Hip" in report["reports"]["hupr"]["per_joint_AP"]
    best = str(out / "checkpoints/best.pt")
    assert evaluate.main(["--checkpoint", best, "--dataset", str(path), "--split", "val"]) == 0
    assert (out / "checkpoints/eval_val.json").exists()
    preds = tmp_path / "p.npz"
    assert predict.main(["--checkpoint", best, "--dataset", str(path), "--out", str(preds)]) == 0
    with np.load(preds) as npz:
        kp = npz[f"{mem.sequence_ids[0]}/keypoints_2d"]
        predicted = npz[f"{mem.sequence_ids[0]}/predicted"]
        meta = json.loads(str(npz["__meta__"]))
    assert kp.shape == (12, 14, 3) and meta["skeleton"] == "hupr14"
    # window 4, target offset 2: frames 2..10 could be predicted; the windows over the lost
    # frame 7 (starts 4..7 -> frames 6..9) are excluded, so those frames have no prediction
    expected = [False] * 2 + [True] * 4 + [False] * 4 + [True] + [False]
    assert predicted.tolist() == expected
    assert np.isnan(kp[7]).all() and np.isfinite(kp[5]).all()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _ddp_worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
    )
    torch.set_num_threads(1)
    ds = fake_dataset()
    cfg = tiny_config("millimamba", optim__epochs=1, trainer__device="cpu")
    trainer = Trainer(cfg, ds, resolve_fold(ds), out)
    trainer.fit()
    torch.save(_params(trainer.model), f"{out}/rank{rank}.pt")
    torch.distributed.destroy_process_group()


def test_ddp_two_processes_gloo(tmp_path: Path) -> None:
    torch.multiprocessing.spawn(  # type: ignore[attr-defined,no-untyped-call]
        _ddp_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True
    )
    a = torch.load(tmp_path / "rank0.pt")
    b = torch.load(tmp_path / "rank1.pt")
    for k in a:
        assert torch.equal(a[k], b[k]), k  # gradients were averaged: replicas stay identical
    assert (tmp_path / "checkpoints/last.pt").exists()
