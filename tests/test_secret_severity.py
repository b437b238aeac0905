"""The severity policy (lr_ci.secret_rules.severity, docs/secrets.md "Severity"), table by table."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.cli import Cli
from lr_ci.report import Severity
from lr_ci.secret_rules.severity import (
    CHECKSUM_FAILED,
    CHECKSUM_VERIFIED,
    EXAMPLE_PATH,
    STRUCTURE_FAILED,
    STRUCTURE_VERIFIED,
    decide,
    is_example_path,
)
from lr_ci.secret_rules.verify import Verdict

C, H, M, L = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW
SRC = "src/app/settings.py"
TEST = "tests/test_settings.py"

# (rule severity, generic, verdict, verifier, path) -> (severity, note)
POLICY = [
    # A verified checksum is critical wherever it is; a verified structure outside test/docs paths.
    (H, False, Verdict.VERIFIED, "github-crc32", SRC, C, CHECKSUM_VERIFIED),
    (H, False, Verdict.VERIFIED, "github-crc32", TEST, C, CHECKSUM_VERIFIED),
    (H, False, Verdict.VERIFIED, "grafana-crc32", "docs/grafana.md", C, CHECKSUM_VERIFIED),
    (H, False, Verdict.VERIFIED, "jwt", SRC, C, STRUCTURE_VERIFIED),
    (L, False, Verdict.VERIFIED, "pypi-macaroon", SRC, C, STRUCTURE_VERIFIED),
    # ... but a structure proves the shape, not the issuer: test suites mint their own JWTs.
    (H, False, Verdict.VERIFIED, "jwt", TEST, L, EXAMPLE_PATH),
    (H, False, Verdict.VERIFIED, "jwt", "docs/auth.md", L, EXAMPLE_PATH),
    # One that does not verify is low, wherever it is.
    (C, False, Verdict.FAILED, "github-crc32", SRC, L, CHECKSUM_FAILED),
    (C, False, Verdict.FAILED, "atlassian-crc32", TEST, L, CHECKSUM_FAILED),
    (H, False, Verdict.FAILED, "discord-user-id", SRC, L, STRUCTURE_FAILED),
    # Anything not verified in a test, docs or example path is low.
    (C, False, Verdict.UNCHECKED, "github-crc32", TEST, L, EXAMPLE_PATH),
    (C, False, None, None, "docs/setup.md", L, EXAMPLE_PATH),
    (H, False, None, None, "README.rst", L, EXAMPLE_PATH),
    (H, True, None, None, "examples/app/config.yml", L, EXAMPLE_PATH),
    (M, True, None, None, "pkg/db_test.go", L, EXAMPLE_PATH),
    (L, False, None, None, TEST, L, None),  # already low: no note
    # Generic rules are medium at most; provider rules keep their severity.
    (H, True, None, None, SRC, M, None),
    (C, True, None, None, SRC, M, None),
    (M, True, None, None, SRC, M, None),
    (L, True, None, None, SRC, L, None),
    (C, False, None, None, SRC, C, None),
    (H, False, Verdict.UNCHECKED, "github-crc32", SRC, H, None),
    (L, False, None, None, SRC, L, None),  # a test-mode key, low in the rules
]


@pytest.mark.parametrize(("rule", "generic", "verdict", "verifier", "path", "severity", "note"), POLICY)
def test_policy(
    rule: Severity,
    generic: bool,
    verdict: Verdict | None,
    verifier: str | None,
    path: str,
    severity: Severity,
    note: str | None,
) -> None:
    assert decide(rule, generic=generic, verdict=verdict, path=path, verifier=verifier) == (severity, note)


def test_an_example_verdict_is_info_for_a_caller_that_keeps_it() -> None:
    """The engine drops documented examples before asking; a caller that does not gets info."""
    assert decide(H, generic=False, verdict=Verdict.EXAMPLE, path=SRC)[0] is Severity.INFO


EXAMPLE_PATHS = [
    "tests/test_app.py",
    "test/fixtures.json",
    "src/__tests__/api.js",
    "spec/models/user_spec.rb",
    "internal/testdata/config.yaml",
    "app/fixtures/users.yml",
    "docs/setup.html",
    "doc/index.txt",
    "examples/deploy/values.yaml",
    "samples/client.py",
    "Documentation/Guide.md",
    "README.md",
    "guide.rst",
    "manual.adoc",
    "README.txt",
    "CHANGELOG.txt",
    "server_test.go",
    "test_settings.py",
    "settings_test.py",
    "conftest.py",
    "src/api.test.ts",
    "src/api.spec.js",
    "src/main/java/AppTest.java",
    "UserServiceTests.cs",
    ".env.example",
    "config.sample.yml",
    "settings.template.json",
    "C:\\repo\\tests\\app.py",
]
REAL_PATHS = [
    "src/app/settings.py",
    "config/production.yml",
    ".env",
    ".npmrc",
    "notes.txt",  # a token pasted into notes is a leak, not a page
    "keys.txt",
    "requirements.txt",
    "deploy/old.env",
    "app/settings.py",
    "latest/config.json",  # "test" inside a word is no test folder
    "contest/app.py",
    "attestation.py",
    "testimonials/page.html",
    "src/testing_utils.py",
    "docsify.config.js",
]


@pytest.mark.parametrize("path", EXAMPLE_PATHS)
def test_example_paths(path: str) -> None:
    assert is_example_path(path)


@pytest.mark.parametrize("path", REAL_PATHS)
def test_real_paths(path: str) -> None:
    assert not is_example_path(path)


def test_a_scan_reports_the_policy_end_to_end(
    tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token in docs is low with the reason in its message; a test fixture of 150 random AWS key ids is
    low, and so is the count of those past the 100 listed: neither fails the default gate."""
    import random

    monkeypatch.chdir(tmp_path)
    pick = random.Random(8)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    keys = {"AKIA" + "".join(pick.choice(alphabet) for _ in range(16)) for _ in range(150)}
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "keys.txt").write_text("".join(f"aws_access_key_id = {key}\n" for key in keys))
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "setup.md").write_text("aws_access_key_id = AKIAZ7Q3WX5KD2LMNB4R\n")
    result = cli("secrets", ".", "--format", "json")
    findings = result.json()["findings"]
    assert result.code == 0, findings[:3]
    assert {f["severity"] for f in findings} == {"low"}
    docs = [f for f in findings if f["location"]["path"] == "docs/setup.md"]
    assert [f["message"] for f in docs] == ["AWS access key ID: " + EXAMPLE_PATH]
    more = [f for f in findings if f["rule"] == "secrets-more"]
    assert len(more) == 1 and more[0]["message"].startswith("50 more aws-access-key-id")
    (tmp_path / "app.env").write_text("aws_access_key_id = AKIAZ7Q3WX5KD2LMNB4R\n")
    assert cli("secrets", ".").code == 1  # the same key outside those paths: high, a failure


@pytest.mark.parametrize(
    "path",
    [
        "docs_src/security/tutorial.py",
        "pkg/unit_tests/test_data.json",
        "roles/user/molecule/default/converge.yml",
        "lib/dummyserver/certs/server.key",
        "botocore/data/iam/2010-05-08/examples-1.json",
        "pkg/tests.py",
        "pkg-1.0/PKG-INFO",
        "pkg-1.0.dist-info/METADATA",
    ],
)
def test_round_four_example_paths(path: str) -> None:
    assert is_example_path(path)


@pytest.mark.parametrize(
    "path", ["src/samplerate.py", "src/resampler/core.py", "config/metadata", "src/latest/app.py"]
)
def test_round_four_paths_that_are_not_examples(path: str) -> None:
    assert not is_example_path(path)


@pytest.mark.parametrize(
    ("path", "example"),
    [
        ("/tmp/pytest-of-ci/test_login_0/app.env", False),  # a test's temporary folder: not the file's
        ("/home/runner/work/e2e-portal/e2e-portal/app.env", False),
        ("C:/ci/unit_tests_run/app.env", False),
        ("/tmp/x/tests/app.env", True),  # a folder named exactly as one still counts
        ("/tmp/test_run_0/app.test.env", True),  # the file's own name still counts
        ("/srv/repo/docs/setup.md", True),
    ],
)
def test_in_an_absolute_path_only_exact_folder_names_count(path: str, example: bool) -> None:
    """A file outside the folder lr-ci runs in is named absolutely; the folders above its repository are
    a runner's or a test's, so the words inside their names (``test_login_0``) do not make it an example."""
    assert is_example_path(path) is example
