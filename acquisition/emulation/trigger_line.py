"""The trigger wire of an emulated rig.

On a real rig the microcontroller's output pin is wired to every radar's SYNC_IN and every
camera's trigger input. In an emulated rig the trigger-board emulator calls
:meth:`TriggerLine.fire` on each pulse and every subscribed sensor emulator reacts as its hardware
would (a radar armed with ``triggerSelect 2`` sends one frame, a triggered camera exposes).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class TriggerPulse:
    """One rising edge.

    Attributes:
        index: pulse counter of the trigger board, from 0 after ``start``.
        board_time_us: the board's microsecond clock at the edge.
        host_time_ns: host monotonic-clock time at the edge (emulation only; real rigs must
            estimate it with the trigger clock model).
    """

    index: int
    board_time_us: int
    host_time_ns: int


PulseListener = Callable[[TriggerPulse], None]


class TriggerLine:
    """Fan-out of trigger pulses to subscribed emulators (thread-safe)."""

    def __init__(self) -> None:
        self._listeners: list[PulseListener] = []
        self._lock = threading.Lock()
        self.pulses_fired = 0

    def subscribe(self, listener: PulseListener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def unsubscribe(self, listener: PulseListener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def fire(self, pulse: TriggerPulse) -> None:
        with self._lock:
            listeners = list(self._listeners)
            self.pulses_fired += 1
        for listener in listeners:
            listener(pulse)
