"""Markdown for PR comments and GitHub step summaries, kept under a size limit.

GitHub rejects a step summary over 1 MiB, so rows are added only while the document stays under the
budget; the rest are counted in a closing line that points at the full JSON report.
"""

from __future__ import annotations

from lr_ci.output._text import finding_message, location_text
from lr_ci.report import Report

STATUS_ICONS = {"pass": "✅", "fail": "❌", "error": "⚠️"}
DEFAULT_BUDGET = 1024 * 1024 - 4096  # the 1 MiB step-summary limit, less room for other steps' lines


def cell(text: str) -> str:
    """Text safe inside a table cell: no pipes, no newlines, no HTML."""
    flat = " ".join(text.split())
    return flat.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;").replace("`", "'")


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
                add(
                    f"| {f.severity.value} | `{cell(f.rule)}` | {cell(where)} | {cell(finding_message(f))} |",
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
