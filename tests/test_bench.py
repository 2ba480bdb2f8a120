import importlib.util
from pathlib import Path

import pytest

from vidgen_edu import bench

ROOT = Path(__file__).resolve().parents[1]


def _harness():
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "benchmarks" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_register_adds_an_entry_and_refuses_a_second_function(monkeypatch):
    monkeypatch.setattr(bench, "REGISTRY", {})

    @bench.register("tiny", dataset="balls", task="prediction", chapter="99")
    def tiny(device):
        return {"psnr": 20.0}

    entry = bench.REGISTRY["99/balls/tiny"]
    assert entry.run is tiny and entry.key == "99/balls/tiny"
    with pytest.raises(ValueError, match="registered twice"):
        bench.register("tiny", dataset="balls", task="prediction", chapter="99")(lambda d: {})


def test_every_registered_entry_has_a_unique_key():
    registry = _harness().load_entries()
    assert all(key == entry.key for key, entry in registry.items())


def test_markdown_table_has_a_column_per_metric():
    rows = [
        {"key": "a", "chapter": "04", "model": "gru", "dataset": "balls", "task": "p", "psnr": 23.456,
         "wall_s": 100.0, "device": "cpu", "torch": "2.13.0"},
        {"key": "b", "chapter": "04", "model": "copy", "dataset": "balls", "task": "p", "psnr": 18.0,
         "ssim": 0.5, "wall_s": 1.0, "device": "cpu", "torch": "2.13.0"},
    ]
    table = _harness().to_markdown(rows).splitlines()
    header = [c.strip() for c in table[0].strip("|").split("|")]
    assert header[:6] == ["chapter", "model", "dataset", "task", "psnr", "ssim"]
    assert len(table) == 4 and "23.46" in table[2] and "0.5" in table[3]
