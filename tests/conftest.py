"""Shared test setup: headless plotting, and a cache folder per test session."""

import os
import tempfile

os.environ.setdefault("MPLBACKEND", "Agg")
# models cached by tests (quick-mode checkpoints) go to a throw-away folder, not the reader's cache
os.environ.setdefault("VIDGEN_CACHE", tempfile.mkdtemp(prefix="vidgen-test-cache-"))
