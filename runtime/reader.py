"""PlateReader: image in, plates (box, text, confidences) out.

Data flow: image.load_image -> detector (letterbox, ONNX, boxes) -> crops -> recognizer
(encoder + greedy decoder) -> the plate check (the encoder's plate head must take the crop for
a plate) and the reading check (a box the detector is unsure of must hold characters). One
reader can be shared by many threads: it holds only the immutable manifest and the ORT sessions
(whose run() is thread-safe); every buffer is allocated per call.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .crops import plate_views
from .detector import Detector
from .image import DEFAULT_MAX_PIXELS, load_image
from .manifest import Manifest, RecognizerSpec, load_manifest
from .providers import create_session, short_name
from .recognizer import Recognizer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlateResult:
    """One plate; box is [x, y, w, h] in original-image pixels."""

    box: tuple[int, int, int, int]
    confidence: float  # detector score
    text: str
    text_confidence: float  # product of char_confidences
    char_confidences: tuple[float, ...]
    plate_score: float  # the recognizer's plate head: how much the crop looks like a plate at all
    corners: tuple[tuple[float, float], ...] | None  # TL,TR,BR,BL used to rectify, else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Analysis:
    """Everything one read produced, for callers that draw or keep crops (server, CLI)."""

    image: np.ndarray  # the decoded BGR image
    plates: list[PlateResult]
    crops: list[np.ndarray]  # recognizer inputs (the first crop margin's), same order as plates


def required_confidence(rec: RecognizerSpec, score: float) -> float:
    """How surely the characters of a box the detector scores `score` (under check_score) must be
    read: check_confidence at check_score, rising linearly to check_low_confidence at
    check_low_score and held there below it. Sign lettering is found with middling scores and reads
    about as surely as a foreign plate the detector doubts only a little."""
    doubt = min(1.0, (rec.check_score - score) / (rec.check_score - rec.check_low_score))
    return rec.check_confidence + doubt * (rec.check_low_confidence - rec.check_confidence)


def _xywh(box: np.ndarray) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = (int(round(float(v))) for v in box)
    return x1, y1, max(1, x2 - x1), max(1, y2 - y1)


class PlateReader:
    """Detect and read licence plates with the ONNX models in models_dir."""

    def __init__(
        self,
        models_dir: str | os.PathLike[str] | None = None,
        providers: str = "auto",
        threads: int = 2,
        confidence: float | None = None,
        iou: float | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        started = time.perf_counter()
        self.manifest: Manifest = load_manifest(models_dir)
        spec = self.manifest.detector
        rec = self.manifest.recognizer
        detector_session = create_session(spec.path, providers, threads)
        self.provider = short_name(detector_session)
        # The first session settled 'auto'; the others follow it instead of probing again.
        encoder = create_session(rec.encoder_path, self.provider, threads)
        decoder = create_session(rec.decoder_path, self.provider, threads)
        self.detector = Detector(spec, detector_session)
        self.recognizer = Recognizer(rec, encoder, decoder)
        self.confidence = spec.confidence if confidence is None else float(confidence)
        self.iou = spec.iou if iou is None else float(iou)
        self.max_pixels = int(max_pixels)
        self.threads = int(threads)
        self.load_seconds = time.perf_counter() - started
        log.info("PlateReader: models %s on %s (%d threads), loaded in %.2fs",
                 self.manifest.root, self.provider, self.threads, self.load_seconds)

    def load(self, image: object, max_pixels: int | None = None) -> np.ndarray:
        """Decode an ndarray / bytes / path to BGR with this reader's (or the given) pixel limit."""
        return load_image(image, self.max_pixels if max_pixels is None else max_pixels)

    def analyze(self, image: object, max_pixels: int | None = None) -> Analysis:
        """Full pipeline, keeping the decoded image and the crops."""
        bgr = self.load(image, max_pixels)
        detections = self.detector(bgr, self.confidence, self.iou)
        rec = self.recognizer.spec
        # A plate measured turned has two looks (detector.refine): both are read, in one batch,
        # and the surer reading is kept with the corners that cut it. Each look is cut once per
        # crop margin, and those crops are read together as views of it (runtime/recognizer.py).
        looks = [(k, corners) for k, d in enumerate(detections)
                 for corners in (d.corners, d.other_corners) if corners is not None]
        views = len(rec.crop_margins)
        cut = [view for k, corners in looks
               for view in plate_views(bgr, detections[k].box, corners, rec.width, rec.height, rec.crop_margins)]
        readings = self.recognizer([crop for crop, _ in cut], views)
        best: dict[int, int] = {}
        for i, (k, _) in enumerate(looks):
            if k not in best or readings[i].confidence > readings[best[k]].confidence:
                best[k] = i
        plates, crops = [], []
        for k, d in enumerate(detections):
            i = best[k]
            crop, rectified = cut[i * views]
            reading = readings[i]
            # Shop lettering, sign words and striped facades the detector is sure of read as plates:
            # the plate head, which never learned text, tells them from plates (manifest plate_check).
            if reading.plate_score < rec.plate_score:
                continue
            # A box the detector is unsure of must hold characters: tail lights, signs and lettering
            # taken for plates read as nothing (manifest recognizer.reading_check). A box it is sure
            # of answers even unread, with empty text: the box is real information.
            if d.score < rec.check_score and reading.mean_confidence < required_confidence(rec, d.score):
                continue
            crops.append(crop)
            corners = tuple((round(float(x), 1), round(float(y), 1)) for x, y in looks[i][1]) if rectified else None
            plates.append(PlateResult(
                box=_xywh(d.box), confidence=d.score, text=reading.text,
                text_confidence=reading.confidence, char_confidences=reading.char_confidences,
                plate_score=round(reading.plate_score, 4), corners=corners,
            ))
        return Analysis(bgr, plates, crops)

    def read(self, image: object) -> list[PlateResult]:
        """ndarray (BGR) / encoded bytes / path -> plates, best detector score first."""
        return self.analyze(image).plates

    def info(self) -> dict[str, Any]:
        """Models, provider and settings, for /health and logs."""
        return {
            "models": self.manifest.summary(),
            "provider": self.provider,
            "threads": self.threads,
            "confidence": self.confidence,
            "iou": self.iou,
        }
