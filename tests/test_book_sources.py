"""The book's sources stay consistent: chapters paired, notebooks clean, toc complete."""

import ast
import inspect
import json
import re
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


# --------------------------------------------------------------------------- figures
#
# A figure is a code cell whose output is a matplotlib figure. On the website myst-nb
# turns its cell options into a numbered <figure>: ``mystnb.figure`` (caption, name) and
# ``mystnb.image.alt`` (the <img>'s alt text), e.g.
#
#   ```{code-cell} ipython3
#   ---
#   mystnb:
#     figure:
#       caption: What the figure shows, in a sentence or two.
#       name: fig-ch03-samples
#     image:
#       alt: What is in the picture, for a reader who cannot see it.
#   ---
#
# myst-nb wraps *every* display output of such a cell in the figure (tables, progress
# bars, a second plot): a captioned cell shows exactly one thing.

FIGURE_NAME = re.compile(r"^fig-ch(\d\d)-[a-z0-9]+(-[a-z0-9]+)*$")
FILE_NAME = re.compile(r"\.(png|jpe?g|gif|svg|webp)\b|^[\w.-]+\.\w{2,4}$", re.IGNORECASE)
HEX_HASH = re.compile(r"[0-9a-f]{32,}", re.IGNORECASE)
NUMREF = re.compile(r"\{numref\}`(?:[^`<]*<)?([^`<>]+)>?`")
TRAINERS = {"fit"}  # vidgen_edu.train.fit and recipes.load(...) train: progress bars are display outputs too
# What else shows an output of its own: players, widgets, tables (as the cell's value or always).
SHOWS_ITSELF = {"animate", "compare_grid", "explorer", "clip_player", "with_fallback", "Markdown", "HTML", "Code"}


def _library_figure_functions() -> set[str]:
    """Public drawing functions of vidgen_edu.viz.clips and vidgen_edu.viz.diagrams that return a matplotlib Figure."""
    from vidgen_edu.viz import clips, diagrams

    return {name for module in (clips, diagrams) for name, f in vars(module).items()
            if inspect.isfunction(f) and not name.startswith("_") and f.__module__ == module.__name__
            and "Figure" in str(inspect.signature(f).return_annotation)}


def _parse(source: str) -> ast.Module:
    """A code cell as Python (IPython magics and shell escapes become ``pass``)."""
    lines = ["pass" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
    return ast.parse("\n".join(lines))


def _called(call: ast.AST) -> str | None:
    """``f`` for ``f(...)`` and ``obj.f(...)``."""
    if isinstance(call, ast.Call):
        return call.func.id if isinstance(call.func, ast.Name) else getattr(call.func, "attr", None)
    return None


def _trains(node: ast.AST, trainers: set[str]) -> bool:
    """``fit(...)``, ``recipes.load(...)`` or a chapter function that calls one of them (not ``probe.fit``)."""
    if not isinstance(node, ast.Call):
        return False
    if isinstance(node.func, ast.Name):
        return node.func.id in trainers
    return (isinstance(node.func, ast.Attribute) and node.func.attr == "load"
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "recipes")


def _is_plt_show(node: ast.AST) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "show"
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "plt")


def _chapter_functions(trees: list[ast.Module], figure_fns: set[str]) -> tuple[set[str], set[str]]:
    """Functions defined in the chapter that return a figure, and those that train (call fit/recipes.load)."""
    defs = [n for t in trees for n in ast.walk(t) if isinstance(n, ast.FunctionDef)]
    figures, trainers = set(figure_fns), set(TRAINERS)
    changed = True
    while changed:
        changed = False
        for fn in defs:
            made = {t.id for n in ast.walk(fn) if isinstance(n, ast.Assign) and _called(n.value) in ("subplots", "figure")
                    for t in ast.walk(n.targets[0]) if isinstance(t, ast.Name)}
            returns = [n.value for n in ast.walk(fn) if isinstance(n, ast.Return) and n.value is not None]
            if fn.name not in figures and any((isinstance(r, ast.Name) and r.id in made) or _called(r) in figures
                                              for r in returns):
                figures.add(fn.name)
                changed = True
            if fn.name not in trainers and any(_trains(n, trainers) for n in ast.walk(fn)):
                trainers.add(fn.name)
                changed = True
    return figures, trainers


def _top_level_nodes(tree: ast.Module):
    """Every node of the cell outside function and class bodies (what runs when the cell runs)."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def _figure_outputs(tree: ast.Module, figures: set[str]) -> list[str]:
    """What in the cell displays a matplotlib figure: plt.show(), display(<figure>), or a figure as the cell's value."""
    found = []
    for node in _top_level_nodes(tree):
        if _is_plt_show(node):
            found.append("plt.show()")
        elif _called(node) == "display" and node.args and (
                _called(node.args[0]) in figures or (isinstance(node.args[0], ast.Name) and node.args[0].id == "fig")):
            found.append("display(<figure>)")
    last = tree.body[-1] if tree.body else None
    if isinstance(last, ast.Expr) and (_called(last.value) in figures
                                       or (isinstance(last.value, ast.Name) and last.value.id == "fig")):
        found.append(f"{_called(last.value) or 'fig'}(...) as the cell's value")
    return found


def _other_outputs(tree: ast.Module, figures: set[str], trainers: set[str]) -> list[str]:
    """Display outputs of the cell that are not its figure (each would be wrapped in the figure too)."""
    found = []
    for node in _top_level_nodes(tree):
        name = _called(node)
        if name == "display" and node.args and not (
                _called(node.args[0]) in figures or (isinstance(node.args[0], ast.Name) and node.args[0].id == "fig")):
            found.append("display(...) of something else")
        elif _trains(node, trainers):
            found.append(f"{name}(...) (training shows progress bars)")
        elif name == "display_with_fallback":
            found.append("display_with_fallback(...)")
        elif isinstance(node, (ast.For, ast.While)) and any(_is_plt_show(n) for n in ast.walk(node)):
            found.append("plt.show() in a loop (one figure per turn)")
    last = tree.body[-1] if tree.body else None
    if isinstance(last, ast.Expr) and _called(last.value) in SHOWS_ITSELF:
        found.append(f"{_called(last.value)}(...) as the cell's value")
    return found


def _trivial_alt(alt: str) -> str | None:
    """Why ``alt`` says nothing to a reader who cannot see the image (None when it is fine)."""
    alt = (alt or "").strip()
    if not alt:
        return "empty"
    if FILE_NAME.search(alt) or HEX_HASH.search(alt):
        return "a file name or hash"
    if len(alt.split()) < 3:
        return "fewer than 3 words"
    return None


def _figure_cells(md: Path):
    """(index, cell, what displays a figure, other outputs) for every code cell of the chapter."""
    nb = jupytext.read(md)
    code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    trees = [_parse(c.source) for _, c in code]
    figures, trainers = _chapter_functions(trees, _library_figure_functions())
    for (i, cell), tree in zip(code, trees):
        yield i, cell, _figure_outputs(tree, figures), _other_outputs(tree, figures, trainers)


def test_the_figure_detector_sees_the_library_drawing_functions():
    assert {"frame_strip", "compare_strip", "plot_losses", "vae", "gru_cell"} <= _library_figure_functions()
    assert _trivial_alt("0c6e4b7ad0a5f0c3d8e1f2a3b4c5d6e7f8091a2b3c4d5e6f7a8b9c0d1e2f3a4b.png")
    assert _trivial_alt("static preview") and _trivial_alt("") and not _trivial_alt("Two rows of frames of a ball.")
    shown = [md.name for md in CHAPTERS for _, _, shows, _ in _figure_cells(md) if shows]
    assert len(shown) >= 10, f"the detector finds only {len(shown)} figures in the book: {shown}"


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.name)
def test_every_figure_is_numbered_captioned_and_has_alt_text(md):
    """Every matplotlib figure of a chapter has a caption, a label and real alt text, and is its cell's only output."""
    chapter = md.stem[:2]
    problems = []
    for i, cell, shows, others in _figure_cells(md):
        options = cell.metadata.get("mystnb", {})
        figure, image = options.get("figure") or {}, options.get("image") or {}
        where = f"{md.name}, cell {i} ({(cell.source.strip().splitlines() or [''])[0][:60]!r})"
        if not shows:  # e.g. an animation numbered as a figure: its player must be the only output
            extra = [o for o in others if not o.endswith("as the cell's value")]
            if figure and (extra or len(others) > 1):
                problems.append(f"{where}: a captioned cell with more than one output {others}")
            continue
        if len(shows) > 1:
            problems.append(f"{where}: shows {len(shows)} figures ({shows}); give each its own cell")
        if others:
            problems.append(f"{where}: its figure shares the cell with {others}: move them to a cell of their own")
        caption = str(figure.get("caption") or "").strip()
        if len(caption.split()) < 5:
            problems.append(f"{where}: no caption (mystnb: figure: caption: ...)")
        name = str(figure.get("name") or "")
        match = FIGURE_NAME.match(name)
        if not match or match.group(1) != chapter:
            problems.append(f"{where}: figure name {name!r} is not fig-ch{chapter}-topic")
        if why := _trivial_alt(str(image.get("alt") or "")):
            problems.append(f"{where}: alt text is {why} (mystnb: image: alt: ...)")
    assert problems == [], "\n".join(problems)


def test_figure_labels_are_unique_and_references_resolve():
    names, refs = {}, []
    for md in CHAPTERS:
        nb = jupytext.read(md)
        for cell in nb.cells:
            figure = (cell.metadata.get("mystnb") or {}).get("figure") or {}
            if figure.get("name"):
                assert figure.get("caption"), f"{md.name}: figure {figure['name']} has no caption (Sphinx cannot number it)"
                assert figure["name"] not in names, f"figure {figure['name']} in {md.name} and {names[figure['name']]}"
                names[figure["name"]] = md.name
            if cell.cell_type == "markdown":
                refs += [(md.name, label.strip()) for label in NUMREF.findall(cell.source)]
    missing = [(page, label) for page, label in refs if label.startswith("fig-") and label not in names]
    assert missing == [], f"{{numref}} to figures that do not exist: {missing}"
