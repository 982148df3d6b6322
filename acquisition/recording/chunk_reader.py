"""Read the messages of one MCAP chunk as zero-copy views (for readers that know where to look).

:meth:`acquisition.recording.TakeReader.messages` walks a whole file through the ``mcap``
package, which copies every message out of its chunk. A reader that already knows which chunks
it needs (from the frame index, :mod:`acquisition.recording.frame_index`) reads each chunk here:
one ``pread``, one decompression, and ``memoryview`` slices for the messages of the channels it
asks for. Record layouts follow the MCAP specification (Chunk opcode 0x06, Message 0x05).
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

_CHUNK = 0x06
_MESSAGE = 0x05
_HEAD = struct.Struct("<BQ")  # opcode, record length
_CHUNK_FIXED = struct.Struct("<QQQI")  # start, end, uncompressed size, uncompressed crc
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_MESSAGE_FIXED = struct.Struct("<HIQQ")  # channel id, sequence, log time, publish time


class ChunkError(ValueError):
    """A chunk cannot be read (names the file and byte offset)."""


@dataclass(frozen=True)
class ChunkMessage:
    channel_id: int
    sequence: int
    log_time_ns: int
    data: memoryview


def _decompress(compression: str, data: memoryview, size: int) -> bytes | memoryview:
    if compression == "":
        return data
    if compression == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().decompress(data, max_output_size=size)
    if compression == "lz4":
        import lz4.frame

        out: bytes = lz4.frame.decompress(data)
        return out
    raise ChunkError(f"unsupported chunk compression {compression!r}")


def read_chunk(
    fd: int, offset: int, *, channels: set[int] | None = None, check_crc: bool = False
) -> Iterator[ChunkMessage]:
    """The messages (of ``channels``, or all) of the chunk record at byte ``offset`` of ``fd``.

    The views stay valid as long as the caller holds them (they keep the chunk's buffer alive).

    Raises:
        ChunkError: no chunk at ``offset``, a truncated record, a failed decompression or (with
            ``check_crc``) a CRC mismatch.
    """
    head = os.pread(fd, _HEAD.size, offset)
    if len(head) < _HEAD.size:
        raise ChunkError(f"byte {offset}: file ends inside a record header")
    opcode, length = _HEAD.unpack(head)
    if opcode != _CHUNK:
        raise ChunkError(f"byte {offset}: record opcode {opcode:#x}, not a chunk")
    body = memoryview(os.pread(fd, length, offset + _HEAD.size))
    if len(body) < length:
        raise ChunkError(f"byte {offset}: chunk of {length} bytes is truncated at {len(body)}")
    try:
        _, _, size, crc = _CHUNK_FIXED.unpack_from(body, 0)
        pos = _CHUNK_FIXED.size
        (n,) = _U32.unpack_from(body, pos)
        compression = bytes(body[pos + 4 : pos + 4 + n]).decode()
        pos += 4 + n
        (n,) = _U64.unpack_from(body, pos)
        records = body[pos + 8 : pos + 8 + n]
        plain = memoryview(_decompress(compression, records, size))
    except ChunkError:
        raise
    except Exception as exc:  # struct.error, zstd / lz4 errors
        raise ChunkError(f"byte {offset}: unreadable chunk ({type(exc).__name__}: {exc})") from exc
    if len(plain) != size:
        raise ChunkError(f"byte {offset}: chunk holds {len(plain)} bytes, its header says {size}")
    if check_crc and crc and zlib.crc32(plain) != crc:
        raise ChunkError(f"byte {offset}: chunk CRC mismatch")
    return _messages(plain, channels, offset)


def _messages(plain: memoryview, channels: set[int] | None, offset: int) -> Iterator[ChunkMessage]:
    pos, end = 0, len(plain)
    while pos < end:
        if pos + _HEAD.size > end:
            raise ChunkError(f"chunk at byte {offset}: record header cut at {pos}")
        opcode, length = _HEAD.unpack_from(plain, pos)
        body = pos + _HEAD.size
        pos = body + length
        if pos > end:
            raise ChunkError(f"chunk at byte {offset}: record at {body} runs past the chunk")
        if opcode != _MESSAGE:
            continue
        channel, sequence, log_time, _ = _MESSAGE_FIXED.unpack_from(plain, body)
        if channels is None or channel in channels:
            yield ChunkMessage(channel, sequence, log_time, plain[body + _MESSAGE_FIXED.size : pos])
