"""How detection and reading hold up with the plate's size: in the detector's input, up to a
plate photographed alone, and in a 12 MP phone photo.

    python bench/plate_sizes.py [--data ../shared/data] [--models DIR] [--every 3]

Real br-plate-crops validation crops (never trained on) pasted at the centre of a grey 768x448
image (the detector's input size, so the width is the plate's width in its input) at widths
from 60 to 760 px; each crop uploaded alone as it is, and enlarged to 1000, 1600 and 3000 px wide
(a close-up taken with a camera or a phone); and every other one of those crops pasted
small into a blurred-noise photo below its centre: 1280x720 and 1920x1080 camera frames (40 to 130 px wide)
and a 4032x3024 phone photo (60 to 260 px). A plate counts as found when the reader returns any
plate, read when one of them has the crop's text; the photo tables also give the median time of
a read (decoded image in, detector and recognizer).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from runtime import PlateReader  # noqa: E402
from runtime.evaluate import DEFAULT_DATA, Sample, load_br_crops  # noqa: E402

WIDTHS = (60, 120, 200, 260, 320, 400, 500, 650, 760)
CLOSE_UPS = (1000, 1600, 3000)
CANVAS_W, CANVAS_H, FILL = 768, 448, 114
PHOTOS = {(1280, 720): (40, 50, 60, 80, 100, 130), (1920, 1080): (40, 50, 60, 80, 100, 130), (4032, 3024): (60, 80, 100, 130, 160, 200, 260)}


def pasted(crop: np.ndarray, width: int) -> np.ndarray:
    """The crop resized to `width` px wide at the centre of a grey canvas of the detector's input size."""
    height = min(CANVAS_H - 8, round(crop.shape[0] * width / crop.shape[1]))
    canvas = np.full((CANVAS_H, CANVAS_W, 3), FILL, np.uint8)
    y, x = (CANVAS_H - height) // 2, (CANVAS_W - width) // 2
    canvas[y : y + height, x : x + width] = cv2.resize(crop, (width, height))
    return canvas


def enlarged(crop: np.ndarray, width: int) -> np.ndarray:
    """The crop alone, resized (bicubic) to `width` px wide."""
    return cv2.resize(crop, (width, round(crop.shape[0] * width / crop.shape[1])), interpolation=cv2.INTER_CUBIC)


def in_photo(crop: np.ndarray, width: int, photo: np.ndarray) -> np.ndarray:
    """The crop resized to `width` px wide, pasted into a copy of the large photo below its centre."""
    height = round(crop.shape[0] * width / crop.shape[1])
    out = photo.copy()
    y, x = photo.shape[0] * 3 // 5, photo.shape[1] // 2
    out[y : y + height, x : x + width] = cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA)
    return out


def score(reader: PlateReader, images: list[np.ndarray], samples: list[Sample]) -> tuple[int, int, float]:
    """(found, read, median ms of a read) over the images, each with the text of its sample."""
    found = read = 0
    seconds = []
    for image, sample in zip(images, samples):
        started = time.perf_counter()
        plates = reader.read(image)
        seconds.append(time.perf_counter() - started)
        found += bool(plates)
        read += any(p.text == sample.labels[0].text for p in plates)
    return found, read, 1000 * float(np.median(seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--models", type=Path, default=None)
    parser.add_argument("--every", type=int, default=3, help="use every n-th validation crop for the pasted sizes")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    reader = PlateReader(args.models, threads=args.threads)
    samples = load_br_crops(args.data, "val")
    crops = [cv2.imread(str(s.path), cv2.IMREAD_COLOR) for s in samples]
    some = slice(None, None, args.every)
    print("| plate width in the 768x448 input | found | read | of |\n|---|---|---|---|")
    for width in WIDTHS:
        found, read, _ = score(reader, [pasted(c, width) for c in crops[some]], samples[some])
        print(f"| {width} px | {found} | {read} | {len(samples[some])} |")
    found, read, _ = score(reader, crops, samples)
    print(f"| crop uploaded alone | {found} | {read} | {len(samples)} |")
    for width in CLOSE_UPS:
        found, read, _ = score(reader, [enlarged(c, width) for c in crops], samples)
        print(f"| crop uploaded alone, enlarged to {width} px | {found} | {read} | {len(samples)} |")
    fewer = slice(None, None, 2 * args.every)
    for (photo_w, photo_h), widths in PHOTOS.items():
        rng = np.random.default_rng(1)
        photo = cv2.GaussianBlur(rng.integers(60, 160, (photo_h, photo_w, 3), dtype=np.uint8), (0, 0), 6)
        print(f"\n| plate width in a {photo_w}x{photo_h} photo | found | read | of | ms per read, median |"
              "\n|---|---|---|---|---|")
        for width in widths:
            found, read, ms = score(reader, [in_photo(c, width, photo) for c in crops[fewer]], samples[fewer])
            print(f"| {width} px | {found} | {read} | {len(samples[fewer])} | {ms:.1f} |")


if __name__ == "__main__":
    main()
