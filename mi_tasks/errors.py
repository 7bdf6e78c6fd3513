"""One exception type for every user-facing mistake, so callers can catch it in one place."""


class MiTasksError(ValueError):
    """Bad input or configuration; the message names the problem and how to fix it."""
