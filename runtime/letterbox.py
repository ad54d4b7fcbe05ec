"""Letterbox + normalise: BGR image -> the detector's NCHW float32 input.

Keeps the aspect ratio (scale r = min(W/w, H/h, 1)) and pads with grey. The picture sits at
(left, top): the top-left corner, or inset by a border where the input has room to spare, so
mapping a box back to the original image is a subtraction and a division by r.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .manifest import Normalization


@dataclass(frozen=True)
class Letterbox:
    """How the original image was placed in the model input."""

    ratio: float
    width: int  # resized image width inside the input
    height: int
    left: int = 0  # where it sits in the input
    top: int = 0


def fit(image_width: int, image_height: int, width: int, height: int, margin: float = 0.0) -> Letterbox:
    """Scale, resized size (Python round) and place. A small image is never enlarged: that adds no
    detail, and a plate photographed alone (a crop) would grow past the sizes the detector finds.

    A picture that is not shrunk gets a grey border of up to `margin` times its side on each
    side, from the input's spare room: a plate photographed alone fills its image, and the
    network, which finds a plate by its edges against what surrounds it, misses one in ten such
    crops at the top-left corner (README, bench/plate_sizes.py). A shrunk image (a camera frame)
    stays at the top-left, where the detector was trained and measured."""
    ratio = min(width / image_width, height / image_height, 1.0)
    new_w = min(width, max(1, round(image_width * ratio)))
    new_h = min(height, max(1, round(image_height * ratio)))
    if ratio < 1.0:
        return Letterbox(ratio, new_w, new_h)
    left = min((width - new_w) // 2, round(margin * new_w))
    top = min((height - new_h) // 2, round(margin * new_h))
    return Letterbox(ratio, new_w, new_h, left, top)


def normalize_into(dst: np.ndarray, bgr: np.ndarray, norm: Normalization) -> None:
    """dst[c] = rgb[..., c] * gain[c] + bias[c], writing into a (3,h,w) float32 view. The channels
    are split into contiguous planes first: reading them strided from HWC took twice as long."""
    gain, bias = norm.gain_bias()
    planes = cv2.split(bgr)
    for c in range(3):
        plane = dst[c]
        np.multiply(planes[2 - c], np.float32(gain[c]), out=plane, casting="unsafe")
        if bias[c]:
            plane += np.float32(bias[c])


def resize(image: np.ndarray, box: Letterbox) -> np.ndarray:
    """The image at the letterbox's size (bilinear), or the image itself when that is its size."""
    if (box.width, box.height) == (image.shape[1], image.shape[0]):
        return image
    return cv2.resize(image, (box.width, box.height), interpolation=cv2.INTER_LINEAR)


def place(picture: np.ndarray, width: int, height: int, pad_value: int, norm: Normalization,
          left: int = 0, top: int = 0) -> np.ndarray:
    """BGR uint8 picture -> [1,3,height,width] float32 input: picture at (left, top), normalised,
    padding around it (normalised like the picture)."""
    h, w = picture.shape[:2]
    if left < 0 or top < 0 or left + w > width or top + h > height:
        raise ValueError(f"a {w}x{h} picture at ({left}, {top}) does not fit a {width}x{height} input")
    blob = np.empty((1, 3, height, width), np.float32)
    gain, bias = norm.gain_bias()
    for c in range(3):
        value = np.float32(pad_value * gain[c] + bias[c])
        plane = blob[0, c]
        plane[:top] = value
        plane[top + h:] = value
        plane[top:top + h, :left] = value
        plane[top:top + h, left + w:] = value
    normalize_into(blob[0, :, top:top + h, left:left + w], picture, norm)
    return blob


def letterbox(image: np.ndarray, width: int, height: int, pad_value: int, norm: Normalization) -> tuple[np.ndarray, Letterbox]:
    """BGR uint8 HxWx3 -> ([1,3,height,width] float32 blob, placement at the top-left): the
    network's own input, as training validates it (runtime/detector.py adds the border)."""
    box = fit(image.shape[1], image.shape[0], width, height)
    return place(resize(image, box), width, height, pad_value, norm), box
