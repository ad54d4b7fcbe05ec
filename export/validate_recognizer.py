"""Score a recognizer checkpoint on the validation sets its training logs.

    python -m export.validate_recognizer runs/recognizer_deep/last.pt --data ../shared/data --fonts ../shared/fonts
    python -m export.validate_recognizer --runtime models --data ../shared/data --fonts ../shared/fonts
    python -m export.validate_recognizer --runtime models ... --seed 777000 --synthetic-val 1500

The same figures as the "validate" events of a training log (exact plate and characters on
the real validation crops and on the two synthetic sets), with the sets made by today's code:
a checkpoint trained before the renderer changed is scored on the sets a new run would see.
With --runtime, the exported models in that folder are scored as the runtime reads (ONNX
Runtime, its own greedy loop) instead of a checkpoint's greedy decode.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from export.data.real import load_br_crops, split_br_crops
from export.recognizer import Recognizer
from export.train_recognizer import SYNTHETIC_SEEDS, evaluate, validation_sets
from export.training import load_checkpoint, trained_weights
from runtime.metrics import text_accuracy
from runtime.reader import PlateReader


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path, nargs="?", help="a training checkpoint (or use --runtime)")
    parser.add_argument("--runtime", type=Path, help="a models folder, read as the runtime reads")
    parser.add_argument("--data", type=Path, required=True, help="the shared data folder")
    parser.add_argument("--fonts", type=Path, required=True, help="folder with GL-Nummernschild fonts")
    parser.add_argument("--synthetic-val", type=int, default=600, help="as train_recognizer's option of that name")
    parser.add_argument("--seed", type=int, help="render the synthetic sets from SEED and SEED + 1 instead of the "
                        "training log's: fresh renders, a check on data no figure was reported on")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if (args.checkpoint is None) == (args.runtime is None):
        parser.error("give a checkpoint or --runtime MODELS, one of them")
    _, val = split_br_crops(load_br_crops(args.data))
    sets = validation_sets(args, val, SYNTHETIC_SEEDS if args.seed is None else (args.seed, args.seed + 1))
    if args.runtime is not None:
        reader = PlateReader(args.runtime, providers="cpu", threads=args.threads)
        scores = {name: text_accuracy([r.text for r in reader.recognizer(crops)], texts)
                  for name, (crops, texts) in sets.items()}
        print(json.dumps({"models": str(args.runtime), **scores}, indent=1))
        return
    state = load_checkpoint(args.checkpoint)
    if state is None:
        raise SystemExit(f"no checkpoint at {args.checkpoint}")
    model = Recognizer()
    missing, unexpected = model.load_state_dict(trained_weights(state), strict=False)
    if unexpected or any(".plate_cnn." not in k and ".to_plate." not in k for k in missing):
        raise SystemExit(f"{args.checkpoint} is not a recognizer checkpoint: missing {missing}, unexpected {unexpected}")
    # A checkpoint from before the plate head (session 25) lacks only its weights, which play no part in reading.
    scores = evaluate(model, sets, torch.device("cpu"))
    print(json.dumps({"checkpoint": str(args.checkpoint), "step": state.get("step"), **scores}, indent=1))


if __name__ == "__main__":
    main()
