"""Trigger-board serial protocol, version 1: pure encode/parse functions (no I/O).

Line-based ASCII over USB serial (115200 baud, 8N1), one message per line, ``\\n`` terminated
(``\\r\\n`` and ``\\r`` accepted). Every line may end in ``*HH``: the CRC-8 of all characters
before the ``*`` as two upper-case hex digits (like NMEA, but CRC-8/SMBUS instead of XOR, which
misses swapped bytes and double bit errors). The board always sends it; the host driver always
sends it; a human typing into a terminal may leave it out. The full specification, with examples,
is ``docs/trigger_protocol.md``.

Host -> board: ``PING``, ``VERSION``, ``RATE <hz>``, ``PERIOD <us>``, ``WIDTH <us>``, ``ARM``,
``START [count]``, ``STOP``, ``STATUS``. Board -> host: exactly one ``OK <CMD> [key=value ...]``
or ``ERR <code> <CMD> <text>`` per non-empty command line, plus unprompted ``P <index> <t_us>``
pulse reports and ``S key=value ...`` status lines.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

PROTOCOL_VERSION = 1
#: Longest command line the host sends, terminator and checksum excluded (bytes).
MAX_LINE_LENGTH = 80
#: Longest line the board sends, terminator and checksum excluded (bytes); fits an S line with
#: every counter at its maximum.
MAX_BOARD_LINE_LENGTH = 160
#: Period limits of protocol version 1 (microseconds): 1 kHz down to 0.25 Hz.
MIN_PERIOD_US = 1_000
MAX_PERIOD_US = 4_000_000
#: Pulse width limits (microseconds); the width must also stay below the period.
MIN_WIDTH_US = 1
MAX_WIDTH_US = 1_000_000
DEFAULT_PERIOD_US = 100_000  # 10 Hz, the rate of the published rigs
DEFAULT_WIDTH_US = 1_000
#: Delay from accepting ``START`` to the first rising edge (microseconds); leaves time for the
#: ``OK START`` line to leave the board before the first ``P`` report.
START_LEAD_US = 1_000

HOST_COMMANDS = ("PING", "VERSION", "RATE", "PERIOD", "WIDTH", "ARM", "START", "STOP", "STATUS")


class ErrorCode(enum.IntEnum):
    """Codes of ``ERR`` answers."""

    UNKNOWN_COMMAND = 1
    BAD_CHECKSUM = 2
    BAD_ARGUMENT = 3  # missing, extra or unparsable argument
    BAD_STATE = 4  # e.g. RATE while running, START while not armed
    LINE_TOO_LONG = 5
    OUT_OF_RANGE = 6  # parsable but outside the limits above


class BoardState(enum.StrEnum):
    """IDLE: configurable, output low. ARMED: configuration locked, output low, counters reset.
    RUNNING: pulsing. ``STOP`` or the end of a counted run returns to IDLE."""

    IDLE = "IDLE"
    ARMED = "ARMED"
    RUNNING = "RUNNING"


class ProtocolError(ValueError):
    """A line that is not a valid protocol message; ``code`` says why."""

    def __init__(self, code: ErrorCode, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


# --- checksum ------------------------------------------------------------------------------------
def _crc8_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
        table.append(crc)
    return tuple(table)


_CRC8_TABLE = _crc8_table()


def crc8(data: bytes) -> int:
    """CRC-8/SMBUS (polynomial 0x07, init 0, no reflection, no final XOR); ``crc8(b"123456789")``
    is 0xF4."""
    crc = 0
    for byte in data:
        crc = _CRC8_TABLE[crc ^ byte]
    return crc


def add_checksum(payload: str) -> str:
    """``payload`` followed by ``*HH`` (no line terminator)."""
    return f"{payload}*{crc8(payload.encode('ascii')):02X}"


def split_checksum(line: str) -> tuple[str, bool | None]:
    """Split a received line into (payload, checksum verdict): True when a ``*HH`` suffix matches,
    False when it is present but wrong or malformed, None when there is none."""
    star = line.rfind("*")
    if star < 0:
        return line, None
    payload, suffix = line[:star], line[star + 1 :]
    try:
        expected = int(suffix, 16) if len(suffix) == 2 else -1
    except ValueError:
        expected = -1
    try:
        actual = crc8(payload.encode("ascii"))
    except UnicodeEncodeError:
        return payload, False
    return payload, expected == actual


def _clean(line: str) -> str:
    # Noise on a freshly opened port shows up as non-printable bytes before the first real line.
    start = 0
    while start < len(line) and not "!" <= line[start] <= "~":
        start += 1
    return line[start:].rstrip()


# --- host -> board -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Command:
    """One host command: ``name`` upper case, ``args`` as sent."""

    name: str
    args: tuple[str, ...] = ()


def encode_command(name: str, *args: object, checksum: bool = True) -> bytes:
    """The bytes of one command line, terminator included, e.g. ``b"RATE 10*4A\\n"``."""
    payload = " ".join([name.upper(), *(str(a) for a in args)])
    if len(payload) > MAX_LINE_LENGTH:
        raise ValueError(f"command line longer than {MAX_LINE_LENGTH} characters: {payload!r}")
    return ((add_checksum(payload) if checksum else payload) + "\n").encode("ascii")


def parse_command(line: str) -> Command | None:
    """Board side: parse one received line (terminator stripped). Empty lines give None (the host
    sends one to flush a partial line out of the board's buffer). Raises :class:`ProtocolError`
    for a bad checksum, an over-long line or an unknown command; arguments are checked by the
    command's handler."""
    if len(line) > MAX_LINE_LENGTH + 3:
        raise ProtocolError(ErrorCode.LINE_TOO_LONG, "line too long")
    payload, verdict = split_checksum(_clean(line))
    if verdict is False:
        raise ProtocolError(ErrorCode.BAD_CHECKSUM, "bad checksum")
    tokens = payload.split()
    if not tokens:
        return None
    name = tokens[0].upper()
    if name not in HOST_COMMANDS:
        raise ProtocolError(ErrorCode.UNKNOWN_COMMAND, f"unknown command {tokens[0][:16]!r}")
    return Command(name, tuple(tokens[1:]))


def rate_to_period_us(rate_hz: float) -> int:
    """Pulse period (integer microseconds, rounded to nearest) for a rate in Hz."""
    if not rate_hz > 0:
        raise ValueError(f"rate must be positive, got {rate_hz} Hz")
    return round(1e6 / rate_hz)


# --- board -> host -------------------------------------------------------------------------------
@dataclass(frozen=True)
class OkReply:
    """``OK <CMD> [key=value ...]``: command accepted; ``fields`` are the effective values."""

    command: str
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ErrReply:
    """``ERR <code> <CMD> <text>``: command refused; ``command`` is ``?`` when unknown."""

    code: int
    command: str
    text: str


@dataclass(frozen=True)
class PulseReport:
    """``P <index> <t_us>``: rising edge number ``index`` (from 0 after START) at board time
    ``board_time_us`` (the board's 64-bit microsecond clock, from its power-up)."""

    index: int
    board_time_us: int


@dataclass(frozen=True)
class StatusReport:
    """``S ...``: the board's state. Times in microseconds of the board clock.

    Attributes:
        state: IDLE, ARMED or RUNNING.
        period_us: effective pulse period (microseconds).
        width_us: effective pulse width (microseconds).
        pulses: pulses fired since the last ARM.
        target: pulses requested by ``START count`` (0: unlimited).
        dropped_reports: pulses fired whose ``P`` report could not be queued (board overrun).
        late_edges: edges the board could not time-stamp on time (firmware interrupt latency).
        uptime_us: board clock now.
    """

    state: BoardState
    period_us: int
    width_us: int
    pulses: int
    target: int
    dropped_reports: int
    late_edges: int
    uptime_us: int


BoardMessage = OkReply | ErrReply | PulseReport | StatusReport

_STATUS_KEYS = {
    "state": "state",
    "period_us": "period_us",
    "width_us": "width_us",
    "pulses": "pulses",
    "target": "target",
    "dropped": "dropped_reports",
    "late": "late_edges",
    "uptime_us": "uptime_us",
}


def encode_message(message: BoardMessage, *, checksum: bool = True) -> str:
    """One board line without terminator, e.g. ``P 12 1200345*3C``; at most
    :data:`MAX_BOARD_LINE_LENGTH` characters before the checksum."""
    if isinstance(message, PulseReport):
        payload = f"P {message.index} {message.board_time_us}"
    elif isinstance(message, OkReply):
        payload = " ".join(
            ["OK", message.command, *(f"{k}={v}" for k, v in message.fields.items())]
        )
    elif isinstance(message, ErrReply):
        # Error texts may quote garbage: keep the line printable ASCII.
        text = "".join(c if " " <= c <= "~" else "?" for c in message.text)
        payload = f"ERR {int(message.code)} {message.command} {text}"
    else:
        parts = [f"{wire}={getattr(message, attr)}" for wire, attr in _STATUS_KEYS.items()]
        payload = "S " + " ".join(parts)
    if len(payload) > MAX_BOARD_LINE_LENGTH:
        raise ValueError(f"board line longer than {MAX_BOARD_LINE_LENGTH} characters: {payload!r}")
    return add_checksum(payload) if checksum else payload


def _int(token: str, what: str) -> int:
    try:
        value = int(token, 10)
    except ValueError:
        raise ProtocolError(
            ErrorCode.BAD_ARGUMENT, f"{what} is not an integer: {token!r}"
        ) from None
    if value < 0:
        raise ProtocolError(ErrorCode.BAD_ARGUMENT, f"{what} is negative: {value}")
    return value


def _key_values(tokens: list[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for token in tokens:
        key, sep, value = token.partition("=")
        if not sep or not key:
            raise ProtocolError(ErrorCode.BAD_ARGUMENT, f"expected key=value, got {token!r}")
        fields[key] = value
    return fields


def parse_message(line: str, *, require_checksum: bool = True) -> BoardMessage:
    """Host side: parse one board line (terminator stripped). Raises :class:`ProtocolError` for
    anything malformed: a missing (when required) or wrong checksum, an unknown message type,
    wrong field counts or values. The caller counts and drops such lines."""
    payload, verdict = split_checksum(_clean(line))
    if verdict is False or (verdict is None and require_checksum):
        raise ProtocolError(ErrorCode.BAD_CHECKSUM, f"bad or missing checksum: {line!r}")
    tokens = payload.split()
    if not tokens:
        raise ProtocolError(ErrorCode.BAD_ARGUMENT, "empty line")
    kind = tokens[0]
    if kind == "P":
        if len(tokens) != 3:
            raise ProtocolError(ErrorCode.BAD_ARGUMENT, f"P needs 2 fields: {payload!r}")
        return PulseReport(_int(tokens[1], "index"), _int(tokens[2], "t_us"))
    if kind == "OK":
        if len(tokens) < 2:
            raise ProtocolError(ErrorCode.BAD_ARGUMENT, "OK without command")
        return OkReply(tokens[1], _key_values(tokens[2:]))
    if kind == "ERR":
        if len(tokens) < 3:
            raise ProtocolError(ErrorCode.BAD_ARGUMENT, f"ERR needs code and command: {payload!r}")
        return ErrReply(_int(tokens[1], "code"), tokens[2], " ".join(tokens[3:]))
    if kind == "S":
        fields = _key_values(tokens[1:])
        missing = set(_STATUS_KEYS) - set(fields)
        if missing:
            raise ProtocolError(ErrorCode.BAD_ARGUMENT, f"S lacks {sorted(missing)}")
        try:
            state = BoardState(fields["state"])
        except ValueError:
            raise ProtocolError(
                ErrorCode.BAD_ARGUMENT, f"unknown state {fields['state']!r}"
            ) from None
        numbers = {
            attr: _int(fields[wire], wire) for wire, attr in _STATUS_KEYS.items() if wire != "state"
        }
        # Unknown extra keys are allowed: later firmware may add fields without a version bump.
        return StatusReport(state=state, **numbers)
    raise ProtocolError(ErrorCode.UNKNOWN_COMMAND, f"unknown message type {kind[:16]!r}")


class LineAssembler:
    """Splits a byte stream into lines; robust to garbage and to lines cut by a port opening.

    Bytes of an over-long line (a lost terminator) are discarded up to the next terminator and
    counted, so one corrupted line cannot swallow the following ones.
    """

    def __init__(self, max_length: int = MAX_BOARD_LINE_LENGTH + 3) -> None:
        self._buffer = bytearray()
        self._max_length = max_length
        self._discarding = False
        self.discarded_bytes = 0
        self.overlong_lines = 0

    def feed(self, data: bytes) -> list[str]:
        """Complete lines (terminators stripped, empty lines dropped) found in ``data``."""
        lines: list[str] = []
        for byte in data:
            if byte in (10, 13):
                if self._discarding:
                    self._discarding = False
                elif self._buffer:
                    lines.append(self._buffer.decode("ascii", errors="replace"))
                self._buffer.clear()
            elif self._discarding:
                self.discarded_bytes += 1
            elif len(self._buffer) >= self._max_length:
                self.overlong_lines += 1
                self.discarded_bytes += len(self._buffer) + 1
                self._buffer.clear()
                self._discarding = True
            else:
                self._buffer.append(byte)
        return lines

    @property
    def pending(self) -> bytes:
        """Bytes of the unfinished line."""
        return bytes(self._buffer)
