"""The fixed validation splits of the shared data: one rule for training and evaluation.

Crops are split by plate text (the same vehicle appears in many crops) and frames by video
(frames of one video are near-duplicates), so nothing seen in training is reported on.
Torch-free so that both export/ (training) and runtime.evaluate use this one definition.
"""
from __future__ import annotations

import hashlib

VAL_VIDEOS = frozenset({"dayride_type1_002.mp4", "dayride_type1_003.mp4"})
VAL_TEXT_FRACTION = 0.2


def text_in_val(text: str) -> bool:
    """Hash-based assignment: stable across runs, machines and dataset order."""
    h = int.from_bytes(hashlib.sha1(text.encode("utf-8")).digest()[:8], "big")
    return (h % 1000) < int(VAL_TEXT_FRACTION * 1000)
