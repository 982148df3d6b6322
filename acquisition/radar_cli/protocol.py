"""Answers of the TI mmWave SDK demo CLI, parsed from the bytes the board sends back.

For every line the host types, the SDK 2.x/3.x demo firmware sends (REFERENCE.md section 2)::

    <echo of the line>\\r\\n
    [text lines, e.g. "Error: Invalid usage of the CLI command" or "Ignored: ..."]\\r\\n
    <terminal: Done | Error <n> | '<cmd>' is not recognized as a CLI command | Skipped>\\r\\n
    mmwDemo:/>

The prompt has no line end after it: the next echo follows it directly. The parser therefore uses
the prompt, not line ends, to delimit one answer, and accepts ``\\r\\n``, ``\\n`` and lone ``\\r``
line ends, reads split at any byte, and garbage (boot output, stale answers) before the echo.

This module is pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

#: Prompt of the SDK out-of-box demos (xWR14xx/16xx/18xx/68xx).
PROMPT = "mmwDemo:/>"

AnswerKind = Literal["done", "error", "not_recognized", "ignored", "skipped", "unknown"]

_ERROR = re.compile(r"^Error\s+(-?\d+)$")
_NOT_RECOGNIZED = re.compile(r"^'(.*)' is not recognized as a CLI command$")
_LINE_ENDS = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class CliAnswer:
    """The board's answer to one command line.

    Attributes:
        command: the line the host sent (whitespace-normalised), ``None`` when unknown.
        kind: ``done``; ``error`` (``Error <n>``); ``not_recognized``; ``ignored`` (an
            ``Ignored: ...`` line, with or without a following ``Done``: the command had no
            effect but is not a failure); ``skipped`` (a ``%`` comment line); ``unknown``: no
            terminal line the parser knows (garbled answer or an unfamiliar firmware).
        code: the ``n`` of ``Error <n>``, else ``None``.
        message: the text lines between the echo and the terminal line (``Error: ...`` reasons,
            ``Ignored: ...``, the output of ``version``), without line ends.
        echo: the echo line as received, ``None`` if no echo was found.
        raw: the whole block as received up to (not including) the prompt, decoded as ASCII
            with undecodable bytes replaced; includes any garbage before the echo.
    """

    command: str | None
    kind: AnswerKind
    code: int | None
    message: tuple[str, ...]
    echo: str | None
    raw: str

    @property
    def ok(self) -> bool:
        """True for answers a configuration may continue after (done, ignored, skipped)."""
        return self.kind in ("done", "ignored", "skipped")

    @property
    def board_message(self) -> str:
        """The board's own words for a failure: text lines, else the terminal line."""
        if self.message:
            return " | ".join(self.message)
        lines = _lines(self.raw)
        return lines[-1] if lines else ""


def normalise_command(text: str) -> str:
    """A command line as the firmware tokenises it: single spaces, no line end."""
    return " ".join(text.split())


def _lines(text: str) -> list[str]:
    # NUL and other control bytes show up around resets; they are never part of an answer.
    cleaned = (line.strip().strip("\x00") for line in _LINE_ENDS.split(text))
    return [line for line in cleaned if line]


def find_echo(text: str, command: str) -> int | None:
    """Index (in the non-empty lines of ``text``) of the echo of ``command``, or ``None``.

    The echo may have garbage glued in front of it (boot bytes with no line end), so a line
    that ends with the command counts.
    """
    wanted = normalise_command(command)
    for index, line in enumerate(_lines(text)):
        if normalise_command(line).endswith(wanted):
            return index
    return None


def parse_answer(text: str, command: str | None = None) -> CliAnswer:
    """Parse one answer block: everything the board sent before a prompt.

    Args:
        text: decoded bytes before the prompt (the prompt itself excluded).
        command: the line that was sent. When given, lines before its echo are dropped as
            garbage; when ``None`` the first line is taken as the echo.
    """
    lines = _lines(text)
    echo: str | None = None
    if command is not None:
        at = find_echo(text, command)
        if at is not None:
            echo = lines[at]
            lines = lines[at + 1 :]
    elif lines:
        echo, lines = lines[0], lines[1:]
    wanted = normalise_command(command) if command is not None else None

    if not lines:
        # An empty line gets only the prompt; a command line never does.
        kind: AnswerKind = "done" if wanted == "" else "unknown"
        return CliAnswer(wanted, kind, None, (), echo, text)
    *message, terminal = lines
    code: int | None = None
    if terminal == "Done":
        kind = "ignored" if any(m.startswith("Ignored:") for m in message) else "done"
    elif (match := _ERROR.match(terminal)) is not None:
        kind, code = "error", int(match.group(1))
    elif _NOT_RECOGNIZED.match(terminal):
        kind, message = "not_recognized", [*message, terminal]
    elif terminal == "Skipped":
        kind = "skipped"
    elif terminal.startswith("Ignored:"):
        kind, message = "ignored", [*message, terminal]
    else:
        kind, message = "unknown", [*message, terminal]
    return CliAnswer(wanted, kind, code, tuple(message), echo, text)


class AnswerParser:
    """Incremental parser: feed bytes as they arrive, get the answer once the prompt is seen.

    A block that ends with a prompt but does not contain the echo of ``command`` (a stale
    answer, the prompt after boot or after an empty line sent by a prompt sync) is dropped and
    counted in :attr:`stale_blocks`; parsing goes on with the bytes after it. Bytes after the
    answer's prompt stay in :attr:`leftover`.

    Usage::

        parser = AnswerParser("sensorStop")
        while (answer := parser.feed(port.read(64))) is None:
            ...
    """

    def __init__(self, command: str | None = None, *, prompt: str = PROMPT) -> None:
        self.command = None if command is None else normalise_command(command)
        self.prompt = prompt.encode("ascii")
        self._buffer = bytearray()
        self.stale_blocks: list[str] = []
        self.leftover = b""
        self.answer: CliAnswer | None = None

    @property
    def pending(self) -> bytes:
        """Bytes received after the last complete block (for error messages)."""
        return bytes(self._buffer)

    def feed(self, data: bytes) -> CliAnswer | None:
        """Consume ``data``; returns the answer once complete (and on every later call)."""
        if self.answer is not None:
            self.leftover += data
            return self.answer
        self._buffer += data
        while (end := self._buffer.find(self.prompt)) >= 0:
            block = self._buffer[:end].decode("ascii", errors="replace")
            rest = bytes(self._buffer[end + len(self.prompt) :])
            self._buffer = bytearray(rest)
            if self._is_answer(block):
                self.answer = parse_answer(block, self.command)
                self.leftover = rest
                self._buffer.clear()
                return self.answer
            self.stale_blocks.append(block)
        return None

    def _is_answer(self, block: str) -> bool:
        if self.command is None:
            return True
        if self.command == "":
            return True  # any prompt will do when the line was empty
        return find_echo(block, self.command) is not None
