"""Mission networks (torch): RF branch, vision branch, coordinated representation with intra- and
inter-modal non-local attention, auxiliary pose heads and frame-attention pooling.

Shapes: B clips, T frames per clip, N points per frame, J joints, D = ``embed_dim``.
Radar and camera clips are scored in pairs: the inter-modal attention of the radar clip attends to
the camera clip it is compared with and vice versa, so a distance is a function of the pair
(:meth:`MissionModel.pair_distances` scores every radar x camera pair of two sets).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from training.mission.config import MissionModelConfig

#: (top, bottom, left, right, area, visible) of the person's box per camera frame
BOX_FEATURES = 6
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class AttentionPool(nn.Module):
    """Softmax-weighted mean over an axis, weights from a learned score:
    (..., L, C), mask (..., L) -> (..., C)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.score = nn.Sequential(
            nn.Linear(channels, channels // 2 or 1), nn.Tanh(), nn.Linear(channels // 2 or 1, 1)
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        s = self.score(x).squeeze(-1)
        if mask is not None:
            s = s.masked_fill(~mask, -1e4)
        w = torch.softmax(s, dim=-1)
        if mask is not None:
            w = w * mask.any(-1, keepdim=True).to(w.dtype)  # empty frame -> zero feature
        return (w.unsqueeze(-1) * x).sum(-2)


def point_mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(sizes):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers)


def frame_norm(norm: nn.BatchNorm1d, x: torch.Tensor) -> torch.Tensor:
    """Batch-normalise per-frame features (B, T, C) over all frames of the batch."""
    out: torch.Tensor = norm(x.flatten(0, 1)).view_as(x)
    return out


class RFBranch(nn.Module):
    """Per-point MLP (5-12-24-48-64) -> attention pooling per frame -> BiLSTM over frames ->
    frame feature concatenated back to every point -> second per-point MLP and pooling ->
    projection to D. ``(points (B, T, N, 5), mask (B, T, N)) -> (B, T, D)``.

    The pooled frame features are batch-normalised before the BiLSTM: at initialisation they
    differ by a few per cent between people (the part shared by every clip dominates), which the
    recurrent layers shrink further, so every clip got nearly the same feature (collapse)."""

    def __init__(self, cfg: MissionModelConfig) -> None:
        super().__init__()
        c = cfg.point_mlp[-1]
        h = cfg.rf_lstm_hidden
        self.mlp1 = point_mlp(cfg.point_mlp)
        self.pool1 = AttentionPool(c)
        self.norm1 = nn.BatchNorm1d(c)
        self.lstm = nn.LSTM(c, h, batch_first=True, bidirectional=True)
        self.mlp2 = point_mlp([c + 2 * h, cfg.embed_dim])
        self.pool2 = AttentionPool(cfg.embed_dim)
        self.out = nn.Linear(cfg.embed_dim + 2 * h, cfg.embed_dim)

    def forward(self, points: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        f1 = self.mlp1(points)  # (B, T, N, 64)
        frame = frame_norm(self.norm1, self.pool1(f1, mask))  # (B, T, 64)
        seq, _ = self.lstm(frame)  # (B, T, 2h)
        n = points.shape[2]
        f2 = self.mlp2(torch.cat([f1, seq.unsqueeze(2).expand(-1, -1, n, -1)], -1))
        out: torch.Tensor = self.out(torch.cat([self.pool2(f2, mask), seq], -1))
        return out


class TinyBackbone(nn.Module):
    """Three stride-2 convolution + batch-norm + ReLU stages and global pooling:
    (B, 3, H, W) -> (B, 64). For CPU runs (without the batch norms the pooled features of
    different people differed by ~0.1 %, below the later normalisations' epsilon)."""

    out_dim = 64

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for a, b in ((3, 16), (16, 32), (32, 64)):
            layers += [nn.Conv2d(a, b, 3, 2, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net(x)
        return out


def resnet50_backbone(weights: str | None) -> nn.Module:
    """torchvision ResNet-50 without its classifier ((B, 3, H, W) -> (B, 2048)), ImageNet
    weights from a local state-dict file when given."""
    from torchvision.models import resnet50

    net = resnet50(weights=None)
    if weights is not None:
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(
                f"ResNet-50 weights {path} not found: pass a local ImageNet state-dict file "
                "(e.g. torchvision's resnet50-*.pth) or leave model.resnet50_weights null"
            )
        state = torch.load(path, map_location="cpu", weights_only=True)
        net.load_state_dict(state)
    net.fc = nn.Identity()
    backbone: nn.Module = net
    return backbone


class VisionBranch(nn.Module):
    """Backbone per frame -> MLP to D -> bidirectional GRU. ``(B, T, 3, H, W) -> (B, T, D)``
    (images float in [0, 1]; normalised with ImageNet statistics here). The backbone features
    are batch-normalised before the MLP: the room behind the person is the same in every clip
    and otherwise dominates them (see :class:`RFBranch`)."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, cfg: MissionModelConfig) -> None:
        super().__init__()
        if cfg.backbone == "resnet50":
            self.backbone: nn.Module = resnet50_backbone(cfg.resnet50_weights)
            feat = 2048
        else:
            self.backbone = TinyBackbone()
            feat = TinyBackbone.out_dim
        if cfg.freeze_backbone:
            for p in self.backbone.parameters():
                p.requires_grad_(False)
        self.norm = nn.BatchNorm1d(feat)
        self.box_features = cfg.box_features
        self.box_norm = nn.BatchNorm1d(BOX_FEATURES) if cfg.box_features else None
        self.mlp = nn.Sequential(
            nn.Linear(feat + (BOX_FEATURES if cfg.box_features else 0), cfg.vision_mlp_hidden),
            nn.ReLU(),
            nn.Linear(cfg.vision_mlp_hidden, cfg.embed_dim),
        )
        self.gru = nn.GRU(cfg.embed_dim, cfg.embed_dim // 2, batch_first=True, bidirectional=True)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, images: torch.Tensor, boxes: torch.Tensor | None = None) -> torch.Tensor:
        """images (B, T, 3, H, W) in [0, 1], boxes (B, T, 6) (``pipeline.person_boxes``; zeros
        when not given) -> (B, T, D)."""
        b, t = images.shape[:2]
        x = (images.flatten(0, 1) - self.mean) / self.std
        f = self.norm(self.backbone(x))
        if self.box_norm is not None:
            if boxes is None:
                boxes = images.new_zeros(b, t, BOX_FEATURES)
            f = torch.cat([f, self.box_norm(boxes.flatten(0, 1))], -1)
        f = self.mlp(f).view(b, t, -1)
        out: torch.Tensor = self.gru(f)[0]
        return out


class NonLocal(nn.Module):
    """Non-local (embedded Gaussian) block: ``x + W_z softmax(theta(x) phi(y)^T) g(y)``.
    (B, Tx, D), (B, Ty, D) -> (B, Tx, D). Intra-modal with y = x, inter-modal otherwise."""

    def __init__(self, dim: int, inner: int) -> None:
        super().__init__()
        self.theta, self.phi, self.g = (nn.Linear(dim, inner) for _ in range(3))
        self.z = nn.Linear(inner, dim)
        nn.init.zeros_(self.z.weight)  # starts as identity (as in the non-local paper)
        nn.init.zeros_(self.z.bias)
        self.scale = inner**-0.5

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        a = torch.softmax(self.theta(x) @ self.phi(y).transpose(1, 2) * self.scale, dim=-1)
        out: torch.Tensor = x + self.z(a @ self.g(y))
        return out


class MissionModel(nn.Module):
    """RF and vision branches, coordinated representation, pose heads, frame-attention pooling.

    ``forward(points, mask, images)`` on paired clips returns the pooled, L2-normalised
    embeddings ``e_r``, ``e_v`` (B, D) and per-frame root-relative poses ``pose_r``, ``pose_v``
    (B, T, J, 3).
    """

    def __init__(self, cfg: MissionModelConfig, num_joints: int) -> None:
        super().__init__()
        d = cfg.embed_dim
        self.num_joints = num_joints
        self.rf = RFBranch(cfg)
        self.vision = VisionBranch(cfg)
        self.intra_r, self.intra_v = NonLocal(d, cfg.attention_dim), NonLocal(d, cfg.attention_dim)
        self.inter_r, self.inter_v = NonLocal(d, cfg.attention_dim), NonLocal(d, cfg.attention_dim)
        self.pose_r, self.pose_v = nn.Linear(d, 3 * num_joints), nn.Linear(d, 3 * num_joints)
        self.pool_r, self.pool_v = AttentionPool(d), AttentionPool(d)
        # batch-norm "neck" before the L2 normalisation: removes the feature mean shared by all
        # clips, which otherwise dominates the normalised embeddings (they collapse to a point)
        self.neck_r, self.neck_v = nn.BatchNorm1d(d), nn.BatchNorm1d(d)

    def coordinate(
        self, r: torch.Tensor, v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Branch features of paired clips (B, T, D) x 2 -> (e_r, e_v (B, D), Y_R, Y_V)."""
        r1, v1 = self.intra_r(r, r), self.intra_v(v, v)
        y_r, y_v = self.inter_r(r1, v1), self.inter_v(v1, r1)
        e_r = F.normalize(self.neck_r(self.pool_r(y_r)), dim=-1)
        e_v = F.normalize(self.neck_v(self.pool_v(y_v)), dim=-1)
        return e_r, e_v, y_r, y_v

    def forward(
        self,
        points: torch.Tensor,
        mask: torch.Tensor,
        images: torch.Tensor,
        boxes: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        e_r, e_v, y_r, y_v = self.coordinate(self.rf(points, mask), self.vision(images, boxes))
        b, t = y_r.shape[:2]
        return {
            "e_r": e_r,
            "e_v": e_v,
            "pose_r": self.pose_r(y_r).view(b, t, self.num_joints, 3),
            "pose_v": self.pose_v(y_v).view(b, y_v.shape[1], self.num_joints, 3),
        }

    def pair_distances(
        self, r: torch.Tensor, v: torch.Tensor, *, chunk: int = 4096
    ) -> torch.Tensor:
        """Distances of all radar x camera pairs: features (Q, T, D), (G, T, D) -> (Q, G)."""
        q, g = r.shape[0], v.shape[0]
        qi = torch.arange(q, device=r.device).repeat_interleave(g)
        gi = torch.arange(g, device=r.device).repeat(q)
        out = []
        for s in range(0, q * g, chunk):
            e_r, e_v, _, _ = self.coordinate(r[qi[s : s + chunk]], v[gi[s : s + chunk]])
            out.append((e_r - e_v).norm(dim=-1))
        return torch.cat(out).view(q, g)


def cross_modal_triplet(
    dist: torch.Tensor,
    radar_ids: torch.Tensor,
    camera_ids: torch.Tensor,
    radar_takes: torch.Tensor,
    camera_takes: torch.Tensor,
    margin: float,
    *,
    mining: str = "hard",
) -> torch.Tensor:
    """Triplet loss over a radar x camera distance matrix (B_r, B_c).

    A positive is a camera clip of the anchor's identity from ANOTHER take (never the same
    recording, hence never the sample itself); negatives are camera clips of other identities.
    ``mining="hard"``: hardest positive and negative per anchor, mean over anchors;
    ``"all"``: mean over the active (loss > 0) triplets of every anchor. Anchors without a
    positive or a negative are skipped (0 when none is left).
    """
    pos = (radar_ids[:, None] == camera_ids[None]) & (radar_takes[:, None] != camera_takes[None])
    neg = radar_ids[:, None] != camera_ids[None]
    ok = pos.any(1) & neg.any(1)
    if not ok.any():
        return dist.sum() * 0.0
    if mining == "all":
        valid = pos[:, :, None] & neg[:, None, :] & ok[:, None, None]
        terms = F.relu(dist[:, :, None] - dist[:, None, :] + margin)[valid]
        active = terms > 0
        return terms[active].mean() if active.any() else terms.sum() * 0.0
    hardest_pos = dist.masked_fill(~pos, -1.0).max(1).values
    hardest_neg = dist.masked_fill(~neg, float("inf")).min(1).values
    return F.relu(hardest_pos - hardest_neg + margin)[ok].mean()
