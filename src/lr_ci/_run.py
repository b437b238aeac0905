"""Running one check: settings in, report out, and the exit code that agrees with it.

Every check's click command ends in :func:`run_check` (the staged hook's fast start, :mod:`lr_ci._entry`,
in :func:`finish_check`, the same run without click). It owns what every check must do the same way:
timing, turning :class:`~lr_ci.errors.LrCiError` into its exit code (2) with one line on stderr, any other
exception into exit 3 (:func:`internal_error`: a bug, said in one line, the traceback only with
``--verbose``), masking credentials (also with ``::add-mask::`` in GitHub Actions) and emitting the report
through the output layer. Outside a check run (``lr-ci config schema``, loading a command) the CLI group
sends errors through the same two functions, so there is one path from an exception to an exit code.

A check's command (its ``cli.py``) parses its arguments into a frozen request, then in the run reads its
settings with :meth:`RunContext.settings`: the ``[table]`` of lr-ci.toml with the options that replace a
setting merged over it, the one place where that happens, and opens what must be closed again (a progress
line, a started scan) as context managers before it calls the check.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TextIO, TypeVar

from lr_ci._entry import error_line_out
from lr_ci.errors import LrCiError, SettingError
from lr_ci.github import in_actions
from lr_ci.output import OutputOptions, emit, parse_output_spec
from lr_ci.redact import Redactor
from lr_ci.report import INTERNAL_ERROR_EXIT, Report

if TYPE_CHECKING:
    import click
    from _typeshed import DataclassInstance

    from lr_ci._progress import Progress
    from lr_ci.config import ConfigFile

SettingsT = TypeVar("SettingsT", bound="DataclassInstance")
"""A check's settings: a frozen dataclass (pydantic validates it without being imported to define it)."""


@dataclass
class GlobalOptions:
    """The contract's global options; accepted before and after the check name (the later one wins)."""

    config: Path | None = None
    format: str | None = None
    outputs: list[str] = field(default_factory=list)
    quiet: bool = False
    verbose: bool = False

    def resolved_format(self) -> str:
        if self.format:
            return self.format
        return "github" if in_actions() else "text"


class RunContext:
    """What a check body gets: its settings, the redactor, the working directory."""

    def __init__(self, check: str, options: GlobalOptions) -> None:
        self.check = check
        self.options = options
        self.format = options.resolved_format()
        self.redactor = Redactor()
        if self.format == "github" or in_actions():
            # The runner reads workflow commands on stdout and stderr; stderr keeps a JSON or SARIF
            # stdout parseable when another format was asked for inside Actions.
            stream = sys.stdout if self.format == "github" else sys.stderr
            self.redactor.on_credential = lambda value: _print_add_mask(value, stream)
        self.output = OutputOptions(
            format=self.format,
            outputs=tuple(parse_output_spec(spec) for spec in options.outputs),
            color=self.format == "text" and _wants_color(),
            quiet=options.quiet,
            verbose=options.verbose,
        )
        self.cwd = Path.cwd()
        self._config: ConfigFile | None = None

    @property
    def config(self) -> ConfigFile:
        if self._config is None:
            from lr_ci.config import load_config

            self._config = load_config(self.options.config)
        return self._config

    def progress(self, label: str, total: int | None = None) -> Progress:
        """A progress line for a long operation; drawn only on a terminal, never in CI or with --quiet."""
        from lr_ci._progress import Progress, wanted

        return Progress(label, total, enabled=wanted(self.options.quiet, self.format))

    def settings(
        self,
        model: type[SettingsT],
        table: str | None = None,
        *,
        overrides: Mapping[str, object] | None = None,
    ) -> SettingsT:
        """The check's validated table (defaults when absent), with the command line's values over it.

        This is the one place where flags are merged over ``[table]`` settings: ``overrides`` maps a field
        of ``model`` to the value its option was given, None meaning the option was not given (the table's
        value, or the default, stays). The table is validated first (a bad value is exit 2 at file:line);
        the options' values are the command's to check (their messages name the option). ``model`` is the
        settings class the registry names for this check; passing it keeps the return type precise for
        the type checker. ``table`` reads another check's table (p95 reuses the login flow of ``[smoke]``).
        """
        from lr_ci.config import load_section

        settings = load_section(self.config, table or self.check, model, self.redactor)
        given = {name: value for name, value in (overrides or {}).items() if value is not None}
        if not given:
            return settings
        import dataclasses

        return dataclasses.replace(settings, **given)


def _wants_color() -> bool:
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _print_add_mask(value: str, stream: TextIO) -> None:
    from lr_ci.output._github import add_mask_lines

    stream.write("".join(line + "\n" for line in add_mask_lines(value)))
    stream.flush()


class _RedactingFilter(logging.Filter):
    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = self.redactor.scrub_text(record.getMessage())
        # Escaped, not collapsed: a newline stays visible as \\n, yet never starts a line of its own.
        record.msg = _printable_log(message)
        record.args = None
        return True


def _printable_log(message: str) -> str:
    from lr_ci.output._text import printable

    shown = printable(message)
    if len(shown) > MAX_LOG_CHARS:
        shown = f"{shown[:MAX_LOG_CHARS]}… ({len(shown)} chars)"
    return shown


def _configure_logging(run: RunContext) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_RedactingFilter(run.redactor))
    handler.setFormatter(logging.Formatter("lr-ci: %(levelname)s: %(message)s"))
    root = logging.getLogger("lr_ci")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if run.options.verbose else logging.WARNING)
    root.propagate = False


MAX_ERROR_CHARS = 2000
"""The longest error message a run prints or reports: a message quotes what the user gave (a path, a
key, a value) and that can be a megabyte; one line must stay one readable line (and a step summary small)."""
MAX_LOG_CHARS = 8000
"""The longest log message: longer ones are cut, with their length said."""


def one_line(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """``text`` as one printable line of at most ``limit`` characters.

    Whitespace runs (newlines too) become one space, every other control character is escaped (an ESC
    from a file name must not drive the terminal, a newline must not start a line that GitHub Actions
    would read as a workflow command), and a longer text is cut with its length said. Redact before
    calling this: cutting first could leave half a credential that the masker no longer recognises.
    """
    from lr_ci.output._text import printable

    flat = printable(" ".join(text.split()))
    if len(flat) <= limit:
        return flat
    suffix = f"… ({len(flat)} chars)"
    return flat[: limit - len(suffix)] + suffix


def error_line(check: str, message: str) -> str:
    """The one stderr line of a run that exits 2 or 3 (``message`` already redacted); ``check`` may be
    empty when the error came before a command was chosen."""
    return f"lr-ci{' ' + check if check else ''}: error: {one_line(message)}"


def internal_error(exc: BaseException, verbose: bool, redactor: Redactor | None = None) -> str:
    """The one-line message of a bug in lr-ci (exit 3); with ``verbose`` the traceback goes to stderr first.

    The line says it is a bug, not the user's input, and how to see more; the traceback is redacted like
    everything else (a credential can sit in an exception's message or a local repr).
    """
    if verbose:
        trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        error_line_out((redactor.scrub_text(trace) if redactor else trace).rstrip("\n"))
    return f"internal error, a bug in lr-ci: {type(exc).__name__}: {exc} (--verbose shows the traceback)"


def run_check(ctx: click.Context, check: str, body: Callable[[RunContext], Report]) -> NoReturn:
    """Run ``body`` and exit with the report's code (0 pass, 1 fail, 2 could not run, 3 a bug)."""
    ctx.exit(finish_check(ctx.ensure_object(GlobalOptions), check, body))


def finish_check(options: GlobalOptions, check: str, body: Callable[[RunContext], Report]) -> int:
    """:func:`run_check` without click: run ``body`` under ``options``, emit its report, return the exit
    code. Error lines go to stderr as they are (already one printable line each)."""
    started_at = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    clock = time.perf_counter()
    run: RunContext | None = None
    try:
        run = RunContext(check, options)
        _configure_logging(run)
        report = body(run)
    except LrCiError as exc:
        if isinstance(exc, SettingError) and run is not None:
            exc = run.config.error(exc.where, exc.problem)  # at the key's line in lr-ci.toml
        report = Report(check=check, error=exc.message, error_exit=exc.exit_code)
    except Exception as exc:  # a bug: say so in one line, keep the traceback for --verbose
        message = internal_error(exc, options.verbose, run.redactor if run else None)
        report = Report(check=check, error=message, error_exit=INTERNAL_ERROR_EXIT)
    report.started_at = started_at
    report.duration_s = time.perf_counter() - clock
    redactor = run.redactor if run else Redactor()
    if report.error is not None:
        # Redacted before it is flattened and cut, so no part of a credential survives the cut.
        report.error = one_line(redactor.scrub_text(report.error))
        error_line_out(redactor.scrub_text(error_line(check, report.error)))
    if run is not None and not (report.error is not None and run.format == "text"):
        try:
            emit(report, run.output, redactor)
        except LrCiError as exc:
            error_line_out(redactor.scrub_text(error_line(check, redactor.scrub_text(exc.message))))
            return exc.exit_code
    return report.exit_code
