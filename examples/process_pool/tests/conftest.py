"""Selects the implementation under test: TEST_IMPLEMENTATION=before|after (default after) puts its folder on the path.

The tests then `import parallelizing`; worker processes started with spawn or forkserver get the
same path from multiprocessing, so they import the same implementation.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

IMPLEMENTATION = os.environ.get("TEST_IMPLEMENTATION", "after")
if IMPLEMENTATION not in ("before", "after"):
    raise RuntimeError(f"TEST_IMPLEMENTATION must be 'before' or 'after', not {IMPLEMENTATION!r}")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / f"repository_{IMPLEMENTATION}"))
