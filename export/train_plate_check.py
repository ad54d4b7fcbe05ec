"""Train the recognizer's plate head (the plate check) on the frozen, trained recognizer.

    python -m export.train_plate_check --data ../shared/data --fonts ../shared/fonts \
        --init runs/recognizer/last.pt --out runs/plate_check --steps 3000

Every weight of --init stays as it is, so the recognizer reads exactly as before; only the plate
head (export/recognizer.py::Encoder.plate_logit) learns, from the encoder's features, whether a
crop shows a plate. Its crops are cut by the shipped reader (--models) from photos whose plates
are known (export/data/plate_or_not.py; mined once into OUT/bank.npz): plates of both countries'
frames, Brazilian crops and rendered plates against the shop lettering, signs and facades the
detector takes for plates. Each batch is half plates (mined, rendered of both countries' kinds, and
real crops) and half not
(mined, and the busiest plate-shaped windows of plate-free photos), every one seen through
jitter_real's camera. Validation (at every checkpoint) is the share of plates kept and of the rest
dropped at PLATE_SCORE on the dev halves of the same sources, which the check never learns from.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import IterableDataset

from export.data import degrade
from export.data.assets import load_assets
from export.data.plate_or_not import Bank, check_frames, mine, plate_free_photos
from export.data.real import BrCrop, detector_crops, load_br_crops, load_scenes_ro, split_br_crops, split_scenes_ro
from export.recognizer import INPUT_HEIGHT, INPUT_WIDTH, PLATE_SCORE, Recognizer
from export.train_recognizer import P_CUT, crops_to_tensor, jitter_real
from export.training import add_run_arguments, batches, load_checkpoint, start_run, stream_rng
from runtime.reader import PlateReader

# Of the rendered plates, this share are European (plates.py "eu"): the only real foreign plates the
# check sees are one night video's, and it must keep the plates of any street by day too.
P_FOREIGN = 0.4
MINED_SCENES = 1000  # rendered scenes mined for the bank (the dev bank: a quarter as many, another seed)
WINDOW_ASPECTS = (1.2, 4.5)  # width / height of a window: from a two-line plate's shape to a long word


def busiest_window(rng: np.random.Generator, photo: np.ndarray, tries: int = 4) -> np.ndarray:
    """Of `tries` plate-shaped windows of the photo, the one with the strongest edges (text, bars,
    railings: what the detector takes for plates), resized to the recognizer's input."""
    H, W = photo.shape[:2]

    def window() -> tuple[int, int, int, int]:
        h = min(int(rng.uniform(12, max(13.0, 0.3 * H))), H - 2)
        w = int(min(W - 2, h * rng.uniform(*WINDOW_ASPECTS)))
        return int(rng.integers(0, W - w)), int(rng.integers(0, H - h)), w, h

    def edges(win: tuple[int, int, int, int]) -> float:
        x, y, w, h = win
        patch = photo[y:y + h, x:x + w].astype(np.float32)
        return float(np.abs(np.diff(patch, axis=1)).mean() + np.abs(np.diff(patch, axis=0)).mean())

    x, y, w, h = max((window() for _ in range(tries)), key=edges)
    return cv2.resize(photo[y:y + h, x:x + w], (INPUT_WIDTH, INPUT_HEIGHT), interpolation=cv2.INTER_AREA)


class Batches(IterableDataset):
    """Endless (crops, is-plate) batches, half plates and half not."""

    def __init__(self, args: argparse.Namespace, bank: Bank, real: list[Path], photos: list[Path], seed: int) -> None:
        self.args, self.bank, self.real, self.photos, self.seed = args, bank, real, photos, seed

    def __iter__(self):
        rng = stream_rng(self.seed)
        assets = load_assets(self.args.data, self.args.fonts)
        real = [cv2.imread(str(p), cv2.IMREAD_COLOR) for p in self.real]
        photos = [cv2.imread(str(p), cv2.IMREAD_COLOR) for p in self.photos]
        plates, others = np.flatnonzero(self.bank.plate), np.flatnonzero(~self.bank.plate)
        views = self.bank.views.shape[1]
        half = self.args.batch // 2
        while True:
            crops = []
            for _ in range(half):
                draw = rng.random()
                if draw < 0.45:
                    crops.append(jitter_real(rng, self.bank.views[rng.choice(plates), rng.integers(views)]))
                elif draw < 0.8:  # rendered, of every format, foreign ones too: any plate is a plate
                    crops.append(degrade.recognizer_sample(rng, assets, INPUT_WIDTH, INPUT_HEIGHT, p_cut=P_CUT,
                                                           p_foreign=P_FOREIGN)[0])
                else:
                    crops.append(jitter_real(rng, real[rng.integers(len(real))]))
            for _ in range(half):
                if rng.random() < 0.7:
                    crop = self.bank.views[rng.choice(others), rng.integers(views)]
                else:
                    crop = busiest_window(rng, photos[rng.integers(len(photos))])
                crop = jitter_real(rng, crop[:, ::-1] if rng.random() < 0.5 else crop)  # mirrored, still no plate
                crops.append(crop)
            yield crops_to_tensor(crops), torch.tensor([1.0] * half + [0.0] * half)


@torch.no_grad()
def plate_scores(model: Recognizer, views: np.ndarray, device: torch.device) -> np.ndarray:
    """[N,V,H,W,3] crops -> [N] plate score, the mean over each crop's views as the reader takes it."""
    n, v = views.shape[:2]
    flat = list(views.reshape(-1, *views.shape[2:]))
    scores = [model.encoder(crops_to_tensor(flat[i:i + 256]).to(device))[3].cpu() for i in range(0, len(flat), 256)]
    return torch.cat(scores).numpy().reshape(n, v).mean(axis=1)


def evaluate(model: Recognizer, dev: Bank, device: torch.device) -> dict:
    """Per source of the dev bank: plates kept and the rest dropped at PLATE_SCORE."""
    model.eval()
    kept = plate_scores(model, dev.views, device) >= PLATE_SCORE
    scores = {}
    for source in sorted(set(dev.source.tolist())):
        mask = dev.source == source
        for name, label, want in (("plates_kept", True, True), ("others_dropped", False, False)):
            m = mask & (dev.plate == label)
            if m.any():
                scores[f"{source}_{name}"] = f"{int((kept[m] == want).sum())}/{int(m.sum())}"
    return scores


def banks(args: argparse.Namespace, train: list[BrCrop], pasted: list[BrCrop]) -> tuple[Bank, Bank]:
    """The training bank (the check's halves) and the dev bank (the other halves), mined once per run
    with the reader of --models; train: the br-plate-crops train split, pasted: the detector's half of it."""
    paths = args.out / "bank.npz", args.out / "dev_bank.npz"
    if not all(p.exists() for p in paths):
        reader = PlateReader(args.models, providers="cpu", threads=args.threads)
        assets = load_assets(args.data, args.fonts)
        frames = split_scenes_ro(load_scenes_ro(args.data))[0]
        unpasted = [c for c in train if c not in set(pasted)]
        args.out.mkdir(parents=True, exist_ok=True)
        mine(reader, plate_free_photos(args.data), check_frames(frames), pasted, assets, MINED_SCENES,
             seed=2025).save(paths[0])
        mine(reader, plate_free_photos(args.data, mine=False), check_frames(frames, mine=False), unpasted, assets,
             MINED_SCENES // 4, seed=2026).save(paths[1])
    return Bank.load(paths[0]), Bank.load(paths[1])


def head_only(model: Recognizer) -> Recognizer:
    """The model with every weight frozen but the plate head's, and every batch norm but the head's in
    eval mode, so that its statistics stay as trained too: what the recognizer reads cannot change."""
    model.requires_grad_(False)
    model.eval()
    for head in (model.encoder.plate_cnn, model.encoder.to_plate):
        head.requires_grad_(True)
        head.train()
    return model


def plate_loss(model: Recognizer, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of the plate head on a batch; the frozen encoder runs without a graph."""
    encoder = model.encoder
    with torch.no_grad():
        grid = encoder.cnn(images) + encoder.position
    return F.binary_cross_entropy_with_logits(encoder.plate_logit(grid), labels)


def reading_record(args: argparse.Namespace) -> tuple[dict, dict]:
    """The validation scores and training record of the reading weights this run keeps as they are:
    --init's, or on resumption those OUT's checkpoint carried over, so the manifest still has them."""
    last = load_checkpoint(args.out / "last.pt")
    if last is not None:
        return {k: v for k, v in last["scores"].items() if k != "plate_check"}, last["training"]["reading"]
    state = torch.load(args.init, map_location="cpu", weights_only=False)
    return state.get("scores", {}), state.get("training", {})


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (sys.argv's when argv is None)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(parser, out="runs/plate_check", steps=3000, lr=1e-3)
    parser.add_argument("--models", type=Path, default=None, help="the reader whose crops are mined (default: shipped)")
    parser.add_argument("--batch", type=int, default=128)
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    if args.init is None and not (args.out / "last.pt").exists():
        raise SystemExit("--init: the trained recognizer whose plate head this run trains")
    train = split_br_crops(load_br_crops(args.data))[0]
    pasted = detector_crops(train)
    bank, dev = banks(args, train, pasted)
    reading_scores, reading_training = reading_record(args)
    run = start_run(args, head_only(Recognizer()), weight_decay=1e-4, warmup=100)
    run.log(event="start", device=str(run.device), bank=len(bank.plate), bank_plates=int(bank.plate.sum()),
            dev=len(dev.plate), dev_plates=int(dev.plate.sum()), args={k: str(v) for k, v in vars(args).items()})
    stream = Batches(args, bank, [c.path for c in pasted], plate_free_photos(args.data), seed=run.step)
    running = 0.0
    for images, labels in batches(stream, args.workers):
        if run.done():
            break
        loss = plate_loss(run.model, images.to(run.device), labels.to(run.device))
        run.optimise(loss, max_norm=5.0)
        running = 0.98 * running + 0.02 * loss.item() if run.step > 1 else loss.item()
        if run.step % 50 == 0:
            run.log(step=run.step, loss=round(running, 4), lr=run.schedule.get_last_lr()[0])
        if run.due():
            run.save({"plate_check": evaluate(run.average.model, dev, run.device)},
                     {"reading": reading_training, "plate_check": {
                         "bank": len(bank.plate), "bank_plates": int(bank.plate.sum()), "batch": args.batch,
                         "mined_with": str(args.models or "models")}},
                     carried=reading_scores)


if __name__ == "__main__":
    main()
