"""MAEPose model parameters (torch-free, so that configs validate without torch).

Defaults are the paper's (REFERENCE.md section 1) where it gives them: embedding dim 384,
encoder 12 blocks / 6 heads, decoder 4 blocks / dim 512 / 16 heads, 90 % masking. Patch size
(tubelet 2 frames x 16 x 16 cells) follows the usual video-MAE convention (not in the paper).
"""

from __future__ import annotations

from dataclasses import dataclass

from training.config import ConfigError

REPRESENTATIONS: dict[str, tuple[str, ...]] = {
    "rd": ("rd",),
    "ra": ("ra",),
    "rd+ra": ("rd", "ra"),
}
"""``data.representation`` of a MAEPose run -> the dataset representations read (modalities)."""


@dataclass
class MaeposeBackboneParams:
    """Patch embedding, input preparation and the ViT encoder (shared by both stages).

    Attributes:
        tubelet: frames per patch (time extent of the 3-D convolution).
        patch: cells per patch side (space extent of the 3-D convolution).
        range_bins: ``[start, stop)`` range bins kept (RD: last frame axis, RA: first), or null.
        frame_size: ``[H, W]`` every modality's frames are resized to (bilinear) after the range
            crop, or null for the native size; both must divide by ``patch``. The dual variant
            needs equal frame shapes, so it needs this unless the crops already agree.
        embed_dim: token width (paper 384).
        depth: encoder blocks (paper 12).
        num_heads: encoder attention heads (paper 6).
        mlp_ratio: MLP hidden width / token width.
        fusion_heads: heads of the RD <-> RA cross-attention fusion (dual variant).
    """

    tubelet: int = 2
    patch: int = 16
    range_bins: list[int] | None = None
    frame_size: list[int] | None = None
    embed_dim: int = 384
    depth: int = 12
    num_heads: int = 6
    mlp_ratio: float = 4.0
    fusion_heads: int = 6

    def validate(self) -> None:
        if min(self.tubelet, self.patch, self.embed_dim, self.depth, self.num_heads) < 1:
            raise ConfigError("model.params: sizes must be >= 1")
        if self.embed_dim % self.num_heads or self.embed_dim % self.fusion_heads:
            raise ConfigError("model.params: embed_dim must divide by num_heads and fusion_heads")
        if self.range_bins is not None and (
            len(self.range_bins) != 2 or not 0 <= self.range_bins[0] < self.range_bins[1]
        ):
            raise ConfigError("model.params.range_bins must be [start, stop) with start < stop")
        if self.frame_size is not None and (
            len(self.frame_size) != 2 or any(s < 1 or s % self.patch for s in self.frame_size)
        ):
            raise ConfigError("model.params.frame_size must be [H, W], multiples of patch")
        if self.mlp_ratio <= 0:
            raise ConfigError("model.params.mlp_ratio must be > 0")


@dataclass
class MaeposePretrainParams(MaeposeBackboneParams):
    """Stage 1: masked video autoencoder.

    Attributes:
        mask_ratio: fraction of patches masked, exactly (rounded to whole patches).
        masking: ``random`` (independent space-time patches) or ``tube`` (the same spatial
            patches masked in every time step).
        decoder_dim, decoder_depth, decoder_heads: the decoder ViT (paper 512 / 4 / 16).
        norm_pix_loss: reconstruct each patch normalised by its own mean / std.
    """

    mask_ratio: float = 0.9
    masking: str = "random"
    decoder_dim: int = 512
    decoder_depth: int = 4
    decoder_heads: int = 16
    norm_pix_loss: bool = False

    def validate(self) -> None:
        super().validate()
        if not 0.0 < self.mask_ratio < 1.0:
            raise ConfigError("model.params.mask_ratio must lie in (0, 1)")
        if self.masking not in ("random", "tube"):
            raise ConfigError("model.params.masking must be random or tube")
        if self.decoder_dim % self.decoder_heads or min(self.decoder_dim, self.decoder_depth) < 1:
            raise ConfigError("model.params: decoder_dim must divide by decoder_heads")


@dataclass
class MaeposeParams(MaeposeBackboneParams):
    """Stage 2: encoder (no masking) + light multi-frame heatmap decoder.

    Attributes:
        layer_decay: learning rate of encoder block i (1..depth) is lr * decay^(depth + 1 - i);
            the patch embedding gets decay^(depth + 1), the fusion and the head the full lr.
        head_channels: channels of the heatmap decoder.
        head_upsamplings: stride-2 transposed convolutions before the final resize to the
            heatmap size.
        foreground_weight: pixel weight of the heatmap MSE is 1 + foreground_weight x target
            (on top of each joint's label weight); 0 gives the plain joint-weighted MSE. Without
            it, short runs sit in the all-zero-heatmap minimum (a joint's Gaussian covers well
            under 1 % of the map).
    """

    layer_decay: float = 0.75
    head_channels: int = 64
    head_upsamplings: int = 2
    foreground_weight: float = 10.0

    def validate(self) -> None:
        super().validate()
        if not 0.0 < self.layer_decay <= 1.0:
            raise ConfigError("model.params.layer_decay must lie in (0, 1]")
        if self.head_channels < 1 or self.head_upsamplings < 0:
            raise ConfigError("model.params: head_channels >= 1, head_upsamplings >= 0")
        if self.foreground_weight < 0:
            raise ConfigError("model.params.foreground_weight must be >= 0")
