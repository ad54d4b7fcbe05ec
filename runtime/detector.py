"""Plate detector: letterbox the image, run the ONNX graph at two scales, keep the plate boxes.

The network finds plates up to about 200 px wide in its input; wider ones (a close-up, a plate
photographed alone, a large blurred plate) it mostly misses: few of its training plates were
that wide, and its deepest cells see little more. So a second, coarse pass runs the same graph
on the input shrunk `coarse_factor` times (7% of the first pass's work, about 1 ms on 2 CPU
cores) and adds the plates of at least `coarse_min_width` pixels there that the first pass did
not find. Both numbers come from the manifest; `bench/plate_sizes.py` measures the difference.
"""
from __future__ import annotations

import numpy as np
import onnxruntime as ort

from .boxes import Detection, add_unseen, candidates, to_detections, to_input_pixels
from .letterbox import fit, place, resize, shrink
from .manifest import DetectorSpec


class Detector:
    """Stateless apart from the ORT session, whose run() is thread-safe."""

    def __init__(self, spec: DetectorSpec, session: ort.InferenceSession) -> None:
        self.spec = spec
        self.session = session

    def raw(self, blob: np.ndarray) -> np.ndarray:
        """[1,3,H,W] input -> [A,13] detections in that input's pixels."""
        s = self.spec
        (out,) = self.session.run([s.output_name], {s.input_name: blob})
        return to_input_pixels(out[0], blob.shape[3], blob.shape[2])

    def __call__(self, image: np.ndarray, confidence: float | None = None, iou: float | None = None) -> list[Detection]:
        """BGR image -> plates in original pixels, best first."""
        s = self.spec
        confidence = s.confidence if confidence is None else confidence
        iou = s.iou if iou is None else iou
        width, height = s.input_size(image.shape[1], image.shape[0])
        box = fit(image.shape[1], image.shape[0], width, height)
        picture = resize(image, box)
        found = candidates(self.raw(place(picture, width, height, s.pad_value, s.norm)), box.ratio, confidence, iou)
        coarse = place(shrink(picture, s.coarse_factor), *s.coarse_size(width, height), s.pad_value, s.norm)
        large = candidates(self.raw(coarse), box.ratio / s.coarse_factor, confidence, iou, s.coarse_min_width)
        return to_detections(add_unseen(found, large), image.shape[1], image.shape[0])
