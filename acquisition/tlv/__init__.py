"""TI mmWave SDK out-of-box demo data-UART output (TLV point clouds): incremental parser and
encoder, a serial reader thread, and a pseudo-terminal emulator."""

from acquisition.tlv.driver import TlvDataPort, TlvPortStats
from acquisition.tlv.emulator import TlvUartEmulator, walking_person
from acquisition.tlv.parser import (
    MAGIC,
    POINT_COLUMNS,
    XWR14XX,
    XWR18XX,
    BadPacket,
    FrameHeader,
    FrameStats,
    RawTlv,
    TemperatureReport,
    TlvFormat,
    TlvFrame,
    TlvStreamParser,
    TlvType,
    build_frame,
    decode_packet,
    encode_frame,
    encode_packet,
)

__all__ = [
    "MAGIC",
    "POINT_COLUMNS",
    "XWR14XX",
    "XWR18XX",
    "BadPacket",
    "FrameHeader",
    "FrameStats",
    "RawTlv",
    "TemperatureReport",
    "TlvDataPort",
    "TlvFormat",
    "TlvFrame",
    "TlvPortStats",
    "TlvStreamParser",
    "TlvType",
    "TlvUartEmulator",
    "build_frame",
    "decode_packet",
    "encode_frame",
    "encode_packet",
    "walking_person",
]
