"""Detector negatives: plate-like shapes of the asked size that are never a filled plate card."""
from __future__ import annotations

import numpy as np
import pytest

from export.data.distractors import KINDS, render_distractor


@pytest.mark.parametrize("width", [16.0, 90.0, 400.0])
def test_size_and_shape(width: float) -> None:
    rng = np.random.default_rng(int(width))
    for _ in range(40):
        bgra = render_distractor(rng, width)
        assert bgra.dtype == np.uint8 and bgra.shape[2] == 4
        assert bgra.shape[1] == round(width)
        assert bgra[..., 3].max() > 0  # something is drawn


def test_every_kind_is_drawn_and_some_leave_their_box_open() -> None:
    """Lettering, badges and grilles are strokes: most of their box stays transparent,
    so what they teach is 'text or bars alone are not a plate', not 'a card is not a plate'."""
    rng = np.random.default_rng(0)
    coverage = {kind.__name__: [] for kind in KINDS}
    for kind in KINDS:
        for _ in range(30):
            layer, alpha = kind(rng)
            assert layer.shape[:2] == alpha.shape and layer.dtype == alpha.dtype == np.uint8
            coverage[kind.__name__].append(float((alpha > 127).mean()))
    for name in ("lettering", "badge", "grille"):
        assert np.median(coverage[name]) < 0.5, name
    assert all(np.median(c) > 0 for c in coverage.values())


def test_deterministic() -> None:
    a = render_distractor(np.random.default_rng(7), 120.0)
    b = render_distractor(np.random.default_rng(7), 120.0)
    assert np.array_equal(a, b)
