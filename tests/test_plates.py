"""Synthetic plate renderer: formats, layout flag, determinism, crop size."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
OLD_RE = re.compile(r"^[A-Z]{3}[0-9]{4}$")
MERC_RE = re.compile(r"^[A-Z]{3}[0-9][A-Z][0-9]{2}$")
EU_RE = re.compile(r"^[A-Z]{1,2}[0-9]{2,3}[A-Z]{2,3}$")


@pytest.fixture(scope="module")
def assets():
    if not SHARED.is_dir():
        pytest.skip("shared data folder absent")
    from export.data.assets import load_assets
    return load_assets(SHARED / "data", SHARED / "fonts")


def test_text_matches_format(assets):
    from export.data.plates import render_plate
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(60):
        p = render_plate(rng, assets)
        seen.add(p.fmt)
        assert (OLD_RE if p.fmt == "old" else MERC_RE).match(p.text), p.text
        assert p.image.dtype == np.uint8 and p.image.ndim == 3 and p.image.shape[2] == 3
    assert seen == {"old", "mercosul"}
    for fmt, rx in (("old", OLD_RE), ("mercosul", MERC_RE)):
        assert rx.match(render_plate(rng, assets, fmt=fmt).text)
    assert render_plate(rng, assets, fmt="old", text="ABC1234").text == "ABC1234"


def test_two_line_flag(assets):
    from export.data.plates import render_plate
    rng = np.random.default_rng(1)
    for fmt in ("old", "mercosul"):
        one = render_plate(rng, assets, fmt=fmt, two_line=False)
        two = render_plate(rng, assets, fmt=fmt, two_line=True)
        assert not one.two_line and two.two_line
        assert one.image.shape[1] / one.image.shape[0] > 2.5      # 400x130 mm
        assert two.image.shape[1] / two.image.shape[0] < 1.5      # motorcycle plates


def test_european_plates_are_drawn_on_one_line_only_when_asked_for(assets):
    """The plate check's foreign plates (train_plate_check.Batches): never a random format, so the
    detector's scenes and the validation sets stay Brazilian."""
    from export.data.degrade import recognizer_sample
    from export.data.plates import render_plate
    rng = np.random.default_rng(2)
    for _ in range(20):
        p = render_plate(rng, assets, fmt="eu")
        assert EU_RE.match(p.text) and not p.two_line and p.image.shape == (66, 312, 3), p.text
    with pytest.raises(ValueError, match="one line"):
        render_plate(rng, assets, fmt="eu", two_line=True)
    assert all(render_plate(rng, assets).fmt != "eu" for _ in range(100))
    texts = [recognizer_sample(np.random.default_rng(s), assets, 144, 48, p_foreign=1.0)[1] for s in range(10)]
    assert all(EU_RE.match(t) for t in texts)
    plain = [recognizer_sample(np.random.default_rng(s), assets, 144, 48)[0] for s in range(4)]
    asked_not = [recognizer_sample(np.random.default_rng(s), assets, 144, 48, p_foreign=0.0)[0] for s in range(4)]
    assert all(np.array_equal(a, b) for a, b in zip(plain, asked_not))


def test_deterministic_by_seed(assets):
    from export.data.degrade import recognizer_sample
    from export.data.plates import render_plate
    a = render_plate(np.random.default_rng(7), assets)
    b = render_plate(np.random.default_rng(7), assets)
    assert a.text == b.text and a.image.tobytes() == b.image.tobytes()
    ra = [recognizer_sample(np.random.default_rng(s), assets, 144, 48) for s in range(5)]
    rb = [recognizer_sample(np.random.default_rng(s), assets, 144, 48) for s in range(5)]
    for (ia, ta), (ib, tb) in zip(ra, rb):
        assert ta == tb and ia.tobytes() == ib.tobytes()


def test_recognizer_sample_size(assets):
    from export.data.degrade import recognizer_sample, warp_image
    from export.data.plates import render_plate
    rng = np.random.default_rng(3)
    for w, h in ((144, 48), (160, 60), (100, 100)):
        for _ in range(10):
            img, text = recognizer_sample(rng, assets, w, h)
            assert img.shape == (h, w, 3) and img.dtype == np.uint8
            assert OLD_RE.match(text) or MERC_RE.match(text)
    img, corners = warp_image(rng, render_plate(rng, assets).image, target_h=40)
    assert img.shape[2] == 4 and corners.shape == (4, 2) and corners.dtype == np.float32
    assert (corners[:, 0] <= img.shape[1]).all() and (corners[:, 1] <= img.shape[0]).all()


def test_a_quad_cut_short_loses_that_part_of_its_height_on_the_edges_named():
    from export.data.degrade import cut_short
    quad = np.float32([[10, 20], [110, 30], [108, 80], [8, 70]])  # turned a little, 50 px tall
    top, bottom, both = cut_short(quad, "top", 0.1), cut_short(quad, "bottom", 0.2), cut_short(quad, "both", 0.1)
    np.testing.assert_allclose(top[2:], quad[2:])
    np.testing.assert_allclose(bottom[:2], quad[:2])
    np.testing.assert_allclose(top[:2] - quad[:2], [[-0.2, 5.0]] * 2, atol=1e-5)  # along the plate's sides
    np.testing.assert_allclose(quad[2:] - bottom[2:], [[-0.4, 10.0]] * 2, atol=1e-5)
    np.testing.assert_allclose(both, np.concatenate([top[:2], quad[2:] - (quad[2:] - bottom[2:]) / 2]), atol=1e-5)


def test_cut_training_crops_leave_the_validation_draws_alone(assets):
    from export.data.degrade import recognizer_sample
    plain = [recognizer_sample(np.random.default_rng(s), assets, 144, 48) for s in range(8)]
    uncut = [recognizer_sample(np.random.default_rng(s), assets, 144, 48, p_cut=0.0) for s in range(8)]
    cut = [recognizer_sample(np.random.default_rng(s), assets, 144, 48, p_cut=1.0) for s in range(8)]
    assert all(a[0].tobytes() == b[0].tobytes() for a, b in zip(plain, uncut))
    assert [t for _, t in cut] == [t for _, t in plain]
    assert sum(a[0].tobytes() != c[0].tobytes() for a, c in zip(plain, cut)) >= 6


def test_readable_plates_are_never_tiny():
    from export.data.degrade import _effective_height
    rng = np.random.default_rng(0)
    assert min(_effective_height(rng, False, 0.0) for _ in range(500)) >= 30
    assert min(_effective_height(rng, False) for _ in range(500)) < 30  # the default keeps tiny plates


def _drawn(ch: str, scale: float, thickness: int) -> np.ndarray:
    """A white-on-black character mask cropped to its ink, like a glyph tile."""
    import cv2
    from export.data.assets import _crop_ink
    img = np.zeros((80, 60), np.uint8)
    cv2.putText(img, ch, (5, 65), cv2.FONT_HERSHEY_SIMPLEX, scale, 255, thickness)
    return _crop_ink(img)


def test_a_tile_filed_under_the_wrong_character_is_dropped():
    from export.data.assets import _drop_mislabelled
    fives = [_drawn("5", s, t) for s in (1.8, 2.0, 2.2) for t in (5, 6)]
    sixes = [_drawn("6", s, t) for s in (1.8, 2.0, 2.2) for t in (5, 6)]
    kept = _drop_mislabelled({"5": fives + [_drawn("6", 2.1, 5)], "6": sixes})
    assert len(kept["5"]) == len(fives) and all(any(k is f for f in fives) for k in kept["5"])
    assert len(kept["6"]) == len(sixes)


def test_real_glyph_tiles_lose_only_a_few_to_the_label_check(monkeypatch):
    if not SHARED.is_dir():
        pytest.skip("shared data folder absent")
    from export.data import assets as module
    check, seen = module._drop_mislabelled, {}
    monkeypatch.setattr(module, "_drop_mislabelled", lambda glyphs: seen.update(glyphs) or glyphs)
    module._load_old_glyphs(SHARED / "data" / "br-glyphs")
    kept = check(seen)
    dropped = {c: len(seen[c]) - len(kept[c]) for c in seen if len(seen[c]) > len(kept[c])}
    assert dropped.get("5") == 2  # the two 6s filed as 5
    assert 2 < sum(dropped.values()) <= 20 and min(len(v) for v in kept.values()) >= 12


def test_a_misfiled_tile_the_label_check_cannot_tell_is_left_out(tmp_path):
    import cv2
    from export.data.assets import MISFILED, _load_old_glyphs
    (tmp_path / "images").mkdir()
    rows = ["file,char,source_name"]
    for name in sorted(MISFILED) + ["ok.jpg"]:
        tile = np.full((40, 24), 255, np.uint8)
        cv2.putText(tile, "9", (2, 34), cv2.FONT_HERSHEY_SIMPLEX, 1.1, 0, 3)
        cv2.imwrite(str(tmp_path / "images" / name), tile)
        rows.append(f"{name},9,{name}")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    assert len(_load_old_glyphs(tmp_path)["9"]) == 1
