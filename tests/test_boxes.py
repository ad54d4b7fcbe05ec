"""Letterbox geometry, NMS and mapping back to original pixels, with hand-computed numbers."""
import cv2
import numpy as np
import pytest

from runtime.boxes import candidates, decode, iou_one_to_many, nms, postprocess, threshold, to_detections, to_original, unseen
from runtime.crops import box_crop, crop_plate, is_valid_quad, rectify, shrink, widened
from runtime.letterbox import fit, letterbox, place
from runtime.manifest import Normalization
from tiny_models import EXPECTED_BOXES, SCENE_ROWS, encode_rows, row

PLAIN = Normalization(1 / 255, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))


def test_fit_720p_into_768x448():
    box = fit(1280, 720, 768, 448)
    assert box.ratio == pytest.approx(0.6)
    assert (box.width, box.height) == (768, 432)


def test_fit_portrait():
    box = fit(600, 1000, 768, 448)
    assert box.ratio == pytest.approx(0.448)
    assert (box.width, box.height) == (269, 448)  # round(268.8)


def test_fit_never_enlarges_a_small_image():
    box = fit(200, 80, 768, 448)  # a plate photographed alone
    assert box.ratio == 1.0 and (box.width, box.height) == (200, 80)


def test_fit_gives_a_picture_a_border_from_the_inputs_spare_room():
    crop = fit(200, 80, 768, 448, margin=0.25)  # a plate photographed alone: a quarter of each side
    assert (crop.ratio, crop.width, crop.height, crop.left, crop.top) == (1.0, 200, 80, 50, 20)
    small = fit(700, 430, 768, 448, margin=0.25)  # little room: what there is, shared on both sides
    assert (small.left, small.top) == (34, 9)
    frame = fit(1280, 720, 768, 448, margin=0.25)  # shrunk: at the top-left, as the detector was trained
    assert (frame.width, frame.height, frame.left, frame.top) == (768, 432, 0, 0)
    assert (fit(200, 80, 768, 448).left, fit(200, 80, 768, 448).top) == (0, 0)


def test_place_puts_the_picture_at_its_place_and_pads_around_it():
    picture = np.full((2, 3, 3), 255, np.uint8)
    blob = place(picture, 8, 6, 0, PLAIN, left=2, top=1)
    assert np.array_equal(np.argwhere(blob[0, 0] == 1.0)[[0, -1]], [[1, 2], [2, 4]])
    assert blob[0].sum() == 3 * 6  # nothing but the picture is lit
    with pytest.raises(ValueError, match="does not fit"):
        place(picture, 8, 6, 0, PLAIN, left=6, top=0)


def test_candidates_take_off_the_pictures_place_before_scaling():
    raw = np.array([row((60, 28, 160, 68), 0.9)], np.float32)
    rows = candidates(raw, 0.5, 0.4, 0.45, left=10, top=8)
    assert rows[0, :4].tolist() == pytest.approx([100, 40, 300, 120])
    assert rows[0, 5:].tolist() == pytest.approx([100, 40, 300, 40, 300, 120, 100, 120])


def test_shrink_averages_blocks_and_place_pads_to_the_coarse_size():
    picture = np.zeros((432, 768, 3), np.uint8)
    picture[:4, :4] = 200  # one 4x4 block -> one pixel of 200
    picture[4:8, :2] = 200  # half a block -> 100
    small = shrink(picture, 4)
    assert small.shape == (108, 192, 3)
    assert small[0, 0, 0] == 200 and small[1, 0, 0] == 100 and small[0, 1, 0] == 0
    blob = place(small, 192, 128, 114, PLAIN)
    assert blob.shape == (1, 3, 128, 192) and blob[0, 0, 0, 0] == pytest.approx(200 / 255)
    assert np.allclose(blob[0, :, 108:], 114 / 255)  # below the shrunk picture: padding


def test_decode_one_cell_by_hand():
    maps = [np.full((13, 4, 6), -9.0, np.float32), np.full((13, 2, 3), -9.0, np.float32)]  # strides 8, 16
    maps[1][:, 1, 2] = [0.0, np.log(2), 0.0, np.log(3), np.log(0.5), -1, -0.25, 1, -0.25, 1, 0.25, -1, 0.25]
    rows = decode(maps, (8, 16), 0.4, 6.0)  # column 2, row 1 at stride 16: centre (40, 24)
    assert rows.shape == (1, 13)
    assert rows[0, :4].tolist() == pytest.approx([40 - 32, 24 - 16, 40 + 48, 24 + 8])
    assert rows[0, 4] == pytest.approx(0.5)
    assert rows[0, 5:].tolist() == pytest.approx([24, 20, 56, 20, 56, 28, 24, 28])
    assert decode(maps, (8, 16), 0.51, 6.0).shape == (0, 13)  # the one cell scores 0.5


def test_decode_caps_side_distances_whatever_the_logits():
    maps = [np.zeros((13, 1, 1), np.float32)]
    maps[0][1:5] = 80.0  # exp(80) would overflow float32
    rows = decode(maps, (8,), 0.4, 6.0)
    assert np.isfinite(rows).all() and rows[0, 2] - rows[0, 0] == pytest.approx(2 * 8 * np.exp(6), rel=1e-5)


def test_decode_gives_back_the_rows_the_tiny_detector_holds():
    maps = [m[0, :, :448 // s, :768 // s] for m, s in zip(encode_rows(SCENE_ROWS), (8, 16, 32))]
    rows = decode(maps, (8, 16, 32), 0.01, 6.0)
    want = SCENE_ROWS[np.argsort(-SCENE_ROWS[:, 4])]
    assert rows[np.argsort(-rows[:, 4])] == pytest.approx(want, abs=1e-3)


def test_coarse_candidates_keep_only_wide_boxes_in_original_pixels():
    raw = np.array([row((10, 10, 70, 30), 0.9), row((100, 10, 130, 20), 0.95), row((10, 50, 90, 80), 0.3)], np.float32)
    rows = candidates(raw, 0.15, 0.4, 0.45, min_width=40)  # 1280x720 at 1/4 of the 0.6 letterbox
    assert rows.shape == (1, 13) and rows[0, 4] == pytest.approx(0.9)
    assert rows[0, :4].tolist() == pytest.approx([10 / 0.15, 10 / 0.15, 70 / 0.15, 30 / 0.15])


def test_unseen_keeps_only_coarse_boxes_that_touch_no_kept_plate():
    first = np.array([row((100, 100, 300, 160), 0.7)], np.float32)
    coarse = np.array([row((90, 95, 330, 180), 0.95), row((290, 150, 400, 200), 0.9), row((500, 400, 900, 520), 0.8)],
                      np.float32)
    assert unseen(first, coarse)[:, 4].tolist() == pytest.approx([0.8])  # both boxes touching the plate are dropped
    assert unseen(first[:0], coarse).shape == (3, 13)
    assert unseen(first, coarse[:0]).shape == (0, 13)


def test_letterbox_pads_right_and_bottom_and_swaps_to_rgb():
    image = np.zeros((720, 1280, 3), np.uint8)
    image[..., 0] = 255  # blue in BGR
    blob, box = letterbox(image, 768, 448, 114, PLAIN)
    assert blob.shape == (1, 3, 448, 768) and blob.dtype == np.float32
    assert blob[0, 2, :432, :].min() == pytest.approx(1.0)  # blue -> RGB channel 2
    assert blob[0, 0, :432, :].max() == 0.0
    assert np.allclose(blob[0, :, 432:, :], 114 / 255)  # bottom padding


def test_letterbox_mean_std():
    image = np.full((48, 144, 3), 255, np.uint8)
    norm = Normalization(1 / 255, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    blob, _ = letterbox(image, 144, 48, 0, norm)
    assert np.allclose(blob, 1.0)


def test_iou_known_values():
    a = np.array([0, 0, 10, 10], np.float32)
    others = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], np.float32)
    assert np.allclose(iou_one_to_many(a, others), [1.0, 50 / 150, 0.0])


def test_nms_keeps_best_of_overlapping_and_separate_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [5, 0, 15, 10]], np.float32)
    scores = np.array([0.6, 0.9, 0.5, 0.7], np.float32)
    # IoU(1,0)=81/119=0.68 -> removed; IoU(1,3)=54/146=0.37 -> kept at 0.45
    assert nms(boxes, scores, 0.45).tolist() == [1, 3, 2]
    assert nms(boxes, scores, 0.3).tolist() == [1, 2]


def test_threshold_sorts_and_filters():
    kept = threshold(SCENE_ROWS, 0.4)
    assert kept[:, 4].tolist() == pytest.approx([0.95, 0.9, 0.8, 0.7])


def test_to_original_divides_by_ratio_and_clips():
    pts = np.array([[60, 60, 180, 120], [700, 400, 800, 460]], np.float32)
    out = to_original(pts, 0.6, 1280, 720)
    assert out[0].tolist() == pytest.approx([100, 100, 300, 200])
    assert out[1].tolist() == pytest.approx([700 / 0.6, 400 / 0.6, 1280, 720])


def test_postprocess_scene():
    dets = postprocess(SCENE_ROWS, 0.6, 1280, 720, 0.4, 0.45)
    assert [d.score for d in dets] == pytest.approx([0.9, 0.7])
    xywh = [[round(float(d.box[0])), round(float(d.box[1])), round(float(d.box[2])) - round(float(d.box[0])),
             round(float(d.box[3])) - round(float(d.box[1]))] for d in dets]
    assert xywh == EXPECTED_BOXES
    assert np.allclose(dets[0].corners, [[62 / 0.6, 100], [300, 62 / 0.6], [178 / 0.6, 200], [100, 118 / 0.6]])


def test_postprocess_nothing_over_threshold():
    assert postprocess(np.array([row((0, 0, 10, 10), 0.1)], np.float32), 1.0, 100, 100, 0.4, 0.45) == []


def test_quad_validity():
    box = np.array([100, 100, 300, 200], np.float32)
    good = np.array([[103, 100], [300, 103], [297, 200], [100, 197]], np.float32)
    assert is_valid_quad(good, box)
    assert not is_valid_quad(good[[0, 2, 1, 3]], box)  # self-intersecting
    assert not is_valid_quad(good[::-1].copy(), box)  # counter-clockwise
    assert not is_valid_quad(np.array([[100, 100], [300, 100], [300, 102], [100, 102]], np.float32), box)  # flat
    assert not is_valid_quad(good + 500, box)  # far from the box


def test_crops_have_recognizer_size():
    image = np.random.default_rng(0).integers(0, 255, (720, 1280, 3), dtype=np.uint8)
    box = np.array([100, 100, 300, 200], np.float32)
    quad = np.array([[103, 100], [300, 103], [297, 200], [100, 197]], np.float32)
    crop, rectified = crop_plate(image, box, quad, 144, 48, 0.03)
    assert crop.shape == (48, 144, 3) and rectified
    crop, rectified = crop_plate(image, box, quad[[0, 2, 1, 3]], 144, 48, 0.03)
    assert crop.shape == (48, 144, 3) and not rectified


def test_the_quad_is_widened_by_the_margin_before_rectifying():
    """A dark plate 200x60 with a white border 6 px wide around it: cut at its corners, the crop
    is the plate alone; widened by 0.03 (6 px of 200, 1.8 of 60) the border shows on every side."""
    image = np.full((400, 600, 3), 255, np.uint8)
    image[170:230, 200:400] = 0
    quad = np.float32([[200, 170], [400, 170], [400, 230], [200, 230]])
    box = np.float32([200, 170, 400, 230])
    tight, _ = crop_plate(image, box, quad, 144, 48, 0.0)
    wide, _ = crop_plate(image, box, quad, 144, 48, 0.03)
    assert tight.max() < 40
    assert wide[:, 0].min() > 200 and wide[:, -1].min() > 200 and wide[0].min() > 100 and wide[-1].min() > 100
    assert wide[24, 72].max() < 40  # the plate is still in the middle


def test_large_plates_are_shrunk_by_averaging_not_by_skipping_pixels():
    # Pixel noise shrunk 10x: averaging 100 pixels leaves a tenth of its spread, a bilinear
    # resize (4 pixels per output) half of it.
    image = np.random.default_rng(2).integers(0, 256, (480, 1440, 3), dtype=np.uint8)
    quad = np.float32([[0, 0], [1440, 0], [1440, 480], [0, 480]])
    for crop in (rectify(image, quad, 144, 48), box_crop(image, np.float32([0, 0, 1440, 480]), 144, 48)):
        assert float(crop.std()) < 15 < float(image.std()) / 2


def test_rectify_maps_an_offset_quad_as_the_full_image_would():
    image = np.random.default_rng(1).integers(0, 255, (200, 300, 3), dtype=np.uint8)
    quad = np.float32([[40.5, 30], [200, 35.5], [198, 90], [42, 88]])  # about 1.1x the target: no shrink
    target = np.float32([[0, 0], [144, 0], [144, 48], [0, 48]])
    expected = cv2.warpPerspective(image, cv2.getPerspectiveTransform(quad, target), (144, 48), flags=cv2.INTER_LINEAR)
    assert np.abs(rectify(image, quad, 144, 48).astype(int) - expected).max() <= 1


def test_refine_window_only_where_it_adds_resolution(tiny_models_dir):
    from runtime.detector import refine_window
    from runtime.manifest import load_manifest

    spec = load_manifest(tiny_models_dir).detector  # 320x192 at most, 3 plate widths, gain 1.5
    small = refine_window(spec, np.array([600, 400, 650, 416]), 0.6)  # 50 px in a 1280x720 frame
    assert small == (1.0, 545, 360, 160, 96)  # full resolution, 150 px of context -> 160x96 around (625, 408)
    assert refine_window(spec, np.array([600, 400, 800, 460]), 0.6) is None  # 200 px: 320 / 600 < 0.9
    scale, left, top, width, height = refine_window(spec, np.array([1000, 900, 1200, 960]), 0.3)  # a large photo
    assert (width, height) == (320, 192) and scale == pytest.approx(320 / 600)
    assert (left, top) == (800, 750)  # 600x360 px of the photo around the plate's centre (1100, 930)


@pytest.mark.parametrize("height,small_score,kept,looks", [(61, 0.95, True, 2), (61, 0.3, False, 2), (26, 0.95, False, 1)])
def test_a_tall_plate_the_closer_look_misses_is_looked_at_that_tall(tiny_reader, height, small_score, kept, looks):
    """The network scores a two-line plate low once it is tall in its input: a plate taller than
    max_plate_height (32) in the closer look's window and not confirmed there is looked at once more
    32 px tall, and kept with the pass's row if confirmed; a one-line plate gets no second look."""
    from runtime.detector import Detector, around, refine_window, window_size

    spec = tiny_reader.detector.spec  # refine_confidence 0.7
    plate = np.float32([600, 400, 680, 400 + height])  # 80 px wide, found at ratio 0.6: seen at full resolution
    full = refine_window(spec, plate, 0.6)
    scale, width, height_px = window_size(spec, 80, full[0] * 32 / height)
    small = (scale, *around(plate, scale, width, height_px), width, height_px)
    calls = []

    class Graph(Detector):
        def rows(self, blob, confidence):  # scores 0.2 at full resolution, small_score 32 px tall
            at = full if blob.shape[3] == full[3] else small
            calls.append(at)
            x1, y1, x2, y2 = (plate - np.float32([at[1], at[2], at[1], at[2]])) * at[0]
            found = np.array([row((x1, y1, x2, y2), 0.2 if at is full else small_score)], np.float32)
            return found[found[:, 4] >= confidence]

    first = np.array(row(tuple(plate), 0.9), np.float32)
    found = Graph(spec, tiny_reader.detector.session).closer_look(np.full((720, 1280, 3), 90, np.uint8), first, 0.6, 0.4, 0.45)
    assert len(calls) == looks and calls[0] is full
    if kept:
        np.testing.assert_array_equal(found, first)
    else:
        assert found is None


@pytest.mark.parametrize("level_plate", [True, False])
def test_the_turned_views_run_only_where_no_plate_is_found_level(tiny_reader, level_plate):
    """A photo taken askew shows no level plate: the picture is seen turned only then, so a camera
    frame with level plates pays nothing for it."""
    from runtime.detector import Detector

    views = []

    class Graph(Detector):
        def rows(self, blob, confidence):  # a plate at the centre of every pass and window, or nothing
            height, width = blob.shape[2:]
            found = np.array([row((width * 0.4, height * 0.47, width * 0.6, height * 0.53), 0.95)], np.float32)
            return found if level_plate else found[:0]

        def turned_views(self, picture, ratio, confidence, iou):
            views.append(picture.shape)
            return np.zeros((0, 13), np.float32)

    found = Graph(tiny_reader.detector.spec, tiny_reader.detector.session)(np.full((720, 1280, 3), 90, np.uint8))
    assert bool(found) == level_plate
    assert len(views) == (0 if level_plate else 1)


def test_refine_window_is_cut_scaled_and_padded_where_it_leaves_the_image():
    from runtime.detector import window_of

    image = np.zeros((100, 100, 3), np.uint8)
    image[:20, :20] = 200
    window = window_of(image, -10, -10, 0.5, 40, 20, 114)  # 80x40 px of the image from (-10, -10), halved
    assert window.shape == (20, 40, 3)
    assert (window[:5, :] == 114).all() and (window[:, :5] == 114).all()  # the 10 px outside, halved
    assert (window[5:15, 5:15] == 200).all() and (window[15:, 20:] == 0).all()


def test_a_small_plate_the_closer_look_does_not_find_is_dropped(tmp_path):
    from runtime.reader import PlateReader
    from tiny_models import write_models

    # In 768x448 input pixels of a 1280x720 frame (ratio 0.6): a 30 px box (50 px in the frame,
    # looked at again at full resolution) and a 120 px one (200 px: no closer look). The tiny
    # detector finds nothing in any other input, so the closer look finds nothing either.
    rows = np.array([row((60, 60, 180, 120), 0.9), row((400, 200, 430, 210), 0.8)], np.float32)
    reader = PlateReader(write_models(tmp_path / "m", rows), providers="cpu", threads=1)
    found = reader.detector(np.full((720, 1280, 3), 90, np.uint8))
    assert [d.box.round().tolist() for d in found] == [[100, 100, 300, 200]]


def test_detector_maps_boxes_back_from_a_bordered_picture(tiny_reader):
    """The tiny detector answers the scene's rows whatever the picture. A 640x400 photo is not shrunk,
    so it sits with a border in the 768x448 input, at (64, 24): every box comes back that much
    higher and further left than from the same rows read at the top-left."""
    from dataclasses import replace

    from runtime.detector import Detector

    image = np.zeros((400, 640, 3), np.uint8)
    plain = Detector(replace(tiny_reader.detector.spec, margin=0.0), tiny_reader.detector.session)(image)
    bordered = Detector(replace(tiny_reader.detector.spec, margin=0.25), tiny_reader.detector.session)(image)
    assert len(plain) == len(bordered) == 2
    for a, b in zip(plain, bordered):
        assert np.allclose(b.corners, a.corners - [64, 24])
    assert bordered[1].box.tolist() == pytest.approx([400 - 64, 200 - 24, 520 - 64, 260 - 24])


def test_a_looked_at_row_carries_its_other_looks_corners():
    """Rows of 21 columns (runtime/detector.py::LOOKED) give a detection the corners of the plate's
    other look; NaN there, or a plain 13-column row, gives none."""
    plain = np.float32([[10, 20, 110, 50, 0.9, 10, 20, 110, 20, 110, 50, 10, 50]])
    other = np.float32([12, 18, 112, 24, 108, 52, 8, 46])
    looked = np.concatenate([np.repeat(plain, 2, axis=0), np.stack([other, np.full(8, np.nan, np.float32)])], axis=1)
    first, second = to_detections(looked, 640, 480)
    assert np.array_equal(first.other_corners, other.reshape(4, 2)) and second.other_corners is None
    assert np.array_equal(first.corners, plain[0, 5:13].reshape(4, 2))
    assert to_detections(plain, 640, 480)[0].other_corners is None


def test_the_quad_is_widened_only_as_far_as_the_image_reaches():
    """A plate that fills its image (a crop uploaded alone) keeps its quad: past the image's edge
    the warp could only repeat the edge. Near the edge, the margin shrinks to what fits."""
    quad = np.float32([[0, 0], [160, 0], [160, 80], [0, 80]])
    assert np.allclose(widened(quad, 0.03, 160, 80), quad)
    assert np.allclose(widened(quad + 100, 0.03, 1000, 1000), [[95.2, 97.6], [264.8, 97.6], [264.8, 182.4], [95.2, 182.4]])
    near = widened(quad + [2, 100], 0.03, 1000, 1000)  # 2 px from the left edge: widened by 2 px on each side
    assert np.isclose(near[:, 0].min(), 0.0, atol=1e-4) and np.isclose(near[:, 0].max(), 164.0, atol=1e-4)


def stub_reader(tiny_reader, detections, readings, calls=None):
    """tiny_reader whose detector answers `detections` and whose recognizer answers readings[k]
    for plate k, recording each (crops, views) call in `calls`."""
    import copy

    class Detector:
        def __call__(self, image, confidence, iou):
            return detections

    class Recognizer:
        spec = tiny_reader.recognizer.spec

        def __call__(self, crops, views=1):
            if calls is not None:
                calls.append((crops, views))
            return readings[: len(crops) // views]

    stub = copy.copy(tiny_reader)
    stub.detector, stub.recognizer = Detector(), Recognizer()
    return stub


def test_the_reader_reads_each_plate_at_every_crop_margin_as_views(tiny_reader):
    """Each look is cut once per manifest crop margin and the crops go to the recognizer as the
    views of one plate: one reading per plate, not per crop."""
    from runtime.boxes import Detection
    from runtime.recognizer import Reading

    image = np.random.default_rng(3).integers(0, 255, (400, 600, 3), dtype=np.uint8)
    quad = np.float32([[200, 170], [400, 170], [400, 230], [200, 230]])
    box = np.float32([190, 160, 410, 240])
    margins = tiny_reader.recognizer.spec.crop_margins
    assert len(margins) == 2
    calls = []
    stub = stub_reader(tiny_reader, [Detection(box=box, score=0.9, corners=quad)],
                       [Reading("ABC1234", 0.5, (0.9,) * 7, 0.9)], calls)
    assert [p.text for p in stub.read(image)] == ["ABC1234"]
    ((crops, views),) = calls
    assert views == 2
    for crop, margin in zip(crops, margins):
        np.testing.assert_array_equal(crop, crop_plate(image, box, quad, 144, 48, margin)[0])


def test_an_unsure_box_is_answered_only_with_characters_read_in_it(tiny_reader):
    """recognizer.reading_check (0.98, 0.32 in the tiny manifest): under the detector score, a box
    whose characters are read with a geometric-mean confidence under 0.32 is not a plate (a tail
    light, a sign); a box the detector is sure of answers even unread."""
    from runtime.boxes import Detection
    from runtime.recognizer import Reading

    spec = tiny_reader.recognizer.spec
    assert (spec.check_score, spec.check_confidence) == (0.98, 0.32)
    image = np.full((400, 600, 3), 128, np.uint8)
    boxes = [np.float32([40 + 110 * k, 100, 140 + 110 * k, 130]) for k in range(5)]
    found = [(0.97, Reading("ABC1234", 0.3 ** 7, (0.3,) * 7, 0.9)),  # unsure box, unsure read: dropped
             (0.97, Reading("ABC1234", 0.2 * 0.6 ** 6, (0.2,) + (0.6,) * 6, 0.9)),  # mean 0.54: kept
             (0.99, Reading("ABC1234", 0.3 ** 7, (0.3,) * 7, 0.9)),  # sure box: kept
             (0.99, Reading("", 0.0, (), 0.9)),  # sure box, nothing read: kept with empty text
             (0.5, Reading("", 0.0, (), 0.9))]  # unsure box, nothing read: dropped
    quads = [np.float32([[x1, y1], [x2, y1], [x2, y2], [x1, y2]]) for x1, y1, x2, y2 in boxes]
    stub = stub_reader(tiny_reader, [Detection(box=b, score=s, corners=q) for b, q, (s, _) in zip(boxes, quads, found)],
                       [r for _, r in found])
    plates = stub.read(image)
    assert [(p.confidence, p.text) for p in plates] == [(0.97, "ABC1234"), (0.99, "ABC1234"), (0.99, "")]
    assert [p.box[0] for p in plates] == [150, 260, 370]
    analysis = stub.analyze(image)
    assert len(analysis.crops) == len(analysis.plates) == 3


def test_a_box_that_does_not_look_like_a_plate_is_not_answered_however_sure(tiny_reader):
    """recognizer.plate_check (0.5 in the tiny manifest): shop lettering the detector is sure of reads
    as a plate; the encoder's plate head scores its crops low, and the reader leaves it out."""
    from runtime.boxes import Detection
    from runtime.recognizer import Reading

    assert tiny_reader.recognizer.spec.plate_score == 0.5
    image = np.full((400, 600, 3), 128, np.uint8)
    boxes = [np.float32([40 + 110 * k, 100, 140 + 110 * k, 130]) for k in range(3)]
    quads = [np.float32([[x1, y1], [x2, y1], [x2, y2], [x1, y2]]) for x1, y1, x2, y2 in boxes]
    readings = [Reading("ABC1234", 0.9, (0.99,) * 7, 0.49),  # sure box, sure read, no plate: dropped
                Reading("ABC1234", 0.9, (0.99,) * 7, 0.5),  # at the bar: kept
                Reading("XYZ9876", 0.9, (0.99,) * 7, 0.8)]
    stub = stub_reader(tiny_reader, [Detection(box=b, score=0.999, corners=q) for b, q in zip(boxes, quads)], readings)
    plates = stub.read(image)
    assert [(p.text, p.plate_score) for p in plates] == [("ABC1234", 0.5), ("XYZ9876", 0.8)]


def test_the_reader_asks_the_encoder_whether_a_crop_is_a_plate(tmp_path):
    """End to end on tiny graphs: the same scene answers its plates when the encoder scores their crops
    as plates, and none when it scores them under the manifest's plate_check."""
    from runtime.reader import PlateReader
    from tiny_models import write_models

    scene = np.full((720, 1280, 3), 128, np.uint8)
    plates = PlateReader(write_models(tmp_path / "yes", SCENE_ROWS, plate_score=0.9), providers="cpu").read(scene)
    assert plates and all(p.plate_score == pytest.approx(0.9) for p in plates)
    assert PlateReader(write_models(tmp_path / "no", SCENE_ROWS, plate_score=0.1), providers="cpu").read(scene) == []


def test_the_less_sure_the_detector_the_surer_the_reading_must_be(tiny_reader):
    """Sign lettering is found with middling scores and reads about as surely as a foreign plate the
    detector doubts only a little: the bar rises from char_confidence at detector_score to
    low_char_confidence at low_detector_score, and stays there below it."""
    from dataclasses import replace

    from runtime.reader import required_confidence

    rec = replace(tiny_reader.recognizer.spec, check_score=0.98, check_confidence=0.32, check_low_score=0.4,
                  check_low_confidence=0.6)
    assert required_confidence(rec, 0.98) == pytest.approx(0.32)
    assert required_confidence(rec, 0.69) == pytest.approx(0.46)
    assert required_confidence(rec, 0.4) == pytest.approx(0.6)
    assert required_confidence(rec, 0.2) == pytest.approx(0.6)
    flat = replace(rec, check_low_confidence=0.32)
    assert required_confidence(flat, 0.5) == pytest.approx(0.32)


def test_mean_confidence_is_the_geometric_mean_of_the_characters():
    from runtime.recognizer import Reading

    assert Reading("AB", 0.08, (0.2, 0.4), 1.0).mean_confidence == pytest.approx(0.08 ** 0.5)
    assert Reading("", 0.0, (), 1.0).mean_confidence == 0.0


@pytest.mark.parametrize("window_score,kept", [(0.95, True), (0.6, False)])
def test_a_closer_look_confirms_a_plate_only_with_a_sure_box(tiny_reader, window_score, kept):
    """The first pass keeps boxes from 0.4; seen closer, a plate must score refine_confidence
    (0.7): a look-alike that the closer look still finds, but unsure, is dropped."""
    from dataclasses import replace

    from runtime.detector import Detector, refine_window

    spec = replace(tiny_reader.detector.spec, refine_confidence=0.7)
    plate = np.float32([600, 400, 650, 416])  # 50 px wide in a 1280x720 frame, found at ratio 0.6
    scale, left, top, _, _ = refine_window(spec, plate, 0.6)

    class Graph(Detector):
        def rows(self, blob, confidence):  # the window shows the plate, scoring window_score
            x1, y1, x2, y2 = (plate - np.float32([left, top, left, top])) * scale
            found = np.array([row((x1, y1, x2, y2), window_score)], np.float32)
            return found[found[:, 4] >= confidence]

    graph = Graph(spec, tiny_reader.detector.session)
    image = np.full((720, 1280, 3), 90, np.uint8)
    found = graph.closer_look(image, np.array(row(tuple(plate), 0.8), np.float32), 0.6, 0.4, 0.45)
    assert (found is not None) == kept
    if kept:
        np.testing.assert_allclose(found[:4], plate, atol=0.5)
