"""Load and validate models/manifest.json, the contract between export/ and the runtime.

Everything the runtime needs to know about the models (input sizes, normalisation,
thresholds, charset, token ids) comes from here, so a retrained model with other
settings needs no code change. Each model file is checked against its sha256 at load so
a half-copied or mismatched model fails loudly instead of reading plates wrong.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAP_CHANNELS = ("objectness", "left", "top", "right", "bottom", "tl_x", "tl_y", "tr_x", "tr_y", "br_x", "br_y", "bl_x", "bl_y")
DEFAULT_MODELS_DIR = Path(__file__).resolve().parent.parent / "models"


class ManifestError(ValueError):
    """The manifest is missing, malformed, or does not match the model files."""


@dataclass(frozen=True)
class Normalization:
    """x * scale, then (x - mean) / std per RGB channel, folded into one multiply-add."""

    scale: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def gain_bias(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Per-channel (a, b) so that normalised = pixel * a + b."""
        gain = tuple(self.scale / s for s in self.std)
        bias = tuple(-m / s for m, s in zip(self.mean, self.std))
        return gain, bias


@dataclass(frozen=True)
class DetectorSpec:
    path: Path
    sha256: str
    input_name: str
    output_names: tuple[str, ...]  # one raw map per stride, decoded by runtime/boxes.py::decode
    strides: tuple[int, ...]
    max_log_side: float
    height: int
    width: int
    norm: Normalization
    pad_value: int
    margin: float  # a picture not shrunk, and each coarse pass's picture, gets a grey border this fraction of its sides
    confidence: float
    iou: float
    turns_for_portrait: bool  # the graph takes any input size: a portrait image gets height x width
    coarse_factor: int  # the first coarse pass sees the picture this many times smaller (runtime/detector.py)
    coarse_min_width: float  # and keeps its boxes at least this wide, in its own input pixels
    coarse_max_side: int  # and again at twice the factor until the picture fits this many pixels
    refine_width: int  # a small plate is looked at again in a window this size (runtime/detector.py)
    refine_height: int
    refine_context: float  # that is this many plate widths wide
    refine_gain: float  # and at least this many times the resolution of the pass that found it
    refine_confidence: float  # where its box must score this much to confirm the plate
    refine_max_height: float  # and the plate is magnified at most to this height (runtime/detector.py)
    max_shrink: float  # a larger image gets a larger input, so it is shrunk at most this many times ...
    max_scale: float  # ... up to this many times the input on each side
    min_roll: float  # a plate measured turned this many degrees or more is looked at levelled (runtime/roll.py)
    roll_min_gain: float  # when levelling makes its edge sums this many times as uneven (else the corners' roll)
    roll_confidence: float  # a first-pass box scoring this much (under the threshold) is kept if found levelled
    roll_min_iou: float  # and a levelled look's box must overlap the pass's box this much
    turned_views: tuple[float, ...]  # the picture is also seen turned by these angles (degrees) ...
    turned_view_factor: float  # ... and this many times smaller, for plates turned too far to be found level

    def input_size(self, image_width: int, image_height: int) -> tuple[int, int]:
        """(width, height) of the letterboxed input: turned for portrait images, so a phone
        photo held upright keeps as many pixels on its plates as a landscape one; larger for a
        larger image, so a plate 40 px wide in a 1920x1080 frame is not shrunk below what the
        network finds (the cost grows with the input's area, capped by max_scale)."""
        width, height = self.width, self.height
        if self.turns_for_portrait and image_height > image_width:
            width, height = height, width
        shrink = max(image_width / width, image_height / height)
        scale = min(self.max_scale, max(1.0, shrink / self.max_shrink))
        return self.aligned(width * scale), self.aligned(height * scale)

    @property
    def stride(self) -> int:
        """The largest: input sides must be multiples of it."""
        return max(self.strides)

    def coarse_factors(self, width: int, height: int) -> list[int]:
        """How many times smaller each coarse pass sees a picture of width x height: coarse_factor,
        then twice that, until the picture fits coarse_max_side pixels."""
        factors = [self.coarse_factor]
        while max(width, height) / factors[-1] > self.coarse_max_side:
            factors.append(2 * factors[-1])
        return factors

    def coarse_input(self, width: int, height: int) -> tuple[int, int, int, int]:
        """(left, top, input width, input height) of a coarse pass for a shrunk picture of width x
        height: a grey border of `margin` times each side, sides rounded up to the largest stride."""
        left, top = round(self.margin * width), round(self.margin * height)
        return left, top, self.fitting(width + 2 * left), self.fitting(height + 2 * top)

    def fitting(self, side: float) -> int:
        """The smallest multiple of the largest stride that holds `side` pixels."""
        return max(1, math.ceil(side / self.stride)) * self.stride

    def aligned(self, side: float) -> int:
        """The nearest multiple of the largest stride (at least one): the sides the graph takes."""
        return max(1, round(side / self.stride)) * self.stride


@dataclass(frozen=True)
class RecognizerSpec:
    encoder_path: Path
    encoder_sha256: str
    decoder_path: Path
    decoder_sha256: str
    encoder_inputs: tuple[str, ...]
    encoder_outputs: tuple[str, ...]
    decoder_inputs: tuple[str, ...]
    decoder_outputs: tuple[str, ...]
    height: int
    width: int
    norm: Normalization
    charset: str
    end: int
    start: int
    max_length: int
    # Each plate is cut once per margin, its quad widened by that fraction of the plate on each side
    # (runtime/crops.py), and the crops are decoded together as views of it (runtime/recognizer.py).
    crop_margins: tuple[float, ...]
    # A detection scoring under check_score is answered only if its reading's characters are read
    # with a geometric-mean confidence of at least check_confidence, more the less sure the detector
    # is (runtime/reader.py::required_confidence).
    check_score: float
    check_confidence: float
    check_low_score: float  # and the bar rises linearly to check_low_confidence at this detector score
    check_low_confidence: float
    # A detection whose crops the encoder's plate head scores under plate_score (their mean) is not
    # answered, however sure the detector is (runtime/reader.py).
    plate_score: float


@dataclass(frozen=True)
class Manifest:
    root: Path
    version: int
    detector: DetectorSpec
    recognizer: RecognizerSpec
    raw: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        """What /health and logs report: version and file hashes, no training details."""
        return {
            "version": self.version,
            "detector": {"file": self.detector.path.name, "sha256": self.detector.sha256},
            "recognizer_encoder": {"file": self.recognizer.encoder_path.name, "sha256": self.recognizer.encoder_sha256},
            "recognizer_decoder": {"file": self.recognizer.decoder_path.name, "sha256": self.recognizer.decoder_sha256},
        }


def default_models_dir() -> Path:
    """$PLATES_MODELS if set, else the repository's models/ folder."""
    env = os.environ.get("PLATES_MODELS")
    return Path(env) if env else DEFAULT_MODELS_DIR


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _get(d: dict[str, Any], dotted: str) -> Any:
    node: Any = d
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            raise ManifestError(f"manifest.json: missing key '{dotted}'")
        node = node[key]
    return node


def _model_file(root: Path, section: dict[str, Any], where: str, verify: bool) -> tuple[Path, str]:
    """Resolve a model file inside root and check its sha256 (the manifest can't point outside)."""
    name = str(_get(section, "file"))
    expected = str(_get(section, "sha256")).lower()
    path = (root / name).resolve()
    if path.parent != root.resolve():
        raise ManifestError(f"manifest.json: {where}.file must be a file name inside {root}, got '{name}'")
    if not path.is_file():
        raise ManifestError(f"model file missing: {path} (named by manifest {where}.file)")
    if verify:
        actual = sha256_file(path)
        if actual != expected:
            raise ManifestError(
                f"sha256 mismatch for {path}: manifest says {expected}, file is {actual}. "
                "Re-export the models or copy the matching manifest.json."
            )
    return path, expected


def _norm(section: dict[str, Any], where: str) -> Normalization:
    if section.get("channels", "RGB") != "RGB":
        raise ManifestError(f"manifest.json: {where}.channels must be 'RGB'")
    mean, std = tuple(map(float, _get(section, "mean"))), tuple(map(float, _get(section, "std")))
    if len(mean) != 3 or len(std) != 3 or any(s == 0 for s in std):
        raise ManifestError(f"manifest.json: {where}.mean/std must be 3 numbers, std non-zero")
    return Normalization(float(_get(section, "scale")), mean, std)  # type: ignore[arg-type]


def load_manifest(models_dir: str | os.PathLike[str] | None = None, verify: bool = True) -> Manifest:
    """Read models_dir/manifest.json, validate it and (if verify) check every model's sha256."""
    root = Path(models_dir) if models_dir is not None else default_models_dir()
    path = root / "manifest.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"no manifest.json in {root} (export the models with export/to_onnx.py)") from None
    except (OSError, ValueError) as exc:
        raise ManifestError(f"cannot read {path}: {exc}") from exc
    if not isinstance(raw, dict) or raw.get("version") != 1:
        raise ManifestError(f"{path}: unsupported manifest version {raw.get('version') if isinstance(raw, dict) else None!r}")

    det = _get(raw, "detector")
    channels = tuple(_get(det, "output.channels"))
    if channels != MAP_CHANNELS:
        raise ManifestError(f"manifest.json: detector.output.channels must be {list(MAP_CHANNELS)}, got {list(channels)}")
    names, strides = tuple(map(str, _get(det, "output.names"))), tuple(int(v) for v in _get(det, "strides"))
    if len(names) != len(strides) or not strides:
        raise ManifestError("manifest.json: detector.output.names needs one map per detector.strides entry")
    det_path, det_sha = _model_file(root, det, "detector", verify)
    detector = DetectorSpec(
        path=det_path, sha256=det_sha,
        input_name=str(_get(det, "input.name")), output_names=names, strides=strides,
        max_log_side=float(_get(det, "output.max_log_side")),
        height=int(_get(det, "input.height")), width=int(_get(det, "input.width")),
        norm=_norm(_get(det, "input"), "detector.input"),
        pad_value=int(_get(det, "input.pad_value")), margin=float(_get(det, "input.margin")),
        confidence=float(_get(det, "thresholds.confidence")), iou=float(_get(det, "thresholds.iou")),
        turns_for_portrait=bool(det["input"].get("turns_for_portrait", False)),
        coarse_factor=int(_get(det, "coarse_pass.factor")),
        coarse_min_width=float(_get(det, "coarse_pass.min_width")),
        coarse_max_side=int(_get(det, "coarse_pass.max_side")),
        refine_width=int(_get(det, "refine_pass.width")), refine_height=int(_get(det, "refine_pass.height")),
        refine_context=float(_get(det, "refine_pass.context")), refine_gain=float(_get(det, "refine_pass.gain")),
        refine_confidence=float(_get(det, "refine_pass.confidence")),
        refine_max_height=float(_get(det, "refine_pass.max_plate_height")),
        max_shrink=float(_get(det, "larger_input.max_shrink")), max_scale=float(_get(det, "larger_input.max_scale")),
        min_roll=float(_get(det, "roll_pass.min_roll")), roll_min_gain=float(_get(det, "roll_pass.min_gain")),
        roll_confidence=float(_get(det, "roll_pass.candidate_confidence")),
        roll_min_iou=float(_get(det, "roll_pass.min_iou")),
        turned_views=tuple(float(a) for a in _get(det, "roll_pass.turned_views")),
        turned_view_factor=float(_get(det, "roll_pass.turned_view_factor")),
    )
    if not 0.0 <= detector.refine_confidence <= 1.0:
        raise ManifestError("manifest.json: detector.refine_pass.confidence must be in [0, 1]")
    if detector.refine_max_height <= 0:
        raise ManifestError("manifest.json: detector.refine_pass.max_plate_height must be positive")
    if detector.coarse_factor < 2:
        raise ManifestError("manifest.json: detector.coarse_pass.factor must be an integer >= 2")
    if not 0.0 <= detector.roll_confidence <= 1.0 or detector.roll_min_gain < 1.0:
        raise ManifestError("manifest.json: detector.roll_pass.candidate_confidence must be in [0, 1] and min_gain >= 1")
    if detector.turned_view_factor < 1 or any(not -90.0 < a < 90.0 for a in detector.turned_views):
        raise ManifestError("manifest.json: detector.roll_pass.turned_view_factor must be >= 1 and turned_views "
                            "angles within (-90, 90) degrees")
    if detector.coarse_max_side < 1:  # coarse_factors would double the factor forever
        raise ManifestError("manifest.json: detector.coarse_pass.max_side must be a positive integer")

    rec = _get(raw, "recognizer")
    enc_path, enc_sha = _model_file(root, _get(rec, "encoder"), "recognizer.encoder", verify)
    dec_path, dec_sha = _model_file(root, _get(rec, "decoder"), "recognizer.decoder", verify)
    charset = str(_get(rec, "charset"))
    end, start = int(_get(rec, "tokens.end")), int(_get(rec, "tokens.start"))
    if end != len(charset) or start == end:
        raise ManifestError(f"manifest.json: tokens.end must be len(charset)={len(charset)} and differ from start")
    margins = _get(rec, "crop_margins")
    if not isinstance(margins, list) or not margins or not all(
            isinstance(m, (int, float)) and 0.0 <= m < 0.5 for m in margins):
        raise ManifestError("manifest.json: recognizer.crop_margins must be a list of one or more margins in [0, 0.5)")
    dec_inputs = tuple(_get(rec, "decoder.inputs"))
    dec_outputs = tuple(_get(rec, "decoder.outputs"))
    enc_outputs = tuple(_get(rec, "encoder.outputs"))
    if len(dec_inputs) != 4 or len(dec_outputs) != 3 or len(enc_outputs) != 4:
        raise ManifestError("manifest.json: decoder needs 4 inputs/3 outputs, encoder 4 outputs "
                            "(features, keys, hidden, plate score)")
    recognizer = RecognizerSpec(
        encoder_path=enc_path, encoder_sha256=enc_sha, decoder_path=dec_path, decoder_sha256=dec_sha,
        encoder_inputs=tuple(_get(rec, "encoder.inputs")), encoder_outputs=enc_outputs,
        decoder_inputs=dec_inputs, decoder_outputs=dec_outputs,
        height=int(_get(rec, "input.height")), width=int(_get(rec, "input.width")),
        norm=_norm(_get(rec, "input"), "recognizer.input"),
        charset=charset, end=end, start=start, max_length=int(_get(rec, "max_length")),
        crop_margins=tuple(float(m) for m in margins),
        check_score=float(_get(rec, "reading_check.detector_score")),
        check_confidence=float(_get(rec, "reading_check.char_confidence")),
        check_low_score=float(_get(rec, "reading_check.low_detector_score")),
        check_low_confidence=float(_get(rec, "reading_check.low_char_confidence")),
        plate_score=float(_get(rec, "plate_check.plate_score")),
    )
    if not (0.0 <= recognizer.check_score <= 1.0 and 0.0 <= recognizer.check_confidence <= 1.0):
        raise ManifestError("manifest.json: recognizer.reading_check.detector_score and char_confidence must be in [0, 1]")
    if not (0.0 <= recognizer.check_low_score < recognizer.check_score
            and recognizer.check_confidence <= recognizer.check_low_confidence <= 1.0):
        raise ManifestError("manifest.json: recognizer.reading_check.low_detector_score must be in [0, detector_score) "
                            "and low_char_confidence in [char_confidence, 1]")
    if not 0.0 <= recognizer.plate_score <= 1.0:
        raise ManifestError("manifest.json: recognizer.plate_check.plate_score must be in [0, 1]")
    return Manifest(root=root, version=1, detector=detector, recognizer=recognizer, raw=raw)
