"""The student release of the book: ``python -m vidgen_edu.tools.course [OUT_DIR] [--site-source DIR]``.

``make course`` runs it (see ``book/instructors.md``). It writes, executing nothing:

- ``OUT_DIR/notebooks/`` (default ``_build/course``): every notebook of ``notebooks/`` with every
  solution removed — each ``{solution}`` directive, and each gated solution from its
  ``{solution-start}`` through its ``{solution-end}`` with every cell in between, and the headings
  that fold each solution on Colab — and nothing else: exercises, code stubs and checker cells stay,
  in order, with their cell ids;
- ``OUT_DIR/README.md`` for students, and ``LICENSE``, ``LICENSE-TEXT.md``, ``CITATION.cff``;
- with ``--site-source DIR``: the book's sources (``_config.yml``, ``_toc.yml``, ``book/``,
  ``notebooks/``) with the same solutions removed, for ``jupyter-book build DIR``: the students'
  website. Its ``_config.yml`` also sets sphinx-exercise's ``hide_solutions``, but that option alone
  does not do it: in sphinx-exercise 1.2.1 it drops a gated solution's ``{solution-start}`` and keeps
  the cells up to ``{solution-end}`` on the page, and the HTML writer then fails on the orphaned end
  node. Removing the solutions from the sources works for both kinds, and the website and the
  notebooks then come from one function, :func:`remove_solutions`.

A release keeps solutions out of what students are handed; they stay public in the repository and
on the book's website.
"""

from __future__ import annotations

import argparse
import copy
import re
import shutil
import sys
from pathlib import Path
from typing import NamedTuple

import nbformat
import yaml

from .. import __version__
from .colab import directive_end, is_colab_cell
from .setup_cell import REPOSITORY

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = Path("_build") / "course"
#: copied into the release next to the notebooks
LEGAL_FILES = ("LICENSE", "LICENSE-TEXT.md", "CITATION.cff")

# A colon fence opening a solution directive: `::::{solution} label`, `::::{solution-start} label`,
# `::::{solution-end}`. A colon fence closes on a line of at least as many colons as opened it.
_SOLUTION = re.compile(r"^(?P<fence>:{3,})\{(?P<name>solution|solution-start|solution-end)\}")
_EXERCISE = re.compile(r"^(?P<fence>:{3,})\{exercise\}[ \t]*(?P<title>.*)$")
_LABEL = re.compile(r"^:label:\s*(\S+)")
_CHECK_CALL = re.compile(r"^\s*check_\w+\(", re.M)


def _skip_blank(lines: list[str], i: int, kept: list[str]) -> int:
    """After a removed block: skip a blank line at ``i`` if ``kept`` already ends with one."""
    if i < len(lines) and not lines[i].strip() and kept and not kept[-1].strip():
        return i + 1
    return i


def _strip_markdown(text: str, gated: bool, where: str) -> tuple[str, bool, bool]:
    """Markdown ``text`` without its solutions; ``gated`` says whether a gated solution is open.

    Returns the text that remains, whether a gated solution is still open at its end (its cells
    continue into the next ones), and whether anything was removed.
    """
    lines = text.splitlines(keepends=True)
    kept: list[str] = []
    i = 0
    while i < len(lines):
        match = _SOLUTION.match(lines[i])
        name = match["name"] if match else None
        if gated:
            if name == "solution-start":
                raise ValueError(f"{where}: solution-start inside another gated solution")
            if name == "solution-end":
                i = _skip_blank(lines, directive_end(lines, i, match["fence"], where), kept)
                gated = False
            else:
                i += 1
        elif name == "solution-end":
            raise ValueError(f"{where}: solution-end without a solution-start before it")
        elif name == "solution-start":
            gated = True  # everything up to and including the solution-end goes
            i += 1
        elif name == "solution":
            i = _skip_blank(lines, directive_end(lines, i, match["fence"], where), kept)
        else:
            kept.append(lines[i])
            i += 1
    if len(kept) == len(lines):
        return text, gated, False
    return "".join(kept).strip("\n"), gated, True


def remove_solutions(nb: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """A copy of ``nb`` without solutions, and with no outputs; every other cell is kept unchanged.

    Removed: every ``{solution}`` colon-fence directive (usually a whole Markdown cell), and every
    gated solution: the ``{solution-start}`` directive, every cell after it, up to and including the
    ``{solution-end}`` directive. Text before a start or after an end in the same cell stays (a
    chapter's next exercise often shares the cell that closes the previous solution). A cell left
    empty is dropped. So are the headings that open and close each solution's collapsed section on
    Colab (:mod:`vidgen_edu.tools.colab`), and the notebook's list of those sections. Raises
    ``ValueError`` on an unclosed directive or an unbalanced gate.
    """
    out = copy.deepcopy(nb)
    cells = []
    gated = False
    for index, cell in enumerate(nb.cells):
        where = f"{name}, cell {index}"
        if is_colab_cell(cell):
            continue
        if cell.cell_type != "markdown":
            if not gated:
                cells.append(copy.deepcopy(cell))
            continue
        text, gated, changed = _strip_markdown(cell.source, gated, where)
        if text.strip():
            new = copy.deepcopy(cell)
            if changed:
                new.source = text
                # a solution cell's "collapsed" flag must not hide what remains of it
                new.metadata.get("jupyter", {}).pop("source_hidden", None)
                if new.metadata.get("jupyter") == {}:
                    del new.metadata["jupyter"]
            cells.append(new)
    if gated:
        raise ValueError(f"{name}: a solution-start has no solution-end")
    colab = out.metadata.get("colab", {})
    if colab.pop("collapsed_sections", None) is not None and not colab:
        del out.metadata["colab"]
    for cell in cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    out.cells = cells
    return out


class Exercise(NamedTuple):
    """An exercise of a chapter: its label, title, and whether code after it runs a checker."""

    label: str
    title: str
    has_checker: bool


def exercises(nb: nbformat.NotebookNode) -> list[Exercise]:
    """The exercises of a notebook, in order.

    An exercise has a checker when the code cells right after its Markdown cell call a ``check_*``
    function or ``assert`` (the book's code exercises: a stub, then the check).
    """
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.splitlines()
        for i, line in enumerate(lines):
            match = _EXERCISE.match(line)
            if not match:
                continue
            label = next((m.group(1) for m in map(_LABEL.match, lines[i + 1:i + 4]) if m), "")
            code = []
            for nxt in nb.cells[index + 1:]:
                if nxt.cell_type != "code":
                    break
                code.append(nxt.source)
            checked = any(_CHECK_CALL.search(src) or re.search(r"\bassert\b", src) for src in code)
            found.append(Exercise(label, match["title"].strip(), checked))
    return found


def chapter_title(nb: nbformat.NotebookNode) -> str:
    """The first ``# `` heading of a notebook."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return ""


def student_readme(chapters: list[tuple[str, nbformat.NotebookNode]]) -> str:
    """The README of a release: how to run the notebooks, how the exercises work, the licence."""
    rows = []
    for filename, nb in chapters:
        found = exercises(nb)
        checked = sum(e.has_checker for e in found)
        rows.append(f"| `notebooks/{filename}` | {chapter_title(nb)} | {len(found)} | {checked} |")
    table = "\n".join(rows)
    return f"""# AI Video Generation from First Principles — course notebooks (version {__version__})

The chapters of the book as Jupyter notebooks, for a course. They are the book's own
notebooks with the **solutions removed**; the exercises, the code stubs and the checkers are all
there. The book with solutions is in its repository, {REPOSITORY}.

| Notebook | Chapter | Exercises | with a checker |
|---|---|---|---|
{table}

## Running the notebooks

**On Colab**: upload a notebook (File → Upload notebook) and run it from the top. Its first cell
installs the book's library, `vidgen_edu` {__version__}, which takes a minute the first time.

**On your computer** (Python 3.10–3.13):

```bash
python -m venv .venv
source .venv/bin/activate          # Windows: .venv\\Scripts\\activate
pip install torch --index-url https://download.pytorch.org/whl/cpu   # only without an NVIDIA GPU
pip install "vidgen-edu @ git+{REPOSITORY}@v{__version__}" jupyterlab
jupyter lab notebooks
```

Without the second line, pip installs PyTorch with several GB of CUDA libraries, which a computer
without an NVIDIA GPU does not need. A GPU is used when there is one, and never required: every
chapter trains its models in a few minutes on a laptop CPU.

**Quick mode.** For a first run through a notebook, set `VIDGEN_QUICK=1` (start JupyterLab with
`VIDGEN_QUICK=1 jupyter lab notebooks`, or run `%env VIDGEN_QUICK=1` in a cell at the top): every
training shrinks to a few steps, so a notebook runs in seconds or minutes. Its numbers then mean
nothing — the models are barely trained; run without it for the real results.

## Exercises

Every chapter ends with exercises. A **code exercise** gives you a function whose body raises
`NotImplementedError`; write the body, then run that cell and the next: the checker prints
"correct ..." or raises an `AssertionError` that says what is wrong: it compares your answer with
the definition, or with PyTorch, on test inputs.
The other exercises are derivations and questions: answer them in a Markdown cell or on paper.

## Licence and citation

The text and figures are licensed under CC BY 4.0 (`LICENSE-TEXT.md`, which says how to give
credit), the code under the MIT licence (`LICENSE`). To cite the book, use `CITATION.cff`.
"""


def write_notebooks(root: Path, dest: Path) -> list[tuple[str, nbformat.NotebookNode]]:
    """Write every notebook of ``root/notebooks`` without solutions into ``dest``; return them."""
    sources = sorted((root / "notebooks").glob("*.ipynb"))
    if not sources:
        raise FileNotFoundError(f"no notebooks in {root / 'notebooks'}")
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sources:
        nb = remove_solutions(nbformat.read(path, as_version=4), path.name)
        nbformat.validate(nb)
        nbformat.write(nb, dest / path.name)
        written.append((path.name, nb))
    return written


def write_release(root: Path, out: Path) -> list[Path]:
    """The student release in ``out``: notebooks without solutions, a README, the licences."""
    chapters = write_notebooks(root, out / "notebooks")
    (out / "README.md").write_text(student_readme(chapters), encoding="utf-8")
    for name in LEGAL_FILES:
        if (root / name).is_file():
            shutil.copy2(root / name, out / name)
    return [out / "notebooks" / filename for filename, _ in chapters]


def site_config(root: Path) -> dict:
    """The book's ``_config.yml`` for a copy of its sources elsewhere, with solutions hidden.

    Paths that Jupyter Book resolves against the config file (``local_extensions``) or Sphinx
    against the source folder (``html_static_path``) are made absolute, so they still point into
    ``root``. Binder and Colab buttons are switched off: they would open the repository's notebooks,
    solutions included.
    """
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    sphinx = config.setdefault("sphinx", {})
    options = sphinx.setdefault("config", {}) or {}
    sphinx["config"] = options
    options["hide_solutions"] = True
    if sphinx.get("local_extensions"):
        sphinx["local_extensions"] = {name: str((root / path).resolve())
                                      for name, path in sphinx["local_extensions"].items()}
    if options.get("html_static_path"):
        options["html_static_path"] = [str((root / path).resolve()) for path in options["html_static_path"]]
    launch = config.setdefault("launch_buttons", {}) or {}
    config["launch_buttons"] = {**launch, "binderhub_url": "", "colab_url": ""}
    return config


def _is_myst_notebook(text: str) -> bool:
    return text.startswith("---") and "jupytext:" in text.split("\n---", 1)[0]


def write_site_source(root: Path, dest: Path) -> Path:
    """A copy of the book's sources in ``dest`` without solutions: ``jupyter-book build dest``."""
    import jupytext  # the book's tool (extra "book"), needed only here

    if dest.exists():
        shutil.rmtree(dest)
    ignore = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "_build")
    shutil.copytree(root / "book", dest / "book", ignore=ignore)
    for md in sorted((dest / "book").glob("*.md")):
        text = md.read_text(encoding="utf-8")
        if _is_myst_notebook(text) and any(_SOLUTION.match(line) for line in text.splitlines()):
            nb = remove_solutions(jupytext.reads(text, fmt="md:myst"), md.name)
            jupytext.write(nb, md, fmt="md:myst")
    write_notebooks(root, dest / "notebooks")  # chapters' twins, as in the repository
    shutil.copy2(root / "_toc.yml", dest / "_toc.yml")
    header = ("# Generated by `python -m vidgen_edu.tools.course` from the book's _config.yml: the students'\n"
              "# website, built from sources whose solutions were removed (hide_solutions as well).\n")
    config = yaml.safe_dump(site_config(root), sort_keys=False, allow_unicode=True, width=120)
    (dest / "_config.yml").write_text(header + config, encoding="utf-8")
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vidgen_edu.tools.course", description=__doc__.split("\n")[0])
    parser.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT,
                        help=f"folder of the release (default: {DEFAULT_OUT})")
    parser.add_argument("--site-source", type=Path, default=None,
                        help="also write the website's sources without solutions here (replaced if it exists)")
    parser.add_argument("--root", type=Path, default=ROOT, help="the book's repository (default: this checkout)")
    args = parser.parse_args(argv)
    notebooks = write_release(args.root, args.out)
    print(f"wrote {len(notebooks)} notebooks without solutions, README.md and the licences to {args.out}")
    if args.site_source is not None:
        write_site_source(args.root, args.site_source)
        print(f"wrote the website's sources without solutions to {args.site_source} "
              f"(build: jupyter-book build {args.site_source})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
