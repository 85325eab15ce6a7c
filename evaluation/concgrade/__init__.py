"""concgrade: grade concurrency-refactor tasks (before vs after) with isolated, instrumented pytest runs."""

__version__ = "0.1.0"
