"""GitHub Actions workflow commands: annotations on stdout, a markdown step summary, ``::add-mask::``.

GitHub shows at most 10 error, 10 warning and 10 notice annotations per step and drops the rest
silently, so lr-ci emits at most that many of each and counts the others in the summary. Every value is
escaped as the runner expects, and the plain-text part of the log runs inside ``::stop-commands::`` so
that text quoted from a scanned file can never be taken for a workflow command.
"""

from __future__ import annotations

import secrets

from lr_ci.output._markdown import render_markdown
from lr_ci.output._text import finding_message, printable, render_text
from lr_ci.report import Finding, Report, Severity

ANNOTATIONS_PER_LEVEL = 10


def escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def add_mask_lines(value: str) -> list[str]:
    """``::add-mask::`` commands for a credential: one per line, since GitHub masks line by line."""
    return [f"::add-mask::{escape_data(line)}" for line in value.splitlines() or [value] if line.strip()]


def _level(report: Report, finding: Finding) -> str:
    if report.is_failing(finding):
        return "error"
    return "notice" if finding.severity is Severity.INFO else "warning"


def _annotation(level: str, report: Report, finding: Finding) -> str:
    properties = [f"title={escape_property(f'lr-ci {report.check}: {finding.rule}')}"]
    location = finding.location
    if location.path:
        properties.insert(0, f"file={escape_property(printable(location.path))}")
        if location.line:
            properties.insert(1, f"line={location.line}")
            if location.column:
                properties.insert(2, f"col={location.column}")
    return f"::{level} {','.join(properties)}::{escape_data(finding_message(finding))}"


def render_github(report: Report) -> tuple[str, str]:
    """The text for stdout (annotations, then the plain report) and the markdown for the step summary."""
    lines: list[str] = []
    emitted = {"error": 0, "warning": 0, "notice": 0}
    dropped = dict(emitted)
    for current in report.walk():
        if current.error:
            lines.append(f"::error title=lr-ci {current.check}::{escape_data(current.error)}")
        for finding in current.findings:
            level = _level(current, finding)
            if emitted[level] < ANNOTATIONS_PER_LEVEL:
                emitted[level] += 1
                lines.append(_annotation(level, current, finding))
            else:
                dropped[level] += 1
    token = secrets.token_hex(16)
    lines += [f"::stop-commands::{token}", render_text(report).rstrip("\n"), f"::{token}::"]
    summary = render_markdown(report)
    if any(dropped.values()):
        counts = ", ".join(f"{n} {level}s" for level, n in dropped.items() if n)
        summary += (
            f"\n_GitHub shows at most {ANNOTATIONS_PER_LEVEL} annotations of each level per step; "
            f"{counts} more are listed above but not annotated._\n"
        )
    return "\n".join(lines) + "\n", summary
