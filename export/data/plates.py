"""Frontal rendering of Brazilian plates (old grey/red 1990-2018 and Mercosul 2018-).

Output is a clean, frontal plate image that fills the image exactly; camera effects
(perspective, blur, colour casts, ...) are added in degrade.py.
Sizes follow the real proportions: one-line 400x130 mm, motorcycle old 187x136 mm,
motorcycle Mercosul 200x170 mm.
"""
from __future__ import annotations

import string
from dataclasses import dataclass

import cv2
import numpy as np

from export.data.assets import Assets

LETTERS = string.ascii_uppercase
DIGITS = string.digits
ONE_LINE_SIZE = (240, 78)          # (w, h) px, 400x130 mm at 0.6 px/mm
OLD_MOTO_SIZE = (150, 109)         # 187x136 mm at 0.8 px/mm
MERC_MOTO_SIZE = (160, 136)        # 200x170 mm at 0.8 px/mm
P_OLD = 0.6                        # the real evaluation data are old plates
P_TWO_LINE = 0.15

# Old plate colour schemes: name -> (weight, background BGR, ink BGR). Values are jittered per render.
OLD_SCHEMES: dict[str, tuple[float, tuple[int, int, int], tuple[int, int, int]]] = {
    "grey": (0.36, (165, 165, 162), (40, 40, 42)),
    "red": (0.40, (55, 45, 175), (235, 235, 235)),
    "white_black": (0.05, (228, 230, 230), (30, 30, 30)),
    "white_red": (0.03, (228, 230, 230), (40, 40, 170)),
    "green": (0.05, (60, 120, 35), (235, 235, 235)),
    "blue": (0.05, (150, 70, 25), (235, 235, 235)),
    "black": (0.06, (30, 30, 30), (175, 175, 175)),
}
# Mercosul character colours: name -> (weight, BGR).
MERC_INKS: dict[str, tuple[float, tuple[int, int, int]]] = {
    "black": (0.62, (25, 25, 25)),
    "red": (0.14, (35, 30, 185)),
    "blue": (0.08, (140, 55, 10)),
    "green": (0.06, (50, 120, 20)),
    "gold": (0.05, (40, 150, 190)),
    "silver": (0.05, (150, 150, 150)),
}
MERC_BLUE = (150, 52, 5)
EU_SIZE = (312, 66)                # 520x110 mm at 0.6 px/mm
EU_COUNTRIES = ("RO", "D", "I", "F", "PL", "BG", "H", "A", "E", "P", "NL", "CZ")


@dataclass
class Plate:
    """A rendered frontal plate. image is HxWx3 BGR uint8 and the plate fills it exactly."""

    image: np.ndarray
    text: str
    fmt: str
    two_line: bool
    scheme: str


def random_text(rng: np.random.Generator, fmt: str) -> str:
    """Random plate text matching the format regex (old ABC1234, Mercosul ABC1D23); "eu": one to
    two letters, two to three digits, two to three letters (a Romanian B123ABC, CJ12ABC, ...)."""
    if fmt == "eu":
        parts = (("".join(rng.choice(list(LETTERS), int(rng.integers(1, 3))))),
                 "".join(rng.choice(list(DIGITS), int(rng.integers(2, 4)))),
                 "".join(rng.choice(list(LETTERS), int(rng.integers(2, 4)))))
        return "".join(parts)
    letters = "".join(rng.choice(list(LETTERS), 3))
    if fmt == "old":
        return letters + "".join(rng.choice(list(DIGITS), 4))
    return letters + rng.choice(list(DIGITS)) + rng.choice(list(LETTERS)) + "".join(rng.choice(list(DIGITS), 2))


def _pick(rng: np.random.Generator, table: dict) -> str:
    names = list(table)
    w = np.array([table[n][0] for n in names], np.float64)
    return names[int(rng.choice(len(names), p=w / w.sum()))]


def _jitter_color(rng: np.random.Generator, bgr: tuple[int, int, int], amount: float) -> np.ndarray:
    """Brightness + per-channel jitter so schemes are not single colours."""
    c = np.array(bgr, np.float32) * rng.uniform(1 - amount, 1 + amount)
    c += rng.normal(0, amount * 40, 3)
    return np.clip(c, 0, 255).astype(np.float32)


def _paste(alpha: np.ndarray, mask: np.ndarray, x: float, y: float, w: float, h: float) -> None:
    """Resize a uint8 mask to (w, h) and max-blend it into the float alpha canvas at (x, y)."""
    W, H = alpha.shape[1], alpha.shape[0]
    wi, hi = max(1, int(round(w))), max(1, int(round(h)))
    xi, yi = int(round(x)), int(round(y))
    m = cv2.resize(mask, (wi, hi), interpolation=cv2.INTER_AREA).astype(np.float32) * (1 / 255.0)
    x0, y0, x1, y1 = max(xi, 0), max(yi, 0), min(xi + wi, W), min(yi + hi, H)
    if x1 <= x0 or y1 <= y0:
        return
    sub = m[y0 - yi: y1 - yi, x0 - xi: x1 - xi]
    np.maximum(alpha[y0:y1, x0:x1], sub, out=alpha[y0:y1, x0:x1])


def _blend(img: np.ndarray, alpha: np.ndarray, color: np.ndarray, rows: tuple[int, int] | None = None) -> None:
    """img += a * (color - img), in place (float32); rows limits the work to the band holding ink."""
    if rows is None:
        ys = np.flatnonzero(alpha.max(axis=1) > 0)
        if len(ys) == 0:
            return
        rows = (int(ys[0]), int(ys[-1]) + 1)
    r0, r1 = max(0, rows[0]), min(img.shape[0], rows[1])
    sub = img[r0:r1]
    sub += alpha[r0:r1, :, None] * (color - sub)


def _base(rng: np.random.Generator, w: int, h: int, color: np.ndarray) -> np.ndarray:
    """Plate background: colour with a soft lighting gradient (reflective sheeting)."""
    ay, ax = rng.uniform(-0.08, 0.08), rng.uniform(-0.06, 0.06)
    corners = np.array([[1 - ay - ax, 1 - ay + ax], [1 + ay - ax, 1 + ay + ax]], np.float32)
    patch = corners[..., None] * color[None, None, :]
    # Bilinear upscaling of a 2x2 patch is a linear gradient, computed in one C call.
    return cv2.resize(patch, (w, h), interpolation=cv2.INTER_LINEAR)


def _row_layout(rng: np.random.Generator, widths: list[float], gap: float, sep: float, sep_at: int,
                x_left: float, x_right: float) -> list[float]:
    """x positions of glyph cells, centred in [x_left, x_right], scaled down to fit if needed."""
    total = sum(widths) + gap * (len(widths) - 1) + (sep if sep_at >= 0 else 0)
    scale = min(1.0, (x_right - x_left) / total)
    x = x_left + ((x_right - x_left) - total * scale) / 2 + rng.normal(0, 1.0)
    xs = []
    for i, w in enumerate(widths):
        if i == sep_at:
            x += sep * scale
        xs.append(x)
        x += (w + gap + rng.normal(0, gap * 0.08)) * scale
    return xs


def _draw_row(rng: np.random.Generator, alpha: np.ndarray, masks: list[np.ndarray], y: float, ch: float,
              cell_w: float | None, gap: float, sep: float, sep_at: int, x_left: float, x_right: float
              ) -> list[tuple[float, float]]:
    """Draw one row of glyphs; returns (x_start, width) per glyph. cell_w: fixed cell (old plates)."""
    heights = [ch * rng.uniform(0.97, 1.03) for _ in masks]
    nat = [m.shape[1] / m.shape[0] * h for m, h in zip(masks, heights)]
    if cell_w is not None:
        nat = [min(n, cell_w * 1.05) for n in nat]
        cells = [cell_w] * len(masks)
    else:
        cells = nat
    xs = _row_layout(rng, cells, gap, sep, sep_at, x_left, x_right)
    scale = min(1.0, (x_right - x_left) / (sum(cells) + gap * (len(cells) - 1) + (sep if sep_at >= 0 else 0)))
    out = []
    for m, x, c, w, h in zip(masks, xs, cells, nat, heights):
        w, h, c = w * scale, h * (scale ** 0.3), c * scale
        x0 = x + (c - w) / 2
        _paste(alpha, m, x0, y + (ch - h) / 2 + rng.normal(0, 0.4), w, h)
        out.append((x0, w))
    return out


def _rounded_border(alpha: np.ndarray, inset: int, thick: int, radius: int) -> None:
    """Rounded rectangle outline (the embossed rim of the plate) into the alpha canvas."""
    h, w = alpha.shape
    m = np.zeros((h, w), np.uint8)
    x0, y0, x1, y1 = inset, inset, w - 1 - inset, h - 1 - inset
    r = max(1, min(radius, (x1 - x0) // 2, (y1 - y0) // 2))
    cv2.line(m, (x0 + r, y0), (x1 - r, y0), 255, thick, cv2.LINE_AA)
    cv2.line(m, (x0 + r, y1), (x1 - r, y1), 255, thick, cv2.LINE_AA)
    cv2.line(m, (x0, y0 + r), (x0, y1 - r), 255, thick, cv2.LINE_AA)
    cv2.line(m, (x1, y0 + r), (x1, y1 - r), 255, thick, cv2.LINE_AA)
    for cx, cy, a in ((x0 + r, y0 + r, 180), (x1 - r, y0 + r, 270), (x1 - r, y1 - r, 0), (x0 + r, y1 - r, 90)):
        cv2.ellipse(m, (cx, cy), (r, r), a, 0, 90, 255, thick, cv2.LINE_AA)
    np.maximum(alpha, m.astype(np.float32) * (1 / 255.0), out=alpha)


def _emboss(img: np.ndarray, alpha: np.ndarray, strength: float) -> None:
    """Raised characters: a dark shadow below-right and a light edge above-left of the ink."""
    sh = np.zeros_like(alpha)
    sh[1:, 1:] = alpha[:-1, :-1]
    hl = np.zeros_like(alpha)
    hl[:-1, :-1] = alpha[1:, 1:]
    d = (np.clip(sh - alpha, 0, 1) * -strength + np.clip(hl - alpha, 0, 1) * strength * 0.6)[..., None]
    img *= 1 + d


def _rivets(rng: np.random.Generator, img: np.ndarray, pts: list[tuple[float, float]], r: float) -> None:
    """Screws/rivets: small metallic or plate-coloured discs with a dark rim."""
    metal = rng.random() < 0.6
    for x, y in pts:
        c = (int(round(x)), int(round(y)))
        rr = max(1, int(round(r * rng.uniform(0.85, 1.15))))
        col = tuple(float(v) for v in (rng.uniform(120, 200),) * 3) if metal else \
            tuple(float(v) for v in img[min(c[1], img.shape[0] - 1), min(c[0], img.shape[1] - 1)] * 0.8)
        cv2.circle(img, c, rr, col, -1, cv2.LINE_AA)
        cv2.circle(img, c, rr, (40.0, 40.0, 40.0), 1, cv2.LINE_AA)


def _old_glyphs(rng: np.random.Generator, assets: Assets, text: str) -> list[np.ndarray]:
    """Per plate: real tiles (mostly) or the narrow font, one random tile per character."""
    if rng.random() < 0.75:
        return [assets.old_glyphs[c][int(rng.integers(len(assets.old_glyphs[c])))] for c in text]
    return [assets.font_glyphs_narrow[c] for c in text]


def _separator(alpha: np.ndarray, kind: str, x: float, y: float, ch: float, w: float) -> None:
    """Dot or hyphen between the letters and the digits of an old plate."""
    cx, cy = x + w / 2, y + ch * 0.5
    if kind == "dot":
        r = max(1.0, ch * 0.07)
        m = np.zeros_like(alpha)
        cv2.circle(m, (int(round(cx * 4)), int(round(cy * 4))), int(round(r * 4)), 1.0, -1, cv2.LINE_AA, shift=2)
    else:
        m = np.zeros_like(alpha)
        hw, hh = w * 0.32, max(0.8, ch * 0.045)
        cv2.rectangle(m, (int(round((cx - hw) * 4)), int(round((cy - hh) * 4))),
                      (int(round((cx + hw) * 4)), int(round((cy + hh) * 4))), 1.0, -1, cv2.LINE_AA, shift=2)
    np.maximum(alpha, m, out=alpha)


def _render_old(rng: np.random.Generator, assets: Assets, text: str, two_line: bool) -> tuple[np.ndarray, str]:
    """Old format: city strip on top, ABC-1234 (dot or hyphen), rim and rivets."""
    scheme = _pick(rng, OLD_SCHEMES)
    _, bg_c, ink_c = OLD_SCHEMES[scheme]
    bg, ink = _jitter_color(rng, bg_c, 0.12), _jitter_color(rng, ink_c, 0.06)
    if rng.random() < 0.5:  # faded / weathered paint drifts towards a light grey
        bg += rng.uniform(0.1, 0.45) * (np.float32(190) - bg)
    w, h = OLD_MOTO_SIZE if two_line else ONE_LINE_SIZE
    img = _base(rng, w, h, bg)
    alpha = np.zeros((h, w), np.float32)
    _rounded_border(alpha, int(rng.integers(1, 3)), 1, int(h * 0.08))
    city = assets.city_masks[int(rng.integers(len(assets.city_masks)))]
    glyphs = _old_glyphs(rng, assets, text)
    sep_kind = "dot" if rng.random() < 0.6 else "hyphen"
    if not two_line:
        sh = h * rng.uniform(0.085, 0.11)
        sw = min(w * 0.5, city.shape[1] / city.shape[0] * sh)
        _paste(alpha, city, (w - sw) / 2, h * rng.uniform(0.07, 0.1), sw, sh)
        ch = h * rng.uniform(0.48, 0.54)
        y = h * rng.uniform(0.31, 0.35)
        cell = ch * rng.uniform(0.56, 0.63)
        gap, sep = ch * rng.uniform(0.05, 0.1), ch * rng.uniform(0.3, 0.42)
        pos = _draw_row(rng, alpha, glyphs, y, ch, cell, gap, sep, 3, w * 0.05, w * 0.95)
        gx0 = pos[2][0] + pos[2][1]
        _separator(alpha, sep_kind, gx0, y, ch, pos[3][0] - gx0)
        rivet_pts = [(w * rng.uniform(0.12, 0.2), h * 0.15), (w * rng.uniform(0.8, 0.88), h * 0.15)]
    else:
        sh = h * rng.uniform(0.075, 0.095)
        sw = min(w * 0.6, city.shape[1] / city.shape[0] * sh)
        _paste(alpha, city, (w - sw) / 2, h * 0.06, sw, sh)
        ch = h * rng.uniform(0.34, 0.37)
        y1, y2 = h * 0.19, h * 0.59
        cell = ch * rng.uniform(0.6, 0.66)
        gap = ch * rng.uniform(0.06, 0.1)
        _draw_row(rng, alpha, glyphs[:3], y1, ch, cell, gap, 0, -1, w * 0.16, w * 0.84)
        _draw_row(rng, alpha, glyphs[3:], y2, ch, cell, gap, 0, -1, w * 0.05, w * 0.95)
        rivet_pts = [(w * 0.1, h * 0.1), (w * 0.9, h * 0.1)]
    if rng.random() < 0.25:
        alpha = cv2.dilate(alpha, np.ones((2, 2), np.uint8))
    _emboss(img, alpha, rng.uniform(0.1, 0.35))
    _blend(img, alpha, ink)
    if rng.random() < 0.8:
        _rivets(rng, img, rivet_pts, h * rng.uniform(0.03, 0.045))
    return img, scheme


def _flag(w: int, h: int) -> np.ndarray:
    """Tiny Brazilian flag (green, yellow diamond, blue disc), BGR float32."""
    f = np.empty((h, w, 3), np.float32)
    f[:] = (58, 155, 0)
    pts = np.array([[w // 2, 1], [w - 2, h // 2], [w // 2, h - 2], [1, h // 2]], np.int32)
    cv2.fillConvexPoly(f, pts, (30, 220, 255), cv2.LINE_AA)
    cv2.circle(f, (w // 2, h // 2), max(1, h // 4), (120, 40, 10), -1, cv2.LINE_AA)
    return f


def _mercosul_emblem(img: np.ndarray, x: int, y: int, s: int) -> None:
    """Small white Mercosul-like emblem (arc + stars) in the blue band."""
    cv2.ellipse(img, (x + s // 2, y + s), (s // 2, s // 2), 0, 200, 340, (235.0, 235.0, 235.0), 1, cv2.LINE_AA)
    for dx, dy in ((0.3, 0.55), (0.5, 0.35), (0.7, 0.55), (0.5, 0.75)):
        cv2.circle(img, (x + int(dx * s), y + int(dy * s)), max(1, s // 10), (235.0, 235.0, 235.0), -1)


def _qr(rng: np.random.Generator, img: np.ndarray, x: int, y: int, s: int) -> None:
    """A tiny QR-like patch (Mercosul plates carry a QR code at the left)."""
    n = 7
    cells = (rng.random((n, n)) < 0.5).astype(np.float32)
    cells[:2, :2] = 1
    cells[:2, -2:] = 1
    cells[-2:, :2] = 1
    patch = cv2.resize(cells, (s, s), interpolation=cv2.INTER_NEAREST)
    sub = img[y:y + s, x:x + s]
    sub *= (1 - 0.85 * patch[: sub.shape[0], : sub.shape[1], None])


def _render_mercosul(rng: np.random.Generator, assets: Assets, text: str, two_line: bool) -> tuple[np.ndarray, str]:
    """Mercosul: white plate, blue band with BRASIL, emblem and flag, FE-style characters."""
    scheme = _pick(rng, MERC_INKS)
    ink = _jitter_color(rng, MERC_INKS[scheme][1], 0.08)
    bg = _jitter_color(rng, (238, 240, 240), 0.05)
    w, h = MERC_MOTO_SIZE if two_line else ONE_LINE_SIZE
    img = _base(rng, w, h, bg)
    # Faint wave pattern of the security background.
    xs = np.arange(w, dtype=np.float32)[None, :]
    ys = np.arange(h, dtype=np.float32)[:, None]
    img *= (1 - 0.03 * (np.sin(xs * 0.35 + 3 * np.sin(ys * 0.12)) > 0.6))[..., None]
    band_h = int(round(h * (0.2 if not two_line else 0.17) * rng.uniform(0.95, 1.08)))
    band = _jitter_color(rng, MERC_BLUE, 0.1)
    img[:band_h] = band
    white = np.array((240, 240, 240), np.float32)
    a = np.zeros((h, w), np.float32)
    bh = band_h * 0.52
    bw = assets.brasil_mask.shape[1] / assets.brasil_mask.shape[0] * bh
    _paste(a, assets.brasil_mask, (w - bw) / 2, (band_h - bh) / 2, bw, bh)
    _blend(img, a, white, (0, band_h))
    fh = max(3, int(band_h * 0.62))
    fw = int(fh * 1.45)
    fy = (band_h - fh) // 2
    fx = w - fw - int(w * 0.035) if rng.random() < 0.85 else int(w * 0.035)
    img[fy:fy + fh, fx:fx + fw] = _flag(fw, fh)
    ex = int(w * 0.035) if fx > w // 2 else w - fh - int(w * 0.035)
    _mercosul_emblem(img, ex, fy, fh)
    glyph_src = assets.font_glyphs_narrow if rng.random() < 0.2 else assets.font_glyphs
    glyphs = [glyph_src[c] for c in text]
    alpha = np.zeros((h, w), np.float32)
    if not two_line:
        ch = h * rng.uniform(0.5, 0.56)
        y = band_h + (h - band_h - ch) * rng.uniform(0.45, 0.6)
        gap = ch * rng.uniform(0.06, 0.12)
        _draw_row(rng, alpha, glyphs, y, ch, None, gap, 0, -1, w * 0.07, w * 0.95)
        if rng.random() < 0.5:
            s = int(h * 0.14)
            _qr(rng, img, int(w * 0.025), int(band_h + h * 0.06), s)
    else:
        ch = h * rng.uniform(0.32, 0.35)
        gap = ch * rng.uniform(0.06, 0.12)
        _draw_row(rng, alpha, glyphs[:3], band_h + h * 0.05, ch, None, gap, 0, -1, w * 0.15, w * 0.85)
        _draw_row(rng, alpha, glyphs[3:], band_h + h * 0.06 + ch * 1.12, ch, None, gap, 0, -1, w * 0.05, w * 0.95)
    _blend(img, alpha, ink)
    rim = np.zeros((h, w), np.float32)
    _rounded_border(rim, 0, 1, int(h * 0.06))
    rim *= 0.8
    r = int(h * 0.06) + 2
    _blend(img, rim, np.array((60, 60, 60), np.float32), (0, r))
    _blend(img, rim, np.array((60, 60, 60), np.float32), (h - r, h))
    for sl in (slice(0, 2), slice(w - 2, w)):  # left/right edges of the rim
        sub = img[r:h - r, sl]
        sub += rim[r:h - r, sl, None] * (np.float32(60) - sub)
    return img, scheme


def _render_eu(rng: np.random.Generator, assets: Assets, text: str, two_line: bool) -> tuple[np.ndarray, str]:
    """A foreign plate of the European kind (one line): white or yellow, a blue band on the left
    with a ring of stars and a country code, black characters in the DIN-like plate font with a
    gap between the letters and the digits. Not a Brazilian plate, but a plate: the plate check
    learns from it that foreign plates are plates too (export/train_plate_check.py)."""
    yellow = rng.random() < 0.15
    bg = _jitter_color(rng, (40, 200, 240) if yellow else (238, 240, 240), 0.05)
    w, h = EU_SIZE
    img = _base(rng, w, h, bg)
    band_w = int(round(w * rng.uniform(0.08, 0.1)))
    img[:, :band_w] = _jitter_color(rng, MERC_BLUE, 0.1)
    centre, radius = (band_w / 2, h * 0.3), band_w * 0.3
    for t in np.linspace(0, 2 * np.pi, 12, endpoint=False):
        cv2.circle(img, (int(centre[0] + radius * np.cos(t)), int(centre[1] + radius * np.sin(t))), 1,
                   (0, 200, 240), -1, cv2.LINE_AA)
    code = EU_COUNTRIES[int(rng.integers(len(EU_COUNTRIES)))]
    a = np.zeros((h, w), np.float32)
    _draw_row(rng, a, [assets.font_glyphs[c] for c in code], h * 0.62, h * 0.24, None, 1.0, 0, -1,
              band_w * 0.1, band_w * 0.9)
    _blend(img, a, np.array((240, 240, 240), np.float32))
    lead = len(text) - len(text.lstrip(LETTERS))  # the first group: letters, then digits
    alpha = np.zeros((h, w), np.float32)
    ch = h * rng.uniform(0.66, 0.74)
    gap = ch * rng.uniform(0.05, 0.1)
    _draw_row(rng, alpha, [assets.font_glyphs[c] for c in text], (h - ch) / 2, ch, None, gap, ch * 0.35, lead,
              band_w + w * 0.03, w * 0.97)
    _blend(img, alpha, _jitter_color(rng, (25, 25, 25), 0.08))
    rim = np.zeros((h, w), np.float32)
    _rounded_border(rim, 1, 2, int(h * 0.08))
    _blend(img, rim, np.array((30, 30, 30), np.float32))
    return img, "yellow" if yellow else "white"


RENDERERS = {"old": _render_old, "mercosul": _render_mercosul, "eu": _render_eu}


def render_plate(rng: np.random.Generator, assets: Assets, fmt: str | None = None, text: str | None = None,
                 two_line: bool | None = None) -> Plate:
    """Render one frontal plate; format, text and layout are random unless given. The random
    format is Brazilian ("old" or "mercosul"); "eu" (one line) is drawn only when asked for."""
    if fmt is None:
        fmt = "old" if rng.random() < P_OLD else "mercosul"
    if fmt not in RENDERERS:
        raise ValueError(f"unknown plate format {fmt!r}")
    if fmt == "eu" and two_line:
        raise ValueError("eu plates are drawn on one line only")
    if two_line is None:
        two_line = bool(fmt != "eu" and rng.random() < P_TWO_LINE)
    if text is None:
        text = random_text(rng, fmt)
    text = text.upper()
    img, scheme = RENDERERS[fmt](rng, assets, text, two_line)
    return Plate(np.clip(img, 0, 255).astype(np.uint8), text, fmt, bool(two_line), scheme)
