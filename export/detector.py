"""Single-class anchor-free plate detector: depthwise-separable backbone, FPN, corner head.

Each cell of the stride 8/16/32 maps predicts an objectness logit, the distances from its
centre to the plate box's four sides (in strides, through exp) and the offsets of the
plate's four corners from its centre (in strides), so the runtime can rectify tilted
plates before OCR. The exported graph ends at these maps: decoding every cell inside it
(cell centres, exp, broadcasts over [A, 4, 2]) took a third of the graph's time on 2 CPU
cores, for the handful of cells above the score threshold that the runtime keeps. So the
runtime decodes only those (runtime/boxes.py::decode), and threshold and NMS stay there too,
where a handful of candidates cost microseconds and the graph stays free of NMS ops that
some execution providers (TensorRT, older CPU builds) handle poorly. `decode_boxes` and
`decode_corners` below are the same formulas in torch, for the loss.
"""
from __future__ import annotations

import torch
from torch import nn

from export.layers import conv_bn

STRIDES = (8, 16, 32)
INPUT_HEIGHT, INPUT_WIDTH = 448, 768  # 1280x720 letterboxes at exactly 0.6
OUTPUTS = 1 + 4 + 8  # objectness, l t r b, four corners (x, y)
CHANNELS = ("objectness", "left", "top", "right", "bottom", "tl_x", "tl_y", "tr_x", "tr_y", "br_x", "br_y", "bl_x", "bl_y")
MAP_NAMES = tuple(f"stride{s}" for s in STRIDES)
MAX_LOG_SIDE = 6.0  # side distances are exp(min(v, 6)) strides: at most 403 strides, whatever the logits
# The trained network finds plates up to about 200 px wide in its input (real crops pasted at
# 200 px: 65 of 83 found, at 260 px: 18); the runtime's coarse passes on the picture shrunk 4
# times, then 8, 16... until it fits COARSE_MAX_SIDE px, each with a grey border (INPUT_MARGIN),
# find the wider ones, keeping there boxes of 30 px and more: a plate 200 px wide is 50 px in the
# first, one that fills a 3000 px close-up 94 px in the last.
COARSE_FACTOR, COARSE_MIN_WIDTH, COARSE_MAX_SIDE = 4, 30, 160
# A plate the first pass saw at less than 2/3 of the photo's resolution is looked at again in a
# window three plate widths wide (at most 320x192), where the network places corners best: a
# plate 50 px wide in a 1280x720 frame has corners placed to 1.7 px there, enough to cut
# characters off when the crop is rectified (bench/plate_sizes.py: 24 -> 41 of 42 read). What the
# closer look does not find is dropped: lettering and logos stop looking like plates there.
REFINE_WIDTH, REFINE_HEIGHT, REFINE_CONTEXT, REFINE_GAIN = 320, 192, 3, 1.5
# There, at the higher resolution, the box on the plate must score at least REFINE_CONFIDENCE, not
# just the first pass's 0.4: true plates score 0.96 or more there (98% of the scenes-ro train
# plates), the look-alikes listed in runtime/scenes-ro-audit.csv 0.755 at the median. Chosen on the
# train split (runs/s16/LOOK_BAR_RULE.txt): audited precision 0.880 -> 0.912 at the same recall,
# for 5 of 569 pasted real plates read fewer in street frames (low-contrast grey plates), 5 at night.
# Since the reader checks unsure boxes for characters (export/recognizer.py::CHECK_SCORE), 0.5 is
# enough (runs/s17/BAR_AGAIN_RULE.txt): scenes-ro train audited precision 0.962 -> 0.951, 7 more of
# the pasted and rendered street plates read on the train frames (level 552 -> 557). Since the plate check
# (export/recognizer.py::PLATE_SCORE) drops what does not look like a plate, 0.2 (session 25,
# runs/s25/REFINE_RULE.txt): lit plates in a dark frame, which the closer look scores low, are kept;
# street unpasted read level / night / turned 30 560 / 498 / 506 -> 561 / 501 / 505, no more false answers.
REFINE_CONFIDENCE = 0.2
# The network scores a two-line plate low once it is tall in its input (one 98 px wide and 75 tall
# scores 0.18 there, 0.95 at 44 px wide), so the closer look, at full resolution, dropped two-line
# plates 40-150 px wide that the first pass had found at 0.8-0.99. A plate taller than
# REFINE_MAX_HEIGHT in the closer look's window and not confirmed there is looked at once more at that
# height, and kept with the first pass's box and corners if confirmed. One-line plates are under it
# at every width the closer look takes. Chosen on dev sets (runs/s18/CONFIRM_RULE.txt; magnifying
# every plate only to that height, runs/s18/TWOLINE_RULE.txt, lost two-line reads: the full-resolution
# look places the corners better).
REFINE_MAX_HEIGHT = 32
# A photo larger than a 1280x720 frame gets a larger input, so that it is shrunk no more than
# that frame (5/3 times: a 40 px plate is 24 px in the input), up to twice the input on each side
# (4x the work): a 1920x1080 frame gets 1152x672, a 12 MP photo 1536x896.
MAX_SHRINK, MAX_INPUT_SCALE = 1280 / 768, 2.0
# The network scores a plate turned in the image plane low and its corners follow the turn roughly
# (bench/street_plates.py --roll). The runtime measures each plate's roll from its edges
# (runtime/roll.py): a plate turned at least ROLL_MIN degrees, where levelling it makes its edge
# sums at least ROLL_MIN_GAIN times as uneven as they are unturned (where they lean less surely than
# that, the network's corners give the roll: session 22), is looked at again in a window
# turned to level it; and a first-pass box scoring at least ROLL_CANDIDATE_CONFIDENCE (under the
# threshold) is kept where such a levelled look finds it. A levelled look's box must overlap the
# pass's box at IoU ROLL_MIN_IOU (a faint level plate measured turned got a turned box around it).
# Chosen on the train split of that bench and of runtime.evaluate --set br-crops, never on the
# val figures the README reports.
ROLL_MIN, ROLL_MIN_GAIN, ROLL_CANDIDATE_CONFIDENCE, ROLL_MIN_IOU = 4.0, 1.5, 0.1, 0.35
# A plate turned 25 degrees or more the network does not find at all, so the roll pass has nothing to
# level. Where the level passes find no plate at all (a photo taken askew), the first pass's picture is
# also seen turned by each of TURNED_VIEWS degrees, TURNED_VIEW_FACTOR times smaller (a 1280x720 frame:
# one batch of two 384x224 inputs), where such a plate is near level; what is found there is kept only
# as a first-pass box under the threshold is (its pixels measure it turned and the levelled look finds
# it). Run on every frame it cost 5 ms; gated so, a frame with level plates pays nothing and one without
# takes about what a frame with plates took before. Chosen on dev sets (runs/s18/ROTATED_RULE3.txt).
TURNED_VIEWS, TURNED_VIEW_FACTOR = (25.0, -25.0), 2
# A picture smaller than the input is placed with a grey border of up to a quarter of its side
# (from the input's spare room, so no resolution is lost): the network finds a plate by its edges
# against what surrounds it, and a plate photographed alone has none at the top-left corner
# (br-crops train crops uploaded alone: 400 -> 439 of 448 read).
INPUT_MARGIN = 0.25


class Separable(nn.Module):
    """Depthwise 3x3 then pointwise 1x1, residual when shapes allow: cheap on edge CPUs."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.depthwise = conv_bn(cin, cin, 3, stride, groups=cin, act=False)
        self.pointwise = conv_bn(cin, cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pointwise(self.depthwise(x))
        return x + y if self.residual else y


def stage(cin: int, cout: int, blocks: int) -> nn.Sequential:
    """Downsample by 2, then `blocks` residual separable blocks."""
    return nn.Sequential(Separable(cin, cout, 2), *[Separable(cout, cout) for _ in range(blocks)])


class Detector(nn.Module):
    """Backbone (strides 2..32) + top-down FPN + one shared head per level."""

    def __init__(self, width: int = 64) -> None:
        super().__init__()
        self.stem = nn.Sequential(conv_bn(3, 16, 3, 2), stage(16, 32, 1))  # stride 4
        self.c3 = stage(32, 64, 2)  # stride 8
        self.c4 = stage(64, 96, 2)  # stride 16
        self.c5 = stage(96, 128, 2)  # stride 32
        self.lateral = nn.ModuleList([conv_bn(c, width) for c in (64, 96, 128)])
        self.smooth = nn.ModuleList([Separable(width, width) for _ in STRIDES])
        self.head = nn.Sequential(Separable(width, width), nn.Conv2d(width, OUTPUTS, 1))
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")
        nn.init.constant_(self.head[-1].bias, 0.0)
        nn.init.constant_(self.head[-1].bias[0], -4.6)  # start with ~1% objectness: stable early loss

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Images [N,3,H,W] -> raw maps [N,13,H/s,W/s] for s in STRIDES: what ships (named MAP_NAMES
        in the ONNX file), for any input whose sides are multiples of 32."""
        c3 = self.c3(self.stem(images))
        c4 = self.c4(c3)
        c5 = self.c5(c4)
        p5 = self.lateral[2](c5)
        p4 = self.lateral[1](c4) + self.upsample(p5)
        p3 = self.lateral[0](c3) + self.upsample(p4)
        return [self.head(smooth(p)) for smooth, p in zip(self.smooth, (p3, p4, p5))]


def cell_centres(height: int, width: int, stride: int, device: torch.device) -> torch.Tensor:
    """Pixel centres of a level's cells, row-major [H*W, 2] (x, y)."""
    ys, xs = torch.meshgrid(torch.arange(height, device=device), torch.arange(width, device=device), indexing="ij")
    return (torch.stack([xs, ys], dim=-1).reshape(-1, 2).float() + 0.5) * stride


def flatten_maps(maps: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Raw maps -> (predictions [N,A,13], cell centres [A,2], cell strides [A]) over all levels."""
    preds, centres, strides = [], [], []
    for raw, stride in zip(maps, STRIDES):
        n, c, h, w = raw.shape
        preds.append(raw.reshape(n, c, h * w).transpose(1, 2))
        centres.append(cell_centres(h, w, stride, raw.device))
        strides.append(torch.full((h * w,), float(stride), device=raw.device))
    return torch.cat(preds, 1), torch.cat(centres, 0), torch.cat(strides, 0)


def decode_boxes(preds: torch.Tensor, centres: torch.Tensor, strides: torch.Tensor) -> torch.Tensor:
    """Side distances (log-strides) -> x1, y1, x2, y2 in input pixels, [N,A,4]."""
    ltrb = torch.exp(preds[..., 1:5].clamp(max=MAX_LOG_SIDE)) * strides[:, None]
    return torch.cat([centres - ltrb[..., :2], centres + ltrb[..., 2:]], dim=-1)


def decode_corners(preds: torch.Tensor, centres: torch.Tensor, strides: torch.Tensor) -> torch.Tensor:
    """Corner offsets (strides) -> TL, TR, BR, BL in input pixels, [N,A,8]."""
    return (preds[..., 5:13].reshape(*preds.shape[:2], 4, 2) * strides[:, None, None] + centres[:, None]).flatten(2)

