"""The results model every writer reads, and its JSON Schema."""
