"""Take trained networks back from their shipped ONNX files into PyTorch checkpoints, to fine-tune.

    python -m export.from_onnx --recognizer models --data ../shared/data --fonts ../shared/fonts \
        --out runs/shipped_recognizer.pt
    python -m export.from_onnx --detector models --data ../shared/data --fonts ../shared/fonts \
        --out runs/shipped_detector.pt

Checkpoints live in runs/, which is not shipped: the ONNX files in models/ are the only copy
of the trained weights a new checkout has. The export folded every batch norm into the
convolution before it (one weight, one bias). This puts the folded weights back and gives
each batch norm the mean and variance its input has on calibration images, with the scale
and shift that undo them: the network computes the same function in eval mode, and in
train mode on batches like the calibration ones, so a fine-tune (`--init` of the trainers)
starts where the shipped model is instead of from a network whose batch norms rescale
everything at the first training step. Every recovered network is checked against ONNX
Runtime on the calibration images before it is written.
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
from onnx import numpy_helper
from torch import nn

from export import detector as det
from export import recognizer as rec
from export.data.assets import load_assets
from export.data.degrade import recognizer_sample
from export.data.real import load_br_crops, load_scenes_ro, split_br_crops, split_scenes_ro
from export.train_detector import NORMALIZATION, PAD_VALUE
from export.train_recognizer import crops_to_tensor
from export.training import save_checkpoint
from runtime.letterbox import letterbox

TOLERANCE = 1e-4  # as the export's parity check
WEIGHTED_OPS = ("Conv", "Gemm", "MatMul")


def call_order(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> list[str]:
    """Names of the Conv2d and Linear layers in the order a forward pass first runs them: the order
    the tracer wrote their nodes into the ONNX graph (a layer run again, like the detector's head
    on each level, reuses its first node's weights there)."""
    names: list[str] = []
    layers = {m: n for n, m in module.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
    hooks = [m.register_forward_hook(lambda m, i, o: names.append(layers[m])) for m in layers]
    with torch.no_grad():
        module.eval()(*inputs)
    for hook in hooks:
        hook.remove()
    return list(dict.fromkeys(names))


def graph_weights(path: Path, own: set[str]) -> tuple[dict[str, np.ndarray], list[tuple[np.ndarray, np.ndarray | None]]]:
    """The graph's initializers by name, and (weight as PyTorch stores it, bias) for each node that
    applies a Conv2d or Linear layer, in graph order. `own` names the weights of those layers: a
    Gemm on a recurrent cell's weights is not one and is skipped."""
    graph = onnx.load(str(path)).graph
    values = {i.name: numpy_helper.to_array(i).copy() for i in graph.initializer}
    applied, seen = [], set()
    for node in graph.node:
        if node.op_type not in WEIGHTED_OPS:
            continue
        weight = next((name for name in node.input[1:2] if name in values), None)
        if weight is None or weight in seen or (not weight.startswith("onnx::") and weight not in own):
            continue  # not a layer's weight, or a layer run again
        seen.add(weight)
        array = values[weight]
        if node.op_type == "MatMul":  # x @ W^T was written as x @ (W^T)
            array = array.T
        elif node.op_type == "Gemm" and not any(a.name == "transB" and a.i for a in node.attribute):
            array = array.T
        bias = values.get(node.input[2]) if len(node.input) > 2 else None
        applied.append((np.ascontiguousarray(array), bias))
    return values, applied


def following_norms(module: nn.Module) -> dict[str, nn.BatchNorm2d]:
    """Conv2d name -> the BatchNorm2d right after it in the same Sequential (export.layers.conv_bn)."""
    norms = {}
    for name, parent in module.named_modules():
        if isinstance(parent, nn.Sequential):
            children = list(parent.named_children())
            for (a, first), (_, second) in zip(children, children[1:]):
                if isinstance(first, nn.Conv2d) and isinstance(second, nn.BatchNorm2d):
                    norms[f"{name}.{a}" if name else a] = second
    return norms


@torch.no_grad()
def unfold(module: nn.Module, path: Path, inputs: tuple[torch.Tensor, ...]) -> None:
    """Load an exported module's weights from its ONNX file, batch norms recalibrated on `inputs`."""
    params = dict(module.named_parameters()) | dict(module.named_buffers())
    order = call_order(module, inputs)
    values, applied = graph_weights(path, {f"{name}.weight" for name in order})
    if len(order) != len(applied):
        raise ValueError(f"{path.name}: {len(applied)} weighted nodes for {len(order)} Conv2d/Linear layers")
    for name, tensor in params.items():
        if name in values:
            tensor.copy_(torch.from_numpy(values[name]).reshape(tensor.shape))
    layers, norms = dict(module.named_modules()), following_norms(module)
    for name, (weight, bias) in zip(order, applied):
        layer = layers[name]
        if tuple(layer.weight.shape) != weight.shape:
            raise ValueError(f"{path.name}: {name} is {tuple(layer.weight.shape)}, the graph has {weight.shape}")
        layer.weight.copy_(torch.from_numpy(weight))
        if name in norms:  # the batch norm becomes identity plus the folded bias: y + b
            norm = norms[name]
            norm.running_mean.zero_(), norm.running_var.fill_(1.0)
            norm.weight.fill_(float(np.sqrt(1.0 + norm.eps))), norm.bias.copy_(torch.from_numpy(bias))
        elif bias is not None:  # else the bias, if any, was an initializer of its own name
            layer.bias.copy_(torch.from_numpy(bias))
    calibrate(module, norms, inputs)


@torch.no_grad()
def calibrate(module: nn.Module, norms: dict[str, nn.BatchNorm2d], inputs: tuple[torch.Tensor, ...]) -> None:
    """Give each batch norm the batch statistics (mean, biased variance) of the convolution output
    it follows, and the scale and shift that keep its eval-mode output y + b unchanged. One pass
    suffices: changing a batch norm this way changes nothing downstream. A layer run more than
    once (the detector's head) keeps the statistics of its last run."""
    stats: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    layers = dict(module.named_modules())
    hooks = [layers[name].register_forward_hook(
        lambda m, i, o, name=name: stats.__setitem__(name, (o.mean(dim=(0, 2, 3)), o.var(dim=(0, 2, 3), unbiased=False))))
        for name in norms]
    module.eval()(*inputs)
    for hook in hooks:
        hook.remove()
    for name, norm in norms.items():
        mean, var = stats[name]
        shift = norm.bias.clone()
        norm.running_mean.copy_(mean), norm.running_var.copy_(var)
        norm.weight.copy_(torch.sqrt(var + norm.eps)), norm.bias.copy_(shift + mean)


def difference(module: nn.Module, path: Path, inputs: tuple[torch.Tensor, ...], names: list[str]) -> float:
    """Largest absolute difference between the recovered module (eval) and ONNX Runtime."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {name: x.numpy() for name, x in zip(names, inputs)})
    with torch.no_grad():
        want = module.eval()(*inputs)
    want = want if isinstance(want, (tuple, list)) else (want,)
    return max(float(np.abs(g - w.numpy()).max()) for g, w in zip(got, want))


def recover_recognizer(models: Path, crops: list[np.ndarray]) -> rec.Recognizer:
    """The recognizer of a models folder; crops (recognizer-sized BGR) calibrate the encoder."""
    model = rec.Recognizer()
    images = crops_to_tensor(crops)
    encoder, decoder = models / "recognizer_encoder.onnx", models / "recognizer_decoder.onnx"
    unfold(model.encoder, encoder, (images,))
    with torch.no_grad():
        features, keys, hidden = model.encoder(images)
    token = torch.from_numpy(np.random.default_rng(0).integers(0, rec.START + 1, len(crops)))
    unfold(model.decoder, decoder, (token, hidden, features, keys))
    worst = max(difference(model.encoder, encoder, (images,), ["images"]),
                difference(model.decoder, decoder, (token, hidden, features, keys),
                           ["token", "hidden", "features", "keys"]))
    check(worst, "recognizer")
    return model


def recover_detector(models: Path, blobs: np.ndarray) -> det.Detector:
    """The detector of a models folder; letterboxed input blobs calibrate it."""
    model = det.Detector()
    path, images = models / "detector.onnx", torch.from_numpy(blobs)
    unfold(model, path, (images,))
    check(difference(model, path, (images,), ["images"]), "detector")
    return model


def check(worst: float, what: str) -> None:
    if worst > TOLERANCE:
        raise SystemExit(f"{what}: recovered network differs from ONNX Runtime by {worst:.2e} > {TOLERANCE}")
    print(f"{what}: recovered, max |diff| against ONNX Runtime {worst:.2e}")


def recognizer_calibration(data: Path, fonts: Path, count: int = 512) -> list[np.ndarray]:
    """What the recognizer trains on: real train crops and rendered ones, half each."""
    train = split_br_crops(load_br_crops(data))[0][: count // 2]
    crops = [cv2.resize(cv2.imread(str(c.path)), (rec.INPUT_WIDTH, rec.INPUT_HEIGHT), interpolation=cv2.INTER_AREA)
             for c in train]
    rng, assets = np.random.default_rng(2024), load_assets(data, fonts)
    return crops + [recognizer_sample(rng, assets, rec.INPUT_WIDTH, rec.INPUT_HEIGHT)[0]
                    for _ in range(count - len(crops))]


def detector_calibration(data: Path, count: int = 48) -> np.ndarray:
    """Real street frames of the train videos, letterboxed as the runtime feeds them."""
    frames = split_scenes_ro(load_scenes_ro(data))[0]
    picked = [frames[i] for i in np.linspace(0, len(frames) - 1, count).astype(int)]
    return np.concatenate([letterbox(cv2.imread(str(f.path)), det.INPUT_WIDTH, det.INPUT_HEIGHT, PAD_VALUE,
                                     NORMALIZATION)[0] for f in picked])


def origin(models: Path, entry: dict, files: list[str]) -> str:
    """The recovered checkpoint's record of where its weights came from."""
    digests = ", ".join(f"{f} {hashlib.sha256((models / f).read_bytes()).hexdigest()[:12]}" for f in files)
    before = entry.get("training", {}).get("started_from")
    return f"{models} ({digests}), recovered from ONNX" + (f"; it started from {before}" if before else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--detector", type=Path, metavar="MODELS", help="models folder holding detector.onnx")
    which.add_argument("--recognizer", type=Path, metavar="MODELS", help="models folder holding the recognizer")
    parser.add_argument("--data", type=Path, required=True, help="the shared data folder (calibration images)")
    parser.add_argument("--fonts", type=Path, required=True, help="folder with GL-Nummernschild fonts")
    parser.add_argument("--out", type=Path, required=True, help="checkpoint to write")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    models = args.detector or args.recognizer
    manifest = json.loads((models / "manifest.json").read_text())
    if args.detector:
        model, entry = recover_detector(models, detector_calibration(args.data)), manifest["detector"]
        files = [entry["file"]]
    else:
        model, entry = recover_recognizer(models, recognizer_calibration(args.data, args.fonts)), manifest["recognizer"]
        files = [entry["encoder"]["file"], entry["decoder"]["file"]]
    training = entry.get("training", {})
    save_checkpoint(args.out, model=model.state_dict(), step=training.get("steps", 0), scores=entry.get("validation", {}),
                    training={**training, "started_from": origin(models, entry, files)})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
