"""Windows, masks, heatmap targets, sampler order and configs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from training.config import (
    AugmentConfig,
    ConfigError,
    DataConfig,
    config_from_tree,
    load_config,
    parse_overrides,
)
from training.data import RadarWindowDataset, decode_heatmaps, gaussian_heatmaps
from training.data.memory import random_memory_dataset
from training.data.protocols import DatasetSource, SequenceSource
from training.data.sampler import EpochBatchSampler
from training.data.simulated import SimulatedDatasetSpec, build_simulated_dataset, parse_sim_spec
from training.data.windows import DataIntegrityError


def _cfg(**kw: object) -> DataConfig:
    base: dict[str, object] = {"window": 4, "target_offsets": [2], "doppler_bins": [1, 3]}
    base.update(kw)
    cfg = DataConfig(**base)  # type: ignore[arg-type]
    cfg.validate()
    return cfg


def test_memory_dataset_implements_protocols() -> None:
    ds = random_memory_dataset()
    assert isinstance(ds, DatasetSource)
    assert isinstance(ds.sequence(ds.sequence_ids[0]), SequenceSource)


def test_window_item_shapes_and_content() -> None:
    ds = random_memory_dataset(frames=10)
    seq = ds.sequence_ids[0]
    w = RadarWindowDataset(ds, [seq], _cfg(heatmap_size=[16, 16]), train=True, heatmaps=True)
    assert len(w) == 7
    item = w[3]
    assert item["radar"].shape == (2, 2, 4, 2, 16, 16, 2)  # R, re/im, T, K, H, W, E
    raw = ds.sequence(seq).read("vertical", "vrdae", 3, 7)[:, 1:3]
    np.testing.assert_allclose(item["radar"][1, 0].numpy(), raw.real)
    np.testing.assert_allclose(item["radar"][1, 1].numpy(), raw.imag)
    assert item["keypoints"].shape == (1, 14, 2) and item["weights"].shape == (1, 14)
    assert item["heatmaps"].shape == (1, 14, 16, 16)
    lab = ds.sequence(seq).labels("hupr14")["keypoints_2d"][5, :, :2]
    np.testing.assert_allclose(item["keypoints"][0].numpy(), lab)
    w2 = RadarWindowDataset(
        ds, [seq], _cfg(elevation_mean=True, heatmap_size=[16, 16]), train=False, heatmaps=False
    )
    assert w2[0]["radar"].shape == (2, 2, 4, 2, 16, 16)
    assert "heatmaps" not in w2[0]


def test_masks_exclude_lost_radar_and_weight_unlabelled() -> None:
    ds = random_memory_dataset(frames=12)
    seq_id = ds.sequence_ids[0]
    seq = ds.sequence(seq_id)
    lost = np.ones(12, bool)
    lost[5] = False
    seq.masks["radar/vertical"] = lost
    seq.radar_data["vertical"]["vrdae"][5] = np.nan  # what the format stores for lost frames
    unlabelled = np.ones(12, bool)
    unlabelled[[2, 9]] = False
    seq.masks["labels/hupr14"] = unlabelled
    seq.label_sets["hupr14"]["valid"][10, :3] = False
    w = RadarWindowDataset(ds, [seq_id], _cfg(), train=False, heatmaps=True)
    starts = [win.start for win in w.windows]
    # windows covering frame 5 (starts 2..5) excluded; start 0 targets frame 2 (unlabelled)
    assert starts == [1, 6, 8]
    assert w.excluded == {"lost_radar": 4, "no_labels": 2}  # starts 0 and 7 (frames 2, 9)
    item = w[2]  # start 8 -> target frame 10
    assert item["weights"][0, :3].sum() == 0 and item["weights"][0, 3:].min() == 1
    assert item["heatmaps"][0, :3].abs().sum() == 0  # no target for unlabelled joints
    for i in range(len(w)):
        assert torch.isfinite(w[i]["radar"]).all()
    # a NaN the masks do not explain is an error, never a silent zero
    seq.radar_data["horizontal"]["vrdae"][7] = np.nan
    with pytest.raises(DataIntegrityError):
        w[1]


def test_gaussian_heatmaps_and_decoding_roundtrip() -> None:
    kp = np.array([[[10.3, 20.6], [40.0, 8.0]]], dtype=np.float32)  # (1, 2, 2) on a 64 image
    maps = gaussian_heatmaps(
        kp, np.ones((1, 2)), image_size=(64, 64), heatmap_size=(32, 32), sigma=2.0
    )
    assert maps.shape == (1, 2, 32, 32)
    assert maps[0, 1, 4, 20] == pytest.approx(1.0)  # (40, 8) -> (20, 4) exactly on a pixel
    dec, score = decode_heatmaps(torch.from_numpy(maps), image_size=(64, 64))
    assert torch.allclose(dec[0, 1], torch.tensor([40.0, 8.0]))
    assert (dec[0, 0] - torch.tensor([10.3, 20.6])).abs().max() < 1.0  # quarter-pixel shift
    assert score[0, 1] == pytest.approx(1.0)
    zero = gaussian_heatmaps(
        kp, np.zeros((1, 2)), image_size=(64, 64), heatmap_size=(8, 8), sigma=1
    )
    assert zero.sum() == 0


def test_sampler_is_seeded_resumable_and_sharded() -> None:
    s = EpochBatchSampler(10, 3, seed=1)
    s.set_epoch(2)
    full = list(s)
    s.set_epoch(2, start_batch=2)
    assert list(s) == full[2:]
    s.set_epoch(3)
    assert list(s) != full
    assert sorted(i for b in full for i in b) == list(range(10))
    shards = []
    for rank in range(2):
        r = EpochBatchSampler(9, 2, seed=1, rank=rank, world_size=2)
        r.set_epoch(0)
        shards.append([i for b in r for i in b])
    assert len(shards[0]) == len(shards[1]) == 5
    assert set(shards[0]) | set(shards[1]) == set(range(9))


def test_augmentation_is_deterministic_per_epoch_and_window() -> None:
    ds = random_memory_dataset(frames=8)
    aug = AugmentConfig(gain_std=0.3, noise_std=0.1)
    w = RadarWindowDataset(
        ds, ds.sequence_ids[:1], _cfg(), train=True, heatmaps=False, augment=aug, seed=3
    )
    a = w[1]["radar"]
    assert torch.equal(a, w[1]["radar"])
    w.set_epoch(1)
    assert not torch.equal(a, w[1]["radar"])


def test_paper_configs_load_and_validate(tmp_path: Path) -> None:
    hupr = load_config(model="hupr")
    assert hupr.optim.batch_size == 20 and hupr.optim.lr == 1e-4
    assert hupr.optim.weight_decay == 1e-4 and hupr.optim.epochs == 200
    assert (hupr.optim.lr_gamma, hupr.optim.lr_step_iterations) == (0.999, 2000)
    assert hupr.data.window == 8 and hupr.data.doppler_bins == [4, 12]
    assert hupr.data.heatmap_size == [64, 64] and hupr.data.heatmap_sigma == 2.0
    assert hupr.model.params["alpha"] == 1.0
    mm = load_config(model="millimamba")
    assert mm.model.name == "millimamba"
    with pytest.raises(ConfigError, match=r"optim\.lrr"):
        load_config(model="hupr", overrides=[("optim.lrr", 1.0)])
    with pytest.raises(ConfigError, match=r"model\.params\.widht"):
        load_config(model="hupr", overrides=[("model.params.widht", 1)])
    with pytest.raises(ConfigError, match="batch_size"):
        load_config(model="hupr", overrides=parse_overrides(["optim.batch_size=abc"]))
    with pytest.raises(ConfigError, match="target_offsets"):
        load_config(model="hupr", overrides=[("data.target_offsets", [9])])
    cfg = config_from_tree(hupr.to_dict(), [("optim.lr", 3)])
    assert cfg.optim.lr == 3.0 and isinstance(cfg.optim.lr, float)


def test_simulated_dataset_small() -> None:
    spec = parse_sim_spec("sim:subjects=2,actions=squat,frames=3,lost_radar_fraction=0.5")
    assert spec == SimulatedDatasetSpec(
        subjects=2, actions=("squat",), frames=3, lost_radar_fraction=0.5
    )
    ds = build_simulated_dataset(spec)
    assert ds.splits["by_subject"] == {"S01": ["sim_S01_squat"], "S02": ["sim_S02_squat"]}
    seq = ds.sequence("sim_S01_squat")
    x = seq.read("horizontal", "vrdae", 0, 3)
    assert x.shape == (3, 8, 64, 64, 1)
    assert np.isnan(x[~seq.mask("radar/horizontal")]).all()
    assert np.isfinite(x[seq.mask("radar/horizontal")]).all()
    lab = seq.labels("hupr14")
    assert lab["keypoints_2d"].shape == (3, 14, 3) and lab["valid"].all()


def test_package_config_and_metrics_import_without_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys, training, training.config, training.model_params, training.metrics;"
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
