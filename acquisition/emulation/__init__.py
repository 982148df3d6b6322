"""Building blocks shared by the device emulators: pseudo-terminal serial ports and the
in-process trigger line that links an emulated trigger board to the emulated sensors."""

from acquisition.emulation.pty_port import PtySerialPort
from acquisition.emulation.trigger_line import TriggerLine, TriggerPulse

__all__ = ["PtySerialPort", "TriggerLine", "TriggerPulse"]
