"""How the recognizer reads plates cut short: rendered plates (readable draws, one- and two-line)
cut along their exact corners, and along corners whose top, bottom or both edges are moved into the plate.

    python bench/crop_cuts.py [--data ../shared/data] [--fonts ../shared/fonts] [--models DIR] [--count 300]

A detector whose corners sit a few percent inside a plate's edge hands the recognizer such crops:
the detector fine-tuned on turned plates in session 20 cut two-line plates 3 to 12% short of the
shipped one's corners, and read them worse (docs/history.md). The crop is the plate's quad
rectified to the recognizer's input by runtime/crops.py, with no margin.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from export.data.assets import load_assets  # noqa: E402
from export.data.degrade import camera_view, cut_short  # noqa: E402
from export.data.plates import render_plate  # noqa: E402
from runtime import PlateReader  # noqa: E402
from runtime.crops import rectify  # noqa: E402
from runtime.evaluate import DEFAULT_DATA  # noqa: E402

CUTS = (("none", 0.0), ("top", 0.04), ("top", 0.08), ("top", 0.12), ("bottom", 0.04), ("bottom", 0.08), ("both", 0.08))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--fonts", type=Path, default=DEFAULT_DATA.parent / "fonts")
    parser.add_argument("--models", default=None)
    parser.add_argument("--count", type=int, default=300, help="plates of each layout")
    parser.add_argument("--seed", type=int, default=4040)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    assets = load_assets(args.data, args.fonts)
    reader = PlateReader(args.models, providers="cpu", threads=args.threads)
    width, height = reader.recognizer.spec.width, reader.recognizer.spec.height
    print(f"plates read exactly of {args.count} rendered per layout (seed {args.seed}), cut along their corners")
    print("| layout | " + " | ".join(f"{edge} {fraction:.0%}" if fraction else "exact" for edge, fraction in CUTS) + " |")
    print("|---" * (len(CUTS) + 1) + "|")
    for two_line in (False, True):
        rng = np.random.default_rng(args.seed + two_line)
        views = []
        for _ in range(args.count):
            plate = render_plate(rng, assets, two_line=two_line)
            views.append((*camera_view(rng, assets, plate, readable=True), plate.text))
        row = []
        for edge, fraction in CUTS:
            crops = [rectify(canvas, cut_short(corners, edge, fraction), width, height) for canvas, corners, _ in views]
            row.append(sum(r.text == text for r, (_, _, text) in zip(reader.recognizer(crops), views)))
        print(f"| {'two' if two_line else 'one'}-line | " + " | ".join(map(str, row)) + " |")


if __name__ == "__main__":
    main()
