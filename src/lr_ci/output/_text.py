"""Plain text for people at a terminal: a status line, then one line per finding.

Every string that can come from outside (a path, a message quoting a file, a step's name, a table cell,
a metric) goes through :func:`printable`: one finding is always one line, and nothing drives the terminal.
"""

from __future__ import annotations

from lr_ci.report import Finding, Location, Report, Severity, Table

_COLORS = {"pass": "32", "fail": "31", "error": "35", "critical": "31;1", "high": "31", "medium": "33"}


_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """``text`` with every character a terminal or a log would act on escaped: control characters
    (a newline, ESC, NUL...), bidirectional overrides and other invisible formatting, line separators, and
    the undecodable bytes of a file name (kept as surrogates) as ``\\xNN``/``\\uNNNN``. The one place
    every path and author printed as text, markdown or GitHub annotations goes through."""
    if text.isprintable():
        return text
    out = []
    for char in text:
        code = ord(char)
        if char.isprintable():
            out.append(char)
        elif char in _NAMED_ESCAPES:
            out.append(_NAMED_ESCAPES[char])
        elif 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
            out.append(f"\\x{code - 0xDC00:02x}")
        elif code < 0x100:
            out.append(f"\\x{code:02x}")
        else:
            out.append(f"\\u{code:04x}")
    return "".join(out)


def location_text(location: Location) -> str:
    parts = [printable(location.path or location.url or "")]
    if location.path and location.line:
        parts.append(str(location.line))
        if location.column:
            parts.append(str(location.column))
    text = ":".join(p for p in parts if p)
    if location.commit:
        text += f" @{location.commit[:12]}"
    return text


def finding_message(finding: Finding) -> str:
    """The message as people read it: with the secret's redacted preview when there is one."""
    shown = finding.data.get("secret_preview")
    return f"{finding.message} [{shown}]" if shown else finding.message


def _paint(text: str, key: str, color: bool) -> str:
    code = _COLORS.get(key)
    return f"\x1b[{code}m{text}\x1b[0m" if color and code else text


def _finding_line(finding: Finding, color: bool) -> str:
    severity = _paint(f"{finding.severity.value:<8}", finding.severity.value, color)
    where = location_text(finding.location)
    message = printable(finding_message(finding))
    return f"  {severity} {printable(finding.rule):<24} {where + '  ' if where else ''}{message}"


def _table_lines(table: Table) -> list[str]:
    cells = [[printable(str(value)) for value in row] for row in [table.columns, *table.rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(table.columns))]
    widths[-1] = 0  # the last column is not padded
    return [
        "    " + "  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    ]


def render_text(report: Report, *, color: bool = False, verbose: bool = False, quiet: bool = False) -> str:
    lines: list[str] = []
    for index, current in enumerate(report.walk()):
        lines += _report_lines(current, color=color, verbose=verbose, quiet=quiet, nested=index > 0)
    return "\n".join(lines) + ("\n" if lines else "")


def _report_lines(report: Report, *, color: bool, verbose: bool, quiet: bool, nested: bool) -> list[str]:
    if quiet and report.status == "pass":
        return []
    shown = [
        f
        for f in report.findings
        if (verbose or f.severity is not Severity.INFO) and (not quiet or report.is_failing(f))
    ]
    counted = f"{len(report.findings)} finding{'s' if len(report.findings) != 1 else ''}"
    status = _paint(report.status.upper(), report.status, color)
    head = f"{'  ' if nested else ''}lr-ci {report.check}: {status} ({counted}, {report.duration_s:.2f} s)"
    lines = [head]
    if report.error:
        lines.append(f"  error: {printable(report.error)}")
    lines += [_finding_line(f, color) for f in shown]
    hidden = len(report.findings) - len(shown)
    if hidden and not quiet:
        lines.append(f"  ({hidden} info finding{'s' if hidden != 1 else ''} hidden; --verbose shows them)")
    for case in report.cases:
        if case.status != "pass" or verbose:
            detail = f": {printable(case.message)}" if case.message else ""
            lines.append(f"  [{_paint(case.status, case.status, color)}] {printable(case.name)}{detail}")
    for table in report.tables:
        lines += [f"  {printable(table.title)}:", *_table_lines(table)]
    if verbose and report.metrics:
        lines += [f"  {printable(str(key))} = {printable(str(val))}" for key, val in report.metrics.items()]
    return lines
