"""MAEPose training: a few steps reduce both losses, pre-trained initialisation, the train CLI
on a built dataset, the LOPO protocol (no leaks), paired statistics, the reconstruction PNG."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from training.config import RunConfig, load_config
from training.data.memory import MemoryDataset
from training.maepose.clips import MaeposeWindowDataset, RadarClipDataset
from training.maepose.lopo import (
    FoldLeakError,
    check_no_leak,
    pretrain_fold,
    run_lopo,
)
from training.maepose.metrics import metres_per_pixel
from training.maepose.stats import compare_models, paired_test
from training.maepose.synthetic import synthetic_maepose_dataset
from training.maepose.trainer import MaeposeTrainer
from training.metrics.folds import Fold, lopo_folds, resolve_fold, subjects_of

BACKBONE: list[tuple[str, Any]] = [
    ("model.params.embed_dim", 16),
    ("model.params.depth", 2),
    ("model.params.num_heads", 2),
    ("model.params.fusion_heads", 2),
    ("model.params.patch", 8),
    ("model.params.frame_size", [16, 16]),
    ("data.window", 8),
    ("data.stride", 2),
    ("data.eval_stride", 4),
    ("optim.batch_size", 4),
    ("optim.epochs", 1),
    ("trainer.log_every", 100),
    ("trainer.tensorboard", False),
    ("trainer.device", "cpu"),
]
PRE: list[tuple[str, Any]] = [
    *BACKBONE,
    ("data.target_offsets", [4]),
    ("model.params.decoder_dim", 8),
    ("model.params.decoder_depth", 1),
    ("model.params.decoder_heads", 2),
]
FT: list[tuple[str, Any]] = [
    *BACKBONE,
    ("data.target_offsets", [2, 3, 4, 5, 6]),
    ("data.heatmap_size", [16, 16]),
    ("data.heatmap_sigma", 1.0),
    ("model.params.head_channels", 8),
    ("model.params.head_upsamplings", 1),
]


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def dataset() -> MemoryDataset:
    return synthetic_maepose_dataset(subjects=3, frames=24, unlabelled_takes=1)


def config(model: str, *extra: tuple[str, Any]) -> RunConfig:
    return load_config(model=model, overrides=[*(PRE if model != "maepose" else FT), *extra])


class _Quiet:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


@pytest.mark.parametrize("representation", ["rd", "rd+ra"])
def test_a_few_steps_reduce_both_losses(
    dataset: MemoryDataset, representation: str, tmp_path: Path
) -> None:
    for model in ("maepose-pretrain", "maepose"):
        cfg = config(model, ("data.representation", representation), ("optim.lr", 3e-3))
        trainer = MaeposeTrainer(
            cfg, dataset, resolve_fold(dataset), tmp_path / model, log_stream=_Quiet()
        )
        batch = next(iter(torch.utils.data.DataLoader(trainer.train_set, batch_size=4)))
        assert batch["radar"].shape[1:3] == (1, 2 if representation == "rd+ra" else 1)
        trainer.model.train()
        torch.manual_seed(0)
        if model == "maepose-pretrain":  # the same masks every step: a fair comparison
            mask = trainer.model(batch["radar"])["mask"] > 0
            trainer.net = _FixedMask(trainer.model, mask)
        losses = [trainer._step(batch)[0] for _ in range(8)]
        assert losses[-1] < 0.9 * losses[0], (model, losses)


class _FixedMask(torch.nn.Module):
    def __init__(self, model: torch.nn.Module, mask: torch.Tensor) -> None:
        super().__init__()
        self.model, self.mask = model, mask

    def forward(self, radar: torch.Tensor) -> Any:
        return self.model(radar, self.mask)


def test_pretraining_uses_unlabelled_takes_finetuning_labelled_only(
    dataset: MemoryDataset, tmp_path: Path
) -> None:
    fold = resolve_fold(dataset)
    pre = MaeposeTrainer(
        config("maepose-pretrain"), dataset, fold, tmp_path / "p", log_stream=_Quiet()
    )
    assert isinstance(pre.train_set, RadarClipDataset)
    assert {w.seq_id for w in pre.train_set.windows} == set(fold.train)
    assert any("unlabelled" in q for q in fold.train)
    ft = MaeposeTrainer(
        config("maepose"), dataset, fold, tmp_path / "f", init=None, log_stream=_Quiet()
    )
    assert isinstance(ft.train_set, MaeposeWindowDataset)
    assert {w.seq_id for w in ft.train_set.windows} == {q for q in fold.train if "take" in q}


def test_init_loads_the_pretrained_encoder_and_resume_keeps_it(
    dataset: MemoryDataset, tmp_path: Path
) -> None:
    fold = resolve_fold(dataset)
    pre = MaeposeTrainer(
        config("maepose-pretrain"), dataset, fold, tmp_path / "pre", log_stream=_Quiet()
    )
    pre.fit()
    best = tmp_path / "pre" / "checkpoints" / "best.pt"
    enc = {
        k: v
        for k, v in torch.load(best, weights_only=False)["model"].items()
        if k.startswith("encoder.")
    }
    ft = MaeposeTrainer(
        config("maepose"), dataset, fold, tmp_path / "ft", init=best, log_stream=_Quiet()
    )
    state = ft.model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in enc.items())
    scratch = MaeposeTrainer(config("maepose"), dataset, fold, tmp_path / "sc", log_stream=_Quiet())
    assert not torch.equal(
        scratch.model.state_dict()["encoder.blocks.0.attn.q.weight"],
        enc["encoder.blocks.0.attn.q.weight"],
    )
    ft.fit()
    ckpt = torch.load(tmp_path / "ft" / "checkpoints" / "last.pt", weights_only=False)
    assert ckpt["init"] == str(best) and len(ckpt["optimizer"]["param_groups"]) > 2
    resumed = MaeposeTrainer(
        config("maepose", ("optim.epochs", 2)),
        dataset,
        fold,
        tmp_path / "ft",
        resume=tmp_path / "ft" / "checkpoints" / "last.pt",
        init=None,
        log_stream=_Quiet(),
    )
    assert resumed.init == str(best) and resumed.state.epoch == 1


def test_cli_both_stages_on_a_built_dataset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from training.cli.train import main as train_main
    from training.data.export import write_memory_dataset
    from training.maepose.visualise import main as visualise_main

    path = write_memory_dataset(
        synthetic_maepose_dataset(subjects=3, frames=16, unlabelled_takes=1), tmp_path / "d.zarr"
    )
    sets = [f"{k}={json.dumps(v)}" for k, v in PRE]
    assert (
        train_main(
            [
                "--model",
                "maepose-pretrain",
                "--dataset",
                str(path),
                "--out",
                str(tmp_path / "pre"),
                "--set",
                *sets,
            ]
        )
        == 0
    )
    best = tmp_path / "pre" / "checkpoints" / "best.pt"
    sets = [f"{k}={json.dumps(v)}" for k, v in FT]
    base = ["--model", "maepose", "--dataset", str(path), "--set", *sets]
    assert (
        train_main([*base, "--out", str(tmp_path / "x")]) == 2
    )  # neither --init nor --from-scratch
    assert train_main([*base, "--out", str(tmp_path / "ft"), "--init", str(best)]) == 0
    report = json.loads((tmp_path / "ft" / "eval_test.json").read_text())["reports"]
    assert {"maepose", "mean-pose"} <= set(report)
    assert {"mpjpe_m", "pck@5cm", "mpjpe_norm", "AP"} <= set(report["maepose"])
    assert train_main([*base, "--out", str(tmp_path / "sc"), "--from-scratch", "--no-test"]) == 0
    png = tmp_path / "recon.png"
    assert (
        visualise_main(["--checkpoint", str(best), "--dataset", str(path), "--out", str(png)]) == 0
    )
    image = Image.open(png)
    assert image.size[0] > 3 * 64 and image.mode == "RGB"
    capsys.readouterr()


def test_lopo_folds_never_leak_the_held_out_subject(dataset: MemoryDataset, tmp_path: Path) -> None:
    by_subject = subjects_of(dataset)
    folds = lopo_folds(by_subject)
    assert [f.held_out for f in folds] == ["S01", "S02", "S03"]
    for fold in folds:
        check_no_leak(dataset, fold)
        pre = pretrain_fold(fold)
        assert pre.test == () and set(pre.train) | set(pre.val) == set(fold.train) | set(fold.val)
        assert fold.held_out is not None
        assert set(fold.test) == set(by_subject[fold.held_out])  # unlabelled takes too
    assert lopo_folds(by_subject) == folds  # seeded (42)
    leaky = Fold(
        "lopo-S01", (*folds[0].train, "S01_unlabelled2"), folds[0].val, ("S01_take1",), "S01"
    )
    with pytest.raises(FoldLeakError):
        check_no_leak(dataset, leaky)
    # the protocol end to end on two folds: the checkpoints of both stages never saw the subject
    summary = run_lopo(
        config("maepose-pretrain"),
        config("maepose"),
        dataset,
        tmp_path,
        subjects=["S01", "S03"],
        log_stream=_Quiet(),
    )
    for fold_name in ("lopo-S01", "lopo-S03"):
        held = fold_name.removeprefix("lopo-")
        for stage in ("pretrain", "pretrained", "scratch"):
            ckpt = torch.load(
                tmp_path / fold_name / stage / "checkpoints" / "best.pt", weights_only=False
            )
            seen = [*ckpt["fold"]["train"], *ckpt["fold"]["val"]]
            assert seen and all(dataset.sequence(q).attrs["subject"] != held for q in seen)
    assert set(summary["per_fold"]) == {"pretrained", "scratch", "mean-pose"}
    assert summary["mean_std"]["pretrained"]["mpjpe_m"]["n"] == 2
    stats = summary["statistics"]["mpjpe_m"]
    assert stats["friedman"] is not None and len(stats["pairs"]) == 3
    assert (tmp_path / "lopo_summary.json").exists()


def test_paired_statistics() -> None:
    a = [0.030, 0.028, 0.035, 0.031, 0.029, 0.033]
    b = [0.041, 0.037, 0.046, 0.040, 0.042, 0.043]
    c = [0.060, 0.055, 0.070, 0.058, 0.061, 0.066]
    folds = [f"lopo-S{i}" for i in range(6)]
    res = compare_models(
        {m: dict(zip(folds, v, strict=True)) for m, v in {"a": a, "b": b, "c": c}.items()}
    )
    assert res["friedman"]["p"] < 0.01 and len(res["pairs"]) == 3
    pair = res["pairs"]["a vs b"]
    assert pair["test"] in ("t", "wilcoxon")
    assert pair["p_bonferroni"] == pytest.approx(min(1.0, 3 * pair["p"]))
    assert pair["mean_difference"] == pytest.approx(np.mean(np.subtract(a, b)))
    skewed = paired_test([0, 0, 0, 0, 0, 10.0], [1, 1, 1, 1, 1, 1.0])
    assert skewed["test"] == "wilcoxon"  # not normal -> Wilcoxon
    with pytest.raises(ValueError):
        compare_models({"a": {"f": 1.0}})


def test_metric_scale_from_labels() -> None:
    rng = np.random.default_rng(0)
    x3 = np.c_[rng.uniform(-0.5, 0.5, (13, 2)), np.full(13, 3.0) + rng.normal(0, 0.05, 13)]
    f = 500.0
    # camera looking along +z: pixels = f * (x, y) / z
    x2 = f * x3[:, :2] / x3[:, 2:]
    s = metres_per_pixel(x2, x3, np.ones(13, bool))
    assert s == pytest.approx(3.0 / f, rel=0.03)
    assert np.isnan(metres_per_pixel(x2, x3, np.arange(13) < 3))
