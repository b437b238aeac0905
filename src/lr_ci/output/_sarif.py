"""SARIF 2.1.0, the format GitHub code scanning and most security dashboards read.

One run per check report (an audit gives several). ``partialFingerprints`` carries lr-ci's own stable
fingerprint, so code scanning tracks an alert across edits that move its line.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from lr_ci import __version__
from lr_ci.report import Finding, Report, Severity

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://github.com/lr-ci/lr-ci"
_LEVELS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub reads this property to rank security alerts (critical > 9.0, high 7.0-8.9, ...).
_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}


def _result(finding: Finding, rule_index: int) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.rule,
        "ruleIndex": rule_index,
        "level": _LEVELS[finding.severity],
        "message": {"text": finding.message},
        "partialFingerprints": {"lrCiFingerprint/v1": finding.fingerprint},
    }
    location = finding.location
    if location.path:
        # A URI reference: spaces, '#', '?' and non-ASCII characters are percent-encoded.
        uri = quote(location.path, safe="/")
        physical: dict[str, Any] = {"artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"}}
        if location.line:
            physical["region"] = {"startLine": location.line}
            if location.column:
                physical["region"]["startColumn"] = location.column
        result["locations"] = [{"physicalLocation": physical}]
    properties = {k: v for k, v in finding.data.items() if isinstance(v, (str, int, float, bool))}
    if location.commit:
        properties["commit"] = location.commit
    if location.url:
        properties["url"] = location.url
    if properties:
        result["properties"] = properties
    return result


def _run(report: Report) -> dict[str, Any]:
    rule_ids: list[str] = []
    worst: dict[str, Severity] = {}
    for finding in report.findings:
        if finding.rule not in worst:
            rule_ids.append(finding.rule)
            worst[finding.rule] = finding.severity
        elif finding.severity.rank > worst[finding.rule].rank:
            worst[finding.rule] = finding.severity
    rules = [
        {
            "id": rule,
            "name": rule,
            "shortDescription": {"text": report.rule_description(rule)},
            "defaultConfiguration": {"level": _LEVELS[worst[rule]]},
            "properties": {"security-severity": _SECURITY_SEVERITY[worst[rule]], "tags": [report.check]},
        }
        for rule in rule_ids
    ]
    index = {rule: i for i, rule in enumerate(rule_ids)}
    invocation: dict[str, Any] = {"executionSuccessful": report.status != "error"}
    if report.error:
        invocation["toolExecutionNotifications"] = [{"level": "error", "message": {"text": report.error}}]
    return {
        "tool": {
            "driver": {
                "name": "lr-ci",
                "version": __version__,
                "informationUri": INFORMATION_URI,
                "rules": rules,
            }
        },
        "automationDetails": {"id": f"lr-ci/{report.check}/"},
        "invocations": [invocation],
        "results": [_result(f, index[f.rule]) for f in report.findings],
        "properties": {"check": report.check, "status": report.status},
    }


def render_sarif(report: Report) -> str:
    runs = [_run(r) for r in report.walk() if r is not report or not report.checks]
    document = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": runs}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
