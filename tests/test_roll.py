"""runtime/roll.py: a plate's roll is measured from its pixels, and the levelling window undoes it."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from runtime.detector import levelled
from runtime.roll import boxed, corner_roll, is_turned, mapped, plate_roll

PLATE_W, PLATE_H = 300, 100
CENTRE = (640.0, 360.0)
MIN_ROLL, MIN_GAIN = 4.0, 1.5  # the shipped manifest's roll_pass


def drawn_plate() -> np.ndarray:
    """A plate drawn with lines and text alone: light ground, dark border, seven characters."""
    plate = np.full((PLATE_H, PLATE_W, 3), 225, np.uint8)
    cv2.rectangle(plate, (3, 3), (PLATE_W - 4, PLATE_H - 4), (30, 30, 30), 4)
    cv2.putText(plate, "ABC1D23", (22, 72), cv2.FONT_HERSHEY_SIMPLEX, 1.9, (20, 20, 20), 5, cv2.LINE_AA)
    return plate


def turned_into_frame(plate: np.ndarray, roll: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frame, box xyxy, corners TL,TR,BR,BL): the plate turned `roll` degrees clockwise about the
    frame's centre, on a blurred grey street."""
    rng = np.random.default_rng(3)
    frame = cv2.GaussianBlur(rng.integers(70, 150, (720, 1280, 3), dtype=np.uint8), (0, 0), 5)
    turn = cv2.getRotationMatrix2D((PLATE_W / 2, PLATE_H / 2), -roll, 1.0)
    turn[:, 2] += np.float64(CENTRE) - (PLATE_W / 2, PLATE_H / 2)
    size = (frame.shape[1], frame.shape[0])
    inside = cv2.warpAffine(np.full(plate.shape[:2], 255, np.uint8), turn, size) > 127
    frame[inside] = cv2.warpAffine(plate, turn, size, flags=cv2.INTER_LINEAR)[inside]
    corners = mapped(np.float64([[0, 0], [PLATE_W, 0], [PLATE_W, PLATE_H], [0, PLATE_H]]), turn)
    return frame, np.float32([*corners.min(axis=0), *corners.max(axis=0)]), corners


@pytest.mark.parametrize("roll", [-20.0, -11.0, 7.0, 15.0, 25.0])
def test_the_roll_of_a_turned_plate_is_measured_from_its_box(roll: float) -> None:
    frame, box, _ = turned_into_frame(drawn_plate(), roll)
    assert abs(plate_roll(frame, box, MIN_GAIN) - roll) <= 2.0


def test_a_level_plate_is_not_turned() -> None:
    frame, box, _ = turned_into_frame(drawn_plate(), 0.0)
    assert not is_turned(plate_roll(frame, box, MIN_GAIN), MIN_ROLL)
    assert is_turned(MIN_ROLL, MIN_ROLL) and is_turned(-MIN_ROLL, MIN_ROLL) and not is_turned(MIN_ROLL - 0.5, MIN_ROLL)


def test_texture_without_lines_cannot_tell_a_roll() -> None:
    """Blotchy noise has no edges to line up: no angle makes its sums min_gain times as uneven,
    and its best angle is not the unturned one, so the pixels cannot tell (the corners will)."""
    rng = np.random.default_rng(5)
    frame = cv2.GaussianBlur(rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8), (0, 0), 3)
    box = np.float32([490, 310, 790, 410])
    assert plate_roll(frame, box, MIN_GAIN) is None
    assert plate_roll(frame, box, 1.0) not in (None, 0.0)  # without the guard, some angle always wins


def test_a_flat_region_cannot_tell_a_roll() -> None:
    """A blown-out plate or the letterbox grey: every angle leaves it even, so none wins."""
    frame = np.full((720, 1280, 3), 255, np.uint8)
    assert plate_roll(frame, np.float32([490, 310, 790, 410]), MIN_GAIN) is None


def test_where_the_pixels_cannot_tell_the_detector_takes_the_corners_roll() -> None:
    """A blown-out plate has no edges to measure; the network's corners still say how it is turned.
    Where the edges can tell, they win over corners that say otherwise."""
    from types import SimpleNamespace

    from runtime.detector import Detector
    detector = SimpleNamespace(spec=SimpleNamespace(roll_min_gain=MIN_GAIN))
    box = np.float32([490, 310, 790, 410])
    row = np.concatenate([box, [0.9], boxed(box, 9.0).reshape(8)]).astype(np.float32)
    blown_out = np.full((720, 1280, 3), 255, np.uint8)
    assert abs(Detector.roll(detector, blown_out, row) - 9.0) < 1e-4
    frame, plate_box, _ = turned_into_frame(drawn_plate(), -11.0)
    row[:4] = plate_box
    assert abs(Detector.roll(detector, frame, row) + 11.0) <= 2.0


@pytest.mark.parametrize("roll", [-12.0, 0.0, 7.5])
def test_the_corners_roll_is_the_slope_of_their_top_and_bottom_edges(roll: float) -> None:
    corners = boxed(np.float32([100, 50, 300, 130]), roll)
    assert abs(corner_roll(corners.reshape(8)) - roll) < 1e-6


def test_a_small_plate_is_measured_too() -> None:
    """A plate 75 px wide (the box is sampled at its own height, not enlarged)."""
    frame, box, _ = turned_into_frame(drawn_plate(), 12.0)
    small = cv2.resize(frame, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    assert abs(plate_roll(small, box * 0.25, MIN_GAIN) - 12.0) <= 2.0


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_the_levelling_window_shows_the_plate_level_and_maps_back(scale: float) -> None:
    frame, box, corners = turned_into_frame(drawn_plate(), 18.0)
    window, matrix = levelled(frame, CENTRE, 18.0, scale, 480, 256, 114)
    level = mapped(corners, matrix)
    assert window.shape == (256, 480, 3)
    assert np.allclose(level[0, 1], level[1, 1], atol=1e-6) and np.allclose(level[0, 0], level[3, 0], atol=1e-6)
    assert np.allclose(level.mean(axis=0), (240, 128), atol=1e-6)  # the plate's centre is the window's
    assert np.allclose(level[1, 0] - level[0, 0], PLATE_W * scale, atol=1e-6)
    # The window's pixels are the frame's through the same map: its grey ground and dark border.
    x, y = np.rint(level.mean(axis=0)).astype(int)
    assert abs(int(window[y, x - int(0.45 * PLATE_W * scale)].mean()) - 225) < 30
    back = mapped(level, cv2.invertAffineTransform(matrix))
    assert np.allclose(back, corners, atol=1e-6)


@pytest.mark.parametrize("angle", [25.0, -25.0])
def test_a_box_found_in_a_turned_view_comes_back_turned(angle: float) -> None:
    """A level box in the picture seen turned `angle` degrees anticlockwise is a plate turned
    `angle` clockwise in the photo: its corners come back turned, its box is their bounding box,
    in original pixels (the picture is the photo at half size)."""
    from runtime.detector import turned_back
    from runtime.roll import levelling

    matrix = levelling((320.0, 180.0), angle, 1.0, 448, 384)
    row = np.float32([200, 150, 260, 170, 0.9, 200, 150, 260, 150, 260, 170, 200, 170])
    back = turned_back(row[None], cv2.invertAffineTransform(matrix), 0.5)[0]
    corners = back[5:13].reshape(4, 2)
    np.testing.assert_allclose(corners, mapped(row[5:13].reshape(4, 2), cv2.invertAffineTransform(matrix)) * 2, atol=1e-3)
    top_edge = corners[1] - corners[0]
    assert np.degrees(np.arctan2(top_edge[1], top_edge[0])) == pytest.approx(angle, abs=1e-3)  # y down: clockwise
    np.testing.assert_allclose(back[:4], [*corners.min(axis=0), *corners.max(axis=0)], atol=1e-3)
    assert back[4] == row[4]


@pytest.mark.parametrize("roll", [0.0, 3.0, -12.0])
def test_a_boxed_plate_is_the_turned_rectangle_its_box_bounds(roll: float) -> None:
    _, _, corners = turned_into_frame(drawn_plate(), roll)
    box = np.array([*corners.min(axis=0), *corners.max(axis=0)])
    rectangle = boxed(box, roll)
    np.testing.assert_allclose(rectangle, corners, atol=1e-6)  # the plate itself, whatever its corners said
    top = rectangle[1] - rectangle[0]
    assert math.degrees(math.atan2(top[1], top[0])) == pytest.approx(roll, abs=1e-6)
