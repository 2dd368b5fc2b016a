"""Images made on the spot for upload tests: real encoder output, with the metadata a phone adds."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

ORIENTATION = 0x0112
GPS_IFD = 0x8825


def png(width: int = 32, height: int = 24, seed: int = 0) -> bytes:
    """A PNG whose pixels all differ, so any change to them shows."""
    image = Image.new("RGB", (width, height))
    image.putdata([((x * 7 + seed) % 256, (y * 11 + seed) % 256, (x * y + seed) % 256)
                   for y in range(height) for x in range(width)])
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def jpeg_from_a_phone(width: int = 40, height: int = 20) -> bytes:
    """A JPEG stored sideways (EXIF orientation 6: turn 90° clockwise to show it) carrying a
    GPS position and a comment: left half red, right half blue as stored."""
    image = Image.new("RGB", (width, height), (255, 0, 0))
    image.paste((0, 0, 255), (width // 2, 0, width, height))
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    gps = exif.get_ifd(GPS_IFD)
    gps[1], gps[2] = "N", (48.0, 51.0, 29.0)  # latitude
    gps[3], gps[4] = "E", (2.0, 17.0, 40.0)  # longitude
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=95, comment=b"shot at home")
    return out.getvalue()


def pixels(data: bytes) -> tuple[tuple[int, int], str, bytes]:
    """Size, format and RGB pixel bytes: equal for two images that look exactly alike."""
    with Image.open(io.BytesIO(data)) as image:
        return image.size, image.format or "", image.convert("RGB").tobytes()


def bomb_png(width: int = 60_000, height: int = 60_000) -> bytes:
    """A few-hundred-byte PNG that claims ``width`` x ``height`` pixels in its header."""
    data = bytearray(png(8, 8))
    ihdr = 8 + 8  # signature, then length + type of the IHDR chunk
    data[ihdr:ihdr + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[12:ihdr + 13])) & 0xFFFFFFFF
    data[ihdr + 13:ihdr + 17] = struct.pack(">I", crc)
    return bytes(data)
