"""Pre-rendered assets for the synthetic plate renderer (loaded once, kept in memory).

Everything that is expensive to make (font glyphs, real glyph tiles, text strips,
background images) is built here once so that each render is only numpy/cv2 work
on small arrays.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from runtime.splits import rendered_backgrounds

CHARSET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

# (state, city) pairs used for the city strip of old plates (no accents, as cast on plates).
CITIES: tuple[tuple[str, str], ...] = (
    ("PR", "PARANAGUA"), ("PR", "CURITIBA"), ("PR", "PONTA GROSSA"), ("PR", "LONDRINA"),
    ("PR", "MARINGA"), ("PR", "CASCAVEL"), ("PR", "MORRETES"), ("PR", "ANTONINA"),
    ("PR", "MATINHOS"), ("PR", "GUARATUBA"), ("PR", "FOZ DO IGUACU"), ("PR", "PINHAIS"),
    ("SP", "SAO PAULO"), ("SP", "CAMPINAS"), ("SP", "SANTOS"), ("SP", "GUARULHOS"),
    ("SP", "SOROCABA"), ("RJ", "RIO DE JANEIRO"), ("RJ", "NITEROI"), ("MG", "BELO HORIZONTE"),
    ("MG", "UBERLANDIA"), ("SC", "JOINVILLE"), ("SC", "FLORIANOPOLIS"), ("SC", "BLUMENAU"),
    ("SC", "ITAJAI"), ("RS", "PORTO ALEGRE"), ("RS", "CAXIAS DO SUL"), ("BA", "SALVADOR"),
    ("PE", "RECIFE"), ("CE", "FORTALEZA"), ("GO", "GOIANIA"), ("DF", "BRASILIA"),
    ("AM", "MANAUS"), ("PA", "BELEM"), ("ES", "VITORIA"), ("MT", "CUIABA"),
    ("MS", "CAMPO GRANDE"), ("SE", "ARACAJU"), ("PB", "JOAO PESSOA"), ("RN", "NATAL"),
)


@dataclass
class Assets:
    """In-memory asset store. Masks are uint8, 255 = ink, cropped to the ink bounding box."""

    font_glyphs: dict[str, np.ndarray]          # Mercosul FE-style font (Mittelschrift)
    font_glyphs_narrow: dict[str, np.ndarray]   # Engschrift, narrow variant
    old_glyphs: dict[str, list[np.ndarray]]     # real binarized tiles per char (old plates)
    city_masks: list[np.ndarray]                # "PR - PARANAGUA" style strips
    brasil_mask: np.ndarray                     # "BRASIL" for the Mercosul band
    br_mask: np.ndarray                         # small "BR" next to the side flag
    backgrounds: list[np.ndarray] = field(default_factory=list)  # grey uint8 images, longer side <= 320


def _render_font_glyph(font: ImageFont.FreeTypeFont, ch: str) -> np.ndarray:
    """Render one character with Pillow and crop it to its ink box."""
    size = font.size
    img = Image.new("L", (size * 2, size * 2), 0)
    ImageDraw.Draw(img).text((size // 4, size // 4), ch, fill=255, font=font)
    return _crop_ink(np.asarray(img))


def _crop_ink(mask: np.ndarray, thr: int = 96) -> np.ndarray:
    """Crop a 0..255 mask to the bounding box of pixels above thr."""
    ys, xs = np.nonzero(mask > thr)
    if len(ys) == 0:
        return np.zeros((4, 4), np.uint8)
    return np.ascontiguousarray(mask[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1])


def _render_text_mask(text: str, font: ImageFont.FreeTypeFont | None, height: int = 24) -> np.ndarray:
    """Render a short text line as a cropped mask (Pillow font, else cv2 Hershey)."""
    if font is not None:
        w = int(font.getlength(text)) + height
        img = Image.new("L", (w, height * 2), 0)
        ImageDraw.Draw(img).text((height // 4, height // 4), text, fill=255, font=font)
        return _crop_ink(np.asarray(img))
    scale = height / 22.0
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 2)
    img = np.zeros((th * 2 + 8, tw + 8), np.uint8)
    cv2.putText(img, text, (4, th + 4), cv2.FONT_HERSHEY_SIMPLEX, scale, 255, 2, cv2.LINE_AA)
    return _crop_ink(img)


def _smooth_tile(m: np.ndarray) -> np.ndarray:
    """Round off the staircase edges of a binarized low-res tile (2x up, blur, re-threshold)."""
    big = cv2.resize(m, (m.shape[1] * 2, m.shape[0] * 2), interpolation=cv2.INTER_CUBIC)
    big = cv2.GaussianBlur(big, (0, 0), 1.2)
    big = np.where(big > 127, 255, 0).astype(np.uint8)
    return cv2.GaussianBlur(big, (3, 3), 0)


# Tiles filed under the wrong character that _drop_mislabelled cannot tell: br-glyphs' 00928.jpg, filed
# under 9, is a 3 cut at its left edge (it correlates 0.72 with the 9s' median tile and 0.71 with the 3s').
MISFILED = frozenset({"00928.jpg"})


def _load_old_glyphs(glyph_dir: Path) -> dict[str, list[np.ndarray]]:
    """Real binarized tiles (black on white) -> inverted, ink-cropped masks per char."""
    out: dict[str, list[np.ndarray]] = {c: [] for c in CHARSET}
    labels = glyph_dir / "labels.csv"
    if not labels.exists():
        return out
    with open(labels, newline="") as fh:
        for row in csv.DictReader(fh):
            img = cv2.imread(str(glyph_dir / "images" / row["file"]), cv2.IMREAD_GRAYSCALE)
            if img is None or row["char"] not in out or row["file"] in MISFILED:
                continue
            m = _smooth_tile(_crop_ink(255 - img, thr=127))
            h, w = m.shape
            # Drop degenerate tiles (noise specks, slivers).
            if h < 12 or w < 3 or (m > 127).mean() < 0.12:
                continue
            out[row["char"]].append(m)
    return _drop_mislabelled({c: _drop_outliers(v) for c, v in out.items()})


def _tile_vectors(tiles: list[np.ndarray]) -> np.ndarray:
    """Tiles -> rows of unit length, mean removed: their dot products are correlations."""
    vecs = np.stack([cv2.resize(t, (12, 20), interpolation=cv2.INTER_AREA).astype(np.float32).ravel()
                     for t in tiles])
    vecs -= vecs.mean(axis=1, keepdims=True)
    return vecs / (np.linalg.norm(vecs, axis=1, keepdims=True) + 1e-6)


def _drop_outliers(tiles: list[np.ndarray], min_corr: float = 0.45) -> list[np.ndarray]:
    """Drop broken/merged tiles: low correlation with the per-char median tile (keeps >= half)."""
    if len(tiles) < 4:
        return tiles
    vecs = _tile_vectors(tiles)
    med = np.median(vecs, axis=0)
    corr = vecs @ (med / (np.linalg.norm(med) + 1e-6))
    keep = corr >= min(min_corr, float(np.median(corr)))
    return [t for t, k in zip(tiles, keep) if k]


MISLABEL_MARGIN = 0.085  # a 6 filed as 5 scores 0.09-0.11 higher on 6; 1/I, 0/O, 8/B twins stay under


def _drop_mislabelled(glyphs: dict[str, list[np.ndarray]]) -> dict[str, list[np.ndarray]]:
    """Drop tiles that look clearly more like another character's median tile than their own.

    br-glyphs files a few tiles under the wrong character (two 6s among the 5s, a merged
    "NO" under N), and each one would teach the recognizer a wrong label on every plate it
    is drawn on. The old font's near twins (1/I, 0/O/D, 8/B) differ by less than the margin."""
    medians = {}
    for c, tiles in glyphs.items():
        if len(tiles) >= 4:
            med = np.median(_tile_vectors(tiles), axis=0)
            medians[c] = med / (np.linalg.norm(med) + 1e-6)
    if not medians:
        return glyphs
    names = list(medians)
    table = np.stack([medians[c] for c in names])
    out = {}
    for c, tiles in glyphs.items():
        if c not in medians:
            out[c] = tiles
            continue
        scores = _tile_vectors(tiles) @ table.T  # [tiles, chars]
        own = scores[:, names.index(c)]
        out[c] = [t for t, s, o in zip(tiles, scores, own) if s.max() < o + MISLABEL_MARGIN]
    return out


def background_files(bg_dir: Path) -> list[Path]:
    """The grey background images rendering uses (runtime/splits.py::rendered_backgrounds)."""
    return rendered_backgrounds(sorted(bg_dir.glob("*.jpg")) if bg_dir.is_dir() else [])


def _load_backgrounds(bg_dir: Path, max_side: int = 320) -> list[np.ndarray]:
    """Load background_files, downscaled for speed."""
    out = []
    for f in background_files(bg_dir):
        img = cv2.imread(str(f), cv2.IMREAD_REDUCED_GRAYSCALE_2)
        if img is None or min(img.shape) < 24:
            continue
        s = max_side / max(img.shape)
        if s < 1:
            img = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        out.append(img)
    return out


def load_assets(data_dir: Path, fonts_dir: Path) -> Assets:
    """Build all masks and load backgrounds. Works (with fallbacks) when data is missing."""
    data_dir, fonts_dir = Path(data_dir), Path(fonts_dir)
    mtl_path, eng_path = fonts_dir / "GL-Nummernschild-Mtl.ttf", fonts_dir / "GL-Nummernschild-Eng.ttf"
    mtl = ImageFont.truetype(str(mtl_path), 96) if mtl_path.exists() else None
    eng = ImageFont.truetype(str(eng_path), 96) if eng_path.exists() else mtl
    if mtl is None:
        raise FileNotFoundError(f"font not found: {mtl_path}")
    font_glyphs = {c: _render_font_glyph(mtl, c) for c in CHARSET}
    font_narrow = {c: _render_font_glyph(eng, c) for c in CHARSET}
    old = _load_old_glyphs(data_dir / "br-glyphs")
    for c in CHARSET:  # fall back to the narrow font where no real tile exists
        if not old[c]:
            old[c] = [font_narrow[c]]
    small = ImageFont.truetype(str(eng_path if eng_path.exists() else mtl_path), 28)
    city_masks = [_render_text_mask(f"{st} - {city}", small) for st, city in CITIES]
    city_masks += [_render_text_mask(f"{st}-{city}", None) for st, city in CITIES[::3]]
    brasil = _render_text_mask("BRASIL", ImageFont.truetype(str(mtl_path), 40))
    br = _render_text_mask("BR", ImageFont.truetype(str(mtl_path), 40))
    bgs = _load_backgrounds(data_dir / "backgrounds-gray")
    return Assets(font_glyphs, font_narrow, old, city_masks, brasil, br, bgs)
