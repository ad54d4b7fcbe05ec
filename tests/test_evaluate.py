"""runtime.evaluate: label parsing, the end-to-end matching rule, miss bookkeeping and reports.

A fake reader stands in for the models so every figure below is known exactly.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from runtime import evaluate as ev
from runtime.evaluate import Label, Predicted, Sample
from runtime.metrics import text_accuracy

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@dataclass(frozen=True)
class FakePlate:
    box: tuple[int, int, int, int]
    confidence: float
    text: str


class FakeRecognizer:
    """Always reads `text`; remembers the crop shapes it was given."""

    spec = SimpleNamespace(width=144, height=48)

    def __init__(self, text: str) -> None:
        self.text = text
        self.shapes: list[tuple[int, ...]] = []

    def __call__(self, crops: list[np.ndarray]) -> list[SimpleNamespace]:
        self.shapes += [c.shape for c in crops]
        return [SimpleNamespace(text=self.text) for _ in crops]


class FakeReader:
    """read() answers from a table keyed by image width; no detector attribute, so predict() uses read()."""

    def __init__(self, by_width: dict[int, list[FakePlate]], crop_text: str = "ABC1234") -> None:
        self.by_width = by_width
        self.recognizer = FakeRecognizer(crop_text)

    def read(self, image: object) -> list[FakePlate]:
        bgr = image if isinstance(image, np.ndarray) else cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR)
        return self.by_width.get(bgr.shape[1], [])


def _jpeg(path: Path, width: int, height: int) -> Path:
    cv2.imwrite(str(path), np.full((height, width, 3), 90, np.uint8))
    return path


# ---------------------------------------------------------------- label files

def test_parse_label_line_space_tab_text_and_comments() -> None:
    assert ev.parse_label_line("car.jpg 10 20 30 40 ABC1234") == ("car.jpg", (10.0, 20.0, 30.0, 40.0), "ABC1234")
    assert ev.parse_label_line("my car.jpg\t1\t2\t3.5\t4\tabc-1d23") == ("my car.jpg", (1.0, 2.0, 3.5, 4.0), "ABC1D23")
    assert ev.parse_label_line("car.jpg 1 2 3 4 ABC 1234") == ("car.jpg", (1.0, 2.0, 3.0, 4.0), "ABC1234")
    assert ev.parse_label_line("car.jpg 1 2 3 4") == ("car.jpg", (1.0, 2.0, 3.0, 4.0), None)
    assert ev.parse_label_line("   ") is None
    assert ev.parse_label_line("# file x y w h TEXT") is None


@pytest.mark.parametrize("line", ["car.jpg 1 2 3", "car.jpg a 2 3 4 ABC1234", "car.jpg 1 2 0 4 ABC1234"])
def test_parse_label_line_rejects_bad_lines(line: str) -> None:
    with pytest.raises(ValueError):
        ev.parse_label_line(line)


def test_load_folder_pairs_images_with_their_labels(tmp_path: Path) -> None:
    _jpeg(tmp_path / "a.jpg", 64, 48)
    (tmp_path / "a.txt").write_text("a.jpg 1 2 10 5 ABC1234\na.jpg\t20\t20\t10\t5\tXYZ9876\n")
    _jpeg(tmp_path / "b.png", 64, 48)
    (tmp_path / "b.txt").write_text("")  # labelled: no plates
    _jpeg(tmp_path / "c.jpg", 64, 48)  # no label file: not part of the set
    samples = ev.load_folder(tmp_path)
    assert [s.path.name for s in samples] == ["a.jpg", "b.png"]
    assert samples[0].labels == (Label((1.0, 2.0, 10.0, 5.0), "ABC1234"), Label((20.0, 20.0, 10.0, 5.0), "XYZ9876"))
    assert samples[1].labels == ()


def test_load_folder_reports_file_and_line(tmp_path: Path) -> None:
    _jpeg(tmp_path / "a.jpg", 64, 48)
    (tmp_path / "a.txt").write_text("a.jpg 1 2 10 5 ABC1234\nother.jpg 1 2 3 4 X\n")
    with pytest.raises(ValueError, match=r"a\.txt:2"):
        ev.load_folder(tmp_path)


# ---------------------------------------------------------------- the matching rule

def test_plate_read_needs_iou_and_exact_normalised_text() -> None:
    label = Label((100, 100, 100, 40), "ABC1234")
    right_place = (105, 100, 100, 40)  # IoU 0.905
    assert ev.plate_read(label, [Predicted(right_place, 0.9, "ABC1234")])[0]
    # lower-case / separators in the label are normalised away
    assert ev.plate_read(Label((100, 100, 100, 40), "abc-1234"), [Predicted(right_place, 0.9, "ABC1234")])[0]
    # one character wrong is a miss, reported with what was read
    ok, iou, got = ev.plate_read(label, [Predicted(right_place, 0.9, "ABC1235")])
    assert (ok, got) == (False, "ABC1235") and iou == pytest.approx(95 * 40 / (105 * 40))
    # right text at IoU < 0.5 is a miss: (60x40 inside 100x40) -> 0.6 ok, (40x40) -> 0.4 not
    assert ev.plate_read(label, [Predicted((100, 100, 60, 40), 0.9, "ABC1234")])[0]
    assert not ev.plate_read(label, [Predicted((100, 100, 40, 40), 0.9, "ABC1234")])[0]
    assert ev.plate_read(label, []) == (False, 0.0, "")


def test_plate_read_any_overlapping_detection_may_carry_the_text() -> None:
    label = Label((0, 0, 100, 40), "ABC1234")
    wrong_but_closer = Predicted((0, 0, 100, 40), 0.9, "ABC1284")
    right_but_looser = Predicted((0, 0, 120, 40), 0.5, "ABC1234")  # IoU 0.83
    ok, iou, got = ev.plate_read(label, [wrong_but_closer, right_but_looser])
    assert ok and iou == pytest.approx(1.0) and got == "ABC1284"


def test_score_image_counts_and_lists_misses(tmp_path: Path) -> None:
    image = np.zeros((200, 400, 3), np.uint8)
    labels = (Label((10, 10, 100, 40), "AAA1111"),   # read
              Label((200, 10, 100, 40), "BBB2222"),  # found, read wrong
              Label((10, 120, 100, 40), "CCC3333"),  # not found
              Label((200, 120, 100, 40), None))      # box only, found
    predicted = [Predicted((12, 10, 100, 40), 0.9, "AAA1111"), Predicted((200, 12, 100, 40), 0.8, "BBB2228"),
                 Predicted((200, 120, 100, 40), 0.7, "DDD4444"), Predicted((350, 150, 40, 20), 0.6, "EEE5555")]
    tally, misses = ev.Tally(), ev.MissWriter(tmp_path)
    ev.score_image(tally, labels, predicted, Path("frame 1.jpg"), image, misses)
    assert (tally.tp, tally.predicted, tally.labelled) == (3, 4, 4)
    assert (tally.with_text, tally.read) == (3, 1)
    assert [(m["kind"], m["expected"], m["read"]) for m in tally.misses] == [
        ("wrong_text", "BBB2222", "BBB2228"), ("not_detected", "CCC3333", None)]
    saved = sorted(p.name for p in (tmp_path / "misses").iterdir())
    assert saved == ["0000_frame_1_wrong_text_exp-BBB2222_got-BBB2228.png",
                     "0001_frame_1_not_detected_exp-CCC3333_got-none.png"]
    assert tally.misses[0]["crop"] == f"misses/{saved[0]}"
    assert tally.detection()["recall"] == 0.75 and tally.end_to_end()["exact"] == pytest.approx(1 / 3, abs=1e-4)
    assert tally.unmatched_widths == [40.0]  # the one box no label claims


def test_only_unmatched_detections_on_unboxed_plates_leave_the_audited_count(tmp_path: Path) -> None:
    labels = (Label((10, 10, 100, 40), None),)
    predicted = [Predicted((10, 10, 100, 40), 0.9, ""), Predicted((200, 100, 60, 20), 0.8, ""),
                 Predicted((300, 150, 60, 20), 0.7, "")]
    unboxed = ((202, 100, 60, 20), (10, 10, 100, 40), (500, 10, 60, 20))  # on the 2nd, on the labelled one, on nothing
    tally = ev.Tally()
    ev.score_image(tally, labels, predicted, Path("f.jpg"), np.zeros((200, 600, 3), np.uint8), ev.MissWriter(None), unboxed)
    det = tally.detection()
    assert (det["true_positives"], det["predicted"], det["on_unboxed_plates"]) == (1, 3, 1)
    assert det["precision"] == pytest.approx(1 / 3, abs=1e-4) and det["precision_audited"] == 0.5


def test_the_audit_table_lists_boxes_inside_scenes_ro_frames() -> None:
    from runtime.audit import audited_boxes, look_alikes, unboxed_plates
    from runtime.splits import VAL_VIDEOS

    plates, others = unboxed_plates(), look_alikes()
    for table, count in ((plates, 191), (others, 171)):
        boxes = np.concatenate(list(table.values()))
        assert len(boxes) == count and (boxes[:, 2:] > 0).all() and (boxes[:, :2] >= 0).all()
        assert (boxes[:, 0] + boxes[:, 2] <= 1280.5).all() and (boxes[:, 1] + boxes[:, 3] <= 720.5).all()
    with pytest.raises(ValueError, match="verdict"):
        audited_boxes("maybe")
    if DATA.is_dir():
        video = {r["file"]: r["video"] for r in ev._read_csv(DATA / "scenes-ro" / "images.csv")}
        assert set(plates) | set(others) <= set(video)
        assert sum(len(b) for f, b in plates.items() if video[f] in VAL_VIDEOS) == 43
        assert not any(video[f] in VAL_VIDEOS for f in others)  # hard negatives come from train videos only


def test_width_histogram_bins_at_the_edges() -> None:
    assert ev.width_histogram([10, 39.9, 40, 59, 60, 99.5, 100, 400]) == {"<40": 2, "40-59": 2, "60-99": 2, ">=100": 2}
    assert ev.width_histogram([]) == {"<40": 0, "40-59": 0, "60-99": 0, ">=100": 0}


def test_text_accuracy_counts_exact_plates_and_characters_within_0_and_1() -> None:
    scores = text_accuracy(["ABC1234", "abc-1235", "ZZZZZZZZ", ""], ["ABC1234", "ABC1234", "AB1", "ABC1D23"])
    assert scores["count"] == 4 and scores["exact"] == 0.25
    # edits 0, 1, 3 (capped at the plate's length, not 8), 7 over 7 + 7 + 3 + 7 characters
    assert scores["char"] == pytest.approx(1 - 11 / 24)
    assert text_accuracy(["WXYZWXYZ"], ["A"])["char"] == 0.0


def test_miss_name_is_safe() -> None:
    name = ev.miss_name(7, Path("../../etc/pass wd;rm.jpg"), "wrong_text", "abc-1234", "../x")
    assert name == "0007_pass_wd_rm_wrong_text_exp-ABC1234_got-X.png"


# ---------------------------------------------------------------- whole runs with a fake reader

def test_run_folder_writes_report_and_misses(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    _jpeg(data / "one.jpg", 320, 240)
    (data / "one.txt").write_text("one.jpg 10 10 100 40 ABC1234\n")
    _jpeg(data / "two.jpg", 300, 240)
    (data / "two.txt").write_text("two.jpg 10 10 100 40 XYZ9876\n")
    reader = FakeReader({320: [FakePlate((10, 12, 100, 40), 0.9, "ABC1234")],
                         300: [FakePlate((10, 10, 100, 40), 0.9, "XYZ9870")]})
    out = tmp_path / "out"
    report = ev.run(reader, "folder", ev.load_folder(data), out, "all", reader_info={"provider": "fake", "threads": 1})
    assert report["detection"]["recall"] == 1.0 and report["detection"]["precision"] == 1.0
    assert report["end_to_end"] == {"labelled_with_text": 2, "read": 1, "exact": 0.5}
    assert report["latency"]["end_to_end_per_image"]["count"] == 2
    on_disk = json.loads((out / "report.json").read_text())
    assert on_disk["end_to_end"]["exact"] == 0.5
    assert [m["read"] for m in on_disk["misses"]] == ["XYZ9870"]
    assert (out / on_disk["misses"][0]["crop"]).is_file()
    md = (out / "report.md").read_text()
    assert "| end-to-end exact plate | 0.5000 |" in md and "| images | 2 |" in md


def test_backgrounds_are_split_by_file_order_less_the_rendered_ones_and_every_plate_there_is_false(tmp_path: Path) -> None:
    folder = tmp_path / "backgrounds-gray"
    folder.mkdir()
    for k in range(ev.BACKGROUNDS_VAL_FROM + 2):
        (folder / f"{k:04d}.jpg").write_bytes(b"")
    train, val = ev.load_backgrounds(tmp_path, "train"), ev.load_backgrounds(tmp_path, "val")
    # 602 files: the renderer draws on every other one of the first 600, so no figure counts those
    assert [s.path.name for s in train] == [f"{k:04d}.jpg" for k in range(1, ev.BACKGROUNDS_VAL_FROM, 2)]
    assert [s.path.name for s in val] == ["0600.jpg", "0601.jpg"]
    assert all(s.labels == () for s in train + val)
    _jpeg(folder / "0600.jpg", 320, 240)
    _jpeg(folder / "0601.jpg", 300, 240)
    reader = FakeReader({320: [FakePlate((10, 12, 100, 40), 0.9, "SPE0000")], 300: []})
    report = ev.run(reader, "backgrounds", val, None, "val", reader_info={"provider": "fake", "threads": 1})
    assert (report["detection"]["predicted"], report["detection"]["labelled"]) == (1, 0)
    assert "every detection (predicted) is a false plate" in report["notes"][0]


def test_run_br_crops_recognizer_and_canvas(tmp_path: Path) -> None:
    crops = [_jpeg(tmp_path / "0.jpg", 160, 80), _jpeg(tmp_path / "1.jpg", 150, 75)]
    samples = [Sample(crops[0], (Label(None, "ABC1234"),)), Sample(crops[1], (Label(None, "QQQ0000"),))]
    # the first crop pasted in the 1280x720 canvas sits at (560, 320, 160, 80)
    reader = FakeReader({1280: [FakePlate((560, 320, 160, 80), 0.9, "ABC1234")]}, crop_text="ABC1234")
    report = ev.run(reader, "br-crops", samples, tmp_path / "out", "val")
    assert report["recognizer"]["exact"] == 0.5 and report["recognizer"]["count"] == 2
    assert set(reader.recognizer.shapes) == {(48, 144, 3)}  # resized to the recognizer input, as the pipeline does
    # both canvases get the same detection: IoU 1.0 with the first crop, 0.88 with the smaller second one
    assert report["end_to_end"]["read"] == 1 and report["detection"]["true_positives"] == 2
    misses = sorted((m["kind"], m["expected"], m["read"]) for m in report["misses"])
    assert misses == [("recognizer", "QQQ0000", "ABC1234"), ("wrong_text", "QQQ0000", "ABC1234")]


def test_paste_in_canvas_box_is_where_the_crop_is() -> None:
    crop = np.full((80, 160, 3), 7, np.uint8)
    canvas, (x, y, w, h) = ev.paste_in_canvas(crop)
    assert canvas.shape == (720, 1280, 3) and (w, h) == (160, 80)
    assert (canvas[int(y):int(y + h), int(x):int(x + w)] == 7).all() and canvas[0, 0, 0] == ev.CANVAS_FILL


def test_latency_summary() -> None:
    s = ev.latency_summary([0.010] * 19 + [0.100])
    assert s["median_ms"] == 10.0 and s["count"] == 20 and 10.0 < s["p95_ms"] <= 100.0
    assert ev.latency_summary([]) == {"count": 0}


# ---------------------------------------------------------------- the real reader and the real splits

def test_run_with_the_real_reader_on_tiny_models(tiny_reader, scene_jpeg: bytes, tmp_path: Path) -> None:
    """PlateReader end to end: the tiny detector finds (100,100,200,100) and (667,333,200,100), both read ABC1D23."""
    (tmp_path / "scene.jpg").write_bytes(scene_jpeg)
    (tmp_path / "scene.txt").write_text("scene.jpg 102 98 200 100 abc-1d23\nscene.jpg 667 333 200 100 ZZZ9Z99\n"
                                        "scene.jpg 900 600 100 40\n")
    report = ev.run(tiny_reader, "folder", ev.load_folder(tmp_path), tmp_path / "out", "all")
    assert report["detection"] == {"iou": 0.5, "true_positives": 2, "predicted": 2, "labelled": 3,
                                   "recall": 0.6667, "precision": 1.0, "on_unboxed_plates": 0, "precision_audited": 1.0,
                                   "unmatched_by_width": {"<40": 0, "40-59": 0, "60-99": 0, ">=100": 0}}
    assert report["end_to_end"] == {"labelled_with_text": 2, "read": 1, "exact": 0.5}
    assert sorted((m["kind"], m["expected"], m["read"]) for m in report["misses"]) == [
        ("not_detected", None, None), ("wrong_text", "ZZZ9Z99", "ABC1D23")]
    assert len(list((tmp_path / "out" / "misses").iterdir())) == 2


@pytest.mark.skipif(not DATA.is_dir(), reason="shared data absent")
def test_splits_match_export_data_real() -> None:
    from export.data import real

    train, val = real.split_br_crops(real.load_br_crops(DATA))
    assert [s.path for s in ev.load_br_crops(DATA, "val")] == [c.path for c in val]
    assert [s.path for s in ev.load_br_crops(DATA, "train")] == [c.path for c in train]
    assert ev.VAL_VIDEOS == real.VAL_VIDEOS
    frames_train, frames_val = real.split_scenes_ro(real.load_scenes_ro(DATA))
    ours = ev.load_scenes_ro(DATA, "val")
    assert [s.path for s in ours] == [f.path for f in frames_val] and len(ours) == 66
    assert sum(len(s.labels) for s in ours) == 83
    assert np.allclose(np.array([lab.box for s in ours for lab in s.labels]), np.concatenate([f.boxes for f in frames_val]))
    assert len(ev.load_scenes_ro(DATA, "train")) == len(frames_train)


def test_evaluator_and_bench_never_import_torch_or_export() -> None:
    """runtime.evaluate ships with the runtime; bench_runtime runs in the runtime's environment."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    code = ("import sys; sys.path.insert(0, 'bench'); import runtime.evaluate, bench_runtime; "
            "bad = [m for m in sys.modules if m == 'torch' or m.startswith(('torch.', 'export'))]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True)


@pytest.mark.skipif(not (DATA / "backgrounds-gray").is_dir(), reason="shared data absent")
def test_no_backgrounds_figure_counts_an_image_the_renderer_draws_on() -> None:
    from export.data.assets import background_files
    rendered = set(background_files(DATA / "backgrounds-gray"))
    train, val = ev.load_backgrounds(DATA, "train"), ev.load_backgrounds(DATA, "val")
    assert len(rendered) == 300 and len(train) == len(val) == 450
    assert not rendered & {s.path for s in train + val}


@pytest.mark.skipif(not (DATA / "br-plate-crops").is_dir(), reason="shared data absent")
def test_the_unpasted_split_is_the_train_crops_the_detector_never_pasted() -> None:
    from export.data.real import detector_crops, load_br_crops, split_br_crops
    pasted = {c.path for c in detector_crops(split_br_crops(load_br_crops(DATA))[0])}
    train, unpasted = ev.load_br_crops(DATA, "train"), ev.load_br_crops(DATA, "unpasted")
    assert len(unpasted) == 466 and {s.path for s in unpasted} == {s.path for s in train} - pasted
