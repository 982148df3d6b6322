"""Trigger microcontroller: serial protocol v1, host driver, board-to-host clock model and a
pseudo-terminal emulator. The protocol is specified in ``docs/trigger_protocol.md``; the firmware
is ``acquisition/firmware/trigger_board``."""

from acquisition.trigger.clock import ClockFit, ClockNotReady, TriggerClock
from acquisition.trigger.driver import (
    BoardVersion,
    PulseGap,
    PulseRecord,
    TriggerBoard,
    TriggerCommandError,
    TriggerStats,
)
from acquisition.trigger.emulator import TriggerBoardEmulator
from acquisition.trigger.protocol import PROTOCOL_VERSION, BoardState, ErrorCode, StatusReport

__all__ = [
    "PROTOCOL_VERSION",
    "BoardState",
    "BoardVersion",
    "ClockFit",
    "ClockNotReady",
    "ErrorCode",
    "PulseGap",
    "PulseRecord",
    "StatusReport",
    "TriggerBoard",
    "TriggerBoardEmulator",
    "TriggerClock",
    "TriggerCommandError",
    "TriggerStats",
]
