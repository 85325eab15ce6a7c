"""`concgrade check`: lint a task folder before anything runs."""
