"""The run stage: the plan of pytest processes, scratch copies, the sandbox and supervisor, every kill."""
