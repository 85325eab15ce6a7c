"""Where the system Chromium is and how to launch it headless: shared by the browser tests and the benchmarks."""

from __future__ import annotations

import os
import shutil

# The flags a CI container needs; nothing in them reaches the network or a profile.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str | None:
    """The system Chromium: CONCGRADE_CHROMIUM, else the Debian/Ubuntu package's binary on PATH."""
    candidates = [os.environ.get("CONCGRADE_CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser")]
    return next((path for path in candidates if path and os.access(path, os.X_OK)), None)
