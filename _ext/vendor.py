"""Vendor the JavaScript the website needs, so its pages work with no internet.

``python _ext/vendor.py DEST`` downloads MathJax from the npm registry (a pinned
version, checked against the registry's sha512 integrity hash), and copies the
parts a page loads into ``DEST/mathjax``. ``_config.yml`` adds ``DEST`` to
Sphinx's static path and points ``mathjax_path`` at the copy, so every page
typesets its equations from the site itself: course labs and readers offline
see the same book, and the browser tests can check it on a closed network.
``make vendor`` runs this; the folder lives under ``_build/`` (not committed).
"""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
import sys
import tarfile
import urllib.request
from pathlib import Path

MATHJAX_VERSION = "3.2.2"
MATHJAX_URL = f"https://registry.npmjs.org/mathjax/-/mathjax-{MATHJAX_VERSION}.tgz"
# `npm view mathjax@3.2.2 dist.integrity`
MATHJAX_SHA512 = "Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw=="
# What tex-mml-chtml.js (Sphinx's default component) loads: the component itself,
# TeX extensions it autoloads (\boldsymbol, \cancel, ...), the CHTML fonts, and the
# menu's accessibility and speech parts, loaded when a reader turns them on.
MATHJAX_PARTS = [
    "LICENSE",
    "es5/tex-mml-chtml.js",
    "es5/input/tex/extensions",
    "es5/input/mml/extensions",
    "es5/output/chtml/fonts/woff-v2",
    "es5/a11y",
    "es5/ui",
    "es5/sre",
]


def fetch(url: str, sha512_b64: str) -> bytes:
    """Download ``url`` and check it against an npm ``sha512-...`` integrity hash."""
    with urllib.request.urlopen(url, timeout=120) as response:
        data = response.read()
    digest = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if digest != sha512_b64:
        raise RuntimeError(f"{url}: sha512 {digest} does not match the pinned {sha512_b64}")
    return data


def vendor_mathjax(dest: Path) -> Path:
    """Unpack the pinned MathJax into ``dest/mathjax``; return the folder."""
    target = dest / "mathjax"
    tmp = dest / "mathjax.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(fetch(MATHJAX_URL, MATHJAX_SHA512)), mode="r:gz") as tar:
        for member in tar.getmembers():
            name = member.name.removeprefix("package/")
            if not member.isfile() or not any(name == p or name.startswith(p + "/") for p in MATHJAX_PARTS):
                continue
            out = tmp / name.removeprefix("es5/")
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(tar.extractfile(member).read())
    (tmp / "VERSION").write_text(MATHJAX_VERSION + "\n")
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)  # the folder appears complete or not at all
    return target


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    target = vendor_mathjax(Path(argv[0]))
    size = sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
    print(f"vendored MathJax {MATHJAX_VERSION} into {target} ({size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
