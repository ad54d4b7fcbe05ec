"""Plate detector: letterbox the image, run the ONNX graph, post-process to plate boxes."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort

from .boxes import Detection, postprocess, to_input_pixels
from .letterbox import letterbox
from .manifest import DetectorSpec


class Detector:
    """Stateless apart from the ORT session, whose run() is thread-safe."""

    def __init__(self, spec: DetectorSpec, session: ort.InferenceSession) -> None:
        self.spec = spec
        self.session = session

    def raw(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        """BGR image -> ([A,13] detections in letterboxed input pixels, letterbox ratio)."""
        s = self.spec
        width, height = s.input_size(image.shape[1], image.shape[0])
        blob, box = letterbox(image, width, height, s.pad_value, s.norm)
        (out,) = self.session.run([s.output_name], {s.input_name: blob})
        return to_input_pixels(out[0], width, height), box.ratio

    def __call__(self, image: np.ndarray, confidence: float | None = None, iou: float | None = None) -> list[Detection]:
        """BGR image -> plates in original pixels, best first."""
        raw, ratio = self.raw(image)
        return postprocess(
            raw, ratio, image.shape[1], image.shape[0],
            self.spec.confidence if confidence is None else confidence,
            self.spec.iou if iou is None else iou,
        )
