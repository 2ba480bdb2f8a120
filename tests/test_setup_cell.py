"""Every chapter starts with the one setup cell that installs the library where it is missing (Colab)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jupytext
import pytest

import vidgen_edu
from vidgen_edu.tools.setup_cell import SETUP_CELL, with_setup_cell

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("[0-9][0-9]_*.md"))


def _first_code_cell(path: Path) -> str:
    nb = jupytext.read(path)
    return next(c.source for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_starts_with_the_setup_cell(path):
    assert SETUP_CELL in path.read_text(), f"{path.name}: run `python -m vidgen_edu.tools.setup_cell {path}`"
    source = _first_code_cell(path)
    assert source.startswith("# Setup: on Colab"), f"{path.name}: the setup cell is not the first code cell"
    notebook = ROOT / "notebooks" / f"{path.stem}.ipynb"
    assert _first_code_cell(notebook) == source, f"{notebook.name} is out of sync: run `make sync`"


def test_the_cell_pins_this_version_and_is_idempotent():
    assert f"@v{vidgen_edu.__version__}" in SETUP_CELL
    text = "# A chapter\n\n```{code-cell} ipython3\nx = 1\n```\n"
    once = with_setup_cell(text)
    assert once.index("# Setup:") < once.index("x = 1")
    assert with_setup_cell(once) == once


def test_the_cell_does_nothing_where_the_library_is_installed(tmp_path):
    # run the cell's code in this environment (vidgen_edu importable): no pip call may happen
    guard = "import subprocess\ndef _no(*a, **k):\n    raise SystemExit('pip was called')\nsubprocess.run = _no\n"
    code = guard + _first_code_cell(CHAPTERS[0])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr


def test_a_chapter_without_code_cells_is_refused():
    with pytest.raises(ValueError, match="no code cell"):
        with_setup_cell("# Only prose\n")
