"""binder/ (mybinder.org): the reader's runtime at the lock's versions, CPU torch, nothing from the dev stack."""

import os
import re
import tomllib

from packaging.specifiers import SpecifierSet
from packaging.version import Version
from test_environment import ROOT, _lock, _name

BINDER = ROOT / "binder"
CPU_INDEX = "--extra-index-url https://download.pytorch.org/whl/cpu"  # PyTorch's CPU-only wheel index
LAB = {"jupyterlab", "jupyterlab-myst", "ipykernel"}  # from the book extra: what a reader opens notebooks in
NEEDED = {"scipy": "scikit-learn depends on it and chapter 06 imports scipy.linalg"}  # from the dev extra


def _project():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _lines():
    """binder/requirements.txt without comments and blank lines."""
    lines = [ln.split(" #")[0].strip() for ln in (BINDER / "requirements.txt").read_text().splitlines()]
    return [ln for ln in lines if ln and not ln.startswith("#")]


def _pins():
    pins = {}
    for line in _lines():
        if not line.startswith("-"):
            assert "==" in line, f"binder/requirements.txt: {line!r} is not pinned with =="
            name, version = line.split("==")
            pins[_name(name)] = version
    return pins


def test_binder_pins_every_runtime_dependency_at_the_locked_version():
    lock, pins = _lock(), _pins()
    for name in {_name(s) for s in _project()["dependencies"]} | LAB:
        assert name in pins, f"binder/requirements.txt does not pin {name}"
        # torch is the CPU build: the lock's version with a +cpu local label
        want = lock[name] + "+cpu" if name == "torch" else lock[name]
        assert pins[name] == want, f"{name}: binder {pins[name]} != {want} (requirements/lock.txt)"
    for name, version in pins.items():  # the extras too (scipy): never a version the lock did not test
        assert Version(version).public == lock[name], f"{name}: binder {version} != lock {lock[name]}"


def test_binder_takes_the_cpu_build_of_torch_from_pytorchs_index():
    assert CPU_INDEX in _lines()
    assert Version(_pins()["torch"]).local == "cpu"


def test_binder_installs_no_test_or_website_tool():
    extras = _project()["optional-dependencies"]
    dev_and_book = {_name(s) for s in extras["dev"] + extras["book"]} - LAB - set(NEEDED)
    assert dev_and_book >= {"pytest", "playwright", "jupyter-book", "nbval", "scikit-image", "jupytext"}
    unwanted = {n for n in _pins() if n in dev_and_book or n.startswith(("pytest", "sphinx", "myst-nb"))}
    assert unwanted == set(), f"binder/requirements.txt installs build/test tools: {sorted(unwanted)}"
    # Nothing outside the runtime, the lab and the needed extras.
    runtime = {_name(s) for s in _project()["dependencies"]}
    assert set(_pins()) <= runtime | LAB | set(NEEDED)


def test_binder_python_is_one_the_package_supports():
    runtime = (BINDER / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.\d+", runtime), runtime
    assert SpecifierSet(_project()["requires-python"]).contains(runtime.removeprefix("python-") + ".0")


def test_binder_postbuild_installs_the_package_without_touching_the_pins():
    post = BINDER / "postBuild"
    assert os.access(post, os.X_OK), "binder/postBuild must be executable"
    lines = [ln.strip() for ln in post.read_text().splitlines()]
    assert lines[0].startswith("#!") and "set -e" in lines
    install = [ln for ln in lines if re.match(r"(python -m )?pip install\b", ln)]
    assert len(install) == 1 and "--no-deps" in install[0].split() and install[0].endswith(" ."), install
