"""What looks by eye found beyond the shared data's labels.

br-plate-crops (br-crops-audit.csv, session 19): the crops split by text put one vehicle on both
sides wherever a label was mistyped. Every val text one character from a train text was looked
at beside it, and every val and train crop of one photo (frame number) with near-equal labels:
- `shows_other_plate`: a val crop whose label is not what it shows (0013.jpg, labelled AHT3532,
  shows ART3532, a train plate, and 0604.jpg of the same photo is labelled so; 0267.jpg ASK3990
  shows MBK3990, a train plate; 0658.jpg AXI8955 shows AM?8856, its third character hidden);
- `mistyped_val_plate`: a train crop of a val plate under a mistyped label (0169.jpg AEV1534 shows
  AFV1534, 0200.jpg ADM1631 shows AOM1631, 0868.jpg MOS0504 shows MDS0504), which the shipped
  recognizer trained on;
- `trained_on_mistyped`: the val crops of those three plates, seen in training through them.
All 21 are left out of both splits (left_out_crops): no figure counts a plate its network saw, or
a reading against a wrong label. The other one-character pairs show two plates (ARN6125 / 6128,
ARQ9482 / 9488, ATY3822 / 3823 / 3824, fleets numbered in sequence), and are kept.
- `mistyped_train_label`: within the train split, the same look at one-character pairs found 9
  crops whose label is one character off the plate they show, which another train crop of it
  labels right (0057.jpg IVD8248 shows IVO8248, ...); they are read with the text they show
  (corrected_labels), which is a train text too, so no crop changes side. Pairs that could not
  be told apart by eye (ALD / ALQ9981, AMX / ANX9000, ART3562 / 3582, ...) are left as they are.

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
CROPS_TABLE = Path(__file__).with_name("br-crops-audit.csv")


CORRECTED = "mistyped_train_label"


def _crop_audit(table: Path) -> list[dict[str, str]]:
    with open(table, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def left_out_crops(table: Path = CROPS_TABLE) -> frozenset[str]:
    """br-plate-crops file names that neither split uses (see the module docstring)."""
    return frozenset(r["file"] for r in _crop_audit(table) if r["verdict"] != CORRECTED)


def corrected_labels(table: Path = CROPS_TABLE) -> dict[str, str]:
    """br-plate-crops file name -> the text its crop shows, where its label is mistyped."""
    return {r["file"]: r["shows"] for r in _crop_audit(table) if r["verdict"] == CORRECTED}


def audited_labels(rows: list[dict[str, str]], table: Path = CROPS_TABLE) -> list[dict[str, str]]:
    """br-plate-crops label rows (labels.csv) as both splits use them: the crops the audit leaves
    out dropped, the text a mistyped label's crop shows in its place."""
    audit = {r["file"]: r for r in _crop_audit(table)}
    kept = []
    for row in rows:
        found = audit.get(row["file"])
        if found is None:
            kept.append(row)
        elif found["verdict"] == CORRECTED:
            kept.append({**row, "text": found["shows"]})
    return kept


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
