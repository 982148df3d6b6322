"""TI mmWave SDK CLI configuration files (``.cfg``): parse, validate, derive, write back.

A ``.cfg`` is a list of CLI lines: ``%`` comments and ``command arg arg ...``. Parsing keeps every
line (comments and commands the toolkit does not interpret too), so ``RadarConfig.to_text()``
writes an equivalent file. Errors name the file, the line number and the reason::

    cfg = load_radar_config("sensor_configs/hupr_horizontal.cfg")
    params = cfg.params()            # RadarParams: frame geometry in SI units
    for issue in cfg.validate(trigger_period_s=0.1):
        print(issue)
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from acquisition.radar.boards import BoardGeometry, board_geometry
from acquisition.radar.commands import (
    PASS_THROUGH_COMMANDS,
    TYPED_COMMANDS,
    AdcCfg,
    ChannelCfg,
    ChirpCfg,
    Command,
    DfeDataOutputMode,
    FrameCfg,
    LvdsStreamCfg,
    ProfileCfg,
    RawCommand,
    TypedCommand,
)
from acquisition.radar.params import RadarParams

# DCA1000EVM: gigabit Ethernet, 1456-byte payloads in 1466-byte UDP datagrams (+ 42 bytes of
# Ethernet/IP/UDP headers and 20 of preamble/gap on the wire).
DCA1000_PAYLOAD_MBPS = 1000.0 * 1456 / (1466 + 42 + 20)
# LVDS capacity of the xWR18xx/68xx: 2 lanes at 600 Mbit/s each (DDR, 300 MHz clock).
LVDS_LANE_MBPS = 600.0
LVDS_LANES = {"xwr18xx": 2, "xwr68xx": 2, "xwr16xx": 2, "xwr14xx": 4}

Severity = Literal["error", "warning"]
T = TypeVar("T", bound=TypedCommand)
C = TypeVar("C", bound=TypedCommand | RawCommand)


class RadarConfigError(ValueError):
    """A ``.cfg`` that cannot be parsed or used; ``str()`` reads ``file:line: reason``."""

    def __init__(self, source: str, line: int | None, reason: str) -> None:
        self.source = source
        self.line = line
        self.reason = reason
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class ConfigIssue:
    """One validation finding."""

    severity: Severity
    source: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        return f"{where}: {self.severity}: {self.message}"


@dataclass(frozen=True)
class CfgLine:
    """One line of a ``.cfg``: a comment (``command is None``), a command, or blank."""

    number: int
    text: str
    command: Command | None


_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _convert(token: str, kind: type, source: str, line: int, command: str, field: str) -> Any:
    if not _NUMBER.match(token):
        raise RadarConfigError(
            source, line, f"{command}: field {field!r} must be a number, got {token!r}"
        )
    if kind is int:
        value = float(token)
        if not value.is_integer():
            raise RadarConfigError(
                source, line, f"{command}: field {field!r} must be an integer, got {token!r}"
            )
        return int(value)
    return float(token)


def parse_command(text: str, *, source: str = "<cfg>", line: int = 0) -> Command:
    """Parse one CLI command line (no comment) into a typed or raw command."""
    tokens = text.split()
    name, args = tokens[0], tokens[1:]
    cls = TYPED_COMMANDS.get(name)
    if cls is None:
        return RawCommand(name, tuple(args))
    fields = cls.field_types()
    if len(args) != len(fields):
        names = " ".join(f for f, _ in fields)
        raise RadarConfigError(
            source,
            line,
            f"{name} takes {len(fields)} arguments ({names}), got {len(args)}: {text.strip()!r}",
        )
    values = {
        field: _convert(token, kind, source, line, name, field)
        for (field, kind), token in zip(fields, args, strict=True)
    }
    return cls(**values)


def parse_radar_config(text: str, *, source: str = "<cfg>") -> RadarConfig:
    """Parse the text of a ``.cfg``; raises :class:`RadarConfigError` naming the bad line."""
    lines: list[CfgLine] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("%"):
            lines.append(CfgLine(number, raw.rstrip(), None))
            continue
        body = stripped.split("%", 1)[0].strip()
        lines.append(CfgLine(number, raw.rstrip(), parse_command(body, source=source, line=number)))
    config = RadarConfig(source=source, lines=tuple(lines))
    config.check_structure()
    return config


def load_radar_config(path: str | Path) -> RadarConfig:
    """Read and parse a ``.cfg`` file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        reason = f"cannot read radar config: {exc.strerror}"
        raise RadarConfigError(str(path), None, reason) from exc
    return parse_radar_config(text, source=str(path))


@dataclass(frozen=True)
class RadarConfig:
    """A parsed ``.cfg``: every line in order, with typed access to the interpreted commands."""

    source: str
    lines: tuple[CfgLine, ...]

    # --- access ---------------------------------------------------------------------------------
    def commands(self) -> list[tuple[int, Command]]:
        """(line number, command) for every command line, in file order."""
        return [(ln.number, ln.command) for ln in self.lines if ln.command is not None]

    def find_all(self, kind: type[C]) -> list[tuple[int, C]]:
        return [(n, c) for n, c in self.commands() if isinstance(c, kind)]

    def find(self, kind: type[C]) -> tuple[int, C] | None:
        """The last occurrence of a command (the one the firmware ends up using)."""
        found = self.find_all(kind)
        return found[-1] if found else None

    def require(self, kind: type[T]) -> tuple[int, T]:
        found = self.find(kind)
        if found is None:
            raise RadarConfigError(self.source, None, f"missing required command {kind.NAME}")
        return found

    def raw_commands(self, name: str) -> list[tuple[int, RawCommand]]:
        return [(n, c) for n, c in self.find_all(RawCommand) if c.name == name]

    @property
    def channel(self) -> ChannelCfg:
        return self.require(ChannelCfg)[1]

    @property
    def adc(self) -> AdcCfg:
        return self.require(AdcCfg)[1]

    @property
    def frame(self) -> FrameCfg:
        return self.require(FrameCfg)[1]

    @property
    def profiles(self) -> dict[int, ProfileCfg]:
        return {p.profile_id: p for _, p in self.find_all(ProfileCfg)}

    @property
    def chirps(self) -> list[ChirpCfg]:
        return [c for _, c in self.find_all(ChirpCfg)]

    @property
    def lvds(self) -> LvdsStreamCfg | None:
        found = self.find(LvdsStreamCfg)
        return found[1] if found else None

    @property
    def hardware_triggered(self) -> bool:
        return self.frame.trigger_select == 2

    @property
    def streams_raw_adc(self) -> bool:
        """True when lvdsStreamCfg sends raw ADC samples to a capture card."""
        lvds = self.lvds
        return lvds is not None and lvds.data_fmt in (1, 4)

    @property
    def platform_hint(self) -> str | None:
        """``xWR18xx``-style platform from the visualizer header comment, if present."""
        for ln in self.lines:
            if ln.command is None:
                m = re.search(r"Platform\s*:\s*(x\w+)", ln.text, re.IGNORECASE)
                if m:
                    return m.group(1)
        return None

    def default_board(self) -> BoardGeometry:
        """Board guessed from the header comment, else from the start frequency."""
        hint = (self.platform_hint or "").lower()
        if "68" in hint:
            return board_geometry("IWR6843ISK")
        if "16" in hint:
            return board_geometry("IWR1642BOOST")
        if "14" in hint:
            return board_geometry("IWR1443BOOST")
        if "18" in hint:
            return board_geometry("IWR1843BOOST")
        profiles = self.profiles
        if profiles and next(iter(profiles.values())).start_freq_ghz < 70:
            return board_geometry("IWR6843ISK")
        return board_geometry("IWR1843BOOST")

    # --- structure --------------------------------------------------------------------------------
    def check_structure(self) -> None:
        """Errors that make the file unusable, raised at parse time with their line."""
        mode = self.find(DfeDataOutputMode)
        if mode is not None and mode[1].mode not in (1, 2, 3):
            raise RadarConfigError(
                self.source, mode[0], f"dfeDataOutputMode must be 1, 2 or 3, got {mode[1].mode}"
            )
        for n, chirp in self.find_all(ChirpCfg):
            if chirp.end_idx < chirp.start_idx:
                raise RadarConfigError(
                    self.source,
                    n,
                    f"chirpCfg end index {chirp.end_idx} < start index {chirp.start_idx}",
                )
            if chirp.tx_mask <= 0 or chirp.tx_mask > 7:
                raise RadarConfigError(
                    self.source, n, f"chirpCfg tx mask must be 1..7, got {chirp.tx_mask}"
                )
        found = self.find(FrameCfg)
        if found is not None:
            n, frame = found
            if frame.chirp_end_idx < frame.chirp_start_idx:
                raise RadarConfigError(
                    self.source, n, "frameCfg chirp end index is before its start index"
                )
            if frame.num_loops < 1 or frame.num_loops > 255:
                raise RadarConfigError(
                    self.source, n, f"frameCfg loops must be 1..255, got {frame.num_loops}"
                )
            if frame.trigger_select not in (1, 2):
                raise RadarConfigError(
                    self.source,
                    n,
                    f"frameCfg trigger select must be 1 (software) or 2 (hardware), "
                    f"got {frame.trigger_select}",
                )

    def chirp_sequence(self) -> list[tuple[int, int, ChirpCfg]]:
        """(chirp index, line, chirpCfg) for every chirp of the frame's loop, in order."""
        n_frame, frame = self.require(FrameCfg)
        chirps = self.find_all(ChirpCfg)
        sequence = []
        for idx in range(frame.chirp_start_idx, frame.chirp_end_idx + 1):
            covering = [(n, c) for n, c in chirps if c.start_idx <= idx <= c.end_idx]
            if not covering:
                raise RadarConfigError(
                    self.source,
                    n_frame,
                    f"frameCfg uses chirp index {idx} but no chirpCfg defines it",
                )
            n, chirp = covering[-1]
            sequence.append((idx, n, chirp))
        return sequence

    # --- derived --------------------------------------------------------------------------------
    def params(self, board: str | BoardGeometry | None = None) -> RadarParams:
        """Frame geometry of a legacy-frame (``frameCfg``) configuration.

        Raises :class:`RadarConfigError` for advanced-frame configurations, chirps that use more
        than one profile, chirps that drive several TX at once, or missing commands.
        """
        geometry = (
            board
            if isinstance(board, BoardGeometry)
            else (board_geometry(board) if board else self.default_board())
        )
        mode = self.find(DfeDataOutputMode)
        if mode is not None and mode[1].mode != 1:
            raise RadarConfigError(
                self.source,
                mode[0],
                f"dfeDataOutputMode {mode[1].mode}: only legacy frames (mode 1) have derived "
                "parameters here",
            )
        _, frame = self.require(FrameCfg)
        sequence = self.chirp_sequence()
        profile_ids = {c.profile_id for _, _, c in sequence}
        profiles = self.profiles
        for _, n, chirp in sequence:
            if chirp.profile_id not in profiles:
                raise RadarConfigError(
                    self.source, n, f"chirpCfg uses profile {chirp.profile_id}, not defined"
                )
        if len(profile_ids) != 1:
            raise RadarConfigError(
                self.source, None, f"frame mixes chirp profiles {sorted(profile_ids)}"
            )
        profile = profiles[profile_ids.pop()]
        tx_order = []
        for _, n, chirp in sequence:
            if len(chirp.tx_channels) != 1:
                raise RadarConfigError(
                    self.source,
                    n,
                    f"chirpCfg tx mask {chirp.tx_mask} drives several TX at once (BPM or "
                    "beamforming); only TDM chirps have a virtual array here",
                )
            tx_order.append(chirp.tx_channels[0])
        rx = self.channel.rx_channels
        if not rx:
            raise RadarConfigError(self.source, self.require(ChannelCfg)[0], "no RX enabled")
        return RadarParams(
            start_freq_hz=profile.start_freq_ghz * 1e9,
            slope_hz_per_s=profile.freq_slope_mhz_per_us * 1e12,
            idle_time_s=profile.idle_time_us * 1e-6,
            adc_start_time_s=profile.adc_start_time_us * 1e-6,
            ramp_end_time_s=profile.ramp_end_time_us * 1e-6,
            num_samples=profile.num_adc_samples,
            sample_rate_hz=profile.sample_rate_ksps * 1e3,
            tx_order=tuple(tx_order),
            rx_channels=rx,
            num_loops=frame.num_loops,
            frame_period_s=frame.frame_period_ms * 1e-3,
            complex_samples=self.adc.output_fmt != 0,
            board=geometry,
        )

    def derived(self, board: str | BoardGeometry | None = None) -> dict[str, Any]:
        """Derived figures as a flat JSON-ready dict (units in the key names)."""
        p = self.params(board)
        return {
            "board": p.board.name,
            "num_tx": p.num_tx,
            "num_rx": p.num_rx,
            "num_virtual_antennas": p.num_virtual_antennas,
            "tx_order": list(p.tx_order),
            "chirps_per_loop": p.chirps_per_loop,
            "num_loops": p.num_loops,
            "chirps_per_frame": p.chirps_per_frame,
            "num_samples": p.num_samples,
            "complex_samples": p.complex_samples,
            "start_freq_ghz": p.start_freq_hz / 1e9,
            "slope_mhz_per_us": p.slope_hz_per_s / 1e12,
            "sample_rate_ksps": p.sample_rate_hz / 1e3,
            "adc_sampling_time_us": p.adc_sampling_time_s * 1e6,
            "ramp_end_time_us": p.ramp_end_time_s * 1e6,
            "chirp_period_us": p.chirp_period_s * 1e6,
            "bandwidth_mhz": p.bandwidth_hz / 1e6,
            "ramp_bandwidth_mhz": p.ramp_bandwidth_hz / 1e6,
            "center_freq_ghz": p.center_freq_hz / 1e9,
            "range_resolution_m": p.range_resolution_m,
            "max_range_m": p.max_range_m,
            "velocity_resolution_mps": p.velocity_resolution_mps,
            "max_velocity_mps": p.max_velocity_mps,
            "frame_period_ms": p.frame_period_s * 1e3,
            "active_frame_time_ms": p.active_frame_time_s * 1e3,
            "duty_cycle": p.duty_cycle,
            "frame_rate_hz": 1.0 / p.frame_period_s,
            "hardware_trigger": self.hardware_triggered,
            "raw_adc_over_lvds": self.streams_raw_adc,
            "bytes_per_frame": p.bytes_per_frame,
            "data_rate_mbps": p.data_rate_mbps,
            "burst_data_rate_mbps": p.burst_data_rate_mbps,
        }

    # --- validation -------------------------------------------------------------------------------
    def validate(
        self,
        board: str | BoardGeometry | None = None,
        *,
        trigger_period_s: float | None = None,
    ) -> list[ConfigIssue]:
        """Everything wrong with this configuration for a board, most severe first.

        Args:
            board: board name or geometry; guessed from the file when omitted.
            trigger_period_s: period of the external trigger when frames are hardware triggered.
        """
        issues: list[ConfigIssue] = []

        def error(line: int | None, message: str) -> None:
            issues.append(ConfigIssue("error", self.source, line, message))

        def warn(line: int | None, message: str) -> None:
            issues.append(ConfigIssue("warning", self.source, line, message))

        for name in ("channelCfg", "adcCfg", "profileCfg", "chirpCfg", "frameCfg"):
            if (
                not any(isinstance(c, TYPED_COMMANDS[name]) for _, c in self.commands())
                and not self._advanced_frame()
            ):
                error(None, f"missing required command {name}")
        for n, command in self.commands():
            if isinstance(command, RawCommand) and command.name not in PASS_THROUGH_COMMANDS:
                warn(n, f"unknown command {command.name!r} (kept and written back unchanged)")
        if self._advanced_frame():
            warn(None, "advanced frame configuration (dfeDataOutputMode 3): checks limited")
        if any(i.severity == "error" for i in issues) or self._advanced_frame():
            return _sorted(issues)

        geometry = (
            board
            if isinstance(board, BoardGeometry)
            else (board_geometry(board) if board else self.default_board())
        )
        n_channel, channel = self.require(ChannelCfg)
        if any(rx >= geometry.num_rx for rx in channel.rx_channels):
            error(n_channel, f"rx mask {channel.rx_mask} enables RX the {geometry.name} lacks")
        if any(tx >= geometry.num_tx for tx in channel.tx_channels):
            error(n_channel, f"tx mask {channel.tx_mask} enables TX the {geometry.name} lacks")
        for n, chirp in self.find_all(ChirpCfg):
            if chirp.tx_mask & ~channel.tx_mask:
                error(
                    n,
                    f"chirpCfg {chirp.start_idx}-{chirp.end_idx} uses tx mask {chirp.tx_mask}, "
                    f"not enabled by channelCfg tx mask {channel.tx_mask} (line {n_channel})",
                )
        for n, profile in self.find_all(ProfileCfg):
            sampling_us = profile.num_adc_samples / profile.sample_rate_ksps * 1e3
            end_us = profile.adc_start_time_us + sampling_us
            if end_us > profile.ramp_end_time_us:
                error(
                    n,
                    f"ADC sampling does not fit in the ramp: ADC start "
                    f"{profile.adc_start_time_us} us + {profile.num_adc_samples} samples / "
                    f"{profile.sample_rate_ksps} ksps = {end_us:.2f} us > ramp end "
                    f"{profile.ramp_end_time_us} us",
                )
            if profile.sample_rate_ksps > geometry.max_sample_rate_ksps:
                error(
                    n,
                    f"sample rate {profile.sample_rate_ksps} ksps exceeds the "
                    f"{geometry.chip_family} limit of {geometry.max_sample_rate_ksps} ksps",
                )
            low, high = geometry.freq_range_ghz
            sampled_end_ghz = profile.start_freq_ghz + profile.freq_slope_mhz_per_us * end_us / 1e3
            ramp_end_ghz = (
                profile.start_freq_ghz
                + profile.freq_slope_mhz_per_us * profile.ramp_end_time_us / 1e3
            )
            if not (low <= profile.start_freq_ghz <= high and low <= sampled_end_ghz <= high):
                error(
                    n,
                    f"sampled chirp {profile.start_freq_ghz:.3f}-{sampled_end_ghz:.3f} GHz leaves "
                    f"the {geometry.chip_family} band {low}-{high} GHz",
                )
            elif ramp_end_ghz > high:
                # HuPR's published profile (60.012 MHz/us for 72 us from 77 GHz) does this: the
                # samples stay in band, only the unsampled ramp tail goes past it.
                warn(
                    n,
                    f"ramp ends at {ramp_end_ghz:.3f} GHz, past the {high} GHz band edge, after "
                    "the ADC window; shorten the ramp end time if the firmware rejects it",
                )
            sweep_hz = profile.freq_slope_mhz_per_us * end_us * 1e6
            if sweep_hz > geometry.max_bandwidth_hz * 1.0001:
                error(n, f"sampled sweep {sweep_hz / 1e6:.1f} MHz is over the 4000 MHz maximum")
            if profile.idle_time_us < 2.0:
                warn(n, f"idle time {profile.idle_time_us} us is below the usual 2 us minimum")
        try:
            params = self.params(geometry)
        except RadarConfigError as exc:
            error(exc.line, exc.reason)
            return _sorted(issues)

        n_frame, frame = self.require(FrameCfg)
        if params.active_frame_time_s > params.frame_period_s:
            error(
                n_frame,
                f"frame period {frame.frame_period_ms} ms is shorter than the active frame "
                f"{params.active_frame_time_s * 1e3:.3f} ms ({params.chirps_per_frame} chirps x "
                f"{params.chirp_period_s * 1e6:.2f} us)",
            )
        if self.hardware_triggered and trigger_period_s is not None:
            if params.frame_period_s >= trigger_period_s:
                error(
                    n_frame,
                    f"hardware-triggered frame period {frame.frame_period_ms} ms must be shorter "
                    f"than the trigger period {trigger_period_s * 1e3:g} ms, or pulses are missed",
                )
        if self.streams_raw_adc:
            lanes = LVDS_LANES.get(geometry.chip_family, 2)
            lvds_mbps = lanes * LVDS_LANE_MBPS
            if params.burst_data_rate_mbps > lvds_mbps:
                error(
                    n_frame,
                    f"raw data rate while chirping {params.burst_data_rate_mbps:.0f} Mbit/s "
                    f"exceeds the {lanes}-lane LVDS capacity of {lvds_mbps:.0f} Mbit/s",
                )
            if params.data_rate_mbps > DCA1000_PAYLOAD_MBPS:
                error(
                    n_frame,
                    f"average raw data rate {params.data_rate_mbps:.0f} Mbit/s exceeds what the "
                    f"DCA1000 can carry over gigabit Ethernet ({DCA1000_PAYLOAD_MBPS:.0f} Mbit/s)",
                )
        starts = [c for _, c in self.commands() if isinstance(c, RawCommand)]
        names = [c.name for c in starts]
        if "sensorStart" in names and names[-1] != "sensorStart":
            warn(None, "sensorStart is not the last command: later lines are applied after start")
        return _sorted(issues)

    def _advanced_frame(self) -> bool:
        mode = self.find(DfeDataOutputMode)
        return mode is not None and mode[1].mode == 3

    # --- writing ----------------------------------------------------------------------------------
    def to_text(self) -> str:
        """The configuration as ``.cfg`` text; comments kept, commands normalised."""
        out = []
        for ln in self.lines:
            out.append(ln.text if ln.command is None else ln.command.to_line())
        return "\n".join(out) + "\n"

    def replace(self, *commands: TypedCommand) -> RadarConfig:
        """A copy with the last occurrence of each given command kind replaced (or appended
        before ``sensorStart``)."""
        lines = list(self.lines)
        for new in commands:
            indexes = [i for i, ln in enumerate(lines) if isinstance(ln.command, type(new))]
            if type(new) in (ChirpCfg, ProfileCfg):
                key = "start_idx" if isinstance(new, ChirpCfg) else "profile_id"
                indexes = [
                    i for i in indexes if getattr(lines[i].command, key) == getattr(new, key)
                ]
            if indexes:
                i = indexes[-1]
                lines[i] = dataclasses.replace(lines[i], command=new, text=new.to_line())
            else:
                start = [
                    i
                    for i, ln in enumerate(lines)
                    if isinstance(ln.command, RawCommand) and ln.command.name == "sensorStart"
                ]
                at = start[-1] if start else len(lines)
                lines.insert(at, CfgLine(0, new.to_line(), new))
        return RadarConfig(self.source, tuple(lines))


def _sorted(issues: Sequence[ConfigIssue]) -> list[ConfigIssue]:
    return sorted(issues, key=lambda i: (i.severity != "error", i.line or 0))
