"""The infrastructure provider rules (rules/20-23): the issue-17 variants they exist for, read as a spec.

tests/test_secret_rules.py walks every rule's own true and false examples; this file states what those
examples alone do not: the checksums the verifiers will check really hold in the examples, each GitLab token
type is found by its own rule, npm tokens in ``.npmrc`` are, Azure client secrets that start with ``~``, ``.`` or
``-`` are found, and the severity policy (a provider prefix is critical, a provider name in the key is high), and no hit at all
on real source code. (Keywords, placeholders of each rule's own shape and anchored starts are held for every
rule in tests/test_secret_rules.py.)
"""

from __future__ import annotations

import base64
import sys
import sysconfig
import zlib
from pathlib import Path
from typing import Any

import pytest

from lr_ci.secret_rules.engine import Rule, default_rules, scan

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

RULES_DIR = Path(__file__).parent.parent / "src" / "lr_ci" / "secret_rules" / "rules"
INFRA_FILES = ("20-infrastructure.toml", "21-source-ci.toml", "22-registries.toml", "23-data-identity.toml")
TABLES: list[dict[str, Any]] = [
    table for name in INFRA_FILES for table in tomllib.loads((RULES_DIR / name).read_text())["rules"]
]
IDS = {table["id"] for table in TABLES}
RULES = {rule.id: rule for rule in default_rules().rules if rule.id in IDS}
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _found(text: str, path: str = "settings.cfg") -> list[tuple[str, str]]:
    return [(hit.rule.id, hit.secret) for hit in scan(text.encode(), path)]


def _secrets(rule: Rule) -> list[str]:
    """The secret of each true example, as the rule's own regex captures it."""
    secrets = []
    for example in rule.true_examples:
        match = rule.regex.search(example)
        assert match is not None, (rule.id, example)
        secrets.append(next(match.group(g) for g in ("secret", "secret2") if match.group(g)))
    return secrets


def _base62(number: int) -> str:
    digits = ""
    while number:
        number, digit = divmod(number, 62)
        digits = B62[digit] + digits
    return digits.rjust(6, "0")


def test_every_infra_file_is_read_and_the_families_are_broad() -> None:
    assert len(RULES) == len(TABLES) >= 60


@pytest.mark.parametrize("rule_id", ["github-token", "npm-token"])
def test_github_and_npm_examples_carry_a_valid_crc32(rule_id: str) -> None:
    """CRC32 of the 30 body characters, in base62, is the last six (the verifier's github-crc32)."""
    assert next(t for t in TABLES if t["id"] == rule_id)["verify"] == "github-crc32"
    for token in _secrets(RULES[rule_id]):
        body, check = token[4:34], token[34:]
        assert len(token) == 40 and _base62(zlib.crc32(body.encode())) == check, token[:8]


def test_bitbucket_examples_carry_a_valid_atlassian_crc32() -> None:
    for rule_id in ("bitbucket-app-password",):
        assert next(t for t in TABLES if t["id"] == rule_id)["verify"] == "atlassian-crc32"
        for token in _secrets(RULES[rule_id]):
            assert format(zlib.crc32(token[:-8].encode()), "08X") == token[-8:], token[:8]


@pytest.mark.parametrize(
    ("rule_id", "location"), [("pypi-token", b"pypi.org"), ("testpypi-token", b"test.pypi.org")]
)
def test_pypi_examples_are_macaroons_naming_their_index(rule_id: str, location: bytes) -> None:
    assert next(t for t in TABLES if t["id"] == rule_id)["verify"] == "pypi-macaroon"
    for token in _secrets(RULES[rule_id]):
        raw = base64.urlsafe_b64decode(token.removeprefix("pypi-") + "==")
        assert raw[0] == 2 and raw[1] == 1 and raw[3 : 3 + raw[2]] == location
        assert raw[-34:-32] == b"\x06\x20"  # the 32-byte signature field closes the macaroon


def test_testpypi_tokens_are_not_left_to_the_pypi_rule() -> None:
    token = _secrets(RULES["testpypi-token"])[0]
    assert _found(f"password = {token}") == [("testpypi-token", token)]


@pytest.mark.parametrize("first", ["~", ".", "-"])
def test_azure_client_secrets_starting_with_a_non_word_character_are_found(first: str) -> None:
    secret = f"{first}aB8Q~Zq3Wm8Kx4Vn7Rt5Jp2Ls9Hd6Vq8rT2mWx"
    for line in (f"AZURE_CLIENT_SECRET={secret}", f'"clientSecret": "{secret}"', f"secret: '{secret}'"):
        assert ("azure-client-secret", secret) in _found(line), line


def test_every_gitlab_token_type_is_found_by_its_own_rule() -> None:
    body20, body25 = "Zq3Wm8Kx4Vn7Rt5Jp2Ls", "Zq3Wm8Kx4Vn7Rt5Jp2Ls9Hd6V"
    cases = {
        f"glpat-{body20}": "gitlab-token",
        f"glpat-{body25}Kx4Vn7Rt5Jp2L.01.0h2k8vmq1": "gitlab-token",
        f"glptt-{'3f9a1c7e5b2d8f4a6c0e9b1d7f3a5c8e2b4d6f0a'}": "gitlab-pipeline-trigger-token",
        f"gldt-{body20}": "gitlab-deploy-token",
        f"glrt-{body20}": "gitlab-runner-token",
        f"glrt-t2_{body20}": "gitlab-runner-token",
        f"GR1348941{body20}": "gitlab-runner-registration-token",
        f"glcbt-64_{body20}": "gitlab-ci-job-token",
        f"glft-{body20}": "gitlab-feed-token",
        f"glimt-{body25}": "gitlab-incoming-mail-token",
        f"glagent-{body25}{body25}": "gitlab-agent-token",
        f"gloas-{body20}{body20}{body20}Hd6V": "gitlab-oauth-app-secret",
        f"glffct-{body20}": "gitlab-feature-flag-client-token",
        f"glsoat-{body20}": "gitlab-scim-token",
    }
    for token, rule_id in cases.items():
        assert _found(f"TOKEN={token}") == [(rule_id, token)], token[:10]
    assert _found("Cookie: _gitlab_session=3kq9z2m8x4v7r5t1j6p0l2s9h4d8w3n5") == [
        ("gitlab-session-cookie", "3kq9z2m8x4v7r5t1j6p0l2s9h4d8w3n5")
    ]


def test_npm_tokens_in_npmrc_are_found_by_the_npm_rules_and_references_are_not() -> None:
    """``npm_`` and legacy UUID tokens; the other ``.npmrc`` forms are 81-markup.toml's (decoded base64)."""
    npmrc = (
        "//registry.npmjs.org/:_authToken=5c1e7a92-3f4b-4d8e-9a06-b2c7d1e8f350\n"
        "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n"
        "//registry.npmjs.org/:_authToken=xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx\n"
    )
    assert _found(npmrc, ".npmrc") == [("npm-legacy-token", "5c1e7a92-3f4b-4d8e-9a06-b2c7d1e8f350")]


def test_an_npm_token_in_npmrc_is_reported_as_the_npm_token() -> None:
    token = _secrets(RULES["npm-token"])[0]
    assert _found(f"//registry.npmjs.org/:_authToken={token}", ".npmrc") == [("npm-token", token)]


def test_keyword_gated_values_are_found_in_the_syntaxes_users_write() -> None:
    uuid = "5c1e7a92-3f4b-4d8e-9a06-b2c7d1e8f350"
    lines = [
        f"SNYK_TOKEN={uuid}",
        f'<add key="SnykToken" value="{uuid}" />',
        f"<snykToken>{uuid}</snykToken>",
        f"SNYK_TOKEN ?= {uuid}",
        f'pub const SNYK_TOKEN: &str = "{uuid}";',
        f"const snykToken = process.env.SNYK_TOKEN || '{uuid}';",
        f'token = os.environ.get("SNYK_TOKEN", "{uuid}")',
        f'"os.environ[\\"SNYK_TOKEN\\"] = \\"{uuid}\\"\\n",',
        f'env:\n  - name: SNYK_TOKEN\n    value: "{uuid}"',
    ]
    for line in lines:
        assert ("snyk-token", uuid) in _found(line), line
    assert _found(f"snyk_org_id = {uuid}") == []


def test_algolia_search_only_keys_are_not_reported_as_admin_keys() -> None:
    """Search-only keys are public by design; the rule wants admin, write, secret or api in the key."""
    key = "3f9a1c7e5b2d8f4a6c0e9b1d7f3a5c8e"
    assert ("algolia-admin-key", key) in _found(f"ALGOLIA_ADMIN_KEY={key}")
    assert "algolia-admin-key" not in [rule for rule, _ in _found(f"ALGOLIA_SEARCH_KEY={key}")]


def test_severity_follows_the_policy() -> None:
    """A rule gated on a provider's name in the key is high, never critical; test-mode rules are low."""
    for table in TABLES:
        gated = table["regex"].startswith("(?i")
        if gated:
            assert table["severity"] == "high", table["id"]
        assert table["severity"] in {"critical", "high", "low"}, table["id"]


def test_real_source_code_gives_no_hit() -> None:
    """Python's own standard library holds no credential: none of these rules may fire on it."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    found = []
    for path in sorted(stdlib.glob("*.py"))[:400]:
        found += [
            (path.name, hit.rule.id) for hit in scan(path.read_bytes(), path.name) if hit.rule.id in IDS
        ]
    assert found == []
