"""No output of any format, log line or error message contains a secret or a credential."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from helpers.cli import Cli
from helpers.reports import CREDENTIAL, SECRET, sample_report
from lr_ci.output import FORMATS, OutputOptions, emit
from lr_ci.redact import Redactor, preview

pytestmark = pytest.mark.usefixtures("sample_check")


def forbidden(value: str) -> list[str]:
    """The value and the spellings it would take when escaped for JSON, XML or a URL."""
    return [value, json.dumps(value)[1:-1], html.escape(value), quote(value, safe="")]


def assert_clean(text: str, *values: str) -> None:
    for value in values:
        for form in forbidden(value):
            assert form not in text, f"{form!r} leaked"


def test_preview_shows_at_most_four_characters() -> None:
    assert preview("ghp_abcdefghijklmnopqrstuvwxyz0123456789") == "ghp_…(40 chars)"
    assert preview("hunter22") == "hu…(8 chars)"
    assert preview("abc") == "…(3 chars)"


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_is_redacted(
    fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    redactor = Redactor()
    redactor.add_credential(CREDENTIAL)
    out_file = tmp_path / f"report.{fmt}"
    emit(sample_report(cases=True), OutputOptions(format=fmt, outputs=((fmt, out_file),)), redactor)
    printed = capsys.readouterr().out
    credential_masks = [line for line in printed.splitlines() if line.startswith("::add-mask::")]
    assert credential_masks == []  # add-mask lines are printed when a credential is read, not here
    for text in (printed, out_file.read_text(), summary.read_text() if summary.exists() else ""):
        assert_clean(text, SECRET, CREDENTIAL)
    assert "ghp_…(44 chars)" in printed or fmt in ("junit",)


def test_secret_is_masked_even_when_a_check_forgets(capsys: pytest.CaptureFixture[str]) -> None:
    report = sample_report()
    report.findings[0].data["copied"] = "".join(list(SECRET))  # the same value, copied by the check
    report.metrics["oops"] = {"nested": [SECRET]}
    emit(report, OutputOptions(format="json"), Redactor())
    assert_clean(capsys.readouterr().out, SECRET)


def test_multiline_secret_is_masked_line_by_line(capsys: pytest.CaptureFixture[str]) -> None:
    key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END KEY-----"
    report = sample_report()
    report.findings[0].secret = key
    report.findings[0].message = "key body: MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"
    emit(report, OutputOptions(format="text"), Redactor())
    assert "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" not in capsys.readouterr().out


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_secret_with_an_indented_blank_line_leaves_the_report_readable(
    fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A PGP block under a YAML ``key: |`` has a blank line of indentation: only its text is masked.

    Masking the line as it is (four spaces) masked every indentation of the report: JSON that did not parse.
    """
    body = "lQOYBGVzZWNyZXQtYm9keS1mb3ItdGVzdHMtb25seQ"
    key = f"-----BEGIN PGP PRIVATE KEY BLOCK-----\n    \n    {body}\n    -----END PGP PRIVATE KEY BLOCK-----"
    report = sample_report()
    report.findings[0].secret = key
    emit(report, OutputOptions(format=fmt), Redactor())
    out = capsys.readouterr().out
    assert body not in out
    if fmt == "json":
        assert json.loads(out)["findings"]
    if fmt in ("text", "json"):
        assert "\n    " in out or "\n  " in out  # indentation survives


ENV = {"SAMPLE_TOKEN": "tok-Zx81-secret-value", "SAMPLE_SECRET": "AKIAZ7Q3EXAMPLEVALUE9"}


def write_config(repo: Path) -> None:
    (repo / "lr-ci.toml").write_text("[sample]\ntoken = '${SAMPLE_TOKEN}'\n")


@pytest.mark.parametrize("fmt", FORMATS)
def test_credentials_from_the_environment_are_masked_end_to_end(
    fmt: str, repo: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    write_config(repo)
    extra = tmp_path / "extra.json"
    result = cli(
        "sample",
        "--format",
        fmt,
        "--output",
        f"json:{extra}",
        "--finding",
        "high:a.py:3",
        "--secret-env",
        "SAMPLE_SECRET",
        "--case",
        "step:fail",
        "--verbose",
    )
    assert result.code == 1
    outputs = [result.err, extra.read_text()]
    if fmt == "github":
        masks = [line for line in result.out.splitlines() if line.startswith("::add-mask::")]
        assert masks == ["::add-mask::tok-Zx81-secret-value"]
        outputs += [result.out.replace(masks[0], ""), (tmp_path / "summary.md").read_text()]
    else:
        outputs.append(result.out)
    for text in outputs:
        assert_clean(text, *ENV.values())
    assert "token is ***" in extra.read_text()


def test_credential_is_masked_in_logs_and_internal_errors(
    repo: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAMPLE_TOKEN", ENV["SAMPLE_TOKEN"])
    write_config(repo)
    result = cli("sample", "--crash", "--verbose")
    assert result.code == 3
    assert "using token ***" in result.err
    assert "Traceback" in result.err and "RuntimeError: boom with ***" in result.err
    assert_clean(result.err + result.out, ENV["SAMPLE_TOKEN"])
    quiet = cli("sample", "--crash")
    assert quiet.err.strip() == (
        "lr-ci sample: error: internal error, a bug in lr-ci: RuntimeError: boom with *** "
        "(--verbose shows the traceback)"
    )


def test_add_mask_goes_to_stderr_when_actions_asks_for_json(
    repo: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("SAMPLE_TOKEN", ENV["SAMPLE_TOKEN"])
    write_config(repo)
    result = cli("sample", "--format", "json")
    assert result.code == 0
    assert json.loads(result.out)["check"] == "sample"
    assert result.err.splitlines() == [f"::add-mask::{ENV['SAMPLE_TOKEN']}"]


def test_short_values_are_masked_as_whole_words_only() -> None:
    redactor = Redactor()
    redactor.add_credential("ops")
    assert (
        redactor.scrub_text("signed in as ops; cookie opsapp_session")
        == "signed in as ***; cookie opsapp_session"
    )


ODD_CREDENTIAL = "it's a Secr3t pass!\"\\ é/&<>"
SPELLINGS = {
    "raw": ODD_CREDENTIAL,
    "repr": repr(ODD_CREDENTIAL),
    "ascii": ascii(ODD_CREDENTIAL),
    "json": json.dumps(ODD_CREDENTIAL),
    "json-unicode": json.dumps(ODD_CREDENTIAL, ensure_ascii=False),
    "json-of-repr": json.dumps(repr(ODD_CREDENTIAL)),
    "json-of-json": json.dumps(json.dumps(ODD_CREDENTIAL)),
    "repr-of-repr": repr(repr(ODD_CREDENTIAL)),
    "html": html.escape(ODD_CREDENTIAL),
    "html-of-json": html.escape(json.dumps(ODD_CREDENTIAL)),
    "html-hex": "".join(f"&#x{ord(c):x};" if not c.isalnum() else c for c in ODD_CREDENTIAL),
    "quote": quote(ODD_CREDENTIAL, safe=""),
    "quote-keeping-some": quote(ODD_CREDENTIAL, safe="'!/"),
    "quote-plus": quote_plus(ODD_CREDENTIAL),
    "quote-lower-hex": re.sub("%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(ODD_CREDENTIAL, safe="")),
}


@pytest.mark.parametrize("name", list(SPELLINGS))
def test_a_credential_is_masked_in_every_spelling(name: str) -> None:
    """A server or a report may encode a credential any of these ways before it reaches an output."""
    redactor = Redactor()
    redactor.add_credential(ODD_CREDENTIAL)
    scrubbed = redactor.scrub_text(f"before {SPELLINGS[name]} after")
    assert "Secr3t" not in scrubbed and "***" in scrubbed, scrubbed
    assert scrubbed.startswith("before ") and scrubbed.endswith(" after")


def test_masking_every_spelling_stays_linear() -> None:
    """The any-spelling pattern must not backtrack: 4 MiB of near-misses in well under a second."""
    import time

    redactor = Redactor()
    redactor.add_credential(ODD_CREDENTIAL)
    text = ("it's a Secr3t pass" + "\\" * 7 + "x ") * (4 * 1024 * 1024 // 28)
    started = time.perf_counter()
    assert redactor.scrub_text(text) == text
    assert time.perf_counter() - started < 2


def test_thousands_of_secrets_are_masked_in_one_pass() -> None:
    """A report can hold thousands of found secrets: each is masked, the longer of two overlapping whole."""
    redactor = Redactor()
    secrets = [f"Zx9{n:010d}qQ7w" for n in range(5000)]
    redactor.add_secrets(secrets)
    redactor.add_secret(secrets[7] + "TAIL")
    text = "\n".join(f"password = {s}" for s in secrets) + f"\nlonger = {secrets[7]}TAIL\n"
    scrubbed = redactor.scrub_text(text)
    assert not any(s in scrubbed for s in secrets)
    assert scrubbed.count("Zx90…(17 chars)") == 5000 and "Zx90…(21 chars)" in scrubbed


def test_undecodable_bytes_do_not_stop_masking() -> None:
    redactor = Redactor()
    redactor.add_secret("s3cr3t\udcffvalue")
    redactor.add_credential("ops")
    scrubbed = redactor.scrub_text("a \udcfe s3cr3t\udcffvalue by ops, not devops")
    assert scrubbed == "a \\xfe s3c…(12 chars) by ***, not devops"
