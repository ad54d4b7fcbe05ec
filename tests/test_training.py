"""Training helpers that need torch (skipped where only the runtime is installed, as in CI)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from export.layers import Residual  # noqa: E402
from export.training import (  # noqa: E402
    Log, WeightAverage, add_run_arguments, begin, load_checkpoint, origin, resume, save_checkpoint, start_from, start_run,
    trained_weights)


def _net() -> "torch.nn.Module":
    return torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))


def test_average_moves_toward_the_model_by_one_minus_decay() -> None:
    model = _net()
    average = WeightAverage(model, decay=0.9)
    before = average.model[0].weight.clone()
    with torch.no_grad():
        model[0].weight.add_(1.0)
    model(torch.randn(4, 3))  # batch-norm running stats and its step counter move
    average.update(model)
    assert torch.allclose(average.model[0].weight, before + 0.1)
    assert int(average.model[1].num_batches_tracked) == int(model[1].num_batches_tracked) == 1
    assert not any(p.requires_grad for p in average.model.parameters())


def test_resume_restores_the_average_or_starts_it_at_old_weights(tmp_path) -> None:
    model, other = _net(), _net()
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: 1.0)
    common = dict(optimiser=optimiser.state_dict(), schedule=schedule.state_dict(), step=7)
    save_checkpoint(tmp_path / "old.pt", model=model.state_dict(), **common)  # before weight averaging
    save_checkpoint(tmp_path / "new.pt", model=model.state_dict(), average=other.state_dict(), **common)

    for name, expected in (("old.pt", model), ("new.pt", other)):
        average = WeightAverage(_net())
        assert resume(tmp_path / name, _net(), optimiser, schedule, average) == 7
        assert torch.equal(average.model[0].weight, expected[0].weight)
    assert trained_weights({"model": 1, "average": 2}) == 2 and trained_weights({"model": 1}) == 1
    assert trained_weights({"average": 2}) == 2


def test_a_new_residual_block_computes_the_identity_until_trained() -> None:
    block = Residual(4).eval()
    x = torch.rand(2, 4, 5, 6)  # non-negative, as the ReLU output it follows
    assert torch.equal(block(x), x)
    block.body[1][1].weight.data.fill_(1.0)
    assert not torch.equal(block(x), x)


def test_start_from_loads_shared_layers_and_names_the_new_ones(tmp_path) -> None:
    small = torch.nn.Sequential(torch.nn.Linear(3, 2))
    save_checkpoint(tmp_path / "small.pt", average=small.state_dict(), step=5)
    grown = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Linear(2, 2))
    assert start_from(tmp_path / "small.pt", grown) == ["1.weight", "1.bias"]
    assert torch.equal(grown[0].weight, small[0].weight)
    with pytest.raises(ValueError, match="does not have"):
        start_from(tmp_path / "small.pt", torch.nn.Sequential(torch.nn.Identity(), torch.nn.Linear(3, 2)))


def test_origin_names_the_init_checkpoint_then_keeps_what_the_run_recorded(tmp_path) -> None:
    save_checkpoint(tmp_path / "base.pt", average={}, step=11500)
    assert origin(tmp_path / "run", None) is None
    assert origin(tmp_path / "run", tmp_path / "base.pt") == f"{tmp_path / 'base.pt'} at step 11500"
    save_checkpoint(tmp_path / "run" / "last.pt", step=500, training={"started_from": "base at step 11500"})
    assert origin(tmp_path / "run", tmp_path / "other.pt") == "base at step 11500"
    assert origin(tmp_path / "next", tmp_path / "run" / "last.pt") == (
        f"{tmp_path / 'run' / 'last.pt'} at step 500, which started from base at step 11500")


def test_begin_takes_init_weights_only_for_a_new_run(tmp_path) -> None:
    base = torch.nn.Sequential(torch.nn.Linear(3, 2))
    save_checkpoint(tmp_path / "base.pt", average=base.state_dict(), step=9)
    model = torch.nn.Sequential(torch.nn.Linear(3, 2))
    assert begin(tmp_path / "run", tmp_path / "base.pt", model, Log(tmp_path / "run")) == f"{tmp_path / 'base.pt'} at step 9"
    assert torch.equal(model[0].weight, base[0].weight)
    save_checkpoint(tmp_path / "run" / "last.pt", step=3, training={"started_from": "base"})
    other = torch.nn.Sequential(torch.nn.Linear(3, 2))
    before = other[0].weight.clone()
    assert begin(tmp_path / "run", tmp_path / "base.pt", other, Log(tmp_path / "run")) == "base"
    assert torch.equal(other[0].weight, before)  # resuming: the run's own checkpoint decides


def test_a_run_checkpoints_when_due_and_resumes_where_it_stopped(tmp_path) -> None:
    parser = argparse.ArgumentParser()
    add_run_arguments(parser, out="unused", steps=4, lr=0.1)
    args = parser.parse_args(["--data", "d", "--fonts", "f", "--out", str(tmp_path / "run"), "--every", "2", "--threads", "1"])
    run = start_run(args, _net(), weight_decay=0.0, warmup=1)
    assert run.step == 0
    for _ in range(2):
        run.optimise(run.model(torch.randn(4, 3)).square().mean(), max_norm=1.0)
    assert run.step == 2 and run.due()
    run.save({"val": 1.0}, {"batch": 4}, carried={"frozen_val": 0.5})
    state = load_checkpoint(tmp_path / "run" / "last.pt")
    assert state["step"] == 2 and state["training"] == {"started_from": None, "steps": 2, "batch": 4}
    # Scores carried over from the run that trained frozen weights are kept for the manifest, but the
    # log shows only what this run measured (a plate head's log once reprinted the recognizer's val figures).
    assert state["scores"] == {"frozen_val": 0.5, "val": 1.0}
    logged = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [e for e in logged if e.get("event") == "validate"][-1].keys() == {"time_s", "event", "step", "val"}

    again = start_run(args, _net(), weight_decay=0.0, warmup=1)
    assert again.step == 2 and again.schedule.last_epoch == 2
    assert torch.equal(again.model[0].weight, run.model[0].weight)
    assert torch.equal(again.average.model[0].weight, run.average.model[0].weight)
    again.optimise(again.model(torch.randn(4, 3)).square().mean(), max_norm=1.0)
    assert again.step == 3 and not again.due()


def test_a_run_out_of_minutes_checkpoints_its_step_and_stops(tmp_path) -> None:
    parser = argparse.ArgumentParser()
    add_run_arguments(parser, out="unused", steps=100, lr=0.1)
    base = ["--data", "d", "--fonts", "f", "--out", str(tmp_path / "run"), "--every", "50", "--threads", "1"]
    timeless = start_run(parser.parse_args(base), _net(), weight_decay=0.0, warmup=1)
    timeless.optimise(timeless.model(torch.randn(4, 3)).square().mean(), max_norm=1.0)
    assert not timeless.due() and not timeless.done()
    run = start_run(parser.parse_args(base + ["--minutes", "0"]), _net(), weight_decay=0.0, warmup=1)
    assert not run.done()  # nothing is checkpointed yet: the step in hand must be saved first
    run.optimise(run.model(torch.randn(4, 3)).square().mean(), max_norm=1.0)
    assert run.due() and run.done()
    run.save({}, {})
    assert load_checkpoint(tmp_path / "run" / "last.pt")["step"] == 1


def test_batch_streams_differ_by_seed_and_worker() -> None:
    from export.training import stream_rng
    assert stream_rng(3).random() == stream_rng(3).random() != stream_rng(4).random()


def test_detector_batches_cut_every_fourth_at_the_input_height(monkeypatch) -> None:
    from export import train_detector as module
    from export.data.scenes import Scene
    monkeypatch.setattr(module, "load_assets", lambda data, fonts: None)
    monkeypatch.setattr(module, "sample", lambda rng, assets, size, real: Scene(
        np.zeros((size, size, 3), np.uint8), []))
    args = argparse.Namespace(data="absent", fonts=None, batch=2, size=320)
    stream = iter(module.Batches(args, [], [], seed=0))
    shapes = [tuple(next(stream)[0].shape) for _ in range(8)]
    large = (2, 3, module.INPUT_HEIGHT, module.INPUT_HEIGHT)
    assert shapes == [(2, 3, 320, 320)] * 3 + [large] + [(2, 3, 320, 320)] * 3 + [large]
    images, targets = next(stream)
    assert len(targets) == 2 and targets[0].boxes.shape == (0, 4)


def test_validate_recognizer_scores_a_checkpoint_on_the_training_log_sets(tmp_path, monkeypatch, capsys) -> None:
    shared = Path(__file__).resolve().parents[2] / "shared"
    if not shared.is_dir():
        pytest.skip("shared data folder absent")
    from export import validate_recognizer
    from export.recognizer import Recognizer
    torch.save({"model": Recognizer().state_dict(), "step": 7}, tmp_path / "last.pt")
    monkeypatch.setattr("sys.argv", ["validate_recognizer", str(tmp_path / "last.pt"), "--data", str(shared / "data"),
                                     "--fonts", str(shared / "fonts"), "--synthetic-val", "5", "--threads", "1"])
    validate_recognizer.main()
    scores = json.loads(capsys.readouterr().out)
    assert scores["step"] == 7
    assert [scores[k]["count"] for k in ("real_val", "synthetic_val", "synthetic_readable_val")] == [230, 5, 5]
    assert scores["real_val"]["exact"] == 0.0  # an untrained network reads no plate


def test_validation_sets_render_the_log_sets_unless_given_other_seeds() -> None:
    shared = Path(__file__).resolve().parents[2] / "shared"
    if not shared.is_dir():
        pytest.skip("shared data folder absent")
    from export.train_recognizer import validation_sets
    args = argparse.Namespace(data=shared / "data", fonts=shared / "fonts", synthetic_val=4)

    def texts(*seeds: tuple[int, int]) -> dict[str, list[str]]:
        return {name: labels for name, (_, labels) in validation_sets(args, [], *seeds).items()}

    logged, fresh = texts(), texts((777000, 777001))
    assert texts() == logged  # the training log's sets are the same every time
    assert logged["real_val"] == fresh["real_val"] == []
    assert logged["synthetic_val"] != fresh["synthetic_val"]
    assert logged["synthetic_readable_val"] != fresh["synthetic_readable_val"]


def test_a_photo_negative_is_a_plate_free_crop_of_the_photo_near_the_letterbox_scale() -> None:
    from export import train_detector as module
    photo = np.tile((120 + np.arange(640) // 5).astype(np.uint8)[None, :], (480, 1))  # a 640x480 ramp, never the pad grey
    rng = np.random.default_rng(0)
    for size in (320, module.INPUT_HEIGHT):
        scene = module.photo_negative(rng, size, [photo])
        assert scene.image.shape == (size, size, 3) and scene.plates == []
        assert (scene.image[..., 0] == scene.image[..., 2]).all()  # grey, as the photo is
        row = scene.image[0, :, 0].astype(int)
        steps = np.diff(row[row != module.PAD_VALUE])
        assert steps.size and (steps >= 0).all()  # the photo's ramp, resized, not noise
