import pytest
import torch
from torch import nn

from vidgen_edu.checkpoints import (
    CheckpointError,
    cache_path,
    cached_train,
    fingerprint,
    load_checkpoint,
    read_info,
    save_checkpoint,
)


def _net():
    return nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2))


def test_round_trip_restores_identical_outputs(tmp_path):
    torch.manual_seed(0)
    a, b = _net(), _net()
    path = save_checkpoint(a, tmp_path / "sub" / "net.pt")
    assert path.exists()
    assert not list(path.parent.glob("*.tmp"))  # the temporary file was renamed, not left behind
    load_checkpoint(path, b)
    x = torch.randn(4, 3)
    assert torch.equal(a(x), b(x))


def test_damaged_file_gives_clear_error_and_leaves_model_untouched(tmp_path):
    path = save_checkpoint(_net(), tmp_path / "net.pt")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # a truncated download or interrupted copy
    model = _net()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointError, match="damaged"):
        load_checkpoint(path, model)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_missing_and_mismatched(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "absent.pt")
    path = save_checkpoint(nn.Linear(3, 4), tmp_path / "lin.pt")
    with pytest.raises(CheckpointError, match="does not fit"):
        load_checkpoint(path, nn.Linear(3, 5))


def test_pickled_objects_are_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"w": torch.ones(1), "obj": object()}, path)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


def test_cached_train_trains_once_per_config_then_loads(tmp_path, monkeypatch):
    monkeypatch.delenv("VIDGEN_QUICK", raising=False)
    calls = []

    def train(model):
        calls.append(1)
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(0.5)
        return {"history": [1.0, 0.5], "train_s": 0.1}

    config = {"lr": 1e-3, "steps": 10}
    first = cached_train(_net(), "tiny", train, config=config, directory=tmp_path)
    second = cached_train(_net(), "tiny", train, config=dict(config), directory=tmp_path)
    assert len(calls) == 1
    path = cache_path("tiny", config, directory=tmp_path)
    assert path.exists() and path.name == f"tiny-{fingerprint(config)}.pt"
    assert read_info(path) == {"history": [1.0, 0.5], "train_s": 0.1}
    assert all(torch.equal(p, q) for p, q in zip(first.parameters(), second.parameters()))

    cached_train(_net(), "tiny", train, config={"lr": 2e-3, "steps": 10}, directory=tmp_path)
    assert len(calls) == 2  # a changed hyperparameter is never served the old file

    monkeypatch.setenv("VIDGEN_QUICK", "1")
    cached_train(_net(), "tiny", train, config=config, directory=tmp_path)
    assert len(calls) == 3 and cache_path("tiny", config, directory=tmp_path).name.endswith("-quick.pt")

    cache_path("tiny", config, directory=tmp_path).write_bytes(b"not a checkpoint")
    cached_train(_net(), "tiny", train, config=config, directory=tmp_path)
    assert len(calls) == 4  # damaged cache: retrained, not half-loaded

    with pytest.raises(ValueError, match="plain file stem"):
        cached_train(_net(), "../escape", train, config=config, directory=tmp_path)
    with pytest.raises(ValueError, match="config"):
        cached_train(_net(), "tiny", train, config=None, directory=tmp_path)
