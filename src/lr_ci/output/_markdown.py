"""Markdown for PR comments and GitHub step summaries, kept under a size limit.

GitHub rejects a step summary over 1 MiB, so rows are added only while the document stays under the
budget; the rest are counted in a closing line that points at the full JSON report.
"""

from __future__ import annotations

from lr_ci.output._text import finding_message, location_text
from lr_ci.report import Report

STATUS_ICONS = {"pass": "✅", "fail": "❌", "error": "⚠️"}
DEFAULT_BUDGET = 1024 * 1024 - 4096  # the 1 MiB step-summary limit, less room for other steps' lines


_MARKDOWN_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "|": "\\|", "`": "'"})


def cell(text: str) -> str:
    """Text safe inside a table cell, shown as written: no pipes, no newlines, no HTML or entity, and no
    link or image (one loaded from anywhere by every reader of the pull request). A link or image needs
    ``](`` (this document defines no references, and no definition can start a line in it), so its
    ``(`` becomes an entity; ``\\`` cannot escape an entity, so no backslash undoes that. Control
    characters are escaped as in text output; other markdown can only style text and stays as written.
    """
    from lr_ci.output._text import printable

    flat = printable(" ".join(text.split()))
    return flat.translate(_MARKDOWN_ESCAPES).replace("](", "]&#40;")


def code_cell(text: str) -> str:
    """Text inside a code span in a table cell: markdown is not read there, only ``|`` and the backtick
    that would end the span need care."""
    from lr_ci.output._text import printable

    return printable(" ".join(text.split())).replace("|", "\\|").replace("`", "'")


def render_markdown(report: Report, *, budget: int = DEFAULT_BUDGET) -> str:
    out: list[str] = []
    used = 0
    omitted = 0

    def add(line: str, *, optional: bool = False) -> bool:
        nonlocal used, omitted
        size = len(line.encode("utf-8")) + 1
        if optional and used + size > budget - 512:
            omitted += 1
            return False
        out.append(line)
        used += size
        return True

    for current in report.walk():
        icon = STATUS_ICONS[current.status]
        add(f"### {icon} lr-ci {current.check}: {current.status}")
        add("")
        if current.error:
            add(f"**Error:** {cell(current.error)}")
            add("")
        if current.findings:
            failing = len(current.failing_findings())
            add(f"{len(current.findings)} findings, {failing} failing the check.")
            add("")
            add("| Severity | Rule | Location | Message |")
            add("| --- | --- | --- | --- |")
            for f in current.findings:
                where = location_text(f.location)
                rule = code_cell(f.rule)
                add(
                    f"| {f.severity.value} | `{rule}` | {cell(where)} | {cell(finding_message(f))} |",
                    optional=True,
                )
            add("")
        for table in current.tables:
            add(f"**{cell(table.title)}**")
            add("")
            add("| " + " | ".join(cell(c) for c in table.columns) + " |")
            add("| " + " | ".join("---" for _ in table.columns) + " |")
            for values in table.rows:
                add("| " + " | ".join(cell(v) for v in values) + " |", optional=True)
            add("")
        if current.cases:
            add("| Step | Result | Time | Detail |")
            add("| --- | --- | --- | --- |")
            for c in current.cases:
                row = f"| {cell(c.name)} | {c.status} | {c.duration_s:.3f} s | {cell(c.message)} |"
                add(row, optional=True)
            add("")
        if current.metrics:
            add("<details><summary>Metrics</summary>")
            add("")
            add("| Metric | Value |")
            add("| --- | --- |")
            for key, value in current.metrics.items():
                add(f"| {cell(str(key))} | {cell(str(value))} |", optional=True)
            add("")
            add("</details>")
            add("")
    if omitted:
        out.append(f"_{omitted} more rows are not shown (size limit); the JSON report has them all._")
    return "\n".join(out) + "\n"
