"""Synthetic detector scenes: labels match what is drawn, and rendering is deterministic."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from export.data import scenes
from export.data.scenes import PlateLabel, Scene, render_scene

SHARED = Path(__file__).resolve().parents[2] / "shared"
DATA = SHARED / "data"
FORMATS = {"old": re.compile(r"^[A-Z]{3}[0-9]{4}$"), "mercosul": re.compile(r"^[A-Z]{3}[0-9][A-Z][0-9]{2}$")}
W, H = 640, 640

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="shared data absent")


@pytest.fixture(scope="module")
def assets():
    from export.data.assets import load_assets
    return load_assets(DATA, SHARED / "fonts")


@pytest.fixture(scope="module")
def frames():
    from export.data.real import load_scenes_ro, split_scenes_ro
    return split_scenes_ro(load_scenes_ro(DATA))[0]


@pytest.fixture(scope="module")
def rendered(assets, frames) -> list[Scene]:
    return [render_scene(np.random.default_rng(seed), assets, W, H, frames=frames) for seed in range(60)]


def _iou(a, b) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return ix * iy / (a[2] * a[3] + b[2] * b[3] - ix * iy)


def test_scene_image(rendered: list[Scene]) -> None:
    for sc in rendered:
        assert sc.image.shape == (H, W, 3) and sc.image.dtype == np.uint8
        assert all(isinstance(p, PlateLabel) for p in sc.plates)


def test_synthetic_labels_consistent(rendered: list[Scene]) -> None:
    n = 0
    for sc in rendered:
        for p in sc.plates:
            if p.corners is None:
                continue
            n += 1
            c = p.corners
            assert c.shape == (4, 2) and c.dtype == np.float32
            assert (c >= 0).all() and (c[:, 0] <= W).all() and (c[:, 1] <= H).all()
            assert p.fmt in FORMATS and FORMATS[p.fmt].match(p.text), (p.fmt, p.text)
            x, y, w, h = p.box
            assert w > 0 and h > 0
            np.testing.assert_allclose([x, y, x + w, y + h], [*c.min(0), *c.max(0)], atol=1e-3)
            # TL,TR,BR,BL order: top edge above bottom edge, left edge left of right edge
            assert c[0, 1] < c[3, 1] and c[1, 1] < c[2, 1] and c[0, 0] < c[1, 0] and c[3, 0] < c[2, 0]
            assert cv2.contourArea(c) > 0.5 * w * h * 0.5
    assert n >= 40


def test_real_labels(rendered: list[Scene]) -> None:
    n = 0
    for sc in rendered:
        for p in sc.plates:
            if p.corners is not None:
                continue
            n += 1
            assert p.text is None and p.fmt is None
            x, y, w, h = p.box
            assert x >= 0 and y >= 0 and x + w <= W + 1e-3 and y + h <= H + 1e-3 and w > 0 and h > 0
    assert n >= 3


def test_labels_do_not_overlap(rendered: list[Scene]) -> None:
    for sc in rendered:
        for i, a in enumerate(sc.plates):
            for b in sc.plates[i + 1:]:
                if a.corners is not None or b.corners is not None:
                    assert _iou(a.box, b.box) < 0.05


def test_negatives_and_sizes(rendered: list[Scene]) -> None:
    assert any(not sc.plates for sc in rendered)
    widths = [p.box[2] for sc in rendered for p in sc.plates if p.corners is not None]
    assert min(widths) < 40 and max(widths) > 120
    rng = np.random.default_rng(0)
    draws = np.array([scenes._plate_width(rng, 0.45 * W) for _ in range(4000)])
    assert draws.min() >= 20 and draws.max() <= 0.45 * W + 1e-6
    assert abs(np.median(draws) - np.sqrt(20 * 0.45 * W)) < 10  # log-uniform: median = geometric mean


def test_plates_are_turned_as_far_as_a_photo_taken_askew(rendered: list[Scene]) -> None:
    """A detector trained on plates within 10 degrees of level found 18% of real plates turned by 20."""
    tops = [c[1] - c[0] for sc in rendered for p in sc.plates if (c := p.corners) is not None]
    angles = np.abs(np.degrees(np.arctan2([t[1] for t in tops], [t[0] for t in tops])))
    assert np.median(angles) < 8  # most plates still nearly level
    assert (angles > 15).sum() >= 3 and angles.max() < 45


def test_largest_plate_widens_the_range(assets) -> None:
    """A crop smaller than the detector input must still show plates as wide as the input has."""
    rng = np.random.default_rng(5)
    widths = [p.box[2] for _ in range(40) for p in render_scene(rng, assets, 320, 320, largest_plate=300.0).plates]
    assert max(widths) > 0.45 * 320 * 1.3 and max(widths) <= 320


def test_deterministic(assets, frames) -> None:
    for seed in (3, 11):
        a = render_scene(np.random.default_rng(seed), assets, frames=frames)
        b = render_scene(np.random.default_rng(seed), assets, frames=frames)
        np.testing.assert_array_equal(a.image, b.image)
        assert [(p.box, p.text) for p in a.plates] == [(p.box, p.text) for p in b.plates]
    c = render_scene(np.random.default_rng(4), assets, frames=frames)
    assert not np.array_equal(a.image, c.image)


def test_paste_changes_only_the_plate(assets, monkeypatch) -> None:
    """Inside the quad the image differs from the background; far outside it is untouched."""
    from export.data.plates import render_plate
    monkeypatch.setattr(scenes, "_recess", lambda rng, img, quad: None)  # its soft shadow reaches further
    changed = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        bg = np.full((H, W, 3), 90, np.uint8)
        img = bg.copy()
        lb = scenes._paste_plate(rng, img, render_plate(rng, assets), [], (0, 0, W, H), 0.0, 0.45 * W, p_car=0.0)
        if lb is None:
            continue
        inside = np.zeros((H, W), np.uint8)
        cv2.fillConvexPoly(inside, np.round(lb.corners).astype(np.int32), 1)
        inside = cv2.erode(inside, np.ones((3, 3), np.uint8)).astype(bool)
        diff = np.abs(img.astype(int) - bg.astype(int)).max(2)
        if inside.sum() > 20:
            assert diff[inside].mean() > 3 or diff[inside].max() > 30
            changed += 1
        x, y, w, h = lb.box
        outside = np.ones((H, W), bool)
        outside[max(int(y) - 3, 0): int(y + h) + 4, max(int(x) - 3, 0): int(x + w) + 4] = False
        assert diff[outside].max() == 0
    assert changed >= 15


def test_real_frame_boxes_follow_scaling(frames) -> None:
    """Boxes of a real frame are scaled with it, clipped to the image, and never invented."""
    rng = np.random.default_rng(5)
    fr = max(frames, key=lambda f: len(f.boxes))
    for _ in range(20):
        img, labels, rect, s = scenes._real_background(rng, fr, W, H)
        assert img.shape == (H, W, 3) and 0.5 <= s <= 1.5
        assert len(labels) <= len(fr.boxes)
        x0, y0, x1, y1 = rect
        assert (img[:y0] == scenes.PAD_VALUE).all() and (img[y1:] == scenes.PAD_VALUE).all()
        for lb in labels:
            x, y, w, h = lb.box
            assert x0 <= x and y0 <= y and x + w <= x1 + 1e-3 and y + h <= y1 + 1e-3
            assert w <= s * fr.boxes[:, 2].max() + 1 and h <= s * fr.boxes[:, 3].max() + 1
            assert w >= 0.6 * s * fr.boxes[:, 2].min() - 1 or h >= 0.6 * s * fr.boxes[:, 3].min() - 1


def _plate_on_wall(text: str, blur: float = 0.0, noise: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A light plate with dark characters, tilted, on a grey wall; returns (image, corners TL,TR,BR,BL)."""
    flat = np.full((40, 130, 3), 200, np.uint8)
    cv2.putText(flat, text, (6, 31), cv2.FONT_HERSHEY_SIMPLEX, 0.95, (30, 30, 30), 3, cv2.LINE_AA)
    corners = np.float32([[100, 80], [230, 90], [228, 130], [98, 120]])
    matrix = cv2.getPerspectiveTransform(np.float32([[0, 0], [130, 0], [130, 40], [0, 40]]), corners)
    image = np.full((240, 320, 3), 90, np.uint8)
    warped = cv2.warpPerspective(flat, matrix, (320, 240))
    mask = cv2.warpPerspective(np.ones((40, 130), np.uint8), matrix, (320, 240)).astype(bool)
    image[mask] = warped[mask]
    out = image.astype(np.float32)
    if blur:
        out = cv2.GaussianBlur(out, (0, 0), blur)
    out += np.random.default_rng(0).normal(0, noise, out.shape)
    return np.clip(out, 0, 255).astype(np.uint8), corners


def test_character_contrast_tells_characters_from_a_blank_plate() -> None:
    sharp, corners = _plate_on_wall("ABC1D23", noise=6)
    blank, _ = _plate_on_wall("", noise=6)
    wiped, _ = _plate_on_wall("ABC1D23", blur=8, noise=6)
    assert scenes.character_contrast(sharp, corners) > 4 * scenes.MIN_CHARACTER_CONTRAST
    assert scenes.character_contrast(blank, corners) < scenes.MIN_CHARACTER_CONTRAST / 2
    assert scenes.character_contrast(wiped, corners) < scenes.MIN_CHARACTER_CONTRAST


def test_plates_without_a_visible_character_are_ignore_labels(assets) -> None:
    rendered = [render_scene(np.random.default_rng(seed), assets, 1280, 720) for seed in range(40)]
    synthetic = [(sc, p) for sc in rendered for p in sc.plates if p.corners is not None]
    blank = [p for _, p in synthetic if p.ignore]
    assert 0 < len(blank) < len(synthetic) / 2
    for sc, p in synthetic:
        assert p.ignore == (scenes.character_contrast(sc.image, p.corners) < scenes.MIN_CHARACTER_CONTRAST)


def test_detector_validation_leaves_blank_plates_out_of_the_truth(assets) -> None:
    pytest.importorskip("torch")  # export.train_detector imports it; the runtime-only CI has none
    from export.train_detector import MIN_SYNTHETIC_WIDTH, validation_sets
    items = validation_sets(assets, [], 20, seed=3)["synthetic_val"]
    rng = np.random.default_rng(3)  # the same draws, in the same order, as validation_sets makes
    scenes_again = [render_scene(rng, assets, 1280, 720) for _ in range(20)]
    for (image, truth, unboxed), sc in zip(items, scenes_again):
        assert np.array_equal(image, sc.image)
        expected = [p.box for p in sc.plates if not p.ignore and p.box[2] >= MIN_SYNTHETIC_WIDTH]
        assert np.allclose(truth, np.array(expected).reshape(-1, 4))
        assert np.allclose(unboxed, np.array([p.box for p in sc.plates if p.ignore]).reshape(-1, 4))


def test_real_crops_are_a_share_of_the_pasted_plates_and_only_when_given(assets, frames, rendered) -> None:
    crop = cv2.imread(str(sorted((DATA / "br-plate-crops" / "images").glob("*.jpg"))[0]), cv2.IMREAD_COLOR)
    with_crops = [render_scene(np.random.default_rng(seed), assets, W, H, frames=frames, crops=[crop])
                  for seed in range(40)]
    plates = [p for sc in with_crops for p in sc.plates if p.corners is not None]
    rough = [p for p in plates if p.rough]
    assert 0.1 < len(rough) / len(plates) < 0.45  # P_REAL_CROP of the pasted plates
    assert all(p.text is None and p.corners.shape == (4, 2) for p in rough)
    assert not any(p.rough for sc in rendered for p in sc.plates)


def test_the_detector_trains_on_half_the_train_crops_and_no_val_crop() -> None:
    from export.data.real import detector_crops, load_br_crops, split_br_crops
    from runtime.splits import text_in_val

    train, _ = split_br_crops(load_br_crops(DATA))
    crops = detector_crops(train)
    assert not any(text_in_val(c.text) for c in crops)
    assert 0.35 < len(crops) / len(train) < 0.65
    kept = {c.text for c in crops}
    assert any(c.text not in kept for c in train)  # a held-out half is left for dev
