"""Recognizer crops of things that are not plates, to be read as nothing.

The detector takes shop lettering, signs, grilles and striped facades for plates now and then
(bench: `python -m runtime.evaluate --set backgrounds`), and a recognizer that only ever saw
plates reads a plate's text into any of them. Trained on these crops with the empty text as
their target, it answers the end token first there, and the runtime drops a box read as
nothing (runtime/reader.py). The crops come from the plate-free photos the scene renderer
already draws on (runtime/splits.py::rendered_backgrounds), so no backgrounds figure counts
them. Like the detector's false positives they are mostly busy: the window with the most
edges of a few, and half of them with lettering or another distractor (distractors.py) across
it. Torch-free: numpy + cv2 only.
"""
from __future__ import annotations

import cv2
import numpy as np

from export.data import degrade
from export.data.distractors import badge, grille, lettering, render_distractor, sign
from export.data.scenes import blend, tint

ASPECTS = (1.2, 4.5)  # width / height of a window: from a two-line plate's shape to a long word
WINDOWS = 4  # windows drawn per crop; the busiest is kept
P_DISTRACTOR = 0.5
KINDS = (lettering, lettering, grille, sign, badge)  # mostly words: what the detector most often takes for plates


def _window(rng: np.random.Generator, photo: np.ndarray) -> tuple[int, int, int, int]:
    """A plate-shaped window x, y, w, h inside the photo."""
    H, W = photo.shape[:2]
    h = min(int(rng.uniform(12, max(13.0, 0.4 * H))), H - 2)
    w = int(min(W - 2, h * rng.uniform(*ASPECTS)))
    return int(rng.integers(0, W - w)), int(rng.integers(0, H - h)), w, h


def _busiest(rng: np.random.Generator, photo: np.ndarray) -> tuple[int, int, int, int]:
    """Of WINDOWS windows, the one with the strongest mean gradient: text, bars and edges."""
    def edges(win: tuple[int, int, int, int]) -> float:
        x, y, w, h = win
        patch = photo[y:y + h, x:x + w].astype(np.float32)
        return float(np.abs(np.diff(patch, axis=1)).mean() + np.abs(np.diff(patch, axis=0)).mean())
    return max((_window(rng, photo) for _ in range(WINDOWS)), key=edges)


def _fitting_distractor(rng: np.random.Generator, width: float, room: tuple[int, int]) -> np.ndarray:
    """A distractor of KINDS `width` px wide, shrunk to fit in room (height, width) with a margin for its warp."""
    flat = render_distractor(rng, width, KINDS)
    shrink = min(1.0, 0.8 * room[0] / flat.shape[0], 0.8 * room[1] / flat.shape[1])
    if shrink < 1.0:
        size = (max(2, int(flat.shape[1] * shrink)), max(2, int(flat.shape[0] * shrink)))
        flat = cv2.resize(flat, size, interpolation=cv2.INTER_AREA)
    return flat


def _add_distractor(rng: np.random.Generator, canvas: np.ndarray, corners: np.ndarray) -> None:
    """Blend a distractor, as wide as most of the window and no larger than the canvas, over its centre."""
    (x0, y0), (x1, y1) = corners.min(axis=0), corners.max(axis=0)
    flat = _fitting_distractor(rng, (x1 - x0) * rng.uniform(0.6, 1.0), canvas.shape[:2])
    bgra, _ = degrade.warp_image(rng, flat, max_yaw=30.0)
    bh, bw = bgra.shape[:2]
    bx, by = int((x0 + x1 - bw) / 2), int((y0 + y1 - bh) / 2)
    if 0 <= bx and 0 <= by and bx + bw <= canvas.shape[1] and by + bh <= canvas.shape[0]:
        blend(rng, canvas, bgra, bx, by, soft=0.5)


def negative_sample(rng: np.random.Generator, photos: list[np.ndarray], width: int, height: int) -> np.ndarray:
    """One width x height BGR crop of no plate: a window of a tinted grey photo, seen at a plate's
    camera size (30-80 px high, as degrade._effective_height) through the same camera model and
    detector framing as degrade.recognizer_sample's plates."""
    photo = photos[int(rng.integers(len(photos)))]
    x, y, w, h = _busiest(rng, photo)
    scale = rng.uniform(30, 80) / h
    pad = int(0.5 * h) + 2
    x0, y0 = max(0, x - pad), max(0, y - pad)
    region = photo[y0:y + h + pad, x0:x + w + pad]
    size = (max(2, round(region.shape[1] * scale)), max(2, round(region.shape[0] * scale)))
    canvas = tint(rng, cv2.resize(region, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR))
    corners = (np.float32([[x, y], [x + w, y], [x + w, y + h], [x, y + h]]) - np.float32([x0, y0])) * np.float32(scale)
    if rng.random() < P_DISTRACTOR:
        _add_distractor(rng, canvas, corners)
    canvas = degrade.camera(rng, canvas, corners, h * scale, p_occlude=0.0)
    return degrade.detector_crop(rng, canvas, corners, width, height)
