"""The report model every check returns: findings, metrics and a status that agrees with the exit code.

``Report.to_dict()`` is the contract's JSON report (schema ``lr-ci.report/1``). Two optional extensions:
``cases`` (one entry per test step, for checks such as smoke whose passing steps are worth listing) and
``checks`` (the reports an audit ran).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Literal

from lr_ci import __version__
from lr_ci.redact import preview

if TYPE_CHECKING:
    from lr_ci.redact import Redactor

SCHEMA_ID = "lr-ci.report/1"
Status = Literal["pass", "fail", "error"]
CaseStatus = Literal["pass", "fail", "skip", "error"]
EXIT_CODES: dict[Status, int] = {"pass": 0, "fail": 1, "error": 2}
INTERNAL_ERROR_EXIT = 3
"""The exit code of a bug in lr-ci (the report's ``status`` is ``error`` for it too, as for exit 2)."""


class Severity(str, Enum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse: info 0 … critical 4."""
        return _SEVERITY_ORDER.index(self)

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank


_SEVERITY_ORDER = (Severity.INFO, Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL)


def sha256_hex(text: str) -> str:
    import hashlib  # only when a finding is made: a clean staged commit never pays for it

    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def fingerprint(rule: str, path: str | None, identity: str) -> str:
    """A finding's stable identity: rule, path and what was found, never the line (it moves on edits)."""
    return sha256_hex("\x00".join((rule, path or "", identity)))


@dataclass(frozen=True)
class Location:
    path: str | None = None
    line: int | None = None
    column: int | None = None
    commit: str | None = None
    url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Finding:
    """One problem a check found.

    ``secret`` holds a found secret value so that the output layer can redact it everywhere; it is never
    serialized. The JSON report carries only its preview and SHA-256.
    """

    rule: str
    severity: Severity
    message: str
    location: Location = field(default_factory=Location)
    data: dict[str, Any] = field(default_factory=dict)
    secret: str | None = field(default=None, repr=False)
    fingerprint: str = ""

    def __post_init__(self) -> None:
        if not self.fingerprint:
            identity = sha256_hex(self.secret) if self.secret is not None else self.message
            self.fingerprint = fingerprint(self.rule, self.location.path, identity)

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.data)
        if self.secret is not None:
            data["secret_preview"] = preview(self.secret)
            data["secret_sha256"] = sha256_hex(self.secret)
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "message": self.message,
            "location": self.location.to_dict(),
            "fingerprint": self.fingerprint,
            "data": data,
        }


@dataclass
class Case:
    """One test step (a smoke step, a latency route): JUnit gets one test case for each."""

    name: str
    status: CaseStatus
    duration_s: float = 0.0
    message: str = ""
    details: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Table:
    """A table for people (markdown in PR comments and step summaries): a bundle's sizes, p95 per route."""

    title: str
    columns: list[str]
    rows: list[list[str]]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Report:
    """What one check run produced. ``status`` is derived, so it cannot disagree with the findings.

    A finding fails the check when its severity is at least ``fail_at`` (``None``: findings never fail it,
    as in a warn-only mode); a case that failed or errored fails it too.
    """

    check: str
    findings: list[Finding] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    fail_at: Severity | None = Severity.LOW
    error: str | None = None
    cases: list[Case] = field(default_factory=list)
    checks: list[Report] = field(default_factory=list)
    rules: dict[str, str] = field(default_factory=dict)
    tables: list[Table] = field(default_factory=list)
    started_at: str = ""
    duration_s: float = 0.0
    error_exit: int = EXIT_CODES["error"]
    """The exit code when ``error`` is set: 2 (the check could not run as asked) or
    :data:`INTERNAL_ERROR_EXIT` (a bug). Not in the JSON report, whose ``status`` is ``error`` for both."""

    @property
    def status(self) -> Status:
        if self.error is not None or any(child.status == "error" for child in self.checks):
            return "error"
        if self.failing_findings() or any(c.status in ("fail", "error") for c in self.cases):
            return "fail"
        if any(child.status == "fail" for child in self.checks):
            return "fail"
        return "pass"

    @property
    def exit_code(self) -> int:
        if self.status != "error":
            return EXIT_CODES[self.status]
        if self.error is not None:
            return self.error_exit
        return max(child.exit_code for child in self.checks if child.status == "error")

    def is_failing(self, finding: Finding) -> bool:
        return self.fail_at is not None and finding.severity.at_least(self.fail_at)

    def failing_findings(self) -> list[Finding]:
        return [f for f in self.findings if self.is_failing(f)]

    def walk(self) -> Iterator[Report]:
        """This report, then every report nested under it (an audit's checks), depth first."""
        yield self
        for child in self.checks:
            yield from child.walk()

    def rule_description(self, rule: str) -> str:
        return self.rules.get(rule, rule)

    def secrets(self) -> Iterable[str]:
        for report in self.walk():
            for finding in report.findings:
                if finding.secret is not None:
                    yield finding.secret

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schema": SCHEMA_ID,
            "tool": {"name": "lr-ci", "version": __version__},
            "check": self.check,
            "status": self.status,
            "started_at": self.started_at,
            "duration_s": round(self.duration_s, 3),
            "findings": [f.to_dict() for f in self.findings],
            "metrics": self.metrics,
            "error": self.error,
        }
        if self.cases:
            out["cases"] = [c.to_dict() for c in self.cases]
        if self.checks:
            out["checks"] = [child.to_dict() for child in self.checks]
        if self.tables:
            out["tables"] = [table.to_dict() for table in self.tables]
        return out

    def redacted(self, redactor: Redactor) -> Report:
        """A copy safe to write anywhere: secrets and credentials replaced, secret values dropped.

        Secret previews and hashes are computed before the values are dropped, and kept in ``data``.
        """
        redactor.add_secrets(self.secrets())
        return self._redacted(redactor)

    def _redacted(self, redactor: Redactor) -> Report:
        def text(value: str) -> str:
            return redactor.scrub_text(value)

        def mapping(value: dict[str, Any]) -> dict[str, Any]:
            scrubbed = redactor.scrub(value)
            assert isinstance(scrubbed, dict)
            return scrubbed

        findings = [
            Finding(
                rule=f.rule,
                severity=f.severity,
                message=text(f.message),
                location=Location(**mapping(f.location.to_dict())),
                data=mapping(f.to_dict()["data"]),
                fingerprint=f.fingerprint,
            )
            for f in self.findings
        ]
        cases = [
            dataclasses.replace(c, name=text(c.name), message=text(c.message), details=text(c.details))
            for c in self.cases
        ]
        return dataclasses.replace(
            self,
            findings=findings,
            metrics=mapping(self.metrics),
            error=None if self.error is None else text(self.error),
            cases=cases,
            checks=[child._redacted(redactor) for child in self.checks],
            rules={k: text(v) for k, v in self.rules.items()},
            tables=[
                Table(text(t.title), [text(c) for c in t.columns], [[text(v) for v in row] for row in t.rows])
                for t in self.tables
            ],
        )
