"""Numbers in the prose come from the cells: a measured-looking number typed by hand fails the tests.

A chapter's text quotes what its cells measured through myst-nb's ``glue``
(``glue("name", value)`` in the cell, ``{glue:text}`name:.2f``` in the text) or
points at the printed table; a number typed by hand goes stale the moment a
recipe, a budget or quick mode changes what the cells print (DESIGN.md).

The checker keeps only a page's *prose*: it drops the YAML front matter, code
cells and fenced code, math (``$...$``, ``$$...$$``, ``{math}``), every role with
its content (``{glue:text}``, ``{cite}``, ``{doc}``, ``{numref}``, ...), inline
code, link targets, URLs, HTML and comments, and the option lines of directives.
In what is left, a number *looks measured* when it

- has a decimal point (``0.343``, ``13.8``), or
- carries a unit of measurement (``99 s``, ``8 dB``, ``12 %``, ``3 nats``, ``2 px``,
  ``120 clips/s``, ``8×`` or ``11 times`` as a ratio, ...), or
- is a vague quantity of a measured unit (``a few nats``, ``several dB``): a
  measurement that hides its number is still a measurement typed by hand.

The numbers of a range or list (``8 to 11 dB``, ``from 1.08 to 1.17``) stand or
fall together. Counts without a unit (10 frames, 3 balls) are not flagged.

A measured-looking number is allowed when

(a) a code cell of the chapter writes the same literal (a hyperparameter or a
    constant the cell sets: ``lr=2e-3``, ``sigma=1.5``) — except a ratio, or a
    number that reads as a result ("about 5 nats", "under 1 dB", "(0.05 px)"),
    whose digits a cell writes only by coincidence;
(b) its sentence cites a source (``{cite}``, "et al.", "reported by"): a
    published number is not ours to glue;
(c) the page has no cells and quotes files that print it (``PRINTED``: the page
    for instructors quotes the README and the leaderboard), rounded as written; or
(d) ``book/_prose_numbers.yml`` lists it for the page, with a reason (a
    definition, a budget fixed by design, a fact of the arithmetic).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.md"))
PAGES = sorted(BOOK.glob("*.md"))  # the chapters and the pages around them (index, instructors)
ALLOWLIST = BOOK / "_prose_numbers.yml"

# --------------------------------------------------------------------------- the prose of a page

FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,}|:{3,})\s*(?P<directive>\{[^}]*\})?(?P<rest>.*)$")
#: fenced blocks whose body is not prose (code cells and math); every other directive holds prose
NOT_PROSE = {"{code-cell}", "{code}", "{code-block}", "{math}", "{eval-rst}", "{raw}", "{bibliography}"}
OPTION = re.compile(r"^\s*:[\w-]+:")  # :label: ..., :class: ..., :tags: ...


@dataclass
class Page:
    """A page split into its prose (non-prose spans blanked, line numbers kept) and its code cells."""

    prose: str
    code: str


def split_page(text: str) -> Page:
    """Blank out everything of a MyST page that is not prose; collect the source of its code cells."""
    lines = text.splitlines()
    prose: list[str] = []
    code: list[str] = []
    stack: list[tuple[str, str]] = []  # open prose directives: (fence character, fence)
    skip: tuple[str, str, str] | None = None  # the open non-prose block: (fence char, fence, kind)
    i = 0
    if lines and lines[0].strip() == "---":  # YAML front matter
        end = next((j for j in range(1, len(lines)) if lines[j].strip() == "---"), 0)
        prose.extend([""] * (end + 1))
        i = end + 1
    in_options = False  # inside the --- ... --- option block at the head of a directive
    for line in lines[i:]:
        m = FENCE.match(line)
        if skip is not None:
            closing = m and m["fence"][0] == skip[0] and len(m["fence"]) >= len(skip[1]) \
                and not m["directive"] and not m["rest"].strip()
            if closing:
                skip = None
            elif skip[2] == "code":
                code.append(line)
            prose.append("")
            continue
        if in_options:
            in_options = line.strip() != "---"
            prose.append("")
            continue
        if m and stack and m["fence"][0] == stack[-1][0] and len(m["fence"]) >= len(stack[-1][1]) \
                and not m["directive"] and not m["rest"].strip():
            stack.pop()  # the end of a prose directive
            prose.append("")
            continue
        if m:
            name = (m["directive"] or "").split()[0].rstrip("}") + "}" if m["directive"] else ""
            if not m["directive"] or name in NOT_PROSE:
                skip = (m["fence"][0], m["fence"], "code" if name == "{code-cell}" else "other")
                prose.append("")
            else:  # a directive with prose inside; its title is prose too
                stack.append((m["fence"][0], m["fence"]))
                prose.append(m["rest"])
                in_options = False
            continue
        if stack and line.strip() == "---" and _just_opened(lines, len(prose) - 1):
            in_options = True
            prose.append("")
            continue
        if line.startswith("+++") or OPTION.match(line):
            prose.append("")
            continue
        prose.append(line)
    return Page(prose=_blank_inline("\n".join(prose)), code="\n".join(code))


def _just_opened(lines: list[str], j: int) -> bool:
    """Whether line ``j`` opened a directive (a ``---`` right after it starts the directive's options)."""
    m = FENCE.match(lines[j]) if 0 <= j < len(lines) else None
    return bool(m and m["directive"])


def _keep_newlines(m: re.Match) -> str:
    return "\n" * m.group(0).count("\n")


def _cite(m: re.Match) -> str:
    return " CITE " + "\n" * m.group(0).count("\n")


INLINE = [  # (pattern, replacement) in order; every replacement keeps the line count
    (re.compile(r"<!--.*?-->", re.S), _keep_newlines),
    (re.compile(r"\$\$.*?\$\$", re.S), _keep_newlines),
    (re.compile(r"\{cite(?::\w+)?\}`[^`]*`"), _cite),
    (re.compile(r"\{[\w:.-]+\}`[^`]*`"), _keep_newlines),  # {glue:text}`k:.2f`, {doc}`...`, {math}`...`, ...
    (re.compile(r"``.+?``|`[^`]*`", re.S), _keep_newlines),  # inline code
    (re.compile(r"(?<![\\$])\$(?:[^$\n]|\n(?![ \t]*\n))+?\$"), _keep_newlines),  # inline math, within a paragraph
    (re.compile(r"\]\([^)]*\)"), lambda m: "]"),  # [text](target): keep the text
    (re.compile(r"\(\s*[\w-]+\s*\)="), lambda m: ""),  # (label)= targets
    (re.compile(r"<https?://[^>]*>|https?://\S+"), _keep_newlines),
    (re.compile(r"</?[a-zA-Z][^>]*>"), _keep_newlines),  # HTML tags
]


def _blank_inline(text: str) -> str:
    for pattern, replacement in INLINE:
        text = pattern.sub(replacement, text)
    return text


# --------------------------------------------------------------------------- measured-looking numbers

NUM = r"\d+(?:,\d{3})*(?:\.\d+)?(?:[eE][-−+]?\d+)?"
UNITS = (r"dB|nats?|bits?|%|percent|px|pixels?|ms|s|sec|seconds?|min|minutes?|h|hours?|"
         r"[kKMG]i?B|steps/s|clips/s|samples/s|frames/s|it/s|fps|times")
RATIO = r"[×x](?![\w\d×]|\s*\d)"  # 8× faster, 1.5x: a ratio; 32×32 and 64 × 64 are sizes
CONNECT = r"\s*(?:,|–|—|-|to|and|or|vs\.?|versus)\s*"
#: a number (or a range or list of them) with a unit; the unit ends at a word boundary
WITH_UNIT = re.compile(
    rf"(?<![\w.,×])(?<!× )(?P<nums>{NUM}(?:{CONNECT}{NUM})*)\s?(?:(?P<unit>{UNITS})(?![\w/])|(?P<ratio>{RATIO}))")
DEC = r"(?:\d*\.\d+(?:[eE][-−+]?\d+)?|\d+[eE][-−+]?\d+)"  # 0.343, 13.8, 2e-3
DECIMAL = re.compile(rf"(?<![\w.,])(?P<num>{DEC})(?![\w.]*\d)")
#: a decimal alone, or a range or list of numbers with a decimal in it ("from 1.08 to 1.17", "between 1 and 3.7")
DECIMAL_GROUP = re.compile(rf"(?<![\w.,])(?:{NUM}{CONNECT})*{DEC}(?![\w.]*\d)(?:{CONNECT}{NUM}(?![\w.]*\d))*")
VAGUE = re.compile(r"\b(?P<vague>a\s+few|several|a\s+couple\s+of|a\s+handful\s+of|tens\s+of|a\s+fraction\s+of\s+an?)"
                   r"(?:\s+dozens?)?\s+(?P<unit>dB|nats?|bits?|percent|percentage\s+points)\b", re.I)
ONE_NUM = re.compile(NUM)
#: markers of a number quoted from the literature (with {cite} in the same sentence)
ATTRIBUTION = re.compile(r"\bCITE\b|\bet al\b|\b(?:reported|published) (?:by|in)\b|\b(?:the|their) (?:paper|authors)\b")
#: words before a number that make it a result, even when a cell happens to write the same literal ("about 5 nats")
HEDGE = re.compile(r"(?:\b(?:about|roughly|around|nearly|almost|approximately|under|over)|[~≈(])\s*$")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(*])|\n[ \t]*\n")


@dataclass(frozen=True)
class Finding:
    line: int
    number: str  # the number as written
    phrase: str  # the number with its unit, as the allowlist names it

    def __str__(self) -> str:
        return f"line {self.line}: {self.phrase!r}"


def _sentences(text: str):
    """(start, end) offsets of the sentences of the prose (a blank line ends one too)."""
    start = 0
    for m in SENTENCE_END.finditer(text):
        yield start, m.start()
        start = m.end()
    yield start, len(text)


def _in_code(number: str, code: str) -> bool:
    """Whether ``number`` is written as a number in the code (``0.5`` in ``beta=0.5``, not in ``10.5``)."""
    return re.search(rf"(?<![\w.]){re.escape(number)}(?![\w.]*\d)", code) is not None


def _in_printed(number: str, printed: str) -> bool:
    """Whether a number of the ``printed`` text, rounded as ``number`` is written, is ``number`` (31.83 → "31.8")."""
    digits = len(number.split(".")[1]) if "." in number else 0
    want = number.replace(",", "")
    return any(f"{float(n.replace(',', '')):.{digits}f}" == want for n in re.findall(NUM, printed))


@dataclass(frozen=True)
class _Span:
    start: int  # offset of the number in the prose
    end: int  # offset after its unit (or after the number)
    number: str
    phrase: str  # what the failure message and the allowlist call it: "13.8 dB", "1.5×", "0.343", "a few nats"
    group: int  # numbers of one range or list ("8 to 11 dB", "from 1.08 to 1.17") stand or fall together
    ratio: bool  # "8×", "11 times": a measured ratio even when a cell happens to write the same digits


def _spans(prose: str) -> list[_Span]:
    spans: list[_Span] = []
    for g, m in enumerate(WITH_UNIT.finditer(prose)):
        unit = m["unit"] or "×"
        for n in ONE_NUM.finditer(m["nums"]):
            spans.append(_Span(m.start("nums") + n.start(), m.end(), n.group(0),
                               f"{n.group(0)} {unit}".replace(" ×", "×"), g, unit in ("×", "times")))
    taken = {s.start for s in spans}
    for m in DECIMAL_GROUP.finditer(prose):
        g = len(prose) + m.start()  # a group id no unit group has
        for n in ONE_NUM.finditer(m.group(0)):
            if m.start() + n.start() not in taken:
                spans.append(_Span(m.start() + n.start(), m.start() + n.end(), n.group(0), n.group(0), g, False))
    for m in VAGUE.finditer(prose):
        vague = " ".join(m.group(0).lower().split()[:-len(m["unit"].split())])
        spans.append(_Span(m.start(), m.end(), vague, f"{vague} {' '.join(m['unit'].split())}", -1 - m.start(), False))
    return sorted(spans, key=lambda s: s.start)


def _reads_as_result(prose: str, span: _Span) -> bool:
    """"about 5 nats", "under 1 dB", "(0.05 px)": a result, even if a cell writes the same literal."""
    before = prose[max(0, span.start - 20):span.start]
    if before.rstrip().endswith("("):
        return prose[span.end:].lstrip().startswith(")")  # "(0.05 px)", not "(1.5 by default)"
    return HEDGE.search(before) is not None


def measured_numbers(text: str, allowed: set[str] = frozenset(), printed: str = "") -> list[Finding]:
    """Measured-looking numbers in the prose of a MyST page with no counterpart (see the module's doc).

    ``allowed`` holds numbers or phrases ("4 minutes") that may be typed by hand; ``printed`` is the text
    of files the page quotes (a page without cells quotes the README and the leaderboard).
    """
    page = split_page(text)
    prose = page.prose
    sentences = list(_sentences(prose))
    spans = _spans(prose)
    flagged: list[_Span] = []
    set_by_code: list[_Span] = []  # written in a cell: fine, unless a number of its range is flagged
    for span in spans:
        if span.phrase in allowed or span.number in allowed:
            continue
        if span.number[0].isdigit():
            if printed and _in_printed(span.number, printed):
                continue
        start, stop = next(((s, e) for s, e in sentences if s <= span.start <= e), (span.start, span.start))
        if ATTRIBUTION.search(prose[start:stop]):
            continue
        if (span.number[0].isdigit() and not span.ratio and not _reads_as_result(prose, span)
                and _in_code(span.number, page.code)):
            set_by_code.append(span)
            continue
        flagged.append(span)
    groups = {s.group for s in flagged}
    flagged += [s for s in set_by_code if s.group in groups]  # "8 to 11 dB" with an 8 in some cell: both
    return [Finding(line=prose.count("\n", 0, s.start) + 1, number=s.number, phrase=s.phrase)
            for s in sorted(flagged, key=lambda s: s.start)]


# --------------------------------------------------------------------------- the book


#: pages without cells that quote measurements written down elsewhere: their numbers must be in those files
PRINTED = {"instructors.md": ["README.md", "vidgen_edu/leaderboard/cpu.md"]}


def _allowlist() -> dict[str, dict[str, str]]:
    """{page: {number or phrase: reason}} from book/_prose_numbers.yml."""
    data = yaml.safe_load(ALLOWLIST.read_text(encoding="utf-8")) or {}
    return {page: {str(e["number"]): e["reason"] for e in entries} for page, entries in data.items()}


def _check(md: Path, allowed: set[str] = frozenset()) -> list[Finding]:
    printed = "\n".join((ROOT / f).read_text(encoding="utf-8") for f in PRINTED.get(md.name, []))
    return measured_numbers(md.read_text(encoding="utf-8"), allowed, printed)


HOW_TO_FIX = """
Numbers in the prose must come from the cells (DESIGN.md). For each one:
  - glue it: `glue("name", value)` in the cell that computes it (from vidgen_edu.viz.glue import glue),
    then {{glue:text}}`name:.2f` in the text (say "in this run": quick mode prints other numbers); or
  - point at the printed table or figure instead of repeating the number; or
  - when it is not a measurement (a definition, a budget fixed by design, a fact of the
    mathematics), list it under {page} in book/_prose_numbers.yml with a one-line reason."""


@pytest.mark.parametrize("md", PAGES, ids=lambda p: p.name)
def test_prose_numbers_come_from_the_cells(md):
    found = _check(md, set(_allowlist().get(md.name, {})))
    assert not found, (f"{md.name} types measured numbers by hand:\n"
                       + "\n".join(f"  book/{md.name}:{f.line}: {f.phrase}" for f in found)
                       + HOW_TO_FIX.format(page=md.name))


def test_every_allowlisted_number_is_still_in_its_page_and_has_a_reason():
    for page, entries in _allowlist().items():
        assert (BOOK / page).exists(), f"book/_prose_numbers.yml names {page}, which does not exist"
        flagged = {x for f in _check(BOOK / page) for x in (f.phrase, f.number)}
        for phrase, reason in entries.items():
            assert reason and len(reason.split()) >= 3, f"{page}: {phrase!r} needs a one-line reason"
            assert phrase in flagged, f"{page}: {phrase!r} is no longer flagged in the prose: drop it from the list"


GLUE_ROLE = re.compile(r"\{glue(?::\w*)?\}`([^`:]+)(?::[^`]*)?`")
GLUE_CALL = re.compile(r"\bglue\(\s*(f?)([\"'])(.+?)\2")


def _glued_keys(code: str) -> list[re.Pattern]:
    """What the chapter's cells glue, as patterns (an f-string key matches any value of its fields)."""
    keys = []
    for f, _, key in GLUE_CALL.findall(code):
        parts = re.split(r"\{[^}]*\}", key) if f else [key]
        keys.append(re.compile(".+".join(re.escape(p) for p in parts) + r"\Z"))
    return keys


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.name)
def test_every_glued_number_in_the_prose_is_glued_by_a_cell(md):
    text = md.read_text(encoding="utf-8")
    keys = _glued_keys(split_page(text).code)
    missing = [k for k in dict.fromkeys(GLUE_ROLE.findall(text)) if not any(p.match(k) for p in keys)]
    assert not missing, f"{md.name} quotes glue keys that no cell glues: {missing}"


# --------------------------------------------------------------------------- the checker itself

SYNTHETIC = """\
---
jupytext: {format_name: myst}
---

# A chapter

The model reaches 13.8 dB on the test clips.
It reaches {glue:text}`psnr:.1f` dB in this run.
The original paper reports 31.4 dB {cite}`someone2020`.
The bound is $\\mathrm{PSNR} = 10 \\log_{10} 4.5$ and {math}`\\sqrt{2.5}`

$$
x = 2.5
$$

```{code-cell} ipython3
beta, sigma, steps, ratio = 0.25, 1.5, 8, 3  # hyperparameters the text may repeat
fig.suptitle("title", y=1.08)
glue("psnr", 12.0)
glue(f"fvd_{kind}", 1.0)
```

With β = 0.25 the training took 99 s, 1.5× slower, with gains of 8 to 11 dB,
and the KL stays within a few nats. We train on 10 frames of 3 balls, at `lr=0.001`,
on clips of 32×32 pixels, 64 × 64 px (see the [table](#t-1.5)).
A blur of σ = 1.5 pixels (1.5 by default) moves the centres (1.5 px), about 8 nats;
the worst ratio went from 1.08 to 1.17, and 3× faster.

<!-- 9.9 dB -->
```python
x = 7.7  # dB
```

:::{prf:definition} A thing
:label: ch99-def-7.5

A definition mentioning 4.2 %.
:::
"""


def test_the_checker_flags_hand_typed_numbers_only():
    found = measured_numbers(SYNTHETIC)
    assert [(f.line, f.phrase) for f in found] == [
        (7, "13.8 dB"), (23, "99 s"), (23, "1.5×"), (23, "8 dB"), (23, "11 dB"), (24, "a few nats"),
        (26, "1.5 px"), (26, "8 nats"), (27, "1.08"), (27, "1.17"), (27, "3×"), (37, "4.2 %")]


def test_the_checker_honours_the_allowlist():
    found = measured_numbers(SYNTHETIC, allowed={"99 s", "13.8", "4.2 %"})
    assert not {"99 s", "13.8 dB", "4.2 %"} & {f.phrase for f in found} and len(found) == 9


def test_pages_without_cells_may_quote_the_files_they_name():
    text = "---\nx: 1\n---\n\nTraining took 31.8 s and 98.9 s (leaderboard), and 12.5 s.\n"
    found = measured_numbers(text, printed="| conv-vae | 31.83 |\n| convgru | 98.94 |")
    assert [f.phrase for f in found] == ["12.5 s"]


def test_the_prose_is_what_is_left():
    page = split_page(SYNTHETIC)
    assert "beta, sigma" in page.code and "beta" not in page.prose and "7.7" not in page.code + page.prose
    assert "x = 2.5" not in page.prose and "log_" not in page.prose and "psnr:" not in page.prose
    assert "9.9" not in page.prose and "sqrt" not in page.prose
    assert "jupytext" not in page.prose and ":label:" not in page.prose and "A thing" in page.prose
    assert page.prose.count("\n") == SYNTHETIC.count("\n") - 1  # line numbers are kept


def test_the_glue_check_reads_f_string_keys():
    keys = _glued_keys(split_page(SYNTHETIC).code)
    assert any(p.match("psnr") for p in keys) and any(p.match("fvd_shuffle") for p in keys)
    assert not any(p.match("ssim") for p in keys)
