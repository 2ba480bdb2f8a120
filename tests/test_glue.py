"""The prose's numbers: glue stores plain Python numbers, whatever scalar type a cell computed."""

from __future__ import annotations

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
