"""Services a task needs (a database, Redis, a broker): found in its compose file and tests, provided or not.

A task whose tests talk to a service cannot be graded without it: running it anyway would grade the
missing service, not the refactor. Such a task is skipped and reported unless the service is provided,
by `--service NAME=HOST:PORT` or by the variables it reads being set in the caller's environment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from concgrade.errors import UsageError
from concgrade.files import IGNORED_DIRS
from concgrade.task.compose import find_compose_file, read_compose

# Service name -> words in a container image name that mean it.
IMAGES = {
    "postgres": ("postgres", "postgis", "timescale"),
    "mysql": ("mysql", "mariadb"),
    "redis": ("redis", "valkey", "keydb"),
    "mongodb": ("mongo",),
    "rabbitmq": ("rabbitmq",),
    "kafka": ("kafka", "redpanda"),
    "memcached": ("memcached",),
    "elasticsearch": ("elasticsearch", "opensearch"),
}
# Variable name patterns -> the service they point at (DATABASE_URL is decided by its URL scheme).
VARIABLES = (
    (re.compile(r"^REDIS_(URL|HOST|PORT|URI)$"), "redis"),
    (re.compile(r"^(POSTGRES_(HOST|PORT|URL|DB)|PGHOST|PGPORT)$"), "postgres"),
    (re.compile(r"^MYSQL_(HOST|PORT|URL)$"), "mysql"),
    (re.compile(r"^MONGO(DB)?_(URL|URI|HOST|PORT)$"), "mongodb"),
    (re.compile(r"^(AMQP_URL|RABBITMQ_(URL|HOST|PORT)|BROKER_URL|CELERY_BROKER_URL)$"), "rabbitmq"),
    (re.compile(r"^KAFKA_(BOOTSTRAP_SERVERS|BROKERS|HOST|URL)$"), "kafka"),
    (re.compile(r"^MEMCACHED_(HOST|PORT|URL)$"), "memcached"),
    (re.compile(r"^(ELASTICSEARCH|OPENSEARCH)_(URL|HOST|HOSTS)$"), "elasticsearch"),
    (re.compile(r"^(DATABASE_URL|DB_URL|DB_HOST|DB_PORT|SQLALCHEMY_DATABASE_URI)$"), "database"),
)
SCHEMES = {"postgres": "postgres", "postgresql": "postgres", "mysql": "mysql", "redis": "redis", "mongodb": "mongodb"}
DEFAULT_VARIABLES = {
    "redis": ("REDIS_URL", "REDIS_HOST", "REDIS_PORT"),
    "postgres": ("DATABASE_URL", "POSTGRES_HOST", "POSTGRES_PORT"),
    "mysql": ("DATABASE_URL", "MYSQL_HOST", "MYSQL_PORT"),
    "mongodb": ("MONGODB_URL",),
    "rabbitmq": ("AMQP_URL",),
}
READS = re.compile(r"environ\[\s*['\"](\w+)['\"]|environ\.get\(\s*['\"](\w+)['\"]|getenv\(\s*['\"](\w+)['\"]")


@dataclass(frozen=True)
class ServiceNeed:
    """A service the task needs, where that shows, and the variables (with their compose values) that reach it."""

    name: str
    evidence: tuple[str, ...]
    variables: tuple[tuple[str, str], ...]  # (name, value in the compose file, or "" when only read by the tests)


def detect_services(root: Path) -> list[ServiceNeed]:
    """The services the task's compose file runs beside its tests, or whose variables the tests read."""
    evidence: dict[str, list[str]] = {}
    variables: dict[str, dict[str, str]] = {}
    compose = find_compose_file(root)
    if compose is not None:
        for service in read_compose(compose.read_text(encoding="utf-8", errors="replace")):
            kind = image_service(service.image)
            if kind:
                evidence.setdefault(kind, []).append(
                    f"{compose.name}:{service.line}: service {service.name} ({service.image})"
                )
            for line, name, value in service.environment:
                target = variable_service(name, value)
                if target and target != kind:  # a database's own settings are not a client's variables
                    evidence.setdefault(target, []).append(f"{compose.name}:{line}: {name}={value}")
                    variables.setdefault(target, {}).setdefault(name, value)
    for path in sorted((root / "tests").rglob("*.py")) + [root / "conftest.py"]:
        if not path.is_file() or any(part in IGNORED_DIRS for part in path.relative_to(root).parts):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in READS.finditer(text):
            name = next(group for group in match.groups() if group)
            target = variable_service(name, "")
            if target:
                line = text.count("\n", 0, match.start()) + 1
                evidence.setdefault(target, []).append(f"{path.relative_to(root).as_posix()}:{line}: reads {name}")
                variables.setdefault(target, {}).setdefault(name, "")
    return [
        ServiceNeed(name, tuple(dict.fromkeys(found)), tuple(sorted(variables.get(name, {}).items())))
        for name, found in sorted(evidence.items())
    ]


def image_service(image: str) -> str | None:
    name = image.rsplit("/", 1)[-1].split(":", 1)[0].lower()
    return next((service for service, words in IMAGES.items() if any(word in name for word in words)), None)


def variable_service(name: str, value: str) -> str | None:
    for pattern, service in VARIABLES:
        if pattern.match(name):
            if service == "database":
                scheme = urlsplit(value).scheme.split("+", 1)[0].lower() if "://" in value else ""
                return SCHEMES.get(scheme, "database")
            return service
    return None


def parse_service_flag(text: str) -> tuple[str, str]:
    """`redis=HOST:PORT` → ("redis", "HOST:PORT"); a bad value is a usage error."""
    name, sep, address = text.partition("=")
    if not sep or not name.strip() or not re.fullmatch(r"[\w.-]+:\d{1,5}", address.strip()):
        raise UsageError(f"--service {text!r}: expected NAME=HOST:PORT, e.g. redis=127.0.0.1:6379")
    return name.strip().lower(), address.strip()


def unmet_services(needs: list[ServiceNeed], provided: dict[str, str], environ: dict[str, str]) -> list[ServiceNeed]:
    """Needs neither provided by flag (by name; `database` by any database) nor reachable through a set variable."""
    unmet = []
    for need in needs:
        by_flag = need.name in provided or (need.name == "database" and set(provided) & set(SCHEMES.values()))
        by_environment = any(environ.get(name) for name, _ in need.variables)
        if not by_flag and not by_environment:
            unmet.append(need)
    return unmet


def service_environment(needs: list[ServiceNeed], provided: dict[str, str]) -> dict[str, str]:
    """The variables that point the task's tests at the provided services (URLs keep their path and user)."""
    env: dict[str, str] = {}
    for need in needs:
        address = provided.get(need.name) or next(
            (provided[name] for name in provided if need.name == "database" and name in SCHEMES.values()), None
        )
        if address is None:
            continue
        host, port = address.rsplit(":", 1)
        variables = dict(need.variables) or dict.fromkeys(DEFAULT_VARIABLES.get(need.name, ()), "")
        for name, value in variables.items():
            if name.endswith(("_HOST", "HOST")) and not name.endswith("HOSTS"):
                env[name] = host
            elif name.endswith("PORT"):
                env[name] = port
            else:
                env[name] = _with_address(value, host, port, need.name)
    return env


def _with_address(url: str, host: str, port: str, service: str) -> str:
    if "://" not in url:
        return f"{service}://{host}:{port}" if service != "kafka" else f"{host}:{port}"
    parts = urlsplit(url)
    user = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit((parts.scheme, f"{user}{host}:{port}", parts.path, parts.query, parts.fragment))
