"""How far a plate is turned in the image plane, read from its pixels, and the window that levels it.

The detector's first networks did not follow a plate's roll (a plate turned 10 degrees came out
as a level quad), and the ones trained on turned plates since (session 20) turn their corners on
level plates too. The roll is measured here from the plate's own edges: turned the right way,
the plate's top and bottom edges and the tops and feet of its characters line up along rows,
and its character strokes along columns, so the row and column sums of the edges are at their
most uneven. Where a faint or blown-out plate's edges cannot tell, the network's corners do
(corner_roll). The detector then looks again at the plate in a window turned by that angle,
where it is level, as most plates it learned from were (runtime/detector.py).
"""
from __future__ import annotations

import math

import cv2
import numpy as np

MAX_ROLL = 28  # degrees either way: the search's coarse grid; a plate beyond is left as found
COARSE_STEP, FINE_STEP = 4, 1  # degrees: a coarse grid, then each whole degree around its best
SAMPLE_HEIGHT = 24.0  # pixels: the plate's box is measured at this height (enough for its edges)
INNER = (0.9, 0.8)  # of the box's width and height: the part measured (less the background at its corners)


def unevenness(gray: np.ndarray, centre: tuple[float, float], scale: float, angles: tuple[int, ...],
               width: int, height: int) -> np.ndarray:
    """For each of `angles`, how uneven the edge sums along rows and columns are in a width x
    height window of gray, centred on `centre`, scaled by `scale` and turned by that many degrees
    (anticlockwise on screen, which levels a plate turned clockwise by as much): squared
    coefficients of variation, the higher the better lined up. The windows of all the angles
    are sampled in one remap rather than a warp each: a plate's time went to calls, not pixels."""
    map_x, map_y = sample_maps(centre, scale, angles, width, height)
    windows = cv2.remap(gray, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    windows = windows.reshape(len(angles), height, width).astype(np.int16)
    rows = np.abs(np.diff(windows, axis=1)).sum(axis=2, dtype=np.float64)
    cols = np.abs(np.diff(windows, axis=2)).sum(axis=1, dtype=np.float64)
    return variation(rows) + variation(cols)


def sample_maps(centre: tuple[float, float], scale: float, angles: tuple[int, ...], width: int,
                height: int) -> tuple[np.ndarray, np.ndarray]:
    """Where each pixel of those windows falls in gray (the inverse of `levelling`), the windows
    stacked: x and y maps of [len(angles) * height, width] for cv2.remap. Each is a column term
    plus a row term per angle, so one broadcast builds it."""
    theta = np.radians(np.float64(angles))
    a = (np.cos(theta) / scale).astype(np.float32)[:, None, None]
    b = (np.sin(theta) / scale).astype(np.float32)[:, None, None]
    dx = (np.arange(width, dtype=np.float32) - width / 2)[None, None, :]
    dy = (np.arange(height, dtype=np.float32) - height / 2)[None, :, None]
    map_x = (a * dx + np.float32(centre[0])) - b * dy
    map_y = (b * dx + np.float32(centre[1])) + a * dy
    return map_x.reshape(-1, width), map_y.reshape(-1, width)


def variation(sums: np.ndarray) -> np.ndarray:
    """Squared coefficient of variation of each row of sums: how uneven, whatever the plate's contrast."""
    return (sums.std(axis=1) / (sums.mean(axis=1) + 1e-6)) ** 2


def plate_roll(image: np.ndarray, box: np.ndarray, min_gain: float) -> float | None:
    """Degrees the plate in box (x1, y1, x2, y2, original pixels) is turned clockwise on screen:
    0 for a plate whose edges line up best unturned. None where its pixels cannot tell: the best
    angle makes its edge sums less than `min_gain` times as uneven as unturned (a faint plate, or
    texture), or the region is flat (a blown-out plate, the letterbox grey) and every angle
    leaves it even. Measured on the box's inner part shrunk to SAMPLE_HEIGHT pixels, on a coarse
    grid of angles then to the degree."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    width, height = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
    scale = SAMPLE_HEIGHT / height
    inner_w, inner_h = max(int(width * scale * INNER[0]), 4), max(int(height * scale * INNER[1]), 4)
    reach = 0.6 * max(width, height) + 2  # the region any turn of the inner part can take pixels from
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    left, top = max(int(cx - reach), 0), max(int(cy - reach), 0)
    region = image[top:max(int(cy + reach), top + 1), left:max(int(cx + reach), left + 1)]
    if region.size == 0:
        return None
    gray = cv2.cvtColor(region, cv2.COLOR_BGR2GRAY) if region.ndim == 3 else region
    centre = (cx - left, cy - top)
    if scale < 1:  # shrink once, by averaging, rather than in every warp
        gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        centre, scale = (centre[0] * scale, centre[1] * scale), 1.0

    coarse = tuple(range(-MAX_ROLL, MAX_ROLL + 1, COARSE_STEP))  # holds 0: the unturned score
    scores = unevenness(gray, centre, scale, coarse, inner_w, inner_h)
    unturned, coarse_best = scores[coarse.index(0)], coarse[int(scores.argmax())]
    fine = tuple(range(coarse_best - COARSE_STEP // 2, coarse_best + COARSE_STEP // 2 + 1, FINE_STEP))
    scores = unevenness(gray, centre, scale, fine, inner_w, inner_h)
    best = fine[int(scores.argmax())]
    if scores.max() <= 0:
        return None  # flat: no lines
    if scores.max() >= min_gain * unturned:
        return float(best)
    return 0.0 if coarse_best == 0 else None  # lined up best unturned, or leaning too faintly to tell


def corner_roll(corners: np.ndarray) -> float:
    """Degrees clockwise on screen that corners TL, TR, BR, BL (8 values) are turned: the mean
    slope of their top and bottom edges, the network's own reading of a plate's roll."""
    tl, tr, br, bl = np.asarray(corners, np.float64).reshape(4, 2)
    top, bottom = tr - tl, br - bl
    return math.degrees(math.atan2(top[1] + bottom[1], top[0] + bottom[0]))


def boxed(box: np.ndarray, angle: float) -> np.ndarray:
    """TL,TR,BR,BL of the rectangle turned `angle` degrees clockwise on screen that the box (x1, y1,
    x2, y2) bounds: where a plate's pixels show its roll, its box tells where it is and how large.
    The network's corner head places a two-line plate's top and bottom edges up to a tenth of its
    height inside it, and its box head does not (docs/history.md, session 21)."""
    cos, sin = math.cos(math.radians(angle)), math.fabs(math.sin(math.radians(angle)))
    box_width, box_height = float(box[2] - box[0]), float(box[3] - box[1])
    # A w x h rectangle turned by angle spans w cos + h sin across and w sin + h cos down.
    det = cos * cos - sin * sin
    width = max((cos * box_width - sin * box_height) / det, 1.0)
    height = max((cos * box_height - sin * box_width) / det, 1.0)
    centre = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2], np.float64)
    level = centre + np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * (width / 2, height / 2)
    return mapped(level, cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), -angle, 1.0))


def levelling(centre: tuple[float, float], angle: float, scale: float, width: int, height: int) -> np.ndarray:
    """2x3 affine map from image pixels to a width x height window centred on `centre`, scaled
    by `scale` and turned `angle` degrees anticlockwise: a plate turned `angle` clockwise is level there."""
    matrix = cv2.getRotationMatrix2D(centre, angle, scale)
    matrix[0, 2] += width / 2 - centre[0]
    matrix[1, 2] += height / 2 - centre[1]
    return matrix


def mapped(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """[K,2] points through a 2x3 affine map."""
    return points @ matrix[:, :2].T + matrix[:, 2]


def is_turned(angle: float, min_roll: float) -> bool:
    """Whether a plate measured at `angle` degrees is worth a levelled look: one turned less than
    `min_roll` reads as well as it is."""
    return math.fabs(angle) >= min_roll
