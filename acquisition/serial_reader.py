"""A serial port read by a background thread: what the trigger board driver and the TI TLV data
port driver share (open the port, start the reader, stop it, close the port)."""

from __future__ import annotations

import threading
from typing import Any

import serial

from acquisition.errors import DeviceNotFound


class SerialReaderPort:
    """Base of drivers whose ``_read_loop`` runs on a thread while the port is open.

    Subclasses set ``port``, ``baudrate`` and ``name`` and implement ``_read_loop`` (which should
    return soon after ``_stop`` is set; the port is opened with a 50 ms read timeout).
    """

    port: str
    baudrate: int
    name: str

    def __init__(self) -> None:
        self._serial: serial.Serial | None = None
        self._reader: threading.Thread | None = None
        self._stop = threading.Event()

    def _read_loop(self) -> None:
        raise NotImplementedError

    def _open_port(self, **serial_options: Any) -> bool:
        """Open the port and start the reader; False when it was already open.

        Raises:
            DeviceNotFound: the port cannot be opened (names the device and the port).
        """
        if self._serial is not None:
            return False
        try:
            self._serial = serial.Serial(self.port, self.baudrate, timeout=0.05, **serial_options)
        except (serial.SerialException, OSError) as exc:
            raise DeviceNotFound(self.name, f"cannot open {self.port}: {exc}") from exc
        self._stop.clear()
        self._reader = threading.Thread(
            target=self._read_loop, name=f"{self.name}-reader", daemon=True
        )
        self._reader.start()
        return True

    def close(self) -> None:
        """Stop the reader thread and close the port (no error when already closed)."""
        self._stop.set()
        if self._reader is not None:
            self._reader.join(timeout=2.0)
            self._reader = None
        if self._serial is not None:
            try:
                self._serial.close()
            except (serial.SerialException, OSError):
                pass
            self._serial = None
