"""DCA1000EVM config-port driver: connect, configure, start/stop recording.

Typical session (the order TI's tools use)::

    card = DCA1000Control("192.168.33.180", host_ip="192.168.33.30", name="radar_h")
    with card:
        card.connect()
        print(card.read_fpga_version())
        card.configure_fpga(lanes=2)
        card.configure_packets(size=1472, delay_us=25)
        card.start_record()      # then start the radar (sensorStart) ...
        ...
        card.stop_record()

The socket is bound on the first command (or ``open``), never in the constructor. Every failure
raises a typed error naming the card: ``DeviceTimeout`` when no reply came after all retries,
``DeviceError`` for a non-zero status or a malformed reply, ``DeviceNotFound`` when the host
address cannot be bound. Async status messages (command 0x0A) that arrive while waiting for a
reply are kept in ``async_statuses``.
"""

from __future__ import annotations

import logging
import socket
import time
from dataclasses import dataclass

from acquisition.dca1000.protocol import (
    CONFIG_PORT,
    DEFAULT_BOARD_IP,
    DEFAULT_HOST_IP,
    MAX_UDP_PAYLOAD_BYTES,
    Command,
    EepromConfig,
    FpgaConfig,
    FpgaVersion,
    PacketConfig,
    ProtocolError,
    Reply,
    command_name,
    decode_reply,
    encode_command,
)
from acquisition.errors import DeviceError, DeviceNotFound, DeviceTimeout

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AsyncStatus:
    """An unsolicited status message of the card (command 0x0A).

    Attributes:
        status: the card's event code.
        host_time_ns: ``time.monotonic_ns`` when it was received.
    """

    status: int
    host_time_ns: int


class DCA1000Control:
    """Driver of one DCA1000EVM's config port.

    Args:
        board_ip: the card's address (192.168.33.180 by default).
        config_port: the card's config port (4096).
        host_ip: local address to bind (the PC's address on the card's network).
        host_config_port: local port to bind (4096 like TI's tools; 0 picks a free one).
        name: rig name of the card, used in every error message.
        timeout_s: wait for one reply, seconds.
        retries: re-sends after a timeout (total attempts = retries + 1).
    """

    def __init__(
        self,
        board_ip: str = DEFAULT_BOARD_IP,
        *,
        config_port: int = CONFIG_PORT,
        host_ip: str = DEFAULT_HOST_IP,
        host_config_port: int = CONFIG_PORT,
        name: str = "dca1000",
        timeout_s: float = 1.0,
        retries: int = 2,
    ) -> None:
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        self.board_ip = board_ip
        self.config_port = config_port
        self.host_ip = host_ip
        self.host_config_port = host_config_port
        self.name = name
        self.timeout_s = timeout_s
        self.retries = retries
        self.async_statuses: list[AsyncStatus] = []
        self.stray_replies = 0  # replies to other commands (e.g. late answers to a retry)
        self._sock: socket.socket | None = None

    # --- socket -------------------------------------------------------------------------------
    def open(self) -> None:
        """Bind the local config socket (done automatically by the first command)."""
        if self._sock is not None:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((self.host_ip, self.host_config_port))
        except OSError as exc:
            sock.close()
            raise DeviceNotFound(
                self.name,
                f"cannot bind {self.host_ip}:{self.host_config_port} to talk to the card at "
                f"{self.board_ip}:{self.config_port} (is this PC's interface set to that "
                f"address?): {exc}",
            ) from exc
        self._sock = sock

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> DCA1000Control:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def local_address(self) -> tuple[str, int]:
        self.open()
        assert self._sock is not None
        host, port = self._sock.getsockname()[:2]
        return str(host), int(port)

    # --- commands -----------------------------------------------------------------------------
    def connect(self) -> None:
        """SYSTEM_CONNECT (0x09): check that the card answers."""
        self.command(Command.SYSTEM_CONNECT)

    def read_fpga_version(self) -> FpgaVersion:
        """READ_FPGA_VERSION (0x0E); the version comes in the status field."""
        reply = self.command(Command.READ_FPGA_VERSION, check_status=False)
        return FpgaVersion.from_status(reply.status)

    def configure_fpga(self, config: FpgaConfig | None = None, *, lanes: int = 2) -> None:
        """CONFIG_FPGA (0x03): raw mode, LVDS capture, Ethernet streaming, 16-bit, 30 s timer.

        Args:
            config: full payload; None builds the default one for ``lanes``.
            lanes: LVDS lanes of the radar (2 for xWR18xx/68xx/16xx, 4 for xWR14xx).
        """
        payload = config if config is not None else FpgaConfig.for_lanes(lanes)
        self.command(Command.CONFIG_FPGA, payload.to_bytes())

    def configure_packets(
        self, size: int = MAX_UDP_PAYLOAD_BYTES, delay_us: float = 25.0
    ) -> PacketConfig:
        """CONFIG_PACKET (0x0B): packet-size field and inter-packet delay.

        Args:
            size: value of the packet-size field, bytes (1472, what TI's tools send; the card
                still carries at most 1456 payload bytes per packet).
            delay_us: inter-packet delay, microseconds; sent in 8 ns ticks (25 us -> 3125).
        """
        config = PacketConfig.from_delay_us(size, delay_us)
        self.command(Command.CONFIG_PACKET, config.to_bytes())
        return config

    def configure_eeprom(self, config: EepromConfig) -> None:
        """CONFIG_EEPROM (0x04): store addresses and ports in the card (takes effect after a
        power cycle)."""
        self.command(Command.CONFIG_EEPROM, config.to_bytes())

    def start_record(self) -> None:
        """RECORD_START (0x05): the card starts streaming LVDS data to the data port."""
        self.command(Command.RECORD_START)

    def stop_record(self) -> None:
        """RECORD_STOP (0x06)."""
        self.command(Command.RECORD_STOP)

    def reset_fpga(self) -> None:
        """RESET_FPGA (0x01)."""
        self.command(Command.RESET_FPGA)

    def reset_radar(self) -> None:
        """RESET_RADAR (0x02): pulse the radar's reset line."""
        self.command(Command.RESET_RADAR)

    def command(self, code: int, data: bytes = b"", *, check_status: bool = True) -> Reply:
        """Send one command and wait for its reply, re-sending after each timeout.

        Raises:
            DeviceTimeout: no reply after ``retries + 1`` attempts.
            DeviceError: non-zero status (when ``check_status``) or a malformed reply.
        """
        self.open()
        sock = self._sock
        assert sock is not None
        packet = encode_command(code, data)
        target = (self.board_ip, self.config_port)
        what = command_name(code)
        for attempt in range(self.retries + 1):
            try:
                sock.sendto(packet, target)
            except OSError as exc:
                raise DeviceError(
                    self.name, f"cannot send {what} to {target[0]}:{target[1]}: {exc}"
                ) from exc
            reply = self._wait_reply(code, what)
            if reply is None:
                log.debug("[%s] %s: no reply (attempt %d)", self.name, what, attempt + 1)
                continue
            if check_status and reply.status != 0:
                raise DeviceError(
                    self.name, f"{what} failed: card answered status {reply.status} (0 = success)"
                )
            return reply
        total = self.timeout_s * (self.retries + 1)
        raise DeviceTimeout(
            self.name,
            f"no reply to {what} from {target[0]}:{target[1]} after {self.retries + 1} "
            f"attempts ({total:.1f} s); check power, cable and the PC's address {self.host_ip}",
        )

    def _wait_reply(self, code: int, what: str) -> Reply | None:
        """The reply to ``code`` or None on timeout; async status messages are recorded."""
        sock = self._sock
        assert sock is not None
        deadline = time.monotonic() + self.timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            sock.settimeout(remaining)
            try:
                packet, addr = sock.recvfrom(2048)
            except TimeoutError:
                return None
            except OSError as exc:  # e.g. ICMP port unreachable reported on Linux
                log.debug("[%s] %s: receive error %s", self.name, what, exc)
                time.sleep(min(remaining, 0.01))
                continue
            if addr[0] != self.board_ip or addr[1] != self.config_port:
                continue  # not from our card
            try:
                reply = decode_reply(packet)
            except ProtocolError as exc:
                raise DeviceError(self.name, f"malformed reply to {what}: {exc}") from exc
            if reply.is_async_status:
                self.async_statuses.append(AsyncStatus(reply.status, time.monotonic_ns()))
                log.info("[%s] async status %d", self.name, reply.status)
                continue
            if reply.command != code:
                self.stray_replies += 1
                continue
            return reply
