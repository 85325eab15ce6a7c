"""The task stage: what a task declares (the model) and the loaders that read it from a folder."""
