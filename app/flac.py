"""Just enough FLAC framing to start decoding in the middle of a stem.

After a seek the stem's bytes around the new playhead arrive before the bytes that lead up to it.
A FLAC stream is its header (STREAMINFO and other metadata) followed by self-contained frames,
each starting with a sync code, its position in samples and a CRC-8. So: find the first frame in
the downloaded window, and give the decoder the header followed by the window from that frame on.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

MAGIC = b"fLaC"
_BLOCK_SIZES = {
    1: 192,
    **{c: 576 << (c - 2) for c in range(2, 6)},
    **{c: 256 << (c - 8) for c in range(8, 16)},
}


@dataclass(frozen=True)
class StreamHeader:
    audio_offset: int  # where the first frame starts: header bytes are [0, audio_offset)
    min_block: int
    max_block: int
    sample_rate: int
    total_samples: int

    @property
    def fixed_block(self) -> int | None:
        return self.min_block if self.min_block == self.max_block else None


def parse_header(data: bytes) -> StreamHeader | None:
    """The stream header, or None until enough bytes have arrived to hold all of it."""
    if len(data) < 8 or data[:4] != MAGIC:
        return None
    pos, info = 4, None
    while True:
        if len(data) < pos + 4:
            return None
        flags, length = data[pos], int.from_bytes(data[pos + 1 : pos + 4], "big")
        body = data[pos + 4 : pos + 4 + length]
        if len(body) < length:
            return None
        if flags & 0x7F == 0:
            info = body
        pos += 4 + length
        if flags & 0x80:
            break
    if info is None or len(info) < 18:
        raise ValueError("FLAC stream has no STREAMINFO block")
    min_block, max_block = struct.unpack(">HH", info[:4])
    packed = int.from_bytes(info[10:18], "big")
    return StreamHeader(
        audio_offset=pos,
        min_block=min_block,
        max_block=max_block,
        sample_rate=packed >> 44,
        total_samples=packed & ((1 << 36) - 1),
    )


def _crc8(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def _utf8_number(data: bytes, pos: int) -> tuple[int, int] | None:
    """FLAC's UTF-8-like coded frame/sample number: (value, bytes used)."""
    if pos >= len(data):
        return None
    first = data[pos]
    if first < 0x80:
        return first, 1
    extra = next((n for n in range(1, 7) if first & (0x80 >> (n + 1)) == 0), None)
    if extra is None or first & 0xC0 != 0xC0 or pos + extra >= len(data):
        return None
    value = first & (0x3F >> extra)
    for b in data[pos + 1 : pos + 1 + extra]:
        if b & 0xC0 != 0x80:
            return None
        value = (value << 6) | (b & 0x3F)
    return value, 1 + extra


def _frame_at(data: bytes, pos: int, header: StreamHeader) -> int | None:
    """The first sample of a frame whose header starts at `pos`, or None if there is none."""
    if data[pos] != 0xFF or data[pos + 1] & 0xFE != 0xF8 or pos + 6 > len(data):
        return None
    variable = data[pos + 1] & 0x01
    block_code, rate_code = data[pos + 2] >> 4, data[pos + 2] & 0x0F
    if block_code == 0 or rate_code == 0x0F or data[pos + 3] & 0x01:
        return None
    number = _utf8_number(data, pos + 4)
    if number is None:
        return None
    value, used = number
    end = pos + 4 + used + {6: 1, 7: 2}.get(block_code, 0) + {12: 1, 13: 2, 14: 2}.get(rate_code, 0)
    if end >= len(data) or _crc8(data[pos:end]) != data[end]:
        return None
    if variable:
        return value
    block = header.fixed_block or _BLOCK_SIZES.get(block_code)
    return value * block if block else None


def find_frame(data: bytes, start: int, header: StreamHeader) -> tuple[int, int] | None:
    """(offset, first sample) of the first frame at or after `start` in `data`."""
    pos = data.find(b"\xff", start)
    while 0 <= pos < len(data) - 6:
        sample = _frame_at(data, pos, header)
        if sample is not None and sample < header.total_samples:
            return pos, sample
        pos = data.find(b"\xff", pos + 1)
    return None
