"""The fixed validation splits of the shared data: one rule for training and evaluation.

Crops are split by plate text (the same vehicle appears in many crops) and frames by video
(frames of one video are near-duplicates), so nothing seen in training is reported on.
Torch-free so that both export/ (training) and runtime.evaluate use this one definition.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

VAL_VIDEOS = frozenset({"dayride_type1_002.mp4", "dayride_type1_003.mp4"})
VAL_TEXT_FRACTION = 0.2


def text_in_val(text: str) -> bool:
    """Hash-based assignment: stable across runs, machines and dataset order."""
    h = int.from_bytes(hashlib.sha1(text.encode("utf-8")).digest()[:8], "big")
    return (h % 1000) < int(VAL_TEXT_FRACTION * 1000)


def in_detector_half(text: str) -> bool:
    """The half of the plate texts whose train crops the detector pastes into its scenes
    (export/data/real.py::detector_crops); the other half's train crops are real plates it
    never saw, for dev (`--split unpasted` in runtime.evaluate and bench/street_plates.py)."""
    return hashlib.sha1(f"detector:{text}".encode()).digest()[0] % 2 == 0


# The scenes-ro train video whose frames the plate check learns from (export/data/plate_or_not.py);
# the other train video, dayride_type1_001.mp4, is its dev set: plates of a video never seen, as
# the validation videos' are (a split of one video by runs of frames kept every dev plate, and lost
# 6 of the 83 val plates: docs/history.md, session 25).
CHECK_VIDEOS = frozenset({"nightride_type3_001.mp4"})


def in_check_half(key: str) -> bool:
    """The half of the train photos (by file name) whose crops the plate check learns from
    (export/data/plate_or_not.py); the other half is its dev set."""
    return hashlib.sha1(f"plate-check:{key}".encode()).digest()[0] % 2 == 0


BACKGROUNDS_VAL_FROM = 600  # backgrounds-gray images (file-name order) from this index on are the validation half
RENDERED_BACKGROUNDS = 300  # how many backgrounds-gray images the scene renderer draws on


def rendered_backgrounds(files: list[Path]) -> list[Path]:
    """The backgrounds-gray images (sorted) the scene renderer draws on: an evenly spaced subset
    of both halves. Every detector trained on them, so no backgrounds figure counts them."""
    return files[:: max(1, len(files) // RENDERED_BACKGROUNDS)][:RENDERED_BACKGROUNDS]
