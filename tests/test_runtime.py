import random

import numpy as np
import pytest
import torch

from vidgen_edu import runtime


def test_budget_follows_quick_mode(monkeypatch):
    monkeypatch.delenv("VIDGEN_QUICK", raising=False)
    assert not runtime.is_quick()
    assert runtime.budget(full=1500, quick=10) == 1500
    for value in ("1", "true", "YES", "on"):
        monkeypatch.setenv("VIDGEN_QUICK", value)
        assert runtime.is_quick()
        assert runtime.budget(full=1500, quick=10) == 10
    monkeypatch.setenv("VIDGEN_QUICK", "0")
    assert runtime.budget(full=1500, quick=10) == 1500


def test_device_default_and_override(monkeypatch):
    monkeypatch.delenv("VIDGEN_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else None
    device = runtime.get_device()
    if expected:
        assert device.type == expected
    assert device.type in {"cuda", "mps", "cpu"}
    monkeypatch.setenv("VIDGEN_DEVICE", "cpu")
    assert runtime.get_device() == torch.device("cpu")
    assert runtime.get_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised without CUDA")
def test_unavailable_device_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("VIDGEN_DEVICE", "cuda")
    with pytest.raises(ValueError, match="CUDA is not available"):
        runtime.get_device()


def test_seed_everything_repeats_all_generators():
    def draw():
        g = runtime.seed_everything(123)
        return random.random(), np.random.rand(), torch.rand(3), torch.rand(3, generator=g)

    a, b = draw(), draw()
    assert a[0] == b[0] and a[1] == b[1]
    assert torch.equal(a[2], b[2]) and torch.equal(a[3], b[3])
    runtime.seed_everything(124)
    assert not torch.equal(a[2], torch.rand(3))  # another seed, other numbers


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_seed_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        runtime.seed_everything(bad)


def test_cache_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("VIDGEN_CACHE", str(tmp_path / "c"))
    assert runtime.cache_dir() == tmp_path / "c"
    assert (tmp_path / "c").is_dir()


def test_describe_mentions_device_and_mode(monkeypatch):
    monkeypatch.setenv("VIDGEN_QUICK", "1")
    text = runtime.describe()
    assert "mode: quick" in text and "device:" in text and torch.__version__ in text
