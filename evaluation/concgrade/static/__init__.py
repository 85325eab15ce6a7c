"""Static analysis of a task's sources: parsing, metrics, rules, constraints, test scans and lint (pure)."""
