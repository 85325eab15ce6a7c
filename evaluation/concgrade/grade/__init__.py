"""The grade stage: from what the runs left to per-test outcomes, ordered checks and a verdict (pure)."""
