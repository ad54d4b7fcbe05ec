"""Plate crops for the recognizer: rectified from the 4 corners when they are trustworthy,
else the axis-aligned box; both stretched to the recognizer's input size."""
from __future__ import annotations

import cv2
import numpy as np

MIN_QUAD_AREA_FRACTION = 0.25  # quad must cover this much of its box: else corners are noise
QUAD_MARGIN = 0.25  # corners may stick out of the box by this fraction of its size


def is_valid_quad(corners: np.ndarray, box: np.ndarray) -> bool:
    """True if TL,TR,BR,BL form a convex, clockwise (image coords), non-degenerate quad near the box."""
    if corners is None or corners.shape != (4, 2) or not np.isfinite(corners).all():
        return False
    edges = np.roll(corners, -1, axis=0) - corners
    nxt = np.roll(edges, -1, axis=0)
    cross = edges[:, 0] * nxt[:, 1] - edges[:, 1] * nxt[:, 0]
    if not (cross > 0).all():  # clockwise on screen (y down) and convex at every corner
        return False
    x1, y1, x2, y2 = (float(v) for v in box)
    bw, bh = x2 - x1, y2 - y1
    if bw < 2 or bh < 2:
        return False
    area = 0.5 * abs(float(np.dot(corners[:, 0], np.roll(corners[:, 1], -1)) - np.dot(corners[:, 1], np.roll(corners[:, 0], -1))))
    if area < MIN_QUAD_AREA_FRACTION * bw * bh:
        return False
    mx, my = QUAD_MARGIN * bw, QUAD_MARGIN * bh
    xs, ys = corners[:, 0], corners[:, 1]
    return bool((xs >= x1 - mx).all() and (xs <= x2 + mx).all() and (ys >= y1 - my).all() and (ys <= y2 + my).all())


def plate_size(corners: np.ndarray) -> tuple[float, float]:
    """Width and height of the plate a TL,TR,BR,BL quad shows: means of its opposite sides."""
    sides = np.linalg.norm(corners - np.roll(corners, -1, axis=0), axis=1)  # top, right, bottom, left
    return float(sides[0] + sides[2]) / 2, float(sides[1] + sides[3]) / 2


def rectify(image: np.ndarray, corners: np.ndarray, width: int, height: int) -> np.ndarray:
    """Warp the quad TL,TR,BR,BL onto a width x height rectangle.

    A plate much larger than the crop is first shrunk with area averaging (see shrink), so the
    bilinear warp does not alias its strokes.
    """
    corners = corners.astype(np.float32)
    x0, y0 = np.floor(corners.min(axis=0)).astype(int).clip(0)
    x1, y1 = np.ceil(corners.max(axis=0)).astype(int)
    region = image[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)]
    plate_width, plate_height = plate_size(corners)
    factor = min(plate_width / width, plate_height / height)
    small = shrink(region, factor)
    scale = np.float32([small.shape[1] / region.shape[1], small.shape[0] / region.shape[0]])
    target = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    matrix = cv2.getPerspectiveTransform((corners - np.float32([x0, y0])) * scale, target)
    return cv2.warpPerspective(small, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def shrink(image: np.ndarray, factor: float) -> np.ndarray:
    """The image made `factor` times smaller with area averaging, when that is more than 1.5x.

    The real crops the recognizer trained on were shrunk this way (INTER_AREA); a bilinear
    resize of a large plate keeps every other pixel and reads worse.
    """
    if factor <= 1.5:
        return image
    h, w = image.shape[:2]
    return cv2.resize(image, (max(1, round(w / factor)), max(1, round(h / factor))), interpolation=cv2.INTER_AREA)


def box_crop(image: np.ndarray, box: np.ndarray, width: int, height: int) -> np.ndarray:
    """Axis-aligned crop stretched to width x height: area averaging where it shrinks both ways."""
    x1, y1 = int(np.floor(box[0])), int(np.floor(box[1]))
    x2, y2 = max(x1 + 1, int(np.ceil(box[2]))), max(y1 + 1, int(np.ceil(box[3])))
    shrinking = x2 - x1 >= width and y2 - y1 >= height
    return cv2.resize(image[y1:y2, x1:x2], (width, height),
                      interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def widened(corners: np.ndarray, margin: float, width: int, height: int) -> np.ndarray:
    """The quad TL,TR,BR,BL grown about its centre by `margin` of its size on each side, or as
    far as a width x height image reaches: past its edge the warp could only repeat the edge
    (a plate photographed alone fills its image)."""
    centre = corners.mean(axis=0)
    reach = corners - centre
    room = np.where(reach > 0, (np.float32([width, height]) - centre) / np.where(reach > 0, reach, 1),
                    np.where(reach < 0, -centre / np.where(reach < 0, reach, -1), np.inf))
    factor = max(1.0, min(1 + 2 * margin, float(room.min())))
    return (centre + reach * factor).astype(np.float32)


def crop_plate(image: np.ndarray, box: np.ndarray, corners: np.ndarray | None, width: int, height: int,
               margin: float) -> tuple[np.ndarray, bool]:
    """(crop HxWx3 uint8, rectified?) for one detection in original pixels. A valid quad is
    widened by `margin` (one of the manifest's recognizer.crop_margins): the recognizer reads real plates best
    framed as its real training crops were, with their border and a little around it."""
    if corners is not None and is_valid_quad(corners, box):
        return rectify(image, widened(corners, margin, image.shape[1], image.shape[0]), width, height), True
    return box_crop(image, box, width, height), False


def plate_views(image: np.ndarray, box: np.ndarray, corners: np.ndarray | None, width: int, height: int,
                margins: tuple[float, ...]) -> list[tuple[np.ndarray, bool]]:
    """crop_plate once per crop margin: the views of one look at a plate that the recognizer reads
    together (runtime/recognizer.py)."""
    return [crop_plate(image, box, corners, width, height, margin) for margin in margins]
