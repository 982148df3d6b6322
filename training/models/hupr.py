"""HuPR (Lee et al., WACV 2023): CSAM encoder-decoder + PRGCN, from the paper's description.

Data flow (B batch, R = 2 radars, T frames, K Doppler bins, H x W range x azimuth, E elevation,
P target frames, J joints)::

    radar (B, R, 2, T, K, H, W[, E])
      -> elevation mean                                   (B, R, 2, T, K, H, W)
      per radar branch (own weights):
      -> MNet: Conv3d over the K Doppler bins per pixel   (B, C0, T, H, W)   velocity fusion
      -> scales s = 0..S-1: residual 3-D conv blocks, stride (t_s, 2, 2) (spatial /2 from s = 1)
         -> strided temporal aggregation Conv3d(T_s, 1, 1) (B, C_s, H_s, W_s)
      per scale: cross-attention (each radar's queries on the other's keys), fusion,
                 self-attention                            (B, C_s, H_s, W_s)
      -> 2-D decoder: upsample + skip from the fused scales, resize to the heatmap size
      -> 1x1 conv to P * J initial heatmap logits         (B, P, J, h, w)
      -> PRGCN over the J-joint skeleton graph: refined   (B, P, J, h, w)

Loss: BCE(sigmoid(initial), G) + alpha * BCE(sigmoid(refined), G) with Gaussian targets G.
Attention keys/values are average-pooled to ``attention_tokens`` x ``attention_tokens`` so that
the cost stays linear in H x W (a choice; the paper does not bound it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from training.config import RunConfig
from training.data.heatmaps import decode_heatmaps
from training.model_params import HuprParams
from training.models.base import PoseModel, weighted_heatmap_bce
from training.models.prgcn import PRGCN


class MNet(nn.Module):
    """Velocity fusion: a learned combination of the K Doppler bins at every pixel.

    (B, 2, T, K, H, W) -> (B, C, T, H, W).
    """

    def __init__(self, doppler_bins: int, in_channels: int, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv3d(in_channels, channels, (doppler_bins, 1, 1), bias=False)
        self.norm = nn.BatchNorm3d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, k, h, w = x.shape
        y = self.conv(x.permute(0, 2, 1, 3, 4, 5).reshape(b * t, c, k, h, w))  # (BT, C, 1, H, W)
        y = F.relu(self.norm(y))
        return y.reshape(b, t, -1, h, w).transpose(1, 2)


class SpatioTemporalBlock(nn.Module):
    """Residual pair of 3x3x3 convolutions; the first with stride (t, s, s)."""

    def __init__(self, cin: int, cout: int, stride: tuple[int, int, int]) -> None:
        super().__init__()
        self.conv1 = nn.Conv3d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm3d(cout)
        self.conv2 = nn.Conv3d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm3d(cout)
        self.skip = (
            nn.Sequential(nn.Conv3d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm3d(cout))
            if cin != cout or stride != (1, 1, 1)
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.skip(x))


class RadarBranch(nn.Module):
    """One radar: MNet, then multi-scale spatio-temporal convs with strided temporal
    aggregation. (B, 2, T, K, H, W) -> list of (B, C_s, H_s, W_s), one per scale."""

    def __init__(
        self, frames: int, doppler_bins: int, in_channels: int, params: HuprParams
    ) -> None:
        super().__init__()
        self.mnet = MNet(doppler_bins, in_channels, params.mnet_channels)
        self.blocks = nn.ModuleList()
        self.aggregate = nn.ModuleList()
        cin, t = params.mnet_channels, frames
        for s, (cout, ts) in enumerate(zip(params.channels, params.temporal_strides, strict=True)):
            if t % ts:
                raise ValueError(f"{frames} frames do not divide by temporal strides")
            t //= ts
            spatial = 1 if s == 0 else 2
            self.blocks.append(SpatioTemporalBlock(cin, cout, (ts, spatial, spatial)))
            self.aggregate.append(
                nn.Sequential(
                    nn.Conv3d(cout, cout, (t, 1, 1), bias=False),
                    nn.BatchNorm3d(cout),
                    nn.ReLU(inplace=True),
                )
            )
            cin = cout

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        y = self.mnet(x)
        out = []
        for block, agg in zip(self.blocks, self.aggregate, strict=True):
            y = block(y)
            out.append(agg(y).squeeze(2))
        return out


def position_embedding_2d(channels: int, h: int, w: int, device: torch.device) -> torch.Tensor:
    """(h * w, channels) fixed 2-D sin/cos embedding of the pixel centres of an h x w grid.

    Coordinates are normalised to [0, 1] so that a grid and its pooled version (the attention's
    keys) get consistent embeddings. A quarter of the channels each: sin(y), cos(y), sin(x),
    cos(x) at geometric frequencies from pi (one half-cycle over the map) to pi * side / 2;
    channels beyond 4 * (channels // 4) are zero.
    """
    n = channels // 4
    if n == 0:
        return torch.zeros(h * w, channels, device=device)
    ys = (torch.arange(h, device=device, dtype=torch.float32) + 0.5) / h
    xs = (torch.arange(w, device=device, dtype=torch.float32) + 0.5) / w
    top = math.log(max(h, w, 2) / 2.0)
    omega = math.pi * torch.exp(torch.arange(n, device=device) * top / max(n - 1, 1))
    ay = (ys[:, None] * omega)[:, None, :].expand(h, w, n)
    ax = (xs[:, None] * omega)[None, :, :].expand(h, w, n)
    emb = torch.cat([ay.sin(), ay.cos(), ax.sin(), ax.cos()], dim=-1).reshape(h * w, 4 * n)
    return F.pad(emb, (0, channels - 4 * n))


class CrossSelfAttention(nn.Module):
    """Fuses the two radars' features of one scale: cross-attention both ways, a linear fusion,
    then self-attention. (B, C, H, W) x 2 -> (B, C, H, W).

    A fixed 2-D position embedding (:func:`position_embedding_2d`) is added to every token
    (queries, and the pooled keys / values) before attention: attention alone is blind to where
    a token is, and the heatmaps must be placed by position (image x, y are not the radar maps'
    range / azimuth axes, so the placement cannot come from convolutions' locality alone).
    """

    def __init__(self, channels: int, heads: int, tokens: int) -> None:
        super().__init__()
        self.tokens = tokens
        self.cross_h = nn.MultiheadAttention(channels, heads, batch_first=True)
        self.cross_v = nn.MultiheadAttention(channels, heads, batch_first=True)
        self.norm_h = nn.LayerNorm(channels)
        self.norm_v = nn.LayerNorm(channels)
        self.fuse = nn.Linear(2 * channels, channels)
        self.self_attn = nn.MultiheadAttention(channels, heads, batch_first=True)
        self.norm_s = nn.LayerNorm(channels)
        self.ffn = nn.Sequential(
            nn.Linear(channels, 2 * channels), nn.GELU(), nn.Linear(2 * channels, channels)
        )
        self.norm_f = nn.LayerNorm(channels)

    def _tokens(self, x: torch.Tensor, *, pooled: bool, position: bool = True) -> torch.Tensor:
        """(B, C, H, W) -> (B, N, C) tokens (pooled to the key grid), position embedded."""
        if pooled:
            side = (min(self.tokens, x.shape[-2]), min(self.tokens, x.shape[-1]))
            x = F.adaptive_avg_pool2d(x, side)
        _, c, h, w = x.shape
        tokens = x.flatten(2).transpose(1, 2)
        if not position:
            return tokens
        return tokens + position_embedding_2d(c, h, w, x.device).to(x.dtype)

    def forward(self, fh: torch.Tensor, fv: torch.Tensor) -> torch.Tensor:
        b, c, h, w = fh.shape
        qh, qv = self._tokens(fh, pooled=False), self._tokens(fv, pooled=False)
        kh, kv = self._tokens(fh, pooled=True), self._tokens(fv, pooled=True)
        xh = self.norm_h(qh + self.cross_h(qh, kv, kv, need_weights=False)[0])
        xv = self.norm_v(qv + self.cross_v(qv, kh, kh, need_weights=False)[0])
        x = self.fuse(torch.cat([xh, xv], dim=-1))
        grid = x.transpose(1, 2).reshape(b, c, h, w)
        kx = self._tokens(grid, pooled=True, position=False)  # x carries the embedding
        x = self.norm_s(x + self.self_attn(x, kx, kx, need_weights=False)[0])
        x = self.norm_f(x + self.ffn(x))
        out: torch.Tensor = x.transpose(1, 2).reshape(b, c, h, w)
        return out


class HeatmapDecoder(nn.Module):
    """2-D decoder over the fused scales (deepest first) to (B, P * J, h, w) logits."""

    def __init__(self, channels: Sequence[int], outputs: int, size: tuple[int, int]) -> None:
        super().__init__()
        self.size = size
        self.lateral = nn.ModuleList(
            nn.Conv2d(channels[s + 1], channels[s], 1) for s in range(len(channels) - 1)
        )
        self.refine = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(channels[s], channels[s], 3, padding=1, bias=False),
                nn.BatchNorm2d(channels[s]),
                nn.ReLU(inplace=True),
            )
            for s in range(len(channels) - 1)
        )
        self.head = nn.Conv2d(channels[0], outputs, 1)

    def forward(self, scales: list[torch.Tensor]) -> torch.Tensor:
        y = scales[-1]
        for s in range(len(scales) - 2, -1, -1):
            y = F.interpolate(y, size=scales[s].shape[-2:], mode="bilinear", align_corners=False)
            y = self.refine[s](self.lateral[s](y) + scales[s])
        if tuple(y.shape[-2:]) != self.size:
            y = F.interpolate(y, size=self.size, mode="bilinear", align_corners=False)
        out: torch.Tensor = self.head(y)
        return out


class HuPR(PoseModel):
    """HuPR with CSAM and PRGCN.

    Args:
        input_shape: one item's ``radar`` shape (R, C, T, K, H, W[, E]); R must be 2.
        num_targets: P target frames.
        num_joints: J.
        edges: skeleton edges for PRGCN.
        heatmap_size: (h, w).
        params: architecture sizes.
        heatmap_sigma: the targets' Gaussian sigma (heatmap pixels), for the output prior.

    Initialisation: the heatmap head's bias is the logit of the targets' mean value (the
    Gaussian's mass over the map, about 2 pi sigma^2 / (h w)) and PRGCN's last layer starts at
    zero, so both outputs start at the background level. From logit 0 (probability 0.5 on
    every pixel) Adam needs thousands of steps just to move the bias there, and the peaks are
    learned only after that (the usual prior initialisation of sparse sigmoid outputs).
    """

    needs_heatmaps = True

    def __init__(
        self,
        input_shape: Sequence[int],
        *,
        num_targets: int,
        num_joints: int,
        edges: Sequence[tuple[int, int]],
        heatmap_size: tuple[int, int],
        params: HuprParams,
        heatmap_sigma: float = 2.0,
    ) -> None:
        super().__init__()
        if len(input_shape) not in (6, 7) or input_shape[0] != 2:
            raise ValueError(
                f"HuPR needs (2 radars, C, T, K, H, W[, E]) inputs, got {tuple(input_shape)}"
            )
        _, cin, frames, doppler = input_shape[:4]
        self.params = params
        self.num_targets, self.num_joints = num_targets, num_joints
        self.branches = nn.ModuleList(RadarBranch(frames, doppler, cin, params) for _ in range(2))
        self.attention = nn.ModuleList(
            CrossSelfAttention(c, params.attention_heads, params.attention_tokens)
            for c in params.channels
        )
        self.decoder = HeatmapDecoder(params.channels, num_targets * num_joints, heatmap_size)
        self.prgcn = PRGCN(
            num_joints,
            edges,
            heatmap_size,
            features=params.gcn_features,
            layers=params.gcn_layers,
        )
        prior = min(2.0 * math.pi * heatmap_sigma**2 / (heatmap_size[0] * heatmap_size[1]), 0.5)
        head_bias = self.decoder.head.bias
        last = self.prgcn.decode[-1]
        assert head_bias is not None and isinstance(last, nn.ConvTranspose2d)
        assert last.bias is not None
        nn.init.constant_(head_bias, math.log(prior / (1.0 - prior)))
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    def forward(self, radar: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, 2, C, T, K, H, W[, E]) -> ``initial``, ``refined`` logits (B, P, J, h, w)."""
        if radar.dim() == 8:
            radar = radar.mean(dim=-1)  # elevation averaging
        feats_h = self.branches[0](radar[:, 0])
        feats_v = self.branches[1](radar[:, 1])
        fused = [att(h, v) for att, h, v in zip(self.attention, feats_h, feats_v, strict=True)]
        initial = self.decoder(fused)
        b, _, h, w = initial.shape
        refined = self.prgcn(initial.reshape(b * self.num_targets, self.num_joints, h, w))
        shape = (b, self.num_targets, self.num_joints, h, w)
        return {"initial": initial.reshape(shape), "refined": refined.reshape(shape)}

    def loss(
        self, outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        target, weights = batch["heatmaps"], batch["weights"]
        initial = weighted_heatmap_bce(outputs["initial"], target, weights)
        refined = weighted_heatmap_bce(outputs["refined"], target, weights)
        total = initial + self.params.alpha * refined
        return total, {"bce_initial": initial.detach(), "bce_refined": refined.detach()}

    def decode(
        self, outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        maps = torch.sigmoid(outputs["refined"].float())
        h, w = maps.shape[-2:]
        kp, scores = decode_heatmaps(maps, image_size=(float(w), float(h)))
        scale = batch["image_size"].to(kp) / torch.tensor([w, h], dtype=kp.dtype, device=kp.device)
        return kp * scale[:, None, None, :], scores


def build_hupr(
    cfg: RunConfig, params: HuprParams, input_shape: tuple[int, ...], num_joints: int
) -> HuPR:
    """HuPR for a run config (the registry's builder)."""
    from labeling.skeletons import get_schema

    h, w = cfg.data.heatmap_size
    return HuPR(
        input_shape,
        num_targets=len(cfg.data.target_offsets),
        num_joints=num_joints,
        edges=get_schema(cfg.data.skeleton).edges,
        heatmap_size=(h, w),
        params=params,
        heatmap_sigma=cfg.data.heatmap_sigma,
    )
