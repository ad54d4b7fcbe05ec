"""Shared fixtures: tiny handcrafted models (always available) and the shipped models (may be absent)."""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tiny_models import IMAGE_H, IMAGE_W, SCENE_ROWS, write_models  # noqa: E402

SHIPPED_MODELS = ROOT / "models"


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory) -> Path:
    """Models folder whose detector always returns SCENE_ROWS and whose recognizer reads ABC1D23."""
    return write_models(tmp_path_factory.mktemp("tiny_models"), SCENE_ROWS)


@pytest.fixture(scope="session")
def tiny_reader(tiny_models_dir):
    from runtime import PlateReader

    return PlateReader(tiny_models_dir, providers="cpu", threads=1)


@pytest.fixture(scope="session")
def shipped_models_dir() -> Path:
    if not (SHIPPED_MODELS / "manifest.json").is_file():
        pytest.skip("models/manifest.json is absent: export the models with export/to_onnx.py first")
    return SHIPPED_MODELS


@pytest.fixture(scope="session")
def scene_jpeg() -> bytes:
    """A 1280x720 JPEG (noise + a white plate-like patch)."""
    rng = np.random.default_rng(0)
    image = cv2.GaussianBlur(rng.integers(0, 200, (IMAGE_H, IMAGE_W, 3), dtype=np.uint8), (0, 0), 3)
    cv2.rectangle(image, (100, 100), (300, 200), (255, 255, 255), -1)
    cv2.putText(image, "ABC1D23", (110, 165), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (0, 0, 0), 2)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return buf.tobytes()
