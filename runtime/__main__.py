"""Command line: python -m runtime IMAGE_OR_DIR ... [--models DIR] [--providers auto] [--threads 2] [--draw OUT_DIR]

Prints one JSON line per image: {"image": path, "plates": [...], "ms": ...} or {"image": path, "error": ...}.
Exit status 1 if any image could not be read.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import cv2

from .draw import draw_results
from .image import ImageError
from .providers import CHOICES
from .reader import PlateReader

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def expand(inputs: list[str]) -> list[Path]:
    """Files as given; directories -> their image files, sorted (not recursive)."""
    paths: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            paths.extend(sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()))
        else:
            paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m runtime", description="Read licence plates in images.")
    p.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR")
    p.add_argument("--models", default=None, help="models folder (default: $PLATES_MODELS or ./models)")
    p.add_argument("--providers", default="auto", choices=CHOICES)
    p.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads")
    p.add_argument("--draw", metavar="OUT_DIR", default=None, help="write annotated images here")
    p.add_argument("--verbose", action="store_true", help="log provider and load time to stderr")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)

    reader = PlateReader(args.models, providers=args.providers, threads=args.threads)
    out_dir = Path(args.draw) if args.draw else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    failed = 0
    for path in expand(args.inputs):
        started = time.perf_counter()
        try:
            analysis = reader.analyze(path)
        except ImageError as exc:
            failed += 1
            print(json.dumps({"image": str(path), "error": str(exc)}), flush=True)
            continue
        ms = (time.perf_counter() - started) * 1e3
        record = {"image": str(path), "plates": [r.to_dict() for r in analysis.plates], "ms": round(ms, 2)}
        if out_dir is not None:
            target = out_dir / f"{path.stem}.jpg"
            cv2.imwrite(str(target), draw_results(analysis.image, analysis.plates))
            record["drawn"] = str(target)
        print(json.dumps(record), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
