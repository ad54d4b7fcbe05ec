"""Decode input images (ndarray, bytes or path) to BGR uint8, refusing bad ones early.

The pixel count is read from the file header before anything is decoded, so a small
file that claims a huge size (a decompression bomb) is refused before allocation.
Only formats whose header we can read are accepted; everything else is 'not an image'.
"""
from __future__ import annotations

import os
import struct
from pathlib import Path

import cv2
import numpy as np

DEFAULT_MAX_PIXELS = 40_000_000  # ~ a 7700x5200 photo; 120 MB as BGR


class ImageError(ValueError):
    """The input cannot be used as an image; `status` is the HTTP code a server should answer."""

    status = 400


class NotAnImageError(ImageError):
    status = 415


class TruncatedImageError(ImageError):
    status = 400


class ImageTooLargeError(ImageError):
    status = 413


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the first SOFn segment; None if the header is cut short."""
    i, n = 2, len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            raise TruncatedImageError("corrupt JPEG: bad marker in header")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD9)):  # standalone markers
            i += 2
            continue
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if i + 9 > n:
                return None
            height, width = struct.unpack(">HH", data[i + 5:i + 9])
            return width, height
        if marker == 0xDA:  # scan data before any frame header
            raise TruncatedImageError("corrupt JPEG: no frame header")
        i += 2 + length
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        w = int.from_bytes(data[24:27], "little") + 1
        h = int.from_bytes(data[27:30], "little") + 1
        return w, h
    if chunk == b"VP8 " and len(data) >= 30:
        w, h = struct.unpack("<HH", data[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def header_info(data: bytes) -> tuple[str, int, int]:
    """(format, width, height) from the header alone; NotAnImageError for unknown formats."""
    if data[:3] == b"\xff\xd8\xff":
        size, fmt = _jpeg_size(data), "jpeg"
    elif data[:8] == b"\x89PNG\r\n\x1a\n":
        size = struct.unpack(">II", data[16:24]) if len(data) >= 24 and data[12:16] == b"IHDR" else None
        fmt = "png"
    elif data[:2] == b"BM":
        size = None
        if len(data) >= 26:
            w, h = struct.unpack("<ii", data[18:26])
            size = (abs(w), abs(h))
        fmt = "bmp"
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        size, fmt = _webp_size(data), "webp"
    else:
        raise NotAnImageError("not an image: expected JPEG, PNG, BMP or WebP data")
    if size is None:
        raise TruncatedImageError(f"truncated {fmt.upper()}: the header is incomplete")
    width, height = int(size[0]), int(size[1])
    if width <= 0 or height <= 0:
        raise TruncatedImageError(f"corrupt {fmt.upper()}: image size {width}x{height}")
    return fmt, width, height


def _check_complete(fmt: str, data: bytes) -> None:
    """Refuse files cut short: decoders fill the missing part with grey instead of failing."""
    # In JPEG scan data 0xFF is always followed by 0x00 or RSTn, so FFD9 after the first
    # scan marker is the end-of-image marker (data appended after it, e.g. motion photos, is fine).
    if fmt == "jpeg" and data.rfind(b"\xff\xd9") < data.find(b"\xff\xda"):
        raise TruncatedImageError("truncated JPEG: the end-of-image marker is missing")
    if fmt == "png" and b"IEND" not in data[-1024:]:
        raise TruncatedImageError("truncated PNG: the IEND chunk is missing")
    if fmt == "webp" and len(data) < 8 + struct.unpack("<I", data[4:8])[0]:
        raise TruncatedImageError("truncated WebP: shorter than its RIFF size")
    if fmt == "bmp" and len(data) < struct.unpack("<I", data[2:6])[0]:
        raise TruncatedImageError("truncated BMP: shorter than its header's file size")


def decode_bytes(data: bytes | bytearray | memoryview, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Encoded image bytes -> BGR uint8 HxWx3 (EXIF orientation applied by OpenCV)."""
    data = bytes(data) if not isinstance(data, bytes) else data
    if not data:
        raise ImageError("empty file: no image data")
    fmt, width, height = header_info(data)
    if width * height > max_pixels:
        raise ImageTooLargeError(f"image is {width}x{height} = {width * height} pixels, over the limit of {max_pixels}")
    _check_complete(fmt, data)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise TruncatedImageError(f"corrupt or truncated {fmt.upper()}: it could not be decoded")
    return image


def as_bgr(array: np.ndarray, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Accept HxW gray, HxWx3 BGR or HxWx4 BGRA uint8 arrays; no copy for BGR."""
    if not isinstance(array, np.ndarray) or array.dtype != np.uint8:
        raise ImageError("image arrays must be numpy uint8")
    if array.ndim == 2:
        array = cv2.cvtColor(array, cv2.COLOR_GRAY2BGR)
    elif array.ndim == 3 and array.shape[2] == 4:
        array = cv2.cvtColor(array, cv2.COLOR_BGRA2BGR)
    elif not (array.ndim == 3 and array.shape[2] == 3):
        raise ImageError(f"image array must be HxW, HxWx3 or HxWx4, got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ImageError("image array is empty")
    if array.strides[2] != 1 or array.strides[1] != 3 or array.strides[0] < 0:
        array = np.ascontiguousarray(array)  # flipped or channel views: OpenCV needs packed pixels
    if array.shape[0] * array.shape[1] > max_pixels:
        raise ImageTooLargeError(f"image has {array.shape[0] * array.shape[1]} pixels, over the limit of {max_pixels}")
    return array


def load_image(source: object, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """ndarray (BGR), encoded bytes, or a file path -> BGR uint8 HxWx3."""
    if isinstance(source, np.ndarray):
        return as_bgr(source, max_pixels)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return decode_bytes(source, max_pixels)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ImageError(f"cannot read {path}: {exc.strerror or exc}") from exc
        return decode_bytes(data, max_pixels)
    raise TypeError(f"expected an ndarray, bytes or a path, got {type(source).__name__}")
