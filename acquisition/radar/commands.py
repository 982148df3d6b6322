"""Typed TI mmWave SDK CLI commands.

Each command the toolkit interprets is a frozen dataclass whose fields follow the argument order of
the SDK user's guide. Commands the toolkit only passes through (``guiMonitor``, ``cfarCfg``, ...)
are kept as :class:`RawCommand` with their tokens, so a configuration writes back unchanged.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar


def format_number(value: float | int) -> str:
    """Shortest text that reads back to the same number (``7``, ``57.14``, ``99.75``)."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


@dataclass(frozen=True)
class TypedCommand:
    """Base of the interpreted commands; ``NAME`` is the CLI keyword."""

    NAME: ClassVar[str] = ""

    def tokens(self) -> list[str]:
        return [format_number(getattr(self, f.name)) for f in dataclasses.fields(self)]

    def to_line(self) -> str:
        return " ".join([self.NAME, *self.tokens()])

    @classmethod
    def field_types(cls) -> list[tuple[str, type]]:
        hints = {"int": int, "float": float}
        return [(f.name, hints[str(f.type)]) for f in dataclasses.fields(cls)]


@dataclass(frozen=True)
class DfeDataOutputMode(TypedCommand):
    """1 = legacy frame (frameCfg), 2 = continuous wave, 3 = advanced frame."""

    NAME: ClassVar[str] = "dfeDataOutputMode"
    mode: int


@dataclass(frozen=True)
class ChannelCfg(TypedCommand):
    NAME: ClassVar[str] = "channelCfg"
    rx_mask: int
    tx_mask: int
    cascading: int

    @property
    def rx_channels(self) -> tuple[int, ...]:
        return tuple(i for i in range(4) if self.rx_mask >> i & 1)

    @property
    def tx_channels(self) -> tuple[int, ...]:
        return tuple(i for i in range(3) if self.tx_mask >> i & 1)


@dataclass(frozen=True)
class AdcCfg(TypedCommand):
    """num_adc_bits: 0 = 12, 1 = 14, 2 = 16 bit; output_fmt: 0 real, 1 complex 1x, 2 complex 2x."""

    NAME: ClassVar[str] = "adcCfg"
    num_adc_bits: int
    output_fmt: int


@dataclass(frozen=True)
class AdcBufCfg(TypedCommand):
    """output_fmt 0 complex, 1 real; sample_swap 0 I in LSB, 1 Q in LSB; chan_interleave 0 yes."""

    NAME: ClassVar[str] = "adcbufCfg"
    subframe_idx: int
    output_fmt: int
    sample_swap: int
    chan_interleave: int
    chirp_threshold: int


@dataclass(frozen=True)
class ProfileCfg(TypedCommand):
    """One chirp profile; times in microseconds, frequency in GHz, slope in MHz/us."""

    NAME: ClassVar[str] = "profileCfg"
    profile_id: int
    start_freq_ghz: float
    idle_time_us: float
    adc_start_time_us: float
    ramp_end_time_us: float
    tx_out_power: int
    tx_phase_shifter: int
    freq_slope_mhz_per_us: float
    tx_start_time_us: float
    num_adc_samples: int
    sample_rate_ksps: float
    hpf1_corner: int
    hpf2_corner: int
    rx_gain_db: int


@dataclass(frozen=True)
class ChirpCfg(TypedCommand):
    NAME: ClassVar[str] = "chirpCfg"
    start_idx: int
    end_idx: int
    profile_id: int
    start_freq_var_hz: float
    freq_slope_var_khz_per_us: float
    idle_time_var_us: float
    adc_start_time_var_us: float
    tx_mask: int

    @property
    def tx_channels(self) -> tuple[int, ...]:
        return tuple(i for i in range(3) if self.tx_mask >> i & 1)


@dataclass(frozen=True)
class FrameCfg(TypedCommand):
    """trigger_select: 1 software, 2 hardware (SYNC_IN); num_frames 0 = forever."""

    NAME: ClassVar[str] = "frameCfg"
    chirp_start_idx: int
    chirp_end_idx: int
    num_loops: int
    num_frames: int
    frame_period_ms: float
    trigger_select: int
    trigger_delay_ms: float


@dataclass(frozen=True)
class LvdsStreamCfg(TypedCommand):
    """data_fmt: 0 off, 1 ADC, 4 CP_ADC_CQ; sw_enable streams the demo's processed data."""

    NAME: ClassVar[str] = "lvdsStreamCfg"
    subframe_idx: int
    header_enable: int
    data_fmt: int
    sw_enable: int


TYPED_COMMANDS: dict[str, type[TypedCommand]] = {
    cls.NAME: cls
    for cls in (
        DfeDataOutputMode,
        ChannelCfg,
        AdcCfg,
        AdcBufCfg,
        ProfileCfg,
        ChirpCfg,
        FrameCfg,
        LvdsStreamCfg,
    )
}

# Commands of the SDK 2.x / 3.x out-of-box demos of xWR14xx, 16xx, 18xx and 68xx that the toolkit
# passes through unchanged. Anything else is kept too, with a warning.
PASS_THROUGH_COMMANDS: frozenset[str] = frozenset(
    {
        "sensorStop",
        "sensorStart",
        "flushCfg",
        "lowPower",
        "guiMonitor",
        "cfarCfg",
        "multiObjBeamForming",
        "clutterRemoval",
        "calibDcRangeSig",
        "extendedMaxVelocity",
        "bpmCfg",
        "compRangeBiasAndRxChanPhase",
        "measureRangeBiasAndRxChanPhase",
        "CQRxSatMonitor",
        "CQSigImgMonitor",
        "analogMonitor",
        "aoaFovCfg",
        "cfarFovCfg",
        "calibData",
        "nearFieldCfg",
        "advFrameCfg",
        "subFrameCfg",
        "configDataPort",
        "queryDemoStatus",
        "idlePowerDown",
        "peakGrouping",
        "rangeLimit",
        "antGeometry0",
        "antGeometry1",
        "antPhaseRot",
        "fovCfg",
        "staticBoundaryBox",
        "boundaryBox",
        "sensorPosition",
        "gatingParam",
        "stateParam",
        "allocationParam",
        "maxAcceleration",
        "trackingCfg",
        "presenceBoundaryBox",
        "dynamicRACfarCfg",
        "staticRACfarCfg",
        "dynamicRangeAngleCfg",
        "dynamic2DAngleCfg",
        "staticRangeAngleCfg",
        "fineMotionCfg",
        "clusterCfg",
        "mpdBoundaryBox",
        "mpdBoundaryArc",
        "SceneryParam",
        "GatingParam",
        "StateParam",
        "AllocationParam",
        "PointCloudEn",
        "version",
        "help",
    }
)


@dataclass(frozen=True)
class RawCommand:
    """A command kept as its tokens (not interpreted by the toolkit)."""

    name: str
    args: tuple[str, ...]

    def to_line(self) -> str:
        return " ".join([self.name, *self.args])


Command = TypedCommand | RawCommand


def command_as_dict(command: Command) -> dict[str, Any]:
    if isinstance(command, RawCommand):
        return {"command": command.name, "args": list(command.args)}
    return {"command": command.NAME, **dataclasses.asdict(command)}
