"""Recognizer negatives: crops of no plate, cut from plate-free photos, that training reads as nothing."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

from export.data.negatives import _busiest, _window, negative_sample

SHARED = Path(__file__).resolve().parents[2] / "shared"


def _photo() -> np.ndarray:
    """A 480x640 grey photo: flat on the right, vertical bars (lettering-like edges) on the left."""
    photo = np.full((480, 640), 140, np.uint8)
    photo[:, :320][:, (np.arange(320) // 4) % 2 == 0] = 40
    return photo


def test_a_negative_is_a_recognizer_sized_colour_crop_fixed_by_its_seed() -> None:
    crops = [negative_sample(np.random.default_rng(s), [_photo()], 144, 48) for s in (3, 3, 4)]
    assert all(c.shape == (48, 144, 3) and c.dtype == np.uint8 for c in crops)
    np.testing.assert_array_equal(crops[0], crops[1])
    assert not np.array_equal(crops[0], crops[2])


def test_the_window_kept_is_the_busiest_of_those_drawn() -> None:
    """Busy windows are what a detector mistakes for plates: _busiest keeps the one with the most
    edges, so it lands on the bars far more often than one window drawn alone."""
    photo = _photo()
    on_bars = {"one": 0, "busiest": 0}
    for seed in range(200):
        for name, pick in (("one", _window), ("busiest", _busiest)):
            x, _, w, _ = pick(np.random.default_rng(seed), photo)
            on_bars[name] += x + w / 2 < 320
    assert on_bars["busiest"] > on_bars["one"] + 40


def test_training_batches_hold_a_few_negatives_with_empty_text() -> None:
    pytest.importorskip("torch")
    if not SHARED.is_dir():
        pytest.skip("shared data folder absent")
    from export.train_recognizer import P_NEGATIVE, Batches
    args = argparse.Namespace(data=SHARED / "data", fonts=SHARED / "fonts", batch=64, real_fraction=0.0)
    images, texts = next(iter(Batches(args, [], seed=0)))
    assert images.shape[0] == len(texts) == 64
    empty = sum(t == "" for t in texts)
    assert 0 < empty < 4 * P_NEGATIVE * 64
    assert all(5 <= len(t) <= 8 and t.isalnum() for t in texts if t)  # every other crop is a plate with its text
