"""Plate text: encoder once per batch of crops, then the greedy attention decoder loop.

The loop is the one docs/models.md describes and must agree exactly with the reference
greedy decode in export/recognizer.py: start token for every crop; each step takes the
argmax; a crop is finished at the end token or once it holds max_length characters; the
loop stops as soon as every crop is finished. All plates of an image share one batch.

A plate may be cut more than once (the manifest's crop_margins): its crops are views of one
plate, decoded in lockstep. At each step their softmax probabilities are averaged, and the
argmax of the mean is the plate's character, fed back to every view: where one framing leaves
a character in doubt, the other usually does not, and the mean keeps the surer of the two.

The encoder also scores each crop for looking like a plate at all (its plate head); a plate's
score is the mean over its views, and the reader answers no box scored under the manifest's
plate_check (runtime/reader.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

from .letterbox import normalize_into
from .manifest import RecognizerSpec


@dataclass(frozen=True)
class Reading:
    """Decoded text with one confidence (softmax probability) per character."""

    text: str
    confidence: float  # product of char_confidences; 0.0 for empty text
    char_confidences: tuple[float, ...]
    plate_score: float  # the encoder's plate head: how much the crop looks like a plate, whatever it reads

    @property
    def mean_confidence(self) -> float:
        """Geometric mean of char_confidences (0.0 for empty text): how surely characters were read,
        whatever their number."""
        if not self.char_confidences:
            return 0.0
        return float(np.exp(np.mean(np.log(np.maximum(self.char_confidences, 1e-12)))))


def to_batch(crops: list[np.ndarray], spec: RecognizerSpec) -> np.ndarray:
    """BGR crops (already spec.height x spec.width) -> [N,3,H,W] float32 normalised RGB."""
    batch = np.empty((len(crops), 3, spec.height, spec.width), np.float32)
    for i, crop in enumerate(crops):
        normalize_into(batch[i], crop, spec.norm)
    return batch


def greedy_decode(
    decoder: ort.InferenceSession,
    features: np.ndarray,
    keys: np.ndarray,
    hidden: np.ndarray,
    plate_scores: np.ndarray,
    spec: RecognizerSpec,
    views: int = 1,
) -> list[Reading]:
    """Run the one-step decoder greedily for a batch of `views` consecutive crops per plate; see
    the module docstring for the rules. One Reading per plate, with its views' mean plate score."""
    n = features.shape[0] // views
    token_name, hidden_name, features_name, keys_name = spec.decoder_inputs
    logits_name, hidden_out_name = spec.decoder_outputs[:2]
    token = np.full(n * views, spec.start, dtype=np.int64)
    chars: list[list[str]] = [[] for _ in range(n)]
    confs: list[list[float]] = [[] for _ in range(n)]
    done = np.zeros(n, dtype=bool)
    for _ in range(spec.max_length + 1):
        # A crop already holding max_length characters finishes whatever the next step says,
        # so once that holds for every open crop the extra decoder run can be skipped.
        if all(done[i] or len(chars[i]) >= spec.max_length for i in range(n)):
            break
        logits, hidden = decoder.run(
            [logits_name, hidden_out_name],
            {token_name: token, hidden_name: hidden, features_name: features, keys_name: keys},
        )
        probs = softmax(logits).reshape(n, views, -1).mean(axis=1)
        best = probs.argmax(axis=1)
        for i in range(n):
            k = int(best[i])
            if done[i] or k == spec.end or len(chars[i]) >= spec.max_length:
                done[i] = True
                continue
            chars[i].append(spec.charset[k])
            confs[i].append(float(probs[i, k]))
        if done.all():
            break
        token = np.repeat(best, views).astype(np.int64, copy=False)
    plate = plate_scores.reshape(n, views).mean(axis=1)
    return [
        Reading("".join(c), float(np.prod(p)) if p else 0.0, tuple(p), float(s))
        for c, p, s in zip(chars, confs, plate)
    ]


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by each row's max so exp cannot overflow."""
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class Recognizer:
    """Encoder + decoder sessions; stateless apart from them, so safe to share between threads."""

    def __init__(self, spec: RecognizerSpec, encoder: ort.InferenceSession, decoder: ort.InferenceSession) -> None:
        self.spec = spec
        self.encoder = encoder
        self.decoder = decoder

    def __call__(self, crops: list[np.ndarray], views: int = 1) -> list[Reading]:
        """BGR crops of the recognizer's input size, `views` consecutive ones per plate -> one
        Reading per plate, in one batched pass."""
        if len(crops) % views:
            raise ValueError(f"{len(crops)} crops do not make whole plates of {views} views")
        if not crops:
            return []
        batch = to_batch(crops, self.spec)
        features, keys, hidden, plate = self.encoder.run(list(self.spec.encoder_outputs),
                                                         {self.spec.encoder_inputs[0]: batch})
        return greedy_decode(self.decoder, features, keys, hidden, plate, self.spec, views)
