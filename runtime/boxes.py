"""Detector output -> final boxes: score threshold, NMS, back to original pixels, clip.

NMS lives here rather than in the ONNX graph on purpose: after the score threshold only a
handful of candidates are left, so a numpy NMS costs microseconds, and keeping it out of
the graph keeps the model to plain convolutions that export cleanly to TensorRT and other
execution providers (NonMaxSuppression is poorly supported or slow on several of them).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_CANDIDATES = 300  # bounds NMS cost if a bad model lets thousands of anchors through
MAX_DETECTIONS = 50


@dataclass(frozen=True)
class Detection:
    """One plate in original-image pixels: xyxy box (clipped), score, corners TL,TR,BR,BL (unclipped)."""

    box: np.ndarray  # (4,) float32 x1, y1, x2, y2
    score: float
    corners: np.ndarray  # (4, 2) float32


def to_input_pixels(raw: np.ndarray, width: int, height: int) -> np.ndarray:
    """Graph rows (coordinates as fractions of the input width/height) -> letterboxed input pixels."""
    scale = np.array([width, height, width, height, 1.0] + [width, height] * 4, np.float32)
    return raw * scale


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


def to_original(points: np.ndarray, ratio: float, width: int | None = None, height: int | None = None) -> np.ndarray:
    """Letterboxed-input pixels -> original pixels (divide by r), clipped to the image if a size is given."""
    out = points / np.float32(ratio)
    if width is not None and height is not None:
        out[..., 0::2] = np.clip(out[..., 0::2], 0, width)
        out[..., 1::2] = np.clip(out[..., 1::2], 0, height)
    return out


def postprocess(raw: np.ndarray, ratio: float, width: int, height: int, confidence: float, iou: float) -> list[Detection]:
    """[A,13] raw detector rows for one image -> detections in original pixels, best first."""
    candidates = threshold(raw, confidence)
    if not len(candidates):
        return []
    kept = candidates[nms(candidates[:, :4], candidates[:, 4], iou)]
    boxes = to_original(kept[:, :4], ratio, width, height)
    corners = to_original(kept[:, 5:13], ratio).reshape(-1, 4, 2)  # not clipped: warping handles the outside
    return [
        Detection(box=boxes[i], score=float(kept[i, 4]), corners=corners[i])
        for i in range(len(kept))
        if boxes[i, 2] - boxes[i, 0] >= 1 and boxes[i, 3] - boxes[i, 1] >= 1  # lost after clipping
    ]
