"""Manifest loading: sha256 check and clear errors; runtime never imports torch."""
import json
import shutil
import subprocess
import sys
from dataclasses import replace

import pytest

from conftest import ROOT
from runtime import ManifestError
from runtime.manifest import load_manifest


def editable_copy(tiny_models_dir, tmp_path):
    """A copy of the tiny models and its manifest as a dict, to edit and save with `saved`."""
    copy = tmp_path / "m"
    shutil.copytree(tiny_models_dir, copy)
    return copy, json.loads((copy / "manifest.json").read_text())


def saved(copy, raw):
    """The copy's folder once `raw` is written as its manifest."""
    (copy / "manifest.json").write_text(json.dumps(raw))
    return copy


def refused(copy, raw, match):
    """`raw`, saved as the copy's manifest, is refused with an error matching `match`."""
    with pytest.raises(ManifestError, match=match):
        load_manifest(saved(copy, raw))


def test_loads_tiny_manifest(tiny_models_dir):
    m = load_manifest(tiny_models_dir)
    assert m.detector.width == 768 and m.detector.height == 448 and m.detector.confidence == 0.4
    assert m.recognizer.charset[m.recognizer.end - 1] == "Z" and m.recognizer.max_length == 8


def test_detector_input_turns_for_portrait_only_when_the_manifest_says_so(tiny_models_dir, tmp_path):
    fixed = load_manifest(tiny_models_dir).detector  # no turns_for_portrait
    assert fixed.input_size(720, 1280) == (1312, 768)  # kept landscape: grown so 1280 px shrink to 768, not 448
    copy, raw = editable_copy(tiny_models_dir, tmp_path)
    raw["detector"]["input"]["turns_for_portrait"] = True
    turning = load_manifest(saved(copy, raw)).detector
    assert turning.input_size(720, 1280) == (448, 768)
    assert turning.input_size(1280, 720) == (768, 448) and turning.input_size(500, 500) == (768, 448)
    assert turning.input_size(4032, 3024) == (1536, 896)  # a 12 MP photo: 5.25x the input, input doubled
    assert turning.input_size(3024, 4032) == (896, 1536)
    assert turning.input_size(1920, 1080) == (1152, 672)  # shrunk 5/3 times, as a 1280x720 frame is
    assert turning.input_size(1600, 900) == (960, 576)  # 1.25x: 768x448 -> 960x560, sides multiples of 32
    assert turning.input_size(1080, 1920) == (672, 1152) and turning.input_size(1281, 721) == (768, 448)


def test_sha_mismatch_is_a_clear_error(tiny_models_dir, tmp_path):
    copy = tmp_path / "m"
    shutil.copytree(tiny_models_dir, copy)
    with open(copy / "recognizer_decoder.onnx", "ab") as f:
        f.write(b"\0")
    with pytest.raises(ManifestError, match="sha256 mismatch for .*recognizer_decoder.onnx"):
        load_manifest(copy)


def test_missing_manifest_and_bad_fields(tiny_models_dir, tmp_path):
    with pytest.raises(ManifestError, match="no manifest.json"):
        load_manifest(tmp_path)
    copy, raw = editable_copy(tiny_models_dir, tmp_path)
    raw["detector"]["file"] = "../detector.onnx"
    refused(copy, raw, "inside")
    raw["detector"]["file"] = "detector.onnx"
    raw["detector"]["output"]["names"] = ["stride8", "stride16"]
    refused(copy, raw, "one map per detector.strides entry")
    raw["detector"]["output"]["channels"] = ["x1", "y1", "x2", "y2", "score"]
    refused(copy, raw, "detector.output.channels must be")


def test_coarse_pass_size_and_factor(tiny_models_dir, tmp_path):
    spec = load_manifest(tiny_models_dir).detector  # factor 4, max side 160, margin 0
    assert spec.coarse_factors(768, 432) == [4, 8]  # 192 px wide is over 160: once more at 96
    assert spec.coarse_factors(640, 300) == [4]
    assert spec.coarse_factors(1536, 768) == [4, 8, 16]
    assert spec.coarse_input(192, 108) == (0, 0, 192, 128)  # no border: sides padded to the stride 32
    bordered = replace(spec, margin=0.25)
    assert bordered.coarse_input(192, 108) == (48, 27, 288, 192)  # 192 + 2 * 48, 108 + 2 * 27 -> 162 -> 192
    copy, raw = editable_copy(tiny_models_dir, tmp_path)
    raw["detector"]["coarse_pass"]["factor"] = 1
    refused(copy, raw, "coarse_pass.factor must be an integer >= 2")
    del raw["detector"]["coarse_pass"]
    refused(copy, raw, "missing key 'coarse_pass.factor'")


def test_runtime_and_server_never_import_torch():
    code = "import sys, runtime, runtime.__main__, server; assert 'torch' not in sys.modules, 'torch imported'"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_shipped_manifest_is_valid(shipped_models_dir):
    m = load_manifest(shipped_models_dir)
    assert m.recognizer.charset == "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    assert m.recognizer.end == 36 and m.recognizer.start == 37


def test_coarse_max_side_must_be_positive(tiny_models_dir, tmp_path):
    copy, raw = editable_copy(tiny_models_dir, tmp_path)
    raw["detector"]["coarse_pass"]["max_side"] = 0
    refused(copy, raw, "coarse_pass.max_side must be a positive integer")


def test_roll_pass_is_read_and_checked(tiny_models_dir, tmp_path):
    copy, raw = editable_copy(tiny_models_dir, tmp_path)
    raw["detector"]["roll_pass"] = {"min_roll": 6.0, "min_gain": 2.0, "candidate_confidence": 0.2, "min_iou": 0.3,
                                    "turned_views": [30, -30, 15], "turned_view_factor": 3}
    spec = load_manifest(saved(copy, raw)).detector
    assert (spec.min_roll, spec.roll_min_gain, spec.roll_confidence, spec.roll_min_iou) == (6.0, 2.0, 0.2, 0.3)
    assert spec.turned_views == (30.0, -30.0, 15.0) and spec.turned_view_factor == 3
    raw["detector"]["roll_pass"]["turned_views"] = [90]  # a portrait view: the portrait input does that
    refused(copy, raw, "turned_views angles within")
    raw["detector"]["roll_pass"]["turned_views"] = [25]
    raw["detector"]["roll_pass"]["turned_view_factor"] = 0
    refused(copy, raw, "turned_view_factor must be >= 1")
    raw["detector"]["roll_pass"]["turned_view_factor"] = 2
    raw["detector"]["roll_pass"]["min_gain"] = 0.5  # every angle would beat the unturned one
    refused(copy, raw, "roll_pass.candidate_confidence must be in")
    del raw["detector"]["roll_pass"]
    refused(copy, raw, "missing key 'roll_pass.min_roll'")


def test_crop_margins_are_read_and_checked(tiny_models_dir, tmp_path):
    copy, raw = editable_copy(tiny_models_dir, tmp_path)
    raw["recognizer"]["crop_margins"] = [0.05]
    assert load_manifest(saved(copy, raw)).recognizer.crop_margins == (0.05,)
    raw["recognizer"]["crop_margins"] = [0.03, 0.06]
    assert load_manifest(saved(copy, raw)).recognizer.crop_margins == (0.03, 0.06)
    for bad in ([0.03, 0.5], [], 0.03, ["wide"]):  # 0.5: the quad would be twice the plate
        raw["recognizer"]["crop_margins"] = bad
        refused(copy, raw, "crop_margins must be a list of one or more margins")
    del raw["recognizer"]["crop_margins"]
    refused(copy, raw, "missing key 'crop_margins'")


@pytest.mark.parametrize("key,good,attribute,bad,message", [
    ("confidence", 0.8, "refine_confidence", 1.5, "refine_pass.confidence must be in"),
    ("max_plate_height", 40, "refine_max_height", 0, "max_plate_height must be positive"),
])
def test_refine_pass_values_are_read_and_checked(tiny_models_dir, tmp_path, key, good, attribute, bad, message):
    copy, raw = editable_copy(tiny_models_dir, tmp_path)
    raw["detector"]["refine_pass"][key] = good
    assert getattr(load_manifest(saved(copy, raw)).detector, attribute) == good
    raw["detector"]["refine_pass"][key] = bad
    refused(copy, raw, message)
    del raw["detector"]["refine_pass"][key]
    refused(copy, raw, f"missing key 'refine_pass.{key}'")


def test_reading_check_is_read_and_checked(tiny_models_dir, tmp_path):
    copy, raw = editable_copy(tiny_models_dir, tmp_path)
    low = {"low_detector_score": 0.4, "low_char_confidence": 0.5}
    raw["recognizer"]["reading_check"] = {"detector_score": 0.9, "char_confidence": 0.25, **low}
    rec = load_manifest(saved(copy, raw)).recognizer
    assert (rec.check_score, rec.check_confidence, rec.check_low_score, rec.check_low_confidence) == (0.9, 0.25, 0.4, 0.5)
    for bad in ({"detector_score": 1.5, "char_confidence": 0.3}, {"detector_score": 0.9, "char_confidence": -0.1}):
        raw["recognizer"]["reading_check"] = {**bad, **low}
        refused(copy, raw, "reading_check.detector_score and char_confidence must be in")
    for bad in ({"low_detector_score": 0.95, "low_char_confidence": 0.5}, {"low_detector_score": 0.4, "low_char_confidence": 0.2}):
        raw["recognizer"]["reading_check"] = {"detector_score": 0.9, "char_confidence": 0.25, **bad}
        refused(copy, raw, "low_detector_score must be in")  # above the exemption; a bar that falls with doubt
    del raw["recognizer"]["reading_check"]
    refused(copy, raw, "missing key 'reading_check.detector_score'")
