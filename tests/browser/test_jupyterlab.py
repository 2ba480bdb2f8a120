"""The self-study path: a chapter notebook opened and run in JupyterLab, its widget moved.

JupyterLab starts headless on 127.0.0.1 with a token (quick mode, settings and
workspaces in a temporary folder, the notebook copied there so nothing in
``notebooks/`` is touched). Chromium opens the notebook, runs every cell from
the menu like a reader, waits for the kernel, then drags the frame slider of
the first clip player and checks that the displayed frame changes: the slider
is wired to Python, not just drawn.

It runs for one notebook per kind of widget: the first notebook in ``notebooks/``
that builds a ``clip_player`` and the first that builds an ``explorer`` (the
first such widget is moved). The widgets are the library's, the same in every
chapter, and every notebook is executed by nbval already, so a run per chapter
(about 30 s each) would test the same frontend code again; ``VIDGEN_LAB_ALL=1``
runs every widget notebook, ``VIDGEN_LAB_NOTEBOOK`` names one.

A second test opens chapter 07 without running it and checks that jupyterlab-myst
renders its prose directives (a ``prf:definition``, an ``exercise``) as formatted
blocks, not as the literal colon-fence source.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import ROOT

RUN_TIMEOUT_S = 300  # the whole notebook, quick mode
NOTEBOOKS = ROOT / "notebooks"
MYST_NOTEBOOK = NOTEBOOKS / "07_stochastic.ipynb"  # has a prf:definition and exercises; the smaller of 03 and 07
_RAN = re.compile(r"\[\d+\]:")  # the prompt of a code cell that ran
_IDLE = ".jp-Notebook-ExecutionIndicator[data-status='idle']"
SETTINGS = {  # JupyterLab user settings: no pop-ups, no autosave, every cell in the DOM
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def _code_cells(path: Path) -> list[dict]:
    return [c for c in json.loads(path.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]


def _widget_notebooks() -> list[Path]:
    """The first notebook with a clip player and the first with an explorer (see the module docstring)."""
    if name := os.environ.get("VIDGEN_LAB_NOTEBOOK"):
        return [NOTEBOOKS / name]
    widgets = ("clip_player(", "explorer(")
    uses = {path: {w for w in widgets if any(w in "".join(c["source"]) for c in _code_cells(path))}
            for path in sorted(NOTEBOOKS.glob("*.ipynb"))}
    if os.environ.get("VIDGEN_LAB_ALL") == "1":
        return [path for path, used in uses.items() if used]
    first = {w: next((path for path, used in uses.items() if w in used), None) for w in widgets}
    return sorted({path for path in first.values() if path is not None})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _jupyterlab(notebook: Path, home: Path) -> Iterator[tuple[str, str]]:
    """A JupyterLab server on 127.0.0.1 serving a copy of ``notebook`` from ``home``; yields (url, token)."""
    pytest.importorskip("jupyterlab", reason="JupyterLab is not installed (pip install -e '.[book]')")
    if not notebook.is_file():
        pytest.fail(f"{notebook} does not exist (VIDGEN_LAB_NOTEBOOK names a file in notebooks/)")
    work = home / "work"
    work.mkdir()
    shutil.copy(notebook, work / notebook.name)
    for name, value in SETTINGS.items():
        (home / "settings" / name).parent.mkdir(parents=True, exist_ok=True)
        (home / "settings" / name).write_text(json.dumps(value))
    env = {
        **os.environ,
        "VIDGEN_QUICK": "1",
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
    }
    env.pop("MPLBACKEND", None)  # the kernel should draw inline, as for a reader
    port, token = _free_port(), secrets.token_hex(16)
    log = (home / "lab.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={work}", "--ServerApp.allow_root=True",  # CI runs as root
         "--LabApp.extension_manager=readonly"],  # no extension listing fetched from PyPI
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=work,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}api/status?token={token}", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start:\n{(home / 'lab.log').read_text()[-3000:]}")
                time.sleep(0.3)
        yield url, token
    finally:
        server.terminate()  # shuts its kernels down too
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture(scope="module", params=_widget_notebooks(), ids=lambda p: p.stem)
def lab(request, tmp_path_factory):
    """JupyterLab serving a copy of one chapter notebook with a widget; yields (url, token, notebook)."""
    with _jupyterlab(request.param, tmp_path_factory.mktemp("lab")) as (url, token):
        yield url, token, request.param


@pytest.fixture(scope="module")
def myst_lab(tmp_path_factory):
    """JupyterLab serving a copy of the chapter whose MyST directives are checked; yields (url, token)."""
    with _jupyterlab(MYST_NOTEBOOK, tmp_path_factory.mktemp("myst-lab")) as (url, token):
        yield url, token


def _wait_for_kernel(page, url: str, token: str, name: str, timeout_s: float = 60) -> None:
    """Until the notebook's kernel runs (server side) and the page is connected to it (status bar "Idle").

    Cells run before the page holds a kernel connection are silently skipped by JupyterLab.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        with urllib.request.urlopen(f"{url}api/sessions?token={token}", timeout=5) as response:
            sessions = json.load(response)
        if any(s["path"].endswith(name) and s.get("kernel", {}).get("execution_state") == "idle" for s in sessions):
            break
        assert time.monotonic() < deadline, f"no idle kernel for {name}: {sessions}"
        page.wait_for_timeout(300)  # not time.sleep: Playwright must keep serving the page's routed requests
    page.wait_for_function(
        "() => /\\|\\s*Idle/.test(document.querySelector('#jp-main-statusbar')?.textContent || '')",
        timeout=timeout_s * 1000,
    )
    page.locator(_IDLE).wait_for(timeout=timeout_s * 1000)


def _run_all_cells(page) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()


def _prompts(page) -> list[str]:
    return page.locator(".jp-Notebook .jp-CodeCell .jp-InputPrompt").all_inner_texts()


def test_chapter_runs_in_jupyterlab_and_its_slider_changes_the_frame(lab, offline_context, screenshots):
    url, token, notebook = lab
    cells = _code_cells(notebook)
    page = offline_context.new_page()
    page.goto(f"{url}lab/tree/{notebook.name}?token={token}")
    page.locator(".jp-Notebook .jp-CodeCell").first.wait_for(timeout=60_000)
    _wait_for_kernel(page, url, token, notebook.name)
    page.wait_for_function(  # cells render progressively
        "(n) => document.querySelectorAll('.jp-Notebook .jp-CodeCell').length === n", arg=len(cells), timeout=30_000
    )

    _run_all_cells(page)
    # The run is over when every code cell shows its execution count ("[7]:"), or when it
    # stopped: no cell running ("[*]:") and the kernel idle for a while.
    deadline, quiet_since = time.monotonic() + RUN_TIMEOUT_S, None
    try:
        while time.monotonic() < deadline:
            prompts = _prompts(page)
            if all(_RAN.fullmatch(t.strip()) for t in prompts):
                break
            idle = "[*]:" not in prompts and page.locator(_IDLE).count() > 0
            quiet_since = (quiet_since or time.monotonic()) if idle else None
            if quiet_since and time.monotonic() - quiet_since > 5:
                break
            page.wait_for_timeout(250)
    finally:
        page.screenshot(path=str(screenshots / f"jupyterlab-run-{notebook.stem}.png"))
    prompts = _prompts(page)
    errors = page.locator(".jp-Notebook .jp-CodeCell").evaluate_all(
        """(cells) => cells.map((c, i) => c.querySelector('[data-mime-type="application/vnd.jupyter.error"]') ? i : -1)
                          .filter((i) => i >= 0)"""
    )
    unexpected = [i for i in errors if "raises-exception" not in cells[i].get("metadata", {}).get("tags", [])]
    assert unexpected == [], f"{notebook.name}: code cells {unexpected} raised (and are not tagged raises-exception)"
    not_run = [i for i, t in enumerate(prompts) if not _RAN.fullmatch(t.strip())]
    assert not_run == [], f"{notebook.name}: Run All Cells stopped; code cells {not_run} never ran ({prompts})"

    # The player (or explorer): an image widget and, in the same box, its first slider.
    player = page.locator(".jp-OutputArea-output .widget-vbox:has(.widget-image):has(.widget-slider)").first
    player.scroll_into_view_if_needed()
    image = player.locator("img.widget-image, .widget-image").first
    slider = player.locator(".widget-slider").first
    readout = slider.locator(".widget-readout")
    before_value, before_pixels = readout.inner_text(), image.screenshot()

    handle = slider.locator(".noUi-handle").first
    track = slider.locator(".noUi-target, .slider").first.bounding_box()
    box = handle.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(track["x"] + track["width"] * 0.6, box["y"] + box["height"] / 2, steps=8)
    page.mouse.up()

    page.wait_for_function(
        "([el, before]) => el.textContent.trim() !== before", arg=[readout.element_handle(), before_value],
        timeout=10_000,
    )
    deadline = time.monotonic() + 10  # the kernel answers the slider and sends the new frame
    while image.screenshot() == before_pixels and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    page.screenshot(path=str(screenshots / f"jupyterlab-{notebook.stem}.png"), full_page=False)
    assert readout.inner_text() != before_value
    assert image.screenshot() != before_pixels, "the slider moved, but the displayed frame did not change"
    assert offline_context.external == [], f"JupyterLab tried to reach the internet: {offline_context.external}"


def _first_directive_title(path: Path, directive: str) -> str:
    """The title of the first ``{directive}`` colon fence in the notebook's Markdown cells."""
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] == "markdown":
            if match := re.search(rf"^:{{3,}}\{{{re.escape(directive)}\}}[ \t]+(.+)$", "".join(cell["source"]), re.M):
                return match.group(1).strip()
    raise AssertionError(f"{path.name} has no {{{directive}}} directive with a title")


def test_jupyterlab_renders_myst_definitions_and_exercises(myst_lab, offline_context, screenshots):
    """jupyterlab-myst turns the chapter's colon fences into titled, numbered blocks with rendered math."""
    url, token = myst_lab
    page = offline_context.new_page()
    page.goto(f"{url}lab/tree/{MYST_NOTEBOOK.name}?token={token}")
    rendered = ".jp-Notebook .jp-MarkdownCell .myst"  # the widget jupyterlab-myst renders a Markdown cell into
    try:
        page.locator(f"{rendered} aside.myst-exercise").first.wait_for(timeout=60_000)
    except Exception:  # Playwright's TimeoutError: say what is most likely missing
        page.screenshot(path=str(screenshots / f"jupyterlab-myst-{MYST_NOTEBOOK.stem}.png"))
        pytest.fail("no MyST exercise block rendered in JupyterLab: is jupyterlab-myst installed (pip install -e '.[book]')?")

    blocks = {  # directive -> (its block, the class of its title, the label the block is numbered with)
        "prf:definition": (f"{rendered} aside.myst-proof", ".myst-proof-title", "Definition"),
        "exercise": (f"{rendered} aside.myst-exercise", ".myst-exercise-title", "Exercise"),
    }
    for directive, (selector, title_class, label) in blocks.items():
        title = _first_directive_title(MYST_NOTEBOOK, directive)
        block = page.locator(selector).filter(has=page.locator(title_class, has_text=title)).first
        assert block.count() == 1, f"{{{directive}}} {title!r} is not rendered as a MyST block ({selector})"
        heading = block.locator(title_class).inner_text()
        assert re.match(rf"{label} \d+", heading) and title in heading, f"{{{directive}}} heading: {heading!r}"
        if directive == "prf:definition":  # its inline and display math is typeset, not left as $...$
            assert block.locator(".katex").count() > 0, f"{{{directive}}} {title!r}: no math rendered (KaTeX)"
        # Screenshot with the block's cell at the top of the notebook panel, as a reader scrolls to it.
        block.evaluate("(b) => b.closest('.jp-MarkdownCell').scrollIntoView()")
        page.wait_for_timeout(300)  # let the scroll settle before the picture
        page.screenshot(path=str(screenshots / f"jupyterlab-myst-{label.lower()}-{MYST_NOTEBOOK.stem}.png"))

    # No directive or role is left as source text: not in a paragraph, not in a code block.
    leftovers = page.locator(rendered).evaluate_all(
        r"""(outputs) => outputs.map((o) => o.innerText).filter((t) => /:{3,}\{|\{(prf:|exercise|solution|cite|doc)/.test(t))"""
    )
    assert leftovers == [], f"MyST source shown as text in rendered Markdown: {[t[:200] for t in leftovers]}"
    code_blocks = page.locator(f"{rendered} pre, {rendered} code").all_inner_texts()
    assert not [t for t in code_blocks if ":::" in t], "a directive was rendered as a code block"
    assert offline_context.external == [], f"JupyterLab tried to reach the internet: {offline_context.external}"
