"""Reports used by the output and redaction tests: every field filled, awkward characters included."""

from __future__ import annotations

from lr_ci.report import Case, Finding, Location, Report, Severity

SECRET = 'ghp_R2d2"C3po<&>\\Zq8Lk0vXw9yT1uB5nM7aS4dF6gH'
CREDENTIAL = "hunter2-Passw0rd!%,:"


def sample_report(*, findings: int = 3, cases: bool = False) -> Report:
    report = Report(
        check="secrets",
        fail_at=Severity.HIGH,
        rules={"github-pat": "GitHub personal access token", "weak": "A weak thing"},
        metrics={"bytes_scanned": 1234, "login": f"user:{CREDENTIAL}"},
        started_at="2026-11-29T10:00:00Z",
        duration_s=0.42,
    )
    report.findings.append(
        Finding(
            rule="github-pat",
            severity=Severity.CRITICAL,
            message=f"GitHub token {SECRET} in <settings> & more",
            location=Location(path="src/app/settings.py", line=12, column=9, commit="a" * 40),
            data={"line_text": f"TOKEN = '{SECRET}'"},
            secret=SECRET,
        )
    )
    for i in range(findings - 1):
        report.findings.append(
            Finding(
                rule="weak",
                severity=[Severity.MEDIUM, Severity.LOW, Severity.INFO][i % 3],
                message=f"weak thing {i} | with pipe\nand newline, password {CREDENTIAL}",
                location=Location(path=f"docs/file {i}.md", line=i + 1),
            )
        )
    if cases:
        report.cases += [
            Case(name="login: GET /login", status="pass", duration_s=0.01),
            Case(
                name="login: POST /login",
                status="fail",
                duration_s=0.02,
                message="expected 302, got 403",
                details=f"body: password={CREDENTIAL}",
            ),
            Case(name="cleanup", status="skip"),
        ]
    return report
