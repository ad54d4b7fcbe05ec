"""The shipped recognizer's plate head: plates are plates, and most words painted on a board are not.

The crops are the greedy fixture's (tests/fixtures: real br-plate-crops val crops, resized as they
are, and rendered plates) and words painted on a plain board, so no shared data is needed.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from runtime.manifest import load_manifest
from runtime.recognizer import to_batch

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "greedy_reference.npz"

WORDS = ["SPEED", "Status", "HOTEL", "FARMACIA", "OPEN 24H", "SALE", "BAR", "PIZZA"]


@pytest.fixture(scope="module")
def plate_scores(shipped_models_dir):
    spec = load_manifest(shipped_models_dir).recognizer
    encoder = ort.InferenceSession(str(spec.encoder_path), providers=["CPUExecutionProvider"])
    return spec, lambda crops: encoder.run(["plate"], {"images": to_batch(list(crops), spec)})[0]


def test_plates_real_and_rendered_pass_the_plate_check(plate_scores):
    spec, score = plate_scores
    crops = np.load(FIXTURE)["crops"]
    kept = score(crops) >= spec.plate_score
    assert kept.mean() >= 0.97, f"{int((~kept).sum())} of {len(kept)} plate crops taken for no plate"


def test_words_on_a_board_mostly_do_not(plate_scores):
    spec, score = plate_scores
    boards = []
    for k, word in enumerate(WORDS):
        board = np.full((spec.height, spec.width, 3), 160 + 10 * k, np.uint8)
        cv2.putText(board, word, (5, 34), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (20, 20, 20), 2, cv2.LINE_AA)
        boards.append(board)
    dropped = score(boards) < spec.plate_score
    assert dropped.sum() >= 6, dict(zip(WORDS, dropped.tolist()))
