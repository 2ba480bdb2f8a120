"""Every solution is hidden on Colab until the reader opens it, and only the solutions are.

What Colab honours (it ignores JupyterLab's ``"jupyter": {"source_hidden": true}``, which folds a
solution's cell in JupyterLab): collapsed *sections*. A Markdown cell that starts with a heading
opens a section running to the next heading of the same or a higher level; the notebook's
``metadata.colab.collapsed_sections`` lists, by the heading cell's ``metadata.id``, the sections
that open collapsed. Sources: Colab's own notebooks as saved by Colab (tensorflow/docs
``site/en/2/guide/autograph.ipynb``: its ``##### Copyright`` cell, id ``Jxv6goXm7oGF``, is the one
entry of ``collapsed_sections`` and hides the licence cell up to the ``# ...`` title), and
googlecolab/colabtools#438 (the section state is saved as ``collapsed_sections``).
``vidgen_edu/tools/colab.py`` writes a ``#### Solution`` heading before each solution (and a
closing heading after it where needed), tagged ``remove-cell`` so the website never shows them.

These tests read the files with that model of Colab: they cannot open Colab itself (no network
here), so they show that the notebooks carry what Colab reads, not how Colab draws it. Both the
nbformat 4.5 cell id and ``metadata.id`` of each heading carry the same value, since Colab's choice
between them for 4.5 notebooks is not documented.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import jupytext
import nbformat
import pytest

from vidgen_edu.tools import colab, course

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
_PLAIN = re.compile(r"^\s*:{3,}\{solution\}")
_START = re.compile(r"^\s*:{3,}\{solution-start\}")
_END = re.compile(r"^:{3,}\{solution-end\}", re.M)
_ANY = re.compile(r"^:{3,}\{solution", re.M)
_HEADING = re.compile(r"^(#{1,6})\s+\S")


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _level(cell: dict) -> int | None:
    """Colab's reading, as modelled here: the heading a Markdown cell starts with."""
    if cell["cell_type"] != "markdown":
        return None
    lines = _source(cell).strip().splitlines()
    match = _HEADING.match(lines[0]) if lines else None
    return len(match.group(1)) if match else None


def _hidden_on_colab(nb: dict) -> set[int]:
    """The cells a reader does not see when the notebook opens on Colab."""
    collapsed = set(nb["metadata"].get("colab", {}).get("collapsed_sections", []))
    cells, hidden = nb["cells"], set()
    for h, cell in enumerate(cells):
        if cell["metadata"].get("id") not in collapsed or _level(cell) is None:
            continue
        for j in range(h + 1, len(cells)):
            if (_level(cells[j]) or 7) <= _level(cell):
                break
            hidden.add(j)
    return hidden


def _solutions(nb: dict) -> list[range]:
    """The cells of each solution (this test's own reading of the book's two kinds)."""
    found, start = [], None
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        src = _source(cell)
        if start is None and _PLAIN.match(src):
            found.append(range(i, i + 1))
        elif start is None and _START.match(src):
            start = i
        elif start is not None and _END.search(src):
            found.append(range(start, i + 1))
            start = None
        else:
            assert not _ANY.search(src), f"cell {i}: a solution directive that does not begin its cell"
    assert start is None
    return found


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_every_chapter_with_exercises_has_solutions_to_hide():
    assert sum(len(_solutions(_read(p))) for p in NOTEBOOKS) >= 30


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_exactly_the_solutions_are_hidden_on_colab(path):
    nb = _read(path)
    blocks = _solutions(nb)
    inside = {i for block in blocks for i in block}
    assert _hidden_on_colab(nb) == inside, "hidden on Colab must be the solutions, all of them and nothing else"
    collapsed = nb["metadata"].get("colab", {}).get("collapsed_sections", [])
    assert len(collapsed) == len(blocks) == len(set(collapsed))
    cells = nb["cells"]
    for block, cell_id in zip(blocks, collapsed):
        opener = cells[block.start - 1]
        assert opener["metadata"].get("id") == cell_id and opener.get("id") == cell_id, \
            "the heading right before the solution opens its collapsed section (metadata.id and cell id)"
        assert _source(opener).strip() == colab.OPENER
        # the section ends right after the solution: the next exercise is not hidden
        if block.stop < len(cells):
            assert (_level(cells[block.stop]) or 7) <= _level(opener), f"{cell_id}: the section runs on"
        # a heading of the opener's level or above anywhere inside a solution (not only at the start
        # of a cell, as the model reads it) could end the section early
        for i in block:
            if cells[i]["cell_type"] == "markdown":
                levels = colab._headings(_source(cells[i]))
                assert all(lv > _level(opener) for lv in levels), f"cell {i}: a heading inside a solution"
    ids = [c["id"] for c in cells]
    assert len(ids) == len(set(ids)), "cell ids must stay unique"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_jupyterlab_still_folds_each_solution_cell(path):
    nb = _read(path)
    for block in _solutions(nb):
        cell = nb["cells"][block.start]
        if _PLAIN.match(_source(cell)):
            assert cell["metadata"].get("jupyter", {}).get("source_hidden") is True, _source(cell)[:60]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_colab_headings_are_only_in_the_notebook_not_on_the_website(path):
    """Tagged remove-cell in the chapter itself; myst-nb, reading the chapter as the website does,
    produces the same Markdown tokens with them as without them."""
    pytest.importorskip("myst_nb")
    from markdown_it.renderer import RendererHTML
    from myst_nb.core.nb_to_tokens import notebook_to_tokens
    from myst_nb.core.read import read_myst_markdown_notebook
    from myst_parser.config.main import MdParserConfig
    from myst_parser.parsers.mdit import create_md_parser

    nb = _read(path)
    extra = [c for c in nb["cells"] if c["metadata"].get("id", "").startswith(colab.ID_PREFIX)]
    assert all("remove-cell" in c["metadata"].get("tags", []) for c in extra)
    md = ROOT / "book" / f"{path.stem}.md"
    source = read_myst_markdown_notebook(md.read_text(encoding="utf-8"))
    in_md = [c.metadata["id"] for c in source.cells if c.metadata.get("id", "").startswith(colab.ID_PREFIX)]
    assert in_md == [c["metadata"]["id"] for c in extra], "the chapter and its notebook carry the same headings"

    def tokens(notebook):
        parser = create_md_parser(MdParserConfig(enable_extensions={"colon_fence", "dollarmath", "amsmath"}),
                                  RendererHTML)
        return [(t.type, t.content) for t in notebook_to_tokens(notebook, parser, {}, logging.getLogger(__name__))
                if not t.type.startswith("nb_")]

    without = nbformat.from_dict(dict(source, cells=[c for c in source.cells if not colab.is_colab_cell(c)]))
    assert tokens(source) == tokens(without)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_sources_are_up_to_date(path):
    md = ROOT / "book" / f"{path.stem}.md"
    text = md.read_text(encoding="utf-8")
    wrapped = jupytext.writes(colab.wrap(jupytext.reads(text, fmt="md:myst"), md.name), fmt="md:myst")
    assert wrapped == text, f"run `make sync` ({md.name} lacks its Colab solution headings)"
    assert colab.mark(_read(path)) is False, f"run `make sync` ({path.name}: collapsed_sections out of date)"


# --------------------------------------------------------------------------- the tool, on a small chapter

def _chapter() -> nbformat.NotebookNode:
    md = """\
---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

## Exercises

:::{exercise} One
:label: ex-one
:::

```{code-cell} ipython3
check_f(f)
```

::::{solution-start} ex-one
::::

Secret one.

```{code-cell} ipython3
f = 42
```

Last words.

::::{solution-end}
::::

:::{exercise} Two
:label: ex-two
:::

+++

::::{solution} ex-two
Secret two.
::::

```{code-cell} ipython3
after_two = 1
```

::::{exercise} Three
:label: ex-three
::::

+++

::::{solution} ex-three
Secret three.
::::

+++

## Summary
"""
    return jupytext.reads(md, fmt="md:myst")


def _sources(nb) -> list[str]:
    return [c.source.strip() for c in nb.cells]


def test_wrap_gives_each_solution_its_section_and_splits_a_shared_cell():
    nb = colab.wrap(_chapter())
    src = _sources(nb)
    one = src.index(colab.OPENER)
    assert src[one + 1].startswith("::::{solution-start} ex-one")
    end = next(i for i, s in enumerate(src) if "{solution-end}" in s)
    assert src[end].endswith("::::") and src[end + 1] == colab.CLOSER_EXERCISE
    assert src[end + 2].startswith(":::{exercise} Two"), "the next exercise gets a cell of its own"
    two = src.index("::::{solution} ex-two\nSecret two.\n::::")
    assert src[two - 1] == colab.OPENER and src[two + 1] == colab.CLOSER_OTHER, "a code cell follows"
    assert nb.cells[two].metadata["jupyter"]["source_hidden"] is True, "JupyterLab's fold is set too"
    three = src.index("::::{solution} ex-three\nSecret three.\n::::")
    assert src[three - 1] == colab.OPENER and src[three + 1] == "## Summary", "no closer before a heading"
    ids = [c.metadata["id"] for c in nb.cells if colab.is_colab_cell(c)]
    assert ids == ["solution-ex-one", "solution-ex-one-end", "solution-ex-two", "solution-ex-two-end",
                   "solution-ex-three"]
    assert all(c.metadata["tags"] == ["remove-cell"] for c in nb.cells if colab.is_colab_cell(c))
    again = colab.wrap(nb)
    assert _sources(again) == src and [c.metadata for c in again.cells] == [c.metadata for c in nb.cells]


def test_mark_lists_the_openers_and_the_model_hides_exactly_the_solutions():
    nb = json.loads(nbformat.writes(colab.wrap(_chapter())))
    assert colab.mark(nb) is True and colab.mark(nb) is False
    assert nb["metadata"]["colab"]["collapsed_sections"] == ["solution-ex-one", "solution-ex-two",
                                                             "solution-ex-three"]
    assert _hidden_on_colab(nb) == {i for block in _solutions(nb) for i in block}
    visible = [_source(c) for i, c in enumerate(nb["cells"]) if i not in _hidden_on_colab(nb)]
    assert not any("Secret" in s for s in visible) and any("after_two" in s for s in visible)


def test_a_removed_solution_takes_its_headings_along():
    nb = colab.wrap(_chapter())
    nb.cells = [c for c in nb.cells if "ex-two\nSecret" not in c.source]
    again = colab.wrap(nb)
    assert [c.metadata["id"] for c in again.cells if colab.is_colab_cell(c)] == [
        "solution-ex-one", "solution-ex-one-end", "solution-ex-three"]
    marked = json.loads(nbformat.writes(again))
    colab.mark(marked)
    assert marked["metadata"]["colab"]["collapsed_sections"] == ["solution-ex-one", "solution-ex-three"]


@pytest.mark.parametrize("before, inside, message", [
    ("#### Deep\n\n", "", "under a heading of level 4"),
    ("", "### Hint\n\n", "inside the solution"),
])
def test_a_section_that_could_not_hide_exactly_the_solution_is_an_error(before, inside, message):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(before + ":::{exercise} X\n:label: x\n:::"),
                nbformat.v4.new_markdown_cell(f"::::{{solution}} x\n{inside}Answer.\n::::")]
    with pytest.raises(ValueError, match=message):
        colab.wrap(nb)


def test_the_course_release_drops_the_headings_and_the_sections():
    raw = json.loads(nbformat.writes(colab.wrap(_chapter())))
    colab.mark(raw)
    nb = nbformat.reads(json.dumps(raw), as_version=4)
    out = course.remove_solutions(nb)
    assert not any(colab.is_colab_cell(c) for c in out.cells)
    assert "colab" not in out.metadata
    assert not any("Secret" in c.source for c in out.cells)
    assert [c.source.strip().splitlines()[0] for c in out.cells if c.cell_type == "markdown"] == [
        "## Exercises", ":::{exercise} Two", "::::{exercise} Three", "## Summary"]  # One shares the first cell
