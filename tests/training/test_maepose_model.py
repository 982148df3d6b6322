"""MAEPose models: masking ratio, masked-only loss, patch grid of the paper's input, layer-wise
decay, fusion variants, heatmap targets and decoding."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch

from training.config import ConfigError, load_config
from training.data.heatmaps import gaussian_heatmaps
from training.maepose.clips import prepare_frames
from training.maepose.params import MaeposeParams, MaeposePretrainParams
from training.model_params import model_params
from training.models import build_model
from training.models.maepose import (
    Maepose,
    MaeposePretrain,
    RadarVideoEncoder,
    gaussian_heatmaps_torch,
    layer_decay_param_groups,
    normalise_frames,
    patchify,
    sample_mask,
    token_grid,
    unpatchify,
)

TINY: dict[str, Any] = {"embed_dim": 12, "depth": 2, "num_heads": 2, "fusion_heads": 2, "patch": 4}
TINY_DECODER: dict[str, Any] = {"decoder_dim": 8, "decoder_depth": 1, "decoder_heads": 2}


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("ratio", [0.9, 0.75, 0.5])
@pytest.mark.parametrize("mode", ["random", "tube"])
def test_masking_keeps_exactly_the_ratio(ratio: float, mode: str) -> None:
    grid = (10, 4, 8)
    mask = sample_mask(6, 2, grid, ratio, mode=mode, generator=torch.Generator().manual_seed(0))
    assert mask.shape == (6, 2, 320) and mask.dtype == torch.bool
    if mode == "random":
        assert (mask.sum(-1) == round(ratio * 320)).all()
    else:
        per_step = mask.reshape(6, 2, 10, 32)
        assert (per_step == per_step[:, :, :1]).all()  # same spatial patches at every step
        assert (mask.sum(-1) == 10 * round(ratio * 32)).all()
    assert len({tuple(m.tolist()) for m in mask.reshape(12, -1)}) == 12  # rows differ


def _pretrain(**kw: Any) -> MaeposePretrain:
    params = MaeposePretrainParams(**{**TINY, **TINY_DECODER, **kw})
    params.validate()
    return MaeposePretrain((1, 1, 8, 8, 16), params)


def test_loss_covers_masked_patches_only() -> None:
    torch.manual_seed(0)
    model = _pretrain()
    radar = torch.rand(2, 1, 1, 8, 8, 16)
    mask = sample_mask(2, 1, model.grid, 0.75)
    seen: list[tuple[int, ...]] = []
    model.encoder.blocks[0].register_forward_hook(
        lambda _m, args, _o: seen.append(tuple(args[0].shape))
    )
    outputs = model(radar, mask)
    n = model.grid[0] * model.grid[1] * model.grid[2]
    assert outputs["pred"].shape == outputs["target"].shape == (2, 1, n, 2 * 4 * 4)
    assert seen == [(2, n - round(0.75 * n), 12)]  # the encoder sees the visible tokens only
    pred = outputs["pred"].detach().requires_grad_(True)
    loss, _ = model.loss({**outputs, "pred": pred}, {})
    loss.backward()  # type: ignore[no-untyped-call]
    assert pred.grad is not None
    grad_per_patch = pred.grad.abs().sum(-1)
    assert (grad_per_patch[~mask] == 0).all() and (grad_per_patch[mask] > 0).all()
    # equals the mean squared error over the masked patches' values
    err = (outputs["pred"] - outputs["target"]).pow(2)[mask]
    assert torch.allclose(loss, err.mean(), rtol=1e-5)
    # perfect predictions on the masked patches give zero loss whatever the visible ones hold
    perfect = torch.where(mask[..., None], outputs["target"], torch.full_like(pred, 9.0))
    assert float(model.loss({**outputs, "pred": perfect}, {})[0]) == 0.0


def test_patchify_round_trip_and_reconstruction_keeps_visible() -> None:
    x = torch.rand(2, 3, 2, 8, 8, 12)
    p = patchify(x, 2, 4)
    assert p.shape == (2, 2, 4 * 2 * 3, 3 * 2 * 4 * 4)
    assert torch.equal(unpatchify(p, 3, (4, 2, 3), 2, 4), x)
    model = _pretrain()
    radar = normalise_frames(torch.rand(1, 1, 1, 8, 8, 16))
    assert torch.equal(normalise_frames(radar), radar)  # idempotent on prepared clips
    mask = sample_mask(1, 1, model.grid, 0.5)
    with torch.no_grad():
        rec = model.reconstruction(model(radar, mask), radar)
    visible = ~mask[0, 0].reshape(model.grid)
    vis_px = visible.repeat_interleave(2, 0).repeat_interleave(4, 1).repeat_interleave(4, 2)
    assert torch.equal(rec[0, 0, 0][vis_px], radar[0, 0, 0][vis_px])


def test_patch_grid_of_the_papers_input() -> None:
    """20 RD frames of the paper's radar (255 chirp loops x 256 samples), resized to 256 x 256:
    tubelet 2 x 16 x 16 patches -> a (10, 16, 16) grid, 2560 tokens of 384, 256 visible."""
    frames = np.random.default_rng(0).normal(-60, 5, (20, 255, 256))
    prepared = prepare_frames(frames, "rd", range_bins=None, frame_size=[256, 256])
    assert prepared.shape == (20, 256, 256) and prepared.min() == 0 and prepared.max() == 1
    cfg = load_config(model="maepose-pretrain", overrides=[("model.params.frame_size", [256, 256])])
    params = model_params(cfg)
    assert (params.embed_dim, params.depth, params.num_heads) == (384, 12, 6)
    assert (params.decoder_dim, params.decoder_depth, params.decoder_heads) == (512, 4, 16)
    assert params.mask_ratio == 0.9 and cfg.data.window == 20
    shape = (1, 1, cfg.data.window, 256, 256)
    grid = token_grid(shape, params.tubelet, params.patch)
    assert grid == (10, 16, 16)
    encoder = RadarVideoEncoder(1, 1, grid, params)
    radar = torch.from_numpy(prepared)[None, None, None]
    with torch.no_grad():
        tokens = encoder.embed(radar)
        assert tokens.shape == (1, 1, 2560, 384)
        mask = sample_mask(1, 1, grid, params.mask_ratio)
        assert int(mask.sum()) == 2304
        visible = tokens[~mask].reshape(1, 1, 256, 384)
        assert encoder.encode(visible).shape == (1, 1, 256, 384)
    assert patchify(radar, 2, 16).shape == (1, 1, 2560, 512)
    with pytest.raises(ValueError, match="divide"):
        token_grid((1, 1, 20, 255, 256), 2, 16)


def test_layer_wise_decay_assigns_the_expected_rates() -> None:
    params = MaeposeParams(**{**TINY, "depth": 3, "layer_decay": 0.5, "head_channels": 4})
    model = Maepose(
        (1, 2, 8, 8, 8),
        num_targets=5,
        num_joints=13,
        heatmap_size=(8, 8),
        heatmap_sigma=1.0,
        params=params,
    )
    groups = layer_decay_param_groups(model, lr=1.0, weight_decay=0.05, layer_decay=0.5, depth=3)
    rate: dict[str, float] = {}
    wd: dict[str, float] = {}
    for g in groups:
        for name in g["names"]:
            rate[name], wd[name] = g["lr"], g["weight_decay"]
    assert set(rate) == {n for n, _ in model.named_parameters()}  # each exactly once
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    assert rate["encoder.patch_embeds.0.weight"] == 0.5**4
    assert rate["encoder.patch_embeds.1.bias"] == 0.5**4
    assert rate["encoder.modality_embed"] == 0.5**4
    for i in range(3):
        assert rate[f"encoder.blocks.{i}.attn.q.weight"] == 0.5 ** (3 - i)
        assert rate[f"encoder.blocks.{i}.norm1.weight"] == 0.5 ** (3 - i)
    for name in ("encoder.norm.weight", "encoder.fusion.0.attn.kv.weight", "head.out.weight"):
        assert rate[name] == 1.0
    assert wd["encoder.blocks.0.attn.q.weight"] == 0.05 and wd["head.out.weight"] == 0.05
    assert wd["encoder.blocks.0.attn.q.bias"] == 0.0 and wd["encoder.norm.weight"] == 0.0


@pytest.mark.parametrize("modalities", [1, 2])
def test_finetune_shapes_targets_and_decoding(modalities: int) -> None:
    torch.manual_seed(0)
    params = MaeposeParams(**{**TINY, "head_channels": 4, "head_upsamplings": 1})
    model = Maepose(
        (1, modalities, 8, 8, 16),
        num_targets=5,
        num_joints=13,
        heatmap_size=(16, 16),
        heatmap_sigma=1.5,
        params=params,
    )
    out = model(torch.rand(2, 1, modalities, 8, 8, 16))
    assert out["heatmaps"].shape == (2, 5, 13, 16, 16)
    kp = torch.rand(2, 5, 13, 2) * 60
    w = (torch.rand(2, 5, 13) > 0.2).float()
    size = torch.tensor([[64.0, 64.0], [64.0, 64.0]])
    target = gaussian_heatmaps_torch(kp, w, size, (16, 16), 1.5)
    ref = gaussian_heatmaps(
        kp.numpy(), w.numpy(), image_size=(64, 64), heatmap_size=(16, 16), sigma=1.5
    )
    assert np.allclose(target.numpy(), ref, atol=1e-5)
    batch = {"keypoints": kp, "weights": w, "image_size": size}
    decoded, _ = model.decode({"heatmaps": target}, batch)
    ok = w > 0
    assert (decoded - kp).abs()[ok].max() < 64 / 16  # within a heatmap cell
    loss, _ = model.loss({"heatmaps": target}, batch)
    assert float(loss) == 0.0
    norm, _ = model.decode_normalised({"heatmaps": target})
    assert 0 <= float(norm.min()) and float(norm.max()) < 1


def test_configs_validate_and_registry_builds() -> None:
    for name in ("maepose-pretrain", "maepose"):
        cfg = load_config(model=name, overrides=[("model.params", TINY)])
        model = build_model(cfg, (1, 1, 20, 8, 8), 13)
        assert isinstance(model, MaeposePretrain if name == "maepose-pretrain" else Maepose)
    ft = load_config(model="maepose")
    assert ft.optim.weight_decay == 0.05 and ft.trainer.early_stopping_patience == 10
    assert len(ft.data.target_offsets) == 5 and ft.data.skeleton == "maepose13"
    with pytest.raises(ConfigError, match="mask_ratio"):
        load_config(model="maepose-pretrain", overrides=[("model.params.mask_ratio", 1.0)])
    with pytest.raises(ConfigError, match="frame_size"):
        load_config(model="maepose", overrides=[("model.params.frame_size", [20, 20])])
