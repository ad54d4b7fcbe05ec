"""Export trained checkpoints to ONNX, check them, and write their entries in models/manifest.json.

    python -m export.to_onnx --detector runs/detector/last.pt --recognizer runs/recognizer/last.pt \
        --data ../shared/data --fonts ../shared/fonts --out models

Each file is checked with onnx.checker and run by ONNX Runtime (CPU) against the PyTorch
model on random and real inputs: the largest absolute difference must stay under 1e-4.
The recognizer export also writes tests/fixtures/greedy_reference.npz: 200 crops and
PyTorch's greedy decode of them, so a torch-free test can hold the runtime's loop to it.
The manifest is the one place the runtime learns input sizes, normalisation, charset,
token ids and thresholds from.
"""
from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import torch

from export import detector as det
from export import recognizer as rec
from export.data.assets import load_assets
from export.data.degrade import recognizer_sample
from export.data.real import Frame, load_br_crops, load_scenes_ro, split_br_crops, split_scenes_ro
from export.train_detector import CONFIDENCE, IOU, NORMALIZATION, PAD_VALUE
from export.train_recognizer import crops_to_tensor, plain_crops
from export.training import trained_weights
from runtime.letterbox import letterbox

TOLERANCE = 1e-4
ENCODER_OUTPUTS = ("features", "keys", "hidden", "plate")
OPSET = 17
SHIPPED = Path(__file__).resolve().parents[1] / "models"
# The greedy reference the tests hold the shipped models to; a candidate exported elsewhere gets its
# own beside its models, so that exporting one to score it leaves the shipped models' reference alone.
FIXTURE = SHIPPED.parent / "tests" / "fixtures" / "greedy_reference.npz"


def fixture_path(out: Path) -> Path:
    """Where the greedy reference of models exported to `out` goes."""
    return FIXTURE if out.resolve() == SHIPPED else out / FIXTURE.name


def sha256(path: Path) -> str:
    """Digest the runtime checks at load, so a swapped or corrupted file is refused."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def export(module: torch.nn.Module, inputs: tuple, path: Path, input_names: list[str], output_names: list[str],
           other_axes: dict[str, dict[int, str]] | None = None) -> None:
    """One self-contained ONNX file with a dynamic batch axis on every input and output (and other_axes)."""
    dynamic = {name: {0: "batch"} | (other_axes or {}).get(name, {}) for name in input_names + output_names}
    torch.onnx.export(module, inputs, str(path), input_names=input_names, output_names=output_names,
                      dynamic_axes=dynamic, opset_version=OPSET, dynamo=False)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)


def parity(module: torch.nn.Module, path: Path, feeds: dict[str, np.ndarray]) -> float:
    """Largest absolute difference between ONNX Runtime and PyTorch over all outputs."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, feeds)
    with torch.no_grad():
        want = module(*[torch.from_numpy(v) for v in feeds.values()])
    want = tuple(want) if isinstance(want, (tuple, list)) else (want,)
    worst = max(float(np.abs(g - w.numpy()).max()) for g, w in zip(got, want))
    if worst > TOLERANCE:
        raise SystemExit(f"{path.name}: ONNX Runtime differs from PyTorch by {worst:.2e} > {TOLERANCE}")
    return worst


def detector_blobs(frames: list[Frame]) -> np.ndarray:
    """Real frames letterboxed and normalised as the runtime feeds them to the detector."""
    return np.concatenate([letterbox(cv2.imread(str(f.path)), det.INPUT_WIDTH, det.INPUT_HEIGHT, PAD_VALUE,
                                     NORMALIZATION)[0] for f in frames])


def export_detector(checkpoint: Path, out: Path, data: Path | None) -> dict:
    """detector.onnx + its manifest entry."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    model = det.Detector()
    model.load_state_dict(trained_weights(state))
    model.eval()
    path = out / "detector.onnx"
    example = torch.rand(1, 3, det.INPUT_HEIGHT, det.INPUT_WIDTH)
    map_axes = {name: {2: f"height_{s}", 3: f"width_{s}"} for name, s in zip(det.MAP_NAMES, det.STRIDES)}
    export(model, (example,), path, ["images"], list(det.MAP_NAMES), {"images": {2: "height", 3: "width"}} | map_axes)
    rng = np.random.default_rng(0)
    worst = max(parity(model, path, {"images": rng.random((2, 3, h, w), np.float32)})
                for h, w in ((det.INPUT_HEIGHT, det.INPUT_WIDTH), (det.INPUT_WIDTH, det.INPUT_HEIGHT)))
    if data is not None:
        frames = split_scenes_ro(load_scenes_ro(data))[1][:4]
        worst = max(worst, parity(model, path, {"images": detector_blobs(frames)}))
    print(f"detector.onnx: {path.stat().st_size / 1e6:.2f} MB, parity max |diff| {worst:.2e}")
    return {
        "file": path.name,
        "sha256": sha256(path),
        "input": {"name": "images", "height": det.INPUT_HEIGHT, "width": det.INPUT_WIDTH, "channels": "RGB",
                  "scale": NORMALIZATION.scale, "mean": list(NORMALIZATION.mean), "std": list(NORMALIZATION.std),
                  "pad_value": PAD_VALUE, "margin": det.INPUT_MARGIN, "turns_for_portrait": True},
        "output": {"names": list(det.MAP_NAMES), "channels": list(det.CHANNELS), "max_log_side": det.MAX_LOG_SIDE,
                   "decoding": "per map [N, 13, H/s, W/s] of stride s: score = sigmoid(objectness); cell centre "
                               "c = ((col + 0.5) s, (row + 0.5) s); box sides c -/+ exp(min(v, max_log_side)) s; "
                               "corners c + offset s; input pixels (runtime/boxes.py::decode)"},
        "strides": list(det.STRIDES),
        "coarse_pass": {"factor": det.COARSE_FACTOR, "min_width": det.COARSE_MIN_WIDTH,
                        "max_side": det.COARSE_MAX_SIDE},
        "refine_pass": {"width": det.REFINE_WIDTH, "height": det.REFINE_HEIGHT, "context": det.REFINE_CONTEXT,
                        "gain": det.REFINE_GAIN, "confidence": det.REFINE_CONFIDENCE,
                        "max_plate_height": det.REFINE_MAX_HEIGHT},
        "larger_input": {"max_shrink": det.MAX_SHRINK, "max_scale": det.MAX_INPUT_SCALE},
        "roll_pass": {"min_roll": det.ROLL_MIN, "min_gain": det.ROLL_MIN_GAIN,
                      "candidate_confidence": det.ROLL_CANDIDATE_CONFIDENCE, "min_iou": det.ROLL_MIN_IOU,
                      "turned_views": list(det.TURNED_VIEWS), "turned_view_factor": det.TURNED_VIEW_FACTOR},
        "thresholds": {"confidence": CONFIDENCE, "iou": IOU},
        "parity_max_abs_diff": worst,
        "training": state.get("training", {}),
        "validation": state.get("scores", {}),
    }


def reference_crops(data: Path | None, fonts: Path | None, count: int) -> np.ndarray:
    """Crops for parity and the greedy fixture: real validation crops, topped up with rendered ones."""
    crops: list[np.ndarray] = []
    if data is not None:
        val = split_br_crops(load_br_crops(data))[1]
        crops = plain_crops(val[: count // 2])
    if data is not None and fonts is not None:
        rng, assets = np.random.default_rng(4242), load_assets(data, fonts)
        crops += [recognizer_sample(rng, assets, rec.INPUT_WIDTH, rec.INPUT_HEIGHT)[0] for _ in range(count - len(crops))]
    rng = np.random.default_rng(1)
    crops += [rng.integers(0, 256, (rec.INPUT_HEIGHT, rec.INPUT_WIDTH, 3), dtype=np.uint8) for _ in range(count - len(crops))]
    return np.stack(crops)


def export_recognizer(checkpoint: Path, out: Path, data: Path | None, fonts: Path | None) -> dict:
    """recognizer_encoder.onnx + recognizer_decoder.onnx, the greedy fixture, and the manifest entry."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    if "plate_check" not in state.get("training", {}):
        # export.train_recognizer leaves the plate head as --init had it (or new): stale once the encoder moves.
        raise SystemExit(f"{checkpoint}: its plate head was not trained on its encoder; run python -m "
                         f"export.train_plate_check --init {checkpoint} ... and export that run's last.pt")
    model = rec.Recognizer()
    model.load_state_dict(trained_weights(state))
    model.eval()
    crops = reference_crops(data, fonts, 200)
    images = crops_to_tensor(list(crops))
    with torch.no_grad():
        features, keys, hidden, _ = model.encoder(images[:2])
    encoder_path, decoder_path = out / "recognizer_encoder.onnx", out / "recognizer_decoder.onnx"
    export(model.encoder, (images[:2],), encoder_path, ["images"], list(ENCODER_OUTPUTS))
    token = torch.full((2,), rec.START, dtype=torch.long)
    export(model.decoder, (token, hidden, features, keys), decoder_path,
           ["token", "hidden", "features", "keys"], ["logits", "next_hidden", "attention"])
    worst = parity(model.encoder, encoder_path, {"images": images.numpy()})
    with torch.no_grad():
        features, keys, hidden, _ = model.encoder(images)
    tokens = np.random.default_rng(0).integers(0, rec.START + 1, len(images))
    worst = max(worst, parity(model.decoder, decoder_path, {"token": tokens, "hidden": hidden.numpy(),
                                                             "features": features.numpy(), "keys": keys.numpy()}))
    size = (encoder_path.stat().st_size + decoder_path.stat().st_size) / 1e6
    print(f"recognizer: {size:.2f} MB, parity max |diff| {worst:.2e}")
    write_greedy_fixture(model, crops, images, fixture_path(out))
    return {
        "encoder": {"file": encoder_path.name, "sha256": sha256(encoder_path),
                    "inputs": ["images"], "outputs": list(ENCODER_OUTPUTS)},
        "decoder": {"file": decoder_path.name, "sha256": sha256(decoder_path),
                    "inputs": ["token", "hidden", "features", "keys"], "outputs": ["logits", "next_hidden", "attention"]},
        "input": {"height": rec.INPUT_HEIGHT, "width": rec.INPUT_WIDTH, "channels": "RGB", "scale": 1 / 255,
                  "mean": list(rec.MEAN), "std": list(rec.STD)},
        "charset": rec.CHARSET,
        "tokens": {"end": rec.END, "start": rec.START},
        "max_length": rec.MAX_LENGTH,
        "crop_margins": list(rec.CROP_MARGINS),
        "reading_check": {"detector_score": rec.CHECK_SCORE, "char_confidence": rec.CHECK_CONFIDENCE,
                          "low_detector_score": rec.CHECK_LOW_SCORE, "low_char_confidence": rec.CHECK_LOW_CONFIDENCE},
        "plate_check": {"plate_score": rec.PLATE_SCORE},
        "parity_max_abs_diff": worst,
        "training": state.get("training", {}),
        "validation": state.get("scores", {}),
    }


def margin_views(crops: np.ndarray) -> np.ndarray:
    """Each crop [N,H,W,3] as every further crop margin would frame it, [N,V-1,H,W,3]: zoomed out
    about its centre by that margin's widening over the first's, its edges repeated."""
    h, w = crops.shape[1:3]
    views = []
    for margin in rec.CROP_MARGINS[1:]:
        s = (1 + 2 * rec.CROP_MARGINS[0]) / (1 + 2 * margin)
        matrix = np.float32([[s, 0, (1 - s) * w / 2], [0, s, (1 - s) * h / 2]])
        views.append([cv2.warpAffine(c, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                      for c in crops])
    return np.stack(views, axis=1) if views else np.empty((len(crops), 0, h, w, 3), np.uint8)


def decoded_arrays(decoded: list[tuple[str, list[float]]]) -> tuple[np.ndarray, np.ndarray]:
    """Texts and per-character confidences, padded with NaN to MAX_LENGTH."""
    confidences = np.full((len(decoded), rec.MAX_LENGTH), np.nan, np.float32)
    for i, (_, conf) in enumerate(decoded):
        confidences[i, : len(conf)] = conf
    return np.array([t for t, _ in decoded]), confidences


def write_greedy_fixture(model: rec.Recognizer, crops: np.ndarray, images: torch.Tensor, path: Path) -> None:
    """PyTorch's greedy decode of the crops, and of each crop with its other margins' views in lockstep
    (the reader's decode): texts and per-character confidences."""
    texts, confidences = decoded_arrays(model.greedy(images))
    extra = margin_views(crops)
    plates = np.concatenate([crops[:, None], extra], axis=1)  # [N,V,H,W,3], view 0 the crop itself
    view_texts, view_confidences = decoded_arrays(
        model.greedy(crops_to_tensor(list(plates.reshape(-1, *crops.shape[1:]))), views=plates.shape[1]))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, crops=crops, texts=texts, confidences=confidences,
                        extra_views=extra, view_texts=view_texts, view_confidences=view_confidences)
    print(f"wrote {path} ({len(crops)} crops, {plates.shape[1]} views each)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--detector", type=Path, help="detector checkpoint (runs/detector/last.pt)")
    parser.add_argument("--recognizer", type=Path, help="recognizer checkpoint (runs/recognizer/last.pt)")
    parser.add_argument("--data", type=Path, help="shared data folder, for parity on real inputs")
    parser.add_argument("--fonts", type=Path, help="fonts folder, for rendered crops in the greedy fixture")
    parser.add_argument("--out", type=Path, default=Path("models"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    manifest_path = args.out / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {"version": 1}
    if args.detector:
        manifest["detector"] = export_detector(args.detector, args.out, args.data)
    if args.recognizer:
        manifest["recognizer"] = export_recognizer(args.recognizer, args.out, args.data, args.fonts)
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {manifest_path}")


if __name__ == "__main__":
    main()
