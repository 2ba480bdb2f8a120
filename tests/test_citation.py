"""Licence and citation files: present, and in step with the package, pyproject.toml and _config.yml."""

import re
from pathlib import Path

import yaml

import vidgen_edu
from vidgen_edu.tools.setup_cell import REPOSITORY

ROOT = Path(__file__).resolve().parents[1]
AUTHORS = "The vidgen-edu authors"


def _cff() -> dict:
    return yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))


def test_citation_version_is_the_package_version():
    cff = _cff()
    assert str(cff["version"]) == vidgen_edu.__version__
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^version = "([^"]+)"', pyproject, re.M).group(1) == vidgen_edu.__version__


def test_citation_is_cff_1_2_0_with_the_book_metadata():
    cff = _cff()
    assert str(cff["cff-version"]) == "1.2.0"
    for key in ("cff-version", "message", "title", "authors"):  # required by the CFF 1.2.0 schema
        assert cff.get(key), f"CITATION.cff lacks {key!r}"
    assert cff["authors"] == [{"name": AUTHORS}], "the authors are one entity, written as {name: ...}"
    assert cff["type"] == "software"
    assert cff["license"] == "MIT"
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    assert cff["title"] == config["title"]
    assert cff["repository-code"] == config["repository"]["url"] == REPOSITORY


def test_licence_files_exist():
    code = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert code.startswith("MIT License")
    assert f"Copyright (c) 2026 {AUTHORS}" in code
    assert re.search(r'license = \{ text = "MIT" \}', (ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    text = (ROOT / "LICENSE-TEXT.md").read_text(encoding="utf-8")
    assert "CC BY 4.0" in text and "https://creativecommons.org/licenses/by/4.0/" in text
    assert AUTHORS in text
