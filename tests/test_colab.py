"""Colab's situation, as closely as this machine allows: a chapter run on Colab's IPython and ipywidgets.

A fresh virtual environment gets what a Colab runtime already has, at Colab's versions of the
packages that matter to us (IPython 7.34.0, ipywidgets 7.7.1, ipykernel 6.17.1, and PyTorch,
NumPy, Matplotlib, tqdm, scikit-learn, Pillow), but not ``vidgen_edu``. A kernel of that
environment then executes chapter 02 in quick mode, from its first cell: the setup cell must
install the library (from this checkout, through ``VIDGEN_EDU_SOURCE``, where Colab would
use the repository's tag), the chapter must run to the end, and Colab's own IPython and
ipywidgets must still be there afterwards.

What this cannot reproduce: Colab's Python (3.12; here the venv runs this machine's Python),
its exact versions of everything else, its frontend (how it draws widgets and hides cells),
and the install from GitHub (there is no network here but the package registries).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import nbformat
import pytest

if sys.platform != "linux":
    pytest.skip("the Colab-like check imitates Colab's Linux runtime", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "notebooks" / "02_rule_driven.ipynb"
#: what a Colab runtime has installed before the book's setup cell runs (Colab's versions of 2026)
COLAB = ["ipython==7.34.0", "ipywidgets==7.7.1", "ipykernel==6.17.1", "numpy==2.0.2", "matplotlib==3.10.0",
         "tqdm==4.67.1", "scikit-learn==1.6.1", "pillow==11.1.0"]


def _pip(python: Path, *args: str) -> str:
    out = subprocess.run([str(python), "-m", "pip", *args], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, f"pip {' '.join(args)} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out.stdout


def _versions(python: Path) -> dict[str, str]:
    listed = json.loads(_pip(python, "list", "--format=json"))
    return {p["name"].lower(): p["version"] for p in listed}


@pytest.fixture(scope="module")
def colab_like(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A venv with Colab's packages (no vidgen_edu) and a copy of the library's source to install from."""
    tmp = tmp_path_factory.mktemp("colab")
    env_dir = tmp / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    torch_pin = f"torch=={__import__('torch').__version__.split('+')[0]}"  # Colab preinstalls a recent torch
    _pip(python, "install", "--quiet", torch_pin, *COLAB)
    source = tmp / "source"  # the library as the repository's tag would give it (no .venv, no _build)
    shutil.copytree(ROOT / "vidgen_edu", source / "vidgen_edu",
                    ignore=shutil.ignore_patterns("__pycache__", "*-quick.*"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    return python, source


def test_a_chapter_runs_on_colabs_ipython_and_ipywidgets(colab_like, tmp_path, monkeypatch):
    from nbclient import NotebookClient

    python, source = colab_like
    before = _versions(python)
    assert "vidgen-edu" not in before
    # a kernel spec for the Colab-like interpreter, found through JUPYTER_PATH
    spec = tmp_path / "share" / "kernels" / "colab-like"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Colab-like", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "share"))
    monkeypatch.setenv("VIDGEN_EDU_SOURCE", str(source))
    monkeypatch.setenv("VIDGEN_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.delenv("PYTHONPATH", raising=False)
    work = tmp_path / "work"  # not the checkout: there `import vidgen_edu` would find the source tree
    work.mkdir()

    nb = nbformat.read(CHAPTER, as_version=4)
    NotebookClient(nb, kernel_name="colab-like", timeout=600, resources={"metadata": {"path": str(work)}}).execute()

    after = _versions(python)
    assert "vidgen-edu" in after, "the setup cell did not install the library"
    for name in ("ipython", "ipywidgets", "ipykernel", "numpy", "torch"):
        assert after[name] == before[name], (f"installing the book replaced Colab's {name} {before[name]} "
                                             f"by {after[name]}")
    # data a chapter reads ships inside the package: chapter 06's leaderboard, from the installed copy
    read = subprocess.run([str(python), "-c", "from vidgen_edu.bench import leaderboard; import vidgen_edu; "
                           "print(vidgen_edu.__file__); print(leaderboard('cpu').splitlines()[0])"],
                          capture_output=True, text=True, cwd=work)
    assert read.returncode == 0 and "leaderboard (cpu)" in read.stdout, read.stderr
    assert str(ROOT) not in read.stdout.splitlines()[0], "the library was imported from the checkout, not the install"
    print("Colab-like environment after the chapter:",
          {k: after[k] for k in ("ipython", "ipywidgets", "ipykernel", "torch", "numpy", "vidgen-edu")})
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error" and "raises-exception" not in c.metadata.get("tags", [])]
    assert not errors, f"cells failed on the Colab-like kernel: {errors[:1]}"
    widget_views = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                    if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert widget_views, "no widget was displayed: the chapter's widgets did not reach the frontend"
    assert all("text/html" in o["data"] for o in widget_views), "a widget lost its static fallback on ipywidgets 7"

