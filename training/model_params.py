"""Per-model parameter dataclasses (torch-free, so configs validate without importing torch).

Defaults are the paper settings where the paper gives them (REFERENCE.md section 1) and
documented choices elsewhere (``docs/training.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from training.config import ConfigError, RunConfig, dataclass_from_dict
from training.maepose.params import MaeposeParams, MaeposePretrainParams


@dataclass
class HuprParams:
    """HuPR (CSAM + PRGCN).

    Attributes:
        channels: encoder channels per scale (one scale per entry; spatial /2 after the first).
        mnet_channels: channels out of MNet's Doppler (velocity) fusion.
        temporal_strides: temporal stride entering each scale (product = frames collapsed).
        attention_heads: heads of the cross-/self-attention module at each scale.
        attention_tokens: side of the pooled key/value grid of the attention (cost bound).
        gcn_layers: PRGCN graph convolution layers.
        gcn_features: node feature size of PRGCN (a joint's heatmap embedded at 1/4 size).
        alpha: weight of the refined-heatmap BCE (loss = BCE(initial) + alpha BCE(refined)).
    """

    channels: list[int] = field(default_factory=lambda: [32, 64, 128, 256])
    mnet_channels: int = 32
    temporal_strides: list[int] = field(default_factory=lambda: [1, 2, 2, 2])
    attention_heads: int = 4
    attention_tokens: int = 16
    gcn_layers: int = 2
    gcn_features: int = 256
    alpha: float = 1.0

    def validate(self) -> None:
        if len(self.channels) != len(self.temporal_strides) or not self.channels:
            raise ConfigError("model.params: channels and temporal_strides need equal length")
        if any(c % self.attention_heads for c in self.channels):
            raise ConfigError("model.params: every channel count must divide by attention_heads")
        if self.alpha < 0 or self.gcn_layers < 0:
            raise ConfigError("model.params: alpha and gcn_layers must be >= 0")


@dataclass
class MilliMambaParams:
    """milliMamba (cross-view fusion Mamba encoder + spatio-temporal cross-attention decoder).

    Attributes:
        dim: token width D.
        stem_channels: per-frame convolutional stem channels (one stride-2 conv per entry).
        tokens_per_frame: side of the per-frame, per-radar token grid (S = side^2 tokens).
        encoder_layers: bidirectional Mamba blocks.
        d_state: SSM state size N.
        d_conv: depthwise causal convolution width.
        expand: inner width factor (D_inner = expand * D).
        decoder_layers: spatio-temporal cross-attention decoder layers.
        decoder_heads: attention heads of the decoder.
        velocity_weight: weight of the velocity (frame-difference) loss.
        use_cuda_kernels: use ``mamba_ssm`` kernels when importable and on CUDA.
    """

    dim: int = 128
    stem_channels: list[int] = field(default_factory=lambda: [32, 64, 128])
    tokens_per_frame: int = 4
    encoder_layers: int = 4
    d_state: int = 16
    d_conv: int = 4
    expand: int = 2
    decoder_layers: int = 3
    decoder_heads: int = 4
    velocity_weight: float = 1.0
    use_cuda_kernels: bool = True

    def validate(self) -> None:
        if self.dim % self.decoder_heads:
            raise ConfigError("model.params: dim must divide by decoder_heads")
        if min(self.dim, self.d_state, self.d_conv, self.expand, self.tokens_per_frame) < 1:
            raise ConfigError("model.params: sizes must be >= 1")
        if self.velocity_weight < 0:
            raise ConfigError("model.params: velocity_weight must be >= 0")


@dataclass(frozen=True)
class ModelEntry:
    """A trainable model known to the configs, the trainer and the commands.

    Attributes:
        params: its parameter dataclass (with ``validate()``), torch-free.
        builder: ``"module:function"``, imported when the model is built; the function takes
            ``(cfg, params, input_shape, num_joints)`` and returns a ``PoseModel``.
        heatmaps: its items need Gaussian heatmap targets.
    """

    params: type[Any]
    builder: str
    heatmaps: bool


MODELS: dict[str, ModelEntry] = {
    "hupr": ModelEntry(HuprParams, "training.models.hupr:build_hupr", heatmaps=True),
    "millimamba": ModelEntry(
        MilliMambaParams, "training.models.millimamba:build_millimamba", heatmaps=False
    ),
    # MAEPose trains through training.maepose.trainer.MaeposeTrainer (its own clips).
    "maepose-pretrain": ModelEntry(
        MaeposePretrainParams, "training.models.maepose:build_maepose_pretrain", heatmaps=False
    ),
    "maepose": ModelEntry(MaeposeParams, "training.models.maepose:build_maepose", heatmaps=False),
}
PARAMS: dict[str, type[Any]] = {name: entry.params for name, entry in MODELS.items()}


def register_model(name: str, entry: ModelEntry) -> None:
    """Make a model trainable by name (``train --model NAME``, configs, checkpoints); call it
    from the module that defines the params (imported by ``training.model_params`` users)."""
    MODELS[name] = entry
    PARAMS[name] = entry.params


def model_params(cfg: RunConfig) -> Any:
    """The validated params dataclass of ``cfg.model``."""
    if cfg.model.name not in MODELS:
        raise ConfigError(f"model.name {cfg.model.name!r} unknown; known: {', '.join(MODELS)}")
    cls = MODELS[cfg.model.name].params
    params = dataclass_from_dict(cls, cfg.model.params, prefix="model.params.")
    params.validate()
    return params
