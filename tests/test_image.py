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


def _with_exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    """The JPEG with an APP1 Exif segment holding only an Orientation tag, as phones write it."""
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + struct.pack(">H", 1)
    tiff += struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(">I", 0)
    body = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body + jpeg[2:]


def test_phone_photos_are_turned_as_their_exif_orientation_says():
    """Boxes come back in the photo as it is shown, so a portrait phone photo stays portrait."""
    image = np.zeros((20, 40, 3), np.uint8)
    image[:, :20] = 255  # white left half
    jpeg = cv2.imencode(".jpg", image)[1].tobytes()
    assert load_image(jpeg).shape == (20, 40, 3)
    turned = load_image(_with_exif_orientation(jpeg, 6))  # 6: turn 90 degrees clockwise to show
    assert turned.shape == (40, 20, 3)
    assert turned[:20].mean() > 200 and turned[20:].mean() < 50  # the left half is now the top
