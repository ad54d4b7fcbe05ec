"""Loaders and leak-free splits for the real data in the shared ``data`` folder.

Every loader takes ``root``: the shared data directory itself (the folder holding
``br-plate-crops/``, ``scenes-ro/``, ``br-glyphs/``), e.g. ``/work/shared/data``.
Loaders only read the CSV tables; images are opened by the caller.

Split sizes (counted on the shared data, see tests/test_data_real.py):

- br-plate-crops: 1123 crops, 512 distinct texts used.
  ``split_br_crops`` -> train 893 crops / 407 texts, val 230 crops / 105 texts, less the 21 crops
  runtime/audit.py leaves out and with the 9 labels it corrects (1144 crops, 530 texts in the table).
  ``detector_crops`` -> the 427 train crops / 211 texts the detector pastes into its scenes.
- scenes-ro: 534 frames, 652 boxes.
  ``split_scenes_ro`` -> train 468 frames / 569 boxes, val 66 frames / 83 boxes
  (val videos: dayride_type1_002.mp4, dayride_type1_003.mp4).
- br-glyphs: 1772 tiles, 36 classes (no split; glyphs are a rendering asset).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from runtime.audit import audited_labels, look_alikes, unboxed_plates
from runtime.splits import VAL_VIDEOS, in_detector_half, text_in_val


@dataclass(frozen=True)
class BrCrop:
    """A real Brazilian plate crop; ``kind`` is the source's CC/CV tag."""

    path: Path
    text: str
    kind: str


@dataclass(frozen=True, eq=False)
class Frame:
    """A scenes-ro dash-cam frame with its plate boxes (K,4) x,y,w,h float32 pixels.

    From runtime/audit.py, same layout: unboxed, plates the frame shows but boxes.csv leaves
    out (training ignores them rather than calling them background); look_alikes, things the
    detector took for plates that are not (training crops are drawn around them more often).
    """

    path: Path
    video: str
    boxes: np.ndarray
    unboxed: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    look_alikes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))


@dataclass(frozen=True)
class Glyph:
    """A binarized single-character tile (black on white)."""

    path: Path
    char: str


def _read_csv(path: Path) -> list[dict[str, str]]:
    """Read a UTF-8 CSV with header; fails loudly if missing so a wrong root is obvious."""
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def load_br_crops(root: Path) -> list[BrCrop]:
    """Load br-plate-crops/labels.csv in file order (root = shared data dir), less the crops the
    audit leaves out and with the labels it corrects (runtime/audit.py: wrong labels, one vehicle on both
    sides, mistyped train labels)."""
    folder = Path(root) / "br-plate-crops"
    return [BrCrop(folder / "images" / r["file"], r["text"], r["kind"])
            for r in audited_labels(_read_csv(folder / "labels.csv"))]


def split_br_crops(items: list[BrCrop]) -> tuple[list[BrCrop], list[BrCrop]]:
    """Split by plate text so the same vehicle never appears in both train and val."""
    train = [c for c in items if not text_in_val(c.text)]
    val = [c for c in items if text_in_val(c.text)]
    return train, val


def detector_crops(train: list[BrCrop]) -> list[BrCrop]:
    """The train crops whose text falls in the detector's half (a hash of the text): the detector
    pastes only these, so dev (bench/figures.sh dev: br-crops train end to end, street train)
    still holds real plates it has never seen. Val crops it never sees either way."""
    return [c for c in train if in_detector_half(c.text)]


def load_scenes_ro(root: Path) -> list[Frame]:
    """Load scenes-ro frames (images.csv order) with their boxes from boxes.csv."""
    folder = Path(root) / "scenes-ro"
    boxes: dict[str, list[list[float]]] = defaultdict(list)
    for r in _read_csv(folder / "boxes.csv"):
        boxes[r["file"]].append([float(r["x"]), float(r["y"]), float(r["w"]), float(r["h"])])
    unboxed, others = unboxed_plates(), look_alikes()
    none = np.zeros((0, 4), np.float32)
    frames = []
    for r in _read_csv(folder / "images.csv"):
        b = np.asarray(boxes.get(r["file"], []), dtype=np.float32).reshape(-1, 4)
        frames.append(Frame(folder / "images" / r["file"], r["video"], b,
                            unboxed.get(r["file"], none), others.get(r["file"], none)))
    return frames


def split_scenes_ro(frames: list[Frame]) -> tuple[list[Frame], list[Frame]]:
    """Split by video: frames of one video are near-duplicates, so a frame split would leak."""
    train = [f for f in frames if f.video not in VAL_VIDEOS]
    val = [f for f in frames if f.video in VAL_VIDEOS]
    return train, val


def load_br_glyphs(root: Path) -> list[Glyph]:
    """Load br-glyphs/labels.csv (chars are already upper case in the table)."""
    folder = Path(root) / "br-glyphs"
    rows = _read_csv(folder / "labels.csv")
    return [Glyph(folder / "images" / r["file"], r["char"].upper()) for r in rows]
