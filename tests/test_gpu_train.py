"""export/gpu_train.sh: what it asks of the trainers, checked without a GPU or training."""
from __future__ import annotations

import importlib
import os
import shlex
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("torch")  # the trainers import it; the runtime-only CI has none

ROOT = Path(__file__).resolve().parents[1]


def test_the_gpu_script_runs_both_trainers_with_options_they_take(tmp_path) -> None:
    calls = tmp_path / "calls"
    stub = tmp_path / "python"
    stub.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    stub.chmod(0o755)
    env = {**os.environ, "PY": str(stub), "OUT": str(tmp_path / "out"), "RUNS": str(tmp_path / "runs"), "MINUTES": "2"}
    done = subprocess.run(["bash", "export/gpu_train.sh"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lines = [shlex.split(line) for line in calls.read_text().splitlines() if line.startswith("-m ")]
    assert sorted(line[1] for line in lines) == ["export.train_detector", "export.train_recognizer"]
    for line in lines:
        args = importlib.import_module(line[1]).parse_args(line[2:])
        assert args.minutes == 2 and args.workers > 0 and args.init.name.startswith("shipped_")
        assert args.steps > args.every > 0 and args.out.parent == tmp_path / "runs"
