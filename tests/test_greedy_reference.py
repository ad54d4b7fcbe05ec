"""The runtime's greedy loop on the shipped models gives PyTorch's greedy decode.

export/to_onnx.py writes tests/fixtures/greedy_reference.npz together with the models:
200 recognizer-sized crops (real validation crops and rendered plates) and what the
PyTorch model's reference greedy decode read on them, alone and with each crop's views at
the other crop margins (extra_views) decoded in lockstep, as the reader reads a plate.
Texts must match exactly and per-character confidences to float32 round-off between ONNX
Runtime and PyTorch.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "greedy_reference.npz"


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    if not FIXTURE.is_file():
        pytest.skip("no greedy reference: export the models with export/to_onnx.py")
    with np.load(FIXTURE) as data:
        return {k: data[k] for k in data.files}


def test_runtime_greedy_equals_pytorch_on_200_crops(shipped_models_dir, reference):
    from runtime import PlateReader

    reader = PlateReader(shipped_models_dir, providers="cpu", threads=2)
    crops = list(reference["crops"])
    assert len(crops) >= 200
    readings = reader.recognizer(crops)
    assert_same(readings, reference["texts"], reference["confidences"])


def test_runtime_lockstep_views_equal_pytorch_on_200_plates(shipped_models_dir, reference):
    from runtime import PlateReader

    reader = PlateReader(shipped_models_dir, providers="cpu", threads=2)
    extra = reference["extra_views"]
    views = 1 + extra.shape[1]
    assert views == len(reader.recognizer.spec.crop_margins) > 1
    crops = [view for crop, more in zip(reference["crops"], extra) for view in (crop, *more)]
    readings = reader.recognizer(crops, views)
    assert len(readings) == len(reference["crops"])
    assert_same(readings, reference["view_texts"], reference["view_confidences"])
    # The views change some readings: the lockstep decode is not the first view's alone.
    assert any(str(a) != str(b) for a, b in zip(reference["view_texts"], reference["texts"]))


def assert_same(readings, texts, confidences) -> None:
    assert [r.text for r in readings] == [str(t) for t in texts]
    for reading, expected in zip(readings, confidences):
        expected = expected[~np.isnan(expected)]
        assert len(reading.char_confidences) == len(expected)
        np.testing.assert_allclose(reading.char_confidences, expected, atol=1e-4)


def test_reference_reads_plates_not_noise(reference):
    """The fixture holds trained behaviour: most reference readings have a plate's length."""
    lengths = np.array([len(str(t)) for t in reference["texts"]])
    assert np.mean(lengths == 7) > 0.8
