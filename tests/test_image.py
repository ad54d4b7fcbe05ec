"""Image decoding: formats, typed errors, header-size check before decoding."""
import struct

import cv2
import numpy as np
import pytest

from runtime.image import (ImageError, ImageTooLargeError, NotAnImageError, TruncatedImageError, header_info,
                           load_image)

IMG = np.random.default_rng(0).integers(0, 255, (30, 50, 3), dtype=np.uint8)


@pytest.mark.parametrize("ext, fmt", [(".jpg", "jpeg"), (".png", "png"), (".bmp", "bmp"), (".webp", "webp")])
def test_header_size_matches(ext, fmt):
    data = cv2.imencode(ext, IMG)[1].tobytes()
    assert header_info(data) == (fmt, 50, 30)
    assert load_image(data).shape == (30, 50, 3)


def test_path_and_arrays(tmp_path):
    path = tmp_path / "a.png"
    cv2.imwrite(str(path), IMG)
    assert np.array_equal(load_image(path), IMG)
    assert load_image(str(path)).shape == (30, 50, 3)
    assert load_image(IMG) is IMG  # BGR arrays are used as they are
    assert load_image(IMG[..., 0]).shape == (30, 50, 3)
    assert load_image(np.dstack([IMG, IMG[..., :1]])).shape == (30, 50, 3)
    with pytest.raises(ImageError):
        load_image(IMG.astype(np.float32))
    with pytest.raises(ImageError, match="cannot read"):
        load_image(tmp_path / "missing.jpg")


def test_errors_are_typed():
    jpg = cv2.imencode(".jpg", IMG)[1].tobytes()
    with pytest.raises(ImageError, match="empty"):
        load_image(b"")
    with pytest.raises(NotAnImageError):
        load_image(b"GIF89a not supported")
    with pytest.raises(TruncatedImageError):
        load_image(jpg[:-100])
    with pytest.raises(TruncatedImageError):
        load_image(jpg[:10])
    with pytest.raises(ImageTooLargeError):
        load_image(jpg, max_pixels=1000)
    with pytest.raises(ImageTooLargeError):
        load_image(IMG, max_pixels=1000)


def test_jpeg_bomb_refused_before_decoding():
    jpg = bytearray(cv2.imencode(".jpg", IMG)[1].tobytes())
    i = 2
    while jpg[i + 1] not in (0xC0, 0xC2):  # find the SOF marker and rewrite its size
        i += 2 + struct.unpack(">H", jpg[i + 2:i + 4])[0]
    jpg[i + 5:i + 9] = struct.pack(">HH", 60000, 60000)
    with pytest.raises(ImageTooLargeError, match="60000x60000"):
        load_image(bytes(jpg))


def test_jpeg_with_data_after_end_marker_is_fine():
    jpg = cv2.imencode(".jpg", IMG)[1].tobytes() + b"trailing data appended by some cameras"
    assert load_image(jpg).shape == (30, 50, 3)
