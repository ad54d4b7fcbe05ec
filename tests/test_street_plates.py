"""bench/street_plates.py: a crop covers a street plate's box the way its docstring says."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from street_plates import cover  # noqa: E402


def test_a_crop_covers_the_box_as_wide_with_its_own_shape_and_centre() -> None:
    frame = np.zeros((720, 1280, 3), np.uint8)
    crop = np.full((40, 80, 3), 200, np.uint8)  # aspect 2: a 100 px box gets a 100x50 plate
    x, y, w, h = cover(frame, (500.0, 300.0, 100.0, 24.0), crop)
    assert (w, h) == (100.0, 50.0)
    assert (x + w / 2, y + h / 2) == (550.0, 312.0)  # the centre of the box
    assert (frame[int(y):int(y + h), int(x):int(x + w)] == 200).all()
    assert frame.sum() == 200 * 3 * 100 * 50  # nothing painted outside it


def test_a_box_at_the_frame_edge_keeps_the_whole_crop_inside() -> None:
    frame = np.zeros((720, 1280, 3), np.uint8)
    x, y, w, h = cover(frame, (1230.0, 700.0, 50.0, 20.0), np.full((30, 60, 3), 90, np.uint8))
    assert x + w <= 1280 and y + h <= 720 and w == 50.0
    assert (frame[int(y):, int(x):] == 90).all()


def test_a_turned_crop_is_painted_inside_its_bounding_rectangle_about_the_same_centre() -> None:
    frame = np.zeros((720, 1280, 3), np.uint8)
    crop = np.full((40, 80, 3), 200, np.uint8)
    x, y, w, h = cover(frame, (500.0, 300.0, 100.0, 24.0), crop, roll=20.0)
    turned = np.radians(20.0)
    assert abs(w - (100 * np.cos(turned) + 50 * np.sin(turned))) < 1e-6
    assert abs(h - (100 * np.sin(turned) + 50 * np.cos(turned))) < 1e-6
    assert abs(x + w / 2 - 550.0) < 1e-6 and abs(y + h / 2 - 312.0) < 1e-6
    ys, xs = np.nonzero(frame[..., 0])
    assert xs.min() >= x - 1 and xs.max() <= x + w and ys.min() >= y - 1 and ys.max() <= y + h
    assert abs(len(xs) - 100 * 50) < 0.03 * 100 * 50  # the plate's own area, turned
    # a positive roll turns the plate clockwise on screen: its right end lower than its left
    assert ys[xs > x + 0.9 * w].mean() > ys[xs < x + 0.1 * w].mean()


def test_at_night_the_street_darkens_and_a_lit_plate_keeps_its_characters_dark() -> None:
    from street_plates import at_night, lit

    frame = np.full((10, 10, 3), 128, np.uint8)
    frame[0, 0] = 255
    dark = at_night(frame)
    assert dark[5, 5, 0] < 64 and dark[0, 0, 0] == dark.max()  # the street dark, the brightest spot still brightest
    plate = np.array([[[30, 30, 30], [150, 150, 150]]], np.uint8)  # a character pixel and a ground pixel
    lit_plate = lit(plate).astype(int)
    assert lit_plate[0, 0, 0] <= 30 and lit_plate[0, 1, 0] > 150


SHARED = Path(__file__).resolve().parents[2] / "shared"


def test_rendered_plates_come_in_every_format_and_layout() -> None:
    """--rendered covers the boxes with plates of both formats, one and two lines, labelled so."""
    import pytest

    if not (SHARED / "fonts").is_dir():
        pytest.skip("fonts absent")
    from street_plates import rendered

    plates = rendered(7, SHARED / "data", SHARED / "fonts", 120)
    assert {layout for _, _, layout in plates} == {"old one-line", "old two-line", "mercosul one-line", "mercosul two-line"}
    for image, text, layout in plates:
        assert len(text) == 7 and image.ndim == 3
        assert (image.shape[0] / image.shape[1] > 0.5) == layout.endswith("two-line")  # two lines: a squarer plate
    assert [t for _, t, _ in rendered(7, SHARED / "data", SHARED / "fonts", 5)] == [t for _, t, _ in plates[:5]]
