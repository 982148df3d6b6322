"""milliMamba (WACV 2026), built from the paper's description (no public code).

Data flow (B batch, R = 2 radars, T frames, K Doppler bins, H x W range x azimuth, S tokens
per frame and radar, D width, P target frames, J joints)::

    radar (B, R, 2, T, K, H, W[, E])
      -> elevation mean; per frame: (2K, H, W)
      -> per-radar conv stem (stride-2 convs) + pooling to s x s    (B, R, T, S, D)
      -> + view, token-position and time (sinusoidal) embeddings
      -> one sequence, time-major, the two radars' tokens of a frame side by side:
         (B, T * R * S, D)  -- the views meet inside every scan step window (cross-view fusion)
      -> bidirectional Mamba blocks (selective scan, linear in T * R * S)
      -> spatio-temporal cross-attention decoder: P x J queries (joint embedding + time
         embedding of the target frame) do self-attention across joints and frames, then
         cross-attention to the encoder tokens                       (B, P * J, D)
      -> linear head + sigmoid: normalised image coordinates          (B, P, J, 2)

Loss: keypoint L1 (normalised coordinates, valid joints) + velocity_weight * L1 of the frame-
to-frame differences (joints valid in both frames). Choices the paper leaves open (token layout,
sizes, L1, bidirectional scan, sinusoidal time) are listed in ``docs/training.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from training.config import RunConfig
from training.model_params import MilliMambaParams
from training.models.base import PoseModel
from training.models.selective_scan import selective_scan_auto


def sinusoidal_embedding(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """(N,) positions -> (N, dim) sin/cos embedding."""
    half = dim // 2
    freq = torch.exp(-math.log(10000.0) * torch.arange(half, device=positions.device) / half)
    angles = positions.float()[:, None] * freq[None]
    emb = torch.cat([angles.sin(), angles.cos()], dim=-1)
    return F.pad(emb, (0, dim - 2 * half))


class MambaMixer(nn.Module):
    """A Mamba (S6) mixer: gated, causal depthwise conv, input-dependent selective scan.

    (B, L, D) -> (B, L, D).
    """

    def __init__(self, params: MilliMambaParams) -> None:
        super().__init__()
        d, n = params.dim, params.d_state
        inner = params.expand * d
        self.rank = max(1, math.ceil(d / 16))
        self.use_kernel = params.use_cuda_kernels
        self.in_proj = nn.Linear(d, 2 * inner, bias=False)
        self.conv = nn.Conv1d(inner, inner, params.d_conv, groups=inner, padding=params.d_conv - 1)
        self.x_proj = nn.Linear(inner, self.rank + 2 * n, bias=False)
        self.dt_proj = nn.Linear(self.rank, inner)
        # time steps initialised log-uniformly in [1e-3, 1e-1] (inverse softplus in the bias)
        dt = torch.exp(torch.rand(inner) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3))
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
        self.A_log = nn.Parameter(torch.log(torch.arange(1, n + 1).float()).repeat(inner, 1))
        self.D = nn.Parameter(torch.ones(inner))
        self.out_proj = nn.Linear(inner, d, bias=False)
        self.n = n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[1]
        u, z = self.in_proj(x).chunk(2, dim=-1)
        u = F.silu(self.conv(u.transpose(1, 2))[..., :length])  # (B, Di, L)
        dbc = self.x_proj(u.transpose(1, 2))
        dt, b, c = dbc.split([self.rank, self.n, self.n], dim=-1)
        delta = (dt @ self.dt_proj.weight.T).transpose(1, 2)  # (B, Di, L)
        y = selective_scan_auto(
            u.float().contiguous(),
            delta.float().contiguous(),
            -torch.exp(self.A_log.float()),
            b.transpose(1, 2).float().contiguous(),
            c.transpose(1, 2).float().contiguous(),
            self.D.float(),
            z.transpose(1, 2).float().contiguous(),
            self.dt_proj.bias.float(),
            True,
            use_kernel=self.use_kernel,
        )
        out: torch.Tensor = self.out_proj(y.transpose(1, 2).to(x.dtype))
        return out


class BidirectionalMambaBlock(nn.Module):
    """Pre-norm residual block: forward scan + scan of the reversed sequence, summed."""

    def __init__(self, params: MilliMambaParams) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(params.dim)
        self.forward_mixer = MambaMixer(params)
        self.backward_mixer = MambaMixer(params)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(x)
        out: torch.Tensor = x + self.forward_mixer(y) + self.backward_mixer(y.flip(1)).flip(1)
        return out


class FrameStem(nn.Module):
    """(N, C_in, H, W) -> (N, S, D): stride-2 convs, pooling to s x s, projection."""

    def __init__(self, cin: int, params: MilliMambaParams) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for cout in params.stem_channels:
            layers += [nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.GroupNorm(1, cout)]
            layers.append(nn.GELU())
            cin = cout
        self.convs = nn.Sequential(*layers)
        self.side = params.tokens_per_frame
        self.proj = nn.Linear(cin, params.dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.adaptive_avg_pool2d(self.convs(x), self.side)
        out: torch.Tensor = self.proj(y.flatten(2).transpose(1, 2))
        return out


class MilliMamba(PoseModel):
    """milliMamba.

    Args:
        input_shape: one item's ``radar`` shape (R, C, T, K, H, W[, E]).
        target_offsets: frames of the window predicted (P of them).
        num_joints: J.
        params: sizes.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        *,
        target_offsets: Sequence[int],
        num_joints: int,
        params: MilliMambaParams,
    ) -> None:
        super().__init__()
        if len(input_shape) not in (6, 7):
            raise ValueError(f"milliMamba needs (R, C, T, K, H, W[, E]), got {input_shape}")
        radars, cin, frames, doppler = input_shape[:4]
        self.params = params
        self.radars, self.frames, self.num_joints = radars, frames, num_joints
        d = params.dim
        self.stems = nn.ModuleList(FrameStem(cin * doppler, params) for _ in range(radars))
        s = params.tokens_per_frame**2
        self.view_embed = nn.Parameter(torch.zeros(radars, 1, d))
        self.token_embed = nn.Parameter(torch.zeros(s, d))
        nn.init.trunc_normal_(self.view_embed, std=0.02)
        nn.init.trunc_normal_(self.token_embed, std=0.02)
        self.encoder = nn.ModuleList(
            BidirectionalMambaBlock(params) for _ in range(params.encoder_layers)
        )
        self.encoder_norm = nn.LayerNorm(d)
        # unit-scale joint queries, like the time embedding they are added to: at 0.02 the
        # joints start indistinguishable (every joint decoded to the same point) and Adam needs
        # hundreds of steps to grow them apart
        self.joint_queries = nn.Parameter(torch.randn(num_joints, d))
        self.target_offsets: torch.Tensor
        self.register_buffer("target_offsets", torch.tensor(list(target_offsets), dtype=torch.long))
        layer = nn.TransformerDecoderLayer(
            d, params.decoder_heads, 4 * d, dropout=0.0, batch_first=True, norm_first=True
        )
        self.decoder = nn.TransformerDecoder(layer, params.decoder_layers)
        self.head = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, 2))

    def encode(self, radar: torch.Tensor) -> torch.Tensor:
        """(B, R, C, T, K, H, W[, E]) -> (B, T * R * S, D) encoder tokens."""
        if radar.dim() == 8:
            radar = radar.mean(dim=-1)
        b, _, c, t, k, h, w = radar.shape
        per_radar = []
        for i, stem in enumerate(self.stems):
            x = radar[:, i].permute(0, 2, 1, 3, 4, 5).reshape(b * t, c * k, h, w)
            tokens = stem(x).reshape(b, t, -1, self.params.dim)  # (B, T, S, D)
            per_radar.append(tokens + self.view_embed[i] + self.token_embed)
        x = torch.stack(per_radar, dim=2)  # (B, T, R, S, D)
        time = sinusoidal_embedding(torch.arange(t, device=x.device), self.params.dim)
        x = x + time[None, :, None, None, :].to(x.dtype)
        x = x.reshape(b, -1, self.params.dim)
        for block in self.encoder:
            x = block(x)
        out: torch.Tensor = self.encoder_norm(x)
        return out

    def forward(self, radar: torch.Tensor) -> dict[str, torch.Tensor]:
        """-> ``coords`` (B, P, J, 2) normalised image coordinates in [0, 1]."""
        memory = self.encode(radar)
        p = self.target_offsets.numel()
        time = sinusoidal_embedding(self.target_offsets, self.params.dim).to(memory.dtype)
        queries = (time[:, None, :] + self.joint_queries[None]).reshape(1, -1, self.params.dim)
        y = self.decoder(queries.expand(memory.shape[0], -1, -1), memory)
        coords = torch.sigmoid(self.head(y).float()).reshape(-1, p, self.num_joints, 2)
        return {"coords": coords}

    def loss(
        self, outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        pred = outputs["coords"]
        target = batch["keypoints"] / batch["image_size"][:, None, None, :]
        w = batch["weights"]
        l1 = (pred - target).abs().sum(-1)
        keypoint = (l1 * w).sum() / w.sum().clamp_min(1.0)
        if pred.shape[1] > 1:
            wv = w[:, 1:] * w[:, :-1]
            dv = ((pred[:, 1:] - pred[:, :-1]) - (target[:, 1:] - target[:, :-1])).abs().sum(-1)
            velocity = (dv * wv).sum() / wv.sum().clamp_min(1.0)
        else:
            velocity = pred.new_zeros(())
        total = keypoint + self.params.velocity_weight * velocity
        return total, {"keypoint": keypoint.detach(), "velocity": velocity.detach()}

    def decode(
        self, outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Pixels; scores are 1 (the model has no confidence output)."""
        kp = outputs["coords"].float() * batch["image_size"].to(outputs["coords"])[:, None, None]
        return kp, torch.ones(kp.shape[:-1], device=kp.device)


def build_millimamba(
    cfg: RunConfig, params: MilliMambaParams, input_shape: tuple[int, ...], num_joints: int
) -> MilliMamba:
    """milliMamba for a run config (the registry's builder)."""
    return MilliMamba(
        input_shape, target_offsets=cfg.data.target_offsets, num_joints=num_joints, params=params
    )
