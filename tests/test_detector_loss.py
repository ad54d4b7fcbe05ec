"""The detector loss leaves plates without a box out of the background, and only them; it weighs
corner errors by the plate's height."""
from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from export.detector import MAX_LOG_SIDE, STRIDES, decode_boxes, decode_corners, flatten_maps  # noqa: E402
from runtime.boxes import decode  # noqa: E402
from export.detector_loss import CORNER_BETA, Targets, corner_loss, detection_loss, ignored  # noqa: E402

SIZE = 64  # a 64x64 input: 8x8, 4x4 and 2x2 cells


def _flat_maps() -> list[torch.Tensor]:
    """Every cell predicts objectness logit 0, so each counted cell costs exactly log 2."""
    return [torch.zeros(1, 13, SIZE // s, SIZE // s) for s in (8, 16, 32)]


def test_cells_on_an_ignore_box_cost_nothing_and_the_rest_still_count() -> None:
    maps = _flat_maps()
    _, centres, strides = flatten_maps(maps)
    box = torch.tensor([[8.0, 8.0, 40.0, 24.0]])
    on_box = ignored(Targets(torch.zeros(0, 4), torch.zeros(0, 8), box), centres, strides)
    assert 0 < int(on_box.sum()) < len(centres)
    assert on_box[((centres - torch.tensor([20.0, 12.0])).abs() < 1).all(1)].all()  # a centre on the plate
    assert not on_box[((centres - torch.tensor([60.0, 60.0])).abs() < 1).all(1)].any()  # a far corner

    plain, _ = detection_loss(maps, [Targets(torch.zeros(0, 4), torch.zeros(0, 8))])
    with_ignore, _ = detection_loss(maps, [Targets(torch.zeros(0, 4), torch.zeros(0, 8), box)])
    assert math.isclose(plain.item(), len(centres) * math.log(2), rel_tol=1e-5)
    assert math.isclose(with_ignore.item(), (len(centres) - int(on_box.sum())) * math.log(2), rel_tol=1e-5)


def test_a_boxed_plate_inside_an_ignore_box_is_still_learned() -> None:
    maps = _flat_maps()
    plate = torch.tensor([[16.0, 12.0, 40.0, 20.0]])
    corners = torch.full((1, 8), float("nan"))
    alone, parts = detection_loss(maps, [Targets(plate, corners)])
    covered, covered_parts = detection_loss(maps, [Targets(plate, corners, torch.tensor([[0.0, 0.0, 64.0, 64.0]]))])
    assert parts["pos"] == covered_parts["pos"] > 0
    # only the plate's own cells are left: positives (target 1 at logit 0) still cost log 2 each
    assert math.isclose(covered_parts["obj"], math.log(2), rel_tol=1e-5)
    assert covered.item() < alone.item()


def test_real_frames_carry_unboxed_plates_as_ignore_labels(tmp_path) -> None:
    import cv2

    from export.data.real import Frame
    from export.data.scenes import Scene, _real_background
    from export.train_detector import to_targets

    image = np.full((200, 300, 3), 90, np.uint8)
    cv2.imwrite(str(tmp_path / "f.jpg"), image)
    frame = Frame(tmp_path / "f.jpg", "v", np.float32([[20, 20, 60, 20]]), np.float32([[150, 100, 60, 20]]))
    _, labels, _, _ = _real_background(np.random.default_rng(0), frame, 300, 200)
    assert [p.ignore for p in labels] == [False, True]
    targets = to_targets(Scene(image, labels))
    assert targets.boxes.shape == (1, 4) and targets.ignore.shape == (1, 4)
    np.testing.assert_allclose(targets.ignore[0, 2:] - targets.ignore[0, :2], targets.boxes[0, 2:] - targets.boxes[0, :2],
                               rtol=1e-5)


def test_crops_of_a_frame_keep_its_look_alike_in_view_when_they_can() -> None:
    from export.data.scenes import _origin

    rng = np.random.default_rng(1)
    for _ in range(200):
        ox = _origin(rng, 320, 1280, (900.0, 960.0))  # a 60 px look-alike in a frame 4x wider than the crop
        assert 0 <= ox + 900 and ox + 960 <= 320 and -960 <= ox <= 0
    wide = {_origin(rng, 320, 1280, (0.0, 1000.0)) for _ in range(200)}  # cannot fit: any origin, as without
    assert min(wide) < -600 and max(wide) > -300


def test_the_runtime_decodes_as_the_loss_does() -> None:
    """runtime/boxes.py::decode (numpy, cells over the threshold) and the torch decoding the
    loss trains through give the same rows for every cell of random maps."""
    gen = torch.Generator().manual_seed(0)
    maps = [torch.randn(1, 13, 96 // s, 160 // s, generator=gen) * 3 for s in STRIDES]
    maps[0][0, 1:5, 0, 0] = 9.0  # over MAX_LOG_SIDE: both clamp
    preds, centres, strides = flatten_maps(maps)
    want = torch.cat([decode_boxes(preds, centres, strides), torch.sigmoid(preds[..., :1]),
                      decode_corners(preds, centres, strides)], -1)[0].numpy()
    got = decode([m[0].numpy() for m in maps], STRIDES, 0.0, MAX_LOG_SIDE)
    assert got.shape == want.shape
    assert np.allclose(got, want, rtol=1e-5, atol=1e-3)


def _plate_corners(height: float) -> torch.Tensor:
    """TL,TR,BR,BL of a level plate three times as wide as high, its centre at (32, 32)."""
    w, h = 1.5 * height, height / 2
    return torch.tensor([[[32 - w, 32 - h], [32 + w, 32 - h], [32 + w, 32 + h], [32 - w, 32 + h]]])


@pytest.mark.parametrize("stride", [8.0, 16.0])
def test_the_corner_loss_counts_a_share_of_the_plate_s_height_alike_on_every_plate(stride: float) -> None:
    centre, strides = torch.tensor([[30.0, 30.0]]), torch.tensor([stride])
    costs = []
    for height in (8.0, 40.0):
        corners = _plate_corners(height)
        exact = ((corners - centre[:, None]) / stride).flatten(1)
        assert corner_loss(exact, corners, centre, strides).item() == 0.0
        bottom_in = exact.clone()
        bottom_in[:, [5, 7]] -= 0.05 * height / stride  # BR and BL 5% of the height up: a crop cut short
        costs.append(corner_loss(bottom_in, corners, centre, strides).item())
    # 2 of 8 coordinates 0.05 off, past the quadratic zone: (0.05 - beta / 2) * 2 / 8, whatever the plate's size
    assert costs[0] == pytest.approx(costs[1], rel=1e-4)
    assert costs[0] == pytest.approx((0.05 - CORNER_BETA / 2) / 4, rel=1e-4)


def test_a_pasted_real_crop_trains_the_box_and_not_the_corners() -> None:
    from export.data.scenes import Scene, _paste_crop
    from export.train_detector import to_targets

    image = np.full((240, 320, 3), 90, np.uint8)
    crop = np.full((40, 120, 3), 200, np.uint8)
    crop[10:30, 10:110:12] = 20  # dark strokes on a light plate
    label = _paste_crop(np.random.default_rng(0), image, crop, [], (0, 0, 320, 240), 0.0, 150.0)
    assert label is not None and label.rough and not label.ignore
    x, y, w, h = label.box
    assert (image[int(y + h / 2), int(x):int(x + w)] != 90).any()  # the crop is drawn where its box says
    targets = to_targets(Scene(image, [label]))
    np.testing.assert_allclose(targets.boxes[0].numpy(), [x, y, x + w, y + h], rtol=1e-5)
    assert torch.isnan(targets.corners).all()
