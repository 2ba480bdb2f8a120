"""Sphinx extension for the vidgen-edu website (loaded from ``_config.yml``).

- Launch buttons open the chapter's notebook. Jupyter Book points Binder and
  Colab at the page's source (``book/NN_topic.md``); readers should land in its
  jupytext twin ``notebooks/NN_topic.ipynb``, which Colab can open and which
  JupyterLab shows as a plain notebook. Pages without a twin (the landing page)
  get no launch buttons.
- The site is offline-ready: when ``mathjax_path`` is not a URL, the build
  stops early unless the vendored MathJax is on the static path
  (``make vendor``), instead of publishing pages whose equations never render.
- Widgets that only *show* something (tqdm's progress bars from ``fit``: a box
  of HTML labels and a progress bar) are drawn from the state saved when the
  page was executed, as plain HTML: "100% 40/40 [loss=0.012]" stays on the
  page with no widget JavaScript (which would come from a CDN). Interactive
  widgets are left alone: the book displays them with a static fallback
  (``vidgen_edu.viz.widgets``), and the browser tests flag any that has none.
  The saved widget state itself is then dropped from the page (nothing reads it).
- Without a Thebe ("Live Code") button, pages do not load sphinx-thebe's
  scripts: Jupyter Book always enables the extension, which would fetch Thebe
  from unpkg.com on demand, and its inline configuration is emitted twice per
  page (sphinx-thebe 0.3.1 with Sphinx 7.4), an error in every reader's console
  ("Identifier 'THEBE_JS_URL' has already been declared").
- Chapter NN is numbered NN (its sections NN.k, its figures NN.k), as ``_toc.yml``
  promises, even while an earlier chapter is not in the book yet: Sphinx numbers the
  chapters of a numbered toctree one after another, so without chapter 09, chapter 10
  would be "9" on the site while every notebook, recipe and leaderboard row says 10.
"""

from __future__ import annotations

import html
import json
import posixpath
import re
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.errors import ConfigError

NOTEBOOKS = "notebooks"


def _check_vendored_mathjax(app: Sphinx) -> None:
    path = app.config.mathjax_path
    if not path or "://" in path or path.startswith("//"):
        return
    confdir = Path(app.confdir)
    if not any((confdir / static / path).is_file() for static in app.config.html_static_path):
        raise ConfigError(
            f"mathjax_path {path!r} is not in html_static_path {app.config.html_static_path}: "
            "run `make vendor` (it copies MathJax into the site, so pages render offline)"
        )


def _launch_the_notebook(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree) -> None:
    """Rewrite the launch buttons added by sphinx-book-theme (priority 501) to open notebooks/."""
    buttons = context.get("header_buttons") or []
    group = next((b for b in buttons if b.get("label") == "launch-buttons"), None)
    if group is None:
        return
    theme = app.config.html_theme_options
    book_relpath = theme.get("path_to_docs", "").strip("/")
    twin = Path(app.confdir, NOTEBOOKS, Path(pagename).name + ".ipynb")
    if not twin.is_file():
        buttons.remove(group)  # nothing to launch: the page is not a chapter
        return
    new = posixpath.normpath(posixpath.join(book_relpath or ".", NOTEBOOKS, twin.name))
    prefix = f"{book_relpath}/" if book_relpath else ""
    for button in group["buttons"]:
        url = button.get("url")
        if url:
            for ext in (".md", ".ipynb"):
                url = url.replace(f"{prefix}{pagename}{ext}", new)
            button["url"] = url


def _is_thebe(script: Any) -> bool:
    name = getattr(script, "filename", None) or ""
    body = (getattr(script, "attributes", None) or {}).get("body", "")
    return "sphinx-thebe" in name or "THEBE_JS_URL" in body


def _drop_unused_thebe(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree) -> None:
    if app.config.html_theme_options.get("launch_buttons", {}).get("thebe"):
        return
    scripts = context.get("script_files")
    if scripts:
        scripts[:] = [s for s in scripts if not _is_thebe(s)]  # the builder restores its list after the page


WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = re.compile(r'<script type="application/vnd\.jupyter\.widget-view\+json">(.*?)</script>', re.DOTALL)
_BOXES = {"HBoxModel": "row", "VBoxModel": "column", "BoxModel": "row"}


def _snapshot(models: dict[str, Any], model_id: str, depth: int = 0) -> str | None:
    """Static HTML of a display-only widget from its saved state; None when it is interactive (or unknown)."""
    model = models.get(model_id)
    if model is None or depth > 10:
        return None
    name, state = model.get("model_name"), model.get("state", {})
    if name in _BOXES:
        parts = [_snapshot(models, c.removeprefix("IPY_MODEL_"), depth + 1) for c in state.get("children", [])]
        if any(part is None for part in parts):
            return None
        return (f'<div style="display:flex;flex-direction:{_BOXES[name]};align-items:center;gap:.5em">'
                + "".join(parts) + "</div>")
    if name in ("HTMLModel", "HTMLMathModel"):
        return f"<span>{state.get('value', '')}</span>"  # HTML the kernel produced, like any text/html output
    if name == "LabelModel":
        return f"<span>{html.escape(str(state.get('value', '')))}</span>"
    if name in ("FloatProgressModel", "IntProgressModel"):
        lo, hi, value = state.get("min", 0), state.get("max", 100), state.get("value", 0)
        color = {"success": "#5cb85c", "danger": "#d9534f", "warning": "#f0ad4e", "info": "#5bc0de"}.get(
            state.get("bar_style") or "", "#2196f3")
        return (f'<progress value="{value - lo}" max="{max(hi - lo, 1e-12)}" '
                f'style="width:12em;accent-color:{color}"></progress>')
    return None


def _saved_widgets(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree) -> None:
    """Draw display-only widget views from their saved state; drop the state nobody reads."""
    if app.config.nb_ipywidgets_js or "body" not in context:
        return  # widget JavaScript is configured: it draws them
    files = getattr(app.env, "nb_metadata", {}).get(pagename, {}).get("js_files", {})
    state = next((kw.get("body") for _, kw in files.values() if kw.get("type") == WIDGET_STATE), None)
    if state is None:
        return
    models = json.loads(state).get("state", {})

    def draw(match: re.Match) -> str:
        snapshot = _snapshot(models, json.loads(match.group(1)).get("model_id", ""))
        if snapshot is None:
            return match.group(0)
        return f'<div class="vidgen-widget-snapshot" title="state at the end of the run">{snapshot}</div>'

    context["body"] = WIDGET_VIEW.sub(draw, context["body"])
    scripts = context.get("script_files")
    if scripts:
        scripts[:] = [s for s in scripts if (getattr(s, "attributes", None) or {}).get("type") != WIDGET_STATE]


CHAPTER_FILE = re.compile(r"(?:^|/)(\d\d)_[^/]*$")  # book/10_diffusion → 10


def _number_chapters_by_file(app: Sphinx, env: Any) -> list[str]:
    """Give chapter ``NN_topic`` the number NN in its sections, its figures and the navigation.

    Runs after Sphinx's toctree collector (``env-get-updated``, priority 500) has numbered the
    chapters in sequence; only the first component (the chapter's) of each number is replaced.
    """
    for doc, numbers in env.toc_secnumbers.items():
        found = CHAPTER_FILE.search(doc)
        if found and numbers:
            chapter = int(found.group(1))
            env.toc_secnumbers[doc] = {anchor: (chapter, *n[1:]) for anchor, n in numbers.items()}
    if app.config.numfig_secnum_depth > 0:  # figure numbers start with the chapter's (e.g. 10.3)
        for doc, kinds in env.toc_fignumbers.items():
            found = CHAPTER_FILE.search(doc)
            if found:
                chapter = int(found.group(1))
                env.toc_fignumbers[doc] = {kind: {i: (chapter, *n[1:]) if len(n) > 1 else n for i, n in ids.items()}
                                           for kind, ids in kinds.items()}
    # the navigation and the previous/next links are drawn from each document's table of contents
    # and its title, which carry their own copies of the numbers
    for doc, toc in env.tocs.items():
        numbers = env.toc_secnumbers.get(doc, {})
        for ref in toc.findall(nodes.reference):
            if ref.get("secnumber") and ref.get("anchorname", "") in numbers:
                ref["secnumber"] = numbers[ref["anchorname"]]
        if doc in env.titles and env.titles[doc].get("secnumber") and "" in numbers:
            env.titles[doc]["secnumber"] = numbers[""]
    return []


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("env-get-updated", _number_chapters_by_file, priority=900)  # after the toctree collector (500)
    app.connect("builder-inited", _check_vendored_mathjax)
    app.connect("html-page-context", _launch_the_notebook, priority=502)
    app.connect("html-page-context", _drop_unused_thebe, priority=502)
    app.connect("html-page-context", _saved_widgets, priority=502)  # after myst-nb added the page's state
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
