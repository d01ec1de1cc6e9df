"""A bar chart of cost by day as a PNG, written with zlib and struct only (no plotting library).

The image carries no text (fonts would need a library); the statement prints the figures beside it. Bars
grow up from a zero line for costs and down for credits. The output is deterministic: the same amounts give
the same bytes, so golden files and content hashes stay stable.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from decimal import Decimal

Color = tuple[int, int, int]

BACKGROUND: Color = (255, 255, 255)
BAR: Color = (31, 111, 235)
CREDIT: Color = (207, 34, 46)
AXIS: Color = (140, 149, 159)
GRID: Color = (234, 238, 242)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    checksum = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", checksum)


def encode_png(pixels: Sequence[bytes | bytearray], width: int) -> bytes:
    """An 8-bit RGB PNG from rows of ``width * 3`` bytes each."""
    if not pixels or any(len(row) != width * 3 for row in pixels):
        raise ValueError("every row must hold width * 3 bytes")
    header = struct.pack(">IIBBBBB", width, len(pixels), 8, 2, 0, 0, 0)  # 8 bits, truecolour, no interlace
    raw = b"".join(b"\x00" + bytes(row) for row in pixels)  # filter type 0 on every row
    image = _chunk(b"IDAT", zlib.compress(raw, 9))
    return PNG_SIGNATURE + _chunk(b"IHDR", header) + image + _chunk(b"IEND", b"")


def bar_chart_png(values: Sequence[Decimal], *, width: int = 560, height: int = 160,
                  padding: int = 8) -> bytes:
    """One bar per value, evenly spaced across ``width``; bar heights proportional to the values."""
    if width < 2 * padding + 1 or height < 2 * padding + 1:
        raise ValueError("the chart is too small")
    canvas = [bytearray(bytes(BACKGROUND) * width) for _ in range(height)]

    def fill(x0: int, y0: int, x1: int, y1: int, color: Color) -> None:
        for y in range(max(0, y0), min(height, y1)):
            row = canvas[y]
            for x in range(max(0, x0), min(width, x1)):
                row[3 * x : 3 * x + 3] = bytes(color)

    top, bottom = padding, height - padding
    for i in range(1, 4):  # faint grid lines at quarters
        y = top + (bottom - top) * i // 4
        fill(padding, y, width - padding, y + 1, GRID)
    highest = max([v for v in values if v > 0], default=Decimal(0))
    lowest = min([v for v in values if v < 0], default=Decimal(0))
    span = highest - lowest
    zero_y = bottom if span == 0 else top + round(float(highest / span) * (bottom - top))
    if values:
        slot = (width - 2 * padding) / len(values)
        bar = max(1, int(slot * 0.7))
        for index, value in enumerate(values):
            if value == 0 or span == 0:
                continue
            x0 = padding + int(index * slot + (slot - bar) / 2)
            size = max(1, round(float(abs(value) / span) * (bottom - top)))
            if value > 0:
                fill(x0, zero_y - size, x0 + bar, zero_y, BAR)
            else:
                fill(x0, zero_y, x0 + bar, zero_y + size, CREDIT)
    fill(padding, zero_y, width - padding, zero_y + 1, AXIS)
    return encode_png(canvas, width)
