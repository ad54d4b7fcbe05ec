"""Plate-like things that are not plates, drawn into detector scenes as negatives.

On real street frames most of the detector's false positives are lettering (bus and shop
logos), red reflectors and tail lights, road signs, car badges, grilles and windows (looked
at on scenes-ro frames). The synthetic scenes had none of these: every bit of text and every
bright bar in them was a plate, so 'text or a bright bar' was enough to say 'plate'. Each
shape here is drawn flat as BGRA (alpha = its own outline, never a filled plate-like card
behind text) and pasted unlabelled, with the plates' perspective and lighting, so it trains
as background. Torch-free: numpy + cv2 only.
"""
from __future__ import annotations

import string

import cv2
import numpy as np

CANVAS_W = 160  # shapes are drawn at this width, then scaled to their size in the scene
SUB = 4  # fixed-point bits for anti-aliased drawing
FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX,
         cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_SCRIPT_SIMPLEX)
INKS = np.array([(245, 245, 245), (200, 200, 200), (20, 20, 20), (30, 200, 230), (40, 40, 200), (60, 160, 230),
                 (200, 120, 40)], np.float32)  # BGR: white, grey, black, yellow, red, orange, blue
SIGN_COLOURS = np.array([(170, 90, 20), (40, 40, 190), (30, 190, 230), (240, 240, 240), (60, 120, 30)], np.float32)


def _mask(height: int) -> np.ndarray:
    """An empty alpha mask CANVAS_W wide (uint8: cv2 draws text only on 8 bits)."""
    return np.zeros((height, CANVAS_W), np.uint8)


def _canvas(height: int) -> tuple[np.ndarray, np.ndarray]:
    """An empty colour layer and alpha mask, for shapes of more than one colour."""
    return np.zeros((height, CANVAS_W, 3), np.uint8), _mask(height)


def _inked(ink: tuple[float, ...], mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A one-colour shape: the ink everywhere, the mask says where."""
    return np.broadcast_to(np.array(ink, np.uint8), mask.shape + (3,)).copy(), mask


def _poly(points: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(points, np.float64) * (1 << SUB)).astype(np.int32)


def _colour(rng: np.random.Generator, palette: np.ndarray) -> tuple[float, ...]:
    c = palette[int(rng.integers(len(palette)))] * rng.uniform(0.7, 1.1)
    return tuple(float(v) for v in np.clip(c, 0, 255))


def lettering(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A word or code in a stroke font, sometimes in an outline frame or over a second line: logos, shop signs."""
    if rng.random() < 0.6:  # short codes (bus lines, house numbers); never plate-length
        word = "".join(rng.choice(list(string.ascii_uppercase + string.digits), int(rng.integers(2, 6))))
    else:
        word = "".join(rng.choice(list(string.ascii_lowercase + "."), int(rng.integers(3, 9))))
    font = int(FONTS[int(rng.integers(len(FONTS)))]) | (cv2.FONT_ITALIC if rng.random() < 0.3 else 0)
    thick = int(rng.integers(1, 5))
    (tw, th), base = cv2.getTextSize(word, font, 1.0, thick)
    scale = (CANVAS_W * rng.uniform(0.6, 0.9)) / max(tw, 1)
    height = int(max(th + base, 8) * scale * 1.9) + 8
    mask = _mask(height)
    org = (int((CANVAS_W - tw * scale) / 2), int(height / 2 + th * scale / 2))
    thick_px = max(1, int(round(thick * scale)))
    cv2.putText(mask, word, org, font, scale, 255, thick_px, cv2.LINE_AA)
    if rng.random() < 0.4:  # tagline under the word
        cv2.putText(mask, word[::-1].lower(), (org[0], min(height - 2, org[1] + int(th * scale * 0.7))),
                    cv2.FONT_HERSHEY_SIMPLEX, scale * 0.35, 255, max(1, thick_px // 2), cv2.LINE_AA)
    if (len(word) <= 3 or word.islower()) and rng.random() < 0.4:  # logo frame; a code in a frame would be a plate
        cv2.rectangle(mask, (3, 3), (CANVAS_W - 4, height - 4), 255, max(1, thick_px // 2), cv2.LINE_AA)
    return _inked(_colour(rng, INKS), mask)


def light(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A saturated red or amber bar, lit or not, with a soft glow: reflectors, tail and brake lights.

    Longer and brighter than a plate (at least 3.5:1): a dark red card of a plate's shape is
    what a red Brazilian plate looks like when its text is blurred away, and must stay a plate.
    """
    height = int(CANVAS_W / rng.uniform(3.5, 10.0))
    layer, alpha = _canvas(height + 8)
    slant = rng.uniform(-0.25, 0.25) * CANVAS_W
    quad = np.array([[4 + max(slant, 0), 4], [CANVAS_W - 4 + min(slant, 0), 4],
                     [CANVAS_W - 4 - max(slant, 0), height + 4], [4 - min(slant, 0), height + 4]])
    red = (rng.uniform(10, 50), rng.uniform(10, 60) if rng.random() < 0.7 else rng.uniform(90, 150), rng.uniform(170, 255))
    cv2.fillConvexPoly(layer, _poly(quad), red, cv2.LINE_AA, SUB)
    cv2.fillConvexPoly(alpha, _poly(quad), 255, cv2.LINE_AA, SUB)
    if rng.random() < 0.4:  # lit: a pale core
        core = quad.mean(0) + (quad - quad.mean(0)) * np.array([0.8, 0.35])
        cv2.fillConvexPoly(layer, _poly(core), (200, 210, 255), cv2.LINE_AA, SUB)
    glow = rng.uniform(0.0, 3.0)
    if glow > 0.5:
        alpha = cv2.GaussianBlur(alpha, (0, 0), glow)
        layer = cv2.GaussianBlur(layer, (0, 0), glow)
    return layer, alpha


def sign(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A coloured panel, triangle or disc with a pale pictogram or border: road and shop signs."""
    height = int(CANVAS_W * rng.uniform(0.5, 1.0))
    layer, alpha = _canvas(height)
    base, mark = _colour(rng, SIGN_COLOURS), _colour(rng, INKS[:3])
    shape = int(rng.integers(3))
    if shape == 0:
        outline = np.array([[2, 2], [CANVAS_W - 3, 2], [CANVAS_W - 3, height - 3], [2, height - 3]])
    elif shape == 1:
        outline = np.array([[CANVAS_W / 2, 2], [CANVAS_W - 3, height - 3], [2, height - 3]])
    else:
        t = np.linspace(0, 2 * np.pi, 40, endpoint=False)
        outline = np.stack([CANVAS_W / 2 + np.cos(t) * (CANVAS_W / 2 - 3), height / 2 + np.sin(t) * (height / 2 - 3)], 1)
    cv2.fillPoly(layer, [_poly(outline)], base, cv2.LINE_AA, SUB)
    cv2.fillPoly(alpha, [_poly(outline)], 255, cv2.LINE_AA, SUB)
    centre = outline.mean(0)
    if rng.random() < 0.5:
        cv2.polylines(layer, [_poly(centre + (outline - centre) * 0.85)], True, mark, 3, cv2.LINE_AA, SUB)
    for _ in range(int(rng.integers(1, 5))):  # pictogram strokes
        a, b = centre + rng.uniform(-0.3, 0.3, (2, 2)) * (CANVAS_W, height)
        cv2.line(layer, tuple(_poly(a)), tuple(_poly(b)), mark, int(rng.integers(3, 9)), cv2.LINE_AA, SUB)
    return layer, alpha


def badge(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A chrome ellipse with strokes inside: car makers' badges."""
    height = int(CANVAS_W * rng.uniform(0.4, 0.8))
    mask = _mask(height)
    centre, axes = (CANVAS_W // 2, height // 2), (CANVAS_W // 2 - 4, height // 2 - 4)
    width = int(rng.integers(3, 9))
    cv2.ellipse(mask, centre, axes, 0, 0, 360, 255, width, cv2.LINE_AA)
    for _ in range(int(rng.integers(1, 4))):
        a, b = np.array(centre) + rng.uniform(-0.6, 0.6, (2, 2)) * axes
        cv2.line(mask, tuple(int(v) for v in a), tuple(int(v) for v in b), 255, width, cv2.LINE_AA)
    return _inked(tuple(np.full(3, rng.uniform(150, 240))), mask)


def grille(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Parallel bars, or a frame with cross bars: radiator grilles, vents and windows."""
    height = int(CANVAS_W * rng.uniform(0.25, 0.7))
    mask = _mask(height)
    width = int(rng.integers(2, 8))
    rows, cols = int(rng.integers(1, 5)), int(rng.integers(0, 4))
    for y in np.linspace(2, height - 3, rows + 1):
        cv2.line(mask, (2, int(y)), (CANVAS_W - 3, int(y)), 255, width, cv2.LINE_AA)
    for x in np.linspace(2, CANVAS_W - 3, cols + 1) if cols else ():
        cv2.line(mask, (int(x), 2), (int(x), height - 3), 255, width, cv2.LINE_AA)
    return _inked(tuple(np.full(3, rng.uniform(20, 240))), mask)


KINDS = (lettering, light, sign, badge, grille)


def render_distractor(rng: np.random.Generator, width: float) -> np.ndarray:
    """One random plate-like non-plate, `width` px wide, as BGRA uint8 (alpha = its shape)."""
    layer, alpha = KINDS[int(rng.integers(len(KINDS)))](rng)
    size = (max(2, int(round(width))), max(2, int(round(width * layer.shape[0] / CANVAS_W))))
    interpolation = cv2.INTER_AREA if size[0] < CANVAS_W else cv2.INTER_LINEAR
    return cv2.resize(np.dstack([layer, alpha]), size, interpolation=interpolation)
