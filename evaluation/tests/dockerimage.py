"""An image's file tree built from its Dockerfile without a container engine, to run the image's commands.

Reads FROM / WORKDIR / COPY / ENV / RUN / CMD (line continuations, comments, JSON and shell forms), copies
what COPY names from the build context into `root` (honouring .dockerignore), emulates the one kind of RUN an
image of this project uses (`pip install .`: into a virtualenv of `root` that sees this machine's packages,
offline), and runs commands the way `docker compose run` would: in the working folder, with the image's and the
service's environment, image paths (`/app/...`) mapped below `root`.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import venv
from dataclasses import dataclass, field
from pathlib import Path

SCRUBBED = ("PYTHONPATH", "PYTEST_ADDOPTS", "PYTEST_PLUGINS", "VIRTUAL_ENV")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str
    line: int


def read_dockerfile(text: str) -> list[Instruction]:
    """The instructions, continuation lines joined; comments and blank lines dropped."""
    instructions: list[Instruction] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        keyword, _, arguments = whole.partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip(), start))
    return instructions


def words(arguments: str) -> list[str]:
    """An instruction's arguments: the JSON form `["a", "b"]` or the shell form `a b`."""
    if arguments.startswith("["):
        return list(json.loads(arguments))
    return shlex.split(arguments)


def env_pairs(arguments: str) -> dict[str, str]:
    """`ENV A=1 B="two words"` or the legacy `ENV A 1`."""
    parts = shlex.split(arguments)
    if parts and "=" not in parts[0]:
        return {parts[0]: " ".join(parts[1:])}
    return dict(part.split("=", 1) for part in parts)


def read_dockerignore(context: Path) -> list[str]:
    path = context / ".dockerignore"
    if not path.is_file():
        return []
    return [
        line.strip()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]


def ignored(relative: str, patterns: list[str]) -> bool:
    """Docker's matching, enough for the usual patterns: `name`, `dir/**`, `**/name`, `*.ext`."""
    for pattern in patterns:
        pattern = pattern.rstrip("/")
        candidates = [pattern, pattern.removeprefix("**/")] if pattern.startswith("**/") else [pattern]
        for candidate in candidates:
            if fnmatch.fnmatch(relative, candidate) or fnmatch.fnmatch(relative, candidate + "/*"):
                return True
            if pattern.startswith("**/") and any(fnmatch.fnmatch(part, candidate) for part in relative.split("/")):
                return True
    return False


@dataclass
class Image:
    root: Path  # the image's "/" on this machine
    workdir: str = "/"
    env: dict[str, str] = field(default_factory=dict)
    cmd: list[str] = field(default_factory=list)
    python: str = sys.executable  # the image's interpreter (its virtualenv once `pip install` ran)

    def path(self, image_path: str) -> Path:
        return self.root / image_path.lstrip("/")

    def translate(self, value: str) -> str:
        """Image paths in a value (`/app/repository_after`, also in a PATH-like list) as paths below root."""
        parts = value.split(os.pathsep)
        mapped = [str(self.path(p)) if p.startswith("/") and self.path(p.split("/")[1]).exists() else p for p in parts]
        return os.pathsep.join(mapped)

    def run(
        self,
        command: list[str],
        env: dict[str, str] | None = None,
        workdir: str | None = None,
        timeout: float = 300,
    ) -> subprocess.CompletedProcess[str]:
        """`command` as the image runs it: python and pytest are the image's, paths and variables mapped."""
        environment = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
        for key, value in {**self.env, **(env or {})}.items():
            environment[key] = self.translate(value)
        head, *rest = command
        if head in ("python", "python3"):
            argv = [self.python, *rest]
        elif head == "pytest":
            argv = [self.python, "-m", "pytest", *rest]
        else:
            argv = [head, *rest]
        argv = [self.translate(arg) if arg.startswith("/") else arg for arg in argv]
        cwd = self.path(workdir or self.workdir)
        return subprocess.run(argv, cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout)


def build_image(context: Path, root: Path, dockerfile: str = "Dockerfile") -> Image:
    """Follow the Dockerfile's instructions with `context` as the build context and `root` as the image's "/"."""
    image = Image(root)
    patterns = read_dockerignore(context)
    for instruction in read_dockerfile((context / dockerfile).read_text(encoding="utf-8")):
        keyword, arguments = instruction.keyword, instruction.arguments
        if keyword == "FROM":
            root.mkdir(parents=True, exist_ok=True)
        elif keyword == "WORKDIR":
            image.workdir = arguments if arguments.startswith("/") else f"{image.workdir.rstrip('/')}/{arguments}"
            image.path(image.workdir).mkdir(parents=True, exist_ok=True)
        elif keyword == "ENV":
            image.env.update(env_pairs(arguments))
        elif keyword == "COPY":
            copy(context, image, words(arguments), patterns)
        elif keyword == "RUN":
            run_step(image, arguments, instruction)
        elif keyword == "CMD":
            image.cmd = words(arguments)
        elif keyword not in ("LABEL", "EXPOSE", "ARG", "USER"):
            raise AssertionError(f"{dockerfile}:{instruction.line}: {keyword} is not emulated by this reader")
    return image


def copy(context: Path, image: Image, arguments: list[str], patterns: list[str]) -> None:
    *sources, destination = [a for a in arguments if not a.startswith("--")]
    target = destination if destination.startswith("/") else f"{image.workdir.rstrip('/')}/{destination}"
    into_folder = destination.endswith("/") or len(sources) > 1
    for source in sources:
        origin = context / source
        if not origin.exists():
            raise AssertionError(f"COPY {source}: not in the build context")
        place = image.path(target) / origin.name if into_folder and origin.is_file() else image.path(target)
        if origin.is_dir():
            for path in sorted(origin.rglob("*")):
                relative = path.relative_to(context).as_posix()
                if path.is_file() and not ignored(relative, patterns):
                    out = place / path.relative_to(origin)
                    out.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, out)
        elif not ignored(source, patterns):
            place.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, place)


def run_step(image: Image, arguments: str, instruction: Instruction) -> None:
    """`RUN pip install .`: into a virtualenv that sees this machine's packages (the image's dependencies),
    without the network (no build isolation, no dependencies fetched)."""
    argv = words(arguments)
    if argv[:2] != ["pip", "install"]:
        raise AssertionError(f"line {instruction.line}: RUN {arguments!r} is not emulated by this reader")
    environment = image.root / "venv"
    if not environment.exists():
        venv.EnvBuilder(system_site_packages=True, with_pip=False).create(environment)
        image.python = str(environment / "bin" / "python")
    done = subprocess.run(
        [image.python, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "--quiet", *argv[2:]],
        cwd=image.path(image.workdir),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise AssertionError(f"RUN {arguments}: {done.stderr[-2000:]}")


def compose_service(context: Path, name: str) -> dict[str, object]:
    """The few keys of a compose service that `compose run` uses here: working_dir, environment, command."""
    from concgrade.task.compose import find_compose_file, read_compose

    path = find_compose_file(context)
    assert path is not None, f"{context}: no compose file"
    text = path.read_text(encoding="utf-8")
    service = next(s for s in read_compose(text) if s.name == name)
    block = re.search(rf"^  {re.escape(name)}:\n((?:    .*\n|\s*\n)*)", text, re.MULTILINE)
    workdir = re.search(r"^    working_dir:\s*(\S+)", block.group(1), re.MULTILINE) if block else None
    return {
        "working_dir": workdir.group(1) if workdir else None,
        "environment": {key: value for _, key, value in service.environment},
        "command": shlex.split(service.commands[0][1]) if service.commands else None,
    }
