"""JUnit XML: one test suite per check, one test case per step (or per finding).

CI systems show JUnit failures per test case, so each failing finding or step is its own case: users see
exactly which one broke instead of one red file.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from lr_ci.output._text import finding_message, location_text
from lr_ci.report import Case, Report

# XML 1.0 forbids these characters even when escaped; findings can quote arbitrary file bytes.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    return _INVALID_XML.sub("\ufffd", text)


def _cases(report: Report) -> list[Case]:
    if report.cases:
        return report.cases
    cases = [
        Case(
            name=f"{f.rule} {location_text(f.location)}".strip(),
            status="fail" if report.is_failing(f) else "pass",
            message=f"{f.severity.value}: {finding_message(f)}",
        )
        for f in report.findings
    ]
    if report.error:
        cases.append(Case(name=report.check, status="error", message=report.error))
    if not cases:
        cases.append(Case(name=report.check, status="pass", duration_s=report.duration_s))
    return cases


def _suite(report: Report) -> ET.Element:
    cases = _cases(report)
    suite = ET.Element(
        "testsuite",
        name=f"lr-ci.{report.check}",
        tests=str(len(cases)),
        failures=str(sum(c.status == "fail" for c in cases)),
        errors=str(sum(c.status == "error" for c in cases)),
        skipped=str(sum(c.status == "skip" for c in cases)),
        time=f"{report.duration_s:.3f}",
        timestamp=report.started_at.removesuffix("Z"),
    )
    for case in cases:
        element = ET.SubElement(
            suite,
            "testcase",
            classname=f"lr-ci.{report.check}",
            name=_clean(case.name),
            time=f"{case.duration_s:.3f}",
        )
        tag = {"fail": "failure", "error": "error", "skip": "skipped"}.get(case.status)
        if tag:
            child = ET.SubElement(element, tag, message=_clean(case.message), type=case.status)
            child.text = _clean(case.details or case.message)
        elif case.message:
            ET.SubElement(element, "system-out").text = _clean(case.message)
    return suite


def render_junit(report: Report) -> str:
    suites = [_suite(r) for r in report.walk() if r is not report or not report.checks]
    root = ET.Element(
        "testsuites",
        name="lr-ci",
        tests=str(sum(int(s.get("tests", "0")) for s in suites)),
        failures=str(sum(int(s.get("failures", "0")) for s in suites)),
        errors=str(sum(int(s.get("errors", "0")) for s in suites)),
        time=f"{report.duration_s:.3f}",
    )
    root.extend(suites)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
