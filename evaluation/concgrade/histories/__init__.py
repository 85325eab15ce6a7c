"""The histories phase: record each declared history on every implementation, check it against the sequential model."""
