"""Accuracy and latency of the shipped reader on labelled real data.

    python -m runtime.evaluate --set scenes-ro --data ../shared/data [--split val] [--models DIR] [--out DIR]
    python -m runtime.evaluate --set br-crops  --data ../shared/data [--split val|train|unpasted] [--no-e2e]
    python -m runtime.evaluate --set backgrounds --data ../shared/data [--split val]
    python -m runtime.evaluate --set folder --folder DIR

Sets:
- scenes-ro: dash-cam frames with plate boxes, no text -> detection recall/precision at IoU 0.5.
- br-crops: whole-plate crops with text -> the recognizer on the crop as the pipeline would crop it
  (exact plate and character accuracy), and end to end with the crop pasted into a 1280x720 canvas.
- backgrounds: backgrounds-gray, photos without plates (signs, lettering, buildings) -> how many
  plates the reader answers where there are none; train = images 0000-0599, val = 0600-1199.
- folder: IMAGE.jpg with IMAGE.txt beside it, lines `file x y w h [TEXT]` (tab or space separated).

A labelled plate counts as read end to end when some detection overlaps it at IoU >= 0.5 and reads
exactly its text (after normalise_text). Writes OUT/report.json, OUT/report.md and OUT/misses/.

The CSVs are re-read here rather than through export/data/real.py because runtime/ must not
depend on export/ (the runtime ships alone); the split rules are copied and must stay identical.
"""
from __future__ import annotations

import argparse
import csv
import json
import logging
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from .audit import audited_labels, unboxed_plates
from .crops import box_crop
from .metrics import box_array, iou_xywh, match_boxes, normalise_text, text_accuracy, unboxed_hits, unmatched
from .splits import BACKGROUNDS_VAL_FROM, VAL_VIDEOS, in_detector_half, rendered_backgrounds, text_in_val

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
IOU_THRESHOLD = 0.5
CANVAS = (1280, 720)  # end-to-end check on a crop: pasted into a frame the size of the dash-cam data
CANVAS_FILL = 114
PRECISION_NOTE = ("scenes-ro leaves some plates without a box, so a correct detection of one counts as a false "
                  "positive: precision is a lower bound; the audited precision leaves out detections on the "
                  "unboxed plates found by eye (runtime/audit.py), an incomplete list")


# ---------------------------------------------------------------- labelled data

@dataclass(frozen=True)
class Label:
    """One labelled plate: box x, y, w, h in pixels (None = the whole image), text if known."""

    box: tuple[float, float, float, float] | None
    text: str | None


@dataclass(frozen=True)
class Sample:
    """An image, its labelled plates, and plates it shows without a label (x, y, w, h; scenes-ro only)."""

    path: Path
    labels: tuple[Label, ...]
    unboxed: tuple[tuple[float, float, float, float], ...] = ()


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _pick(split: str, in_val: bool) -> bool:
    """val, train or all; `unpasted` is train (its crops narrowed further by load_br_crops)."""
    return split == "all" or (split == "val") == in_val


def load_scenes_ro(root: Path, split: str = "val") -> list[Sample]:
    """scenes-ro frames (images.csv order) with their boxes; split by video as export/data/real.py."""
    folder = Path(root) / "scenes-ro"
    boxes: dict[str, list[Label]] = {}
    for r in _read_csv(folder / "boxes.csv"):
        box = (float(r["x"]), float(r["y"]), float(r["w"]), float(r["h"]))
        boxes.setdefault(r["file"], []).append(Label(box, None))
    unboxed = unboxed_plates()
    return [
        Sample(folder / "images" / r["file"], tuple(boxes.get(r["file"], ())),
               tuple(tuple(float(v) for v in b) for b in unboxed.get(r["file"], ())))
        for r in _read_csv(folder / "images.csv")
        if _pick(split, r["video"] in VAL_VIDEOS)
    ]


def load_br_crops(root: Path, split: str = "val") -> list[Sample]:
    """br-plate-crops: each image is one whole plate; split by text as export/data/real.py, less the
    crops the audit leaves out and with the labels it corrects (runtime/audit.py). `unpasted`: the
    train crops the detector never pasted (splits.in_detector_half), real plates new to it."""
    folder = Path(root) / "br-plate-crops"
    return [
        Sample(folder / "images" / r["file"], (Label(None, r["text"]),))
        for r in audited_labels(_read_csv(folder / "labels.csv"))
        if _pick(split, text_in_val(r["text"])) and not (split == "unpasted" and in_detector_half(r["text"]))
    ]


def load_backgrounds(root: Path, split: str = "val") -> list[Sample]:
    """backgrounds-gray images (file-name order) less those the scene renderer draws on, no
    plates: every plate answered there is false."""
    files = sorted((Path(root) / "backgrounds-gray").glob("*.jpg"))
    seen = set(rendered_backgrounds(files))
    return [Sample(f, ()) for k, f in enumerate(files)
            if f not in seen and _pick(split, k >= BACKGROUNDS_VAL_FROM)]


def parse_label_line(line: str) -> tuple[str, tuple[float, float, float, float], str | None] | None:
    """`file x y w h [TEXT]` -> (file, box, text or None); None for blank and # comment lines.

    Tab-separated lines split on tabs only (file names may hold spaces); else on whitespace.
    A text written with spaces or dashes (`ABC 1234`) is joined and normalised.
    """
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    parts = [p.strip() for p in line.split("\t")] if "\t" in line else line.split()
    if len(parts) < 5:
        raise ValueError(f"expected 'file x y w h [TEXT]', got {line!r}")
    try:
        x, y, w, h = (float(v) for v in parts[1:5])
    except ValueError as exc:
        raise ValueError(f"box must be 4 numbers in {line!r}") from exc
    if w <= 0 or h <= 0:
        raise ValueError(f"box width and height must be positive in {line!r}")
    text = normalise_text("".join(parts[5:])) or None
    return parts[0], (x, y, w, h), text


def load_folder(folder: Path) -> list[Sample]:
    """Images that have a label file IMAGE.txt beside them (an empty one = no plates), sorted.

    A line's file column names the image it belongs to (normally the image beside the .txt).
    """
    folder = Path(folder)
    samples = []
    for image in sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()):
        label_file = image.with_suffix(".txt")
        if not label_file.is_file():
            continue
        labels = []
        for number, line in enumerate(label_file.read_text(encoding="utf-8").splitlines(), 1):
            try:
                parsed = parse_label_line(line)
            except ValueError as exc:
                raise ValueError(f"{label_file}:{number}: {exc}") from exc
            if parsed is None:
                continue
            name, box, text = parsed
            if Path(name).name != image.name:
                raise ValueError(f"{label_file}:{number}: names {name!r}, expected {image.name!r}")
            labels.append(Label(box, text))
        samples.append(Sample(image, tuple(labels)))
    if not samples:
        raise ValueError(f"no labelled images in {folder}: expected IMAGE.jpg with IMAGE.txt beside it")
    return samples


# ---------------------------------------------------------------- predictions

@dataclass(frozen=True)
class Predicted:
    """One detection with its reading; text is '' when the recognizer read nothing."""

    box: tuple[float, float, float, float]  # x, y, w, h
    score: float
    text: str


class Reader(Protocol):
    """What the evaluator needs: PlateReader, or a fake in tests."""

    def read(self, image: object) -> list[Any]: ...


def predict(reader: Reader, image: object) -> list[Predicted]:
    """Every plate read() reports for one image (bytes, path or BGR array), as the API reports it.

    Plates found but not read (a box the detector is sure of) come back with empty text: they count
    for detection, not for reading.
    """
    return [Predicted(tuple(float(v) for v in p.box), float(p.confidence), normalise_text(p.text))
            for p in reader.read(image)]


def read_crop(reader: Any, crop: np.ndarray) -> str:
    """Recognizer alone on a whole-plate crop, resized exactly as the pipeline resizes a box crop."""
    spec = reader.recognizer.spec
    h, w = crop.shape[:2]
    resized = box_crop(crop, np.array([0, 0, w, h], np.float32), spec.width, spec.height)
    return normalise_text(reader.recognizer([resized])[0].text)


def plate_read(label: Label, predicted: list[Predicted], threshold: float = IOU_THRESHOLD) -> tuple[bool, float, str]:
    """(read?, best IoU, text of the best-overlapping detection) for one labelled plate.

    Read = any detection with IoU >= threshold has exactly the label's normalised text; the
    detection need not be the one box matching picked (two overlapping boxes, one reading right,
    still deliver the plate to the user).
    """
    if not predicted or label.box is None:
        return False, 0.0, ""
    ious = iou_xywh(box_array(predicted), np.array([label.box]))[:, 0]
    truth = normalise_text(label.text or "")
    ok = bool(truth) and any(i >= threshold and p.text == truth for i, p in zip(ious, predicted))
    best = int(np.argmax(ious))
    return ok, float(ious[best]), predicted[best].text if ious[best] > 0 else ""


# ---------------------------------------------------------------- bookkeeping

def latency_summary(seconds: list[float]) -> dict[str, float]:
    """Median, p95 and mean in milliseconds (what a latency budget is written in)."""
    if not seconds:
        return {"count": 0}
    ms = np.asarray(seconds) * 1e3
    return {"count": len(ms), "median_ms": round(float(np.median(ms)), 2),
            "p95_ms": round(float(np.percentile(ms, 95)), 2), "mean_ms": round(float(ms.mean()), 2)}


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def miss_name(index: int, image: Path, kind: str, expected: str | None, got: str | None) -> str:
    """File name for a miss crop: generated from safe parts only, expected and read text included."""
    stem = _UNSAFE.sub("_", image.stem)[:40]
    return f"{index:04d}_{stem}_{kind}_exp-{normalise_text(expected or '') or 'box'}_got-{normalise_text(got or '') or 'none'}.png"


def padded_crop(image: np.ndarray, box: tuple[float, float, float, float], margin: float = 0.2) -> np.ndarray:
    """The labelled box with some context around it, clipped to the image (for eyeballing misses)."""
    x, y, w, h = box
    H, W = image.shape[:2]
    x1, y1 = int(max(0, x - margin * w)), int(max(0, y - margin * h))
    x2, y2 = int(min(W, x + w + margin * w)), int(min(H, y + h + margin * h))
    return image[y1:max(y2, y1 + 1), x1:max(x2, x1 + 1)]


WIDTH_BINS = (40, 60, 100)  # px: where unannotated distant plates and real false positives part


def width_histogram(widths: list[float], edges: tuple[int, ...] = WIDTH_BINS) -> dict[str, int]:
    """Counts of boxes per width range, e.g. {"<40": 3, "40-59": 1, "60-99": 0, ">=100": 2}.

    Unmatched detections split by size tell a missing annotation (small, distant) from a
    false positive the size of the plates that are annotated.
    """
    names = [f"<{edges[0]}"] + [f"{a}-{b - 1}" for a, b in zip(edges, edges[1:])] + [f">={edges[-1]}"]
    counts = np.bincount(np.searchsorted(edges, widths, side="right"), minlength=len(names))
    return dict(zip(names, (int(c) for c in counts)))


@dataclass
class Tally:
    """Running counts over a set; turned into the report at the end."""

    tp: int = 0
    predicted: int = 0
    labelled: int = 0
    with_text: int = 0
    read: int = 0
    seconds: list[float] = field(default_factory=list)
    misses: list[dict[str, Any]] = field(default_factory=list)
    unmatched_widths: list[float] = field(default_factory=list)
    on_unboxed: int = 0  # unmatched detections on a plate seen without a box

    def detection(self) -> dict[str, Any]:
        return {"iou": IOU_THRESHOLD, "true_positives": self.tp, "predicted": self.predicted,
                "labelled": self.labelled, "recall": _ratio(self.tp, self.labelled),
                "precision": _ratio(self.tp, self.predicted), "on_unboxed_plates": self.on_unboxed,
                "precision_audited": _ratio(self.tp, self.predicted - self.on_unboxed),
                "unmatched_by_width": width_histogram(self.unmatched_widths)}

    def end_to_end(self) -> dict[str, Any] | None:
        if not self.with_text:
            return None
        return {"labelled_with_text": self.with_text, "read": self.read, "exact": _ratio(self.read, self.with_text)}


class MissWriter:
    """Saves miss crops under OUT/misses/ (or nowhere when out is None) and lists them."""

    def __init__(self, out: Path | None) -> None:
        self.folder = out / "misses" if out is not None else None
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def save(self, crop: np.ndarray | None, image: Path, kind: str, expected: str | None, got: str | None) -> str | None:
        name = miss_name(self.count, image, kind, expected, got)
        self.count += 1
        if self.folder is None or crop is None or crop.size == 0:
            return None
        cv2.imwrite(str(self.folder / name), crop)
        return f"misses/{name}"


def score_image(tally: Tally, labels: tuple[Label, ...], predicted: list[Predicted], path: Path,
                image: Any, misses: MissWriter, unboxed: tuple[tuple[float, float, float, float], ...] = ()) -> None:
    """Add one image's detections and readings to the tally; record each missed labelled plate.

    `image` is the decoded BGR image or a zero-argument callable giving it, so images are only
    decoded again (outside the timing) when there is a miss to save.
    """
    boxed = [lab for lab in labels if lab.box is not None]
    truth = box_array(boxed)
    boxes = box_array(predicted)
    pairs = match_boxes(boxes, truth, IOU_THRESHOLD)
    tally.tp, tally.predicted, tally.labelled = tally.tp + len(pairs), tally.predicted + len(boxes), tally.labelled + len(truth)
    matched = {t for _, t in pairs}
    spare = unmatched(boxes, pairs)
    tally.unmatched_widths += [float(w) for w in spare[:, 2]]
    tally.on_unboxed += unboxed_hits(spare, np.array(unboxed, np.float64), IOU_THRESHOLD)
    for index, label in enumerate(boxed):
        ok, best_iou, got = plate_read(label, predicted)
        if label.text:
            tally.with_text += 1
            tally.read += ok
        if ok or (index in matched and not label.text):
            continue
        kind = "wrong_text" if index in matched or best_iou >= IOU_THRESHOLD else "not_detected"
        bgr = image() if callable(image) else image
        crop = padded_crop(bgr, label.box) if bgr is not None else None
        saved = misses.save(crop, path, kind, label.text, got if best_iou > 0 else None)
        tally.misses.append({"image": str(path), "kind": kind, "box": [round(v, 1) for v in label.box],
                             "expected": label.text, "read": got or None, "best_iou": round(best_iou, 3),
                             "crop": saved})


# ---------------------------------------------------------------- the sets

def _decode(path: Path) -> np.ndarray | None:
    return cv2.imdecode(np.fromfile(str(path), np.uint8), cv2.IMREAD_COLOR)


def evaluate_images(reader: Reader, samples: list[Sample], misses: MissWriter, warmup: bool = True) -> Tally:
    """Full pipeline on each image file: detection counts, end-to-end reads, latency.

    Latency is per image from encoded bytes in memory: JPEG decode included, disk read excluded.
    """
    tally = Tally()
    if warmup and samples:
        predict(reader, samples[0].path.read_bytes())  # first ORT runs allocate; keep them out of p95
    for sample in samples:
        data = sample.path.read_bytes()
        started = time.perf_counter()
        predicted = predict(reader, data)
        tally.seconds.append(time.perf_counter() - started)
        score_image(tally, sample.labels, predicted, sample.path, lambda p=sample.path: _decode(p), misses,
                    sample.unboxed)
    return tally


def paste_in_canvas(crop: np.ndarray, size: tuple[int, int] = CANVAS) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """The crop centred on a flat grey frame -> (frame, crop's box x, y, w, h in it)."""
    width, height = size
    h, w = crop.shape[:2]
    if w > width or h > height:
        r = min(width / w, height / h)
        crop = cv2.resize(crop, (max(1, int(w * r)), max(1, int(h * r))), interpolation=cv2.INTER_AREA)
        h, w = crop.shape[:2]
    canvas = np.full((height, width, 3), CANVAS_FILL, np.uint8)
    x, y = (width - w) // 2, (height - h) // 2
    canvas[y:y + h, x:x + w] = crop
    return canvas, (float(x), float(y), float(w), float(h))


def evaluate_crops(reader: Any, samples: list[Sample], misses: MissWriter, e2e: bool = True,
                   warmup: bool = True) -> dict[str, Any]:
    """br-crops: recognizer alone on each whole crop, and (e2e) detector + recognizer on the crop in a frame."""
    predictions, truths, rec_seconds = [], [], []
    e2e_tally = Tally()
    for i, sample in enumerate(samples):
        crop = _decode(sample.path)
        if crop is None:
            raise ValueError(f"cannot decode {sample.path}")
        truth = normalise_text(sample.labels[0].text or "")
        if warmup and i == 0:
            read_crop(reader, crop)
        started = time.perf_counter()
        got = read_crop(reader, crop)
        rec_seconds.append(time.perf_counter() - started)
        predictions.append(got)
        truths.append(truth)
        if got != truth:
            saved = misses.save(crop, sample.path, "recognizer", truth, got)
            e2e_tally.misses.append({"image": str(sample.path), "kind": "recognizer", "box": None,
                                     "expected": truth, "read": got or None, "crop": saved})
        if e2e:
            canvas, box = paste_in_canvas(crop)
            if warmup and i == 0:
                predict(reader, canvas)
            started = time.perf_counter()
            predicted = predict(reader, canvas)
            e2e_tally.seconds.append(time.perf_counter() - started)
            score_image(e2e_tally, (Label(box, truth),), predicted, sample.path, canvas, misses)
    result: dict[str, Any] = {
        "recognizer": {**text_accuracy(predictions, truths), "note": "recognizer alone on the whole crop"},
        "latency": {"recognizer_per_crop": latency_summary(rec_seconds)},
        "misses": e2e_tally.misses,
    }
    if e2e:
        result["detection"] = {**e2e_tally.detection(), "note": "detector on the crop pasted into a frame"}
        result["end_to_end"] = {**(e2e_tally.end_to_end() or {}),
                                "note": f"crop pasted at the centre of a {CANVAS[0]}x{CANVAS[1]} grey frame"}
        result["latency"]["end_to_end_per_frame"] = latency_summary(e2e_tally.seconds)
    return result


# ---------------------------------------------------------------- report

def build_report(set_name: str, split: str, samples: list[Sample], reader_info: dict[str, Any],
                 body: dict[str, Any]) -> dict[str, Any]:
    """Everything in one JSON-able dict: what was run on what, then the figures."""
    return {
        "set": set_name, "split": split, "images": len(samples),
        "plates": sum(len(s.labels) for s in samples),
        "reader": reader_info, **body,
    }


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}" if value <= 1.0 else f"{value:.2f}"
    return str(value)


def markdown_report(report: dict[str, Any]) -> str:
    """A short Markdown summary: one table of figures, the notes, the number of misses."""
    rows: list[tuple[str, Any]] = [("images", report["images"]), ("labelled plates", report["plates"])]
    det = report.get("detection")
    if det:
        rows += [("detection recall @IoU0.5", det["recall"]), ("detection precision @IoU0.5", det["precision"]),
                 ("detections (tp / predicted / labelled)", f"{det['true_positives']} / {det['predicted']} / {det['labelled']}"),
                 ("detection precision, audited (detections on unboxed plates left out)", det["precision_audited"]),
                 ("detections on unboxed plates", det["on_unboxed_plates"]),
                 ("unmatched detections by width (px)", ", ".join(f"{k}: {v}" for k, v in det["unmatched_by_width"].items()))]
    rec = report.get("recognizer")
    if rec:
        rows += [("recognizer exact plate", rec["exact"]), ("recognizer character accuracy", rec["char"])]
    e2e = report.get("end_to_end")
    if e2e:
        rows += [("end-to-end exact plate", e2e.get("exact")),
                 ("end-to-end read / labelled", f"{e2e.get('read')} / {e2e.get('labelled_with_text')}")]
    for name, lat in report.get("latency", {}).items():
        if lat.get("count"):
            rows.append((f"latency {name.replace('_', ' ')} median / p95 ms", f"{lat['median_ms']:.1f} / {lat['p95_ms']:.1f}"))
    reader = report.get("reader", {})
    lines = [f"# Evaluation: {report['set']} ({report['split']})", "",
             f"Provider {reader.get('provider', '?')}, {reader.get('threads', '?')} threads, "
             f"models {reader.get('models_dir', '?')}.", "",
             "| measure | value |", "|---|---|"]
    lines += [f"| {name} | {_fmt(value)} |" for name, value in rows]
    notes = [n for n in (report.get("notes") or [])]
    for section in ("detection", "recognizer", "end_to_end"):
        note = (report.get(section) or {}).get("note")
        if note:
            notes.append(f"{section}: {note}")
    if notes:
        lines += [""] + [f"- {n}" for n in notes]
    lines += ["", f"{len(report.get('misses', []))} misses listed in report.json, crops in misses/."]
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (out / "report.md").write_text(markdown_report(report), encoding="utf-8")


def run(reader: Any, set_name: str, samples: list[Sample], out: Path | None, split: str,
        e2e: bool = True, reader_info: dict[str, Any] | None = None) -> dict[str, Any]:
    """Evaluate one set and (if out) write the report; returns the report dict."""
    misses = MissWriter(out)
    if set_name == "br-crops":
        body = evaluate_crops(reader, samples, misses, e2e=e2e)
    else:
        tally = evaluate_images(reader, samples, misses)
        body = {"detection": tally.detection(), "end_to_end": tally.end_to_end(),
                "latency": {"end_to_end_per_image": latency_summary(tally.seconds)},
                "misses": tally.misses}
        if set_name == "scenes-ro":
            body["detection"]["note"] = PRECISION_NOTE
            body["notes"] = ["scenes-ro has boxes but no text: no reading accuracy"]
        if set_name == "backgrounds":
            body["notes"] = ["backgrounds-gray shows no plate: every detection (predicted) is a false plate"]
    body.setdefault("latency", {})
    report = build_report(set_name, split, samples, reader_info or {}, body)
    if out is not None:
        write_report(report, out)
    return report


def load_samples(set_name: str, data: Path, split: str, folder: Path | None) -> list[Sample]:
    if set_name == "scenes-ro":
        return load_scenes_ro(data, split)
    if set_name == "br-crops":
        return load_br_crops(data, split)
    if set_name == "backgrounds":
        return load_backgrounds(data, split)
    if folder is None:
        raise ValueError("--set folder needs --folder DIR")
    return load_folder(folder)


def main(argv: list[str] | None = None) -> int:
    from .providers import CHOICES
    from .reader import PlateReader

    p = argparse.ArgumentParser(prog="python -m runtime.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("--set", required=True, choices=("scenes-ro", "br-crops", "backgrounds", "folder"),
                   dest="set_name")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data folder")
    p.add_argument("--split", default="val", choices=("val", "train", "unpasted", "all"),
                   help="unpasted: train, br-crops only those the detector never pasted")
    p.add_argument("--folder", type=Path, default=None, help="images with IMAGE.txt labels (--set folder)")
    p.add_argument("--models", default=None, help="models folder (default $PLATES_MODELS or ./models)")
    p.add_argument("--out", type=Path, default=None, help="report folder (default runs/eval/SET-SPLIT)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--providers", default="auto", choices=CHOICES)
    p.add_argument("--limit", type=int, default=0, help="first N images only (quick checks)")
    p.add_argument("--no-e2e", action="store_true", help="br-crops: skip the detector-on-canvas figure")
    p.add_argument("--confidence", type=float, default=None,
                   help="detector score threshold (default: the manifest's), for precision/recall trade-offs")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    split = "all" if args.set_name == "folder" else args.split
    samples = load_samples(args.set_name, args.data, split, args.folder)
    if args.limit > 0:
        samples = samples[:args.limit]
    out = args.out or ROOT / "runs" / "eval" / f"{args.set_name}-{split}"
    reader = PlateReader(args.models, providers=args.providers, threads=args.threads, confidence=args.confidence)
    info = {**reader.info(), "models_dir": str(reader.manifest.root), "load_seconds": round(reader.load_seconds, 3)}
    report = run(reader, args.set_name, samples, out, split, e2e=not args.no_e2e, reader_info=info)
    print(markdown_report(report), end="")
    print(f"wrote {out / 'report.json'}, {out / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
