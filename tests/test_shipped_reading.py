"""The shipped models find and read clean rendered plates from far away to close up.

A plate pasted flat into a 1280x720 frame, 60 to 800 px wide, both formats, one and two
lines: the reader must return its box (IoU >= 0.5) and its text. Close-ups guard against a
detector trained only on plates smaller than it meets (the first detector missed most
plates wider than 250 px, the second those over 600 px). Portrait frames (720x1280) guard the turned input: letterboxed
into the landscape input, their small plates shrink below what the detector can find.
Plates under 50 px wide (TINY) must be found and read with at most one character wrong: their
characters are 4-5 px wide, where the old font's O and Q differ by a pixel (the 40 px plate,
OSA6490, is read QSA6490 by the detector of 13500 steps, OSA6490 by the one before it).
Needs the fonts and glyphs in ../shared to render; skips otherwise.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from runtime.metrics import edit_distance, iou_xywh
from runtime.reader import PlateReader

SHARED = Path(__file__).resolve().parents[2] / "shared"
MODELS = Path(__file__).resolve().parents[1] / "models"

pytestmark = pytest.mark.skipif(
    not (SHARED / "data").is_dir() or not (MODELS / "manifest.json").is_file(), reason="shared data or models absent"
)

TINY = 50  # px: below this a plate need only be read to within one character
CASES = [  # (format, two lines, plate width, frame width, frame height)
    ("old", False, 60, 1280, 720), ("old", False, 160, 1280, 720), ("old", False, 480, 1280, 720),
    ("mercosul", False, 80, 1280, 720), ("mercosul", False, 300, 1280, 720), ("mercosul", False, 480, 1280, 720),
    ("old", True, 200, 1280, 720), ("mercosul", True, 260, 1280, 720),
    ("mercosul", False, 700, 1280, 720), ("old", False, 800, 1280, 720),
    ("old", False, 40, 720, 1280), ("mercosul", False, 44, 720, 1280), ("old", False, 400, 720, 1280),
    ("mercosul", False, 52, 1080, 1920),
]


@pytest.fixture(scope="module")
def assets():
    from export.data.assets import load_assets

    return load_assets(SHARED / "data", SHARED / "fonts")


@pytest.fixture(scope="module")
def reader() -> PlateReader:
    return PlateReader(models_dir=MODELS, providers="cpu", threads=1)


def street(width: int, height: int) -> np.ndarray:
    """A plain, blurred, mid-grey frame: nothing plate-like but the plate."""
    rng = np.random.default_rng(1)
    return cv2.GaussianBlur(rng.integers(60, 160, (height, width, 3), dtype=np.uint8), (0, 0), 6)


@pytest.mark.parametrize("fmt,two_line,plate_width,frame_width,frame_height", CASES)
def test_reads_pasted_plate(assets, reader: PlateReader, fmt: str, two_line: bool, plate_width: int,
                            frame_width: int, frame_height: int) -> None:
    from export.data.plates import render_plate

    plate = render_plate(np.random.default_rng(plate_width), assets, fmt=fmt, two_line=two_line)
    h, w = plate.image.shape[:2]
    size = (plate_width, round(plate_width * h / w))
    frame = street(frame_width, frame_height)
    x, y = frame_width // 2 - size[0] // 2, frame_height - size[1] - 60
    frame[y : y + size[1], x : x + size[0]] = cv2.resize(plate.image, size, interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok

    plates = reader.read(jpeg.tobytes())

    truth = np.array([[x, y, size[0], size[1]]], np.float64)
    found = [p for p in plates if iou_xywh(np.array([p.box], np.float64), truth).max() >= 0.5]
    assert len(found) == 1, [p.box for p in plates]
    if plate_width < TINY:
        assert edit_distance(found[0].text, plate.text) <= 1, (found[0].text, plate.text)
    else:
        assert found[0].text == plate.text
