"""Remove outputs and execution counts from notebooks, in place: ``python -m vidgen_edu.tools.strip NB...``.

Notebooks in ``notebooks/`` are committed without outputs (the website and
nbval execute them); ``make sync`` runs this after jupytext.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def has_outputs(nb: dict) -> bool:
    """True when any code cell carries outputs or an execution count."""
    return any(
        c.get("outputs") or c.get("execution_count")
        for c in nb.get("cells", [])
        if c.get("cell_type") == "code"
    )


def strip(path: str | Path) -> bool:
    """Strip one notebook file; return True when it changed."""
    path = Path(path)
    nb = json.loads(path.read_text(encoding="utf-8"))
    if not has_outputs(nb):
        return False
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return True


def main(argv: list[str]) -> int:
    for name in argv:
        if strip(name):
            print(f"stripped {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
