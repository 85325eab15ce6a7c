# The reference task's image: the task's files in /app, concgrade installed from this repository.
#   docker compose run --rm -e PYTHONPATH=/app/repository_before app pytest -q   # P2P passes, F2P fails
#   docker compose run --rm -e PYTHONPATH=/app/repository_after app pytest -q    # everything passes
#   docker compose run --rm app python evaluation/run.py                         # grade: reports/ in /app
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

# The harness (and its pytest plugin, which gives the tests the concurrency_probe fixture).
WORKDIR /opt/concgrade
COPY pyproject.toml README.md ./
COPY evaluation/concgrade ./evaluation/concgrade
RUN pip install .

# The task alone in /app, so that a plain `pytest -q` there runs the task's suites.
WORKDIR /app
COPY repository_before ./repository_before
COPY repository_after ./repository_after
COPY tests ./tests
COPY trajectory ./trajectory
COPY evaluation/run.py evaluation/concgrade.toml ./evaluation/

CMD ["pytest", "-q"]
