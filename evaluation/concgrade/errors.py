"""The errors users see: one small hierarchy, turned into one line and exit status 2 by the CLI."""

from __future__ import annotations


class ConcgradeError(Exception):
    """A problem with the user's input or environment (never a bug of concgrade itself)."""


class TaskError(ConcgradeError):
    """The task folder is malformed: missing folders, invalid manifest, unreadable or broken test files."""


class UsageError(ConcgradeError):
    """The command line asks for something that cannot be done."""


class RunError(ConcgradeError):
    """A test process could not be started at all (not a failing or crashing test: those are graded)."""
