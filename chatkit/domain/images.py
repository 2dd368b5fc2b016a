"""Judging and cleaning an uploaded image, by its bytes alone.

The declared content type and file name are ignored: Pillow decides what the bytes
are, and only JPEG, PNG, GIF and WebP are accepted. Every image is decoded fully (a
truncated or corrupt file is refused) and re-encoded: the EXIF orientation is applied
to the pixels, then every metadata block (EXIF with its GPS position, XMP, comments)
is left behind. PNG and GIF are lossless, so their pixels come back identical; JPEG
and WebP are re-encoded at a high quality. Dimensions are checked from the header,
before decoding, so a decompression bomb costs nothing.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from chatkit.domain.errors import PayloadTooLarge, UnsupportedMediaType

FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}
JPEG_QUALITY = 90
WEBP_QUALITY = 90
MAX_FRAMES = 500  # an animation longer than this is refused
_KEEP_INFO = ("transparency",)  # what the pixels need; everything else in ``info`` is metadata


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    content_type: str
    width: int
    height: int
    sha256: str


def clean_image(raw: bytes, *, max_pixels: int) -> CleanImage:
    """The image re-encoded without metadata, or ``UnsupportedMediaType`` / ``PayloadTooLarge``.

    CPU-bound: call it off the event loop.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw), formats=list(FORMATS))
            fmt = image.format or ""
            width, height = image.size
            frames = getattr(image, "n_frames", 1)
            if width * height > max_pixels:
                raise PayloadTooLarge(f"Image is too large: {width}x{height} pixels (at most {max_pixels})")
            if frames > MAX_FRAMES or width * height * frames > max_pixels * 10:
                raise PayloadTooLarge("Animated image has too many frames")
            data = _reencode(image, fmt)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PayloadTooLarge(f"Image is too large (at most {max_pixels} pixels)") from None
    except UnidentifiedImageError:
        raise UnsupportedMediaType("Only JPEG, PNG, GIF and WebP images are accepted") from None
    except (OSError, ValueError, SyntaxError, EOFError):  # truncated or corrupt data
        raise UnsupportedMediaType("The file is not a readable image") from None
    return CleanImage(data, FORMATS[fmt], *_size(data), hashlib.sha256(data).hexdigest())


def _reencode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    icc = image.info.get("icc_profile")  # colour, not privacy: kept so colours stay right
    if fmt in ("GIF", "WEBP") and getattr(image, "n_frames", 1) > 1:
        _save_animation(image, fmt, out)
        return out.getvalue()
    upright = ImageOps.exif_transpose(image)
    upright.load()
    # Encoders copy EXIF, XMP and comments from ``info`` unless told otherwise: start clean.
    upright.info = {k: v for k, v in upright.info.items() if k in _KEEP_INFO}
    if fmt == "JPEG":
        if upright.mode not in ("RGB", "L", "CMYK"):
            upright = upright.convert("RGB")
        upright.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, **_icc(icc))
    elif fmt == "PNG":
        upright.save(out, "PNG", **_icc(icc))
    elif fmt == "GIF":
        upright.save(out, "GIF", **({"transparency": upright.info["transparency"]}
                                    if "transparency" in upright.info else {}))
    else:
        upright.save(out, "WEBP", quality=WEBP_QUALITY, **_icc(icc))
    return out.getvalue()


def _save_animation(image: Image.Image, fmt: str, out: io.BytesIO) -> None:
    options: dict[str, object] = {"save_all": True, "loop": image.info.get("loop", 0), "comment": b"",
                                  "exif": b"", "xmp": b""}
    if "duration" in image.info:
        options["duration"] = image.info["duration"]
    if fmt == "WEBP":
        options["quality"] = WEBP_QUALITY
    image.save(out, fmt, **options)


def _icc(profile: object) -> dict[str, object]:
    return {"icc_profile": profile} if isinstance(profile, bytes) else {}


def _size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as reopened:
        return reopened.size
