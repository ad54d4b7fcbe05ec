"""export.from_onnx: a network exported with its batch norms folded comes back as the same network."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from export import detector as det  # noqa: E402
from export import recognizer as rec  # noqa: E402
from export.from_onnx import recover_detector, recover_recognizer  # noqa: E402
from export.to_onnx import ENCODER_OUTPUTS, export  # noqa: E402
from export.train_recognizer import crops_to_tensor  # noqa: E402


def _trained_looking(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Random batch-norm statistics, scales and shifts, so that folding them changes every weight."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                n = module.num_features
                module.running_mean.copy_(torch.randn(n, generator=generator) * 0.3)
                module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
                module.weight.copy_(torch.rand(n, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(n, generator=generator) * 0.1)
    return model.eval()


def _crops(seed: int, count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (rec.INPUT_HEIGHT, rec.INPUT_WIDTH, 3), dtype=np.uint8) for _ in range(count)]


def test_recognizer_comes_back_as_exported(tmp_path: Path) -> None:
    original = _trained_looking(rec.Recognizer(), seed=1)
    images = crops_to_tensor(_crops(0, 2))
    with torch.no_grad():
        features, keys, hidden, _ = original.encoder(images)
    export(original.encoder, (images,), tmp_path / "recognizer_encoder.onnx", ["images"], list(ENCODER_OUTPUTS))
    export(original.decoder, (torch.full((2,), rec.START), hidden, features, keys), tmp_path / "recognizer_decoder.onnx",
           ["token", "hidden", "features", "keys"], ["logits", "next_hidden", "attention"])

    calibration = _crops(1, 32)
    recovered = recover_recognizer(tmp_path, calibration)

    unseen = crops_to_tensor(_crops(2, 8))
    inputs = torch.randint(0, rec.START + 1, (8, 5))
    with torch.no_grad():
        want, got = original(unseen, inputs), recovered.eval()(unseen, inputs)
    assert torch.allclose(got, want, atol=1e-4)
    # In train mode on the calibration batch, each batch norm sees the statistics it was given:
    # the first training step computes what the shipped network computes.
    batch = crops_to_tensor(calibration)
    with torch.no_grad():
        evaluated = recovered.eval().encoder(batch)[0]
        trained = recovered.train().encoder(batch)[0]
    assert torch.allclose(trained, evaluated, atol=1e-3)


def _export_detector(model: torch.nn.Module, folder: Path) -> None:
    export(model, (torch.rand(1, 3, 64, 96),), folder / "detector.onnx", ["images"], list(det.MAP_NAMES),
           {"images": {2: "height", 3: "width"}})


def test_detector_comes_back_as_exported(tmp_path: Path) -> None:
    original = _trained_looking(det.Detector(), seed=3)
    _export_detector(original, tmp_path)
    calibration = torch.rand(4, 3, 64, 96, generator=torch.Generator().manual_seed(4))
    recovered = recover_detector(tmp_path, calibration.numpy())
    unseen = torch.rand(2, 3, 64, 96)
    with torch.no_grad():
        for want, got in zip(original(unseen), recovered.eval()(unseen), strict=True):
            assert torch.allclose(got, want, atol=1e-4)
        backbone = torch.nn.Sequential(recovered.stem, recovered.c3, recovered.c4, recovered.c5)
        evaluated = backbone.eval()(calibration)  # first: a train-mode pass moves the running statistics
        assert torch.allclose(backbone.train()(calibration), evaluated, atol=1e-3)


def test_a_graph_of_another_network_is_refused(tmp_path: Path) -> None:
    small = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3))
    export(small, (torch.rand(1, 3, 8, 8),), tmp_path / "detector.onnx", ["images"], ["out"])
    with pytest.raises(ValueError, match="weighted nodes"):
        recover_detector(tmp_path, np.random.default_rng(0).random((1, 3, 64, 64), np.float32))


def test_a_graph_of_another_width_is_refused(tmp_path: Path) -> None:
    _export_detector(_trained_looking(det.Detector(width=32), seed=5), tmp_path)
    with pytest.raises(ValueError, match=r"head.1.weight is \(13, 64, 1, 1\) here and \(13, 32, 1, 1\) in the graph"):
        recover_detector(tmp_path, np.random.default_rng(0).random((1, 3, 64, 96), np.float32))


def test_a_candidate_exported_elsewhere_keeps_the_shipped_greedy_reference(tmp_path) -> None:
    from export.to_onnx import FIXTURE, SHIPPED, fixture_path
    assert fixture_path(SHIPPED) == FIXTURE
    assert fixture_path(tmp_path / "candidate") == tmp_path / "candidate" / FIXTURE.name
