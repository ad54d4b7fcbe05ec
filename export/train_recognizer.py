"""Train the attention OCR on rendered plates mixed with the train split of real crops.

    python -m export.train_recognizer --data ../shared/data --fonts ../shared/fonts \
        --out runs/recognizer --steps 6000

Runs on the CPU in the background (CUDA when present), checkpoints to OUT/last.pt every
--every steps and resumes from it when started again with the same OUT. A running average
of the weights (training.WeightAverage) is what is validated and exported. Validation (logged
at every checkpoint) is exact-plate and character accuracy on the real validation split
(plates whose text never appears in training) and on a fixed synthetic set of all formats.
"""
from __future__ import annotations

import argparse

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import IterableDataset

from export.data.assets import load_assets
from export.data import degrade
from export.data.real import BrCrop, load_br_crops, split_br_crops
from export.recognizer import INPUT_HEIGHT, INPUT_WIDTH, MEAN, STD, Recognizer, encode_targets
from export.training import add_run_arguments, batches, start_run, stream_rng, to_tensor
from runtime.metrics import text_accuracy


# A detector's corners may sit inside the plate; two-line plates cut a few percent short read badly
# unless training showed them so (bench/crop_cuts.py, session 20): this share of rendered crops is cut.
P_CUT = 0.25


def crops_to_tensor(crops: list[np.ndarray]) -> torch.Tensor:
    """Recognizer-sized BGR crops -> the encoder's input."""
    return to_tensor(crops, MEAN, STD)


def jitter_real(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """A real crop as another camera and a detector would give it: each corner moved (shift,
    scale, tilt, perspective), fewer pixels, blur, another white balance, noise and JPEG.
    The real crops are few (419 plates), so each must look different every time it is drawn."""
    h, w = image.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    move = rng.uniform(-0.05, 0.05, 2) * (w, h) + rng.normal(0, 0.025, (4, 2)) * (w, h)
    matrix = cv2.getPerspectiveTransform(src, (src + move).astype(np.float32))
    out = cv2.warpPerspective(image, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE)
    if rng.random() < 0.3:  # a smaller plate in the frame: detail lost, then stretched back
        factor = rng.uniform(0.35, 0.8)
        small = cv2.resize(out, (max(8, int(w * factor)), max(4, int(h * factor))), interpolation=cv2.INTER_AREA)
        out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.3:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.3, 1.2))
    gain = rng.uniform(0.6, 1.4, 3) if rng.random() < 0.5 else np.full(3, rng.uniform(0.6, 1.4))
    out = np.clip(out.astype(np.float32) * gain + rng.uniform(-25, 25), 0, 255).astype(np.uint8)
    if rng.random() < 0.2:
        out = cv2.cvtColor(cv2.cvtColor(out, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    if rng.random() < 0.3:
        out = degrade.noise(rng, out)
    if rng.random() < 0.3:
        out = degrade.jpeg(rng, out, 30, 90)
    return cv2.resize(out, (INPUT_WIDTH, INPUT_HEIGHT), interpolation=cv2.INTER_AREA)


def read_crops(items: list[BrCrop]) -> list[np.ndarray]:
    """Decode real crops once: the training set is small enough to stay in memory."""
    return [cv2.imread(str(item.path), cv2.IMREAD_COLOR) for item in items]


def plain_crops(items: list[BrCrop]) -> list[np.ndarray]:
    """Real crops resized to the recognizer's input and nothing else, as validation reads them."""
    return [cv2.resize(im, (INPUT_WIDTH, INPUT_HEIGHT), interpolation=cv2.INTER_AREA) for im in read_crops(items)]


class Batches(IterableDataset):
    """Endless batches: a fraction `real` of real train crops, the rest freshly rendered."""

    def __init__(self, args: argparse.Namespace, real: list[BrCrop], seed: int) -> None:
        self.args, self.real, self.seed = args, real, seed

    def __iter__(self):
        rng = stream_rng(self.seed)
        assets = load_assets(self.args.data, self.args.fonts)
        images = read_crops(self.real)
        while True:
            crops, texts = [], []
            for _ in range(self.args.batch):
                if images and rng.random() < self.args.real_fraction:
                    i = int(rng.integers(len(images)))
                    crops.append(jitter_real(rng, images[i]))
                    texts.append(self.real[i].text)
                else:
                    crop, text = degrade.recognizer_sample(rng, assets, INPUT_WIDTH, INPUT_HEIGHT, p_cut=P_CUT)
                    crops.append(crop)
                    texts.append(text)
            yield crops_to_tensor(crops), texts


ValSet = tuple[list[np.ndarray], list[str]]  # recognizer-sized BGR crops and their texts


SYNTHETIC_SEEDS = (12345, 54321)  # the training log's synthetic sets: every draw, readable draws


def validation_sets(args: argparse.Namespace, val: list[BrCrop],
                    seeds: tuple[int, int] = SYNTHETIC_SEEDS) -> dict[str, ValSet]:
    """Real validation crops (plain resize), and fixed synthetic sets of every format: all of
    the renderer's draws, and only readable ones (see degrade.recognizer_sample)."""
    assets = load_assets(args.data, args.fonts)
    sets = {"real_val": (plain_crops(val), [v.text for v in val])}
    for name, seed, readable in zip(("synthetic_val", "synthetic_readable_val"), seeds, (False, True)):
        rng = np.random.default_rng(seed)
        rendered = [degrade.recognizer_sample(rng, assets, INPUT_WIDTH, INPUT_HEIGHT, readable)
                    for _ in range(args.synthetic_val)]
        sets[name] = ([c for c, _ in rendered], [t for _, t in rendered])
    return sets


def evaluate(model: Recognizer, sets: dict[str, ValSet], device: torch.device) -> dict:
    """Greedy-decode each validation set on the training device and score it the way the evaluator does."""
    model.eval()
    scores = {}
    for name, (crops, texts) in sets.items():
        predictions = []
        for start in range(0, len(texts), 256):
            predictions += [t for t, _ in model.greedy(crops_to_tensor(crops[start : start + 256]).to(device))]
        scores[name] = text_accuracy(predictions, texts)
    return scores


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (sys.argv's when argv is None)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(parser, out="runs/recognizer", steps=6000, lr=2e-3)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--real-fraction", type=float, default=0.35)
    parser.add_argument("--synthetic-val", type=int, default=600)
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()

    train, val = split_br_crops(load_br_crops(args.data))
    run = start_run(args, Recognizer(), weight_decay=1e-4, warmup=300)
    sets = validation_sets(args, val)
    run.log(event="start", device=str(run.device), train_crops=len(train), val_crops=len(val),
            args={k: str(v) for k, v in vars(args).items()})
    running = 0.0
    for images, texts in batches(Batches(args, train, seed=run.step), args.workers):
        if run.done():
            break
        inputs, targets = encode_targets(texts)
        logits = run.model(images.to(run.device), inputs.to(run.device))
        loss = F.cross_entropy(logits.flatten(0, 1), targets.to(run.device).flatten(), label_smoothing=0.05)
        run.optimise(loss, max_norm=5.0)
        running = 0.98 * running + 0.02 * loss.item() if run.step > 1 else loss.item()
        if run.step % 50 == 0:
            run.log(step=run.step, loss=round(running, 4), lr=run.schedule.get_last_lr()[0])
        if run.due():
            run.save(evaluate(run.average.model, sets, run.device),
                     {"train_crops": len(train), "batch": args.batch, "real_fraction": args.real_fraction})

if __name__ == "__main__":
    main()
