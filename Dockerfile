# The reference task's image: the task's files in /app, concgrade installed from this repository.
#   docker compose build
#   docker compose run --rm -e PYTHONPATH=/app/repository_before app pytest -q   # P2P passes, F2P fails
#   docker compose run --rm -e PYTHONPATH=/app/repository_after app pytest -q    # everything passes
#   docker compose run --rm app                                                   # the same as after (the default)
#   docker compose run --rm app python evaluation/evaluation.py   # grade: reports/ in /app, evaluation/results.json
#   docker compose run --rm app python evaluation/run.py          # grade: reports/ in /app (mounted by compose)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

# The harness (and its pytest plugin, which gives the tests the concurrency_probe fixture).
WORKDIR /opt/concgrade
COPY pyproject.toml README.md ./
COPY evaluation/concgrade ./evaluation/concgrade
RUN pip install .

# The task alone in /app: a plain `pytest -q` there runs the task's suites, and a grade there finds every part
# of the task it checks (the README and Dockerfile included).
WORKDIR /app
COPY README.md Dockerfile docker-compose.yml ./
COPY repository_before ./repository_before
COPY repository_after ./repository_after
COPY tests ./tests
COPY trajectory ./trajectory
COPY evaluation/run.py evaluation/evaluation.py evaluation/concgrade.toml ./evaluation/

# The tests import the implementation from PYTHONPATH: after by default, before with -e PYTHONPATH=/app/repository_before.
ENV PYTHONPATH=/app/repository_after

CMD ["pytest", "-q"]
