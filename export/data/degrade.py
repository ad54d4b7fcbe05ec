"""Camera-like degradations and recognizer training crops.

A frontal plate from plates.py is put under a random perspective into a random context,
passed through a cheap camera model (blur, noise, lighting, colour casts, JPEG) at its
effective camera resolution, and cropped the way a detector would crop it. All work is done
on small arrays so one core makes several hundred crops per second.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from export.data.assets import Assets
from export.data.plates import Plate, render_plate
from runtime.crops import plate_size

Corners = np.ndarray  # (4, 2) float32, TL, TR, BR, BL


# ----------------------------------------------------------------------------- geometry
def perspective_corners(rng: np.random.Generator, w: float, h: float, target_h: float,
                        max_yaw: float = 45.0, max_pitch: float = 20.0, max_roll: float = 10.0) -> Corners:
    """Project a w x h plate rotated in 3-D (yaw, pitch, roll) so that its mean side height is target_h.

    Returned corners are relative to the top-left of their own bounding box.
    Yaw is mostly small (most plates are seen nearly frontally) with a tail up to max_yaw.
    """
    yaw = math.radians(float(np.clip(rng.normal(0, max_yaw / 2.8), -max_yaw, max_yaw)))
    pitch = math.radians(float(np.clip(rng.normal(0, max_pitch / 2.5), -max_pitch, max_pitch)))
    roll = math.radians(float(np.clip(rng.normal(0, max_roll / 2.5), -max_roll, max_roll)))
    pts = np.array([[-w / 2, -h / 2, 0], [w / 2, -h / 2, 0], [w / 2, h / 2, 0], [-w / 2, h / 2, 0]], np.float64)
    cy, sy, cp, sp, cr, sr = math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch), math.cos(roll), math.sin(roll)
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    p = pts @ (rz @ rx @ ry).T
    f = w * rng.uniform(1.5, 4.0)          # focal length: wide to tele
    z = p[:, 2] + f
    xy = p[:, :2] * (f / z)[:, None]
    side = (np.linalg.norm(xy[3] - xy[0]) + np.linalg.norm(xy[2] - xy[1])) / 2
    xy *= target_h / max(side, 1e-6)
    xy -= xy.min(axis=0)
    return xy.astype(np.float32)


def warp_image(rng: np.random.Generator, img: np.ndarray, target_h: float | None = None,
               max_yaw: float = 45.0, max_roll: float = 10.0) -> tuple[np.ndarray, Corners]:
    """A flat BGR or BGRA image under a plate's random perspective, as a BGRA image (alpha =
    coverage) and its corners TL, TR, BR, BL in that image's pixels: paste it by its alpha.

    A BGR image is opaque; a BGRA image keeps its own alpha (a shape that is not a rectangle).
    """
    h, w = img.shape[:2]
    if target_h is None:
        target_h = float(h)
    src_img, _ = _prescale(img, target_h / h)
    dst = perspective_corners(rng, w, h, target_h, max_yaw=max_yaw, max_roll=max_roll) + 1.0
    size = (int(math.ceil(dst[:, 0].max())) + 2, int(math.ceil(dst[:, 1].max())) + 2)
    src = _src_corners(src_img)
    m = cv2.getPerspectiveTransform(src, dst)
    bgra = src_img if src_img.shape[2] == 4 else cv2.cvtColor(src_img, cv2.COLOR_BGR2BGRA)
    out = cv2.warpPerspective(bgra, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return out, dst


def _src_corners(img: np.ndarray) -> Corners:
    h, w = img.shape[:2]
    return np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)


def _prescale(img: np.ndarray, s: float) -> tuple[np.ndarray, float]:
    """Area-downscale before a perspective warp so strong shrinking does not alias."""
    if s >= 0.8:
        return img, 1.0
    h, w = img.shape[:2]
    nw, nh = max(2, int(round(w * s * 1.25))), max(2, int(round(h * s * 1.25)))
    return cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA), nw / w


# ----------------------------------------------------------------------------- context
def _context(rng: np.random.Generator, assets: Assets, w: int, h: int) -> np.ndarray:
    """Surroundings of the plate: a tinted patch of a grey photo, or a car-paint-like surface."""
    if assets.backgrounds and rng.random() < 0.6:
        bg = assets.backgrounds[int(rng.integers(len(assets.backgrounds)))]
        bh, bw = bg.shape
        s = max(w / bw, h / bh) * rng.uniform(1.0, 2.5)
        cw, ch = min(bw, int(math.ceil(w / s)) + 1), min(bh, int(math.ceil(h / s)) + 1)
        x, y = int(rng.integers(0, bw - cw + 1)), int(rng.integers(0, bh - ch + 1))
        g = cv2.resize(bg[y:y + ch, x:x + cw], (w, h), interpolation=cv2.INTER_LINEAR)
        tint = np.diag(rng.uniform(0.6, 1.25, 3) * rng.uniform(0.5, 1.1)).astype(np.float32)
        return cv2.transform(cv2.cvtColor(g, cv2.COLOR_GRAY2BGR), tint)
    col = rng.uniform(10, 230, 3)
    if rng.random() < 0.5:  # most cars are grey/black/white/silver
        col[:] = rng.uniform(10, 230)
    patch = np.stack([col * rng.uniform(0.6, 1.2), col * rng.uniform(0.6, 1.2)])[:, None, :]
    patch = np.clip(patch, 0, 255).astype(np.float32)
    return cv2.resize(patch, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.uint8)


def _holder(rng: np.random.Generator, ctx: np.ndarray, corners: Corners) -> None:
    """Dark plate holder / recess around the plate (common on real cars)."""
    c = corners.mean(axis=0)
    grow = rng.uniform(1.03, 1.15)
    quad = ((corners - c) * np.array([grow, grow * rng.uniform(1.0, 1.15)]) + c).astype(np.int32)
    cv2.fillConvexPoly(ctx, quad, tuple(float(v) for v in rng.uniform(5, 60, 3)), cv2.LINE_AA)


def _composite(rng: np.random.Generator, assets: Assets, plate_img: np.ndarray, target_h: float,
               max_yaw: float = 45.0) -> tuple[np.ndarray, Corners]:
    """Warp the plate straight into a random context canvas with a margin around it."""
    src_img, _ = _prescale(plate_img, target_h / plate_img.shape[0])
    h, w = plate_img.shape[:2]
    dst = perspective_corners(rng, w, h, target_h, max_yaw=max_yaw)
    bw, bh = dst[:, 0].max(), dst[:, 1].max()
    margin = 0.22 * max(bh, 0.35 * bw) + 4
    dst += margin
    cw, ch = int(math.ceil(bw + 2 * margin)), int(math.ceil(bh + 2 * margin))
    ctx = _context(rng, assets, cw, ch)
    if rng.random() < 0.5:
        _holder(rng, ctx, dst)
    m = cv2.getPerspectiveTransform(_src_corners(src_img), dst)
    cv2.warpPerspective(src_img, m, (cw, ch), dst=ctx, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_TRANSPARENT)
    return ctx, dst


# ----------------------------------------------------------------------------- degradations
def dirt(rng: np.random.Generator, img: np.ndarray, n_max: int = 6) -> None:
    """Dark/brown smudges on the plate surface (in place, uint8 frontal plate)."""
    h, w = img.shape[:2]
    for _ in range(int(rng.integers(1, n_max + 1))):
        c = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        ax = (int(rng.integers(2, max(3, w // 12))), int(rng.integers(1, max(2, h // 8))))
        ov = img.copy()
        cv2.ellipse(ov, c, ax, float(rng.uniform(0, 180)), 0, 360, tuple(float(v) for v in rng.uniform(20, 90, 3)), -1)
        a = rng.uniform(0.15, 0.5)
        cv2.addWeighted(ov, a, img, 1 - a, 0, dst=img)


_LUM = np.array([0.114, 0.587, 0.299], np.float32)  # BGR luma weights


def colour_matrix(rng: np.random.Generator, mean_bgr: np.ndarray) -> np.ndarray:
    """One 3x4 affine colour map: exposure, white balance, desaturation / green cast / NIR grey, haze.

    Everything that is linear in the pixel values is folded into a single cv2.transform call.
    """
    gain = rng.uniform(0.75, 1.3) if rng.random() < 0.93 else rng.uniform(0.35, 0.75)
    m = np.diag(gain * rng.uniform(0.88, 1.12, 3)).astype(np.float32)
    off = np.zeros(3, np.float32)
    grey = np.outer(np.ones(3, np.float32), _LUM)
    r = rng.random()
    if r < 0.15:  # strong green cast seen in ~15% of the real crops
        tint = np.array([rng.uniform(0.62, 0.85), rng.uniform(0.9, 1.3), rng.uniform(0.3, 0.6)], np.float32)
        m = (tint[:, None] * grey) @ m
        off += np.array([0, rng.uniform(0, 30), 0], np.float32)
    elif r < 0.23:  # near-infrared camera: grey
        m = grey @ m
    elif rng.random() < 0.85:  # desaturated, like most of the real crops
        sat = rng.uniform(0.05, 0.75)
        m = (sat * np.eye(3, dtype=np.float32) + (1 - sat) * grey) @ m
    if rng.random() < 0.85:  # haze / washed out: contrast pulled towards a (lifted) mean
        c = rng.uniform(0.4, 0.95)
        mean = float((m @ mean_bgr + off).mean()) * rng.uniform(0.9, 1.4)
        m, off = c * m, c * off + (1 - c) * mean
    return np.hstack([m, off[:, None]]).astype(np.float32)


def gamma(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Random gamma through a lookup table (low light / overexposure)."""
    g = rng.uniform(0.6, 1.6)
    lut = np.clip(255.0 * (np.arange(256) / 255.0) ** g, 0, 255).astype(np.uint8)
    return cv2.LUT(img, lut)


def bloom(rng: np.random.Generator, img: np.ndarray, plate_h: float) -> np.ndarray:
    """Halo around bright (retro-reflective) parts, as in the IR-lit green crops."""
    hi = cv2.subtract(img, np.full_like(img, int(rng.uniform(120, 200))))
    glow = cv2.GaussianBlur(hi, (0, 0), max(1.0, plate_h * rng.uniform(0.03, 0.08)))
    return cv2.addWeighted(img, 1.0, glow, float(rng.uniform(0.6, 1.5)), 0)


def shadow(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Soft shadow edge across the plate (e.g. from the bumper or a building)."""
    h, w = img.shape[:2]
    ang = rng.uniform(0, 2 * math.pi)
    gx = np.linspace(-1, 1, w, dtype=np.float32)[None, :] * math.cos(ang)
    gy = np.linspace(-1, 1, h, dtype=np.float32)[:, None] * math.sin(ang)
    t = np.clip((gx + gy) * rng.uniform(2, 8) + rng.uniform(-1, 1), 0, 1)
    f = img.astype(np.float32) * (1 - rng.uniform(0.3, 0.65) * t)[..., None]
    return f.astype(np.uint8)


def glare(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Specular glare spot: an additive bright gaussian blob."""
    h, w = img.shape[:2]
    cx, cy = rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h
    sx, sy = rng.uniform(0.05, 0.3) * w, rng.uniform(0.1, 0.5) * h
    gx = np.exp(-0.5 * ((np.arange(w, dtype=np.float32) - cx) / sx) ** 2)
    gy = np.exp(-0.5 * ((np.arange(h, dtype=np.float32) - cy) / sy) ** 2)
    f = img.astype(np.float32) + (gy[:, None] * gx[None, :] * rng.uniform(40, 130))[..., None]
    return np.clip(f, 0, 255).astype(np.uint8)


def blur(rng: np.random.Generator, img: np.ndarray, plate_h: float) -> np.ndarray:
    """Defocus (gaussian) and motion blur, scaled with the plate size."""
    if rng.random() < 0.75:
        s = rng.uniform(0.2, 0.6) if plate_h < 30 else rng.uniform(0.3, 1.1) * plate_h / 40
        img = cv2.GaussianBlur(img, (0, 0), s)
    if rng.random() < 0.2:
        k = int(rng.integers(3, 4 + int(plate_h / 20)))
        kern = np.zeros((k, k), np.float32)
        kern[k // 2, :] = 1
        rot = cv2.getRotationMatrix2D((k / 2 - 0.5, k / 2 - 0.5), float(rng.uniform(-30, 30)), 1)
        kern = cv2.warpAffine(kern, rot, (k, k))
        img = cv2.filter2D(img, -1, kern / max(kern.sum(), 1e-6))
    return img


_NOISE_BANK: np.ndarray | None = None


def _noise_bank() -> np.ndarray:
    """Fixed bank of gaussian noise (luma in channel 3, chroma in 0..2); random windows are cheap."""
    global _NOISE_BANK
    if _NOISE_BANK is None:
        _NOISE_BANK = np.random.default_rng(1234).standard_normal((384, 768, 4)).astype(np.float32)
    return _NOISE_BANK


def noise(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Sensor noise: luminance + a little chroma noise, from a random window of the noise bank."""
    h, w = img.shape[:2]
    bank = _noise_bank()
    if h > bank.shape[0] or w > bank.shape[1]:
        n = rng.standard_normal((h, w, 4)).astype(np.float32)
    else:
        y, x = int(rng.integers(0, bank.shape[0] - h + 1)), int(rng.integers(0, bank.shape[1] - w + 1))
        n = bank[y:y + h, x:x + w]
    s = rng.uniform(1, 9)
    f = img.astype(np.float32)
    f += n[..., 3:] * s
    f += n[..., :3] * (s * 0.3)
    return np.clip(f, 0, 255).astype(np.uint8)


def jpeg(rng: np.random.Generator, img: np.ndarray, lo: int = 20, hi: int = 95) -> np.ndarray:
    """JPEG round trip at a random quality."""
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(lo, hi + 1))])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else img


def occlude(rng: np.random.Generator, img: np.ndarray, corners: Corners) -> None:
    """Cover a small part of a plate edge (tow hook, bumper, sticker) in place."""
    tl, tr, br, bl = corners
    w = float(np.linalg.norm(tr - tl))
    h = float(np.linalg.norm(bl - tl))
    side = int(rng.integers(4))
    col = tuple(float(v) for v in rng.uniform(0, 200, 3))
    if side == 0:      # left edge strip
        a, b = tl, bl
        d = (tr - tl) / max(w, 1) * w * rng.uniform(0.02, 0.07)
    elif side == 1:    # right edge strip
        a, b = tr, br
        d = (tl - tr) / max(w, 1) * w * rng.uniform(0.02, 0.07)
    elif side == 2:    # top strip
        a, b = tl, tr
        d = (bl - tl) / max(h, 1) * h * rng.uniform(0.04, 0.12)
    else:              # bottom strip
        a, b = bl, br
        d = (tl - bl) / max(h, 1) * h * rng.uniform(0.03, 0.08)
    t0, t1 = sorted(rng.uniform(0, 1, 2))
    p0, p1 = a + (b - a) * t0, a + (b - a) * t1
    quad = np.array([p0 - d * 0.5, p1 - d * 0.5, p1 + d, p0 + d], np.int32)
    cv2.fillConvexPoly(img, quad, col, cv2.LINE_AA)


P_OCCLUDE = 0.08  # characters partly hidden (tow hook, bumper, sticker)
P_TINY = 0.15  # plates 12-30 px high: barely readable on purpose


def camera(rng: np.random.Generator, img: np.ndarray, corners: Corners, plate_h: float,
           p_occlude: float = P_OCCLUDE) -> np.ndarray:
    """The whole camera model on a context canvas holding the plate at its effective size."""
    if rng.random() < 0.3:
        img = shadow(rng, img)
    if rng.random() < 0.1:
        img = glare(rng, img)
    cm = colour_matrix(rng, np.array(cv2.mean(img)[:3], np.float32))
    img = cv2.transform(img, cm)
    green = cm[1, :3].sum() > 1.3 * cm[2, :3].sum() + 0.05
    if rng.random() < (0.7 if green else 0.1):
        img = bloom(rng, img, plate_h)
    if rng.random() < 0.4:
        img = gamma(rng, img)
    if rng.random() < p_occlude:
        occlude(rng, img, corners)
    img = blur(rng, img, plate_h)
    if rng.random() < 0.75:
        img = noise(rng, img)
    if rng.random() < 0.75:
        img = jpeg(rng, img)
    return img


# ----------------------------------------------------------------------------- cropping
def detector_crop(rng: np.random.Generator, img: np.ndarray, corners: Corners, width: int, height: int) -> np.ndarray:
    """Crop like the runtime would: rectified from jittered corners, or an axis-aligned box, then stretched."""
    pw, ph = plate_size(corners)
    if rng.random() < 0.5:
        jit = rng.normal(0, 1, (4, 2)) * np.array([pw, ph]) * rng.uniform(0.005, 0.03)
        src = (corners + jit).astype(np.float32)
        dst = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
        m = cv2.getPerspectiveTransform(src, dst)
        return cv2.warpPerspective(img, m, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    x0, y0 = corners.min(axis=0)
    x1, y1 = corners.max(axis=0)
    bw, bh = x1 - x0, y1 - y0
    pad = rng.uniform(-0.04, 0.08, 4) * np.array([bw, bh, bw, bh]) + rng.uniform(-1.5, 1.5, 4)
    H, W = img.shape[:2]
    xa, ya = int(np.clip(round(x0 - pad[0]), 0, W - 2)), int(np.clip(round(y0 - pad[1]), 0, H - 2))
    xb, yb = int(np.clip(round(x1 + pad[2]), xa + 2, W)), int(np.clip(round(y1 + pad[3]), ya + 2, H))
    return cv2.resize(img[ya:yb, xa:xb], (width, height), interpolation=cv2.INTER_LINEAR)


def _effective_height(rng: np.random.Generator, two_line: bool, p_tiny: float = P_TINY) -> float:
    """Plate height in camera pixels: mostly 30-80 px (like the real crops), sometimes tiny."""
    h = rng.uniform(12, 30) if rng.random() < p_tiny else rng.uniform(30, 80)
    return h * (1.5 if two_line else 1.0)


def camera_view(rng: np.random.Generator, assets: Assets, plate: Plate,
                readable: bool = False) -> tuple[np.ndarray, Corners]:
    """A rendered plate as a camera shows it: dirt, its size, a context canvas, the camera model;
    the canvas and the plate's corners in it. readable as for recognizer_sample."""
    img = plate.image
    if rng.random() < 0.3:
        img = img.copy()
        dirt(rng, img)
    ph = _effective_height(rng, plate.two_line, 0.0 if readable else P_TINY)
    canvas, corners = _composite(rng, assets, img, ph)
    # Blur and noise scale with the character size; two-line plates have smaller characters.
    canvas = camera(rng, canvas, corners, ph / 1.5 if plate.two_line else ph, 0.0 if readable else P_OCCLUDE)
    return canvas, corners


CUT_EDGES = ("top", "bottom", "both")
MAX_CUT = 0.12  # of a plate's height: the most a training crop is cut short (recognizer_sample)


def cut_short(corners: Corners, edge: str, fraction: float) -> Corners:
    """TL,TR,BR,BL corners with the top, the bottom or both edges moved `fraction` of the plate's
    height inward: a detector's corners placed inside the plate (bench/crop_cuts.py). Both: a
    detector that sees a two-line plate shorter than it is (docs/history.md, session 21)."""
    quad = np.array(corners, np.float32)
    down = (quad[3] - quad[0] + quad[2] - quad[1]) / 2
    if edge in ("top", "both"):
        quad[:2] += fraction * down
    if edge in ("bottom", "both"):
        quad[2:] -= fraction * down
    return quad


def recognizer_sample(rng: np.random.Generator, assets: Assets, width: int, height: int,
                      readable: bool = False, p_cut: float = 0.0, p_foreign: float = 0.0) -> tuple[np.ndarray, str]:
    """One synthetic recognizer training crop (HxWx3 BGR uint8) and its text.

    readable=True leaves out the two draws that can make a plate unreadable on purpose (a plate
    under 30 px high, characters hidden by an occluder); every other degradation stays. It
    defines the synthetic validation set that a recognizer can be asked to read almost fully.
    p_cut: the chance that the crop is cut up to MAX_CUT of the plate's height short at its top, its
    bottom or both, as a detector's corners inside the plate cut it (training; the validation sets keep 0).
    p_foreign: the chance that the plate is a European one (plates.py "eu"; training, as p_cut).
    """
    plate = render_plate(rng, assets, "eu" if p_foreign and rng.random() < p_foreign else None)
    canvas, corners = camera_view(rng, assets, plate, readable)
    if p_cut and rng.random() < p_cut:
        corners = cut_short(corners, CUT_EDGES[rng.integers(len(CUT_EDGES))], rng.uniform(0, MAX_CUT))
    return detector_crop(rng, canvas, corners, width, height), plate.text
