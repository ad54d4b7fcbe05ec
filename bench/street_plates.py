"""Real Brazilian plates in real street frames: how the reader does where its users point it.

    python bench/street_plates.py [--data ../shared/data] [--models DIR] [--rounds 3] [--night] [--roll DEG]
                                  [--split val|train|unpasted] [--rendered SEED --fonts ../shared/fonts]

No labelled Brazilian street photo is in the shared data, so this one is put together from two
real sets that training never saw: every boxed plate of the scenes-ro validation videos (dash-cam
frames, 83 plates 66 to 240 px wide) is covered by a br-plate-crops validation crop (the photo of
a plate never read in training), as wide as the box and as tall as the crop's own shape makes
it, centred on it. Each round gives the frames' plates other crops, so three rounds show every
one of the 230 crops about once. A plate counts as found when a detection overlaps the pasted
crop at IoU 0.5 or more, read when one of those has the crop's text; the table splits them by
width. The frames' unboxed plates and look-alikes stay as they are, so precision is not given.

--night: the same at night, as a camera with a lamp sees it: the frame darkened (a power curve
that keeps what was bright bright) and each plate lit (its ground brighter, its characters as
dark); the plates and frames are still ones no training saw. The shipped detector was not
trained on night scenes (session 22 tried it: docs/history.md).

--roll DEG: every pasted plate turned in the image plane by DEG degrees (one plate clockwise,
the next anticlockwise), as a phone held askew or a sloping street shows it; found means IoU
0.5 with the turned plate's bounding box, which is what the detector answers.

--split train: the same with train crops over train frames (one round covers the 569 boxes with
569 of the 893 crops): a dev set on which to choose a runtime setting, so that the val figures
stay a measurement of it and not its tuning. (The networks trained on these, so it flatters
reading; it serves to compare runtime choices with one another.) --split unpasted: the same
frames with only the 466 train crops the detector never pasted into its scenes
(runtime/splits.py::in_detector_half), to compare detectors on real plates new to them.

--rendered SEED: the boxes covered with plates rendered from that seed instead (both formats, one
and two lines, export/data/plates.py), which no network saw, counted by layout too: the only
street figure for Mercosul and two-line plates, of which the real crops hold none.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from runtime import PlateReader  # noqa: E402
from runtime.evaluate import DEFAULT_DATA, load_br_crops, load_scenes_ro, normalise_text  # noqa: E402
from runtime.metrics import box_array, iou_xywh  # noqa: E402

WIDTH_BINS = ((0, 80), (80, 120), (120, 10_000))
NIGHT_POWER, NIGHT_GAIN = 2.0, 0.5  # the street at night: (v / 255) ** power * gain
LIT_FLOOR, LIT_GAIN = 25, 1.6  # a lit plate: (v - floor) * gain


def at_night(frame: np.ndarray) -> np.ndarray:
    """The frame darkened as at night; highlights stay brightest."""
    return np.clip(255.0 * (frame / 255.0) ** NIGHT_POWER * NIGHT_GAIN, 0, 255).astype(np.uint8)


def lit(crop: np.ndarray) -> np.ndarray:
    """A plate under a lamp: its ground brighter, its dark characters no lighter."""
    return np.clip((crop.astype(np.float32) - LIT_FLOOR) * LIT_GAIN, 0, 255).astype(np.uint8)


def cover(frame: np.ndarray, box: tuple[float, float, float, float], crop: np.ndarray,
          roll: float = 0.0) -> tuple[float, float, float, float]:
    """Paste the crop over the box (as wide, its own aspect, same centre), turned by roll degrees
    about its centre -> the bounding rectangle x, y, w, h of the pasted plate."""
    x, y, w, h = box
    width = max(8, round(w))
    height = max(4, round(width * crop.shape[0] / crop.shape[1]))
    plate = cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA)
    if roll == 0.0:
        left, top = round(x + w / 2 - width / 2), round(y + h / 2 - height / 2)
        left = int(np.clip(left, 0, frame.shape[1] - width))
        top = int(np.clip(top, 0, frame.shape[0] - height))
        frame[top:top + height, left:left + width] = plate
        return float(left), float(top), float(width), float(height)
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), -roll, 1.0)  # cv2: positive is anticlockwise
    corners = np.array([[0, 0, 1], [width, 0, 1], [width, height, 1], [0, height, 1]], np.float64) @ turn.T
    span = corners.max(axis=0) - corners.min(axis=0)
    centre = np.clip([x + w / 2, y + h / 2], span / 2, [frame.shape[1] - span[0] / 2, frame.shape[0] - span[1] / 2])
    turn[:, 2] += centre - (corners.max(axis=0) + corners.min(axis=0)) / 2
    size = (frame.shape[1], frame.shape[0])
    turned = cv2.warpAffine(plate, turn, size, flags=cv2.INTER_LINEAR)
    inside = cv2.warpAffine(np.full((height, width), 255, np.uint8), turn, size, flags=cv2.INTER_LINEAR) > 127
    frame[inside] = turned[inside]
    (left, top), (right, bottom) = centre - span / 2, centre + span / 2
    return float(left), float(top), float(right - left), float(bottom - top)


def composed(frame: np.ndarray, boxes: list[tuple[float, float, float, float]], crops: list[tuple[np.ndarray, str]],
             first: int, roll: float = 0.0) -> tuple[np.ndarray, list[tuple[tuple[float, ...], str]]]:
    """A copy of the frame with each box covered by the next crop from `first` on, turned by roll
    degrees one way and the next the other way; the pasted plates."""
    frame = frame.copy()
    plates = []
    for k, box in enumerate(boxes):
        image, text = crops[(first + k) % len(crops)]
        plates.append((cover(frame, box, image, roll if (first + k) % 2 == 0 else -roll), text))
    return frame, plates


def rendered(seed: int, data: Path, fonts: Path, count: int) -> list[tuple[np.ndarray, str, str]]:
    """`count` plates rendered from seed, all formats and layouts: (image, text, layout), layout
    naming the format and the lines (old one-line, mercosul two-line...)."""
    from export.data.assets import load_assets  # torch-free; only this option renders
    from export.data.plates import render_plate

    rng, assets = np.random.default_rng(seed), load_assets(data, fonts)
    plates = [render_plate(rng, assets) for _ in range(count)]
    return [(p.image, p.text, f"{p.fmt} {'two' if p.two_line else 'one'}-line") for p in plates]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--models", default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--night", action="store_true", help="dark frames, lit plates")
    parser.add_argument("--roll", type=float, default=0.0, help="turn every plate by this many degrees")
    parser.add_argument("--split", choices=("val", "train", "unpasted"), default="val",
                        help="train: a dev set for runtime choices; unpasted: train, with the crops the detector never pasted")
    parser.add_argument("--rendered", type=int, metavar="SEED", help="cover the boxes with plates rendered from SEED")
    parser.add_argument("--fonts", type=Path, default=DEFAULT_DATA.parent / "fonts", help="for --rendered")
    args = parser.parse_args()
    reader = PlateReader(args.models, providers="cpu", threads=args.threads)
    # Frames and crops are decoded (and lit for --night) once; each round pastes onto a copy.
    scenes = [(cv2.imread(str(s.path), cv2.IMREAD_COLOR), [label.box for label in s.labels])
              for s in load_scenes_ro(args.data, args.split) if s.labels]
    layouts: dict[str, str] = {}  # text -> one-line / two-line, for rendered plates
    if args.rendered is None:
        crops = [(cv2.imread(str(s.path), cv2.IMREAD_COLOR), s.labels[0].text) for s in load_br_crops(args.data, args.split)]
    else:
        crops = rendered(args.rendered, args.data, args.fonts, args.rounds * sum(len(boxes) for _, boxes in scenes))
        layouts = {text: layout for _, text, layout in crops}
        crops = [(image, text) for image, text, _ in crops]
    if args.night:
        crops = [(lit(image), text) for image, text in crops]
        scenes = [(at_night(frame), boxes) for frame, boxes in scenes]
    counts = {b: [0, 0, 0] for b in WIDTH_BINS}  # plates, found, read
    by_layout = {layout: [0, 0, 0] for layout in sorted(set(layouts.values()))}
    used = 0
    for _ in range(args.rounds):
        for scene_frame, scene_boxes in scenes:
            frame, plates = composed(scene_frame, scene_boxes, crops, used, args.roll)
            used += len(plates)
            found = reader.read(frame)
            boxes = box_array(found)
            for rect, text in plates:
                overlap = iou_xywh(boxes, np.array([rect]))[:, 0] if len(boxes) else np.zeros(0)
                hits = [found[i] for i in np.flatnonzero(overlap >= 0.5)]
                read = any(normalise_text(p.text) == text for p in hits)
                width_bin = counts[next(b for b in WIDTH_BINS if b[0] <= rect[2] < b[1])]
                for tally in (width_bin, by_layout.get(layouts.get(text, ""))):
                    if tally is not None:
                        tally[0], tally[1], tally[2] = tally[0] + 1, tally[1] + bool(hits), tally[2] + read
    source = f"plates rendered from seed {args.rendered}" if args.rendered is not None else f"br-plate-crops {args.split} crops"
    print(f"{source} over the boxed plates of scenes-ro {args.split} frames{' at night' if args.night else ''}"
          f"{f', turned by {args.roll:g} degrees' if args.roll else ''}, "
          f"{args.rounds} rounds ({used} plates, {len(crops)} crops)\n")
    print("| pasted width (px) | plates | found | read |")
    print("|---|---|---|---|")
    for (low, high), tally in counts.items():
        print_row(f"{low}-{high}" if high < 10_000 else f">= {low}", *tally)
    for layout, tally in by_layout.items():
        print_row(layout, *tally)
    print_row("all", *(sum(c[i] for c in counts.values()) for i in range(3)))


def print_row(name: str, plates: int, found: int, read: int) -> None:
    """One row of the table: plates, found and read, with their shares."""
    print(f"| {name} | {plates} | {found} ({found / max(plates, 1):.1%}) | {read} ({read / max(plates, 1):.1%}) |")


if __name__ == "__main__":
    main()
