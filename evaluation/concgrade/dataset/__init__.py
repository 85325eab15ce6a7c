"""Many tasks at once: discovery, per-task jobs, executors, caches, environments, predictions."""
