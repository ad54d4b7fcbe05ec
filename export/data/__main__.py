"""Data CLI.

    python -m export.data preview --kind plates|scenes --out FILE.png [--seed 0]
    python -m export.data pack --data ../shared/data --fonts ../shared/fonts --out carry/pack

Plates: synthetic recognizer crops on the left, real crops from br-plate-crops on the right,
so the synthetic look can be judged against the real one. Deterministic for a seed.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from export.data.assets import load_assets

_ROOT = Path(__file__).resolve().parents[2]


def _grid(cells: list[np.ndarray], cols: int, pad: int = 2, value: int = 0) -> np.ndarray:
    """Tile equally sized images into a grid."""
    h, w = cells[0].shape[:2]
    rows = (len(cells) + cols - 1) // cols
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), value, np.uint8)
    for i, c in enumerate(cells):
        r, k = divmod(i, cols)
        out[pad + r * (h + pad): pad + r * (h + pad) + h, pad + k * (w + pad): pad + k * (w + pad) + w] = c
    return out


def _label(img: np.ndarray, text: str) -> np.ndarray:
    """Header bar with a caption above a grid."""
    bar = np.full((22, img.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([bar, img])


def preview_plates(rng: np.random.Generator, assets, data_dir: Path, rows: int, cols: int,
                   size: tuple[int, int] = (160, 80)) -> np.ndarray:
    """Synthetic crops (left) next to real crops (right, when the data folder exists)."""
    from export.data.degrade import recognizer_sample
    w, h = size
    syn = [recognizer_sample(rng, assets, w, h)[0] for _ in range(rows * cols)]
    panel = _label(_grid(syn, cols), "synthetic (recognizer_sample)")
    real_files = sorted((data_dir / "br-plate-crops" / "images").glob("*.jpg"))
    if real_files:
        pick = rng.choice(len(real_files), min(rows * cols, len(real_files)), replace=False)
        real = [cv2.resize(cv2.imread(str(real_files[i])), (w, h), interpolation=cv2.INTER_AREA) for i in pick]
        rp = _label(_grid(real, cols), "real (br-plate-crops)")
        gap = np.full((panel.shape[0], 12, 3), 255, np.uint8)
        panel = np.hstack([panel, gap, rp])
    return panel


def preview_scenes(rng: np.random.Generator, assets, n: int = 6, size: int = 640) -> np.ndarray:
    """Rendered scenes with their boxes (green) and corners (red)."""
    from export.data.scenes import render_scene  # written separately; imported lazily
    cells = []
    for _ in range(n):
        sc = render_scene(rng, assets, width=size, height=size)
        img = sc.image.copy()
        for p in sc.plates:
            x, y, w, h = (int(round(v)) for v in p.box)
            cv2.rectangle(img, (x, y), (x + w, y + h), (0, 255, 0), 1)
            if p.corners is not None:
                cv2.polylines(img, [np.round(p.corners).astype(np.int32)], True, (0, 0, 255), 1)
            if p.text:
                cv2.putText(img, p.text, (x, max(10, y - 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 255, 255), 1)
        cells.append(img)
    return _grid(cells, 3)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m export.data")
    sub = ap.add_subparsers(dest="cmd", required=True)
    pv = sub.add_parser("preview", help="write a preview grid PNG")
    pv.add_argument("--kind", choices=["plates", "scenes"], default="plates")
    pv.add_argument("--out", type=Path, required=True)
    pv.add_argument("--seed", type=int, default=0)
    pv.add_argument("--data", type=Path, default=_ROOT.parent / "shared" / "data")
    pv.add_argument("--fonts", type=Path, default=_ROOT.parent / "shared" / "fonts")
    pv.add_argument("--rows", type=int, default=12)
    pv.add_argument("--cols", type=int, default=4)
    pk = sub.add_parser("pack", help="a compact copy of the training data for a lent GPU (export/data/pack.py)")
    pk.add_argument("--data", type=Path, default=_ROOT.parent / "shared" / "data")
    pk.add_argument("--fonts", type=Path, default=_ROOT.parent / "shared" / "fonts")
    pk.add_argument("--out", type=Path, required=True)
    pk.add_argument("--frame-quality", type=int, default=75, help="JPEG quality of the re-encoded street frames")
    args = ap.parse_args(argv)
    if args.cmd == "pack":
        from export.data.pack import pack
        size = pack(args.data, args.fonts, args.out, args.frame_quality)
        print(f"wrote {args.out} ({size / 2**20:.1f} MiB)")
        return 0
    cv2.setNumThreads(1)
    assets = load_assets(args.data, args.fonts)
    rng = np.random.default_rng(args.seed)
    if args.kind == "plates":
        img = preview_plates(rng, assets, args.data, args.rows, args.cols)
    else:
        img = preview_scenes(rng, assets)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), img)
    print(f"wrote {args.out} ({img.shape[1]}x{img.shape[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
