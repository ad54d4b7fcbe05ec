"""What every training script shares: device and threads, checkpoints with resumption, logs."""
from __future__ import annotations

import argparse
import copy
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info


def pick_device(threads: int) -> torch.device:
    """CUDA when present; else the CPU with a bounded thread count (2 cores are shared)."""
    torch.set_num_threads(threads)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def to_tensor(images: list[np.ndarray], mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """BGR uint8 images -> RGB NCHW float32, x/255 then (x - mean) / std, as the runtime feeds the models."""
    batch = np.stack(images)[..., ::-1].astype(np.float32) / 255.0
    batch = (batch - np.array(mean, np.float32)) / np.array(std, np.float32)
    return torch.from_numpy(np.ascontiguousarray(batch.transpose(0, 3, 1, 2)))


def cosine_lr(step: int, total: int, warmup: int) -> float:
    """Linear warm-up then cosine decay to 2% of the peak: a factor for LambdaLR."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.02 + 0.98 * 0.5 * (1.0 + math.cos(math.pi * progress))


def save_checkpoint(path: Path, **state: object) -> None:
    """Atomic save, so a run killed mid-write still resumes from the previous checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path) -> dict | None:
    """The saved state, or None when there is nothing to resume."""
    return torch.load(path, map_location="cpu", weights_only=False) if path.exists() else None


def trained_weights(state: dict) -> dict:
    """The weights a checkpoint ships: the weight average where the run kept one."""
    return state["average"] if "average" in state else state["model"]


class WeightAverage:
    """Exponential moving average of a model's weights, the copy that is validated and exported.

    The weights of the last steps disagree by a point or two of accuracy from one checkpoint
    to the next; their running average is steadier and usually better than any one of them.
    Buffers (batch-norm statistics) are averaged alike.
    """

    def __init__(self, model: torch.nn.Module, decay: float = 0.999) -> None:
        self.model = copy.deepcopy(model).eval()
        self.model.requires_grad_(False)
        self.decay = decay

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        for mine, theirs in zip(self.model.state_dict().values(), model.state_dict().values()):
            if mine.dtype.is_floating_point:
                mine.lerp_(theirs, 1.0 - self.decay)
            else:
                mine.copy_(theirs)


def start_from(path: Path, model: torch.nn.Module) -> list[str]:
    """Begin a new run (fresh optimiser and schedule) from another run's trained weights.

    Layers the checkpoint lacks keep their new initialisation and are named in the result;
    a weight the model has no place for is an error, not something to drop silently.
    """
    missing, unexpected = model.load_state_dict(trained_weights(torch.load(path, map_location="cpu",
                                                                           weights_only=False)), strict=False)
    if unexpected:
        raise ValueError(f"{path} holds weights this model does not have: {unexpected}")
    return missing


def origin(out: Path, init: Path | None) -> str | None:
    """Where a run's weights began, for its training record: the --init checkpoint of a new run,
    or, once the run has checkpoints, what they recorded (resuming ignores --init)."""
    last = load_checkpoint(out / "last.pt")
    if last is not None:
        return last.get("training", {}).get("started_from")
    if init is None:
        return None
    state = torch.load(init, map_location="cpu", weights_only=False)
    before = state.get("training", {}).get("started_from")
    return f"{init} at step {state['step']}" + (f", which started from {before}" if before else "")


def begin(out: Path, init: Path | None, model: torch.nn.Module, log: Log) -> str | None:
    """A new run given --init takes that checkpoint's weights (logged with the layers it
    lacked); every run gets the origin its training record keeps (see origin)."""
    if init is not None and not (out / "last.pt").exists():
        log(event="init", checkpoint=str(init), fresh=start_from(init, model))
    return origin(out, init)


def resume(path: Path, model: torch.nn.Module, optimiser: torch.optim.Optimizer,
           schedule: torch.optim.lr_scheduler.LRScheduler, average: WeightAverage) -> int:
    """Restore a run from its last checkpoint; the step to continue from (0 for a new run).

    A checkpoint written before weight averaging existed starts the average at its weights.
    """
    state = load_checkpoint(path)
    if not state:
        return 0
    model.load_state_dict(state["model"])
    average.model.load_state_dict(trained_weights(state))
    optimiser.load_state_dict(state["optimiser"])
    schedule.load_state_dict(state["schedule"])
    return state["step"]


class Log:
    """Appends one JSON object per event to log.jsonl and echoes it, with elapsed time."""

    def __init__(self, run_dir: Path) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        self.path = run_dir / "log.jsonl"
        self.start = time.time()

    def __call__(self, **fields: object) -> None:
        fields = {"time_s": round(time.time() - self.start, 1), **fields}
        line = json.dumps(fields)
        print(line, flush=True)
        with self.path.open("a") as f:
            f.write(line + "\n")


def add_run_arguments(parser: argparse.ArgumentParser, out: str, steps: int, lr: float) -> None:
    """The options every trainer takes: data and fonts in, the run folder, its length and resumption."""
    parser.add_argument("--data", type=Path, required=True, help="the shared data folder")
    parser.add_argument("--fonts", type=Path, required=True, help="folder with GL-Nummernschild fonts")
    parser.add_argument("--out", type=Path, default=Path(out))
    parser.add_argument("--init", type=Path, help="a checkpoint whose weights a new run starts from "
                        "(fresh learning-rate schedule); ignored when OUT has a run to resume")
    parser.add_argument("--steps", type=int, default=steps)
    parser.add_argument("--lr", type=float, default=lr)
    parser.add_argument("--every", type=int, default=500, help="checkpoint and validate every N steps")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--workers", type=int, default=0, help="0: render batches in-process between steps; "
                        "each worker renders on one more core (a GPU trains faster than one core renders)")
    parser.add_argument("--minutes", type=float, help="stop after this many minutes, checkpointed whatever "
                        "--steps says (a lent machine's time is bounded); run again to go on")


def batches(stream: IterableDataset, workers: int) -> DataLoader:
    """Iterate a dataset that yields whole batches, rendered by `workers` processes (0: this one).
    (torch 2.13 CPU: a worker sometimes aborts as it exits, 'terminate called without an active
    exception', once the run has checkpointed and let go of its loader; harmless.)"""
    return DataLoader(stream, batch_size=None, num_workers=workers, prefetch_factor=4 if workers else None,
                      multiprocessing_context="spawn" if workers else None)


def stream_rng(seed: int) -> np.random.Generator:
    """The random source of one batch stream: its seed and the DataLoader worker it runs in, so that
    workers render different batches and a resumed run (seeded with its step) new ones."""
    info = get_worker_info()
    cv2.setNumThreads(1)
    return np.random.default_rng([seed, info.id if info else 0])


@dataclass
class Run:
    """One training run: the model, its optimiser, schedule and weight average, the step it is at."""

    args: argparse.Namespace
    log: Log
    device: torch.device
    model: torch.nn.Module
    optimiser: torch.optim.Optimizer
    schedule: torch.optim.lr_scheduler.LRScheduler
    average: WeightAverage
    step: int
    started_from: str | None
    deadline: float | None  # time.monotonic() at which --minutes runs out
    stopping: bool = False  # latched by due() once the deadline has passed

    def optimise(self, loss: torch.Tensor, max_norm: float) -> None:
        """One AdamW step on the loss (gradients clipped), then the schedule and the average."""
        self.optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm)
        self.optimiser.step()
        self.schedule.step()
        self.average.update(self.model)
        self.step += 1

    def due(self) -> bool:
        """Whether this step checkpoints and validates: every --every steps, the last, and the first
        once --minutes has run out (after which the run is stopping)."""
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self.stopping = True
        return self.stopping or self.step % self.args.every == 0 or self.step == self.args.steps

    def done(self) -> bool:
        """Whether the loop ends: --steps reached, or --minutes spent and checkpointed by due()."""
        return self.step >= self.args.steps or self.stopping

    def save(self, scores: dict, training: dict, carried: dict | None = None) -> None:
        """Checkpoint everything resumption needs, with the scores and the training record. carried:
        scores of weights this run keeps frozen, measured by an earlier run: saved with the checkpoint
        (the export writes them to the manifest) but not logged, as this run did not measure them."""
        save_checkpoint(self.args.out / "last.pt", model=self.model.state_dict(),
                        average=self.average.model.state_dict(), optimiser=self.optimiser.state_dict(),
                        schedule=self.schedule.state_dict(), step=self.step, scores={**(carried or {}), **scores},
                        training={"started_from": self.started_from, "steps": self.step, **training})
        self.log(event="validate", step=self.step, **scores)


def start_run(args: argparse.Namespace, model: torch.nn.Module, weight_decay: float, warmup: int) -> Run:
    """Device, log, --init weights, AdamW with a cosine schedule, the average, and the last
    checkpoint of OUT when there is one to resume."""
    device = pick_device(args.threads)
    cv2.setNumThreads(1)
    log = Log(args.out)
    started_from = begin(args.out, args.init, model, log)
    model.to(device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: cosine_lr(s, args.steps, warmup))
    average = WeightAverage(model)
    step = resume(args.out / "last.pt", model, optimiser, schedule, average)
    if step:
        log(event="resume", step=step)
    deadline = None if args.minutes is None else time.monotonic() + 60 * args.minutes
    return Run(args, log, device, model, optimiser, schedule, average, step, started_from, deadline)
