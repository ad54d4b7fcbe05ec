"""Real-data loaders read the shared formats, give the documented counts, and split without leaks."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from runtime.audit import CROPS_TABLE, corrected_labels, left_out_crops
from runtime.splits import text_in_val
from export.data.real import (
    VAL_VIDEOS,
    load_br_crops,
    load_br_glyphs,
    load_scenes_ro,
    split_br_crops,
    split_scenes_ro,
)

SHARED = Path(__file__).resolve().parents[2] / "shared"
DATA = SHARED / "data"

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="shared data absent")


def test_br_crops_counts_and_format() -> None:
    crops = load_br_crops(DATA)
    assert len(crops) == 1144 - 21  # the audit leaves 21 out (runtime/audit.py)
    assert not {c.path.name for c in crops} & left_out_crops()
    assert len({c.text for c in crops}) == 512  # 9 mistyped train labels corrected onto texts that exist
    assert all(re.fullmatch(r"[A-Z]{3}[0-9]{4}", c.text) for c in crops)
    assert {c.kind for c in crops} == {"CC", "CV"}
    assert sum(c.kind == "CC" for c in crops) == 485
    assert crops[0].path.name == "0000.jpg" and crops[0].text == "AXK3125"
    assert all(c.path.is_file() for c in crops[:5] + crops[-5:])


def test_br_crops_split_by_text() -> None:
    crops = load_br_crops(DATA)
    train, val = split_br_crops(crops)
    assert len(train) + len(val) == len(crops)
    train_texts, val_texts = {c.text for c in train}, {c.text for c in val}
    assert not train_texts & val_texts
    assert 0.12 < len(val_texts) / (len(train_texts) + len(val_texts)) < 0.28
    # documented sizes (README)
    assert (len(train), len(train_texts), len(val), len(val_texts)) == (893, 407, 230, 105)
    # deterministic and independent of input order
    train2, val2 = split_br_crops(list(reversed(crops)))
    assert {c.path for c in train2} == {c.path for c in train}
    assert {c.path for c in val2} == {c.path for c in val}


def test_the_crop_audit_names_each_crop_with_its_label() -> None:
    import csv
    labels = {r["file"]: r["text"] for r in csv.DictReader(open(DATA / "br-plate-crops" / "labels.csv"))}
    audit = list(csv.DictReader(open(CROPS_TABLE)))
    assert (len(audit), len(left_out_crops()), len(corrected_labels())) == (30, 21, 9)
    assert all(labels[r["file"]] == r["label"] for r in audit)
    # every plate the audit found on both sides is out of val entirely
    train, val = split_br_crops(load_br_crops(DATA))
    assert not {c.text for c in val} & {r["shows"] for r in audit if r["file"] in left_out_crops()}
    # a corrected label keeps its crop on the train side, where the shipped recognizer saw it
    assert {c.path.name: c.text for c in train if c.path.name in corrected_labels()} == corrected_labels()
    assert all(not text_in_val(labels[name]) for name in corrected_labels())


def test_scenes_ro_counts() -> None:
    frames = load_scenes_ro(DATA)
    assert len(frames) == 534
    assert sum(len(f.boxes) for f in frames) == 652
    assert all(len(f.boxes) >= 1 for f in frames)
    b = np.concatenate([f.boxes for f in frames])
    assert b.dtype == np.float32 and b.shape == (652, 4)
    assert (b[:, 0] >= 0).all() and (b[:, 1] >= 0).all()
    assert (b[:, 0] + b[:, 2] <= 1280).all() and (b[:, 1] + b[:, 3] <= 720).all()
    assert b[:, 2].min() == 32 and b[:, 2].max() == 319
    assert frames[0].path.name == "0000.jpg"
    np.testing.assert_array_equal(frames[0].boxes, [[769, 397, 100, 24]])


def test_scenes_ro_split_by_video() -> None:
    frames = load_scenes_ro(DATA)
    train, val = split_scenes_ro(frames)
    assert {f.video for f in val} == set(VAL_VIDEOS)
    assert not {f.video for f in train} & {f.video for f in val}
    assert (len(train), len(val)) == (468, 66)
    assert (sum(len(f.boxes) for f in train), sum(len(f.boxes) for f in val)) == (569, 83)
    train2, val2 = split_scenes_ro(frames)
    assert [f.path for f in train2] == [f.path for f in train]


def test_br_glyphs() -> None:
    glyphs = load_br_glyphs(DATA)
    assert len(glyphs) == 1772
    chars = [g.char for g in glyphs]
    assert set(chars) == set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    assert chars.count("0") == 149 and chars.count("Z") == 12
