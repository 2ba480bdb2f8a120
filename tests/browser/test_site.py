"""The website as a reader meets it: every built page opened in headless Chromium.

The pages are served from 127.0.0.1 with every other host cut off, so each
check below also says that the page works offline. One crawl visits every page
once (recording console errors, failed requests, links, images, math, widgets
and a full-page screenshot); the tests then judge each page on its own, so a
failure names the page and what a reader would see. Interactive checks (play
an animation, search, reveal a solution) drive the page like a reader would.
"""

from __future__ import annotations

import re
from urllib.parse import urldefrag, urlsplit

import pytest
import yaml

from .conftest import ROOT, SITE, is_local

REDIRECT = re.compile(r'<meta[^>]+http-equiv="refresh"', re.IGNORECASE)
HTML_FILES = sorted(
    p.relative_to(SITE).as_posix()
    for p in SITE.rglob("*.html")
    if not p.relative_to(SITE).parts[0].startswith(("_", "."))  # _static, _sources, _images
)
# Pages, and redirects (the site root forwards to the landing page).
REDIRECTS = [n for n in HTML_FILES if REDIRECT.search((SITE / n).read_text(encoding="utf-8", errors="replace"))]
PAGES = [n for n in HTML_FILES if n not in REDIRECTS]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
LANDING = f"{TOC['root']}.html"
CHAPTER = re.compile(r"book/(\d\d_[^/]+)\.html$")
MATHJAX_TIMEOUT_MS = 20_000
# Alt text that tells a reader who cannot see the image nothing: a file name or a content hash
# (what myst-nb falls back to for a figure without `mystnb: image: alt:`).
ALT_FILE_NAME = re.compile(r"\.(png|jpe?g|gif|svg|webp)\b", re.IGNORECASE)
ALT_HASH = re.compile(r"[0-9a-f]{32,}", re.IGNORECASE)
ALT_MIN_WORDS = 3
# Images drawn by vidgen_edu.viz inside an animation player or a widget's static preview take their
# alt text from the library ("Animated video, T frames of W×H pixels: <title>", "Static view of ...");
# they are marked in the crawl's record and held to the same rule as figures.
LIBRARY_IMAGES = ".vidgen-animation, .vidgen-static-fallback, .vidgen-widget-snapshot"
# Pages whose source numbers a figure (`mystnb: figure: name: fig-...`): their images must be found.
FIGURE_PAGES = {f"book/{md.stem}.html" for md in (ROOT / "book").glob("*.md")
                if re.search(r"^\s+name: fig-", md.read_text(encoding="utf-8"), re.MULTILINE)}

# Runs in the page after it loaded (and MathJax finished): what a reader would see.
_INSPECT_JS = r"""
(LIBRARY_IMAGES) => {
  const text = (e, n = 80) => (e.textContent || "").replace(/\s+/g, " ").trim().slice(0, n);
  const math = Array.from(document.querySelectorAll(".math"));
  // TeX delimiters left in prose: MathJax did not see them (or MyST did not parse them).
  const rawTex = [];
  const skip = new Set(["PRE", "CODE", "SCRIPT", "STYLE", "TEXTAREA", "MJX-CONTAINER", "KBD", "SAMP"]);
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
    acceptNode(node) {
      for (let e = node.parentElement; e; e = e.parentElement) {
        if (skip.has(e.tagName) || e.classList.contains("highlight")) return NodeFilter.FILTER_REJECT;
      }
      return NodeFilter.FILTER_ACCEPT;
    },
  });
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (/\$\$|\\\(|\\\)|\\\[|\\\]|\\begin\{/.test(n.nodeValue)) rawTex.push(n.nodeValue.trim().slice(0, 80));
  }
  return {
    ids: Array.from(document.querySelectorAll("[id]"), (e) => e.id)
      .concat(Array.from(document.querySelectorAll("a[name]"), (e) => e.name)),
    links: Array.from(document.querySelectorAll("a[href]"), (a) => ({ href: a.href, text: text(a, 60) })),
    images: Array.from(document.images, (i) => ({
      src: (i.currentSrc || i.src).slice(0, 120), ok: i.complete && i.naturalWidth > 0, alt: i.alt,
    })),
    // Images in the page's text (not the theme's logos and button icons), with their alt attribute.
    contentImages: Array.from(document.querySelectorAll("article.bd-article img"), (i) => ({
      src: (i.getAttribute("src") || "").slice(0, 80), alt: i.getAttribute("alt"),
      library: !!i.closest(LIBRARY_IMAGES), figure: text(i.closest("figure")?.querySelector("figcaption") || i, 60),
    })),
    math: math.length,
    mathUntypeset: math.filter((e) => !e.querySelector("mjx-container")).map((e) => text(e)),
    mathErrors: Array.from(document.querySelectorAll("mjx-merror"),
      (e) => e.getAttribute("data-mjx-error") || text(e)),
    rawTex: rawTex,
    widgetViews: document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').length,
    animations: document.querySelectorAll(".vidgen-animation, div.animation").length,
    h1: Array.from(document.querySelectorAll("article h1"), (e) => e.outerHTML),
    numbered: Array.from(document.querySelectorAll("div.proof > .admonition-title, div.exercise > .admonition-title"),
      (e) => text(e)),
    solutions: document.querySelectorAll("div.solution").length,
    launch: Array.from(document.querySelectorAll(".dropdown-launch-buttons a"), (a) => a.href),
  };
}
"""


def _screenshot_name(page: str) -> str:
    return page.removesuffix(".html").replace("/", "__") + ".png"


def _is_error(message) -> bool:
    """A console error, except the browser's own guess at /favicon.ico (no page asks for it)."""
    return message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico")


def _page_of(url: str, base: str) -> tuple[str, str]:
    """``http://127.0.0.1:port/book/x.html#frag`` → (``book/x.html``, ``frag``)."""
    url, frag = urldefrag(url)
    path = url[len(base):].split("?")[0]
    if path == "" or path.endswith("/"):
        path += "index.html"
    return path, frag


@pytest.fixture(scope="module")
def crawl(browser, site_url, screenshots):
    """Visit every page once; return ``{page: record}`` of what a reader got."""
    assert PAGES, f"no pages in {SITE}"
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    external: list[str] = []

    def _route(route):
        if is_local(route.request.url):
            route.continue_()
        else:
            external.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", _route)
    records = {}
    for name in PAGES:
        page = context.new_page()
        rec = {"console": [], "failed": [], "external": []}
        external.clear()
        page.on("console", lambda m, rec=rec: _is_error(m) and rec["console"].append(m.text))
        page.on("pageerror", lambda e, rec=rec: rec["console"].append(f"uncaught: {e}"))
        page.on("requestfailed", lambda r, rec=rec: rec["failed"].append(f"{r.url[:120]} ({r.failure})"))
        page.on("response", lambda r, rec=rec: r.status >= 400 and rec["failed"].append(f"{r.url} (HTTP {r.status})"))
        page.goto(site_url + name, wait_until="load")
        if page.locator(".math").count():
            try:  # MathJax loads deferred, then typesets asynchronously
                page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                                       timeout=MATHJAX_TIMEOUT_MS)
                page.evaluate("() => MathJax.startup.promise")
            except Exception as err:  # noqa: BLE001 - recorded: the math test says what the reader saw
                rec["console"].append(f"MathJax never started: {str(err).splitlines()[0]}")
        page.wait_for_timeout(200)  # late errors from scripts that run after load
        rec.update(page.evaluate(_INSPECT_JS, LIBRARY_IMAGES))
        page.screenshot(path=str(screenshots / _screenshot_name(name)), full_page=True)
        rec["external"] = list(external)
        page.close()
        records[name] = rec
    context.close()
    return records


@pytest.mark.parametrize("name", PAGES)
def test_page_has_no_console_errors(crawl, name):
    assert crawl[name]["console"] == [], f"{name}: the browser console shows errors: {crawl[name]['console']}"


@pytest.mark.parametrize("name", PAGES)
def test_page_needs_nothing_from_the_internet(crawl, name):
    rec = crawl[name]
    assert rec["external"] == [], f"{name} loads from the internet (breaks offline): {rec['external']}"
    assert rec["failed"] == [], f"{name}: requests failed: {rec['failed']}"


@pytest.mark.parametrize("name", PAGES)
def test_math_is_typeset(crawl, name):
    rec = crawl[name]
    assert rec["mathUntypeset"] == [], (
        f"{name}: {len(rec['mathUntypeset'])}/{rec['math']} equations left as raw TeX: {rec['mathUntypeset']}"
    )
    assert rec["mathErrors"] == [], f"{name}: MathJax could not typeset (red in the page): {rec['mathErrors']}"
    assert rec["rawTex"] == [], f"{name}: TeX delimiters left in the text (not parsed as math): {rec['rawTex']}"


@pytest.mark.parametrize("name", PAGES)
def test_every_image_loads(crawl, name):
    broken = [i for i in crawl[name]["images"] if not i["ok"]]
    assert broken == [], f"{name}: images that do not load: {broken}"


def _alt_problem(alt: str | None, min_words: int) -> str | None:
    """Why an image's alt text says nothing to a reader who cannot see it (None: it says something)."""
    alt = (alt or "").strip()
    if not alt:
        return "no alt text"
    if ALT_FILE_NAME.search(alt) or ALT_HASH.search(alt):
        return f"a file name or hash as alt text ({alt[:60]!r})"
    if len(alt.split()) < min_words:
        return f"alt text of fewer than {min_words} words ({alt!r})"
    return None


@pytest.mark.parametrize("name", PAGES)
def test_content_images_have_real_alt_text(crawl, name):
    """Every image in the text says what it shows: not empty, not a file name or hash, a few words.

    A figure gets its alt text from its cell (``mystnb: image: alt:``; tests/test_book_sources.py
    checks the sources); images of players and static previews get theirs from vidgen_edu.viz.
    """
    images = crawl[name]["contentImages"]
    if name in FIGURE_PAGES:  # it has figures: finding none means the page layout changed
        assert images, f"{name}: no image found in article.bd-article (did the theme's layout change?)"
    bad = []
    for img in images:
        why = _alt_problem(img["alt"], ALT_MIN_WORDS)
        if why:
            bad.append(f"{why} — image {img['src']!r} ({img['figure']!r})")
    assert bad == [], f"{name}: images without real alt text:\n" + "\n".join(bad)


@pytest.mark.parametrize("name", PAGES)
def test_internal_links_and_anchors_resolve(crawl, name, site_url, browser):
    """Every link into the site reaches a page (or file) that exists, and its #anchor is on that page."""
    broken = []
    for link in crawl[name]["links"]:
        href = link["href"]
        if not href.startswith(site_url):
            continue  # another site: cannot (and need not) be reached offline
        target, frag = _page_of(href, site_url)
        if target in REDIRECTS:
            continue  # checked by test_redirect_lands_on_a_page
        if target.endswith(".html"):
            if target not in crawl:
                broken.append(f"{link['text']!r} -> {target} (no such page)")
            elif frag and frag not in crawl[target]["ids"]:
                broken.append(f"{link['text']!r} -> {target}#{frag} (no such anchor)")
        elif not (SITE / target).is_file():
            broken.append(f"{link['text']!r} -> {target} (no such file)")
    assert broken == [], f"{name}: broken internal links: {broken}"


@pytest.mark.parametrize("name", PAGES)
def test_widgets_show_their_static_fallback(crawl, name):
    """A widget view on the website is an empty box (no kernel, no widget JavaScript)."""
    assert crawl[name]["widgetViews"] == 0, (
        f"{name}: {crawl[name]['widgetViews']} widget(s) rendered without a static fallback "
        "(display them with vidgen_edu.viz.widgets.with_fallback / clip_player)"
    )


def test_screenshots_were_saved(crawl, screenshots):
    missing = [n for n in crawl if not (screenshots / _screenshot_name(n)).is_file()]
    assert missing == []


# --------------------------------------------------------------------------- interaction


def _frame(player) -> tuple[str, str]:
    """What a reader sees of a player now: its frame index and the image sources."""
    slider = player.locator(".vg-slider, .anim-slider").first.input_value()
    images = player.locator("img").evaluate_all("(imgs) => imgs.map((i) => i.src).join('|')")
    return slider, images


def _ensure_paused(player) -> None:
    if player.locator(".vg-play").count():
        if player.locator(".vg-play").inner_text().strip() != "\u25B6":  # shows pause: it is playing
            player.locator(".vg-play").click()
    else:  # matplotlib's to_jshtml player
        player.locator("button[title='Pause']").click()


def _press_play(player) -> None:
    if player.locator(".vg-play").count():
        player.locator(".vg-play").click()
    else:
        player.locator("button[title='Play']").click()


def check_animations_play(page, name: str, *, pixels_must_change: bool) -> int:
    """Pause each animation, check it holds still, press play, check the frames advance."""
    players = page.locator(".vidgen-animation, div.animation")
    n = players.count()
    for i in range(n):
        player = players.nth(i)
        player.scroll_into_view_if_needed()
        frames = int(player.get_attribute("data-frames") or player.locator(".anim-slider").get_attribute("max") or 0)
        if player.get_attribute("data-frames") is None:
            frames += 1  # the slider's max is T - 1
        if frames < 2:
            continue
        _ensure_paused(player)
        held = _frame(player)
        page.wait_for_timeout(400)
        assert _frame(player) == held, f"{name}: animation {i} keeps moving after pause"
        _press_play(player)
        seen = {held}
        for _ in range(30):  # up to 3 s
            page.wait_for_timeout(100)
            seen.add(_frame(player))
            if len({s for s, _ in seen}) >= 2:
                break
        assert len({s for s, _ in seen}) >= 2, f"{name}: animation {i}: pressing play does not advance the frames"
        if pixels_must_change:
            assert len({imgs for _, imgs in seen}) >= 2, f"{name}: animation {i} plays, but the picture never changes"
        _ensure_paused(player)
    return n


@pytest.mark.parametrize("name", PAGES)
def test_animations_play(crawl, name, offline_context, site_url):
    if crawl[name]["animations"] == 0:
        return
    page = offline_context.new_page()
    page.goto(site_url + name, wait_until="load")
    assert check_animations_play(page, name, pixels_must_change=False) == crawl[name]["animations"]


@pytest.mark.parametrize("name", REDIRECTS)
def test_redirect_lands_on_a_page(offline_context, site_url, name):
    page = offline_context.new_page()
    page.goto(site_url + name)
    page.wait_for_url(lambda url: _page_of(url, site_url)[0] != name, timeout=10_000)
    assert _page_of(page.url, site_url)[0] in PAGES, f"{name} forwards to {page.url}"


def test_landing_page_plays_a_generated_clip(offline_context, site_url, screenshots):
    """The reader types the site's address, lands on the front page and presses play."""
    page = offline_context.new_page()
    page.goto(site_url)
    page.wait_for_url(site_url + LANDING, timeout=10_000)
    page.wait_for_load_state("load")
    assert check_animations_play(page, LANDING, pixels_must_change=True) >= 1, "the landing page has no animation"
    page.screenshot(path=str(screenshots / "index__playing.png"))


def test_search_finds_chapters(offline_context, site_url):
    page = offline_context.new_page()
    page.goto(site_url + "search.html?q=video", wait_until="load")
    results = page.locator("#search-results ul.search li a")
    results.first.wait_for(timeout=15_000)
    hrefs = results.evaluate_all("(as) => as.map((a) => a.href)")
    pages = {_page_of(h, site_url)[0] for h in hrefs}
    assert any(CHAPTER.search(p) or p == LANDING for p in pages), f"search for 'video' found {pages}"
    assert all((SITE / p).is_file() for p in pages)


# --------------------------------------------------------------------------- book structure


def _toc_files(numbered: bool | None = None) -> list[str]:
    return [
        c["file"]
        for part in TOC["parts"]
        if numbered is None or bool(part.get("numbered")) == numbered
        for c in part["chapters"]
    ]


def test_every_chapter_in_the_toc_has_a_numbered_page(crawl):
    for file in _toc_files(numbered=True):
        name = f"{file}.html"
        assert name in crawl, f"{file} is in _toc.yml but has no page"
        assert any('class="section-number"' in h for h in crawl[name]["h1"]), f"{name}: chapter title has no number"


def test_chapter_nn_is_numbered_nn(crawl):
    """As _toc.yml promises: book/10_diffusion is chapter 10 and its figures are 10.k, whichever chapters exist."""
    for file in _toc_files(numbered=True):
        name, chapter = f"{file}.html", int(CHAPTER.search(f"{file}.html").group(1)[:2])
        numbers = [re.search(r'class="section-number">([\d.]+)', h) for h in crawl[name]["h1"]]
        assert [int(n.group(1).split(".")[0]) for n in numbers if n] == [chapter], f"{name}: {crawl[name]['h1']}"
        figures = [i["figure"] for i in crawl[name]["contentImages"] if i["figure"].startswith("Fig.")]
        wrong = [f for f in figures if not f.startswith(f"Fig. {chapter}.")]
        assert wrong == [], f"{name}: figures numbered as another chapter's: {wrong}"


def test_there_is_a_bibliography_page(crawl):
    assert any(f.endswith("bibliography") for f in _toc_files()), "no bibliography in _toc.yml"


@pytest.mark.parametrize("name", [p for p in PAGES if CHAPTER.search(p)])
def test_chapter_launch_buttons_open_its_notebook(crawl, name):
    """Binder and Colab open notebooks/NN_topic.ipynb of the repository, and it exists."""
    stem = CHAPTER.search(name).group(1)
    assert (ROOT / "notebooks" / f"{stem}.ipynb").is_file(), f"{name}: notebooks/{stem}.ipynb does not exist"
    hrefs = crawl[name]["launch"]
    repo = urlsplit(CONFIG["repository"]["url"]).path.strip("/")
    branch = CONFIG["repository"]["branch"]
    binder = [h for h in hrefs if "mybinder.org" in h]
    colab = [h for h in hrefs if "colab.research.google.com" in h]
    assert binder == [f"https://mybinder.org/v2/gh/{repo}/{branch}?urlpath=lab/tree/notebooks/{stem}.ipynb"], hrefs
    assert colab == [f"https://colab.research.google.com/github/{repo}/blob/{branch}/notebooks/{stem}.ipynb"], hrefs
    repo_links = [link for link in crawl[name]["links"] if link["href"].rstrip("/") == CONFIG["repository"]["url"]]
    assert repo_links, f"{name}: no repository button"


@pytest.mark.parametrize("name", PAGES)
def test_proofs_and_exercises_are_numbered(crawl, name):
    unnumbered = [t for t in crawl[name]["numbered"] if not re.search(r"\d", t)]
    assert unnumbered == [], f"{name}: proofs/exercises without a number: {unnumbered}"


@pytest.mark.parametrize("name", PAGES)
def test_solutions_are_hidden_until_asked_for(crawl, offline_context, site_url, name):
    if crawl[name]["solutions"] == 0:
        return
    page = offline_context.new_page()
    page.goto(site_url + name, wait_until="load")
    solutions = page.locator("div.solution")
    for i in range(solutions.count()):
        sol = solutions.nth(i)
        body = sol.locator("section").first
        assert "dropdown" in (sol.get_attribute("class") or ""), f"{name}: solution {i} is not a dropdown"
        assert not body.is_visible(), f"{name}: solution {i} is shown before the reader asks for it"
        sol.locator("button.toggle-button").click()  # the reader's "Click to show"
        body.wait_for(state="visible", timeout=5_000)
