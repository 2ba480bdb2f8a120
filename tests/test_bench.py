import importlib.util
import math
from pathlib import Path

import pytest
import torch

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


def test_evaluate_prediction_scores_every_predicted_frame():
    truth = torch.zeros(3, 10, 1, 16, 16)  # (B, K, C, H, W)
    pred = torch.full_like(truth, 0.1)  # MSE 0.01 everywhere: PSNR = 10 log10(1 / 0.01) = 20 dB
    scores = bench.evaluate_prediction(truth, pred, fvd=False)
    assert set(scores) == {"psnr_db", "psnr_k1_db", "psnr_k10_db", "ssim"}
    for key in ("psnr_db", "psnr_k1_db", "psnr_k10_db"):
        assert scores[key] == pytest.approx(20.0, abs=1e-4)
    assert bench.evaluate_prediction(truth, truth.clone(), fvd=False)["ssim"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"\(B, T, C, H, W\)"):
        bench.evaluate_prediction(truth, pred[:, :5], fvd=False)


def test_predict_future_rolls_out_from_the_context_in_chunks():
    class CopyLast(torch.nn.Module):
        def rollout(self, context, horizon):
            return context[:, -1:].expand(-1, horizon, -1, -1, -1)

    clips = torch.rand(5, bench.CONTEXT + bench.HORIZON, 1, 8, 8)
    pred = bench.predict_future(CopyLast(), clips, torch.device("cpu"), batch=2)
    assert pred.shape == (5, bench.HORIZON, 1, 8, 8)
    torch.testing.assert_close(pred, clips[:, bench.CONTEXT - 1:bench.CONTEXT].expand_as(pred))


ENTRY_KEYS = {
    "ch03_vae": {f"03/{data}/{model}" for data in ("digits-1", "balls", "one-ball")
                 for model in ("conv-vae", "mean-frame")},
    "ch04_recurrent": {f"04/{data}/{model}" for data in ("balls", "digits") for model in ("convgru", "copy-last-frame")}
    | {"04/balls/constant-velocity-oracle"},
    "ch05_attention": {"05/balls/transformer-divided", "05/digits/transformer-divided"},
}


def test_every_entry_file_registers_its_rows():
    harness = _harness()
    registry = harness.load_entries()
    assert harness.load_entries() is registry  # a second call imports nothing again (no "registered twice")
    by_file = {}
    for key, entry in registry.items():
        by_file.setdefault(entry.run.__module__.removeprefix("bench_entries."), set()).add(key)
    assert set(by_file) == {path.stem for path in (ROOT / "benchmarks" / "entries").glob("*.py")}  # each adds rows
    for stem, keys in ENTRY_KEYS.items():
        assert by_file[stem] == keys, stem


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
