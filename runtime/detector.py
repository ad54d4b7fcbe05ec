"""Plate detector: letterbox the image, run the ONNX graph at several scales, keep the plate
boxes, and look again, at the photo's own resolution, at plates a pass saw small.

The network finds plates up to about 200 px wide in its input; wider ones (a close-up, a plate
photographed alone, a large blurred plate) it mostly misses: few of its training plates were
that wide, and its deepest cells see little more. So coarse passes run the same graph on the
picture shrunk `coarse_factor` times, then twice that, until it fits `coarse_max_side` pixels
(a 1280x720 frame: 192x108 and 96x54 pictures in 288x192 and 160x96 inputs, a fifth of the
first pass's work together), each with a grey border so that a plate filling its photo still
has edges to be found by, and add the plates of at least `coarse_min_width` pixels there that
no earlier pass found.

The first pass shrinks a 1280x720 frame 5/3 times (a larger image gets a larger input,
manifest.py), so a plate 50 px wide is 30 px in the input, and corners placed to a pixel
there are 1.7 px off in the frame: enough to cut characters off when the crop is rectified.
Such a plate is looked at again in a window of the photo `refine_context` plate widths wide (at
most `refine_width` x `refine_height`), at least `refine_gain` times the resolution of the pass
that found it and never enlarged, and takes the box and corners found there. A plate that this
closer look does not find is dropped: lettering, logos and signs that a 30 px view takes for
a plate mostly stop looking like one at full resolution (scenes-ro val: precision 0.49 -> 0.63,
recall unchanged; README). All these numbers come from the manifest; `bench/plate_sizes.py`
measures them.
"""
from __future__ import annotations

import cv2
import numpy as np
import onnxruntime as ort

from .boxes import Detection, candidates, decode, iou_one_to_many, to_detections, unseen
from .crops import shrink
from .letterbox import fit, place, resize
from .manifest import DetectorSpec

X_COLUMNS = [0, 2, 5, 7, 9, 11]  # of a detection row: x1 y1 x2 y2 score tlx tly trx try brx bry blx bly
Y_COLUMNS = [1, 3, 6, 8, 10, 12]


class Detector:
    """Stateless apart from the ORT session, whose run() is thread-safe."""

    def __init__(self, spec: DetectorSpec, session: ort.InferenceSession) -> None:
        self.spec = spec
        self.session = session

    def rows(self, blob: np.ndarray, confidence: float) -> np.ndarray:
        """[1,3,H,W] input -> [K,13] rows of its cells scoring at least `confidence`, in its pixels."""
        s = self.spec
        maps = self.session.run(list(s.output_names), {s.input_name: blob})
        return decode([m[0] for m in maps], s.strides, confidence, s.max_log_side)

    def __call__(self, image: np.ndarray, confidence: float | None = None, iou: float | None = None) -> list[Detection]:
        """BGR image -> plates in original pixels, best first."""
        s = self.spec
        confidence = s.confidence if confidence is None else confidence
        iou = s.iou if iou is None else iou
        width, height = s.input_size(image.shape[1], image.shape[0])
        box = fit(image.shape[1], image.shape[0], width, height, s.margin)
        picture = resize(image, box)
        blob = place(picture, width, height, s.pad_value, s.norm, box.left, box.top)
        found = candidates(self.rows(blob, confidence), box.ratio, confidence, iou, left=box.left, top=box.top)
        rows = self.look_again(image, found, box.ratio, confidence, iou)
        for factor in s.coarse_factors(picture.shape[1], picture.shape[0]):
            small = shrink(picture, factor)
            ratio = box.ratio * small.shape[1] / picture.shape[1]
            large = self.coarse(small, ratio, confidence, iou)
            rows = np.concatenate([rows, self.look_again(image, unseen(rows, large), ratio, confidence, iou)])
        rows = rows[np.argsort(-rows[:, 4], kind="stable")]
        return to_detections(rows, image.shape[1], image.shape[0])

    def look_again(self, image: np.ndarray, rows: np.ndarray, ratio: float, confidence: float,
                   iou: float) -> np.ndarray:
        """The rows a pass at `ratio` found, each placed again (or dropped) by refine."""
        looked = [self.refine(image, r, ratio, confidence, iou) for r in rows]
        return np.array([r for r in looked if r is not None], np.float32).reshape(-1, 13)

    def coarse(self, small: np.ndarray, ratio: float, confidence: float, iou: float) -> np.ndarray:
        """Rows (original pixels) of the plates at least coarse_min_width wide in `small`, the picture
        shrunk to `ratio` of the image and given a grey border: a plate that fills its photo has
        edges there."""
        s = self.spec
        left, top, width, height = s.coarse_input(small.shape[1], small.shape[0])
        blob = place(small, width, height, s.pad_value, s.norm, left, top)
        return candidates(self.rows(blob, confidence), ratio, confidence, iou, s.coarse_min_width, left, top)

    def refine(self, image: np.ndarray, row: np.ndarray, ratio: float, confidence: float,
               iou: float) -> np.ndarray | None:
        """One plate's row (original pixels) -> the box and corners found for it in a window of the
        photo at a higher resolution than the pass that found it; the row itself where the photo
        has no more resolution to give. None where the window finds no box on the plate: seen
        closer, a look-alike (lettering, a logo, a tail light) is no longer taken for a plate."""
        s = self.spec
        where = refine_window(s, row[:4], ratio)
        if where is None:
            return row
        scale, left, top, width, height = where
        window = window_of(image, left, top, scale, width, height, s.pad_value)
        seen = candidates(self.rows(place(window, width, height, s.pad_value, s.norm), confidence), scale, confidence,
                          iou)
        if not len(seen):
            return None
        seen[:, X_COLUMNS] += left
        seen[:, Y_COLUMNS] += top
        seen[:, 4] = row[4]  # the score stays the one its pass gave: the same plate, placed better
        overlap = iou_one_to_many(row[:4], seen[:, :4])
        return seen[int(overlap.argmax())] if overlap.max() >= 0.5 else None


def refine_window(spec: DetectorSpec, box: np.ndarray, ratio: float) -> tuple[float, int, int, int, int] | None:
    """Where to look again at a plate (xyxy, original pixels) that a pass at `ratio` found:
    (scale, left, top, width, height) of a window `refine_context` plate widths wide, centred on
    it; None where that would not give `refine_gain` times the pass's resolution. A plate small
    enough to be seen at full resolution gets a window just that wide: a 50 px plate costs a
    160x96 run, not a 320x192 one."""
    x1, y1, x2, y2 = (float(v) for v in box)
    scale = min(1.0, spec.refine_width / (spec.refine_context * max(x2 - x1, 1.0)))
    if scale < spec.refine_gain * ratio:
        return None
    width = min(spec.refine_width, spec.aligned(spec.refine_context * (x2 - x1) * scale))
    height = min(spec.refine_height, spec.aligned(width * spec.refine_height / spec.refine_width))
    left = int(np.floor((x1 + x2) / 2 - width / scale / 2))
    top = int(np.floor((y1 + y2) / 2 - height / scale / 2))
    return scale, left, top, width, height


def window_of(image: np.ndarray, left: int, top: int, scale: float, width: int, height: int,
              pad_value: int) -> np.ndarray:
    """The part of the image from (left, top) that fills width x height once scaled by `scale`,
    area-averaged, padded with the letterbox grey where it leaves the image."""
    right, bottom = left + round(width / scale), top + round(height / scale)
    h, w = image.shape[:2]
    part = image[max(top, 0):max(min(bottom, h), 1), max(left, 0):max(min(right, w), 1)]
    part = cv2.copyMakeBorder(part, max(-top, 0), max(bottom - h, 0), max(-left, 0), max(right - w, 0),
                              cv2.BORDER_CONSTANT, value=(pad_value,) * 3)
    return cv2.resize(part, (width, height), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
