"""What a look by eye found in scenes-ro beyond its boxes: plates without a box, and look-alikes.

scenes-ro boxes most plates but not all (its README: small distant plates are often left out;
in fact some large ones too). Left as they are, those plates teach the detector that a plate
is background and count every correct detection of one as a false positive.

scenes-ro-audit.csv lists boxes x, y, w, h in frame pixels with a verdict. It was made once by
running the 13500-step detector (threshold 0.4) over every frame and looking at each detection
that matched no box, on contact sheets with its surroundings:
- train frames: `not_a_plate` for those judged not a plate (tail lights, signs, shop
  lettering, bus logos, badges: the detector's hard negatives), `plate` for all the others,
  unsure cases included, because training only ignores those regions;
- val frames: `plate` only for the detections judged to be plates, because the evaluation
  discounts a detection on one, and an unsure case must stay counted as a false positive.
A plate that detector missed is not listed, so the list of plates is incomplete by construction.
Session 11 looked the same way at the 14 val detections of the session-10 reader (coarse passes,
bordered pictures) that matched nothing listed: four are plates and were added (0347 and 0348, a
plate the frame's right edge cuts, its RO band visible; 0357 and 0359, light plates with dark
characters on parked cars' rears); the ten others (bus logos, signs, lettering, a window, two
unsure dim shapes) stay counted as false positives.
"""
from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np

TABLE = Path(__file__).with_name("scenes-ro-audit.csv")
VERDICTS = ("plate", "not_a_plate")


def audited_boxes(verdict: str, table: Path = TABLE) -> dict[str, np.ndarray]:
    """Frame file name -> its boxes with this verdict, (K,4) x, y, w, h float32."""
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {VERDICTS}, not {verdict!r}")
    found: dict[str, list[list[float]]] = defaultdict(list)
    with open(table, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            if r["verdict"] == verdict:
                found[r["file"]].append([float(r["x"]), float(r["y"]), float(r["w"]), float(r["h"])])
    return {name: np.asarray(boxes, np.float32).reshape(-1, 4) for name, boxes in found.items()}


def unboxed_plates(table: Path = TABLE) -> dict[str, np.ndarray]:
    """Plates a frame shows without a box in boxes.csv."""
    return audited_boxes("plate", table)


def look_alikes(table: Path = TABLE) -> dict[str, np.ndarray]:
    """Things in train frames the detector took for plates and are not: hard negatives."""
    return audited_boxes("not_a_plate", table)
