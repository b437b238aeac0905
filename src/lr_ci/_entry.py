"""Where the ``lr-ci`` script and ``python -m lr_ci`` start: a command line goes to click
(:mod:`lr_ci.cli`), except the staged hooks' own, which start the scan without it.

``lr-ci secrets --staged`` is the command every commit runs: exactly that is the ``lr-secrets`` hook's
entry, and with ``--quiet`` after it the plain git hook's (``hooks/pre-commit``). Importing click and
building its context was about 12 ms of that hook's 100, and its parsing has nothing to decide there: those
command lines run :func:`lr_ci.checks.secrets.check.body` through :func:`lr_ci._run.finish_check`, the run
click's command makes, with the options click would give. Any other command line, one more option
included, goes to click. This module imports nothing at start that the staged scan does not need.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

HOOK_COMMAND_LINES = {("secrets", "--staged"): False, ("secrets", "--staged", "--quiet"): True}
"""The command lines that start without click (the staged hooks'), each with whether it is ``--quiet``."""
ABORTED_EXIT = 130
"""128 + SIGINT: Ctrl-C, as click's own path reports it (a blank line, then ``lr-ci: aborted``)."""
SIGPIPE_EXIT = 141
"""128 + SIGPIPE: the exit of a command whose reader closed the pipe."""


def main() -> None:
    """Entry point of the ``lr-ci`` script and of ``python -m lr_ci``: runs the command line and ends the
    process with its exit code."""
    code = run(sys.argv[1:])
    end_process(code)
    raise SystemExit(code)


def staged_secrets(quiet: bool = False) -> int:
    """``lr-ci secrets --staged [--quiet]`` as click would run it (same request, same options, same run),
    without click; returns the exit code."""
    prepare_streams()
    try:
        from lr_ci._run import GlobalOptions, finish_check
        from lr_ci.checks.secrets.check import Request, body

        request = Request(staged=True)
        options = GlobalOptions(quiet=quiet)
        return finish_check(options, "secrets", lambda run: body(run, request, write_baseline=False))
    except KeyboardInterrupt:
        error_line_out("\nlr-ci: aborted")  # click writes the newline, then lr-ci the line
        return ABORTED_EXIT
    except BrokenPipeError:
        silence_stdout()
        return SIGPIPE_EXIT
    except Exception as exc:  # escaped the run (writing the report failed): a bug, as the CLI group says it
        from lr_ci._run import error_line, internal_error
        from lr_ci.report import INTERNAL_ERROR_EXIT

        error_line_out(error_line("secrets", internal_error(exc, verbose=False)))
        return INTERNAL_ERROR_EXIT


def error_line_out(line: str) -> None:
    """One line on stderr, unless the process started with stderr closed (``2>&-``: None), as click does."""
    stream = sys.stderr
    if stream is not None:
        stream.write(line + "\n")
        stream.flush()


def prepare_streams() -> None:
    """A terminal that cannot show a character gets an escape, never a crash."""
    import io

    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")


def silence_stdout() -> None:
    """Point stdout at /dev/null, so that Python's flush at exit does not fail on the closed pipe again."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def end_process(code: int) -> None:
    """End the process with ``code`` without tearing the interpreter down, when nothing is left to do.

    The run has written and closed its outputs; freeing every module, rule, compiled regex and keyword
    automaton one by one took 15 to 50 ms, a fifth of the staged hook's time, for nothing the user sees.
    What an exit does that matters still happens: the ``atexit`` functions run (logging's flush among
    them) and stdout and stderr are flushed. When a thread that is not a daemon still runs (Python waits
    for it), or flushing fails (a closed pipe: Python's exit reports it), the normal exit takes over.
    """
    import atexit
    import os
    import threading

    first = threading.main_thread()
    if any(t is not first and t.is_alive() and not t.daemon for t in threading.enumerate()):
        return
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):  # AttributeError: a stream closed at start is None
        return
    os._exit(code)


def run(argv: Sequence[str]) -> int:
    """The exit code of the command line ``argv``, as :func:`main` runs it without ending the process."""
    quiet = HOOK_COMMAND_LINES.get(tuple(argv))
    if quiet is not None:
        return staged_secrets(quiet)
    from lr_ci.cli import main as cli_main

    return cli_main(argv)
