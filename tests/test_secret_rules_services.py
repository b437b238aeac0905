"""The service provider rules (``rules/30-services.toml`` to ``33-saas.toml``), beyond their own examples.

``tests/test_secret_rules.py`` walks every rule's true and false examples. This file proves what the
examples alone do not: the variants issue 17 names are found by the rule meant for them (generated here
from a seeded RNG, so not the examples' values), the example values of rules that declare a checksum carry a
valid one (the verifier must find them critical, not "checksum does not verify"), and the severity policy holds
for the whole family as data.
"""

from __future__ import annotations

import base64
import json
import random
import re
import string
import struct
import sys
import zlib
from typing import Any

import pytest

from lr_ci.secret_rules import generate
from lr_ci.secret_rules.engine import default_rules, scan

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SERVICE_FILES = ("30-services.toml", "31-ai.toml", "32-observability.toml", "33-saas.toml")
B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
B64URL = B62 + "_-"
HEX = "0123456789abcdef"


def _service_tables() -> list[dict[str, Any]]:
    """The rule tables of the services files, as written (``verify`` included, whatever the engine knows)."""
    tables: list[dict[str, Any]] = []
    for name, text in generate.sources():
        if name in SERVICE_FILES:
            tables += tomllib.loads(text).get("rules", [])
    return tables


TABLES = _service_tables()
SERVICE_IDS = frozenset(table["id"] for table in TABLES)


def _rng_text(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _rules_found(text: str, path: str = "settings.cfg") -> list[tuple[str, str]]:
    return [(hit.rule.id, hit.secret) for hit in scan(text.encode(), path)]


def test_the_services_files_hold_over_a_hundred_rules() -> None:
    assert len(TABLES) >= 100, len(TABLES)
    assert set(default_rules().ids) >= SERVICE_IDS


# --- checksums and structure the verifiers check ------------------------------------------------------------


def _grafana_holds(token: str) -> bool:
    """glsa_: the last 8 hex are CRC32 of the first 37 characters, as 4 bytes little-endian."""
    return struct.pack("<I", zlib.crc32(token[:37].encode())).hex() == token[-8:]


def _atlassian_holds(token: str) -> bool:
    """ATATT/ATCTT: the last 8 characters are CRC32 of all before them, upper-case hex, big-endian."""
    return f"{zlib.crc32(token[:-8].encode()):08X}" == token[-8:]


def _discord_holds(token: str) -> bool:
    """Part 1 is base64 (unpadded) of the bot's user id: a snowflake of 17 to 19 digits."""
    part1 = token.split(".", maxsplit=1)[0]
    decoded = base64.b64decode(part1 + "=" * (-len(part1) % 4))
    return decoded.isdigit() and 17 <= len(decoded) <= 19 and not decoded.startswith(b"0")


HOLDS = {
    "grafana-crc32": _grafana_holds,
    "atlassian-crc32": _atlassian_holds,
    "discord-user-id": _discord_holds,
}


def test_rules_that_declare_a_verifier_name_a_known_one_and_are_critical() -> None:
    declared = {table["id"]: table["verify"] for table in TABLES if "verify" in table}
    assert declared == {
        "discord-bot-token": "discord-user-id",
        "grafana-service-account-token": "grafana-crc32",
        "atlassian-api-token": "atlassian-crc32",
    }
    for table in TABLES:
        if "verify" in table:
            assert table["severity"] == "critical", table["id"]


@pytest.mark.parametrize("table", [t for t in TABLES if "verify" in t], ids=lambda t: str(t["id"]))
def test_the_true_examples_of_a_verified_rule_carry_a_valid_checksum(table: dict[str, Any]) -> None:
    """The verifier turns a valid token critical and an invalid one low: examples must be the valid kind."""
    regex = re.compile(table["regex"])
    for example in table["examples"]["true"]:
        match = regex.search(example)
        assert match is not None, example
        assert HOLDS[table["verify"]](match.group("secret")), (table["id"], example)


# --- issue 17's named variants, generated here ---------------------------------------------------------------


def _discord(rng: random.Random, digits: int, third: int) -> str:
    user_id = str(rng.randrange(10 ** (digits - 1), 10**digits))
    part1 = base64.b64encode(user_id.encode()).decode().rstrip("=")
    part2 = base64.urlsafe_b64encode(struct.pack(">I", rng.randrange(1 << 28, 1 << 30))).decode().rstrip("=")
    return f"{part1}.{part2}.{_rng_text(rng, B64URL, third)}"


@pytest.mark.parametrize("digits", [17, 18, 19])
@pytest.mark.parametrize("third", [27, 38])
def test_a_bare_discord_bot_token_is_found_in_every_current_length(digits: int, third: int) -> None:
    """No `discord` keyword needed: part 1 is 23, 24 or 26 characters, part 3 is 27 or 38."""
    rng = random.Random(digits * 100 + third)
    found = []
    for _ in range(20):
        token = _discord(rng, digits, third)
        assert _discord_holds(token)
        found.append(("discord-bot-token", token) in _rules_found(f'client.run("{token}")'))
    # A few user ids start with digits whose base64 spells an everyday word ("context", "index"): not keywords.
    assert sum(found) >= 18, found


def test_the_discord_keywords_cover_every_user_id_prefix_but_five_everyday_words() -> None:
    rule = next(r for r in default_rules().rules if r.id == "discord-bot-token")
    prefixes = {base64.b64encode(f"{n:03d}".encode()).decode()[:4].lower() for n in range(100, 1000)}
    assert prefixes - set(rule.keywords) == {"ntex", "ndex", "ntax", "nday", "oday"}
    assert set(rule.keywords) <= prefixes


def test_everyday_words_that_spell_a_user_id_prefix_wake_no_service_rule() -> None:
    assert not [
        r for r, _ in _rules_found("see context.index.syntax on Monday and today") if r in SERVICE_IDS
    ]


def _slack_tokens(rng: random.Random) -> dict[str, str]:
    def digits(n: int) -> str:
        return _rng_text(rng, "123456789", 1) + _rng_text(rng, string.digits, n - 1)

    return {
        "xoxe.xoxp": f"xoxe.xoxp-1-{_rng_text(rng, B62, 165)}",
        "xoxe.xoxb": f"xoxe.xoxb-1-{_rng_text(rng, B62, 163)}",
        "xoxe": f"xoxe-1-{_rng_text(rng, string.digits + string.ascii_uppercase, 146)}",
        "xoxc": f"xoxc-{digits(11)}-{digits(13)}-{digits(13)}-{_rng_text(rng, HEX, 64)}",
        "xoxs": f"xoxs-{digits(10)}-{digits(12)}-{digits(12)}-{_rng_text(rng, HEX, 64)}",
        "xoxr": f"xoxr-2-{_rng_text(rng, B62, 40)}",
        "xoxa": f"xoxa-2-{_rng_text(rng, B62, 44)}",
        "xoxb": f"xoxb-{digits(11)}-{digits(13)}-{_rng_text(rng, B62, 24)}",
        "xoxp": f"xoxp-{digits(11)}-{digits(11)}-{digits(13)}-{_rng_text(rng, HEX, 32)}",
        "xoxd": f"xoxd-{_rng_text(rng, B62, 40)}%2F{_rng_text(rng, B62, 50)}%3D",
    }


@pytest.mark.parametrize("kind", list(_slack_tokens(random.Random(0))))
def test_every_slack_token_type_is_found_whole(kind: str) -> None:
    token = _slack_tokens(random.Random(17))[kind]
    expected = "slack-config-token" if kind.startswith("xoxe") else "slack-token"
    assert (expected, token) in _rules_found(f"SLACK_TOKEN={token}"), kind


def test_slack_workflow_and_trigger_webhooks_are_found() -> None:
    rng = random.Random(3)
    for path in (
        f"workflows/T{_rng_text(rng, B62, 9)}/A{_rng_text(rng, B62, 10)}/{_rng_text(rng, string.digits, 18)}/"
        f"{_rng_text(rng, B62, 24)}",
        f"triggers/T{_rng_text(rng, B62, 9)}/{_rng_text(rng, string.digits, 13)}/{_rng_text(rng, HEX, 32)}",
    ):
        url = f"https://hooks.slack.com/{path}"
        assert ("slack-webhook", url) in _rules_found(f"url: {url}")


def test_stripe_keys_by_mode_and_kind() -> None:
    """Restricted keys of every length are found; test mode is low; publishable keys are no secret."""
    rng = random.Random(5)
    rules = {r.id: r for r in default_rules().rules}
    for body in (24, 34, 99, 107):
        key = f"rk_live_{_rng_text(rng, B62, body)}"
        assert ("stripe-secret-key", key) in _rules_found(f"key = '{key}'")
        test_key = f"rk_test_{_rng_text(rng, B62, body)}"
        assert ("stripe-test-key", test_key) in _rules_found(f"key = '{test_key}'")
    assert rules["stripe-test-key"].severity.value == "low"
    assert rules["stripe-secret-key"].severity.value == "critical"
    for public in ("pk_live_", "pk_test_"):
        text = f"publishable: {public}{_rng_text(rng, B62, 99)}"
        assert not [r for r, _ in _rules_found(text) if r in SERVICE_IDS]


def test_ai_keys_of_the_new_kinds_are_found_and_anthropic_needs_its_trailing_aa() -> None:
    rng = random.Random(7)
    for prefix in ("sk-proj-", "sk-svcacct-", "sk-admin-"):
        key = f"{prefix}{_rng_text(rng, B64URL, 74)}T3BlbkFJ{_rng_text(rng, B64URL, 74)}"
        assert ("openai-api-key", key) in _rules_found(f"OPENAI_KEY={key}")
    api = f"sk-ant-api03-{_rng_text(rng, B64URL, 93)}AA"
    admin = f"sk-ant-admin01-{_rng_text(rng, B64URL, 93)}AA"
    assert ("anthropic-api-key", api) in _rules_found(f"KEY={api}")
    assert ("anthropic-admin-key", admin) in _rules_found(f"KEY={admin}")
    without_aa = f"sk-ant-api03-{_rng_text(rng, B64URL, 93)}Qz"
    assert not [r for r, _ in _rules_found(f"KEY={without_aa}") if r.startswith("anthropic")]
    org = "api_org_" + _rng_text(rng, string.ascii_letters, 34)
    assert ("huggingface-org-token", org) in _rules_found(f"HF_ORG_TOKEN={org}")


def test_grafana_cloud_service_account_and_legacy_keys_are_found() -> None:
    rng = random.Random(11)
    head = "glsa_" + _rng_text(rng, B62, 32)
    glsa = head + "_" + struct.pack("<I", zlib.crc32(head.encode())).hex()
    payload = {"o": "1234567", "n": "ops", "k": _rng_text(rng, B62, 24), "m": {"r": "prod-us-east-0"}}
    glc = "glc_" + base64.b64encode(json.dumps(payload).encode()).decode()
    legacy_json = json.dumps({"k": _rng_text(rng, B62, 32), "n": "ops", "id": 1}, separators=(",", ":"))
    legacy = base64.b64encode(legacy_json.encode()).decode()
    assert legacy.startswith("eyJrIjoi")
    found = _rules_found(f"a: {glsa}\nb: {glc}\nc: {legacy}\n")
    assert ("grafana-service-account-token", glsa) in found
    assert ("grafana-cloud-token", glc) in found
    assert ("grafana-api-key", legacy) in found


def test_meta_adobe_and_atlassian_tokens_are_found() -> None:
    rng = random.Random(13)
    page = "EAAM" + _rng_text(rng, B62, 150)
    adobe = "p8e-" + _rng_text(rng, B64URL, 32)
    head = "ATATT3xFfGF0" + _rng_text(rng, B64URL, 171) + "="
    atlassian = head + f"{zlib.crc32(head.encode()):08X}"
    found = _rules_found(f"FB_PAGE_TOKEN={page}\nADOBE_CLIENT_SECRET={adobe}\nJIRA_TOKEN={atlassian}\n")
    assert ("facebook-access-token", page) in found
    assert ("adobe-client-secret", adobe) in found
    assert ("atlassian-api-token", atlassian) in found
    assert _atlassian_holds(atlassian)


@pytest.mark.parametrize(
    "line",
    [
        "ENV['MISTRAL_API_KEY'] ||= '{v}'",
        "const mistralKey = process.env.MISTRAL_API_KEY || '{v}';",
        "MISTRAL_API_KEY ?= {v}",
        'pub const MISTRAL_API_KEY: &str = "{v}";',
        '<add key="MistralApiKey" value="{v}" />',
        "<mistralApiKey>{v}</mistralApiKey>",
        '    "os.environ[\\"MISTRAL_API_KEY\\"] = \\"{v}\\"\\n",',
        'os.environ.get("MISTRAL_API_KEY", "{v}")',
        'client = Mistral(api_key="{v}")',
    ],
)
def test_a_keyword_gated_rule_reads_the_common_syntaxes(line: str) -> None:
    value = _rng_text(random.Random(line), B62, 32)
    assert ("mistral-api-key", value) in _rules_found(line.replace("{v}", value))


# --- the policy and the keywords, as data -------------------------------------------------------------------

GATED = re.compile(r"^\(\?i:")
# Rules whose case-insensitive head is the credential's own variable name, not a keyword near a value.
NAMED_VARIABLES = {"sidekiq-credentials"}


def test_severity_follows_the_policy() -> None:
    """Keyword-gated shapes are high; test-mode keys low; nothing in the services files is medium."""
    for table in TABLES:
        severity, rule_id = table["severity"], table["id"]
        if re.search(r"-test-|-sandbox-", rule_id):
            assert severity == "low", rule_id
        elif GATED.match(table["regex"]) and rule_id not in NAMED_VARIABLES:
            assert severity == "high", rule_id
        assert severity in {"critical", "high", "low"}, rule_id


@pytest.mark.parametrize(
    "value",
    [
        "shpca_" + "0" * 32,
        "gsk_" + "a" * 48,
        "lin_api_" + "0" * 40,
        "xkeysib-" + "0" * 64 + "-" + "0" * 16,
        "sk-or-v1-" + "f" * 64,
        "dt0c01." + "A" * 24 + "." + "A" * 64,
    ],
)
def test_a_provider_shape_filled_with_one_character_is_no_secret(value: str) -> None:
    """Every services rule has an entropy floor (2.5 for a keyword-gated value, 3.0 for a prefixed token)."""
    assert not [r for r, _ in _rules_found(f"TOKEN={value}") if r in SERVICE_IDS]
    for table in TABLES:
        assert table.get("entropy", 0) >= 2.5, table["id"]
