import importlib.util
import math
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


def test_markdown_has_a_table_per_task_with_a_column_per_metric():
    rows = [
        {"key": "a", "chapter": "04", "model": "gru", "dataset": "balls", "task": "p", "psnr": 23.456,
         "wall_s": 100.0, "device": "cpu", "torch": "2.13.0"},
        {"key": "b", "chapter": "04", "model": "copy", "dataset": "balls", "task": "p", "psnr": 18.0,
         "ssim": 0.5, "wall_s": 1.0, "device": "cpu", "torch": "2.13.0"},
        {"key": "c", "chapter": "06", "model": "real", "dataset": "shapes", "task": "g", "fvd_lite": 3.0,
         "wall_s": 1.0, "device": "cpu", "torch": "2.13.0"},
    ]
    lines = _harness().to_markdown(rows).splitlines()
    assert lines[0] == "**p**" and "**g**" in lines
    header = [c.strip() for c in lines[2].strip("|").split("|")]
    assert header[:5] == ["chapter", "model", "dataset", "psnr", "ssim"] and "fvd_lite" not in header
    assert "23.46" in lines[4] and "0.5" in lines[5]
    g = lines.index("**g**")
    assert [c.strip() for c in lines[g + 2].strip("|").split("|")][:4] == ["chapter", "model", "dataset", "fvd_lite"]


def test_entry_files_register_rows_and_every_recipe_has_one():
    from vidgen_edu import recipes

    harness = _harness()
    registry = harness.load_entries()
    assert harness.load_entries() is registry  # a second call imports nothing again (no "registered twice")
    # the harness discovers the recipes through the entry files: no key list to keep in sync here
    benchmarked = {getattr(entry.run, "recipe", None) for entry in registry.values()} - {None}
    assert benchmarked == set(recipes.names())
    for entry in registry.values():
        if getattr(entry.run, "recipe", None):
            assert entry.chapter == recipes.get(entry.run.recipe).chapter


def test_results_file_is_named_after_the_device_the_rows_ran_on():
    harness = _harness()
    assert harness.device_kind([{"device": "cpu"}, {"device": "cpu"}]) == "cpu"
    assert harness.device_kind([{"device": "cuda:0"}]) == "cuda"
    with pytest.raises(RuntimeError, match="several"):
        harness.device_kind([{"device": "cpu"}, {"device": "cuda:0"}])


def test_a_quick_entry_runs_in_its_own_process(monkeypatch):
    # the spawned child unpickles run._child by module name, so import run.py under an importable one
    monkeypatch.syspath_prepend(str(ROOT))
    harness = importlib.import_module("benchmarks.run")
    row = harness.run_entry("04/balls/copy-last-frame", quick=True)
    assert row["key"] == "04/balls/copy-last-frame" and row["device"]
    metrics = {"psnr_db", "psnr_k1_db", "psnr_k10_db", "ssim", "fvd_lite", "train_s", "params"}
    assert metrics <= set(row)
    assert all(math.isfinite(row[k]) for k in metrics)
    assert row["psnr_k1_db"] > row["psnr_k10_db"] > 0  # copying the last frame gets worse the further ahead
    assert 0 < row["ssim"] < 1


def test_leaderboard_reads_the_tables_shipped_with_the_package():
    from vidgen_edu.bench import leaderboard

    table = leaderboard("cpu")
    assert table is not None and table.startswith("# vidgen-edu leaderboard (cpu)")
    assert "| chapter | model | dataset |" in table
    assert leaderboard("no-such-device") is None
