"""Score a shipped detector as the runtime runs it (all its passes) on the training log's validation sets.

    python -m export.validate_detector --data ../shared/data --fonts ../shared/fonts [--models models] [--seed 777]

Recall and precision at IoU 0.5 on the scenes-ro validation videos and on the synthetic
1280x720 scenes that train_detector validates on (seed 777); another --seed gives a fresh
synthetic set of the same kind. The training log scores the network's first pass alone.
Scored twice: the detector's boxes, and the plates the reader answers, which leave out the
boxes the detector is unsure of and the recognizer reads no characters in (manifest
recognizer.reading_check).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from export.data.assets import load_assets
from export.data.real import load_scenes_ro, split_scenes_ro
from export.train_detector import score_sets, validation_sets
from runtime.boxes import xywh
from runtime.metrics import box_array
from runtime.reader import PlateReader


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=Path, default=None, help="models folder (default: the shipped one)")
    parser.add_argument("--data", type=Path, required=True, help="the shared data folder")
    parser.add_argument("--fonts", type=Path, required=True, help="folder with GL-Nummernschild fonts")
    parser.add_argument("--synthetic", type=int, default=150, help="synthetic scenes (train_detector's --synthetic-val)")
    parser.add_argument("--seed", type=int, default=777, help="synthetic scenes seed (777: the validation set)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    reader = PlateReader(args.models, providers="cpu", threads=args.threads)
    _, val = split_scenes_ro(load_scenes_ro(args.data))
    sets = validation_sets(load_assets(args.data, args.fonts), val, args.synthetic, args.seed)
    scores = {
        "detector": score_sets(lambda image: xywh(reader.detector(image, reader.confidence, reader.iou)), sets),
        "reader": score_sets(lambda image: box_array(reader.read(image)), sets),
    }
    print(json.dumps({"models": str(reader.manifest.root), "seed": args.seed, **scores}, indent=1))


if __name__ == "__main__":
    main()
