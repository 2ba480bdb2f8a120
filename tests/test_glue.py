"""The prose's numbers: glue stores plain Python numbers, whatever scalar type a cell computed."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from vidgen_edu.viz import glue as glue_module
from vidgen_edu.viz.glue import glue


@pytest.mark.parametrize("value, want", [(np.float64(1.25), 1.25), (np.int64(3), 3), (torch.tensor(0.5), 0.5),
                                         (2.5, 2.5), ("text", "text")])
def test_scalars_become_python_numbers(value, want, monkeypatch):
    stored = {}
    pytest.importorskip("myst_nb")
    monkeypatch.setattr("myst_nb.glue", lambda name, v, display=True: stored.update({name: v}))
    out = glue("key", value)
    assert out == want and type(out) is type(want)
    assert stored["key"] == want and type(stored["key"]) is type(want)
    # what myst-nb formats: the text of the value must parse as a number for {glue:text}`key:.2f`
    if isinstance(want, float):
        assert float(repr(stored["key"])) == want


def test_arrays_are_left_alone(monkeypatch):
    pytest.importorskip("myst_nb")
    monkeypatch.setattr("myst_nb.glue", lambda name, v, display=True: None)
    a = np.arange(3)
    assert glue_module.glue("arr", a) is a


def test_no_code_cell_ends_with_a_bare_glue_call():
    """A cell whose last statement is ``glue(...)`` shows the value as an extra output: under a figure
    cell, myst-nb then wraps it as a second figure with the same name (a duplicate target, which fails
    the site build). Assign it or glue before the last statement."""
    book = Path(__file__).resolve().parents[1] / "book"
    bad = []
    for md in sorted(book.glob("[0-9][0-9]_*.md")):
        text = md.read_text()
        for m in re.finditer(r"```\{code-cell\}[^\n]*\n(?:---\n.*?\n---\n|:tags:[^\n]*\n)?(.*?)```", text, re.S):
            try:
                body = ast.parse(m.group(1))
            except SyntaxError:
                continue  # IPython magics: not our concern here
            last = body.body[-1] if body.body else None
            if (isinstance(last, ast.Expr) and isinstance(last.value, ast.Call)
                    and getattr(last.value.func, "id", None) == "glue"
                    and not m.group(1).rstrip().endswith(";")):
                bad.append(f"{md.name}:{text[:m.start()].count(chr(10)) + 1}")
    assert not bad, f"cells ending with a bare glue(...) call (its value is displayed): {bad}"
