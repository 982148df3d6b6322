"""DCA1000EVM emulator: the command protocol and the data stream on real UDP sockets.

The emulator answers commands on its config port exactly as the card's replies are specified
(8-byte replies, status 0 on success, the version bits for READ_FPGA_VERSION) and, between
RECORD_START and RECORD_STOP, streams data packets (u32 sequence from 1, u48 byte count, payload
<= 1456 bytes) to ``data_dest``. Frames are sent on each pulse of a ``TriggerLine``, by an
internal timer at ``frame_rate_hz``, or back to back (optionally paced at ``rate_bytes_per_s``).

Faults (``FaultConfig``, seeded) are injected into the data stream and counted in
``InjectionStats`` so that tests can compare them with what the receiver reports::

    emu = DCA1000Emulator(
        data_dest=receiver.address, bytes_per_frame=params.bytes_per_frame,
        frame_source=lambda i: frames[i], max_frames=20,
        faults=FaultConfig(seed=1, loss_probability=0.01),
    )
    with emu:
        control = DCA1000Control("127.0.0.1", config_port=emu.config_port,
                                 host_ip="127.0.0.1", host_config_port=0)
        control.start_record()
        emu.wait_done(10.0)
        control.stop_record()
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from acquisition.dca1000.protocol import (
    MAX_PAYLOAD_BYTES,
    Command,
    DataPacketBatch,
    EepromConfig,
    FpgaConfig,
    FpgaVersion,
    PacketConfig,
    ProtocolError,
    build_data_packets,
    decode_command,
    encode_reply,
)
from acquisition.emulation.trigger_line import TriggerLine, TriggerPulse

log = logging.getLogger(__name__)

FrameSource = Callable[[int], bytes]
DEFAULT_FPGA_VERSION = FpgaVersion(2, 9, False)
STATUS_FAILED = 1
_MAX_PACING_BACKLOG_S = 1.0


@dataclass(frozen=True)
class FaultConfig:
    """Faults injected into the data stream (all off by default).

    Attributes:
        seed: seed of the fault RNG (same seed, same faults).
        loss_probability: each packet dropped independently with this probability.
        burst_probability: probability per packet that a burst loss starts.
        burst_length: packets dropped by one burst (the starting one included).
        frame_loss_probability: probability that every packet of a frame is dropped.
        reorder_probability: probability that a packet is held back and sent after the next
            ``reorder_distance`` packets (held packets are always sent before the frame ends).
        reorder_distance: packets a reordered packet is delayed by.
        duplicate_probability: probability that a sent packet is sent a second time right away.
        stall_probability: probability per packet of a pause of ``stall_s`` before it.
        stall_s: length of one pause, seconds.
    """

    seed: int = 0
    loss_probability: float = 0.0
    burst_probability: float = 0.0
    burst_length: int = 8
    frame_loss_probability: float = 0.0
    reorder_probability: float = 0.0
    reorder_distance: int = 3
    duplicate_probability: float = 0.0
    stall_probability: float = 0.0
    stall_s: float = 0.0

    @property
    def any(self) -> bool:
        return any(
            p > 0
            for p in (
                self.loss_probability,
                self.burst_probability,
                self.frame_loss_probability,
                self.reorder_probability,
                self.duplicate_probability,
                self.stall_probability,
            )
        )


@dataclass
class InjectionStats:
    """What the emulator sent and what it did to the stream.

    Attributes:
        frames_sent: frames streamed since the last RECORD_START.
        packets: data packets generated (sequence numbers used).
        payload_bytes: stream bytes generated (the byte count reached).
        datagrams_sent: datagrams actually sent (duplicates included, drops excluded).
        dropped_packets / dropped_bytes: packets dropped and their payload bytes.
        dropped_bytes_per_frame: frame index -> payload bytes of that frame dropped.
        dropped_seqs: sequence numbers dropped.
        reordered: packets sent late. duplicated: packets sent twice. stalls: pauses.
        send_refused: sends refused because nothing listened on the data port (ICMP).
    """

    frames_sent: int = 0
    packets: int = 0
    payload_bytes: int = 0
    datagrams_sent: int = 0
    dropped_packets: int = 0
    dropped_bytes: int = 0
    dropped_bytes_per_frame: dict[int, int] = field(default_factory=dict)
    dropped_seqs: list[int] = field(default_factory=list)
    reordered: int = 0
    duplicated: int = 0
    stalls: int = 0
    send_refused: int = 0


class DCA1000Emulator:
    """A DCA1000EVM on 127.0.0.1 (or any local address): config port + data stream.

    Args:
        data_dest: (host, port) the data packets are sent to (the receiver's address).
        bytes_per_frame: raw bytes per frame.
        frame_source: frame index (0 after each RECORD_START) -> ``bytes_per_frame`` bytes.
        host: local address of the config and data sockets.
        config_port: config port to bind (0 picks a free one; see ``config_port`` after
            ``start``).
        trigger_line: send one frame per pulse (hardware-triggered radar).
        frame_rate_hz: send frames on an internal timer (software-triggered radar).
        max_frames: stop streaming after this many frames (None: until RECORD_STOP).
        rate_bytes_per_s: pace the packets at this payload rate (None: as fast as possible).
        payload_bytes: payload per data packet (1456 like the card).
        continuous: packetise the stream across frame boundaries (packets straddle frames);
            False sends a short last packet per frame, as the card does after each burst.
        faults: fault injection.
        fpga_version: what READ_FPGA_VERSION reports.
        name: used in logs.

    Test hooks: ``fail_commands`` (command -> status to answer instead of success),
    ``mute_commands`` (commands never answered), ``queue_async_status`` / ``queue_stray_reply``
    (messages sent before the next reply), ``send_async_status``.
    """

    def __init__(
        self,
        *,
        data_dest: tuple[str, int],
        bytes_per_frame: int,
        frame_source: FrameSource,
        host: str = "127.0.0.1",
        config_port: int = 0,
        trigger_line: TriggerLine | None = None,
        frame_rate_hz: float | None = None,
        max_frames: int | None = None,
        rate_bytes_per_s: float | None = None,
        payload_bytes: int = MAX_PAYLOAD_BYTES,
        continuous: bool = False,
        faults: FaultConfig | None = None,
        fpga_version: FpgaVersion = DEFAULT_FPGA_VERSION,
        name: str = "dca1000-emulator",
    ) -> None:
        if trigger_line is not None and frame_rate_hz is not None:
            raise ValueError("give trigger_line or frame_rate_hz, not both")
        self.data_dest = data_dest
        self.bytes_per_frame = bytes_per_frame
        self.frame_source = frame_source
        self.host = host
        self._requested_config_port = config_port
        self.trigger_line = trigger_line
        self.frame_rate_hz = frame_rate_hz
        self.max_frames = max_frames
        self.rate_bytes_per_s = rate_bytes_per_s
        self.payload_bytes = payload_bytes
        self.continuous = continuous
        self.faults = faults or FaultConfig()
        self.fpga_version = fpga_version
        self.name = name
        # Test hooks.
        self.fail_commands: dict[int, int] = {}
        self.mute_commands: set[int] = set()
        self._extra_replies: list[tuple[int, int]] = []
        # State seen by tests.
        self.commands_received: list[int] = []
        self.malformed_commands = 0
        self.fpga_config: FpgaConfig | None = None
        self.packet_config: PacketConfig | None = None
        self.eeprom_config: EepromConfig | None = None
        self.recording = False
        self.stats = InjectionStats()
        self.frame_errors: list[str] = []
        self._rng = np.random.default_rng(self.faults.seed)
        self._cmd_sock: socket.socket | None = None
        self._data_sock: socket.socket | None = None
        self._cmd_thread: threading.Thread | None = None
        self._stream_thread: threading.Thread | None = None
        self._closing = threading.Event()
        self._stream_stop = threading.Event()
        self._done = threading.Event()
        self._pulses: queue.Queue[int] = queue.Queue()
        self._host_addr: tuple[str, int] | None = None
        self._seq = 1
        self._byte_count = 0
        self._carry = b""
        self._burst_left = 0
        self._pace_t0 = 0.0
        self._pace_bytes = 0

    # --- lifecycle ----------------------------------------------------------------------------
    @property
    def config_port(self) -> int:
        if self._cmd_sock is None:
            raise RuntimeError("emulator not started")
        return int(self._cmd_sock.getsockname()[1])

    @property
    def data_source_port(self) -> int:
        if self._data_sock is None:
            raise RuntimeError("emulator not started")
        return int(self._data_sock.getsockname()[1])

    def start(self) -> None:
        """Bind the config and data sockets and start answering commands."""
        cmd = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        cmd.bind((self.host, self._requested_config_port))
        cmd.settimeout(0.05)
        data = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with contextlib.suppress(OSError):
            data.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        data.bind((self.host, 0))
        data.connect(self.data_dest)  # connected: send() skips the per-call address lookup
        self._cmd_sock, self._data_sock = cmd, data
        if self.trigger_line is not None:
            self.trigger_line.subscribe(self._on_pulse)
        self._cmd_thread = threading.Thread(
            target=self._serve, name=f"{self.name}-cmd", daemon=True
        )
        self._cmd_thread.start()

    def close(self) -> None:
        """Stop streaming, stop answering and close the sockets."""
        if self.trigger_line is not None:
            self.trigger_line.unsubscribe(self._on_pulse)
        self._stop_stream()
        self._closing.set()
        if self._cmd_thread is not None:
            self._cmd_thread.join()
        for sock in (self._cmd_sock, self._data_sock):
            if sock is not None:
                sock.close()

    def __enter__(self) -> DCA1000Emulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wait_done(self, timeout: float) -> bool:
        """Wait until ``max_frames`` frames were sent (or streaming stopped)."""
        return self._done.wait(timeout)

    # --- async status -------------------------------------------------------------------------
    def queue_async_status(self, status: int) -> None:
        """Send an async status message (0x0A) just before the next reply."""
        self._extra_replies.append((Command.ASYNC_STATUS, status))

    def queue_stray_reply(self, command: int, status: int = 0) -> None:
        """Send a reply to ``command`` just before the next reply (like a late answer)."""
        self._extra_replies.append((command, status))

    def send_async_status(self, status: int) -> None:
        """Send an async status message now, to the host that sent the last command."""
        if self._cmd_sock is not None and self._host_addr is not None:
            self._cmd_sock.sendto(encode_reply(Command.ASYNC_STATUS, status), self._host_addr)

    # --- command port -------------------------------------------------------------------------
    def _serve(self) -> None:
        sock = self._cmd_sock
        assert sock is not None
        while not self._closing.is_set():
            try:
                packet, addr = sock.recvfrom(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                command = decode_command(packet)
            except ProtocolError as exc:
                self.malformed_commands += 1
                log.debug("%s: malformed command from %s: %s", self.name, addr, exc)
                continue
            self._host_addr = addr
            self.commands_received.append(command.command)
            if command.command in self.mute_commands:
                continue
            status = self._handle(command.command, command.data)
            status = self.fail_commands.get(command.command, status)
            while self._extra_replies:
                sock.sendto(encode_reply(*self._extra_replies.pop(0)), addr)
            sock.sendto(encode_reply(command.command, status), addr)

    def _handle(self, command: int, data: bytes) -> int:
        try:
            if command in (Command.SYSTEM_CONNECT, Command.RESET_RADAR):
                return 0
            if command == Command.RESET_FPGA:
                self._stop_stream()
                self.fpga_config = None
                self.packet_config = None
                return 0
            if command == Command.READ_FPGA_VERSION:
                return self.fpga_version.to_status()
            if command == Command.CONFIG_FPGA:
                self.fpga_config = FpgaConfig.from_bytes(data)
                return 0
            if command == Command.CONFIG_PACKET:
                self.packet_config = PacketConfig.from_bytes(data)
                return 0
            if command == Command.CONFIG_EEPROM:
                self.eeprom_config = EepromConfig.from_bytes(data)
                return 0
            if command == Command.RECORD_START:
                if self.recording:
                    return STATUS_FAILED
                self._start_stream()
                return 0
            if command == Command.RECORD_STOP:
                self._stop_stream()
                return 0
        except ProtocolError as exc:
            log.debug("%s: bad command data: %s", self.name, exc)
        return STATUS_FAILED

    # --- streaming ----------------------------------------------------------------------------
    def _on_pulse(self, pulse: TriggerPulse) -> None:
        if self.recording:
            self._pulses.put(pulse.index)

    def _start_stream(self) -> None:
        self.stats = InjectionStats()
        self._seq, self._byte_count, self._carry, self._burst_left = 1, 0, b"", 0
        self._stream_stop.clear()
        self._done.clear()
        while not self._pulses.empty():
            self._pulses.get_nowait()
        self.recording = True
        self._stream_thread = threading.Thread(
            target=self._stream, name=f"{self.name}-data", daemon=True
        )
        self._stream_thread.start()

    def _stop_stream(self) -> None:
        """Stop after the frame being sent; flush a carried partial packet (continuous mode)."""
        if not self.recording:
            return
        self._stream_stop.set()
        if self._stream_thread is not None:
            self._stream_thread.join()
        self.recording = False

    def _stream(self) -> None:
        try:
            self._pace_t0, self._pace_bytes = time.monotonic(), 0
            next_time = time.monotonic()
            while not self._stream_stop.is_set():
                if self.max_frames is not None and self.stats.frames_sent >= self.max_frames:
                    break
                if self.trigger_line is not None:
                    try:
                        self._pulses.get(timeout=0.05)
                    except queue.Empty:
                        continue
                elif self.frame_rate_hz is not None:
                    delay = next_time - time.monotonic()
                    if delay > 0 and self._stream_stop.wait(delay):
                        break
                    next_time += 1.0 / self.frame_rate_hz
                self._send_frame(self.stats.frames_sent)
            if self._carry:
                self._send_stream(self._carry, final=True)
                self._carry = b""
        except Exception as exc:  # recorded for tests; a real card would just stop streaming
            log.exception("%s: streaming failed", self.name)
            self.frame_errors.append(repr(exc))
        finally:
            self._done.set()

    def _send_frame(self, index: int) -> None:
        data = self.frame_source(index)
        if len(data) != self.bytes_per_frame:
            raise ValueError(
                f"frame_source({index}) gave {len(data)} bytes; expected {self.bytes_per_frame}"
            )
        lose_frame = (
            self.faults.frame_loss_probability > 0
            and self._rng.random() < self.faults.frame_loss_probability
        )
        if self.continuous:
            self._send_stream(self._carry + data, final=False, lose_all=lose_frame)
        else:
            self._send_stream(data, final=True, lose_all=lose_frame)
        self.stats.frames_sent += 1

    def _send_stream(self, data: bytes, *, final: bool, lose_all: bool = False) -> None:
        """Packetise stream bytes starting at the current byte count and send them."""
        size = len(data)
        if not final:
            whole = size - size % self.payload_bytes
            data, self._carry = data[:whole], data[whole:]
        if not data:
            return
        batch = build_data_packets(
            data,
            first_seq=self._seq,
            first_byte_count=self._byte_count,
            max_payload=self.payload_bytes,
        )
        self._seq += len(batch)
        self._byte_count += len(data)
        self.stats.packets += len(batch)
        self.stats.payload_bytes += len(data)
        if self.faults.any:
            self._send_with_faults(batch, lose_all)
        else:
            self._send_clean(batch)

    def _send_clean(self, batch: DataPacketBatch) -> None:
        sock = self._data_sock
        assert sock is not None
        send = sock.send
        view = batch.buffer
        offsets = batch.offsets.tolist()
        n = len(batch)
        step = 32
        for first in range(0, n, step):
            for i in range(first, min(first + step, n)):
                try:
                    send(view[offsets[i] : offsets[i + 1]])
                except ConnectionRefusedError:
                    # ICMP port unreachable from an earlier datagram: nobody listens yet.
                    # The card does not care either; count it and go on.
                    self.stats.send_refused += 1
            self._pace(offsets[min(first + step, n)] - offsets[first])
        self.stats.datagrams_sent += n

    def _pace(self, sent_bytes: int) -> None:
        """Sleep so that the payload rate stays at ``rate_bytes_per_s`` (token-bucket style)."""
        rate = self.rate_bytes_per_s
        if rate is None:
            return
        self._pace_bytes += sent_bytes
        target = self._pace_t0 + self._pace_bytes / rate
        now = time.monotonic()
        if target > now:
            time.sleep(target - now)
        elif now - target > _MAX_PACING_BACKLOG_S:
            # Far behind (a long stall): give up on the backlog rather than burst for long.
            # Shorter lags (e.g. the process was preempted) are caught up at full speed.
            self._pace_t0, self._pace_bytes = now, 0

    def _send_with_faults(self, batch: DataPacketBatch, lose_all: bool) -> None:
        sock = self._data_sock
        assert sock is not None
        f = self.faults
        n = len(batch)
        draws = self._rng.random((n, 5))
        held: list[list[int]] = []  # [packets still to wait, packet index]
        view = batch.buffer
        offsets = batch.offsets.tolist()

        def send(i: int) -> None:
            try:
                sock.send(view[offsets[i] : offsets[i + 1]])
            except ConnectionRefusedError:
                self.stats.send_refused += 1
            self.stats.datagrams_sent += 1

        for i in range(n):
            loss, burst, reorder, dup, stall = draws[i].tolist()
            if f.stall_probability > 0 and stall < f.stall_probability:
                self.stats.stalls += 1
                time.sleep(f.stall_s)
            if self._burst_left == 0 and f.burst_probability > 0 and burst < f.burst_probability:
                self._burst_left = f.burst_length
            dropped = lose_all or self._burst_left > 0 or loss < f.loss_probability
            if self._burst_left > 0:
                self._burst_left -= 1
            if dropped:
                self._record_drop(batch, i)
            elif f.reorder_probability > 0 and reorder < f.reorder_probability:
                held.append([f.reorder_distance, i])
                self.stats.reordered += 1
            else:
                send(i)
                if f.duplicate_probability > 0 and dup < f.duplicate_probability:
                    send(i)
                    self.stats.duplicated += 1
                for entry in held:
                    entry[0] -= 1
                while held and held[0][0] <= 0:
                    send(held.pop(0)[1])
            if (i + 1) % 32 == 0:
                self._pace(offsets[i + 1] - offsets[i - 31])
        for _, i in held:
            send(i)

    def _record_drop(self, batch: DataPacketBatch, i: int) -> None:
        start = int(batch.byte_counts[i])
        size = int(batch.payload_sizes[i])
        self.stats.dropped_packets += 1
        self.stats.dropped_bytes += size
        self.stats.dropped_seqs.append(int(batch.seqs[i]))
        bpf = self.bytes_per_frame
        pos, end = start, start + size
        while pos < end:  # a straddling packet loses bytes in two frames
            frame = pos // bpf
            stop = min(end, (frame + 1) * bpf)
            per_frame = self.stats.dropped_bytes_per_frame
            per_frame[frame] = per_frame.get(frame, 0) + stop - pos
            pos = stop
