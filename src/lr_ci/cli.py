"""The ``lr-ci`` command: one click group, checks loaded from the registry only when they are run.

Start-up is on the hot path of every commit (pre-commit hooks), so this module imports only click and
the registry; a check's module, pydantic and the output formats load when a check actually runs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from lr_ci import __version__
from lr_ci._entry import ABORTED_EXIT, SIGPIPE_EXIT, prepare_streams, silence_stdout
from lr_ci._registry import CHECKS
from lr_ci._run import GlobalOptions, error_line, internal_error, one_line
from lr_ci.errors import LrCiError
from lr_ci.output import FORMATS
from lr_ci.report import INTERNAL_ERROR_EXIT

F = TypeVar("F", bound=Callable[..., Any])


def _store(attribute: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        options = ctx.ensure_object(GlobalOptions)
        if attribute == "outputs":
            options.outputs.extend(value)
        elif value:  # unset options (None/False) must not undo what was given before the check name
            setattr(options, attribute, value)
        if options.quiet and options.verbose:
            raise click.UsageError("--quiet and --verbose cannot be used together", ctx=ctx)

    return callback


def global_options(command: F) -> F:
    """Add the contract's global options; every check and the group itself carry them."""
    decorators = [
        click.option(
            "--config",
            type=click.Path(path_type=Path),
            expose_value=False,
            callback=_store("config"),
            help="Use this lr-ci.toml instead of searching for one.",
        ),
        click.option(
            "--format",
            type=click.Choice(FORMATS),
            expose_value=False,
            callback=_store("format"),
            help="Report format on stdout (default: text; github inside GitHub Actions).",
        ),
        click.option(
            "--output",
            "outputs",
            metavar="FMT:PATH",
            multiple=True,
            expose_value=False,
            callback=_store("outputs"),
            help="Also write the report as FMT to PATH (repeatable).",
        ),
        click.option(
            "--quiet",
            "-q",
            is_flag=True,
            expose_value=False,
            callback=_store("quiet"),
            help="Print only what fails.",
        ),
        click.option(
            "--verbose",
            "-v",
            is_flag=True,
            expose_value=False,
            callback=_store("verbose"),
            help="Print everything, with debug logs and tracebacks.",
        ),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


class LazyGroup(click.Group):
    """A group whose subcommands are the registry's checks, imported only when one is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(CHECKS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = CHECKS.get(cmd_name)
        ctx.meta[_COMMAND_NAME] = cmd_name  # an error while loading it still names it
        return spec.load_command() if spec else None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Checks and commands in two sections, from the registry's summaries (no check is imported)."""
        for title, kind in (("Checks", "check"), ("Commands", "command")):
            rows = [
                (name, CHECKS[name].summary) for name in self.list_commands(ctx) if CHECKS[name].kind == kind
            ]
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the chosen command; an error that escapes it leaves through the same path as in a check run.

        A check's own errors never get here (``run_check`` reports them); this catches what happens around
        it: a command that is not a check (``config schema``), or a registry entry that does not load.
        """
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise  # click's own ways out: an exit code, Ctrl-C, a usage error
        except BrokenPipeError:
            # The reader left (`lr-ci secrets --list-rules | head`): not a bug, and nothing more to say to
            # it; exit as a process that SIGPIPE ended, the way shells expect from the left of a pipe.
            silence_stdout()
            ctx.exit(SIGPIPE_EXIT)
        except LrCiError as exc:
            click.echo(error_line(_command_name(ctx), exc.message), err=True)
            ctx.exit(exc.exit_code)
        except Exception as exc:
            options = ctx.find_object(GlobalOptions)
            message = internal_error(exc, options is not None and options.verbose)
            click.echo(error_line(_command_name(ctx), message), err=True)
            ctx.exit(INTERNAL_ERROR_EXIT)


def _command_name(ctx: click.Context) -> str:
    """The command being run, as an error line names it (``config``; empty before one is chosen)."""
    return ctx.invoked_subcommand or str(ctx.meta.get(_COMMAND_NAME, ""))


_COMMAND_NAME = "lr_ci.command_name"


class DefaultCommandGroup(click.Group):
    """A command that does one thing by default and has named subcommands: ``lr-ci secrets [PATHS]``
    scans, ``lr-ci secrets baseline [PATHS]`` writes the baseline.

    A subcommand is chosen only by the first argument that is not an option, exactly as typed, before
    any ``--``: so ``lr-ci secrets --format json baseline`` still writes the baseline, while a folder of
    that name is scanned with ``lr-ci secrets ./baseline`` or ``lr-ci secrets -- baseline``. Anything
    else runs :attr:`default`, under the group's own name (its usage and errors read ``lr-ci secrets``).
    """

    def __init__(self, default: click.Command, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.default = default
        self.help = default.help

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        index = _first_word(self.default, args)
        if index is None or args[index] not in self.commands:
            return self.default.make_context(info_name, args, parent=parent, **extra)
        rest = [args[index], *args[:index], *args[index + 1 :]]
        return super().make_context(info_name, rest, parent=parent, **extra)


def _first_word(command: click.Command, args: Sequence[str]) -> int | None:
    """Where the first argument that is not an option (nor an option's value) is in ``args``, if any
    comes before ``--``; which options take a value is read from ``command``'s parameters."""
    takes_value = {
        opt
        for param in command.params
        if isinstance(param, click.Option) and not param.is_flag and not param.count
        for opt in param.opts
    }
    index = 0
    while index < len(args):
        word = args[index]
        if word == "--":
            return None
        if not word.startswith("-") or word == "-":
            return index
        index += 2 if word in takes_value else 1
    return None


def main_command(command: click.Command) -> click.Command:
    """The command that does the work of ``command``: its default when it has one (the scan of
    ``secrets``), else itself. The actions read their options from it."""
    return command.default if isinstance(command, DefaultCommandGroup) else command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="lr-ci")
@global_options
def cli() -> None:
    """Launch-readiness checks for small teams: run one with `lr-ci CHECK`.

    Exit codes: 0 passed, 1 failed, 2 could not run (bad usage, config or input), 3 a bug in lr-ci,
    130 interrupted.
    """


def usage_error_line(exc: click.UsageError) -> str:
    """A usage error as the contract's one line: what was wrong and where to read how it is used.

    click prints a usage block and a blank line first; in a CI log the one line that matters is then the
    third, so lr-ci says it first and alone (``lr-ci smoke: error: Invalid value for '--timeout' ...``).
    """
    command = exc.ctx.command_path if exc.ctx is not None else "lr-ci"
    hint = f" (see {command} --help)" if exc.ctx is not None else ""
    return f"{command}: error: {one_line(exc.format_message())}{hint}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (None: ``sys.argv``) through click; returns the exit code. The process
    starts in :func:`lr_ci._entry.main`, which calls this and ends the process."""
    prepare_streams()
    try:
        result = cli.main(
            args=list(argv) if argv is not None else None, prog_name="lr-ci", standalone_mode=False
        )
    except click.exceptions.Abort:
        click.echo("lr-ci: aborted", err=True)
        return ABORTED_EXIT
    except click.UsageError as exc:
        click.echo(usage_error_line(exc), err=True)
        return 2
    except click.ClickException as exc:
        click.echo(f"lr-ci: error: {one_line(exc.format_message())}", err=True)
        return 2
    except Exception as exc:  # a bug before any command ran (parsing the global options)
        verbose = any(arg in ("--verbose", "-v") for arg in (argv if argv is not None else sys.argv[1:]))
        click.echo(error_line("", internal_error(exc, verbose)), err=True)
        return INTERNAL_ERROR_EXIT
    return result if isinstance(result, int) else 0
