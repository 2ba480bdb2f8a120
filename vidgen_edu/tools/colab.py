"""Solutions hidden on Colab too: ``python -m vidgen_edu.tools.colab book/NN_*.md ... notebooks/*.ipynb``.

A chapter's solutions are hidden three ways, one per reader:

- on the website, sphinx-exercise renders a ``{solution}`` (or a gated ``{solution-start}`` ...
  ``{solution-end}``) as a collapsed drop-down;
- in JupyterLab, a solution's Markdown cell carries ``"jupyter": {"source_hidden": true}`` and shows
  as ``●●●`` until clicked;
- Colab ignores that setting. What it honours is a *collapsed section*: a Markdown cell that starts
  with a heading opens a section that runs to the next heading of the same or a higher level, and
  the notebook's ``metadata.colab.collapsed_sections`` lists, by cell id, the sections that open
  collapsed (Colab shows the heading and "N cells hidden"; a click on it shows them).

So this tool wraps every solution in a section of its own, in the chapter's MyST source (the single
source; jupytext copies the cells into the notebook):

- before the solution an *opener*: a Markdown cell ``#### Solution`` with the cell id
  ``solution-<label>``, tagged ``remove-cell`` so the website (myst-nb) drops it;
- after it, where the next cell does not already start with a heading of level 1 to 4 (``## Summary``), a
  *closer* ``#### Next exercise`` (``#### End of solution`` when no exercise follows), id
  ``solution-<label>-end``, also ``remove-cell``: it ends the section, so what follows stays visible.

A solution gets a cell of its own first: a Markdown cell that holds a solution and other text is
split there (chapter 01 closes a gated solution and opens the next exercise in one cell).
``{solution}`` cells also get JupyterLab's ``source_hidden``. Then, on each notebook, it lists the
openers' ids in ``metadata.colab.collapsed_sections`` and gives every opener and closer the same id
as its nbformat 4.5 cell id (Colab keeps cell ids in ``metadata.id``; a 4.5 notebook also has the
top-level ``id``, and with both equal either reading finds the section).

``make sync`` runs it on ``book/`` between two ``jupytext --sync`` (the first brings in edits made
in a notebook, the second copies the headings into it) and on ``notebooks/`` last. It is idempotent:
the wrappers are recognised (:func:`is_colab_cell`), removed and written again, so a solution that
moved or was deleted takes its wrappers with it. ``vidgen_edu.tools.course`` drops them with the
solutions.
"""

from __future__ import annotations

import copy
import json
import re
import sys
from pathlib import Path

import nbformat
from nbformat.v4.nbbase import random_cell_id

#: the level of the opener and closer headings: below the chapter's own sections (``## Exercises``)
SOLUTION_LEVEL = 4
OPENER = "#" * SOLUTION_LEVEL + " Solution"
CLOSER_EXERCISE = "#" * SOLUTION_LEVEL + " Next exercise"
CLOSER_OTHER = "#" * SOLUTION_LEVEL + " End of solution"
ID_PREFIX = "solution-"
END_SUFFIX = "-end"
REMOVE = "remove-cell"  # Jupyter Book (myst-nb) drops cells with this tag from the website

# The book's solution directives, colon fences: `::::{solution} label`, `::::{solution-start} label`,
# `::::{solution-end}` (see vidgen_edu.tools.course); a fence closes on a line of at least as many colons.
_DIRECTIVE = re.compile(r"^(?P<fence>:{3,})\{(?P<name>solution|solution-start|solution-end)\}[ \t]*(?P<arg>\S*)")
_EXERCISE = re.compile(r"^\s*:{3,}\{exercise\}")
_HEADING = re.compile(r"^(#{1,6})[ \t]+\S")
_CODE_FENCE = re.compile(r"^\s*(```|~~~)")
_ID_CHARS = re.compile(r"[^A-Za-z0-9_-]")


def is_colab_cell(cell) -> bool:
    """True for an opener or closer this tool wrote: a ``remove-cell`` Markdown cell with id ``solution-...``."""
    meta = cell.get("metadata", {})
    return (cell.get("cell_type") == "markdown" and str(meta.get("id", "")).startswith(ID_PREFIX)
            and REMOVE in meta.get("tags", []))


def is_opener(cell) -> bool:
    """True for the heading cell of a solution's collapsed section."""
    return is_colab_cell(cell) and not str(cell["metadata"]["id"]).endswith(END_SUFFIX)


def _text(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def heading_level(cell) -> int | None:
    """The level of the heading a Markdown cell starts with (``## Summary`` -> 2), else None."""
    if cell.get("cell_type") != "markdown":
        return None
    lines = _text(cell).strip().splitlines()
    match = _HEADING.match(lines[0]) if lines else None
    return len(match.group(1)) if match else None


def _headings(text: str) -> list[int]:
    """The levels of every Markdown heading in ``text``, outside fenced code."""
    levels, fenced = [], False
    for line in text.splitlines():
        if _CODE_FENCE.match(line):
            fenced = not fenced
        elif not fenced and (match := _HEADING.match(line)):
            levels.append(len(match.group(1)))
    return levels


def directive_end(lines: list[str], start: int, fence: str, where: str) -> int:
    """Index of the line after the fence that closes the directive opened on ``lines[start]``."""
    for i in range(start + 1, len(lines)):
        stripped = lines[i].strip()
        if len(stripped) >= len(fence) and set(stripped) == {":"}:
            return i + 1
    raise ValueError(f"{where}: {lines[start].strip()!r} is never closed (no line of {fence!r})")


def _split(cell, where: str) -> list:
    """A Markdown cell cut so that each solution starts and ends a cell.

    Cuts before a ``{solution}`` or ``{solution-start}`` and after the fence that closes a
    ``{solution}`` or ``{solution-end}``; blank pieces go. Every piece keeps the cell's metadata,
    except that a piece with no solution in it is not left folded (``source_hidden``).
    """
    lines = _text(cell).splitlines()
    cuts = set()
    for i, line in enumerate(lines):
        match = _DIRECTIVE.match(line)
        if not match:
            continue
        if match["name"] != "solution-end":
            cuts.add(i)
        if match["name"] != "solution-start":
            cuts.add(directive_end(lines, i, match["fence"], where))
    bounds = sorted(cuts | {0, len(lines)})
    pieces = ["\n".join(lines[a:b]).strip("\n") for a, b in zip(bounds, bounds[1:])]
    pieces = [p for p in pieces if p.strip()]
    if len(pieces) <= 1:
        return [cell]
    out = []
    for piece in pieces:
        new = copy.deepcopy(cell)
        new["source"] = piece
        if "id" in new:
            new["id"] = random_cell_id()  # a new cell (jupytext keeps the old id for the cell it matches)
        if not any(_DIRECTIVE.match(line) for line in piece.splitlines()):
            new.get("metadata", {}).get("jupyter", {}).pop("source_hidden", None)
            if new.get("metadata", {}).get("jupyter") == {}:
                del new["metadata"]["jupyter"]
        out.append(nbformat.from_dict(new))
    return out


def _label_id(label: str, where: str) -> str:
    if not label:
        raise ValueError(f"{where}: a solution without a label (`::::{{solution}} exercise-label`)")
    return ID_PREFIX + _ID_CHARS.sub("-", label)


def solutions(cells: list) -> list[tuple[int, int, str]]:
    """``(first, stop, label)`` of every solution: ``cells[first:stop]`` hold it, from its directive to its end.

    A ``{solution}`` lies in one Markdown cell; a gated solution runs from the cell with its
    ``{solution-start}`` to the cell with its ``{solution-end}``. After :func:`_split`, a solution's
    first cell starts with its directive and its last cell ends with its closing fence.
    """
    found, gate = [], None
    for index, cell in enumerate(cells):
        if cell.get("cell_type") != "markdown":
            continue
        for line in _text(cell).splitlines():
            match = _DIRECTIVE.match(line)
            if not match:
                continue
            if match["name"] == "solution" and gate is None:
                found.append((index, index + 1, match["arg"]))
            elif match["name"] == "solution-start" and gate is None:
                gate = (index, match["arg"])
            elif match["name"] == "solution-end" and gate is not None:
                found.append((gate[0], index + 1, gate[1]))
                gate = None
            else:
                raise ValueError(f"cell {index}: {match['name']} out of place (solutions do not nest)")
    if gate is not None:
        raise ValueError(f"cell {gate[0]}: a solution-start has no solution-end")
    return found


def _wrapper(source: str, cell_id: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_markdown_cell(source, metadata={"id": cell_id, "tags": [REMOVE]})


def _needs_closer(following) -> bool:
    """Whether the cell after a solution leaves its section open: not a heading of level <= 4, nor
    the start of another solution (which gets its own opener)."""
    level = heading_level(following)
    if level is not None and level <= SOLUTION_LEVEL:
        return False
    return not (following.cell_type == "markdown" and _DIRECTIVE.match(following.source.lstrip()))


def wrap(nb: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """A copy of ``nb`` with every solution in a collapsible section of its own (openers, closers).

    Earlier openers and closers are removed first, so the result depends only on the chapter's own
    cells. Raises ``ValueError`` where a section could not hide exactly the solution: a heading of
    level 1-4 inside a solution (it would end the section there), or a solution under a heading of
    level 4 or deeper (the opener would not nest below it).
    """
    out = copy.deepcopy(nb)
    cells = []
    for index, cell in enumerate(c for c in out.cells if not is_colab_cell(c)):
        cells += _split(cell, f"{name}, cell {index}") if cell.cell_type == "markdown" else [cell]
    wrapped, done, level = [], 0, 0
    for first, stop, label in solutions(cells):
        where = f"{name}, solution {label or '?'}"
        for cell in cells[done:first]:
            if cell.cell_type == "markdown" and (levels := _headings(cell.source)):
                level = levels[-1]
        if level >= SOLUTION_LEVEL:
            raise ValueError(f"{where}: under a heading of level {level}; the Colab section needs a deeper one")
        inner = [lv for c in cells[first:stop] if c.cell_type == "markdown" for lv in _headings(c.source)]
        if any(lv <= SOLUTION_LEVEL for lv in inner):
            raise ValueError(f"{where}: a heading of level <= {SOLUTION_LEVEL} inside the solution would end "
                             "its Colab section and show the rest; use bold text instead")
        cell_id = _label_id(label, where)
        if first + 1 == stop and _DIRECTIVE.match(cells[first].source.lstrip())["name"] == "solution":
            cells[first].metadata.setdefault("jupyter", {})["source_hidden"] = True  # JupyterLab's ●●●
        wrapped += cells[done:first] + [_wrapper(OPENER, cell_id)] + cells[first:stop]
        if stop < len(cells) and _needs_closer(cells[stop]):
            is_exercise = cells[stop].cell_type == "markdown" and _EXERCISE.match(cells[stop].source)
            wrapped.append(_wrapper(CLOSER_EXERCISE if is_exercise else CLOSER_OTHER, cell_id + END_SUFFIX))
        done = stop
    out.cells = wrapped + cells[done:]
    return out


def mark(nb: dict) -> bool:
    """Mark the openers of a notebook (a dict, as read from JSON) collapsed for Colab; True if it changed.

    ``metadata.colab.collapsed_sections`` becomes the openers' ids, in order (other ``colab`` keys
    stay); in an nbformat 4.5 notebook, every opener and closer gets its ``metadata.id`` as its cell
    id too.
    """
    before = json.dumps(nb, sort_keys=True)
    ids = []
    for cell in nb.get("cells", []):
        if not is_colab_cell(cell):
            continue
        if "id" in cell:
            cell["id"] = cell["metadata"]["id"]
        if is_opener(cell):
            ids.append(cell["metadata"]["id"])
    taken = [c.get("id") for c in nb.get("cells", []) if "id" in c]
    if len(taken) != len(set(taken)):
        raise ValueError(f"cell ids are not unique: {sorted({i for i in taken if taken.count(i) > 1})}")
    metadata = nb.setdefault("metadata", {})
    colab = metadata.get("colab", {})
    if ids:
        metadata["colab"] = {**colab, "collapsed_sections": ids}
    elif "collapsed_sections" in colab:
        colab.pop("collapsed_sections")
        if not colab:
            del metadata["colab"]
    return json.dumps(nb, sort_keys=True) != before


def _is_myst_notebook(text: str) -> bool:
    return text.startswith("---") and "jupytext:" in text.split("\n---", 1)[0]


def wrap_file(path: str | Path) -> bool:
    """Wrap the solutions of a MyST chapter in place; True when the file changed."""
    import jupytext  # the book's tool (extra "book"), needed only for the chapters' sources

    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if not _is_myst_notebook(text):
        return False
    new = jupytext.writes(wrap(jupytext.reads(text, fmt="md:myst"), path.name), fmt="md:myst")
    if new == text:
        return False
    path.write_text(new, encoding="utf-8")
    return True


def mark_file(path: str | Path) -> bool:
    """Mark a notebook's solution sections collapsed, in place; True when the file changed."""
    path = Path(path)
    nb = json.loads(path.read_text(encoding="utf-8"))
    if not mark(nb):
        return False
    path.write_text(json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return True


def main(argv: list[str]) -> int:
    for name in argv:
        if name.endswith(".ipynb") and mark_file(name):
            print(f"marked the solution sections of {name} collapsed for Colab")
        elif name.endswith(".md") and wrap_file(name):
            print(f"wrapped the solutions of {name} in Colab sections")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
