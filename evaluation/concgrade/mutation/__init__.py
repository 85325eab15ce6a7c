"""The mutation phase: mutants of the after graded by the suites, the kill matrix and score in results."""
