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


def rectify(image: np.ndarray, corners: np.ndarray, width: int, height: int) -> np.ndarray:
    """Warp the quad TL,TR,BR,BL onto a width x height rectangle (one cv2 call, no copies)."""
    target = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    matrix = cv2.getPerspectiveTransform(corners.astype(np.float32), target)
    return cv2.warpPerspective(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def box_crop(image: np.ndarray, box: np.ndarray, width: int, height: int) -> np.ndarray:
    """Axis-aligned crop (a view) stretched to width x height."""
    x1, y1 = int(np.floor(box[0])), int(np.floor(box[1]))
    x2, y2 = max(x1 + 1, int(np.ceil(box[2]))), max(y1 + 1, int(np.ceil(box[3])))
    return cv2.resize(image[y1:y2, x1:x2], (width, height), interpolation=cv2.INTER_LINEAR)


def crop_plate(image: np.ndarray, box: np.ndarray, corners: np.ndarray | None, width: int, height: int) -> tuple[np.ndarray, bool]:
    """(crop HxWx3 uint8, rectified?) for one detection in original pixels."""
    if corners is not None and is_valid_quad(corners, box):
        return rectify(image, corners, width, height), True
    return box_crop(image, box, width, height), False
