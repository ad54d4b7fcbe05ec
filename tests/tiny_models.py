"""Tiny handcrafted ONNX graphs (onnx.helper) whose outputs are known exactly.

They follow docs/models.md's input/output names and shapes, so the real runtime code runs
on them end to end: a detector whose maps always decode to given rows, an encoder of zeros, and
decoders whose greedy output is fixed by a logits table.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CHARSET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
END, START, MAX_LENGTH = 36, 37, 8
DET_H, DET_W = 448, 768
REC_H, REC_W = 48, 144
L, C, HD = 4, 2, 2  # features [N,L,C], keys [N,L,C], hidden [N,HD]
PEAK = 5.0  # winning logit; every other logit is 0
PEAK_PROB = float(np.exp(PEAK) / (np.exp(PEAK) + END))


def _model(nodes, inputs, outputs, initializers) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "tiny", inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _f(name: str, shape: list) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _batch_expand(source: str, constant: str, tail: list[int], out: str, prefix: str) -> list[onnx.NodeProto]:
    """Nodes broadcasting initializer `constant` [1,*tail] to [N,*tail], N = source's batch."""
    return [
        helper.make_node("Shape", [source], [f"{prefix}_shape"], start=0, end=1),
        helper.make_node("Concat", [f"{prefix}_shape", f"{prefix}_tail"], [f"{prefix}_target"], axis=0),
        helper.make_node("Expand", [constant, f"{prefix}_target"], [out]),
    ]


STRIDES = (8, 16, 32)
MAX_SIDE = 1536  # the largest input the runtime gives the detector (larger_input, either way up)
NO_PLATE = -30.0  # objectness logit of an empty cell


def encode_rows(rows: np.ndarray) -> list[np.ndarray]:
    """Detector rows (768x448 input pixels) -> raw maps [1,13,MAX_SIDE/s,MAX_SIDE/s] that
    runtime/boxes.py::decode turns back into them: each row goes to the cell holding its box
    centre, at the first stride where that cell is free."""
    maps = [np.zeros((1, 13, MAX_SIDE // s, MAX_SIDE // s), np.float32) for s in STRIDES]
    for m in maps:
        m[:, 0] = NO_PLATE
    for x1, y1, x2, y2, score, *corners in np.asarray(rows, np.float64):
        for m, s in zip(maps, STRIDES):
            col, line = int((x1 + x2) / 2 // s), int((y1 + y2) / 2 // s)
            cx, cy = (col + 0.5) * s, (line + 0.5) * s
            if m[0, 0, line, col] == NO_PLATE and x1 < cx < x2 and y1 < cy < y2:
                break
        else:
            raise ValueError("no free cell inside the box for a row")
        sides = [cx - x1, cy - y1, x2 - cx, y2 - cy]
        offsets = (np.array(corners).reshape(4, 2) - (cx, cy)) / s
        m[0, :, line, col] = [np.log(score / (1 - score)), *np.log(np.array(sides) / s), *offsets.ravel()]
    return maps


def detector_model(rows: np.ndarray) -> onnx.ModelProto:
    """images [N,3,H,W] -> raw maps [N,13,H/s,W/s] per stride that decode to rows (given in
    768x448 input pixels) for a 768x448 input, and to nothing at any other input size: the
    coarse pass finds no plate of its own."""
    inits = [numpy_helper.from_array(np.array([DET_H, DET_W], np.int64), "full_size"),
             numpy_helper.from_array(np.array([0, 0], np.int64), "zeros2"),
             numpy_helper.from_array(np.array([2, 3], np.int64), "axes23"),
             numpy_helper.from_array(np.array([2], np.int64), "two"), numpy_helper.from_array(np.array([4], np.int64), "four"),
             numpy_helper.from_array(np.array([0], np.int64), "i0"), numpy_helper.from_array(np.array([1], np.int64), "i1"),
             numpy_helper.from_array(np.array([1, 1, 1], np.int64), "ones3"),
             numpy_helper.from_array(np.eye(13, dtype=np.float32)[0].reshape(1, 13, 1, 1) * 2 * NO_PLATE, "off")]
    nodes = [helper.make_node("Shape", ["images"], ["shape"]),
             helper.make_node("Slice", ["shape", "two", "four"], ["hw"]),
             helper.make_node("Slice", ["shape", "i0", "i1"], ["n"]),
             helper.make_node("Concat", ["n", "ones3"], ["batch"], axis=0),
             helper.make_node("Equal", ["hw", "full_size"], ["same"]),
             helper.make_node("Gather", ["same", "i0"], ["same_h"], axis=0),
             helper.make_node("Gather", ["same", "i1"], ["same_w"], axis=0),
             helper.make_node("And", ["same_h", "same_w"], ["full"])]
    outputs = []
    for s, big in zip(STRIDES, encode_rows(rows)):
        inits += [numpy_helper.from_array(big, f"big{s}"), numpy_helper.from_array(np.array(s, np.int64), f"s{s}")]
        nodes += [helper.make_node("Div", ["hw", f"s{s}"], [f"cells{s}"]),
                  helper.make_node("Slice", [f"big{s}", "zeros2", f"cells{s}", "axes23"], [f"map{s}"]),
                  helper.make_node("Add", [f"map{s}", "off"], [f"empty{s}"]),
                  helper.make_node("Where", ["full", f"map{s}", f"empty{s}"], [f"one{s}"]),
                  helper.make_node("Expand", [f"one{s}", "batch"], [f"stride{s}"])]
        outputs.append(_f(f"stride{s}", ["N", 13, f"h{s}", f"w{s}"]))
    return _model(nodes, [_f("images", ["N", 3, "H", "W"])], outputs, inits)


def encoder_model(plate_score: float = 1.0) -> onnx.ModelProto:
    """images [N,3,48,144] -> features, keys [N,L,C] and hidden [N,HD], all zeros, and plate [N], plate_score."""
    zeros = np.zeros((1, L, C), np.float32)
    inits = [
        numpy_helper.from_array(np.full((1,), plate_score, np.float32), "plate_1"),
        numpy_helper.from_array(np.array([1], np.int64), "p_tail"),
        numpy_helper.from_array(zeros, "zeros_lc"), numpy_helper.from_array(np.zeros((1, HD), np.float32), "zeros_h"),
        numpy_helper.from_array(np.array([L, C], np.int64), "f_tail"),
        numpy_helper.from_array(np.array([L, C], np.int64), "k_tail"),
        numpy_helper.from_array(np.array([HD], np.int64), "h_tail"),
    ]
    nodes = (_batch_expand("images", "zeros_lc", [L, C], "features", "f")
             + _batch_expand("images", "zeros_lc", [L, C], "keys", "k")
             + _batch_expand("images", "zeros_h", [HD], "hidden", "h")
             + [helper.make_node("Shape", ["images"], ["p_target"], start=0, end=1),
                helper.make_node("Expand", ["plate_1", "p_target"], ["plate"])])
    outs = [_f("features", ["N", L, C]), _f("keys", ["N", L, C]), _f("hidden", ["N", HD]), _f("plate", ["N"])]
    return _model(nodes, [_f("images", ["N", 3, REC_H, REC_W])], outs, inits)


def _decoder(logit_nodes: list, inits: list) -> onnx.ModelProto:
    """Common decoder frame: next_hidden = hidden + [1, 0]; attention = 0 * sum(features)."""
    inits = inits + [
        numpy_helper.from_array(np.array([1, 0], np.float32), "step_inc"),
        numpy_helper.from_array(np.array([2], np.int64), "axis2"),
        numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
    ]
    nodes = logit_nodes + [
        helper.make_node("Add", ["hidden", "step_inc"], ["next_hidden"]),
        helper.make_node("ReduceSum", ["features", "axis2"], ["fsum"], keepdims=0),
        helper.make_node("Mul", ["fsum", "zero"], ["attention"]),
    ]
    inputs = [helper.make_tensor_value_info("token", TensorProto.INT64, ["N"]), _f("hidden", ["N", HD]),
              _f("features", ["N", L, C]), _f("keys", ["N", L, C])]
    outputs = [_f("logits", ["N", END + 1]), _f("next_hidden", ["N", HD]), _f("attention", ["N", L])]
    return _model(nodes, inputs, outputs, inits)


def one_hot_rows(ids: list[int]) -> np.ndarray:
    """Logit rows with PEAK at each id, 0 elsewhere."""
    table = np.zeros((len(ids), END + 1), np.float32)
    table[np.arange(len(ids)), ids] = PEAK
    return table


def chain_decoder(next_token: dict[int, int]) -> onnx.ModelProto:
    """logits = row for the input token: feeding the argmax back walks next_token like a chain."""
    table = one_hot_rows([next_token.get(t, END) for t in range(START + 1)])
    nodes = [helper.make_node("Gather", ["table", "token"], ["logits"], axis=0)]
    return _decoder(nodes, [numpy_helper.from_array(table, "table")])


def chain_for(text: str) -> dict[int, int]:
    """next_token map that spells text (distinct chars) then emits end."""
    ids = [CHARSET.index(c) for c in text]
    return dict(zip([START] + ids, ids + [END]))


def script_decoder(scripts: list[list[int]], steps: int) -> onnx.ModelProto:
    """logits at step t for crop with hidden[:,1] = s are the one-hot of scripts[s][t].

    The step count lives in hidden[:, 0] (incremented by the graph), the script id in hidden[:, 1],
    so each crop of a batch can follow its own token sequence regardless of the fed token.
    """
    rows = []
    for script in scripts:
        padded = (script + [END] * steps)[:steps]
        rows.extend(padded)
    table = one_hot_rows(rows)
    select = np.array([[1.0], [float(steps)]], np.float32)
    nodes = [
        helper.make_node("MatMul", ["hidden", "select"], ["flat_f"]),
        helper.make_node("Squeeze", ["flat_f", "axis1"], ["flat_sq"]),
        helper.make_node("Cast", ["flat_sq"], ["flat"], to=TensorProto.INT64),
        helper.make_node("Gather", ["table", "flat"], ["logits"], axis=0),
    ]
    inits = [numpy_helper.from_array(table, "table"), numpy_helper.from_array(select, "select"),
             numpy_helper.from_array(np.array([1], np.int64), "axis1")]
    return _decoder(nodes, inits)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_models(folder: Path, rows: np.ndarray, text: str = "ABC1D23", confidence: float = 0.4, iou: float = 0.45,
                 plate_score: float = 1.0) -> Path:
    """A complete models folder (3 graphs + manifest with sha256) in folder; returns it. Every crop's
    plate score is plate_score; the manifest's plate check drops those under 0.5."""
    folder.mkdir(parents=True, exist_ok=True)
    blobs = {
        "detector.onnx": detector_model(rows).SerializeToString(),
        "recognizer_encoder.onnx": encoder_model(plate_score).SerializeToString(),
        "recognizer_decoder.onnx": chain_decoder(chain_for(text)).SerializeToString(),
    }
    for name, data in blobs.items():
        (folder / name).write_bytes(data)
    manifest = {
        "version": 1,
        "detector": {
            "file": "detector.onnx", "sha256": _sha(blobs["detector.onnx"]),
            "input": {"name": "images", "height": DET_H, "width": DET_W, "channels": "RGB",
                      "scale": 1 / 255, "mean": [0, 0, 0], "std": [1, 1, 1], "pad_value": 114,
                      "margin": 0.0},  # the hand-computed scene sits at the top-left
            "output": {"names": [f"stride{s}" for s in STRIDES],
                       "channels": ["objectness", "left", "top", "right", "bottom", "tl_x", "tl_y", "tr_x", "tr_y",
                                    "br_x", "br_y", "bl_x", "bl_y"], "max_log_side": 6.0},
            "strides": [8, 16, 32],
            "coarse_pass": {"factor": 4, "min_width": 30, "max_side": 160},
            "refine_pass": {"width": 320, "height": 192, "context": 3, "gain": 1.5, "confidence": 0.7,
                            "max_plate_height": 32},
            "larger_input": {"max_shrink": 1280 / 768, "max_scale": 2},
            "roll_pass": {"min_roll": 4.0, "min_gain": 1.5, "candidate_confidence": 0.1, "min_iou": 0.35,
                          "turned_views": [25.0, -25.0], "turned_view_factor": 2},
            "thresholds": {"confidence": confidence, "iou": iou},
        },
        "recognizer": {
            "encoder": {"file": "recognizer_encoder.onnx", "sha256": _sha(blobs["recognizer_encoder.onnx"]),
                        "inputs": ["images"], "outputs": ["features", "keys", "hidden", "plate"]},
            "decoder": {"file": "recognizer_decoder.onnx", "sha256": _sha(blobs["recognizer_decoder.onnx"]),
                        "inputs": ["token", "hidden", "features", "keys"],
                        "outputs": ["logits", "next_hidden", "attention"]},
            "input": {"height": REC_H, "width": REC_W, "channels": "RGB",
                      "scale": 1 / 255, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]},
            "charset": CHARSET, "tokens": {"end": END, "start": START}, "max_length": MAX_LENGTH, "crop_margins": [0.03, 0.06],
            "reading_check": {"detector_score": 0.98, "char_confidence": 0.32, "low_detector_score": 0.4,
                              "low_char_confidence": 0.32},
            "plate_check": {"plate_score": 0.5},
        },
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return folder


def row(box: tuple[float, float, float, float], score: float, corners: list[tuple[float, float]] | None = None) -> list[float]:
    """One detector output row; corners default to the box's own corners."""
    x1, y1, x2, y2 = box
    if corners is None:
        corners = [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]
    return [x1, y1, x2, y2, score] + [v for p in corners for v in p]


# The scene every pipeline test uses: a 1280x720 image -> letterbox ratio 0.6 (768x432 + 16 px pad).
IMAGE_W, IMAGE_H, RATIO = 1280, 720, 0.6
SCENE_ROWS = np.array([
    # A: best plate, valid quad -> rectified; original box (100,100)-(300,200)
    row((60, 60, 180, 120), 0.9, [(62, 60), (180, 62), (178, 120), (60, 118)]),
    # overlaps A (IoU 0.82) with a lower score -> removed by NMS
    row((66, 63, 186, 123), 0.8),
    # B: self-intersecting corners -> axis-aligned crop; original (666.7,333.3)-(866.7,433.3)
    row((400, 200, 520, 260), 0.7, [(400, 200), (520, 260), (520, 200), (400, 260)]),
    # below the 0.4 score threshold
    row((600, 300, 700, 340), 0.2),
    # high score but entirely in the letterbox padding (y > 432) -> nothing left after clipping
    row((100, 436, 200, 446), 0.95),
], np.float32)
EXPECTED_BOXES = [[100, 100, 200, 100], [667, 333, 200, 100]]
