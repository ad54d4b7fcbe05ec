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

A plate turned in the image plane (a phone held askew, a sloping street) comes out of the
network scored low, its corners following the turn only roughly, so a crop cut along them shows
the characters sloping and reads badly (bench/street_plates.py --roll). Each plate a pass found
is therefore measured for roll from its own edges (runtime/roll.py), or from the network's
corners where its edges are too faint to tell (session 22: street train turned 10 degrees read
539 -> 551), and one found turned is looked at again in a window turned to level it, where it
looks like the plates the network learned from; of that look and the closer one, the plate that
scores higher is kept, its corners mapped back to follow the turned plate so that the crop is
cut level, and the other look's corners go with it: the reader reads both crops and keeps the
surer reading (runtime/reader.py). A plate measured turned less than that (level, most of them)
is cut along the rectangle turned by that roll that its box bounds: the box says where a plate
is and how large, its edges how it is turned (a detector trained on turned plates turns its
corners on level ones too, and the corner head puts a two-line plate's edges inside it:
docs/history.md, sessions 20 and 21). A plate turned 20 degrees often scores under the threshold
in the first pass: a box there scoring at least `roll_confidence` is kept too where it is
measured turned and the levelled look finds it. A plate turned 25 degrees or more the network
does not find at all: where the level passes find no plate (a photo taken askew), the picture is
also seen turned by each of `turned_views` degrees, where such a plate is near level, and what
is found there is kept as such a first-pass box is. The roll thresholds come from the manifest's
roll_pass and were chosen on the train split of bench/street_plates.py.
"""
from __future__ import annotations

import cv2
import numpy as np
import onnxruntime as ort

from .boxes import Detection, candidates, decode, iou_one_to_many, nms, to_detections, unseen
from .crops import plate_size, shrink
from .letterbox import fit, place, resize
from .manifest import DetectorSpec
from .roll import boxed, corner_roll, is_turned, levelling, mapped, plate_roll

X_COLUMNS = [0, 2, 5, 7, 9, 11]  # of a detection row: x1 y1 x2 y2 score tlx tly trx try brx bry blx bly
Y_COLUMNS = [1, 3, 6, 8, 10, 12]
LOOKED = 21  # a row once looked at again: and the corners of the plate's other look (NaN where none)


class Detector:
    """Stateless apart from the ORT session, whose run() is thread-safe."""

    def __init__(self, spec: DetectorSpec, session: ort.InferenceSession) -> None:
        self.spec = spec
        self.session = session

    def rows(self, blob: np.ndarray, confidence: float) -> np.ndarray:
        """[1,3,H,W] input -> [K,13] rows of its cells scoring at least `confidence`, in its pixels."""
        return self.batch_rows(blob, confidence)[0]

    def batch_rows(self, batch: np.ndarray, confidence: float) -> list[np.ndarray]:
        """[N,3,H,W] inputs, one graph run -> each input's rows, as rows() gives them."""
        s = self.spec
        maps = self.session.run(list(s.output_names), {s.input_name: batch})
        return [decode([m[k] for m in maps], s.strides, confidence, s.max_log_side) for k in range(len(batch))]

    def __call__(self, image: np.ndarray, confidence: float | None = None, iou: float | None = None) -> list[Detection]:
        """BGR image -> plates in original pixels, best first."""
        s = self.spec
        confidence = s.confidence if confidence is None else confidence
        iou = s.iou if iou is None else iou
        width, height = s.input_size(image.shape[1], image.shape[0])
        box = fit(image.shape[1], image.shape[0], width, height, s.margin)
        picture = resize(image, box)
        blob = place(picture, width, height, s.pad_value, s.norm, box.left, box.top)
        low = min(confidence, s.roll_confidence)
        found = candidates(self.rows(blob, low), box.ratio, low, iou, left=box.left, top=box.top)
        sure = found[:, 4] >= confidence  # NMS keeps these as it would alone: nothing lower suppresses them
        rows = self.look_again(image, found[sure], box.ratio, confidence, iou)
        rows = np.concatenate([rows, self.turned_only(image, unseen(rows, found[~sure]), confidence, iou)])
        for factor in s.coarse_factors(picture.shape[1], picture.shape[0]):
            small = shrink(picture, factor)
            ratio = box.ratio * small.shape[1] / picture.shape[1]
            large = self.coarse(small, ratio, confidence, iou)
            rows = np.concatenate([rows, self.look_again(image, unseen(rows, large), ratio, confidence, iou)])
        if s.turned_views and not len(rows):  # a photo taken askew: no plate is level
            rows = self.turned_only(image, self.turned_views(picture, box.ratio, confidence, iou), confidence, iou)
        # Two boxes of one plate (a turned plate's first-pass boxes overlap little) can be placed
        # by their looks onto the same plate: keep it once, best first.
        rows = rows[nms(rows[:, :4], rows[:, 4], iou)] if len(rows) else rows
        return to_detections(rows, image.shape[1], image.shape[0])

    def look_again(self, image: np.ndarray, rows: np.ndarray, ratio: float, confidence: float,
                   iou: float) -> np.ndarray:
        """The rows a pass at `ratio` found, each placed again (or dropped) by refine."""
        looked = [self.refine(image, r, ratio, confidence, iou) for r in rows]
        return np.array([r for r in looked if r is not None], np.float32).reshape(-1, LOOKED)

    def turned_only(self, image: np.ndarray, rows: np.ndarray, confidence: float, iou: float) -> np.ndarray:
        """Rows the first pass scored under the threshold, kept where the plate's pixels show it
        turned and the levelled look finds it, with that look's score: the network scores a plate
        turned 20 degrees low, and levelled it sees the plates it learned from. Anything else under
        the threshold stays dropped: a closer look at every such box would confirm look-alikes too."""
        looked = [self.turned_look(image, row, confidence, iou) for row in rows]
        return np.array([with_other(r, None) for r in looked if r is not None], np.float32).reshape(-1, LOOKED)

    def turned_views(self, picture: np.ndarray, ratio: float, confidence: float, iou: float) -> np.ndarray:
        """Rows (original pixels) of the plates found in `picture` (the image at `ratio`) shrunk
        turned_view_factor times and turned by each of turned_views degrees anticlockwise about its
        centre, where a plate turned about that much clockwise is near level; the views run as one
        batch. A view keeps the picture's size (its corners are lost there, and seen level in the
        other passes). Each box comes back as the bounding box of its turned rectangle, its corners
        turned back with it."""
        s = self.spec
        small = shrink(picture, s.turned_view_factor)
        ratio *= small.shape[1] / picture.shape[1]
        height, width = small.shape[:2]
        view_width, view_height = s.fitting(width), s.fitting(height)
        matrices = [levelling((width / 2, height / 2), angle, 1.0, view_width, view_height) for angle in s.turned_views]
        views = [cv2.warpAffine(small, matrix, (view_width, view_height), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=(s.pad_value,) * 3) for matrix in matrices]
        batch = np.concatenate([place(view, view_width, view_height, s.pad_value, s.norm) for view in views])
        found = [turned_back(candidates(rows, 1.0, confidence, iou), cv2.invertAffineTransform(matrix), ratio)
                 for rows, matrix in zip(self.batch_rows(batch, confidence), matrices)]
        return np.concatenate(found)

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
        """One plate's row (original pixels) -> the box and corners found for it by a closer look
        and, where the plate's pixels show it turned (runtime/roll.py), by a look in a window
        turned to level it: the one whose plate scores higher, with the other's corners (a
        LOOKED-column row) for the reader to cut both and keep the surer reading: the score does
        not tell which crop reads better (the closer look scores a plate turned 10 degrees well
        with level corners). A plate measured level (Detector.roll) is cut along the rectangle
        turned by that roll that the closer look's box bounds (roll.boxed). None where neither finds it:
        seen closer, a look-alike (lettering, a logo, a tail light) is no longer taken for a plate.
        The score stays the one its pass gave: the same plate, placed better."""
        s = self.spec
        found = self.closer_look(image, row, ratio, confidence, iou)
        angle = self.roll(image, row if found is None else found)
        other = None
        if is_turned(angle, s.min_roll):
            other = self.level_look(image, row, angle, confidence, iou)
        elif found is not None:
            found = found.copy()
            found[5:13] = boxed(found[:4], angle).reshape(8)
        if other is not None and (found is None or other[4] >= found[4]):
            found, other = other, found
        if found is None:
            return None
        found = with_other(found, other)
        found[4] = row[4]
        return found

    def closer_look(self, image: np.ndarray, row: np.ndarray, ratio: float, confidence: float,
                    iou: float) -> np.ndarray | None:
        """The row found for the plate in a window of the photo at a higher resolution than the
        pass that found it, with that window's score; the row itself where the photo has no more
        resolution to give; None where the window finds no box on the plate scoring at least
        refine_confidence (seen closer, a plate scores high; a look-alike seldom does).
        The network scores a two-line plate low once it is taller than refine_max_height in its
        input, so a plate taller than that in the window and not confirmed there is looked at
        once more, that tall; confirmed there, it keeps the pass's row."""
        s = self.spec
        where = refine_window(s, row[:4], ratio)
        if where is None:
            return row
        found = self.look_near(image, row, *where, confidence, iou)
        if found is not None:
            return found
        tall = own_height(row) * where[0]
        if tall <= s.refine_max_height:
            return None
        scale, width, height = window_size(s, float(row[2] - row[0]), where[0] * s.refine_max_height / tall)
        confirmed = self.look_near(image, row, scale, *around(row[:4], scale, width, height), width, height,
                                   confidence, iou)
        return None if confirmed is None else row

    def look_near(self, image: np.ndarray, row: np.ndarray, scale: float, left: int, top: int, width: int,
                  height: int, confidence: float, iou: float) -> np.ndarray | None:
        """The best box (original pixels) that a window of the photo shows on the pass's plate
        (IoU 0.5 with its box) scoring at least refine_confidence; None where there is none."""
        s = self.spec
        seen = self.look_at(window_of(image, left, top, scale, width, height, s.pad_value), scale,
                            max(confidence, s.refine_confidence), iou)
        if not len(seen):
            return None
        seen[:, X_COLUMNS] += left
        seen[:, Y_COLUMNS] += top
        overlap = iou_one_to_many(row[:4], seen[:, :4])
        return seen[int(overlap.argmax())] if overlap.max() >= 0.5 else None

    def look_at(self, window: np.ndarray, scale: float, confidence: float, iou: float) -> np.ndarray:
        """The plates the graph finds in a window of the photo (a second look), best first, in its
        pixels divided by `scale`."""
        s = self.spec
        blob = place(window, window.shape[1], window.shape[0], s.pad_value, s.norm)
        return candidates(self.rows(blob, confidence), scale, confidence, iou)

    def turned_look(self, image: np.ndarray, row: np.ndarray, confidence: float, iou: float) -> np.ndarray | None:
        """The levelled look's row for a plate measured turned (Detector.roll); None for a plate
        turned less than min_roll, or one the levelled look does not find."""
        s = self.spec
        angle = self.roll(image, row)
        return self.level_look(image, row, angle, confidence, iou) if is_turned(angle, s.min_roll) else None

    def roll(self, image: np.ndarray, row: np.ndarray) -> float:
        """Degrees a row's plate is turned: as its pixels show it (runtime/roll.py), or where they
        cannot tell (a faint or blown-out plate), as the network's corners do."""
        angle = plate_roll(image, row[:4], self.spec.roll_min_gain)
        return corner_roll(row[5:13]) if angle is None else angle

    def level_look(self, image: np.ndarray, row: np.ndarray, angle: float, confidence: float,
                   iou: float) -> np.ndarray | None:
        """The row found for a plate turned `angle` degrees in a window `refine_context` plate
        widths wide, turned to level it, mapped back to the photo: corners that follow the plate,
        and the box around them; with that window's score. None where no box there holds the
        plate's centre, or where the box mapped back overlaps the pass's box at IoU under roll_min_iou."""
        s = self.spec
        x1, y1, x2, y2 = (float(v) for v in row[:4])
        scale, width, height = window_size(s, x2 - x1)
        window, matrix = levelled(image, ((x1 + x2) / 2, (y1 + y2) / 2), angle, scale, width, height, s.pad_value)
        seen = self.look_at(window, 1.0, confidence, iou)  # in the window's pixels: `matrix` maps them back
        holds = (seen[:, 0] <= width / 2) & (seen[:, 2] >= width / 2) & (seen[:, 1] <= height / 2) & (seen[:, 3] >= height / 2)
        if not holds.any():
            return None
        best = seen[int(np.flatnonzero(holds)[0])]  # candidates come best first
        back = cv2.invertAffineTransform(matrix)
        x1, y1, x2, y2 = best[:4]
        box = mapped(np.float32([[x1, y1], [x2, y1], [x2, y2], [x1, y2]]), back)
        out = best.copy()
        out[:4] = [*box.min(axis=0), *box.max(axis=0)]
        out[5:13] = mapped(best[5:13].reshape(4, 2), back).reshape(8)
        # As for the closer look, the plate found must be the one the pass found: on a faint level
        # plate a wrongly measured roll can frame a turned box around it. The bar is lower than the
        # closer look's 0.5: the pass's box on a turned plate is seldom its bounding rectangle.
        return out if iou_one_to_many(row[:4], out[None, :4])[0] >= s.roll_min_iou else None


def with_other(row: np.ndarray, other: np.ndarray | None) -> np.ndarray:
    """A LOOKED-column copy of row, with other's corners after its own (NaN where other is None)."""
    out = np.full(LOOKED, np.nan, np.float32)
    out[:13] = row[:13]
    if other is not None:
        out[13:] = other[5:13]
    return out


def turned_back(rows: np.ndarray, back: np.ndarray, ratio: float) -> np.ndarray:
    """Rows found in a turned view -> original pixels: through `back` (view to picture) and divided
    by the picture's `ratio`; each box becomes the bounding box of its four corners turned back."""
    out = rows.copy()
    for row in out:
        x1, y1, x2, y2 = row[:4]
        box = mapped(np.float32([[x1, y1], [x2, y1], [x2, y2], [x1, y2]]), back) / ratio
        row[:4] = [*box.min(axis=0), *box.max(axis=0)]
        row[5:13] = (mapped(row[5:13].reshape(4, 2), back) / ratio).reshape(8)
    return out


def window_size(spec: DetectorSpec, plate_width: float, most: float = 1.0) -> tuple[float, int, int]:
    """(scale, width, height) of a window `refine_context` plate widths wide around a plate: at
    most refine_width x refine_height and `most` times the photo's resolution (1: never
    enlarged); a plate small enough to be seen at full resolution gets a window just that wide
    (a 50 px plate costs a 160x96 run, not a 320x192 one)."""
    scale = min(most, spec.refine_width / (spec.refine_context * max(plate_width, 1.0)))
    width = min(spec.refine_width, spec.aligned(spec.refine_context * plate_width * scale))
    height = min(spec.refine_height, spec.aligned(width * spec.refine_height / spec.refine_width))
    return scale, width, height


def refine_window(spec: DetectorSpec, box: np.ndarray, ratio: float) -> tuple[float, int, int, int, int] | None:
    """Where to look again at a plate (xyxy, original pixels) that a pass at `ratio` found:
    (scale, left, top, width, height) of its window_size centred on it; None where that would not
    give `refine_gain` times the pass's resolution."""
    x1, _, x2, _ = (float(v) for v in box)
    scale, width, height = window_size(spec, x2 - x1)
    if scale < spec.refine_gain * ratio:
        return None
    return scale, *around(box, scale, width, height), width, height


def around(box: np.ndarray, scale: float, width: int, height: int) -> tuple[int, int]:
    """(left, top) in the photo of the width x height window, seen at `scale`, centred on box (xyxy)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    return int(np.floor((x1 + x2) / 2 - width / scale / 2)), int(np.floor((y1 + y2) / 2 - height / scale / 2))


def own_height(row: np.ndarray) -> float:
    """The height of the plate a row's corners show: a two-line plate's is near its width."""
    return plate_size(row[5:13].reshape(4, 2))[1]


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


def levelled(image: np.ndarray, centre: tuple[float, float], angle: float, scale: float, width: int, height: int,
             pad_value: int) -> tuple[np.ndarray, np.ndarray]:
    """(window, map): the width x height window centred on `centre`, scaled by `scale` (at most 1:
    window_size never enlarges) and turned `angle` degrees anticlockwise, padded with the letterbox
    grey; the 2x3 map from image pixels to it. The part it shows is first area-averaged down to
    `scale`, as window_of does: a bilinear warp alone would skip pixels."""
    cx, cy = centre
    reach = 0.5 * float(np.hypot(width, height)) / scale + 2  # image pixels the window can reach
    left, top = max(int(cx - reach), 0), max(int(cy - reach), 0)
    region = image[top:max(int(cy + reach) + 1, top + 1), left:max(int(cx + reach) + 1, left + 1)]
    if scale < 1:
        region = cv2.resize(region, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    to_region = np.float64([[scale, 0, -left * scale], [0, scale, -top * scale]])
    turn = levelling(((cx - left) * scale, (cy - top) * scale), angle, 1.0, width, height)
    window = cv2.warpAffine(region, turn, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                            borderValue=(pad_value,) * 3)
    matrix = turn[:, :2] @ to_region
    matrix[:, 2] += turn[:, 2]
    return window, matrix
