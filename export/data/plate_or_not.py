"""Crops cut as the reader cuts them, labelled plate or not: what the plate check learns from.

The shipped detector runs, as the reader runs it, on photos whose plates are known, and each
box it finds is cut at every crop margin exactly as the reader cuts it (runtime/crops.py), so
the check learns on the crops it will judge. A box on a labelled plate is a plate; a box on a
plate-free photo, on a look-alike the audit names, or in a rendered scene away from every plate,
is not. Anything else is left out: a box half on a plate, and a box on nothing labelled in a real
frame (real frames leave distant plates without a box).

Only the check's half of each source is mined (runtime/splits.py: in_check_half, CHECK_VIDEOS); the
other half stays for dev. Torch-free: numpy, cv2 and the runtime.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from export.data.assets import Assets
from export.data.real import BrCrop, Frame
from export.data.scenes import render_scene
from runtime.boxes import xywh
from runtime.crops import plate_views
from runtime.evaluate import paste_in_canvas
from runtime.metrics import iou_xywh
from runtime.reader import PlateReader
from runtime.splits import BACKGROUNDS_VAL_FROM, CHECK_VIDEOS, in_check_half, rendered_backgrounds

MINE_CONFIDENCE = 0.1  # under the reader's threshold (0.4 when the shipped bank was mined, 0.15 since):
# look-alikes are few, and all are worth learning from
PLATE_IOU, AWAY_IOU = 0.5, 0.1


@dataclass(frozen=True)
class Bank:
    """views [N,V,H,W,3] uint8, one crop per crop margin; plate [N] bool; source [N] str."""

    views: np.ndarray
    plate: np.ndarray
    source: np.ndarray

    def save(self, path: Path) -> None:
        np.savez_compressed(path, views=self.views, plate=self.plate, source=self.source)

    @staticmethod
    def load(path: Path) -> Bank:
        with np.load(path) as z:
            return Bank(z["views"], z["plate"], z["source"])


def _best_iou(boxes: np.ndarray, labelled: np.ndarray) -> np.ndarray:
    """For each x,y,w,h box, its largest IoU with any labelled box (0 where there is none)."""
    if len(labelled) == 0 or len(boxes) == 0:
        return np.zeros(len(boxes), np.float32)
    return iou_xywh(boxes, labelled).max(axis=1)


def labels(boxes: np.ndarray, plates: np.ndarray, not_plates: np.ndarray | None,
           ignore: np.ndarray | None = None) -> list[bool | None]:
    """For each x,y,w,h box: True on one of `plates`; False on one of `not_plates`, or, when not_plates is
    None, away from every plate and `ignore` box; None (left out) otherwise."""
    on_plate = _best_iou(boxes, plates)
    if not_plates is None:
        other = np.maximum(on_plate, _best_iou(boxes, np.zeros((0, 4)) if ignore is None else ignore)) < AWAY_IOU
    else:
        other = _best_iou(boxes, not_plates) >= PLATE_IOU
    return [True if p >= PLATE_IOU else False if o else None for p, o in zip(on_plate, other)]


def cut(reader: PlateReader, image: np.ndarray, plates: np.ndarray, not_plates: np.ndarray | None,
        ignore: np.ndarray | None = None) -> list[tuple[np.ndarray, bool]]:
    """The reader's crops of each box the detector finds in `image`, one per crop margin, labelled as
    `labels` says; boxes it leaves out are not cut."""
    spec = reader.recognizer.spec
    detections = reader.detector(image, MINE_CONFIDENCE, reader.iou)
    return [(np.stack([crop for crop, _ in plate_views(image, d.box, d.corners, spec.width, spec.height,
                                                       spec.crop_margins)]), label)
            for d, label in zip(detections, labels(xywh(detections), plates, not_plates, ignore)) if label is not None]


def mine(reader: PlateReader, photos: list[Path], frames: list[Frame], crops: list[BrCrop], assets: Assets,
         scenes: int, seed: int) -> Bank:
    """The bank: plate-free photos, scenes-ro frames, br-plate-crops (each pasted in a frame as
    runtime.evaluate pastes them), and `scenes` rendered 1280x720 scenes of seed `seed`."""
    none = np.zeros((0, 4), np.float32)
    samples: list[tuple[np.ndarray, bool, str]] = []

    def add(found: list[tuple[np.ndarray, bool]], source: str) -> None:
        samples.extend((views, label, source) for views, label in found)

    for path in photos:
        add(cut(reader, cv2.imread(str(path), cv2.IMREAD_COLOR), none, None), "backgrounds")
    for frame in frames:
        plates = np.concatenate([frame.boxes, frame.unboxed]).astype(np.float32)
        add(cut(reader, cv2.imread(str(frame.path), cv2.IMREAD_COLOR), plates, frame.look_alikes), "scenes-ro")
    for crop in crops:
        canvas, box = paste_in_canvas(cv2.imread(str(crop.path), cv2.IMREAD_COLOR))
        add(cut(reader, canvas, np.float32([box]), none), "br-crops")
    rng = np.random.default_rng(seed)
    for _ in range(scenes):
        scene = render_scene(rng, assets, 1280, 720)
        plates = np.float32([p.box for p in scene.plates if not p.ignore]).reshape(-1, 4)
        ignored = np.float32([p.box for p in scene.plates if p.ignore]).reshape(-1, 4)
        add(cut(reader, scene.image, plates, None, ignored), "rendered")
    views, labels, sources = zip(*samples)
    return Bank(np.stack(views), np.array(labels), np.array(sources))


def plate_free_photos(data: Path, mine: bool = True) -> list[Path]:
    """The backgrounds-gray photos the check learns from (mine): those the scene renderer draws on (every
    backgrounds figure leaves them out) and the check's half of the other train photos; or its dev
    half (not mine): the rest of the train photos."""
    files = sorted((Path(data) / "backgrounds-gray").glob("*.jpg"))
    rendered = rendered_backgrounds(files)
    half = [f for f in files[:BACKGROUNDS_VAL_FROM] if f not in set(rendered) and in_check_half(f.name) == mine]
    return rendered + half if mine else half


def check_frames(frames: list[Frame], mine: bool = True) -> list[Frame]:
    """The scenes-ro frames of the check's video (mine) or of the others (runtime/splits.py::CHECK_VIDEOS)."""
    return [f for f in frames if (f.video in CHECK_VIDEOS) == mine]
