"""Annotated output image: plate boxes, corners and text with a filled label background."""
from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from .reader import PlateResult

BOX_COLOR = (0, 200, 0)  # BGR
QUAD_COLOR = (255, 160, 0)
TEXT_COLOR = (0, 0, 0)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _label(image: np.ndarray, text: str, x: int, y: int, scale: float, thickness: int) -> None:
    """Text on a filled box above (x, y), or below the top edge if there is no room above."""
    (tw, th), base = cv2.getTextSize(text, FONT, scale, thickness)
    pad = max(2, int(th * 0.25))
    top = y - th - base - 2 * pad
    if top < 0:
        top = y
    x = int(min(max(0, x), max(0, image.shape[1] - tw - 2 * pad)))
    cv2.rectangle(image, (x, top), (x + tw + 2 * pad, top + th + base + 2 * pad), BOX_COLOR, cv2.FILLED)
    cv2.putText(image, text, (x + pad, top + pad + th), FONT, scale, TEXT_COLOR, thickness, cv2.LINE_AA)


def draw_results(image: np.ndarray, results: list["PlateResult"]) -> np.ndarray:
    """A copy of image with every plate drawn; sizes follow the image so labels stay readable."""
    out = image.copy()
    side = max(image.shape[0], image.shape[1])
    thickness = max(1, round(side / 500))
    scale = max(0.5, side / 1400)
    for r in results:
        x, y, w, h = r.box
        if r.corners is not None:
            cv2.polylines(out, [np.round(np.asarray(r.corners)).astype(np.int32)], True, QUAD_COLOR, thickness, cv2.LINE_AA)
        cv2.rectangle(out, (x, y), (x + w, y + h), BOX_COLOR, thickness)
        _label(out, f"{r.text or '?'} {r.confidence:.2f}", x, y, scale, max(1, thickness))
    return out


def encode_jpeg(image: np.ndarray, quality: int = 80) -> bytes:
    """BGR image -> JPEG bytes with cv2 (fast, no Pillow)."""
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()
