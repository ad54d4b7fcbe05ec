"""A compact copy of the training data, small enough to travel to a lent GPU machine.

    python -m export.data pack --data ../shared/data --fonts ../shared/fonts --out carry/pack

The device tool sends at most 64 MiB with the checkout, and ../shared does not travel. The copy
keeps the folder layout and tables the trainers read (so `--data carry/pack/data --fonts
carry/pack/fonts` works unchanged) and shrinks what the trainers do not need as it is: the
street frames re-encoded (JPEG quality --frame-quality, 28 MiB at 75 against 51), the plate
crops without their EXIF blocks, and of the grey backgrounds only those the renderer draws (300 of
1200, 7.7 MiB): 41 MiB in all. With the checkout (10 MiB) and the two recovered checkpoints (4 MiB),
about 55 MiB travel.
Training there sees frames a little more compressed than here; every figure that is reported
is measured here, on the original data.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import cv2

from export.data.assets import background_files

TABLES = {"br-plate-crops": ["labels.csv"], "br-glyphs": ["labels.csv"], "scenes-ro": ["images.csv", "boxes.csv"]}
CROP_QUALITY = 92  # plate crops: 21 -> 4 MB, the loss is the EXIF block and invisible re-encoding
BACKGROUND_QUALITY = 50  # the renderer reads them at half size (assets._load_backgrounds), which averages its blocks out;
                         # train_detector.photo_negative reads them at full size, where the blocks show a little


def _reencode(src: Path, dst: Path, quality: int, flags: int = cv2.IMREAD_UNCHANGED) -> None:
    image = cv2.imread(str(src), flags)
    if image is None:
        raise ValueError(f"cannot decode {src}")
    dst.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(dst), image, [cv2.IMWRITE_JPEG_QUALITY, quality]):
        raise OSError(f"cannot write {dst}")


def pack(data: Path, fonts: Path, out: Path, frame_quality: int = 75) -> int:
    """Write the compact copy under out/data and out/fonts; its size in bytes."""
    if out.exists():
        shutil.rmtree(out)
    for folder, tables in TABLES.items():
        for table in tables:
            (out / "data" / folder).mkdir(parents=True, exist_ok=True)
            shutil.copy2(data / folder / table, out / "data" / folder / table)
    for src in sorted((data / "br-plate-crops" / "images").glob("*.jpg")):
        _reencode(src, out / "data" / "br-plate-crops" / "images" / src.name, CROP_QUALITY)
    shutil.copytree(data / "br-glyphs" / "images", out / "data" / "br-glyphs" / "images")  # tiny already
    for src in sorted((data / "scenes-ro" / "images").glob("*.jpg")):
        _reencode(src, out / "data" / "scenes-ro" / "images" / src.name, frame_quality)
    for src in background_files(data / "backgrounds-gray"):
        _reencode(src, out / "data" / "backgrounds-gray" / src.name, BACKGROUND_QUALITY, cv2.IMREAD_GRAYSCALE)
    shutil.copytree(fonts, out / "fonts")
    return sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
