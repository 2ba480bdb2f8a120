"""Shared test setup: headless plotting, and a cache folder per test session."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
