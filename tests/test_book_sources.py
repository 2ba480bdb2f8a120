"""The book's sources stay consistent: chapters paired, notebooks clean, toc complete."""

import json
from pathlib import Path

import jupytext
import pytest
import yaml

from vidgen_edu.tools.strip import has_outputs

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("[0-9][0-9]_*.md"))
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _cells(nb):
    """What must agree between the two faces: cell kinds, sources and tags."""
    return [(c.cell_type, c.source.strip(), sorted(c.metadata.get("tags", []))) for c in nb.cells]


def test_there_are_chapters():
    assert len(CHAPTERS) >= 3


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.name)
def test_chapter_has_an_identical_notebook_twin(md):
    ipynb = ROOT / "notebooks" / (md.stem + ".ipynb")
    assert ipynb.exists(), f"{md.name} has no twin: run `make sync`"
    a = jupytext.read(md)
    b = jupytext.read(ipynb)
    assert _cells(a) == _cells(b), f"{md.name} and {ipynb.name} drifted apart: run `make sync`"
    assert b.metadata.get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("ipynb", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(ipynb):
    nb = json.loads(ipynb.read_text(encoding="utf-8"))
    assert not has_outputs(nb), f"{ipynb.name} has outputs: run `make sync` (it strips them)"
    assert (ROOT / "book" / (ipynb.stem + ".md")).exists(), f"{ipynb.name} has no source in book/"


def test_every_chapter_is_in_the_table_of_contents():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = {c["file"] for part in toc["parts"] for c in part["chapters"]}
    for md in CHAPTERS:
        assert f"book/{md.stem}" in files, f"{md.name} missing from _toc.yml"
    for f in files | {toc["root"]}:
        assert (ROOT / f"{f}.md").exists(), f"_toc.yml names {f}, which does not exist"


def test_strip_removes_outputs(tmp_path):
    from vidgen_edu.tools.strip import strip

    nb = {"cells": [{"cell_type": "code", "source": "1", "metadata": {}, "execution_count": 3,
                     "outputs": [{"output_type": "stream", "name": "stdout", "text": "1"}]}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "x.ipynb"
    path.write_text(json.dumps(nb))
    assert strip(path) is True
    assert not has_outputs(json.loads(path.read_text()))
    assert strip(path) is False
