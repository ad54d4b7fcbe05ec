"""Take trained networks back from their shipped ONNX files into PyTorch checkpoints, to fine-tune.

    python -m export.from_onnx --recognizer models --data ../shared/data --fonts ../shared/fonts \
        --out runs/shipped_recognizer.pt
    python -m export.from_onnx --detector models --data ../shared/data \
        --out runs/shipped_detector.pt

Checkpoints live in runs/, which is not shipped: the ONNX files in models/ are the only copy
of the trained weights a new checkout has. The export folded every batch norm into the
convolution before it (one weight, one bias). This puts the folded weights back and gives
each batch norm the mean and variance its input has on calibration images, with the scale
and shift that undo them: the network computes the same function in eval mode, and in
train mode on batches like the calibration ones, so a fine-tune (`--init` of the trainers)
starts where the shipped model is instead of from a network whose batch norms rescale
everything at the first training step. (A layer run more than once, the detector's head on
each level, normalises each run by its own batch in train mode, as it did when it was
trained; it keeps the average of its runs' statistics.) Every recovered network is checked
against ONNX Runtime before it is written.
"""
from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn

from export import detector as det
from export import recognizer as rec
from export.data.assets import load_assets
from export.data.degrade import recognizer_sample
from export.data.real import load_br_crops, load_scenes_ro, split_br_crops, split_scenes_ro
from export.to_onnx import detector_blobs, parity
from export.train_recognizer import crops_to_tensor, plain_crops
from export.training import save_checkpoint

WEIGHTED_OPS = ("Conv", "Gemm", "MatMul")
Stats = dict[str, list[tuple[torch.Tensor, torch.Tensor]]]  # layer name -> (mean, variance) per run


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
    Gemm on a recurrent cell's weights is not one and is skipped. A node whose weight an earlier
    node already used is a layer run again (the exporter shares equal initializers); two layers
    with equal weights would look alike, and the caller's count check refuses that file."""
    graph = onnx.load(str(path)).graph
    values = {i.name: numpy_helper.to_array(i).copy() for i in graph.initializer}
    applied, seen = [], set()
    for node in graph.node:
        if node.op_type not in WEIGHTED_OPS:
            continue
        weight = next((name for name in node.input[1:2] if name in values), None)
        if weight is None or weight in seen or (not weight.startswith("onnx::") and weight not in own):
            continue
        seen.add(weight)
        # torch writes a Linear as Gemm with transB=1 (W as stored) or as MatMul with W^T.
        array = values[weight].T if node.op_type == "MatMul" else values[weight]
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


def copy_checked(tensor: torch.Tensor, array: np.ndarray, what: str) -> None:
    """Copy a graph's array into a parameter of the same shape; any other shape is the wrong network."""
    if tuple(tensor.shape) != array.shape:
        raise ValueError(f"{what} is {tuple(tensor.shape)} here and {array.shape} in the graph")
    tensor.copy_(torch.from_numpy(array))


@torch.no_grad()
def unfold(module: nn.Module, path: Path, inputs: tuple[torch.Tensor, ...]) -> None:
    """Load an exported module's weights from its ONNX file, batch norms recalibrated on `inputs`."""
    order = call_order(module, inputs)
    values, applied = graph_weights(path, {f"{name}.weight" for name in order})
    if len(order) != len(applied):
        raise ValueError(f"{path.name}: {len(applied)} weighted nodes for {len(order)} Conv2d/Linear layers")
    for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
        if name in values:
            copy_checked(tensor, values[name], f"{path.name}: {name}")
    layers, norms = dict(module.named_modules()), following_norms(module)
    for name, (weight, bias) in zip(order, applied):
        copy_checked(layers[name].weight, weight, f"{path.name}: {name}.weight")
        if name in norms:  # the batch norm becomes the identity plus the folded bias: y + b
            norm = norms[name]
            norm.running_mean.zero_()
            norm.running_var.fill_(1.0)
            norm.weight.fill_(float(np.sqrt(1.0 + norm.eps)))
            norm.bias.copy_(torch.zeros(norm.num_features) if bias is None else torch.from_numpy(bias))
        elif bias is not None:  # else the bias, if any, was an initializer of its own name
            copy_checked(layers[name].bias, bias, f"{path.name}: {name}.bias")
    calibrate(module, norms, inputs)


def record_stats(stats: Stats, name: str) -> Callable:
    """A forward hook that appends a convolution output's per-channel mean and biased variance."""
    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        stats.setdefault(name, []).append((output.mean(dim=(0, 2, 3)), output.var(dim=(0, 2, 3), unbiased=False)))
    return hook


@torch.no_grad()
def calibrate(module: nn.Module, norms: dict[str, nn.BatchNorm2d], inputs: tuple[torch.Tensor, ...]) -> None:
    """Give each batch norm the statistics (mean, biased variance: what train mode divides by) of
    the convolution output it follows, and the scale and shift that keep its eval-mode output
    y + b. One pass suffices: changing a batch norm this way changes nothing downstream."""
    stats: Stats = {}
    layers = dict(module.named_modules())
    hooks = [layers[name].register_forward_hook(record_stats(stats, name)) for name in norms]
    module.eval()(*inputs)
    for hook in hooks:
        hook.remove()
    for name, norm in norms.items():
        mean, var = (torch.stack(s).mean(dim=0) for s in zip(*stats[name]))
        norm.running_mean.copy_(mean)
        norm.running_var.copy_(var)
        norm.weight.copy_(torch.sqrt(var + norm.eps))
        norm.bias.add_(mean)


def recover_recognizer(models: Path, crops: list[np.ndarray]) -> rec.Recognizer:
    """The recognizer of a models folder; crops (recognizer-sized BGR) calibrate the encoder.
    Raises SystemExit where it differs from ONNX Runtime by more than the export allows."""
    model = rec.Recognizer()
    images = crops_to_tensor(crops)
    encoder, decoder = models / "recognizer_encoder.onnx", models / "recognizer_decoder.onnx"
    unfold(model.encoder, encoder, (images,))
    with torch.no_grad():
        features, keys, hidden, _ = model.encoder(images)
    token = torch.from_numpy(np.random.default_rng(0).integers(0, rec.START + 1, len(crops)))
    unfold(model.decoder, decoder, (token, hidden, features, keys))
    model.eval()
    worst = max(parity(model.encoder, encoder, {"images": images.numpy()}),
                parity(model.decoder, decoder, {"token": token.numpy(), "hidden": hidden.numpy(),
                                                "features": features.numpy(), "keys": keys.numpy()}))
    print(f"recognizer: recovered, max |diff| against ONNX Runtime {worst:.2e}")
    return model


def recover_detector(models: Path, blobs: np.ndarray) -> det.Detector:
    """The detector of a models folder; letterboxed input blobs calibrate it (as recover_recognizer)."""
    model = det.Detector()
    path = models / "detector.onnx"
    unfold(model, path, (torch.from_numpy(blobs),))
    print(f"detector: recovered, max |diff| against ONNX Runtime {parity(model.eval(), path, {'images': blobs}):.2e}")
    return model


def recognizer_calibration(data: Path, fonts: Path, count: int = 512) -> list[np.ndarray]:
    """What the recognizer trains on: real train crops and rendered ones, half each."""
    crops = plain_crops(split_br_crops(load_br_crops(data))[0][: count // 2])
    rng, assets = np.random.default_rng(2024), load_assets(data, fonts)
    return crops + [recognizer_sample(rng, assets, rec.INPUT_WIDTH, rec.INPUT_HEIGHT)[0]
                    for _ in range(count - len(crops))]


def detector_calibration(data: Path, count: int = 48) -> np.ndarray:
    """Real street frames spread over the train videos."""
    frames = split_scenes_ro(load_scenes_ro(data))[0]
    return detector_blobs([frames[i] for i in np.linspace(0, len(frames) - 1, count).astype(int)])


def recovered_from(models: Path, entry: dict, files: list[str]) -> str:
    """The checkpoint's record of where its weights came from, for the training record it passes on."""
    digests = ", ".join(f"{part['file']} {part['sha256'][:12]}" for part in files)
    before = entry.get("training", {}).get("started_from")
    return f"{models} ({digests}), recovered from ONNX" + (f"; it started from {before}" if before else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--detector", type=Path, metavar="MODELS", help="models folder holding detector.onnx")
    which.add_argument("--recognizer", type=Path, metavar="MODELS", help="models folder holding the recognizer")
    parser.add_argument("--data", type=Path, required=True, help="the shared data folder (calibration images)")
    parser.add_argument("--fonts", type=Path, help="folder with GL-Nummernschild fonts (--recognizer: rendered crops)")
    parser.add_argument("--out", type=Path, required=True, help="checkpoint to write")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.recognizer and args.fonts is None:
        parser.error("--recognizer needs --fonts")
    models = args.detector or args.recognizer
    manifest = json.loads((models / "manifest.json").read_text())
    if args.detector:
        entry = manifest["detector"]
        model, parts = recover_detector(models, detector_calibration(args.data)), [entry]
    else:
        entry = manifest["recognizer"]
        model = recover_recognizer(models, recognizer_calibration(args.data, args.fonts))
        parts = [entry["encoder"], entry["decoder"]]
    training = entry.get("training", {})
    save_checkpoint(args.out, model=model.state_dict(), step=training.get("steps", 0), scores=entry.get("validation", {}),
                    training={**training, "started_from": recovered_from(models, entry, parts)})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
