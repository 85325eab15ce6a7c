"""Reads what concgrade needs from a docker-compose file (services, images, environment, commands), without YAML.

A line reader, not a YAML parser: it understands the block style that compose files are written in
(`environment:` as a list of `KEY=VALUE` or a mapping, `command:` as a string or a list) and ignores
the rest, so a task's compose file never needs a dependency or a container engine to be read.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

COMPOSE_FILES = ("docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml")


@dataclass
class ComposeService:
    name: str
    line: int
    image: str = ""
    environment: list[tuple[int, str, str]] = field(default_factory=list)  # (line, key, value)
    commands: list[tuple[int, str]] = field(default_factory=list)  # (line, command text)
    depends_on: list[str] = field(default_factory=list)


def find_compose_file(root: Path) -> Path | None:
    return next((root / name for name in COMPOSE_FILES if (root / name).is_file()), None)


def read_compose(text: str) -> list[ComposeService]:
    """The services of a compose file, in order."""
    services: list[ComposeService] = []
    in_services = False
    service_indent: int | None = None
    key, key_indent = "", -1
    for number, raw in enumerate(text.splitlines(), 1):
        line = _strip_comment(raw).rstrip()
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        stripped = line.strip()
        if indent == 0:
            in_services, service_indent = stripped.startswith("services:"), None
            continue
        if not in_services:
            continue
        if service_indent is None or indent <= service_indent:
            service_indent = indent
            services.append(ComposeService(_unquote(stripped.rstrip(":")), number))
            key, key_indent = "", -1
            continue
        service = services[-1]
        if key_indent < 0 or indent <= key_indent:
            key, _, value = stripped.partition(":")
            key, value, key_indent = key.strip(), value.strip(), indent
            _read_key(service, number, key, value)
        else:
            _read_nested(service, number, key, stripped)
    return services


def _read_key(service: ComposeService, number: int, key: str, value: str) -> None:
    if key == "image":
        service.image = _unquote(value)
    elif key in ("command", "entrypoint") and value and value not in ("|", ">", "|-", ">-"):
        service.commands.append((number, _command_text(value)))
    elif key in ("command", "entrypoint"):
        service.commands.append((number, ""))  # a block list or scalar follows
    elif key == "environment" and value.startswith(("[", "{")):
        for item in re.split(r",\s*", value.strip("[]{} ")):
            _add_variable(service, number, item)
    elif key == "depends_on" and value.startswith("["):
        service.depends_on += [_unquote(v) for v in value.strip("[] ").split(",") if v.strip()]


def _read_nested(service: ComposeService, number: int, key: str, stripped: str) -> None:
    item = stripped[2:].strip() if stripped.startswith("- ") else stripped
    if key == "environment":
        _add_variable(service, number, item)
    elif key in ("command", "entrypoint") and service.commands:
        line, text = service.commands[-1]
        word = _unquote(item)
        service.commands[-1] = (line, f"{text} {word}".strip())
    elif key == "depends_on":
        service.depends_on.append(_unquote(item.rstrip(":")))


def _add_variable(service: ComposeService, number: int, item: str) -> None:
    item = _unquote(item.strip())
    if "=" in item and (":" not in item or item.index("=") < item.index(":")):
        name, _, value = item.partition("=")
    else:
        name, _, value = item.partition(":")
    name = name.strip()
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        service.environment.append((number, name, _unquote(value.strip())))


def _command_text(value: str) -> str:
    """A command as one line of shell text, whether written as a string or as a flow list."""
    if value.startswith("["):
        try:
            return " ".join(str(word) for word in json.loads(value))
        except json.JSONDecodeError:
            return " ".join(_unquote(word.strip()) for word in value.strip("[]").split(","))
    return _unquote(value)


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def _strip_comment(line: str) -> str:
    """Drop a `#` comment that is not inside quotes."""
    quote = ""
    for index, char in enumerate(line):
        if char in "'\"" and not quote:
            quote = char
        elif char == quote:
            quote = ""
        elif char == "#" and not quote and (index == 0 or line[index - 1] in " \t"):
            return line[:index]
    return line
