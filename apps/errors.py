"""The one exception type for mistakes a user can fix.

The CLI prints a ``UsageError`` as a single line and exits with status 2, no
traceback. Everything else is a bug and keeps its traceback.
"""


class UsageError(Exception):
    """A user's mistake: a bad flag, key, value, path or file.

    The message says what was wrong and what would be right.
    """

    exit_code = 2
