"""A reference to a chapter names one that exists: no promise points at a chapter not yet written.

Chapters still to come (filed as issues: GANs, tokens and text-to-video, diffusion, ...) are
referred to as "a later chapter" or by topic until their file exists; then the reference names
it. The check covers the chapters, the README and the library's docstrings and comments.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXISTING = {p.name[:2] for p in (ROOT / "book").glob("[0-9][0-9]_*.md")}
SOURCES = sorted([*(ROOT / "book").glob("*.md"), ROOT / "README.md", *(ROOT / "vidgen_edu").rglob("*.py")])
# "chapter 04", "Chapters 03–06", "chapters 03, 04, 05 and 06", "chapters 08-10"
MENTION = re.compile(r"\b[Cc]hapters?\s+(\d{2}(?:\s*(?:[–-]|,\s*(?:and|or)?|and|or)\s*\d{2})*)")
DOC = re.compile(r"\{doc\}`(?:[^`<]*<)?([^`>]+)>?`")


def chapter_numbers(text: str) -> list[tuple[str, str]]:
    """(number, the mention it is in) for every chapter number mentioned in ``text``; ranges give both ends."""
    return [(n, m.group(0).strip()) for m in MENTION.finditer(text) for n in re.findall(r"\d{2}", m.group(1))]


def test_the_mention_pattern():
    found = [n for n, _ in chapter_numbers("see chapter 04, Chapters 03–06 and chapters 03, 05 and 07; chapter 8")]
    assert found == ["04", "03", "06", "03", "05", "07"]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_chapter_mentions_name_existing_chapters(path):
    missing = [f"{mention!r}" for n, mention in chapter_numbers(path.read_text(encoding="utf-8")) if n not in EXISTING]
    assert missing == [], (f"{path.relative_to(ROOT)} refers to chapters that do not exist yet: {missing}; "
                           "say 'a later chapter' (or name the topic) until the chapter is written")


@pytest.mark.parametrize("path", sorted((ROOT / "book").glob("*.md")), ids=lambda p: p.stem)
def test_doc_roles_point_at_pages(path):
    targets = DOC.findall(path.read_text(encoding="utf-8"))
    missing = [t for t in targets if not (path.parent / f"{t.strip()}.md").exists()]
    assert missing == [], f"{path.name}: {{doc}} references to pages that do not exist: {missing}"
