"""MAEPose: a video masked autoencoder over radar clips (stage 1) and its encoder fine-tuned with
a light multi-frame heatmap decoder (stage 2).

Input of both models: the ``radar`` tensor of :mod:`training.maepose.clips`,
(B, R, M, T, H, W): R radars, M modalities (RD, RA or both), T frames of H x W cells, each frame
min-max normalised to [0, 1]. Patches are ``tubelet`` frames x ``patch`` x ``patch`` cells over
all R radars of one modality; the token grid is (T', Gh, Gw) = (T / tubelet, H / patch,
W / patch), N = T' Gh Gw tokens per modality, flattened in (t, h, w) order.

The dual variant (M = 2) shares the encoder blocks between modalities (each has its own patch
embedding and a learned modality embedding) and fuses them after the last block with
cross-attention in both directions (RD tokens query RA tokens and the reverse).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from training.config import RunConfig
from training.data.heatmaps import decode_heatmaps
from training.maepose.params import MaeposeBackboneParams, MaeposeParams, MaeposePretrainParams
from training.models.base import PoseModel


def sincos_position_embedding(grid: Sequence[int], dim: int) -> torch.Tensor:
    """Fixed 3-D sine-cosine position embedding.

    Args:
        grid: (T', Gh, Gw).
        dim: embedding width; each axis gets 2 * (dim // 6) channels, the rest are zero.

    Returns:
        (N, dim) float32, rows in (t, h, w) order.
    """
    per_axis = 2 * (dim // 6)
    half = per_axis // 2
    parts = []
    axes = torch.meshgrid(*(torch.arange(g, dtype=torch.float64) for g in grid), indexing="ij")
    freqs = 1.0 / (10000.0 ** (torch.arange(half, dtype=torch.float64) / max(half, 1)))
    for pos in axes:
        angle = pos.reshape(-1, 1) * freqs[None]
        parts += [torch.sin(angle), torch.cos(angle)]
    emb = torch.cat(parts, dim=1)
    emb = F.pad(emb, (0, dim - emb.shape[1]))
    return emb.float()


class Attention(nn.Module):
    """Multi-head attention of queries ``x`` (B, n, D) over ``context`` (B, m, D)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        context = x if context is None else context
        b, n, d = x.shape
        h = self.heads
        q = self.q(x).reshape(b, n, h, d // h).transpose(1, 2)
        k, v = self.kv(context).reshape(b, -1, 2, h, d // h).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v)
        out: torch.Tensor = self.out(y.transpose(1, 2).reshape(b, n, d))
        return out


class Block(nn.Module):
    """Pre-norm transformer block: (cross-)attention then MLP, both residual. (B, n, D)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, *, cross: bool = False) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.norm_context = nn.LayerNorm(dim) if cross else None
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        if self.norm_context is not None and context is not None:
            x = x + self.attn(self.norm1(x), self.norm_context(context))
        else:
            x = x + self.attn(self.norm1(x))
        out: torch.Tensor = x + self.mlp(self.norm2(x))
        return out


def normalise_frames(radar: torch.Tensor) -> torch.Tensor:
    """Per-frame min-max to [0, 1] of (B, R, M, T, H, W) (a constant frame gives zeros).

    Idempotent on prepared clips (:mod:`training.maepose.clips` already does it), so windows
    read without MAEPose's preparation (e.g. the shared ``predict`` command on native-size RD
    frames in dB) reach the encoder on the same scale."""
    lo = radar.amin(dim=(-2, -1), keepdim=True)
    hi = radar.amax(dim=(-2, -1), keepdim=True)
    span = torch.where(hi > lo, hi - lo, torch.ones_like(hi))
    return (radar - lo) / span


def token_grid(input_shape: Sequence[int], tubelet: int, patch: int) -> tuple[int, int, int]:
    """(T', Gh, Gw) of one item's ``radar`` shape (R, M, T, H, W); raises when not divisible."""
    _, _, t, h, w = input_shape
    if t % tubelet or h % patch or w % patch:
        raise ValueError(
            f"clip (T, H, W) = {(t, h, w)} does not divide into patches of "
            f"{(tubelet, patch, patch)}; set data.window / model.params.frame_size"
        )
    return t // tubelet, h // patch, w // patch


def patchify(x: torch.Tensor, tubelet: int, patch: int) -> torch.Tensor:
    """(B, R, M, T, H, W) -> (B, M, N, R * tubelet * patch * patch), tokens in (t, h, w) order
    (the patch embedding's order), values in (r, t, y, x) order inside a patch."""
    b, r, m, t, h, w = x.shape
    x = x.reshape(b, r, m, t // tubelet, tubelet, h // patch, patch, w // patch, patch)
    x = x.permute(0, 2, 3, 5, 7, 1, 4, 6, 8)
    return x.reshape(b, m, -1, r * tubelet * patch * patch)


def unpatchify(
    patches: torch.Tensor, radars: int, grid: Sequence[int], tubelet: int, patch: int
) -> torch.Tensor:
    """Inverse of :func:`patchify`: (B, M, N, R * tubelet * patch^2) -> (B, R, M, T, H, W)."""
    b, m = patches.shape[:2]
    gt, gh, gw = grid
    x = patches.reshape(b, m, gt, gh, gw, radars, tubelet, patch, patch)
    x = x.permute(0, 5, 1, 2, 6, 3, 7, 4, 8)
    return x.reshape(b, radars, m, gt * tubelet, gh * patch, gw * patch)


def sample_mask(
    batch: int,
    modalities: int,
    grid: Sequence[int],
    ratio: float,
    *,
    mode: str = "random",
    generator: torch.Generator | None = None,
    device: torch.device | None = None,
) -> torch.Tensor:
    """Random space-time mask with exactly the same number of masked tokens in every row.

    Args:
        grid: (T', Gh, Gw).
        ratio: fraction masked: ``round(ratio * N)`` tokens (``random``) or ``round(ratio * Gh
            Gw)`` spatial positions in every time step (``tube``).

    Returns:
        (B, M, N) bool, True = masked.
    """
    gt, gh, gw = grid
    space = gh * gw
    rows = batch * modalities
    if mode == "tube":
        n_mask = min(max(round(ratio * space), 1), space - 1)
        noise = torch.rand(rows, space, generator=generator)
        masked_space = torch.zeros(rows, space, dtype=torch.bool)
        masked_space.scatter_(1, noise.argsort(dim=1)[:, :n_mask], True)
        mask = masked_space[:, None, :].expand(rows, gt, space).reshape(rows, -1)
    else:
        n = gt * space
        n_mask = min(max(round(ratio * n), 1), n - 1)
        noise = torch.rand(rows, n, generator=generator)
        mask = torch.zeros(rows, n, dtype=torch.bool)
        mask.scatter_(1, noise.argsort(dim=1)[:, :n_mask], True)
    return mask.reshape(batch, modalities, -1).to(device)


class RadarVideoEncoder(nn.Module):
    """Patch embedding (one 3-D convolution per modality) + ViT encoder + dual fusion.

    Args:
        radars: R (input channels of each modality's patch embedding).
        modalities: M (1, or 2 for RD + RA).
        grid: (T', Gh, Gw).
        params: widths and depths.
    """

    pos: torch.Tensor

    def __init__(
        self, radars: int, modalities: int, grid: Sequence[int], params: MaeposeBackboneParams
    ) -> None:
        super().__init__()
        p = params
        d = p.embed_dim
        self.grid = tuple(grid)
        self.modalities = modalities
        self.patch_embeds = nn.ModuleList(
            nn.Conv3d(
                radars, d, (p.tubelet, p.patch, p.patch), stride=(p.tubelet, p.patch, p.patch)
            )
            for _ in range(modalities)
        )
        self.modality_embed = nn.Parameter(torch.zeros(modalities, d))
        self.register_buffer("pos", sincos_position_embedding(grid, d), persistent=False)
        self.blocks = nn.ModuleList(Block(d, p.num_heads, p.mlp_ratio) for _ in range(p.depth))
        self.norm = nn.LayerNorm(d)
        self.fusion = (
            nn.ModuleList(
                Block(d, p.fusion_heads, p.mlp_ratio, cross=True) for _ in range(modalities)
            )
            if modalities == 2
            else None
        )
        nn.init.normal_(self.modality_embed, std=0.02)

    def embed(self, radar: torch.Tensor) -> torch.Tensor:
        """(B, R, M, T, H, W) -> (B, M, N, D) tokens with position and modality embeddings."""
        tokens = []
        for m, conv in enumerate(self.patch_embeds):
            t = conv(radar[:, :, m]).flatten(2).transpose(1, 2)  # (B, N, D)
            tokens.append(t + self.pos + self.modality_embed[m])
        return torch.stack(tokens, dim=1)

    def encode(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, M, n, D) -> (B, M, n, D): blocks (modalities batched), norm, cross-fusion."""
        b, m, n, d = tokens.shape
        x = tokens.reshape(b * m, n, d)
        for block in self.blocks:
            x = block(x)
        x = self.norm(x).reshape(b, m, n, d)
        if self.fusion is not None:
            rd, ra = x[:, 0], x[:, 1]
            x = torch.stack([self.fusion[0](rd, ra), self.fusion[1](ra, rd)], dim=1)
        return x


class MaeposePretrain(PoseModel):
    """Stage 1: masked video autoencoder (MSE on the masked patches only).

    ``forward(radar, mask=None)`` returns ``pred`` and ``target`` (B, M, N, R * tubelet * patch^2)
    and ``mask`` (B, M, N) float (1 = masked); the encoder sees only the visible tokens, the
    decoder all tokens (mask tokens where masked). A mask is drawn when none is given.
    """

    needs_heatmaps: ClassVar[bool] = False
    decoder_pos: torch.Tensor

    def __init__(self, input_shape: Sequence[int], params: MaeposePretrainParams) -> None:
        super().__init__()
        radars, modalities = int(input_shape[0]), int(input_shape[1])
        p = self.params = params
        self.radars = radars
        self.grid = token_grid(input_shape, p.tubelet, p.patch)
        self.encoder = RadarVideoEncoder(radars, modalities, self.grid, p)
        dd = p.decoder_dim
        self.decoder_embed = nn.Linear(p.embed_dim, dd)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dd))
        self.decoder_modality = nn.Parameter(torch.zeros(modalities, dd))
        self.register_buffer("decoder_pos", sincos_position_embedding(self.grid, dd), False)
        self.decoder_blocks = nn.ModuleList(
            Block(dd, p.decoder_heads, p.mlp_ratio) for _ in range(p.decoder_depth)
        )
        self.decoder_norm = nn.LayerNorm(dd)
        self.decoder_pred = nn.Linear(dd, radars * p.tubelet * p.patch * p.patch)
        nn.init.normal_(self.mask_token, std=0.02)
        nn.init.normal_(self.decoder_modality, std=0.02)

    def forward(
        self, radar: torch.Tensor, mask: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        p = self.params
        radar = normalise_frames(radar)
        tokens = self.encoder.embed(radar)  # (B, M, N, D)
        b, m, n, d = tokens.shape
        if mask is None:
            mask = sample_mask(b, m, self.grid, p.mask_ratio, mode=p.masking, device=radar.device)
        keep = ~mask
        n_vis = int(keep[0, 0].sum())
        if bool((keep.sum(-1) != n_vis).any()):
            raise ValueError("every (item, modality) needs the same number of visible tokens")
        visible = tokens[keep].reshape(b, m, n_vis, d)
        encoded = self.decoder_embed(self.encoder.encode(visible))  # (B, M, n_vis, dd)
        dd = encoded.shape[-1]
        full = self.mask_token.to(encoded.dtype).expand(b, m, n, dd).clone()
        full[keep] = encoded.reshape(-1, dd)
        x = (full + self.decoder_pos + self.decoder_modality[None, :, None]).reshape(b * m, n, dd)
        for block in self.decoder_blocks:
            x = block(x)
        pred = self.decoder_pred(self.decoder_norm(x)).reshape(b, m, n, -1)
        target = patchify(radar, p.tubelet, p.patch)
        if p.norm_pix_loss:
            mean = target.mean(-1, keepdim=True)
            var = target.var(-1, keepdim=True)
            target = (target - mean) / (var + 1e-6).sqrt()
        return {"pred": pred, "target": target, "mask": mask.to(pred.dtype)}

    def loss(
        self, outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        per_patch = (outputs["pred"].float() - outputs["target"].float()).pow(2).mean(-1)
        mask = outputs["mask"].float()
        loss = (per_patch * mask).sum() / mask.sum().clamp_min(1.0)
        return loss, {"mse_masked": loss.detach()}

    def reconstruction(self, outputs: dict[str, torch.Tensor], radar: torch.Tensor) -> torch.Tensor:
        """(B, R, M, T, H, W) clip with the masked patches replaced by the predictions (the
        visible ones kept); with ``norm_pix_loss`` predictions are mapped back with the
        visible input's own patch statistics."""
        p = self.params
        pred = outputs["pred"].float()
        target = patchify(normalise_frames(radar.float()), p.tubelet, p.patch)
        if p.norm_pix_loss:
            mean, std = target.mean(-1, keepdim=True), target.std(-1, keepdim=True)
            pred = pred * std + mean
        mask = outputs["mask"][..., None] > 0
        mixed = torch.where(mask, pred, target)
        return unpatchify(mixed, self.radars, self.grid, p.tubelet, p.patch)


def gaussian_heatmaps_torch(
    keypoints: torch.Tensor,
    weights: torch.Tensor,
    image_size: torch.Tensor,
    heatmap_size: Sequence[int],
    sigma: float,
) -> torch.Tensor:
    """Torch twin of :func:`training.data.heatmaps.gaussian_heatmaps` (same convention).

    Args:
        keypoints: (B, P, J, 2) image pixels; weights: (B, P, J); image_size: (B, 2) (W, H).

    Returns:
        (B, P, J, h, w) in [0, 1]; zero maps where weight is 0.
    """
    h, w = heatmap_size
    scale = torch.stack([w / image_size[:, 0], h / image_size[:, 1]], dim=-1)  # (B, 2)
    centre = torch.nan_to_num(keypoints.float()) * scale[:, None, None]
    xs = torch.arange(w, device=keypoints.device, dtype=torch.float32)
    ys = torch.arange(h, device=keypoints.device, dtype=torch.float32)
    dx = (xs - centre[..., 0:1]) ** 2  # (B, P, J, w)
    dy = (ys - centre[..., 1:2]) ** 2  # (B, P, J, h)
    maps = torch.exp(-(dy[..., :, None] + dx[..., None, :]) / (2.0 * sigma**2))
    return maps * (weights > 0)[..., None, None].to(maps.dtype)


class HeatmapDecoder(nn.Module):
    """Light multi-frame heatmap decoder: Conv3d over (time, space) of the token grid, a learned
    mix of the T' token frames into the P target frames, stride-2 transposed convolutions,
    bilinear resize to the heatmap size and a 1x1 convolution to J heatmaps.

    (B, D, T', Gh, Gw) -> (B, P, J, h, w).
    """

    def __init__(
        self,
        dim: int,
        time_tokens: int,
        targets: int,
        joints: int,
        heatmap_size: Sequence[int],
        params: MaeposeParams,
    ) -> None:
        super().__init__()
        c = params.head_channels
        self.heatmap_size = (int(heatmap_size[0]), int(heatmap_size[1]))
        self.temporal = nn.Sequential(
            nn.Conv3d(dim, c, (3, 3, 3), padding=1),
            nn.GELU(),
        )
        self.time_mix = nn.Parameter(torch.full((targets, time_tokens), 1.0 / time_tokens))
        layers: list[nn.Module] = []
        for _ in range(params.head_upsamplings):
            layers += [nn.ConvTranspose2d(c, c, 4, stride=2, padding=1), nn.GELU()]
        self.upsample = nn.Sequential(*layers)
        self.refine = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.GELU())
        self.out = nn.Conv2d(c, joints, 1)

    def forward(self, grid_tokens: torch.Tensor) -> torch.Tensor:
        x = self.temporal(grid_tokens)  # (B, C, T', Gh, Gw)
        x = torch.einsum("bctyx,pt->bpcyx", x, self.time_mix.to(x.dtype))
        b, p, c, gh, gw = x.shape
        x = self.upsample(x.reshape(b * p, c, gh, gw))
        x = F.interpolate(x, size=self.heatmap_size, mode="bilinear", align_corners=False)
        maps: torch.Tensor = self.out(self.refine(x))
        return maps.reshape(b, p, -1, *self.heatmap_size)


class Maepose(PoseModel):
    """Stage 2: the stage-1 encoder without masking + :class:`HeatmapDecoder`.

    ``forward(radar)`` -> ``{"heatmaps": (B, P, J, h, w)}``; loss: MSE to Gaussian heatmaps
    (built from ``keypoints`` on the fly), each pixel weighted by 1 + ``foreground_weight`` x
    target and each joint by its label weight; decoding:
    argmax (with the quarter-pixel refinement) to normalised coordinates, then image pixels.
    """

    needs_heatmaps: ClassVar[bool] = False

    def __init__(
        self,
        input_shape: Sequence[int],
        *,
        num_targets: int,
        num_joints: int,
        heatmap_size: Sequence[int],
        heatmap_sigma: float,
        params: MaeposeParams,
    ) -> None:
        super().__init__()
        radars, modalities = int(input_shape[0]), int(input_shape[1])
        self.params = params
        self.grid = token_grid(input_shape, params.tubelet, params.patch)
        self.heatmap_size = (int(heatmap_size[0]), int(heatmap_size[1]))
        self.heatmap_sigma = heatmap_sigma
        self.encoder = RadarVideoEncoder(radars, modalities, self.grid, params)
        self.head = HeatmapDecoder(
            params.embed_dim, self.grid[0], num_targets, num_joints, heatmap_size, params
        )

    def forward(self, radar: torch.Tensor) -> dict[str, torch.Tensor]:
        tokens = self.encoder.encode(self.encoder.embed(normalise_frames(radar)))  # (B, M, N, D)
        x = tokens.mean(dim=1)  # modalities merged (after cross-fusion for the dual variant)
        b, _, d = x.shape
        x = x.transpose(1, 2).reshape(b, d, *self.grid)
        return {"heatmaps": self.head(x)}

    def target_heatmaps(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, P, J, h, w) Gaussian targets of a batch."""
        return gaussian_heatmaps_torch(
            batch["keypoints"],
            batch["weights"],
            batch["image_size"],
            self.heatmap_size,
            self.heatmap_sigma,
        )

    def loss(
        self, outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        target = (batch["heatmaps"] if "heatmaps" in batch else self.target_heatmaps(batch)).float()
        pixel_weight = 1.0 + self.params.foreground_weight * target
        sq = (outputs["heatmaps"].float() - target).pow(2)
        per_joint = (pixel_weight * sq).mean(dim=(-1, -2))
        w = batch["weights"].float()
        loss = (per_joint * w).sum() / w.sum().clamp_min(1.0)
        return loss, {"heatmap_mse": loss.detach()}

    def decode_normalised(
        self, outputs: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(keypoints (B, P, J, 2) in [0, 1) image fractions (x / W, y / H), scores (B, P, J))."""
        return decode_heatmaps(outputs["heatmaps"], image_size=(1.0, 1.0))

    def decode(
        self, outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        kp, scores = self.decode_normalised(outputs)
        size = batch["image_size"].to(kp.dtype)[:, None, None, :]
        return kp * size, scores

    def load_encoder(self, state: dict[str, Any]) -> int:
        """Load the ``encoder.*`` weights of a stage-1 state dict (shapes must match: same
        radars, modalities and widths); returns the number of tensors loaded."""
        enc = {k.removeprefix("encoder."): v for k, v in state.items() if k.startswith("encoder.")}
        if not enc:
            raise ValueError("the checkpoint holds no encoder.* weights (not a MAEPose model)")
        missing, unexpected = self.encoder.load_state_dict(enc, strict=False)
        if missing or unexpected:
            raise ValueError(
                f"pre-trained encoder does not fit: missing {missing}, unexpected {unexpected}"
            )
        return len(enc)


def layer_id(name: str, depth: int) -> int:
    """Layer of a :class:`Maepose` parameter for layer-wise decay: 0 = patch and modality
    embeddings, i + 1 = encoder block i, depth + 1 = final norm, fusion, heatmap decoder."""
    if name.startswith(("encoder.patch_embeds.", "encoder.modality_embed")):
        return 0
    if name.startswith("encoder.blocks."):
        return int(name.split(".")[2]) + 1
    return depth + 1


def layer_decay_param_groups(
    model: nn.Module, *, lr: float, weight_decay: float, layer_decay: float, depth: int
) -> list[dict[str, Any]]:
    """Optimiser parameter groups with layer-wise learning-rate decay.

    Layer l (see :func:`layer_id`) gets ``lr * layer_decay ** (depth + 1 - l)``; biases, norms
    and embeddings (tensors with fewer than 2 dimensions) get no weight decay.

    Returns:
        Groups with ``params``, ``lr``, ``weight_decay``, ``layer`` and ``names``.
    """
    groups: dict[tuple[int, bool], dict[str, Any]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        layer = layer_id(name, depth)
        decay = param.ndim >= 2
        group = groups.setdefault(
            (layer, decay),
            {
                "params": [],
                "names": [],
                "layer": layer,
                "lr": lr * layer_decay ** (depth + 1 - layer),
                "weight_decay": weight_decay if decay else 0.0,
            },
        )
        group["params"].append(param)
        group["names"].append(name)
    return [groups[k] for k in sorted(groups)]


def build_maepose_pretrain(
    cfg: RunConfig, params: MaeposePretrainParams, input_shape: Sequence[int], num_joints: int
) -> MaeposePretrain:
    """Registry builder of ``maepose-pretrain`` (``training.model_params.MODELS``)."""
    return MaeposePretrain(input_shape, params)


def build_maepose(
    cfg: RunConfig, params: MaeposeParams, input_shape: Sequence[int], num_joints: int
) -> Maepose:
    """Registry builder of ``maepose``: P = len(data.target_offsets) target frames."""
    return Maepose(
        input_shape,
        num_targets=len(cfg.data.target_offsets),
        num_joints=num_joints,
        heatmap_size=cfg.data.heatmap_size,
        heatmap_sigma=cfg.data.heatmap_sigma,
        params=params,
    )
