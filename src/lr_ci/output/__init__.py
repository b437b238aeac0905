"""The one output layer: every format of the contract, and redaction applied on the way out.

Checks return a :class:`~lr_ci.report.Report`; they never print it. :func:`emit` redacts the report once,
renders it in the requested format on stdout and in every ``--output FMT:PATH`` file, and scrubs the
rendered text again, so no format can leak a secret or a credential.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from lr_ci.errors import LrCiError
from lr_ci.redact import Redactor
from lr_ci.report import Report

FORMATS = ("text", "json", "sarif", "junit", "markdown", "github")


@dataclass(frozen=True)
class OutputOptions:
    format: str = "text"
    outputs: tuple[tuple[str, Path], ...] = ()
    color: bool = False
    quiet: bool = False
    verbose: bool = False


def parse_output_spec(spec: str) -> tuple[str, Path]:
    """``FMT:PATH`` from ``--output`` -> (format, path)."""
    fmt, sep, path = spec.partition(":")
    if not sep or not path:
        raise LrCiError(f"--output {spec!r}: expected FMT:PATH, e.g. sarif:secrets.sarif")
    if fmt not in FORMATS:
        raise LrCiError(f"--output {spec!r}: unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    return fmt, Path(path)


def render(
    report: Report, fmt: str, *, color: bool = False, verbose: bool = False, quiet: bool = False
) -> str:
    """``report`` (already redacted) in one format. For ``github``, the stdout part only."""
    if fmt == "json":
        return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"
    if fmt == "sarif":
        from lr_ci.output._sarif import render_sarif

        return render_sarif(report)
    if fmt == "junit":
        from lr_ci.output._junit import render_junit

        return render_junit(report)
    if fmt == "markdown":
        from lr_ci.output._markdown import render_markdown

        return render_markdown(report)
    if fmt == "github":
        from lr_ci.output._github import render_github

        return render_github(report)[0]
    from lr_ci.output._text import render_text

    return render_text(report, color=color, verbose=verbose, quiet=quiet)


def emit(report: Report, options: OutputOptions, redactor: Redactor, stdout: TextIO | None = None) -> None:
    """Write ``report`` everywhere it was asked for, redacted. Files are written before stdout."""
    safe = report.redacted(redactor)
    for fmt, path in options.outputs:
        _write_file(path, redactor.scrub_text(render(safe, fmt)))
    if options.format == "github":
        from lr_ci.output._github import render_github

        text, summary = render_github(safe)
        _append_step_summary(redactor.scrub_text(summary))
    else:
        text = render(safe, options.format, color=options.color, verbose=options.verbose, quiet=options.quiet)
    out = stdout or sys.stdout
    out.write(redactor.scrub_text(text))
    out.flush()


def _write_file(path: Path, text: str) -> None:
    write_file(path, text, "--output")


def write_file(path: Path, text: str, option: str) -> None:
    """Write a file lr-ci was asked to write (``--output``, ``--save-baseline``); anything that stops
    it is exit 2 naming ``option`` and the path, never a hang.

    Opened non-blocking, so a FIFO that nobody reads is an error at once ("No such device or address")
    instead of a run that never ends; once open (a regular file, or a pipe with a reader such as
    ``/dev/stdout``), it writes blocking as usual. A symbolic link is not followed (outside ``/dev`` and
    ``/proc``, whose ``stdout`` and ``fd/N`` are links by nature): a checked-out repository holding
    ``report.sarif -> ~/.bashrc`` must not choose which file of the runner a report overwrites.
    """
    data = text.encode("utf-8", "backslashreplace")  # a stray surrogate is escaped, never a crash
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not str(path.absolute()).startswith(_STREAM_FOLDERS):
        flags |= os.O_NOFOLLOW
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, flags, 0o666)
    except OSError as exc:
        raise LrCiError(f"{option} {path}: cannot write: {_why(exc)}") from None
    try:
        os.set_blocking(descriptor, True)
        with os.fdopen(descriptor, "wb", closefd=False) as handle:
            handle.write(data)
    except OSError as exc:
        raise LrCiError(f"{option} {path}: cannot write: {_why(exc)}") from None
    finally:
        os.close(descriptor)


_STREAM_FOLDERS = ("/dev/", "/proc/")


def _why(exc: OSError) -> str:
    import errno

    if exc.errno == errno.ENXIO:
        return "it is a FIFO that nobody reads"
    if exc.errno == errno.ELOOP:
        return "it is a symbolic link (lr-ci does not write through one)"
    return exc.strerror or str(exc)


def _append_step_summary(summary: str) -> None:
    """Append to ``$GITHUB_STEP_SUMMARY`` when GitHub set it (outside Actions there is nothing to do)."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(target, flags, 0o666)  # non-blocking: a FIFO nobody reads is an error
    except OSError as exc:
        raise LrCiError(f"GITHUB_STEP_SUMMARY {target}: cannot write: {_why(exc)}") from None
    try:
        os.set_blocking(descriptor, True)
        with os.fdopen(descriptor, "wb", closefd=False) as handle:
            handle.write(summary.encode("utf-8", "backslashreplace"))
    except OSError as exc:
        raise LrCiError(f"GITHUB_STEP_SUMMARY {target}: cannot write: {_why(exc)}") from None
    finally:
        os.close(descriptor)
