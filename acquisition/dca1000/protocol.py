"""DCA1000EVM wire protocol: command packets, replies and data-packet headers (pure functions).

Command packet (config port, little-endian)::

    u16 0xA55A | u16 command | u16 data size | data (<= 504 bytes) | u16 0xEEAA

Reply (8 bytes)::

    u16 0xA55A | u16 command | u16 status (0 = success) | u16 0xEEAA

The card also sends unsolicited "async status" messages (command 0x0A) in the reply format.

Data packet (data port)::

    u32 sequence number (1 for the first packet of a recording)
    u48 byte count: payload bytes sent in this recording BEFORE this packet
    payload (<= 1456 bytes)

Frame boundaries follow from the byte counts only (frame ``k`` occupies stream bytes
``[k * bytes_per_frame, (k + 1) * bytes_per_frame)``); a packet may straddle two frames.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

HEADER_MAGIC = 0xA55A
FOOTER_MAGIC = 0xEEAA
MAX_COMMAND_DATA_BYTES = 504
REPLY_BYTES = 8

DEFAULT_BOARD_IP = "192.168.33.180"
DEFAULT_HOST_IP = "192.168.33.30"
CONFIG_PORT = 4096
DATA_PORT = 4098

DATA_HEADER_BYTES = 10  # u32 sequence + u48 byte count
MAX_PAYLOAD_BYTES = 1456
MAX_DATA_PACKET_BYTES = DATA_HEADER_BYTES + MAX_PAYLOAD_BYTES  # 1466
# Largest UDP payload in one 1500-byte Ethernet MTU; the value TI's tools write into the
# packet-size field of the packet-config command (0x05C0).
MAX_UDP_PAYLOAD_BYTES = 1472
FPGA_TICK_NS = 8  # packet delay unit

_CMD_HEAD = struct.Struct("<HHH")
_U16 = struct.Struct("<H")
_REPLY = struct.Struct("<HHHH")
_DATA_HEAD = struct.Struct("<IIH")  # u32 seq, u48 split as u32 low + u16 high


class Command(enum.IntEnum):
    """Command codes of the DCA1000EVM config port."""

    RESET_FPGA = 0x01
    RESET_RADAR = 0x02
    CONFIG_FPGA = 0x03
    CONFIG_EEPROM = 0x04
    RECORD_START = 0x05
    RECORD_STOP = 0x06
    SYSTEM_CONNECT = 0x09
    ASYNC_STATUS = 0x0A
    CONFIG_PACKET = 0x0B
    READ_FPGA_VERSION = 0x0E


class ProtocolError(ValueError):
    """Bytes that are not a valid DCA1000 packet; the message says which field is wrong."""


def command_name(code: int) -> str:
    """``"RECORD_START (0x05)"`` for a known code, ``"0x2A"`` otherwise."""
    try:
        return f"{Command(code).name} (0x{code:02X})"
    except ValueError:
        return f"0x{code:02X}"


# --- commands -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class CommandPacket:
    """A decoded command: code and data bytes."""

    command: int
    data: bytes = b""


def encode_command(command: int, data: bytes = b"") -> bytes:
    """Build one command packet (``6 + len(data) + 2`` bytes)."""
    if not 0 <= command <= 0xFFFF:
        raise ValueError(f"command code {command} does not fit in u16")
    if len(data) > MAX_COMMAND_DATA_BYTES:
        raise ValueError(f"command data is {len(data)} bytes; at most {MAX_COMMAND_DATA_BYTES}")
    return _CMD_HEAD.pack(HEADER_MAGIC, command, len(data)) + bytes(data) + _U16.pack(FOOTER_MAGIC)


def decode_command(packet: bytes) -> CommandPacket:
    """Parse a command packet (what the card receives). Raises ``ProtocolError``."""
    if len(packet) < 8:
        raise ProtocolError(f"command packet is {len(packet)} bytes; at least 8 expected")
    magic, command, size = _CMD_HEAD.unpack_from(packet)
    if magic != HEADER_MAGIC:
        raise ProtocolError(f"command header 0x{magic:04X}; expected 0x{HEADER_MAGIC:04X}")
    if len(packet) != 8 + size:
        raise ProtocolError(
            f"command {command_name(command)} announces {size} data bytes but the packet "
            f"carries {len(packet) - 8}"
        )
    (footer,) = _U16.unpack_from(packet, 6 + size)
    if footer != FOOTER_MAGIC:
        raise ProtocolError(f"command footer 0x{footer:04X}; expected 0x{FOOTER_MAGIC:04X}")
    return CommandPacket(command, bytes(packet[6 : 6 + size]))


# --- replies ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Reply:
    """A reply or an async status message: ``status`` 0 means success for plain commands; for
    READ_FPGA_VERSION it carries the version bits, for ASYNC_STATUS the card's event code."""

    command: int
    status: int

    @property
    def is_async_status(self) -> bool:
        return self.command == Command.ASYNC_STATUS


def encode_reply(command: int, status: int) -> bytes:
    """Build an 8-byte reply (what the card sends)."""
    return _REPLY.pack(HEADER_MAGIC, command, status, FOOTER_MAGIC)


def decode_reply(packet: bytes) -> Reply:
    """Parse an 8-byte reply. Raises ``ProtocolError`` on bad length, header or footer."""
    if len(packet) != REPLY_BYTES:
        raise ProtocolError(f"reply is {len(packet)} bytes; expected {REPLY_BYTES}")
    magic, command, status, footer = _REPLY.unpack(packet)
    if magic != HEADER_MAGIC:
        raise ProtocolError(f"reply header 0x{magic:04X}; expected 0x{HEADER_MAGIC:04X}")
    if footer != FOOTER_MAGIC:
        raise ProtocolError(f"reply footer 0x{footer:04X}; expected 0x{FOOTER_MAGIC:04X}")
    return Reply(command, status)


# --- command payloads ---------------------------------------------------------------------------
@dataclass(frozen=True)
class FpgaConfig:
    """The 6-byte payload of CONFIG_FPGA (0x03), as wire codes.

    Attributes:
        log_mode: 1 raw, 2 multi (data-separated) mode.
        lvds_mode: 1 = four LVDS lanes, 2 = two lanes (xWR18xx/68xx/16xx use two).
        transfer_mode: 1 LVDS capture, 2 playback.
        capture_mode: 1 SD card, 2 Ethernet streaming.
        data_format: 1 12-bit, 2 14-bit, 3 16-bit samples.
        timer_s: capture timeout of the FPGA in seconds (TI's tools send 30).
    """

    log_mode: int = 1
    lvds_mode: int = 2
    transfer_mode: int = 1
    capture_mode: int = 2
    data_format: int = 3
    timer_s: int = 30

    @classmethod
    def for_lanes(cls, lanes: int, **kwargs: Any) -> FpgaConfig:
        """Config for a lane count (2 or 4); other fields from ``kwargs`` or the defaults."""
        if lanes not in (2, 4):
            raise ValueError(f"LVDS lanes must be 2 or 4, got {lanes}")
        return cls(lvds_mode=1 if lanes == 4 else 2, **kwargs)

    @property
    def lanes(self) -> int:
        return 4 if self.lvds_mode == 1 else 2

    def to_bytes(self) -> bytes:
        fields = (
            self.log_mode,
            self.lvds_mode,
            self.transfer_mode,
            self.capture_mode,
            self.data_format,
            self.timer_s,
        )
        for value in fields:
            if not 0 <= value <= 0xFF:
                raise ValueError(f"FPGA config field {value} does not fit in one byte")
        return bytes(fields)

    @classmethod
    def from_bytes(cls, data: bytes) -> FpgaConfig:
        if len(data) != 6:
            raise ProtocolError(f"FPGA config is {len(data)} bytes; expected 6")
        return cls(*data)


def packet_delay_ticks(delay_us: float) -> int:
    """Inter-packet delay in 8 ns FPGA ticks, as TI's tool writes it (25 us -> 3125)."""
    ticks = round(delay_us * 1000.0 / FPGA_TICK_NS)
    if not 0 <= ticks <= 0xFFFF:
        raise ValueError(f"packet delay {delay_us} us is {ticks} ticks; must fit in u16")
    return ticks


@dataclass(frozen=True)
class PacketConfig:
    """The 6-byte payload of CONFIG_PACKET (0x0B): u16 packet size | u16 delay ticks | u16 0.

    Attributes:
        packet_size: value of the packet-size field in bytes (TI's tools send 1472).
        delay_ticks: inter-packet delay in 8 ns FPGA ticks.
    """

    packet_size: int = MAX_UDP_PAYLOAD_BYTES
    delay_ticks: int = 3125

    @classmethod
    def from_delay_us(cls, packet_size: int, delay_us: float) -> PacketConfig:
        return cls(packet_size, packet_delay_ticks(delay_us))

    @property
    def delay_us(self) -> float:
        return self.delay_ticks * FPGA_TICK_NS / 1000.0

    def to_bytes(self) -> bytes:
        if not 0 < self.packet_size <= MAX_UDP_PAYLOAD_BYTES:
            raise ValueError(f"packet size {self.packet_size} not in 1..{MAX_UDP_PAYLOAD_BYTES}")
        return struct.pack("<HHH", self.packet_size, self.delay_ticks, 0)

    @classmethod
    def from_bytes(cls, data: bytes) -> PacketConfig:
        if len(data) != 6:
            raise ProtocolError(f"packet config is {len(data)} bytes; expected 6")
        size, ticks, _ = struct.unpack("<HHH", data)
        return cls(size, ticks)


def _ipv4_bytes(address: str) -> bytes:
    parts = address.split(".")
    if len(parts) != 4 or not all(p.isdigit() and 0 <= int(p) <= 255 for p in parts):
        raise ValueError(f"not an IPv4 address: {address!r}")
    return bytes(int(p) for p in parts)


@dataclass(frozen=True)
class EepromConfig:
    """Payload of CONFIG_EEPROM (0x04): the addresses the card keeps across power cycles.

    Layout (18 bytes): host IPv4 (4) | card IPv4 (4) | card MAC (6) | u16 config port |
    u16 data port. Addresses are written in dotted order; check against your card's firmware
    before relying on it (the byte order is not documented in the reference).
    """

    host_ip: str = DEFAULT_HOST_IP
    board_ip: str = DEFAULT_BOARD_IP
    board_mac: str = "12:34:56:78:90:12"
    config_port: int = CONFIG_PORT
    data_port: int = DATA_PORT

    def to_bytes(self) -> bytes:
        mac = bytes(int(x, 16) for x in self.board_mac.split(":"))
        if len(mac) != 6:
            raise ValueError(f"not a MAC address: {self.board_mac!r}")
        return (
            _ipv4_bytes(self.host_ip)
            + _ipv4_bytes(self.board_ip)
            + mac
            + struct.pack("<HH", self.config_port, self.data_port)
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> EepromConfig:
        if len(data) != 18:
            raise ProtocolError(f"EEPROM config is {len(data)} bytes; expected 18")
        config_port, data_port = struct.unpack_from("<HH", data, 14)
        return cls(
            host_ip=".".join(str(b) for b in data[0:4]),
            board_ip=".".join(str(b) for b in data[4:8]),
            board_mac=":".join(f"{b:02x}" for b in data[8:14]),
            config_port=config_port,
            data_port=data_port,
        )


@dataclass(frozen=True)
class FpgaVersion:
    """FPGA version from the status field of the READ_FPGA_VERSION reply."""

    major: int
    minor: int
    playback: bool

    @classmethod
    def from_status(cls, status: int) -> FpgaVersion:
        """Bits 0-6 major, 7-13 minor, bit 14 playback mode."""
        return cls(status & 0x7F, (status >> 7) & 0x7F, bool(status & 0x4000))

    def to_status(self) -> int:
        if not (0 <= self.major < 128 and 0 <= self.minor < 128):
            raise ValueError(f"FPGA version {self.major}.{self.minor} does not fit in 7+7 bits")
        return self.major | (self.minor << 7) | (0x4000 if self.playback else 0)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}" + (" (playback)" if self.playback else "")


# --- data packets -------------------------------------------------------------------------------
def pack_data_header(seq: int, byte_count: int) -> bytes:
    """10-byte data-packet header."""
    if not 0 <= seq <= 0xFFFF_FFFF:
        raise ValueError(f"sequence number {seq} does not fit in u32")
    if not 0 <= byte_count < 1 << 48:
        raise ValueError(f"byte count {byte_count} does not fit in u48")
    return _DATA_HEAD.pack(seq, byte_count & 0xFFFF_FFFF, byte_count >> 32)


def unpack_data_header(datagram: bytes | bytearray | memoryview) -> tuple[int, int]:
    """``(sequence number, byte count)`` of one data packet."""
    if len(datagram) < DATA_HEADER_BYTES:
        raise ProtocolError(f"data packet is {len(datagram)} bytes; the header alone is 10")
    seq, low, high = _DATA_HEAD.unpack_from(datagram)
    return seq, low | (high << 32)


def unpack_data_headers(
    slots: NDArray[np.uint8],
) -> tuple[NDArray[np.uint32], NDArray[np.uint64]]:
    """Vectorised header parse of many datagrams stored one per row.

    Args:
        slots: (n, stride) uint8, each row starting with one datagram (stride >= 10).

    Returns:
        (n,) sequence numbers and (n,) byte counts.
    """
    n = slots.shape[0]
    seq = np.ascontiguousarray(slots[:, 0:4]).view("<u4").reshape(n).astype(np.uint32)
    count8 = np.zeros((n, 8), dtype=np.uint8)
    count8[:, :6] = slots[:, 4:10]
    byte_count = count8.view("<u8").reshape(n).astype(np.uint64)
    return seq, byte_count


def pack_data_headers(seqs: NDArray[Any], byte_counts: NDArray[Any]) -> NDArray[np.uint8]:
    """Vectorised inverse of ``unpack_data_headers``: (n,) seqs and byte counts -> (n, 10)."""
    n = len(seqs)
    out = np.empty((n, DATA_HEADER_BYTES), dtype=np.uint8)
    out[:, 0:4] = np.asarray(seqs, dtype="<u4").reshape(n, 1).view(np.uint8)
    counts = np.asarray(byte_counts, dtype="<u8").reshape(n, 1).view(np.uint8)
    out[:, 4:10] = counts[:, :6]
    return out


@dataclass(frozen=True)
class DataPacketBatch:
    """Data packets laid out back to back in one buffer, ready to send.

    Attributes:
        buffer: all datagrams, header + payload each, concatenated (read-only view).
        offsets: (n + 1,) start of each datagram in ``buffer`` (last entry = total length).
        seqs: (n,) sequence numbers.
        byte_counts: (n,) byte count field of each packet.
        payload_sizes: (n,) payload bytes of each packet.
    """

    buffer: memoryview
    offsets: NDArray[np.int64]
    seqs: NDArray[np.uint32]
    byte_counts: NDArray[np.uint64]
    payload_sizes: NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.seqs)

    def datagram(self, i: int) -> bytes:
        return bytes(self.buffer[self.offsets[i] : self.offsets[i + 1]])


def build_data_packets(
    payload: bytes | bytearray | memoryview,
    *,
    first_seq: int,
    first_byte_count: int,
    max_payload: int = MAX_PAYLOAD_BYTES,
) -> DataPacketBatch:
    """Split a slice of the ADC stream into data packets (vectorised).

    Args:
        payload: consecutive stream bytes starting at stream offset ``first_byte_count``.
        first_seq: sequence number of the first packet.
        first_byte_count: stream offset of the first payload byte.
        max_payload: payload bytes per packet; the last packet carries the remainder.
    """
    data = np.frombuffer(payload, dtype=np.uint8)
    total = data.size
    if total == 0:
        empty = np.zeros(0, dtype=np.int64)
        return DataPacketBatch(
            memoryview(b""),
            np.zeros(1, np.int64),
            empty.astype(np.uint32),
            empty.astype(np.uint64),
            empty,
        )
    if not 0 < max_payload <= 0xFFFF:
        raise ValueError(f"max_payload {max_payload} out of range")
    n = -(-total // max_payload)
    sizes = np.full(n, max_payload, dtype=np.int64)
    sizes[-1] = total - max_payload * (n - 1)
    starts = np.arange(n, dtype=np.int64) * max_payload
    seqs = (first_seq + np.arange(n, dtype=np.int64)).astype(np.uint32)
    counts = (first_byte_count + starts).astype(np.uint64)
    stride = max_payload + DATA_HEADER_BYTES
    grid = np.empty((n, stride), dtype=np.uint8)  # every byte sent is written below
    grid[:, :DATA_HEADER_BYTES] = pack_data_headers(seqs, counts)
    full = n - 1
    grid[:full, DATA_HEADER_BYTES:] = data[: full * max_payload].reshape(full, max_payload)
    grid[full, DATA_HEADER_BYTES : DATA_HEADER_BYTES + sizes[-1]] = data[full * max_payload :]
    # Only the last row has padding: drop it so the datagrams are back to back.
    flat = grid.reshape(-1)[: full * stride + DATA_HEADER_BYTES + int(sizes[-1])]
    offsets = np.zeros(n + 1, dtype=np.int64)
    offsets[1:] = np.cumsum(sizes + DATA_HEADER_BYTES)
    flat.flags.writeable = False
    return DataPacketBatch(flat.data, offsets, seqs, counts, sizes)
