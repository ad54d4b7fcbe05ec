"""Accuracy measures shared by training (export/) and evaluation (runtime.evaluate).

Kept torch-free so the runtime's evaluator and the training logs count the same way.
"""
from __future__ import annotations

import re
from typing import Any, Iterable

import numpy as np

_SEPARATORS = re.compile(r"[^0-9A-Z]")


def normalise_text(text: str) -> str:
    """Plate texts compare without separators and case: 'abc-1234' == 'ABC1234'."""
    return _SEPARATORS.sub("", text.upper())


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: character accuracy counts insertions and deletions too."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def text_accuracy(predictions: list[str], truths: list[str]) -> dict[str, float]:
    """Exact-plate accuracy and character accuracy (1 - edits / true length, over all plates).

    A plate's edits count at most its true length: a reading longer than the plate costs
    that plate's characters and no more, so the figure stays within 0..1.
    """
    pairs = [(normalise_text(p), normalise_text(t)) for p, t in zip(predictions, truths, strict=True)]
    exact = sum(p == t for p, t in pairs)
    edits = sum(min(edit_distance(p, t), len(t)) for p, t in pairs)
    chars = sum(len(t) for _, t in pairs)
    n = max(len(pairs), 1)
    return {"exact": exact / n, "char": 1.0 - edits / max(chars, 1), "count": len(pairs)}


def box_array(items: Iterable[Any]) -> np.ndarray:
    """The x, y, w, h `box` of each item (plates, predictions, labels) as a [K,4] float array, K may be 0."""
    return np.array([item.box for item in items], np.float64).reshape(-1, 4)


def iou_xywh(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes [K,4] and [M,4] given as x, y, w, h -> [K, M]."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ax2, ay2 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx2, by2 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.clip(np.minimum(ax2[:, None], bx2[None]) - np.maximum(a[:, 0][:, None], b[:, 0][None]), 0, None)
    ih = np.clip(np.minimum(ay2[:, None], by2[None]) - np.maximum(a[:, 1][:, None], b[:, 1][None]), 0, None)
    inter = iw * ih
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None] - inter
    return inter / np.maximum(union, 1e-9)


def match_boxes(predicted: np.ndarray, truth: np.ndarray, threshold: float = 0.5) -> list[tuple[int, int]]:
    """Greedy one-to-one matching by IoU (highest first), as detection recall/precision count it."""
    if len(predicted) == 0 or len(truth) == 0:
        return []
    ious = iou_xywh(predicted, truth)
    pairs: list[tuple[int, int]] = []
    used_p: set[int] = set()
    used_t: set[int] = set()
    for flat in np.argsort(-ious, axis=None):
        p, t = np.unravel_index(flat, ious.shape)
        if ious[p, t] < threshold:
            break
        if p in used_p or t in used_t:
            continue
        used_p.add(int(p))
        used_t.add(int(t))
        pairs.append((int(p), int(t)))
    return pairs


def detection_counts(predicted: np.ndarray, truth: np.ndarray, threshold: float = 0.5) -> tuple[int, int, int]:
    """(true positives, number predicted, number labelled) for recall and precision sums."""
    return len(match_boxes(predicted, truth, threshold)), len(predicted), len(truth)


def unmatched(predicted: np.ndarray, pairs: list[tuple[int, int]]) -> np.ndarray:
    """The predicted boxes [K,4] that match_boxes paired with no labelled box."""
    paired = {p for p, _ in pairs}
    return np.asarray(predicted, np.float64).reshape(-1, 4)[[i for i in range(len(predicted)) if i not in paired]]


def unboxed_hits(unmatched_boxes: np.ndarray, unboxed: np.ndarray, threshold: float = 0.5) -> int:
    """How many unmatched detections lie on a plate seen without a box (runtime/audit.py).

    They are neither right nor wrong against the labels: the audited precision leaves them out
    of the count of detections, one detection per unboxed plate (a duplicate still counts).
    """
    return len(match_boxes(unmatched_boxes, np.asarray(unboxed, np.float64).reshape(-1, 4), threshold))
