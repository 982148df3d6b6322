"""TI DCA1000EVM capture card: wire protocol, config-port driver, data receiver, emulator and
capture-file decoding (see docs/dca1000.md)."""

from acquisition.dca1000.control import AsyncStatus, DCA1000Control
from acquisition.dca1000.emulator import DCA1000Emulator, FaultConfig, InjectionStats
from acquisition.dca1000.protocol import (
    Command,
    EepromConfig,
    FpgaConfig,
    FpgaVersion,
    PacketConfig,
    ProtocolError,
)
from acquisition.dca1000.receiver import (
    AssemblyStats,
    DCA1000Receiver,
    FrameAssembler,
    RawFrame,
    ReceiverStats,
)

__all__ = [
    "AssemblyStats",
    "AsyncStatus",
    "Command",
    "DCA1000Control",
    "DCA1000Emulator",
    "DCA1000Receiver",
    "EepromConfig",
    "FaultConfig",
    "FpgaConfig",
    "FpgaVersion",
    "FrameAssembler",
    "InjectionStats",
    "PacketConfig",
    "ProtocolError",
    "RawFrame",
    "ReceiverStats",
]
