"""Target assignment and loss for the plate detector.

Assignment is centre sampling by level: a plate is given to the levels whose stride suits
its width, and to every cell of those levels whose centre lies near the plate's centre
(within half its size, at most 1.5 strides, at least half a stride so the thinnest plate
still owns a cell). A cell claimed by two plates goes to the smaller. Real frames have
boxes but no corners: their corner loss is masked out. Cells on a plate that has no box
(Targets.ignore) are neither plate nor background: their objectness is not counted.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from export.detector import decode_boxes, flatten_maps

# Plate widths (input pixels) each level is responsible for; neighbours overlap.
LEVEL_WIDTHS = {8: (0.0, 96.0), 16: (48.0, 192.0), 32: (128.0, 1e9)}
BOX_WEIGHT, CORNER_WEIGHT = 5.0, 2.0
CORNER_BETA = 0.02  # of the plate's height: where the corner loss turns from quadratic to linear


@dataclass
class Targets:
    """One image's labels in input pixels: boxes [K,4] x1y1x2y2, corners [K,8] (NaN where unknown).

    ignore [M,4] x1y1x2y2: plates without a box (or cut by the crop): cells on them are not
    background, so their objectness is left out of the loss.
    """

    boxes: torch.Tensor
    corners: torch.Tensor
    ignore: torch.Tensor = field(default_factory=lambda: torch.zeros((0, 4)))


def assign(targets: Targets, centres: torch.Tensor, strides: torch.Tensor) -> torch.Tensor:
    """For every cell, the index of the plate it must predict, or -1 for background. [A]"""
    owner = torch.full((centres.shape[0],), -1, dtype=torch.long)
    if targets.boxes.numel() == 0:
        return owner
    boxes = targets.boxes
    size = boxes[:, 2:] - boxes[:, :2]  # [K,2]
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    lo = torch.zeros_like(strides)
    hi = torch.zeros_like(strides)
    for s, (a, b) in LEVEL_WIDTHS.items():
        lo[strides == s], hi[strides == s] = a, b
    fits_level = (size[None, :, 0] > lo[:, None]) & (size[None, :, 0] <= hi[:, None])  # [A,K]
    radius = torch.maximum(0.5 * strides[:, None, None], torch.minimum(size[None] / 2, 1.5 * strides[:, None, None]))
    near = ((centres[:, None] - centre[None]).abs() <= radius).all(-1)  # [A,K]
    candidate = fits_level & near
    area = (size[:, 0] * size[:, 1])[None].expand_as(candidate)
    area = torch.where(candidate, area, torch.full_like(area, float("inf")))
    best_area, best = area.min(dim=1)
    owner[torch.isfinite(best_area)] = best[torch.isfinite(best_area)]
    return owner


def ignored(targets: Targets, centres: torch.Tensor, strides: torch.Tensor) -> torch.Tensor:
    """For every cell, whether its centre lies on an ignore box (grown by half a stride, as the
    centre sampling of assign() reaches that far outside a plate). [A] bool"""
    if targets.ignore.numel() == 0:
        return torch.zeros(centres.shape[0], dtype=torch.bool)
    margin = 0.5 * strides[:, None]
    box = targets.ignore
    inside_x = (centres[:, None, 0] >= box[None, :, 0] - margin) & (centres[:, None, 0] <= box[None, :, 2] + margin)
    inside_y = (centres[:, None, 1] >= box[None, :, 1] - margin) & (centres[:, None, 1] <= box[None, :, 3] + margin)
    return (inside_x & inside_y).any(dim=1)


def giou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Generalised IoU of matching x1y1x2y2 rows: still has a gradient when boxes do not overlap."""
    iw = (torch.minimum(a[:, 2], b[:, 2]) - torch.maximum(a[:, 0], b[:, 0])).clamp(min=0)
    ih = (torch.minimum(a[:, 3], b[:, 3]) - torch.maximum(a[:, 1], b[:, 1])).clamp(min=0)
    inter = iw * ih
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a + area_b - inter + 1e-7
    hull = (torch.maximum(a[:, 2], b[:, 2]) - torch.minimum(a[:, 0], b[:, 0])) * (
        torch.maximum(a[:, 3], b[:, 3]) - torch.minimum(a[:, 1], b[:, 1])
    ) + 1e-7
    return inter / union - (hull - union) / hull


def detection_loss(maps: list[torch.Tensor], batch: list[Targets]) -> tuple[torch.Tensor, dict[str, float]]:
    """Objectness BCE over all cells per positive, GIoU on positives, corner_loss on known corners."""
    preds, centres, strides = flatten_maps(maps)
    cpu_centres, cpu_strides = centres.cpu(), strides.cpu()
    owners = torch.stack([assign(t, cpu_centres, cpu_strides) for t in batch]).to(preds.device)  # [N,A]
    positive = owners >= 0
    counted = positive | ~torch.stack([ignored(t, cpu_centres, cpu_strides) for t in batch]).to(preds.device)
    num_pos = max(int(positive.sum()), 1)
    objectness = (F.binary_cross_entropy_with_logits(preds[..., 0], positive.float(), reduction="none")
                  * counted).sum() / num_pos

    image_idx, cell_idx = positive.nonzero(as_tuple=True)
    if image_idx.numel() == 0:
        zero = preds.sum() * 0.0
        return objectness + zero, {"obj": objectness.item(), "box": 0.0, "corner": 0.0, "pos": 0}
    plate_idx = owners[image_idx, cell_idx]
    true_boxes = torch.stack([batch[i].boxes[k] for i, k in zip(image_idx.tolist(), plate_idx.tolist())]).to(preds.device)
    true_corners = torch.stack([batch[i].corners[k] for i, k in zip(image_idx.tolist(), plate_idx.tolist())]).to(preds.device)
    cell_preds = preds[image_idx, cell_idx]  # [P,13]
    cell_centres, cell_strides = centres[cell_idx], strides[cell_idx]
    boxes = decode_boxes(cell_preds[None], cell_centres, cell_strides)[0]
    box_loss = (1.0 - giou(boxes, true_boxes)).mean()

    known = ~torch.isnan(true_corners[:, 0])
    if known.any():
        corner = corner_loss(cell_preds[known, 5:13], true_corners[known].reshape(-1, 4, 2),
                             cell_centres[known], cell_strides[known])
    else:
        corner = preds.sum() * 0.0
    total = objectness + BOX_WEIGHT * box_loss + CORNER_WEIGHT * corner
    return total, {"obj": objectness.item(), "box": box_loss.item(), "corner": corner.item(), "pos": num_pos}


def corner_loss(offsets: torch.Tensor, corners: torch.Tensor, centres: torch.Tensor, strides: torch.Tensor) -> torch.Tensor:
    """Smooth-L1 of the predicted corners' error in units of the plate's height.

    offsets [P,8]: the head's corner outputs (stride units from the cell centre); corners [P,4,2]
    TL,TR,BR,BL in input pixels. Measured in strides, an error of a fifth of a small plate's
    height cost almost nothing, and a crop cut that short at the top or bottom is misread
    (bench/crop_cuts.py); in plate heights every plate's corners count alike.
    """
    height = ((corners[:, 3] - corners[:, 0]).norm(dim=1) + (corners[:, 2] - corners[:, 1]).norm(dim=1)) / 2
    scale = strides / height.clamp(min=2.0)  # plate heights per stride
    error = (offsets - ((corners - centres[:, None]) / strides[:, None, None]).flatten(1)) * scale[:, None]
    return F.smooth_l1_loss(error, torch.zeros_like(error), beta=CORNER_BETA)
