"""TI mmWave SDK demo CLI: answer parsing and the serial driver.

The emulator (:mod:`acquisition.radar_cli.emulator`) is imported on its own: it needs POSIX
pseudo terminals and is only for tests and simulated rigs.
"""

from acquisition.radar_cli.driver import (
    NON_IDEMPOTENT_COMMANDS,
    CliStats,
    ConfigureReport,
    RadarCli,
    RadarCliError,
    SentLine,
    SerialPortLike,
)
from acquisition.radar_cli.protocol import PROMPT, AnswerParser, CliAnswer, parse_answer

__all__ = [
    "NON_IDEMPOTENT_COMMANDS",
    "PROMPT",
    "AnswerParser",
    "CliAnswer",
    "CliStats",
    "ConfigureReport",
    "RadarCli",
    "RadarCliError",
    "SentLine",
    "SerialPortLike",
    "parse_answer",
]
