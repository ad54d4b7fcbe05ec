"""The plate check's training crops: labelled by where the reader's boxes fall, cut as the reader cuts."""
from pathlib import Path

import numpy as np
import pytest

from export.data.plate_or_not import MINE_CONFIDENCE, Bank, check_frames, cut, labels
from export.data.real import Frame
from runtime.boxes import xywh
from runtime.crops import crop_plate


def _image() -> np.ndarray:
    return np.random.default_rng(5).integers(0, 255, (720, 1280, 3), dtype=np.uint8)


def test_a_box_on_a_plate_is_a_plate_and_one_away_from_every_plate_is_not(tiny_reader):
    image = _image()
    found = tiny_reader.detector(image, MINE_CONFIDENCE, tiny_reader.iou)
    boxes = xywh(found)
    assert len(boxes) >= 2
    labelled = cut(tiny_reader, image, boxes[:1], None)
    assert [label for _, label in labelled] == [True] + [False] * (len(boxes) - 1)
    spec = tiny_reader.recognizer.spec
    views, _ = labelled[0]
    assert views.shape == (len(spec.crop_margins), spec.height, spec.width, 3)
    for view, margin in zip(views, spec.crop_margins):
        np.testing.assert_array_equal(view, crop_plate(image, found[0].box, found[0].corners, spec.width,
                                                       spec.height, margin)[0])


def test_in_a_real_frame_only_named_look_alikes_are_not_plates(tiny_reader):
    """Real frames leave distant plates without a box: a box on nothing labelled is left out."""
    image = _image()
    boxes = xywh(tiny_reader.detector(image, MINE_CONFIDENCE, tiny_reader.iou))
    labelled = cut(tiny_reader, image, boxes[:1], boxes[1:2])
    assert [label for _, label in labelled] == [True, False]
    assert cut(tiny_reader, image, np.zeros((0, 4), np.float32), np.zeros((0, 4), np.float32)) == []


def test_a_box_near_an_ignored_plate_is_left_out(tiny_reader):
    image = _image()
    boxes = xywh(tiny_reader.detector(image, MINE_CONFIDENCE, tiny_reader.iou))
    labelled = cut(tiny_reader, image, boxes[:1], None, ignore=boxes[1:2])
    assert [label for _, label in labelled] == [True] + [False] * (len(boxes) - 2)


def test_scenes_ro_frames_split_by_video():
    frames = [Frame(Path(f"{v}{k}.jpg"), v, np.zeros((0, 4), np.float32))
              for v in ("nightride_type3_001.mp4", "dayride_type1_001.mp4") for k in range(3)]
    assert [f.video for f in check_frames(frames)] == ["nightride_type3_001.mp4"] * 3
    assert [f.video for f in check_frames(frames, mine=False)] == ["dayride_type1_001.mp4"] * 3


def test_a_bank_keeps_its_crops_through_a_file(tmp_path):
    bank = Bank(np.zeros((3, 2, 48, 144, 3), np.uint8), np.array([True, False, True]), np.array(["a", "b", "c"]))
    bank.save(tmp_path / "bank.npz")
    back = Bank.load(tmp_path / "bank.npz")
    assert back.views.shape == bank.views.shape and back.plate.tolist() == [True, False, True]
    assert back.source.tolist() == ["a", "b", "c"]


def test_labels_by_overlap():
    plate = np.float32([[100, 100, 100, 30]])
    boxes = np.float32([[102, 101, 98, 30],  # on the plate
                        [170, 100, 100, 30],  # half on it: left out
                        [600, 400, 100, 30],  # far from it
                        [900, 100, 100, 30]])  # on an ignored plate, or a named look-alike
    other = np.float32([[900, 100, 100, 30]])
    assert labels(boxes, plate, None) == [True, None, False, False]
    assert labels(boxes, plate, None, ignore=other) == [True, None, False, None]
    assert labels(boxes, plate, other) == [True, None, None, False]  # a real frame: only look-alikes are not plates


def test_training_the_plate_head_changes_nothing_the_recognizer_reads_with():
    torch = pytest.importorskip("torch")
    from export.recognizer import Recognizer
    from export.train_plate_check import head_only, plate_loss

    model = head_only(Recognizer())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=1e-4)
    for _ in range(2):
        optimiser.zero_grad()
        plate_loss(model, torch.randn(4, 3, 48, 144), torch.tensor([1.0, 0.0, 1.0, 0.0])).backward()
        optimiser.step()
    after = model.state_dict()
    head = [k for k in after if ".plate_cnn." in k or ".to_plate." in k]
    assert head and any(not torch.equal(before[k], after[k]) for k in head)
    assert all(torch.equal(before[k], after[k]) for k in after if k not in head)  # batch-norm statistics too
