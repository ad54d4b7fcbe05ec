"""Detector maps -> final boxes: decode the cells over the score threshold, NMS, back to
original pixels, clip.

Decoding lives here rather than in the ONNX graph: the graph would decode all 7056 cells of a
768x448 input with small broadcasting ops that took a third of its time on 2 CPU cores; here
only the few cells over the threshold are decoded, with the same formulas the training loss
uses (export/detector.py). NMS lives here on purpose too: after the score threshold only a
handful of candidates are left, so a numpy NMS costs microseconds, and keeping it out of the
graph keeps the model to plain convolutions that export cleanly to TensorRT and other
execution providers (NonMaxSuppression is poorly supported or slow on several of them).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

MAX_CANDIDATES = 300  # bounds NMS cost if a bad model lets thousands of anchors through
MAX_DETECTIONS = 50


@dataclass(frozen=True)
class Detection:
    """One plate in original-image pixels: xyxy box (clipped), score, corners TL,TR,BR,BL (unclipped),
    and, for a plate measured turned, the corners of its other look (runtime/detector.py::refine)."""

    box: np.ndarray  # (4,) float32 x1, y1, x2, y2
    score: float
    corners: np.ndarray  # (4, 2) float32
    other_corners: np.ndarray | None = None  # (4, 2) float32: a second crop worth reading


def logit(probability: float) -> float:
    """The objectness logit whose sigmoid is `probability`: cells are compared with it, so the
    sigmoid is computed for the few cells kept only."""
    if probability <= 0.0:
        return -np.inf
    if probability >= 1.0:
        return np.inf
    return float(np.log(probability / (1.0 - probability)))


def decode(maps: Sequence[np.ndarray], strides: Sequence[int], confidence: float, max_log_side: float) -> np.ndarray:
    """One image's raw maps [13,h,w], one per stride -> rows [K,13] x1 y1 x2 y2 score and the four
    corners, in input pixels, for the cells scoring at least `confidence`.

    A cell's centre is ((col + 0.5) * stride, (row + 0.5) * stride); its box sides lie
    exp(min(v, max_log_side)) strides from it, its corners offset * stride from it.
    """
    least = logit(confidence)
    cells, centres, scales = [], [], []
    for raw, stride in zip(maps, strides):
        ys, xs = np.nonzero(raw[0] >= least)
        cells.append(raw[:, ys, xs].T)
        centres.append(np.stack([xs + 0.5, ys + 0.5], 1) * stride)
        scales.append(np.full((len(ys), 1), stride))
    cell, centre, stride = np.concatenate(cells), np.concatenate(centres), np.concatenate(scales)
    sides = np.exp(np.minimum(cell[:, 1:5], max_log_side)) * stride
    score = 0.5 * (np.tanh(0.5 * cell[:, :1]) + 1.0)  # the sigmoid, without overflow for any logit
    corners = cell[:, 5:13] * stride + np.tile(centre, 4)
    return np.concatenate([centre - sides[:, :2], centre + sides[:, 2:], score, corners], 1).astype(np.float32)


def threshold(raw: np.ndarray, confidence: float) -> np.ndarray:
    """Rows of [A,13] with score >= confidence, best first, at most MAX_CANDIDATES."""
    keep = raw[raw[:, 4] >= confidence]
    order = np.argsort(-keep[:, 4], kind="stable")[:MAX_CANDIDATES]
    return keep[order]


def iou_one_to_many(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one xyxy box with each row of boxes."""
    ix1 = np.maximum(box[0], boxes[:, 0])
    iy1 = np.maximum(box[1], boxes[:, 1])
    ix2 = np.minimum(box[2], boxes[:, 2])
    iy2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Greedy NMS; returns indices into boxes, highest score first."""
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        best = int(order[0])
        keep.append(best)
        if len(keep) >= MAX_DETECTIONS:
            break
        rest = order[1:]
        order = rest[iou_one_to_many(boxes[best], boxes[rest]) <= iou]
    return np.asarray(keep, dtype=np.int64)


def to_original(points: np.ndarray, ratio: float, width: int | None = None, height: int | None = None,
                left: float = 0.0, top: float = 0.0) -> np.ndarray:
    """Letterboxed-input pixels -> original pixels (less the picture's place, divided by r), clipped
    to the image if a size is given."""
    out = (points - np.tile(np.float32([left, top]), points.shape[-1] // 2)) / np.float32(ratio)
    if width is not None and height is not None:
        out[..., 0::2] = np.clip(out[..., 0::2], 0, width)
        out[..., 1::2] = np.clip(out[..., 1::2], 0, height)
    return out


def candidates(raw: np.ndarray, ratio: float, confidence: float, iou: float, min_width: float = 0.0,
               left: float = 0.0, top: float = 0.0) -> np.ndarray:
    """[A,13] decoded rows of one pass in its input pixels (picture at left, top) -> the rows kept by
    threshold and NMS, in original pixels (unclipped), best first. Boxes narrower than min_width
    input pixels are left out."""
    rows = threshold(raw, confidence)
    rows = rows[rows[:, 2] - rows[:, 0] >= min_width]
    rows = rows[nms(rows[:, :4], rows[:, 4], iou)] if len(rows) else rows
    rows[:, :4] = to_original(rows[:, :4], ratio, left=left, top=top)
    rows[:, 5:13] = to_original(rows[:, 5:13], ratio, left=left, top=top)
    return rows


def unseen(kept: np.ndarray, extra: np.ndarray) -> np.ndarray:
    """The rows of extra whose box touches none of kept's. Plates do not overlap one another, so
    an extra box that overlaps a kept one is the same plate, seen coarser."""
    new = [r for r in extra if not len(kept) or iou_one_to_many(r[:4], kept[:, :4]).max() == 0]
    return np.asarray(new, np.float32).reshape(-1, extra.shape[1])


def to_detections(rows: np.ndarray, width: int, height: int) -> list[Detection]:
    """Rows in original pixels -> detections with boxes clipped to the image (corners are not:
    warping handles the outside); a box with nothing left inside the image is dropped. Rows of
    21 columns carry a second set of corners in 13-20 (NaN where none)."""
    boxes = rows[:, :4].copy()
    boxes[:, 0::2] = boxes[:, 0::2].clip(0, width)
    boxes[:, 1::2] = boxes[:, 1::2].clip(0, height)
    corners = rows[:, 5:13].reshape(-1, 4, 2)
    others = rows[:, 13:21].reshape(-1, 4, 2) if rows.shape[1] >= 21 else np.full((len(rows), 4, 2), np.nan, np.float32)
    return [
        Detection(box=boxes[i], score=float(rows[i, 4]), corners=corners[i],
                  other_corners=others[i] if np.isfinite(others[i]).all() else None)
        for i in range(len(rows))
        if boxes[i, 2] - boxes[i, 0] >= 1 and boxes[i, 3] - boxes[i, 1] >= 1
    ]


def postprocess(raw: np.ndarray, ratio: float, width: int, height: int, confidence: float, iou: float) -> list[Detection]:
    """[A,13] decoded rows of one pass for one image -> detections in original pixels, best first."""
    return to_detections(candidates(raw, ratio, confidence, iou), width, height)


def xywh(detections: list[Detection]) -> np.ndarray:
    """Detections -> their boxes as [K,4] float x, y, width, height, as the metrics take them."""
    return np.array([[d.box[0], d.box[1], d.box[2] - d.box[0], d.box[3] - d.box[1]] for d in detections],
                    np.float64).reshape(-1, 4)
