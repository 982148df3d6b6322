"""A serial device emulated on a real pseudo terminal.

The emulator holds the master side; the driver opens ``port_path`` (``/dev/pts/N``) with pyserial
exactly as it would open ``/dev/ttyACM0``. Subclasses implement :meth:`on_line` (line protocols)
or :meth:`on_bytes` (binary protocols) and call :meth:`write` to answer.
"""

from __future__ import annotations

import os
import select
import termios
import threading
import tty


class PtySerialPort:
    """Base class of pseudo-terminal device emulators.

    Usage::

        with MyEmulator() as emu:
            port = serial.Serial(emu.port_path, 115200, timeout=1)
    """

    #: Line terminator the device answers with.
    newline: bytes = b"\n"

    def __init__(self, *, name: str = "pty-device") -> None:
        self.name = name
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        attrs = termios.tcgetattr(self._slave)
        attrs[3] &= ~termios.ECHO  # the emulator echoes itself where the real device does
        termios.tcsetattr(self._slave, termios.TCSANOW, attrs)
        self.port_path = os.ttyname(self._slave)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._write_lock = threading.Lock()
        self._line_buffer = bytearray()
        self._last_was_cr = False
        self.bytes_received = 0
        self.bytes_sent = 0

    # --- lifecycle -------------------------------------------------------------------------------
    def start(self) -> PtySerialPort:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> PtySerialPort:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- I/O -------------------------------------------------------------------------------------
    def write(self, data: bytes, *, stop: threading.Event | None = None) -> bool:
        """Send bytes to the driver (device -> host).

        Waits while the pty is full (a driver that is slow to read) but gives up when ``stop``
        (default: the port's own close) is set; returns False then, or when the host side is
        gone, True once everything was written.
        """
        halt = stop if stop is not None else self._stop
        view = memoryview(data)
        with self._write_lock:
            while view:
                if halt.is_set():
                    return False
                try:
                    n = os.write(self._master, view)
                except BlockingIOError:
                    try:
                        select.select([], [self._master], [], 0.05)
                    except (OSError, ValueError):
                        return False
                    continue
                except OSError:
                    return False  # port closed under us: the host went away
                view = view[n:]
                self.bytes_sent += n
        return True

    def write_line(self, text: str) -> None:
        self.write(text.encode() + self.newline)

    def on_bytes(self, data: bytes) -> None:
        """Bytes from the host; the default splits lines (CR, LF or CR LF) for :meth:`on_line`."""
        for byte in data:
            if byte in (10, 13):
                if byte == 10 and self._last_was_cr:
                    self._last_was_cr = False
                    continue
                self._last_was_cr = byte == 13
                line = bytes(self._line_buffer)
                self._line_buffer.clear()
                self.on_line(line.decode(errors="replace"))
            else:
                self._last_was_cr = False
                self._line_buffer.append(byte)

    def on_line(self, line: str) -> None:
        """One line from the host, without its terminator."""

    def on_idle(self) -> None:
        """Called about every 10 ms when nothing arrived (for devices that talk unprompted)."""

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._master], [], [], 0.01)
            except (OSError, ValueError):
                return
            if not ready:
                self.on_idle()
                continue
            try:
                data = os.read(self._master, 4096)
            except OSError:
                return
            if not data:
                continue
            self.bytes_received += len(data)
            self.on_bytes(data)
