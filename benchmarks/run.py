"""Train every registered model at full budget, evaluate it, and write the leaderboard.

    python benchmarks/run.py                 # every entry in benchmarks/entries/*.py
    python benchmarks/run.py --only 04       # entries whose key contains "04"
    python benchmarks/run.py --list

Each entry runs in its own process, so its peak memory is its own. Results go
to ``vidgen_edu/leaderboard/<device>.json`` and ``.md`` (shipped inside the package, so chapter 06
reads them wherever the library is installed), named after the kind of
device the entries ran on (``VIDGEN_DEVICE=cpu`` on a GPU machine writes
``cpu.md``), so CPU and GPU tables live side by side. Recipe rows retrain their
recipe (the cache the chapters load from is refreshed with the same weights). Runs in full mode: ``VIDGEN_QUICK``
is ignored unless ``--quick`` is given (for testing the harness itself).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import multiprocessing as mp
import os
import platform
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
LEADERBOARD = HERE.parent / "vidgen_edu" / "leaderboard"  # package data: installed with the library


def load_entries() -> dict:
    """Import every ``benchmarks/entries/*.py`` once per process; each registers its rows on import."""
    from vidgen_edu.bench import REGISTRY

    for path in sorted((HERE / "entries").glob("*.py")):
        name = f"bench_entries.{path.stem}"
        if name in sys.modules:  # a second import would register new functions under the same keys
            continue
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return REGISTRY


def _child(key: str, quick: bool, queue) -> None:
    os.environ["VIDGEN_QUICK"] = "1" if quick else "0"
    import torch

    from vidgen_edu.runtime import get_device, seed_everything

    entry = load_entries()[key]
    device = get_device()
    seed_everything(0)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    metrics = entry.run(device)
    wall = time.perf_counter() - start
    row = {
        "key": key, "chapter": entry.chapter, "model": entry.name, "dataset": entry.dataset,
        "task": entry.task, **{k: float(v) for k, v in metrics.items()},
        "wall_s": round(wall, 1),
        # ru_maxrss is in KiB on Linux: the peak resident memory of this process
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "device": str(device), "torch": torch.__version__,
    }
    if device.type == "cuda":
        row["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        row["gpu"] = torch.cuda.get_device_name()
    queue.put(row)


def run_entry(key: str, quick: bool) -> dict:
    """Run one entry in a fresh process and return its row (raises if the entry failed)."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(key, quick, queue))
    proc.start()
    proc.join()
    if proc.exitcode != 0 or queue.empty():
        raise RuntimeError(f"benchmark entry {key} failed (exit code {proc.exitcode})")
    return queue.get()


def to_markdown(rows: list[dict]) -> str:
    """The leaderboard as Markdown: one table per task (protocol); metric columns are the union over its rows."""
    fixed = ["chapter", "model", "dataset"]
    tail = ["params", "wall_s", "peak_rss_mb", "peak_gpu_mb", "device", "torch"]

    def fmt(v):
        if isinstance(v, float):
            return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}" if abs(v) < 1 else f"{v:.2f}"
        return "" if v is None else str(v)

    out = []
    for task in dict.fromkeys(r["task"] for r in rows):  # tasks in order of first appearance
        group = [r for r in rows if r["task"] == task]
        metrics = sorted({k for r in group for k in r} - set(fixed) - set(tail) - {"key", "gpu", "task"})
        cols = fixed + metrics + [c for c in tail if any(c in r for r in group)]
        out += [f"**{task}**", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        out += ["| " + " | ".join(fmt(r.get(c)) for c in cols) + " |" for r in group] + [""]
    return "\n".join(out)


def device_kind(rows: list[dict]) -> str:
    """The kind of device the rows actually ran on ("cpu", "cuda", "mps"): it names the results file."""
    kinds = {row["device"].split(":")[0] for row in rows}
    if len(kinds) != 1:
        raise RuntimeError(f"entries ran on several kinds of device {sorted(kinds)}; run them separately")
    return kinds.pop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="run entries whose key contains this text")
    parser.add_argument("--list", action="store_true", help="list entries and exit")
    parser.add_argument("--quick", action="store_true", help="tiny budgets: test the harness, not the models")
    parser.add_argument("--out", default=str(LEADERBOARD), help="folder for the result tables")
    args = parser.parse_args(argv)

    registry = load_entries()
    keys = [k for k in sorted(registry) if args.only in k]
    if args.list:
        print("\n".join(keys))
        return 0
    if not keys:
        print(f"no benchmark entry matches {args.only!r}", file=sys.stderr)
        return 2

    rows = []
    for key in keys:
        print(f"== {key}", flush=True)
        row = run_entry(key, args.quick)
        print(json.dumps(row), flush=True)
        rows.append(row)

    kind = device_kind(rows) + ("-quick" if args.quick else "")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    header = (f"# vidgen-edu leaderboard ({kind})\n\nWritten by `python benchmarks/run.py` on "
              f"{time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, "
              f"{os.cpu_count()} CPUs. {'Quick' if args.quick else 'Full'} budgets, seed 0, fixed test sets.\n\n")
    # keep rows of entries not run this time (e.g. with --only), replace the others
    path = out / f"{kind}.json"
    old = json.loads(path.read_text()) if path.exists() else []
    merged = {r["key"]: r for r in old if r["key"] in registry}
    merged.update({r["key"]: r for r in rows})
    rows = [merged[k] for k in sorted(merged)]
    (out / f"{kind}.md").write_text(header + to_markdown(rows))
    path.write_text(json.dumps(rows, indent=1) + "\n")
    print(f"wrote {out / (kind + '.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
