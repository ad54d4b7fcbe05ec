"""Throughput of the synthetic data generators on one core: OMP_NUM_THREADS=1 python bench/bench_data.py.

With --batches N, also each trainer's own batch stream (its default batch, real data mixed in) for N
batches: how many steps a second one rendering worker feeds (export/gpu_train.sh sizes its workers by it).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from export.data.assets import load_assets  # noqa: E402
from export.data.degrade import recognizer_sample  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000, help="recognizer crops to time")
    ap.add_argument("--scenes", type=int, default=50, help="scenes to time (if export.data.scenes exists)")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--fonts", type=Path, default=ROOT.parent / "shared" / "fonts")
    ap.add_argument("--batches", type=int, default=0, help="training batches of each trainer to time (needs torch)")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    t = time.perf_counter()
    assets = load_assets(args.data, args.fonts)
    print(f"load_assets: {time.perf_counter() - t:.2f} s")
    rng = np.random.default_rng(0)
    for _ in range(20):  # warm-up (noise bank, caches)
        recognizer_sample(rng, assets, 144, 48)
    t = time.perf_counter()
    for _ in range(args.n):
        recognizer_sample(rng, assets, 144, 48)
    dt = time.perf_counter() - t
    print(f"recognizer_sample 144x48: {args.n / dt:.0f} crops/s ({1000 * dt / args.n:.2f} ms/crop)")
    if importlib.util.find_spec("export.data.scenes") is not None and args.scenes > 0:
        from export.data.scenes import render_scene
        render_scene(rng, assets)
        t = time.perf_counter()
        for _ in range(args.scenes):
            render_scene(rng, assets, width=640, height=640)
        dt = time.perf_counter() - t
        print(f"render_scene 640x640: {args.scenes / dt:.1f} scenes/s")
    if args.batches > 0:
        time_training_batches(args.data, args.fonts, args.batches)


def time_training_batches(data: Path, fonts: Path, n: int) -> None:
    """Batches per second of each trainer's stream, rendered in this process."""
    from export import train_detector, train_recognizer
    from export.data.real import detector_crops, load_br_crops, load_scenes_ro, split_br_crops, split_scenes_ro
    paths = ["--data", str(data), "--fonts", str(fonts)]
    streams = {
        "detector": train_detector.Batches(train_detector.parse_args(paths), split_scenes_ro(load_scenes_ro(data))[0],
                                           detector_crops(split_br_crops(load_br_crops(data))[0]), 0),
        "recognizer": train_recognizer.Batches(train_recognizer.parse_args(paths), split_br_crops(load_br_crops(data))[0], 0),
    }
    for name, stream in streams.items():
        batches = iter(stream)
        next(batches)  # assets loaded, caches warm
        t = time.perf_counter()
        for _ in range(n):
            next(batches)
        print(f"{name} training batches: {n / (time.perf_counter() - t):.2f} /s")


if __name__ == "__main__":
    main()
