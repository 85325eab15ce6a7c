"""What a grade must not leave behind, looked for from outside: processes carrying a token, files named with it."""

from __future__ import annotations

import os
from pathlib import Path


def processes_with(token: str) -> list[tuple[int, str]]:
    """Living processes (not this one) whose command line or environment carries the token."""
    needle = token.encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text(errors="replace")
            if stat[stat.rfind(")") + 2 :].split()[0] == "Z":
                continue
            command = Path(f"/proc/{entry}/cmdline").read_bytes()
            try:
                environ = Path(f"/proc/{entry}/environ").read_bytes()
            except OSError:
                environ = b""
        except OSError:
            continue
        if needle in command or needle in environ:
            found.append((int(entry), command.replace(b"\0", b" ").decode(errors="replace")[:160]))
    return found


def entries_with(token: str, folders: tuple[str, ...] = ("/tmp", "/var/tmp", "/dev/shm")) -> list[str]:
    """Files and folders of the machine's shared temporary folders whose name carries the token."""
    found = []
    for folder in folders:
        try:
            found += [f"{folder}/{name}" for name in os.listdir(folder) if token in name]
        except OSError:
            pass
    return found
