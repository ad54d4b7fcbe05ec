"""Synthetic detector training scenes: backgrounds with pasted, perspective-warped plates.

A scene is a background (a tinted grey image from the assets, or a real scenes-ro
dash-cam frame that keeps its real plate boxes) with 0..4 rendered Brazilian plates
placed under a random perspective, blended with a feathered alpha and matched to the
local brightness, then degraded as a whole (blur, noise, JPEG, brightness, colour
cast). ~10% of scenes are negatives without any plate. Every scene may also get a few
unlabelled plate-like shapes (distractors.py: lettering, lights, signs, badges, grilles)
that the detector must learn to leave alone. A plate whose characters the scene's blur,
darkness and noise have wiped out (character_contrast) is an ignore label: a blank
rectangle is not a plate to find, nor background either.

Labels give, per plate, the bounding box (x, y, w, h) in pixels (the bounding box of the
corners), the four corners TL, TR, BR, BL in image pixels (as degrade.warp_image maps
them, i.e. cv2's convention; sub-pixel accurate), the text and the format. Real frame
plates have corners/text/fmt None. Given real plate crops, a quarter of the pasted plates
are those crops, whose frame's corners are rough (they train the box only). Pasted plates
are always fully inside the image.
Perspective, blur and JPEG come from degrade.py; the rest is scene-level work here.
Torch-free: numpy + cv2 only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from export.data.assets import Assets
from export.data.distractors import render_distractor
from export.data.plates import Plate, render_plate
from export.data.real import Frame

from export.data import degrade as _degrade
from runtime.crops import plate_size

P_NEGATIVE = 0.10           # scenes with no plate at all
P_REAL_FRAME = 0.5          # when frames are given: real dash-cam background
P_CAR = 0.45                # synthetic plate drawn on a car-like body
P_REAL_CROP = 0.25          # when crops are given: a pasted plate is a real crop, not a rendered one
MIN_PLATE_W = 20.0
MAX_PLATE_W_FRAC = 0.45
MAX_IOU = 0.05
P_LOOK_ALIKE = 0.75         # real crops kept around a known hard negative of the frame
MIN_KEEP_FRAC = 0.6         # real boxes cut by the crop by more than 40% are ignored
PAD_VALUE = 114             # same grey as the detector letterbox padding
MIN_CHARACTER_CONTRAST = 12.0  # grey levels; below it no character is visible (chosen by eye on rendered plates)
P_DISTRACTORS = (0.4, 0.3, 0.2, 0.1)  # odds of 0, 1, 2, 3 unlabelled plate-like shapes per scene
MAX_YAW = 40.0              # degrees; plates and look-alikes alike
MAX_ROLLS = (10.0, 30.0)    # degrees: half the plates nearly level as a dash cam sees them, half turned as
                            # far as a phone held askew or a sloping street shows them (trained up to 10
                            # degrees only, the detector found 18% of real plates turned by 20)

_FRAME_CACHE: dict[str, np.ndarray] = {}
_FRAME_CACHE_MAX = 24


@dataclass
class PlateLabel:
    """One plate: box (x, y, w, h) float pixels; corners (4,2) TL,TR,BR,BL or None for real boxes.

    ignore: a plate the detector must neither find nor call background (a real plate without
    a box, or a boxed one the crop cuts in half); other plates still keep off it.
    rough: corners that follow the plate only roughly (a real crop's frame): they train the box
    and confidence, not the corner head.
    """

    box: tuple[float, float, float, float]
    corners: np.ndarray | None = None
    text: str | None = None
    fmt: str | None = None
    ignore: bool = False
    rough: bool = False


@dataclass
class Scene:
    """A detector training image (H,W,3 uint8 BGR) and its plate labels."""

    image: np.ndarray
    plates: list[PlateLabel] = field(default_factory=list)


# ----------------------------------------------------------------------------- geometry

def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """IoU of two x,y,w,h boxes (used to keep pasted plates off existing labels)."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def _overlap_frac(box: tuple[float, float, float, float], region: tuple[float, float, float, float]) -> float:
    """Fraction of box covered by region (a car body must not hide an existing plate)."""
    ix = max(0.0, min(box[0] + box[2], region[0] + region[2]) - max(box[0], region[0]))
    iy = max(0.0, min(box[1] + box[3], region[1] + region[3]) - max(box[1], region[1]))
    return ix * iy / max(box[2] * box[3], 1e-6)


def _corners_box(corners: np.ndarray, width: int, height: int) -> tuple[float, float, float, float]:
    """Axis-aligned bounding box of the corners, clipped to the image."""
    x0, y0 = np.clip(corners.min(0), 0, [width, height])
    x1, y1 = np.clip(corners.max(0), 0, [width, height])
    return float(x0), float(y0), float(x1 - x0), float(y1 - y0)


def _plate_width(rng: np.random.Generator, largest: float) -> float:
    """Log-uniform plate width so small (hard, common in practice) plates dominate."""
    hi = max(MIN_PLATE_W * 1.5, largest)
    return float(math.exp(rng.uniform(math.log(MIN_PLATE_W), math.log(hi))))


# ----------------------------------------------------------------------------- backgrounds

def _tint(rng: np.random.Generator, grey: np.ndarray) -> np.ndarray:
    """Grey -> plausible colour: per-channel gains times a smooth, mild colour gradient."""
    h, w = grey.shape[:2]
    gains = np.clip(1.0 + rng.normal(0.0, 0.1, 3), 0.75, 1.25).astype(np.float32)
    img = cv2.merge([grey, grey, grey]).astype(np.float32)
    if rng.random() < 0.6:  # low-frequency colour variation (sky, walls, foliage)
        small = (1.0 + rng.uniform(-0.15, 0.15, (3, 3, 3))).astype(np.float32) * gains
        img *= cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    else:
        img *= gains
    return np.clip(img, 0, 255).astype(np.uint8)


def _grey_background(rng: np.random.Generator, assets: Assets, width: int, height: int
                     ) -> tuple[np.ndarray, float]:
    """Random crop of a random asset background, resized to fill width x height, tinted.

    Also returns the upscale factor: the asset images are small, so the background is soft
    and pasted plates must be softened alike or sharpness alone would give them away.
    """
    bgs = assets.backgrounds
    if not bgs:
        return _tint(rng, np.full((height, width), int(rng.integers(40, 200)), np.uint8)), 1.0
    g = bgs[int(rng.integers(len(bgs)))]
    gh, gw = g.shape[:2]
    aspect = width / height
    cw = min(gw, max(8, int(gw * rng.uniform(0.5, 1.0))))
    ch = min(gh, max(8, int(round(cw / aspect))))
    cw = min(gw, max(8, int(round(ch * aspect))))
    x0, y0 = int(rng.integers(0, gw - cw + 1)), int(rng.integers(0, gh - ch + 1))
    crop = g[y0:y0 + ch, x0:x0 + cw]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    crop = cv2.resize(crop, (width, height), interpolation=cv2.INTER_LINEAR)
    return _tint(rng, crop), max(width / cw, height / ch)


def _read_frame(path: str) -> np.ndarray:
    """Decode a frame with a small cache (consecutive calls often reuse frames in tests/previews)."""
    img = _FRAME_CACHE.get(path)
    if img is None:
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            raise FileNotFoundError(path)
        if len(_FRAME_CACHE) >= _FRAME_CACHE_MAX:
            _FRAME_CACHE.pop(next(iter(_FRAME_CACHE)))
        _FRAME_CACHE[path] = img
    return img


def _origin(rng: np.random.Generator, out: int, scaled: int, keep: tuple[float, float] | None) -> int:
    """Where a scaled frame's origin lands along one axis of the output: anywhere that leaves no
    gap on both sides, and, given keep=(a, b) in scaled pixels, where [a, b] stays in view."""
    lo, hi = min(0, out - scaled), max(0, out - scaled)
    if keep is not None:
        in_lo, in_hi = max(lo, int(np.ceil(-keep[0]))), min(hi, int(np.floor(out - keep[1])))
        if in_lo <= in_hi:
            lo, hi = in_lo, in_hi
    return int(rng.integers(lo, hi + 1))


def _real_background(rng: np.random.Generator, frame: Frame, width: int, height: int
                     ) -> tuple[np.ndarray, list[PlateLabel], tuple[int, int, int, int], float]:
    """Scale a real frame by 0.5-1.5, crop/pad to width x height, and carry its boxes along.

    The frame's unboxed plates, and boxed plates the crop cuts by more than 40%, come along as
    ignore labels: half a plate is not background either. Three crops in four of a frame with
    look-alikes (things the detector took for plates) are placed to keep one in view.

    Where the scaled frame is smaller than the output it is padded with the letterbox grey,
    as the runtime letterbox does. Returns (image, labels, content rect x0,y0,x1,y1, scale);
    synthetic plates go only inside the content rect.
    """
    src = _read_frame(str(frame.path))
    sh, sw = src.shape[:2]
    s = float(rng.uniform(0.5, 1.5))
    fw, fh = max(1, int(round(sw * s))), max(1, int(round(sh * s)))
    scaled = cv2.resize(src, (fw, fh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    sx, sy = fw / sw, fh / sh
    keep_x = keep_y = None
    if len(frame.look_alikes) and rng.random() < P_LOOK_ALIKE:
        x, y, w, h = frame.look_alikes[int(rng.integers(len(frame.look_alikes)))].astype(np.float64)
        keep_x, keep_y = (x * sx, (x + w) * sx), (y * sy, (y + h) * sy)
    ox = _origin(rng, width, fw, keep_x)  # output pos of the frame origin
    oy = _origin(rng, height, fh, keep_y)
    img = np.full((height, width, 3), PAD_VALUE, np.uint8)
    x0, y0, x1, y1 = max(ox, 0), max(oy, 0), min(ox + fw, width), min(oy + fh, height)
    img[y0:y1, x0:x1] = scaled[y0 - oy:y1 - oy, x0 - ox:x1 - ox]
    labels = []
    for boxes, unboxed in ((frame.boxes, False), (frame.unboxed, True)):
        for x, y, w, h in boxes.astype(np.float64):
            bx, by, bw, bh = x * sx + ox, y * sy + oy, w * sx, h * sy
            cx0, cy0 = max(bx, 0.0), max(by, 0.0)
            cx1, cy1 = min(bx + bw, float(width)), min(by + bh, float(height))
            if cx1 <= cx0 or cy1 <= cy0:
                continue
            cut = (cx1 - cx0) * (cy1 - cy0) < MIN_KEEP_FRAC * bw * bh
            labels.append(PlateLabel((cx0, cy0, cx1 - cx0, cy1 - cy0), ignore=unboxed or cut))
    return img, labels, (x0, y0, x1, y1), s


# ----------------------------------------------------------------------------- pasting

def _match_light(rng: np.random.Generator, patch: np.ndarray, region: np.ndarray, alpha: np.ndarray,
                 soft: float) -> np.ndarray:
    """Pull the plate's brightness and colour partly toward the surroundings, and soften it.

    A plate in shadow or at dusk is darker and takes the scene's colour cast; without this
    the pasted plates are the brightest, cleanest thing in the image and trivially easy.
    ``soft`` is the background's own blur (sigma, px) so the plate is not sharper than it.
    """
    p = patch.astype(np.float32)
    wsum = float(alpha.sum()) + 1e-6
    pm = (p * alpha[..., None]).reshape(-1, 3).sum(0) / wsum
    bm = region.reshape(-1, 3).astype(np.float32).mean(0)
    lp, lb = float(pm.mean()) + 1.0, float(bm.mean()) + 1.0
    gain = float(np.clip((lb / lp) ** rng.uniform(0.25, 0.7), 0.35, 1.25))
    cast = ((bm + 8.0) / (bm.mean() + 8.0)) ** rng.uniform(0.3, 0.9)
    p *= (gain * cast).astype(np.float32)
    if rng.random() < 0.3:  # light gradient / partial shadow across the plate
        ramp = np.linspace(rng.uniform(0.55, 1.0), rng.uniform(0.85, 1.1), p.shape[1], dtype=np.float32)
        p *= ramp[None, :, None]
    sigma = soft * rng.uniform(0.7, 1.1) + (rng.uniform(0.2, 0.7) if rng.random() < 0.6 else 0.0)
    if sigma > 0.25:
        p = cv2.GaussianBlur(p, (0, 0), sigma)
    return p


_CAR_COLOURS = np.array([(235, 235, 235), (190, 190, 195), (120, 120, 125), (40, 40, 40), (30, 30, 160),
                         (150, 70, 30), (40, 60, 40), (170, 200, 215), (20, 20, 25), (60, 110, 150)], np.float32)


def _car_rect(rng: np.random.Generator, quad: np.ndarray) -> tuple[float, float, float, float]:
    """Rear-of-car rectangle (x, y, w, h) around a plate: plate low and centred, as on real cars."""
    c = quad.mean(0)
    pw = float(np.linalg.norm(quad[1] - quad[0]))
    ph = float(np.linalg.norm(quad[3] - quad[0]))
    cw = pw * rng.uniform(3.2, 5.0)
    ch = max(cw * rng.uniform(0.6, 0.85), ph * 5)
    return float(c[0] - cw * rng.uniform(0.45, 0.55)), float(c[1] - ch * rng.uniform(0.62, 0.75)), cw, ch


def _car_body(rng: np.random.Generator, img: np.ndarray, rect: tuple[float, float, float, float],
              plate_bottom: float) -> None:
    """Draw a shaded car rear (body, window, lights, bumper, shadow) in place.

    Gives plates the context they have in reality (a plate sits on a car, not on a wall),
    so the detector cannot key on 'bright rectangle on arbitrary texture'.
    """
    ih, iw = img.shape[:2]
    x, y, w, h = rect
    rx0, ry0 = max(int(x) - 2, 0), max(int(y) - 2, 0)
    rx1, ry1 = min(int(x + w) + 2, iw), min(int(y + h * 1.06) + 2, ih)
    if rx1 - rx0 < 4 or ry1 - ry0 < 4:
        return
    rw, rh = rx1 - rx0, ry1 - ry0
    S = 4  # fixed-point subpixel bits for cv2 drawing

    def pts(*xy: float) -> np.ndarray:
        a = np.array(xy, np.float64).reshape(-1, 2) - [rx0, ry0]
        return np.round(a * (1 << S)).astype(np.int32)

    col = _CAR_COLOURS[int(rng.integers(len(_CAR_COLOURS)))] * np.float32(rng.uniform(0.7, 1.1))
    layer = np.zeros((rh, rw, 3), np.float32)
    mask = np.zeros((rh, rw), np.float32)
    r = w * 0.1
    body = pts(x + r, y, x + w - r, y, x + w, y + r, x + w, y + h, x, y + h, x, y + r)
    cv2.fillPoly(mask, [body], 1.0, cv2.LINE_AA, shift=S)
    cv2.fillPoly(layer, [body], tuple(float(v) for v in col), cv2.LINE_AA, shift=S)
    win = pts(x + w * 0.14, y + h * 0.05, x + w * 0.86, y + h * 0.05, x + w * 0.9, y + h * 0.36, x + w * 0.1, y + h * 0.36)
    cv2.fillPoly(layer, [win], tuple(float(v) for v in col * 0.25 + rng.uniform(10, 40)), cv2.LINE_AA, shift=S)
    red = (25.0, 25.0, float(rng.uniform(110, 220)))
    ly, lh, lw = y + h * rng.uniform(0.4, 0.5), h * rng.uniform(0.08, 0.14), w * rng.uniform(0.1, 0.18)
    cv2.fillPoly(layer, [pts(x + w * 0.03, ly, x + w * 0.03 + lw, ly, x + w * 0.03 + lw, ly + lh, x + w * 0.03, ly + lh)],
                 red, cv2.LINE_AA, shift=S)
    cv2.fillPoly(layer, [pts(x + w * 0.97 - lw, ly, x + w * 0.97, ly, x + w * 0.97, ly + lh, x + w * 0.97 - lw, ly + lh)],
                 red, cv2.LINE_AA, shift=S)
    by = max(plate_bottom + h * 0.03, y + h * 0.8)
    cv2.fillPoly(layer, [pts(x, by, x + w, by, x + w, y + h, x, y + h)], tuple(float(v) for v in col * 0.45),
                 cv2.LINE_AA, shift=S)
    # curved-surface shading: brighter top, darker sides and bottom
    u = np.linspace(-1, 1, rw, dtype=np.float32) * np.float32(rw / max(w, 1))
    v = np.linspace(0, 1, rh, dtype=np.float32)
    layer *= ((1.12 - 0.3 * v)[:, None] * (1.0 - 0.25 * u * u)[None, :])[..., None]
    shadow = np.zeros((rh, rw), np.float32)
    cv2.ellipse(shadow, (int((x + w / 2 - rx0)), int(y + h - ry0)), (int(w * 0.55), max(1, int(h * 0.06))),
                0, 0, 360, 0.6, -1, cv2.LINE_AA)
    k = max(1.0, w / 150)
    mask = cv2.GaussianBlur(mask, (0, 0), k * 0.6)
    shadow = cv2.GaussianBlur(shadow, (0, 0), k * 2) * (1 - mask)
    roi = img[ry0:ry1, rx0:rx1].astype(np.float32)
    roi = roi * (1 - shadow)[..., None]
    roi = layer * mask[..., None] + roi * (1 - mask)[..., None]
    img[ry0:ry1, rx0:rx1] = np.clip(roi, 0, 255).astype(np.uint8)


def _recess(rng: np.random.Generator, img: np.ndarray, quad: np.ndarray) -> None:
    """Darken a soft margin around the plate (holder frame / bumper recess) in place.

    Real plates sit in a frame or recess that casts a thin shadow; a hard-edged plate on
    untouched background is the typical copy-paste artefact a detector can learn instead.
    """
    ih, iw = img.shape[:2]
    c = quad.mean(0)
    big = c + (quad - c) * np.float32(rng.uniform(1.05, 1.15))
    x0, y0 = np.maximum(np.floor(big.min(0)).astype(int) - 3, 0)
    x1, y1 = np.minimum(np.ceil(big.max(0)).astype(int) + 3, [iw, ih])
    if x1 - x0 < 3 or y1 - y0 < 3:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.float32)
    cv2.fillConvexPoly(mask, np.round((big - [x0, y0]) * 16).astype(np.int32), 1.0, cv2.LINE_AA, shift=4)
    side = float(np.linalg.norm(quad[3] - quad[0]))
    mask = cv2.GaussianBlur(mask, (0, 0), max(0.5, side * 0.06)) * np.float32(rng.uniform(0.25, 0.6))
    roi = img[y0:y1, x0:x1]
    roi[:] = (roi.astype(np.float32) * (1 - mask)[..., None]).astype(np.uint8)


def _free(box: tuple[float, float, float, float], labels: list[PlateLabel]) -> bool:
    """No IoU >= 0.05 with any label, and no small plate hidden inside a big one (IoU misses that)."""
    for lb in labels:
        if _iou(box, lb.box) >= MAX_IOU or max(_overlap_frac(box, lb.box), _overlap_frac(lb.box, box)) > 0.1:
            return False
    return True


def _place(rng: np.random.Generator, pw: int, ph: int, labels: list[PlateLabel], corners: np.ndarray,
           rect: tuple[int, int, int, int], tries: int = 12) -> tuple[int, int] | None:
    """Top-left offset for a (ph, pw) warped patch inside rect (x0,y0,x1,y1) and off other labels."""
    rx0, ry0, rx1, ry1 = rect
    if pw > rx1 - rx0 or ph > ry1 - ry0:
        return None
    for _ in range(tries):
        x0, y0 = int(rng.integers(rx0, rx1 - pw + 1)), int(rng.integers(ry0, ry1 - ph + 1))
        if _free(_corners_box(corners + np.array([x0, y0], np.float32), rx1, ry1), labels):
            return x0, y0
    return None


def _paste_plate(rng: np.random.Generator, img: np.ndarray, plate: Plate, labels: list[PlateLabel],
                 rect: tuple[int, int, int, int], soft: float, largest: float, p_car: float = P_CAR) -> PlateLabel | None:
    """A rendered plate warped, placed, lit and blended (_paste); None if no room."""
    if rng.random() < 0.15:
        plate = Plate(plate.image.copy(), plate.text, plate.fmt, plate.two_line, plate.scheme)
        _degrade.dirt(rng, plate.image)
    quad = _paste(rng, img, plate.image, labels, rect, soft, largest, p_car)
    if quad is None:
        return None
    return PlateLabel(_corners_box(quad, img.shape[1], img.shape[0]), quad, plate.text, plate.fmt)


def _paste_crop(rng: np.random.Generator, img: np.ndarray, crop: np.ndarray, labels: list[PlateLabel],
                rect: tuple[int, int, int, int], soft: float, largest: float) -> PlateLabel | None:
    """A real plate crop pasted as a rendered plate is: the wear, paint and infrared looks of real
    Brazilian plates that the renderer does not draw. The crop's frame is the plate's only to a
    few percent, so its corners train the box alone (PlateLabel.rough); None if no room."""
    quad = _paste(rng, img, crop, labels, rect, soft, largest, p_car=0.0)
    if quad is None:
        return None
    return PlateLabel(_corners_box(quad, img.shape[1], img.shape[0]), quad, rough=True)


def _paste(rng: np.random.Generator, img: np.ndarray, flat: np.ndarray, labels: list[PlateLabel],
           rect: tuple[int, int, int, int], soft: float, largest: float, p_car: float) -> np.ndarray | None:
    """Warp a frontal plate image (degrade.warp_image), place it off the other labels, maybe on a
    drawn car or in a recess, light-match and alpha-blend it in place -> its corners, or None."""
    h, w = flat.shape[:2]
    bgra, corners = _degrade.warp_image(rng, flat, target_h=_plate_width(rng, largest) * h / w,
                                        max_yaw=MAX_YAW, max_roll=float(rng.choice(MAX_ROLLS)))
    ph, pw = bgra.shape[:2]
    pos = _place(rng, pw, ph, labels, corners, rect)
    if pos is None:
        return None
    x0, y0 = pos
    quad = (corners + np.array([x0, y0], np.float32)).astype(np.float32)
    if rng.random() < p_car:
        car = _car_rect(rng, quad)
        if all(_overlap_frac(lb.box, car) == 0.0 for lb in labels):
            _car_body(rng, img, car, float(quad[:, 1].max()))
    if rng.random() < 0.5:
        _recess(rng, img, quad)
    _blend(rng, img, bgra, x0, y0, soft)
    return quad


def _blend(rng: np.random.Generator, img: np.ndarray, bgra: np.ndarray, x0: int, y0: int, soft: float) -> None:
    """Light-match a warped BGRA patch to the scene under it and alpha-blend it in place at x0, y0."""
    ph, pw = bgra.shape[:2]
    alpha = bgra[..., 3].astype(np.float32) * np.float32(1.0 / 255.0)
    region = img[y0:y0 + ph, x0:x0 + pw]
    lit = _match_light(rng, bgra[..., :3], region, alpha, soft)
    a = alpha[..., None]
    region[:] = np.clip(lit * a + region.astype(np.float32) * (1 - a), 0, 255).astype(np.uint8)


def _paste_distractors(rng: np.random.Generator, img: np.ndarray, labels: list[PlateLabel],
                       rect: tuple[int, int, int, int], soft: float, largest: float) -> None:
    """0-3 unlabelled plate-like shapes (distractors.py), sized, warped and lit like the plates."""
    for _ in range(int(rng.choice(4, p=P_DISTRACTORS))):
        flat = render_distractor(rng, _plate_width(rng, largest))
        bgra, corners = _degrade.warp_image(rng, flat, target_h=float(flat.shape[0]),
                                             max_yaw=MAX_YAW, max_roll=float(rng.choice(MAX_ROLLS)))
        pos = _place(rng, bgra.shape[1], bgra.shape[0], labels, corners, rect)
        if pos is not None:
            _blend(rng, img, bgra, *pos, soft)


# ----------------------------------------------------------------------------- degradations

_NOISE_TILE = np.random.default_rng(20240601).normal(0.0, 1.0, (768, 768, 3)).astype(np.float32)


def _degrade_scene(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Whole-image camera effects so pasted plates share the scene's blur/noise/compression.

    Blur and JPEG come from degrade.py. Its lighting/colour/noise cost 15-40 ms each at
    640x640 (too slow for >= 40 scenes/s), so exposure and cast are a per-channel affine map
    here and noise is a random window of a fixed gaussian tile.
    """
    out = img.astype(np.float32)
    gain = rng.uniform(0.6, 1.3) * np.clip(1.0 + rng.normal(0, 0.06, 3), 0.8, 1.2)
    out *= gain.astype(np.float32)
    out += np.float32(rng.uniform(-25, 20))
    if rng.random() < 0.5:
        out = _degrade.blur(rng, out, plate_h=30.0)
    if rng.random() < 0.5:
        out = _add_noise(rng, out, float(rng.uniform(2, 10)))
    out = np.clip(out, 0, 255).astype(np.uint8)
    if rng.random() < 0.6:
        out = _degrade.jpeg(rng, out, 30, 95)
    return out


def _add_noise(rng: np.random.Generator, img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian sensor noise from a random window of a precomputed tile (fast, seed-deterministic)."""
    h, w = img.shape[:2]
    th, tw = _NOISE_TILE.shape[:2]
    if h > th or w > tw:
        return img + rng.normal(0.0, sigma, img.shape).astype(np.float32)
    oy, ox = int(rng.integers(0, th - h + 1)), int(rng.integers(0, tw - w + 1))
    return cv2.scaleAdd(_NOISE_TILE[oy:oy + h, ox:ox + w], sigma, img)


# ----------------------------------------------------------------------------- legibility

def character_contrast(image: np.ndarray, corners: np.ndarray, height: int = 32) -> float:
    """How far a plate's characters stand out of its ground in the final image, in grey levels.

    The plate is rectified to `height` px, band-passed (1 px minus 6 px Gaussian: strokes kept,
    noise and shading taken out) and its character band (rows 30-90%, columns 8-92%) averaged
    down each column, where strokes and the gaps between characters alternate and noise
    averages away; the figure is 4x the standard deviation of that profile (about the
    stroke-to-gap difference). A background blurred, dark or noisy enough can leave a
    rendered plate a blank rectangle: about 1 in 6 plates >= 40 px in 1280x720 scenes.
    """
    plate_width, plate_height = plate_size(corners)
    width = max(4, int(round(height * plate_width / max(plate_height, 1e-3))))
    flat_corners = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    matrix = cv2.getPerspectiveTransform(corners.astype(np.float32), flat_corners)
    flat = cv2.warpPerspective(image, matrix, (width, height), flags=cv2.INTER_LINEAR)
    grey = cv2.cvtColor(flat, cv2.COLOR_BGR2GRAY).astype(np.float32)
    detail = cv2.GaussianBlur(grey, (0, 0), 1.0) - cv2.GaussianBlur(grey, (0, 0), 6.0)
    band = detail[int(height * 0.3):int(height * 0.9), int(width * 0.08):int(width * 0.92)]
    return float(band.mean(axis=0).std() * 4)


def _ignore_blank(image: np.ndarray, labels: list[PlateLabel]) -> list[PlateLabel]:
    """Synthetic plates without a visible character become ignore labels."""
    return [replace(p, ignore=True) if p.corners is not None and not p.ignore
            and character_contrast(image, p.corners) < MIN_CHARACTER_CONTRAST else p for p in labels]


# ----------------------------------------------------------------------------- entry point

def render_scene(rng: np.random.Generator, assets: Assets, width: int = 640, height: int = 640,
                 frames: list[Frame] | None = None, largest_plate: float | None = None,
                 crops: list[np.ndarray] | None = None) -> Scene:
    """One detector training scene; deterministic given the rng state.

    crops: real plate crops, of which P_REAL_CROP of the pasted plates are drawn (_paste_crop).

    largest_plate: widest plate in pixels, default MAX_PLATE_W_FRAC * width. A training crop
    smaller than the detector's input passes a larger one (train_detector: 95% of the crop),
    or close-up plates would never be seen at the scale the detector meets them.
    """
    largest = MAX_PLATE_W_FRAC * width if largest_plate is None else largest_plate
    if rng.random() < P_NEGATIVE:
        img, up = _grey_background(rng, assets, width, height)
        _paste_distractors(rng, img, [], (0, 0, width, height), 0.4 * (up - 1.0), largest)
        return Scene(_degrade_scene(rng, img), [])
    if frames and rng.random() < P_REAL_FRAME:
        img, labels, rect, scale = _real_background(rng, frames[int(rng.integers(len(frames)))], width, height)
        soft = 0.4 * scale  # video frames are soft; upscaling softens further
        n, p_car = int(rng.choice(4, p=[0.3, 0.35, 0.25, 0.1])), P_CAR / 2  # drawn cars look odd among real ones
    else:
        img, up = _grey_background(rng, assets, width, height)
        labels, rect, soft = [], (0, 0, width, height), 0.4 * (up - 1.0)
        n, p_car = int(rng.choice([1, 2, 3, 4], p=[0.4, 0.3, 0.2, 0.1])), P_CAR
    for _ in range(n):
        if crops and rng.random() < P_REAL_CROP:
            lb = _paste_crop(rng, img, crops[int(rng.integers(len(crops)))], labels, rect, soft, largest)
        else:
            lb = _paste_plate(rng, img, render_plate(rng, assets), labels, rect, soft, largest, p_car)
        if lb is not None:
            labels.append(lb)
    _paste_distractors(rng, img, labels, rect, soft, largest)
    img = _degrade_scene(rng, img)
    return Scene(img, _ignore_blank(img, labels))
