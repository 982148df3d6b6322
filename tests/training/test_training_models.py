"""Shapes and gradients of every module; PRGCN adjacency; selective scan vs the recurrence."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest
import torch

from labeling.skeletons import get_schema
from training.config import load_config
from training.model_params import HuprParams, MilliMambaParams
from training.models import build_model
from training.models.hupr import CrossSelfAttention, HuPR, MNet, RadarBranch
from training.models.millimamba import BidirectionalMambaBlock, MambaMixer, MilliMamba
from training.models.prgcn import PRGCN, normalized_adjacency
from training.models.selective_scan import (
    mamba_kernel,
    selective_scan,
    selective_scan_auto,
    selective_scan_reference,
)

TINY_HUPR = HuprParams(
    channels=[4, 8],
    mnet_channels=4,
    temporal_strides=[2, 2],
    attention_heads=2,
    attention_tokens=4,
    gcn_features=16,
)
TINY_MM = MilliMambaParams(
    dim=16,
    stem_channels=[8, 16],
    tokens_per_frame=2,
    encoder_layers=1,
    d_state=4,
    decoder_layers=1,
    decoder_heads=2,
)


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _grads_ok(module: torch.nn.Module) -> None:
    for name, p in module.named_parameters():
        assert p.grad is not None, f"{name} has no gradient"
        assert torch.isfinite(p.grad).all(), name


def test_mnet_branch_and_attention_shapes() -> None:
    x = torch.randn(2, 2, 4, 3, 16, 16)  # B, re/im, T, K, H, W
    assert MNet(3, 2, 5)(x).shape == (2, 5, 4, 16, 16)
    feats = RadarBranch(4, 3, 2, TINY_HUPR)(x)
    assert [tuple(f.shape) for f in feats] == [(2, 4, 16, 16), (2, 8, 8, 8)]
    att = CrossSelfAttention(8, 2, 4)
    a, b = torch.randn(2, 8, 8, 8, requires_grad=True), torch.randn(2, 8, 8, 8, requires_grad=True)
    out = att(a, b)
    assert out.shape == (2, 8, 8, 8)
    out.sum().backward()
    assert a.grad is not None and b.grad is not None and b.grad.abs().sum() > 0


def test_hupr_shapes_gradients_and_loss() -> None:
    schema = get_schema("hupr14")
    model = HuPR(
        (2, 2, 4, 3, 16, 16, 2),
        num_targets=1,
        num_joints=14,
        edges=schema.edges,
        heatmap_size=(16, 16),
        params=TINY_HUPR,
    )
    x = torch.randn(2, 2, 2, 4, 3, 16, 16, 2)
    out = model(x)
    assert out["initial"].shape == out["refined"].shape == (2, 1, 14, 16, 16)
    batch = {
        "heatmaps": torch.rand(2, 1, 14, 16, 16),
        "weights": torch.ones(2, 1, 14),
        "image_size": torch.tensor([[64.0, 64.0]] * 2),
    }
    loss, parts = model.loss(out, batch)
    assert set(parts) == {"bce_initial", "bce_refined"}
    assert loss.item() == pytest.approx(float(parts["bce_initial"] + parts["bce_refined"]), 1e-5)
    loss.backward()  # type: ignore[no-untyped-call]
    _grads_ok(model)
    kp, scores = model.decode(out, batch)
    assert kp.shape == (2, 1, 14, 2) and scores.shape == (2, 1, 14)
    assert (kp >= 0).all() and (kp < 64).all()
    # elevation averaging inside the model == averaging before it
    model.eval()
    with torch.no_grad():
        a = model(x)["refined"]
        b = model(x.mean(-1))["refined"]
    assert torch.allclose(a, b, atol=1e-5)


def test_prgcn_adjacency_matches_joint_graph() -> None:
    schema = get_schema("hupr14")
    a = normalized_adjacency(14, schema.edges)
    assert torch.allclose(a, a.T)
    connected = (a > 0) & ~torch.eye(14, dtype=torch.bool)
    expected = {frozenset(e) for e in schema.edges}
    got = {frozenset((i, j)) for i in range(14) for j in range(14) if connected[i, j]}
    assert got == expected
    # the HuPR graph: 13 bones, neck the hub (head, both shoulders, both hips)
    assert len(expected) == 13
    neck = schema.index("Neck")
    assert {schema.joints[j] for j in range(14) if connected[neck, j]} == {
        "Head",
        "L_Shoulder",
        "R_Shoulder",
        "L_Hip",
        "R_Hip",
    }
    deg = connected.sum(1).float() + 1
    assert torch.allclose(a.diagonal(), 1 / deg)
    i, j = schema.edges[0]
    assert a[i, j].item() == pytest.approx(1 / (deg[i] * deg[j]).sqrt().item())
    prgcn = PRGCN(14, schema.edges, (16, 16), features=8, layers=2)
    x = torch.randn(3, 14, 16, 16)
    y = prgcn(x)
    assert y.shape == x.shape
    y.sum().backward()
    _grads_ok(prgcn)


@pytest.mark.parametrize("length", [1, 7, 33])
def test_selective_scan_matches_recurrence(length: int) -> None:
    g = torch.Generator().manual_seed(length)
    b, d, n = 2, 5, 3

    def r(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    u, delta, z = r(b, d, length), r(b, d, length), r(b, d, length)
    a = -torch.rand(d, n, generator=g, dtype=torch.float64) * 4
    bb, cc, dd, bias = r(b, n, length), r(b, n, length), r(d), r(d)
    ref = selective_scan_reference(u, delta, a, bb, cc, dd, z, bias, True)
    got = selective_scan(u, delta, a, bb, cc, dd, z, bias, True)
    assert torch.allclose(ref, got, atol=1e-10)
    plain = selective_scan(u, delta.abs(), a, bb, cc)
    assert torch.allclose(selective_scan_reference(u, delta.abs(), a, bb, cc), plain, atol=1e-10)
    # gradients agree too
    u1, u2 = u.clone().requires_grad_(), u.clone().requires_grad_()
    selective_scan_reference(u1, delta, a, bb, cc, dd, z, bias, True).square().sum().backward()  # type: ignore[no-untyped-call]
    selective_scan(u2, delta, a, bb, cc, dd, z, bias, True).square().sum().backward()  # type: ignore[no-untyped-call]
    assert u1.grad is not None and u2.grad is not None
    assert torch.allclose(u1.grad, u2.grad, atol=1e-9)


@pytest.mark.skipif(
    not torch.cuda.is_available() or importlib.util.find_spec("mamba_ssm") is None,
    reason="needs CUDA and mamba-ssm",
)
def test_mamba_ssm_kernel_matches_pytorch_scan() -> None:
    assert mamba_kernel() is not None
    dev = torch.device("cuda")
    b, d, n, length = 2, 16, 8, 64
    u, delta, z = (torch.randn(b, d, length, device=dev) for _ in range(3))
    a = -torch.rand(d, n, device=dev) * 4
    bb, cc = torch.randn(b, n, length, device=dev), torch.randn(b, n, length, device=dev)
    dd, bias = torch.randn(d, device=dev), torch.randn(d, device=dev)
    ours = selective_scan(u, delta, a, bb, cc, dd, z, bias, True)
    kernel = selective_scan_auto(u, delta, a, bb, cc, dd, z, bias, True)
    assert torch.allclose(ours, kernel, atol=1e-3, rtol=1e-3)


def test_mamba_blocks_shapes_and_gradients() -> None:
    mixer = MambaMixer(TINY_MM)
    x = torch.randn(2, 9, 16, requires_grad=True)
    y = mixer(x)
    assert y.shape == x.shape
    y.sum().backward()
    _grads_ok(mixer)
    # causality of one direction: outputs before t do not depend on inputs at t
    x2 = x.detach().clone()
    x2[:, 5:] += 1.0
    with torch.no_grad():
        assert torch.allclose(mixer(x.detach())[:, :5], mixer(x2)[:, :5], atol=1e-6)
    block = BidirectionalMambaBlock(TINY_MM)
    assert block(x).shape == x.shape


def test_millimamba_shapes_gradients_and_loss() -> None:
    model = MilliMamba(
        (2, 2, 6, 3, 16, 16), target_offsets=[1, 2, 3], num_joints=14, params=TINY_MM
    )
    x = torch.randn(2, 2, 2, 6, 3, 16, 16)
    out = model(x)
    assert out["coords"].shape == (2, 3, 14, 2)
    assert ((out["coords"] > 0) & (out["coords"] < 1)).all()
    kp = torch.rand(2, 3, 14, 2) * 64
    batch = {
        "keypoints": kp,
        "weights": torch.ones(2, 3, 14),
        "image_size": torch.tensor([[64.0, 64.0]] * 2),
    }
    loss, parts = model.loss(out, batch)
    assert set(parts) == {"keypoint", "velocity"}
    loss.backward()  # type: ignore[no-untyped-call]
    _grads_ok(model)
    # exact loss on a hand-made case: prediction = target -> 0
    perfect = {"coords": kp / 64}
    zero, _ = model.loss(perfect, batch)
    assert zero.item() == pytest.approx(0.0, abs=1e-6)
    dec, scores = model.decode(perfect, batch)
    assert torch.allclose(dec, kp, atol=1e-4) and (scores == 1).all()


def test_build_model_from_paper_configs() -> None:
    hupr = build_model(load_config(model="hupr"), (2, 2, 8, 8, 64, 64, 8), 14)
    assert isinstance(hupr, HuPR)
    assert len(hupr.branches) == 2 and len(hupr.attention) == 4
    mm = build_model(load_config(model="millimamba"), (2, 2, 16, 8, 64, 64), 14)
    assert isinstance(mm, MilliMamba) and mm.target_offsets.numel() == 8
