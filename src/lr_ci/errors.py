"""The one exception type that means "the check could not be run as asked" (exit code 2).

Anything that raises :class:`LrCiError` ends the run with its :attr:`~LrCiError.exit_code` (2) and one line
on stderr; anything else is a bug in lr-ci and is reported as an internal error: exit 3, one line saying
so, a traceback only with ``--verbose`` (``lr_ci._run.internal_error``).
"""

from __future__ import annotations


class LrCiError(Exception):
    """A problem with the user's input or environment, reported as one line and exit code 2."""

    exit_code = 2
    """The run's exit code; ``run_check`` and ``cli.main`` both honour it (the contract's 2 for every
    subclass today: a subclass that means something else says so here, not at each place that catches)."""

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


class SettingError(LrCiError):
    """A value of lr-ci.toml that a check finds unusable only as it runs (a flow whose ``use`` cannot be
    followed, a hash pattern too slow for the build). The check names the key (``where``, a path into the
    tables); the run harness turns it into the :class:`ConfigError` at that key's line, like every other
    config error."""

    def __init__(self, where: tuple[str | int, ...], problem: str) -> None:
        super().__init__(problem)
        self.where = where
        self.problem = problem


class UnsetVariableError(ConfigError):
    """A ``${NAME}`` whose variable is not set: fatal for a run, a warning for ``config check``."""


class RunEnvironmentSettingError(SettingError):
    """A setting that this machine or command line cannot serve, while the file itself is right
    (``GITHUB_TOKEN`` unset for a ``github_issues`` target, apprise not installed for an apprise URL, a
    flow monitor without a base URL, which ``--base-url`` may give): exit 2 for a run, like any
    :class:`SettingError`, and a warning for ``lr-ci config check`` (:class:`RunEnvironmentError`), since
    the machine that checks the file is often not the one that runs the check."""


class RunEnvironmentError(ConfigError):
    """A :class:`RunEnvironmentSettingError` at its line of lr-ci.toml, as ``lr-ci config check`` lists it:
    a warning, like :class:`UnsetVariableError`."""


class FieldError(ValueError):
    """A settings ``__post_init__`` rejecting one of its fields.

    Pydantic reports it as the table's ``value_error`` and keeps this exception in the error's ``ctx``;
    the config loader reads :attr:`field` from there to point at that key's line. Its text stays
    ``field: problem``, so code that shows it as a plain ``ValueError`` reads the same.
    """

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem
