"""The student release (`make course`): every chapter, no solution, every exercise and checker kept.

The checks use their own, simpler reading of the book's conventions (a ``{solution}`` fills a
Markdown cell; a gated solution runs from a cell that opens with ``{solution-start}`` to the
``{solution-end}`` fence, which may share its cell with the next exercise), so they do not just
repeat ``vidgen_edu.tools.course``. Nothing is executed.
"""

import re
from pathlib import Path

import nbformat
import pytest
import yaml

from vidgen_edu.tools import course

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
_PLAIN = re.compile(r":{3,}\{solution\}")
_START = re.compile(r":{3,}\{solution-start\}")
_END = re.compile(r"^:{3,}\{solution-end\}[ \t]*\n:{3,}[ \t]*$\n?", re.M)
_EXERCISE_LABEL = re.compile(r"^:{3,}\{exercise\}.*\n:label:\s*(\S+)", re.M)


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _colab_heading(cell) -> bool:
    """A heading that folds a solution on Colab: a remove-cell Markdown cell with a ``solution-...`` id."""
    meta = cell.metadata
    return (cell.cell_type == "markdown" and "remove-cell" in meta.get("tags", [])
            and str(meta.get("id", "")).startswith("solution-"))


def _oracle(nb: nbformat.NotebookNode) -> tuple[list[str], list[tuple[str, str]]]:
    """(the text of each solution, the (cell type, source) of everything else), in order.

    The headings that fold each solution on Colab belong to neither: the release drops them.
    """
    solutions, kept = [], []
    gated = None  # the parts of the open gated solution
    for cell in nb.cells:
        src = cell.source
        if _colab_heading(cell):
            continue
        if gated is None and cell.cell_type == "markdown" and _PLAIN.match(src):
            solutions.append(src)
            continue
        if gated is None and cell.cell_type == "markdown" and _START.match(src):
            gated = []
        if gated is None:
            kept.append((cell.cell_type, src))
            continue
        end = _END.search(src) if cell.cell_type == "markdown" else None
        if end is None:
            gated.append(src)
            continue
        gated.append(src[:end.start()])
        solutions.append("\n".join(gated))
        gated = None
        if src[end.end():].strip():
            kept.append((cell.cell_type, src[end.end():]))
    assert gated is None, "a solution-start without its solution-end"
    return solutions, kept


def _distinctive_lines(solution: str, kept_text: str) -> list[str]:
    """Lines of a solution that appear nowhere else in its notebook (a solution's first code line
    often repeats the stub's `def`, so "first line" alone would not be distinctive)."""
    lines = []
    for line in solution.splitlines():
        line = line.strip()
        if len(line) >= 12 and not line.startswith((":", "```")) and line not in kept_text:
            lines.append(line)
    return lines


def _text(nb: nbformat.NotebookNode) -> str:
    return "\n".join(cell.source for cell in nb.cells)


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("course") / "release"
    assert course.main([str(out)]) == 0
    return out


def test_release_has_every_chapter_notebook_and_the_licences(release):
    assert len(NOTEBOOKS) >= 8
    assert sorted(p.name for p in (release / "notebooks").glob("*.ipynb")) == [p.name for p in NOTEBOOKS]
    readme = (release / "README.md").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        assert f"notebooks/{path.name}" in readme, f"the student README does not list {path.name}"
    for name in ("LICENSE", "LICENSE-TEXT.md", "CITATION.cff"):
        assert (release / name).read_bytes() == (ROOT / name).read_bytes()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_release_notebook_has_no_solution(release, path):
    source = _read(path)
    solutions, kept = _oracle(source)
    assert not any("{solution" in src for _, src in kept), "a solution the book's conventions do not cover"
    released = _read(release / "notebooks" / path.name)
    leaked = [i for i, cell in enumerate(released.cells) if "{solution" in cell.source]
    assert leaked == [], f"cells {leaked} of the release still hold a solution directive"
    kept_text, released_text = "\n".join(src for _, src in kept), _text(released)
    for solution in solutions:
        lines = _distinctive_lines(solution, kept_text)
        assert lines, f"a solution with no line of its own: {solution[:80]!r}"
        for line in lines:
            assert line not in released_text, f"solution text left in the release: {line!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_release_notebook_keeps_every_exercise_and_checker(release, path):
    source = _read(path)
    _, kept = _oracle(source)
    released = _read(release / "notebooks" / path.name)
    got = [(cell.cell_type, cell.source.strip()) for cell in released.cells]
    assert got == [(kind, src.strip()) for kind, src in kept], "the release must keep every non-solution cell as is"
    labels = _EXERCISE_LABEL.findall(_text(source))
    assert _EXERCISE_LABEL.findall(_text(released)) == labels
    checkers = [c.source for c in source.cells
                if c.cell_type == "code" and re.search(r"^\s*(def )?check_\w+\(", c.source, re.M)]
    if labels:
        assert checkers, "a chapter with exercises has checker cells"
    code = [c.source for c in released.cells if c.cell_type == "code"]
    solutions = _oracle(source)[0]
    for checker in checkers:
        if not any(checker in s for s in solutions):  # a gated solution's own call to the checker goes
            assert checker in code, f"a checker cell was dropped: {checker[:60]!r}"
    assert sum(e.has_checker for e in course.exercises(released)) == sum(
        e.has_checker for e in course.exercises(source))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_release_notebook_is_valid_and_clean(release, path):
    released = _read(release / "notebooks" / path.name)
    nbformat.validate(released)
    ids = [cell.id for cell in released.cells]
    assert len(ids) == len(set(ids)), "cell ids must stay unique"
    assert not any(c.get("outputs") or c.get("execution_count") for c in released.cells if c.cell_type == "code")
    assert released.metadata.get("kernelspec", {}).get("name") == "python3"
    assert not any(_colab_heading(c) for c in released.cells), "a Colab solution heading with nothing under it"
    assert "collapsed_sections" not in released.metadata.get("colab", {}), "Colab sections of removed solutions"


def _nb(*cells) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) if kind == "code" else nbformat.v4.new_markdown_cell(src)
                for kind, src in cells]
    return nb


def test_gated_solution_goes_with_its_cells_and_the_next_exercise_stays():
    nb = _nb(("md", ":::{exercise} One\n:label: ex-one\n\nDo it.\n:::"),
             ("code", "def f():\n    raise NotImplementedError\n\n\ncheck_f(f)"),
             ("md", "::::{solution-start} ex-one\n:class: dropdown\n::::\n\nSECRET text"),
             ("code", "def f():\n    return 42  # SECRET code"),
             ("md", "SECRET remark.\n\n::::{solution-end}\n::::\n\n:::{exercise} Two\n:label: ex-two\n\nNext.\n:::"),
             ("md", "Intro\n\n::::{solution} ex-two\n:class: dropdown\n\n:::{hint}\nSECRET hint\n:::\n"
                    "SECRET answer\n::::\n\nAfter the solution."))
    nb.cells[5].metadata["jupyter"] = {"source_hidden": True}
    out = course.remove_solutions(nb)
    assert [c.source for c in out.cells] == [
        nb.cells[0].source, nb.cells[1].source,
        ":::{exercise} Two\n:label: ex-two\n\nNext.\n:::", "Intro\n\nAfter the solution."]
    assert "jupyter" not in out.cells[3].metadata, "what remains of a folded solution cell must not stay folded"
    assert [e.has_checker for e in course.exercises(nb)] == [True, False]


@pytest.mark.parametrize("cells, message", [
    ([("md", "::::{solution-start} x\n::::"), ("code", "1")], "no solution-end"),
    ([("md", "::::{solution-end}\n::::")], "without a solution-start"),
    ([("md", "::::{solution} x\nnever closed")], "never closed"),
    ([("md", "::::{solution-start} x\n::::"), ("md", "::::{solution-start} y\n::::")], "inside another"),
])
def test_malformed_solutions_are_an_error_not_a_leak(cells, message):
    with pytest.raises(ValueError, match=message):
        course.remove_solutions(_nb(*cells))


def test_course_site_source_hides_solutions(tmp_path):
    pytest.importorskip("jupytext")
    dest = course.write_site_source(ROOT, tmp_path / "site")
    config = yaml.safe_load((dest / "_config.yml").read_text(encoding="utf-8"))
    assert config["sphinx"]["config"]["hide_solutions"] is True
    for path in config["sphinx"].get("local_extensions", {}).values():
        assert Path(path).is_absolute() and Path(path).is_dir(), path
    assert all(Path(p).is_absolute() for p in config["sphinx"]["config"].get("html_static_path", []))
    assert not config["launch_buttons"].get("binderhub_url") and not config["launch_buttons"].get("colab_url")
    toc = yaml.safe_load((dest / "_toc.yml").read_text(encoding="utf-8"))
    for part in toc["parts"]:
        for chapter in part["chapters"]:
            assert (dest / f"{chapter['file']}.md").is_file(), chapter["file"]
    for path in NOTEBOOKS:
        text = (dest / "book" / f"{path.stem}.md").read_text(encoding="utf-8")
        assert not re.search(r"^:{3,}\{solution", text, re.M), f"{path.stem}.md keeps a solution"
        solutions, kept = _oracle(_read(path))
        kept_text = "\n".join(src for _, src in kept)
        for solution in solutions:
            for line in _distinctive_lines(solution, kept_text):
                assert line not in text, f"{path.stem}.md: solution text left: {line!r}"
        assert _EXERCISE_LABEL.findall(text) == _EXERCISE_LABEL.findall(_text(_read(path)))


def test_instructor_page_lists_the_exercises_with_checkers():
    page = (ROOT / "book" / "instructors.md").read_text(encoding="utf-8")
    section = page.split("## Exercises with checkers", 1)[1].split("\n## ", 1)[0]
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| \{doc\}`(\d\d_\w+)` \|(.*)$", section, re.M)}
    total = checked = 0
    for path in NOTEBOOKS:
        found = course.exercises(_read(path))
        total, checked = total + len(found), checked + sum(e.has_checker for e in found)
        if not found:
            assert path.stem not in rows
            continue
        with_checker, without = rows[path.stem].split("|")[:2]
        assert re.findall(r"\{ref\}`([^`]+)`", with_checker) == [e.label for e in found if e.has_checker], path.stem
        assert re.findall(r"\{ref\}`([^`]+)`", without) == [e.label for e in found if not e.has_checker], path.stem
    assert f"Of the {total} exercises, {checked} have a checker" in page
    for target in re.findall(r"\{doc\}`([^`<]+)`", page):
        assert (ROOT / "book" / f"{target}.md").is_file(), f"{{doc}} target {target} does not exist"
