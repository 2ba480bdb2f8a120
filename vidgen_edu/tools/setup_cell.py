"""The first code cell of every chapter: install the book's library where it is missing (Colab, Binder without it).

One copy of the cell lives here (:data:`SETUP_CELL`); ``python -m vidgen_edu.tools.setup_cell book/*.md``
writes it into the chapters (before their first code cell, or over the old copy), and a test checks
that every chapter carries exactly this text. In a checkout of the book (``make install``) the
library is importable and the cell does nothing.

The install is pinned to this version of the book (the tag ``v<version>`` of the repository), and it
lets pip keep what the runtime already has: the package's dependency floors admit Colab's own
IPython 7.34 and ipywidgets 7.7, so nothing of Colab's is replaced. ``VIDGEN_EDU_SOURCE`` overrides
where it installs from (a local path in the Colab-like test).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from .. import __version__

#: where the cell installs the library from: this version's tag of the book's repository
REPOSITORY = "https://github.com/vidgen-edu/vidgen-edu"

SETUP_CELL = f'''```{{code-cell}} ipython3
:tags: [remove-cell]

# Setup: on Colab (or any Python without the book's library) install vidgen_edu, pinned to this
# version of the book; in a checkout of the book (`make install`) this cell does nothing.
import importlib.util, os, subprocess, sys

if importlib.util.find_spec("vidgen_edu") is None:
    source = os.environ.get("VIDGEN_EDU_SOURCE", "git+{REPOSITORY}@v{__version__}")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", source], check=True)
    importlib.invalidate_caches()
```'''

_CELL = re.compile(r"```\{code-cell\} ipython3\n:tags: \[remove-cell\]\n\n# Setup: .*?\n```", re.S)


def with_setup_cell(text: str) -> str:
    """A chapter's MyST text with :data:`SETUP_CELL` as its first code cell (replacing an older copy)."""
    if _CELL.search(text):
        return _CELL.sub(lambda _: SETUP_CELL, text, count=1)
    first = text.find("```{code-cell}")
    if first < 0:
        raise ValueError("the chapter has no code cell to put the setup cell before")
    return text[:first] + SETUP_CELL + "\n\n" + text[first:]


def main(paths: list[str]) -> int:
    for p in map(Path, paths):
        p.write_text(with_setup_cell(p.read_text()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
