"""The export refuses a recognizer whose plate head was not trained on its encoder."""
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from export import recognizer as rec  # noqa: E402
from export.to_onnx import export_recognizer  # noqa: E402


def test_a_recognizer_without_a_trained_plate_head_is_refused(tmp_path: Path) -> None:
    checkpoint = tmp_path / "last.pt"
    torch.save({"model": rec.Recognizer().state_dict(), "step": 1, "training": {"steps": 1}}, checkpoint)
    with pytest.raises(SystemExit, match="train_plate_check"):
        export_recognizer(checkpoint, tmp_path, None, None)
    assert not (tmp_path / "recognizer_encoder.onnx").exists()
