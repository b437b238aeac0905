"""The one exception type that means "the check could not be run as asked" (exit code 2).

Anything that raises :class:`LrCiError` ends the run with exit 2 and one line on stderr; anything else is a
bug and is reported as an internal error (still exit 2, a traceback only with ``--verbose``).
"""

from __future__ import annotations


class LrCiError(Exception):
    """A problem with the user's input or environment, reported as one line and exit code 2."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


MAX_KEY_SHOWN = 120
"""Characters of a config key an error shows: a key is written by the user and may be a megabyte long
(a quoted key is any string), and an error line that long is no longer one readable line."""


def shown_key(key: str) -> str:
    """``key`` cut to :data:`MAX_KEY_SHOWN` characters (with ``…`` and its length when cut)."""
    if len(key) <= MAX_KEY_SHOWN:
        return key
    return f"{key[:MAX_KEY_SHOWN]}…({len(key)} chars)"


class ConfigError(LrCiError):
    """An invalid ``lr-ci.toml``; the message reads ``file:line: key: problem``."""

    def __init__(self, path: str, line: int | None, key: str, problem: str) -> None:
        where = f"{path}:{line}" if line else path
        key = shown_key(key)
        super().__init__(f"{where}: {key}: {problem}" if key else f"{where}: {problem}")
        self.path = path
        self.line = line
        self.key = key
        self.problem = problem


class UnsetVariableError(ConfigError):
    """A ``${NAME}`` whose variable is not set: fatal for a run, a warning for ``config check``."""
