"""Frames in the ring's data area: writing one, reading them back, finding them again after
corruption.

A frame is `u32 length, u32 crc32(body), body`, padded to 8 bytes; it starts at a position
that is a multiple of 8 and may wrap around the end of the data area (its 8-byte header never
does, since the capacity is a multiple of 8). `data` below is the data area (`capacity`
bytes); positions are stream offsets, `pos % capacity` is where they fall in it.

Corruption costs the damaged span only: a frame whose length is impossible or whose CRC fails
is not trusted, its length neither, and reading resumes at the next position (at 8-byte steps)
that holds a plausible length with a matching CRC. A wrong find needs a CRC32 match by chance
(2**-32 per plausible candidate), and a ring body's own bytes rarely even make a plausible
length (JSON text reads as lengths above 512 MiB).
"""

from __future__ import annotations

import struct
import zlib

FRAME_HEADER = struct.Struct("<II")
# Bytes a resync may checksum looking for the next good frame; past this it gives up and the
# rest up to head is one lost span (megabytes of random garbage must not stall the writer).
RESYNC_CRC_BUDGET = 64 * 1024 * 1024

Body = bytes | memoryview
Span = tuple[int, int]  # [start, end) stream positions


def frame_size(body_len: int) -> int:
    """Bytes a record of `body_len` bytes takes in the ring, header and padding included."""
    return (FRAME_HEADER.size + body_len + 7) & ~7


def write(data: memoryview, pos: int, body: bytes, crc: int) -> None:
    """Write one frame at stream position `pos` (the caller publishes it afterwards)."""
    cap = len(data)
    offset = pos % cap
    FRAME_HEADER.pack_into(data, offset, len(body), crc)
    start = (offset + FRAME_HEADER.size) % cap
    first = min(len(body), cap - start)
    data[start : start + first] = body[:first]
    if first < len(body):
        data[: len(body) - first] = body[first:]


def read(
    data: memoryview, pos: int, head: int, max_bytes: int
) -> tuple[list[Body], int, list[Span]]:
    """The frames published between `pos` and `head`, up to about `max_bytes`.

    Returns (bodies, new position, spans skipped as corrupt). A body is a view into `data`
    unless its frame wraps around the end (then it is a copy).
    """
    cap = len(data)
    bodies: list[Body] = []
    skipped: list[Span] = []
    limit = pos + max_bytes
    unpack = FRAME_HEADER.unpack_from
    while pos < head and pos < limit:
        length, crc = unpack(data, pos % cap)
        size = (FRAME_HEADER.size + length + 7) & ~7  # frame_size, inlined: per record
        if length and size <= head - pos:
            start = (pos + FRAME_HEADER.size) % cap
            body: Body
            if start + length <= cap:
                body = data[start : start + length]
            else:
                body = bytes(data[start:]) + bytes(data[: length - (cap - start)])
            if zlib.crc32(body) == crc:
                bodies.append(body)
                pos += size
                continue
        found = resync(data, pos, head)
        skipped.append((pos, found))
        pos = found
    return bodies, pos, skipped


def resync(data: memoryview, pos: int, head: int) -> int:
    """The position of the first frame after `pos` with a plausible length and a matching
    CRC, or `head` (none, or RESYNC_CRC_BUDGET bytes checksummed in vain)."""
    cap = len(data)
    unpack = FRAME_HEADER.unpack_from
    budget = RESYNC_CRC_BUDGET
    pos += 8
    while pos < head:
        length, crc = unpack(data, pos % cap)
        if length and frame_size(length) <= head - pos:
            budget -= length
            if budget < 0:
                return head
            if zlib.crc32(_body_at(data, pos, length)) == crc:
                return pos
        pos += 8
    return head


def _body_at(data: memoryview, pos: int, length: int) -> Body:
    """The `length` bytes after the frame header at `pos` (a copy if they wrap)."""
    cap = len(data)
    start = (pos + FRAME_HEADER.size) % cap
    if start + length <= cap:
        return data[start : start + length]
    return bytes(data[start:]) + bytes(data[: length - (cap - start)])


def count(data: memoryview, pos: int, head: int) -> int:
    """How many frames lie between `pos` and `head`, by their headers alone (bodies unread);
    a lost framing counts as one more and ends the count."""
    cap = len(data)
    found = 0
    while pos < head:
        length = FRAME_HEADER.unpack_from(data, pos % cap)[0]
        size = frame_size(length)
        if length == 0 or size > head - pos:
            return found + 1
        found += 1
        pos += size
    return found
