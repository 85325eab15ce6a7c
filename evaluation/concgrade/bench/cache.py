"""The benchmark results cache: timings of unchanged code on this machine are reused instead of re-measured.

An entry is keyed by the content hash of everything that decides the measurement: the implementation's
files, the workload (and its hook files), the harness's measuring code and version, the interpreter and
the machine. Change any of them and the key changes; nothing is ever invalidated by hand.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

import concgrade
from concgrade.files import load_cache_entry, store_cache_entry

CACHE_FORMAT = 1
# The files whose code takes the measurement: a change to them must not reuse old numbers.
MEASURING_CODE = ("inside/bench_child.py", "inside/probe.py")


def machine_fingerprint() -> dict[str, Any]:
    """What ties timings to this machine and interpreter: numbers from elsewhere are never reused."""
    return {
        "node": platform.node(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "python": sys.version,
        "executable": sys.executable,
    }


def measuring_code_hash() -> str:
    digest = hashlib.sha256(concgrade.__version__.encode())
    root = Path(concgrade.__file__).parent
    for relative in MEASURING_CODE:
        digest.update((root / relative).read_bytes())
    return digest.hexdigest()


def cache_key(parts: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of `parts`, with the harness and machine added."""
    material = {
        "format": CACHE_FORMAT,
        "harness": measuring_code_hash(),
        "machine": machine_fingerprint(),
        **parts,
    }
    text = json.dumps(material, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_entry(folder: Path | None, key: str) -> dict[str, Any] | None:
    """The cached entry for `key`, or None (missing, unreadable, or of another format)."""
    return load_cache_entry(folder, "bench", key, CACHE_FORMAT)


def store_entry(folder: Path | None, key: str, entry: dict[str, Any]) -> bool:
    """Write an entry atomically (a reader never sees half of one); False if the cache is not writable."""
    return store_cache_entry(folder, "bench", key, CACHE_FORMAT, entry)
