"""Training helpers that need torch (skipped where only the runtime is installed, as in CI)."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from export.training import WeightAverage, resume, save_checkpoint, trained_weights  # noqa: E402


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
