"""pyproject.toml, requirements/lock.txt and environment.yml describe one environment."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(spec: str) -> str:
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9_.\-]+", spec).group(0)).lower()


def _pyproject_names():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = project["dependencies"] + [s for extra in project["optional-dependencies"].values() for s in extra]
    return {_name(s) for s in specs}


def _lock():
    pins = {}
    for line in (ROOT / "requirements" / "lock.txt").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[_name(name)] = version
    return pins


def _environment_pins():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    return {_name(s): s.split("==")[1] for s in pip if "==" in s}


def test_environment_yml_names_the_same_packages_as_pyproject():
    assert set(_environment_pins()) == _pyproject_names()


def test_environment_yml_pins_the_locked_versions():
    lock = _lock()
    for name, version in _environment_pins().items():
        assert lock.get(name) == version, f"{name}: environment.yml {version} != lock {lock.get(name)}"


def test_lock_pins_every_direct_dependency_and_a_cpu_friendly_torch():
    lock = _lock()
    assert _pyproject_names() <= set(lock)
    assert lock["torch"] == "2.13.0"  # a local CPU wheel on the book's machines; no CUDA download
    assert all("+" not in v for v in lock.values())


def test_environment_yml_cpu_index_line_works_when_uncommented():
    """The header tells CPU-only users to uncomment one line; done, it is a pip option in the pip list."""
    text = (ROOT / "environment.yml").read_text()
    line = next(l for l in text.splitlines() if l.lstrip().startswith("# - --extra-index-url"))
    env = yaml.safe_load(text.replace(line, line.replace("# - ", "- ", 1)))
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip[0] == "--extra-index-url https://download.pytorch.org/whl/cpu"  # PyTorch's CPU-only wheel index
    assert "torch==2.13.0" in pip  # matches the index's 2.13.0+cpu (a pin without a local label admits it)
