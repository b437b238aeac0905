"""The false-alarm filters shared by every rule (lr_ci/secret_rules/filters.py), each called directly, then
through the engine: what each drops, and the real values each must keep.

Every value here is synthetic, made for these tests.
"""

from __future__ import annotations

import base64
import json
import random
import string

import pytest

from lr_ci.secret_rules import filters
from lr_ci.secret_rules.engine import default_rules, scan, shannon_entropy

RULES = {rule.id: rule for rule in default_rules().rules}


def _rules_found(text: str, path: str = "settings.cfg") -> list[str]:
    return [hit.rule.id for hit in scan(text.encode(), path)]


# ---------------------------------------------------------------------------------------------------------
# Token bodies and structure
# ---------------------------------------------------------------------------------------------------------


def test_fixed_texts_are_read_from_the_secret_group_of_a_rule() -> None:
    assert "npm_" in filters.fixed_texts(RULES["npm-token"].pattern)
    assert ":aa" in filters.fixed_texts(RULES["telegram-bot-token"].pattern)
    assert filters.fixed_texts(r"(?P<key>token)\s=\s(?P<secret>[a-z]{8,32})") == ()
    assert filters.fixed_texts(r"tw_A{22}[A-Za-z0-9]{20}") == ("tw_" + "a" * 22,)


def test_token_body_cuts_the_fixed_text_so_a_format_run_is_not_a_filler() -> None:
    pattern = r"\b(?P<secret>AAAAAAAAAAAAAAAAAAAAA[A-Za-z0-9%]{30,120})"  # a bearer token's 21 A's
    value = "A" * 21 + "Xk9mP2vLq7Rt"
    assert filters.is_structured_filler(value)
    body = filters.token_body(value, pattern)
    assert body.startswith("\0" * 21)
    assert not filters.is_structured_filler(body)
    # a short fixed text only at an end: "gh" inside a random body stays
    assert filters.token_body("ghp_ghXk9m", r"(?P<secret>gh[pousr]_[A-Za-z0-9]{6})") == "\0\0p_ghXk9m"


@pytest.mark.parametrize(
    "body",
    [
        "aaaaaaaaaaaaaaaa",
        "abcd1234abcd1234",
        "a1b2c3d4e5f6g7h8",
        "0123456789012345",
        "abababababababab",
        "zyxwvuts",
    ],
)
def test_structured_fillers_are_found(body: str) -> None:
    assert filters.is_structured_filler(body)


@pytest.mark.parametrize(
    "body", ["Xk9mP2vLq7Rt5Kjp1vRt1fjO", "c17149d439536b3216fdaeeb975729fa", "Zx90000000001qQ7w", "abcd123"]
)
def test_real_looking_bodies_are_not_structured_fillers(body: str) -> None:
    assert not filters.is_structured_filler(body)


def test_random_values_of_every_alphabet_are_kept() -> None:
    """The filters that judge any value drop almost no random value (a real token is random)."""
    pick = random.Random(17)
    alphabets = {
        "hex": "0123456789abcdef",
        "digits": string.digits,
        "lower36": string.ascii_lowercase + string.digits,
        "base62": string.ascii_letters + string.digits,
        "base64": string.ascii_letters + string.digits + "+/",
    }
    for name, alphabet in alphabets.items():
        for size in (16, 24, 40, 64):
            values = ["".join(pick.choice(alphabet) for _ in range(size)) for _ in range(2000)]
            # letters only: a word to the generic rules since before these filters (engine._IDENTIFIER_WORDS)
            values = [v for v in values if not v.isalpha()]
            structured = sum(filters.is_structured_filler(v) for v in values)
            words = sum(filters.has_filler_word(v) for v in values)
            names = sum(filters.is_identifier(v) or filters.is_placeholder_word(v) for v in values)
            floors = sum(filters.is_below_entropy_floor(v, shannon_entropy(v)) for v in values)
            assert structured + words + names <= 2, (name, size, structured, words, names)
            assert floors <= 10, (name, size, floors)  # <= 0.5%, at 16 characters; none from 24
            assert sum(filters.is_reference(v) or filters.is_password_hash(v) for v in values) == 0


@pytest.mark.parametrize(
    "body",
    ["sk-ant-YourAnthropicKeyHere", "AccessTokenHere", "my_example_key", "xxxx", "a1b2c3", "abc123xyz"],
)
def test_filler_words_are_found(body: str) -> None:
    assert filters.has_filler_word(body)


def test_filler_words_are_not_found_in_random_bodies() -> None:
    assert not filters.has_filler_word("Xk9mP2vLq7Rt5Kjp1vRt1fjO")
    assert not filters.has_filler_word("7012345678")  # a bot id counts, not a filler


# ---------------------------------------------------------------------------------------------------------
# Documentation examples
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "example.com",
        "db.example.org",
        "api.example.net",
        "svc.example",
        "db.test",
        "x.invalid",
        "a.localhost",
    ],
)
def test_reserved_hosts_are_examples(host: str) -> None:
    assert filters.is_example_host(host)


@pytest.mark.parametrize(
    "host", ["localhost", "db.internal", "examples.com", "example.com.evil.io", "testing.io"]
)
def test_other_hosts_are_not(host: str) -> None:
    assert not filters.is_example_host(host)


def test_example_pairs() -> None:
    assert filters.is_example_pair("user", "password")
    assert filters.is_example_pair("Aladdin", "open sesame")
    assert filters.is_example_pair("postgres", "postgres")
    assert filters.is_example_pair("admin", "changeme")
    assert filters.is_example_pair("jo%40mail.ops", "a%20secret")  # percent-encoded in a URL
    assert not filters.is_example_pair("ops", "Xk9mP2vLq7Rt")


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_basic_values_that_are_no_credential() -> None:
    assert filters.is_example_basic(_b64("Aladdin:open sesame"))
    assert filters.is_example_basic(_b64("user:password"))
    assert filters.is_example_basic(_b64("admin:admin"))
    assert filters.is_example_basic("dGhpcyBpcyBub3QgYSBwYWly")  # base64 of text without a colon
    assert filters.is_example_basic("not*base64")
    assert not filters.is_example_basic(_b64("ops-bot:Falcon8Uj!12"))


def _jwt(payload: dict[str, object]) -> str:
    def part(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(payload)}.c2lnbmF0dXJlLXN5bnRoZXRpYw"


def test_the_jwt_io_sample_payload_is_an_example() -> None:
    assert filters.is_example_jwt(_jwt({"sub": "1234567890", "name": "John Doe", "iat": 1516239022}))
    assert not filters.is_example_jwt(_jwt({"sub": "svc-billing", "exp": 1900000000}))


def test_documented_example_values() -> None:
    assert filters.is_documented_example("AKIAIOSFODNN7EXAMPLE")
    assert filters.is_documented_example("gho_16C7e42F292c6912E7710c838347Ae178B4a")
    assert filters.is_documented_example("2YotnFZFEjr1zCsicMWpAA")  # RFC 6749's access token
    assert not filters.is_documented_example("AKIAQ3EGRAVQXK2M7HZB")


# ---------------------------------------------------------------------------------------------------------
# Generic values
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "${DB_PASSWORD}",
        "$DB_PASSWORD",
        "$password",
        "$dbPassword",
        "{{ .Values.password }}",
        "$(cat /run/secrets/db)",
        "%DB_PASSWORD%",
        "@DB_PASSWORD@",
        "os.environ['DB_PASSWORD']",
        "os.getenv('API_KEY')",
        "process.env.API_KEY",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ops-db",
        "projects/ops/secrets/db-password/versions/latest",
        "vault:secret/data/ops#password",
        "ssm:/ops/db/password",
        "op://vault/item/field",
        "https://ops-kv.vault.azure.net/secrets/db  keyvault",
        "get_password()",
        "vault kv get -field=password secret/ops",
        "Optional[ec.EllipticCurvePrivateKey]",
        "None",
        "null",
        "undefined",
    ],
)
def test_references_are_not_values(value: str) -> None:
    assert filters.is_reference(value)


@pytest.mark.parametrize("value", ["Xk9mP2vLq7Rt", "$Xk9mP2vL", "k8#Lm2$vQz9w", "nil-Xk9mP2vLq7"])
def test_values_are_not_references(value: str) -> None:
    assert not filters.is_reference(value)


@pytest.mark.parametrize(
    "value",
    [
        "LR_CI_P95_CLUSTER_SECRET",
        "NEXUS-GPT4-API-KEY",
        "ops.database.password",
        "secret/data/ops/database",
        "xs:string",
        "bench-webhook-signing-secret-5309",
        "PasswordInputField",
        "_auth_user_backend",
        "Currently:",
    ],
)
def test_names_are_identifiers(value: str) -> None:
    assert filters.is_identifier(value)


@pytest.mark.parametrize(
    "value",
    ["Xk9mP2vLq7Rt", "API-OJ8N2R2S8M53HR4L19DENQ2SXO", "X7K2M-9QPLR-3J8WD", "DvlCdnxqPwtr", "TQPMHN-XKCD"],
)
def test_keys_are_not_identifiers(value: str) -> None:
    assert not filters.is_identifier(value)


def test_uuids_under_id_keys() -> None:
    uuid = "3f6c2a9e-8d41-4b7a-9c3e-5a1f0e2d7b64"
    assert filters.is_id_under_id_key(uuid, "credentials_id")
    assert filters.is_id_under_id_key(uuid, "client_id")
    assert not filters.is_id_under_id_key(uuid, "api_key")  # Heroku's legacy keys are UUIDs
    assert not filters.is_id_under_id_key("Xk9mP2vLq7Rt", "credentials_id")


def test_keys_that_name_a_secret() -> None:
    assert filters.is_name_key("secret_name")
    assert filters.is_name_key("cluster_secret_env")
    assert filters.is_name_key("token_url")
    assert filters.is_name_key("password_hash")
    assert not filters.is_name_key("db_password")
    assert not filters.is_name_key("access_key_id")


@pytest.mark.parametrize(
    "value",
    [
        "$2b$12$" + "R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
        "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
        "$6$rounds=5000$saltsalt$" + "a" * 86,
        "$1$saltsalt$qjXMvbEw8oaL.CzflDugX/",
        "pbkdf2_sha256$600000$c2FsdA$aGFzaA==",
        "scrypt:32768:8:1$salt$abcdef0123",
        "{SSHA}c2FsdGVkaGFzaHZhbHVl",
        "*6BB4837EB74329105EE4568DDA7DC67ED2CA2AD9",
        "md5" + "3f1c2b7e0a9d4e6b8c5f2d7e9a1b4c60",
        "SCRAM-SHA-256$4096:c2FsdHNhbHRzYWx0$" + "A" * 43 + "=:" + "B" * 43 + "=",
    ],
)
def test_password_hashes(value: str) -> None:
    assert filters.is_password_hash(value)


def test_a_password_is_not_a_hash() -> None:
    assert not filters.is_password_hash("Xk9mP2vLq7Rt")
    assert not filters.is_password_hash("$Xk9mP2vLq7Rt")


@pytest.mark.parametrize(
    "value",
    [
        "ENC[AES256_GCM,data:c2VjcmV0,iv:aXY=,tag:dGFn,type:str]",
        "$ANSIBLE_VAULT;1.1;AES256",
        "vault:v1:c2VjcmV0Y2lwaGVydGV4dA==",
        "AgB" + "k9mP2vLq7Rt5Kjp1" * 8,
    ],
)
def test_ciphertext(value: str) -> None:
    assert filters.is_encrypted(value)


@pytest.mark.parametrize(
    "value",
    [
        "dev",
        "keyboard cat",
        "secret",
        "s3cr3t",
        "supersecret",
        "mysecretpassword",
        "password123",
        "Password123!",
        "p@ssw0rd",
        "changeit",
        "my-dev-secret",
        "test123",
        "hunter2",
        "Password\\x00",
        "(blah|fake)",
    ],
)
def test_placeholder_words(value: str) -> None:
    assert filters.is_placeholder_word(value)


@pytest.mark.parametrize(
    "value", ["Xk9mP2vLq7Rt", "Tr0ub4dor&3x", "c1714Fd439ab", "Zx90000000001qQ7w", "50713"]
)
def test_passwords_are_not_placeholder_words(value: str) -> None:
    assert not filters.is_placeholder_word(value)


@pytest.mark.parametrize(
    "value",
    ["minio123", "Cisco#123", "vagrant", "postgres", "Rabbitmq@42", "keycloak1", "mongo2024", "Oracle_123"],
)
def test_products_sample_passwords_are_placeholder_words(value: str) -> None:
    """A product's name and a short number: the sample password its image, box or lab playbook ships."""
    assert filters.is_placeholder_word(value)


@pytest.mark.parametrize(
    "value", ["Cisco#123Xk9", "minio-Vq8rT2mWx5Lp", "Copper!Cisco4821", "redis8Uj@39", "GrafanaQz7Lw2"]
)
def test_a_product_name_beside_anything_else_is_kept(value: str) -> None:
    assert not filters.is_placeholder_word(value)


@pytest.mark.parametrize(
    "value",
    [
        " lines, endless HTTP bodies, ",
        "the password is hunter2",
        "must be set before start",
        "пароль от базы данных",
    ],
)
def test_prose(value: str) -> None:
    assert filters.is_prose(value)


@pytest.mark.parametrize("value", ["Xk9mP2vLq7Rt", "k8#Lm2 vQz9w!x7", "correcthorse"])
def test_not_prose(value: str) -> None:
    assert not filters.is_prose(value)


def test_entropy_floors_depend_on_the_character_class() -> None:
    hex_floor = filters.entropy_floor("c17149d439536b3216fdaeeb975729fa")
    b62_floor = filters.entropy_floor("Xk9mP2vLq7Rt5Kjp1vRt1fjORS6ilI8i")
    assert hex_floor is not None and b62_floor is not None and hex_floor < b62_floor
    assert filters.entropy_floor("k8#Lm2$vQz9w") is None  # a password keeps its rule's floor
    assert filters.is_below_entropy_floor(
        "deadbeefdeadbeefdeadbeef", shannon_entropy("deadbeefdeadbeefdeadbeef")
    )
    value = "AbAbAbAbAbAbAbAb1212121212"
    assert filters.is_below_entropy_floor(value, shannon_entropy(value))
    value = "c17149d439536b3216fdaeeb975729fa"
    assert not filters.is_below_entropy_floor(value, shannon_entropy(value))


# ---------------------------------------------------------------------------------------------------------
# Through the engine: every rule gets the shared filters, real tokens stay found
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "token = ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "token = ghp_a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6",
        "key = AIzaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "SHOPIFY_TOKEN=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",
        "JIRA_API_TOKEN=ATATT3xFfGF0YourAtlassianAccessTokenHere",
        "SECRET = 'bench-webhook-signing-secret-5309'",
        'SECRET_KEY = "dev-secret-key-change-in-production"',  # a keyword rule (django-secret-key) too
        'CLUSTER_SECRET_ENV = "LR_CI_P95_CLUSTER_SECRET"',
        'api_key_name: "NEXUS-GPT4-API-KEY"',
        "SECRET_KEY = 'dev'",
        "secret: 'keyboard cat'",
        "password: s3cr3t!",
        'password_hash = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"',
        "password = None",
        "credentialsId: '3f6c2a9e-8d41-4b7a-9c3e-5a1f0e2d7b64'",
        "SECRET_KEY=`vault kv get -field=secret_key secret/app`",
        "git clone https://deploy:glpaZ63FfkCz@git.example.org/ops/app.git",
        "curl -H 'Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==' https://api.ops.internal",
        "the `password=` lines, endless HTTP bodies, `/dev/zero` as input",
        'db_password: "ENC[AES256_GCM,data:Xk9mP2vLq7Rt,iv:aXY=,tag:dGFn,type:str]"',
    ],
)
def test_false_alarms_are_dropped_through_the_engine(text: str) -> None:
    assert _rules_found(text) == []


def test_the_jwt_io_sample_is_dropped_through_the_engine() -> None:
    token = _jwt({"sub": "1234567890", "name": "John Doe", "iat": 1516239022})
    assert _rules_found(f"Authorization: Bearer {token}") == []


@pytest.mark.parametrize(
    ("text", "rule_id"),
    [
        ("token = ghp_u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8d", "github-token"),
        ('bot = Bot(token="7012345678:AAGz63FfkCzJr4i0B3JrTAwR4y9dZSlB5er")', "telegram-bot-token"),
        ("DB_PASSWORD=Xk9mP2vLq7Rt", "generic-password"),
        ("password = Zx90000143917qQ7w", "generic-password"),  # a run of zeros inside a real value
        ("BUILDKITE_ANALYTICS_TOKEN=c7f94deb-55f5-43f8-b799-b5fd7592ee96", "generic-secret"),
        ("DATABASE_URL=postgres://ops:Xk9mP2vLq7Rt@db.internal:5432/ops", "url-credentials"),
        (
            "curl -H 'Authorization: Basic b3BzLWJvdDpGYWxjb244VWohMTI=' https://billing.ops",
            "basic-auth-header",
        ),
    ],
)
def test_real_values_are_still_found_through_the_engine(text: str, rule_id: str) -> None:
    assert rule_id in _rules_found(text)


def test_the_filters_cost_is_linear_in_the_hits() -> None:
    """Every filter runs per match; 20,000 password lines stay well under a second of filter work each."""
    import time

    lines = "".join(f"db_password = 'Xk9mP2vLq{i:07d}'\n" for i in range(20_000)).encode()
    started = time.process_time()
    hits = scan(lines, "settings.cfg", max_hits=None)
    assert len(hits) == 20_000
    assert time.process_time() - started < 10


def test_a_format_that_spells_secret_is_not_a_filler() -> None:
    """age's secret keys start ``AGE-SECRET-KEY-1``: upper-case words are fillers only as ``TOKEN_A``."""
    assert not filters.has_filler_word("AGE-SECRET-KEY-1QYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQS")
    assert filters.has_filler_word("hooks/TOKEN_A/TOKEN_B/TOKEN_C")


def test_no_random_github_token_of_twenty_thousand_is_a_filler() -> None:
    """A random body spells ``DuMmy`` or ``xXxX`` now and then: fillers count only in the casings people
    write (one of the hostile test's 12,000 random tokens was dropped before)."""
    pick = random.Random(5)
    alphabet = string.ascii_letters + string.digits
    pattern = RULES["github-token"].pattern
    tokens = ["ghp_" + "".join(pick.choice(alphabet) for _ in range(36)) for _ in range(20_000)]
    assert [t[:4] for t in tokens if filters.is_placeholder_or_example(t, pattern)] == []
    assert not default_rules().is_placeholder("ghp_u8jzPde0IgxLd6xXxXfBAepfJBd0Kh8oOOL8d")


# ---------------------------------------------------------------------------------------------------------
# Round two (fp2): classes of false alarms found scanning third-party code and docs on this machine
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["(?:key|pwd|token)", "([a-f0-9]{48}(?![a-f0-9]))", "([a-z0-9]{64})", "(?P<tok>\\w+)", "\\d{6}"]
)
def test_regular_expressions_are_not_values(value: str) -> None:
    assert filters.is_regex_pattern(value)
    assert filters.is_not_a_value(value, shannon_entropy(value))


@pytest.mark.parametrize("value", ["Vq8rT2mWx5Lp", "Kd8[Lm3]Vq7Rx2", "Zq3Wm8Kx4{Vn7}Rt5", "p@ss(w0rd)Xk9"])
def test_passwords_with_brackets_are_not_regular_expressions(value: str) -> None:
    assert not filters.is_regex_pattern(value)


@pytest.mark.parametrize("value", ["1219328376.07815", "3.14", "2026-01-04", "10:00:01", "-42"])
def test_numbers_and_timestamps(value: str) -> None:
    assert filters.is_number(value)


@pytest.mark.parametrize("value", ["12ab34", "Vq8rT2mWx5Lp", "0x1F2E3D"])
def test_values_with_letters_are_not_numbers(value: str) -> None:
    assert not filters.is_number(value)


@pytest.mark.parametrize(
    "value",
    [
        "$dir/private/cakey.pem#",
        "../../source4/auth/unix_token.c:133",
        "~/.ssh/id_ed25519",
        "/etc/ops/tls.key",
    ],
)
def test_file_paths(value: str) -> None:
    assert filters.is_file_path(value)


@pytest.mark.parametrize("value", ["Zq3W/m8Kx4+Vn7Rt5Jp2Ls9Hd6==", "ab/cd", "Vq8rT2mWx5Lp"])
def test_base64_with_slashes_is_not_a_file_path(value: str) -> None:
    assert not filters.is_file_path(value)


@pytest.mark.parametrize(
    "value", ["askfjh234as9sd8", "lsdajfh923874", "2kjshdfp92i34asdasd", "ad180jjd733klru7"]
)
def test_keyboard_mash(value: str) -> None:
    assert filters.is_keyboard_mash(value)


@pytest.mark.parametrize("value", ["Askfjh234as9sd8", "k3j9x2mq7v1z", "0685bd9184jfhq22", "c7f94deb55f543f8"])
def test_not_keyboard_mash(value: str) -> None:
    assert not filters.is_keyboard_mash(value)


def test_keyboard_mash_drops_few_random_lower_case_values() -> None:
    """A random lower-case alphanumeric value of 12 to 32 characters is dropped 1 time in 100 at most."""
    rng = random.Random(17)
    alphabet = string.ascii_lowercase + string.digits
    values = ["".join(rng.choice(alphabet) for _ in range(rng.randint(12, 32))) for _ in range(20_000)]
    dropped = sum(1 for value in values if filters.is_keyboard_mash(value))
    assert dropped <= len(values) // 100


@pytest.mark.parametrize(
    "value", ["_RSAPrivateKey", "_EllipticCurvePrivateKey", "_S_token_ord_char", ":_Stop_state_ref"]
)
def test_private_type_and_member_names_are_identifiers(value: str) -> None:
    assert filters.is_identifier(value)


@pytest.mark.parametrize("value", ["_Xk9mP2vLq7Rt", "_Vq8rTmWxLp", ":_Zq3_Wm8Kx4"])
def test_random_values_with_an_underscore_are_not_names(value: str) -> None:
    assert not filters.is_identifier(value)


@pytest.mark.parametrize(
    "value", ["$self->", "$opt{password", "$CPAN::Config-", "qq{(?:$REG_TAG_FIRST_LETTER"]
)
def test_perl_expressions_are_references(value: str) -> None:
    assert filters.is_reference(value)


@pytest.mark.parametrize("value", ["geheim$parole", "Passwort123", "-anonymous@", "motdepasse!"])
def test_placeholder_words_in_other_languages_and_conventions(value: str) -> None:
    assert filters.is_placeholder_word(value)


def test_a_jwt_of_placeholder_claims_is_an_example() -> None:
    assert filters.is_example_jwt(_jwt({"some": "payload"}))
    assert filters.is_example_jwt(_jwt({"user": "admin"}))
    assert not filters.is_example_jwt(_jwt({"sub": "ops-bot", "iat": 1767225600}))
    assert not filters.is_example_jwt(_jwt({"some": "payload", "exp": 1767225600}))


# Page-level state: where a generic value sits in the whole content


def test_a_value_repeated_three_times_in_a_docs_page_is_its_example() -> None:
    lines = [f"Step {n}: run `export OPS_API_TOKEN={TOKEN_B}` first.\n" for n in range(3)]
    assert scan("".join(lines).encode(), "docs/setup.md") == []
    assert [h.rule.id for h in scan("".join(lines[:2]).encode(), "docs/setup.md")] == ["generic-secret"] * 2
    # the same three lines in a config file are three findings: only a docs page repeats its example
    assert [h.rule.id for h in scan("".join(lines).encode(), "setup.txt")] == ["generic-secret"] * 3


def test_a_value_inside_a_python_docstring_is_an_example() -> None:
    doc = f'def connect():\n    """Connect.\n\n    >>> connect(token="{TOKEN_B}")\n    """\n'
    assert scan(doc.encode(), "client.py") == []
    after = doc + f'\nOPS_TOKEN = "{TOKEN_B}"\n'
    assert [h.line for h in scan(after.encode(), "client.py")] == [7]
    # a triple-quoted string assigned to a name is data, not a docstring
    data = f'CONFIG = """\npassword = "{TOKEN_B}"\n"""\n'
    assert [h.rule.id for h in scan(data.encode(), "settings.py")] == ["generic-password"]


def test_versioned_shared_libraries_are_skipped() -> None:
    from lr_ci.secret_rules.engine import path_policy

    assert path_policy("/usr/lib/x86_64-linux-gnu/libcurl.so.4.8.0").scan == "skip"
    assert path_policy("lib/libops.so.1").scan == "skip"
    assert path_policy("docs/so.1.md").scan == "all"


TOKEN_B = "Kd8Lm3Vq7Rx2Wp5TzN4b"


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("TokenMalformedSdJwt", True),
        ("IdTokenHttpNotFound", True),
        ("ops.database.password", True),
        ("HqZxWmKvRtLpYnBcDfGjSaEuIoPtReWq", False),
        ("aBcDeFgHiJkLmNoP", False),
    ],
)
def test_letters_only_values_read_as_words_or_not(value: str, words: bool) -> None:
    assert filters.reads_as_words(value) is words


# ---------------------------------------------------------------------------------------------------------
# Round three: look-alike classes the new corpus families showed on the dev half
# ---------------------------------------------------------------------------------------------------------

_RNG3 = random.Random(1703)
_ADDRESS = "0x" + "".join(_RNG3.choice("0123456789abcdefABCDEF") for _ in range(40))
_EVM_KEY = "0x" + "".join(_RNG3.choice("0123456789abcdef") for _ in range(64))
_NONCE = "".join(_RNG3.choice(string.ascii_letters + string.digits + "+/") for _ in range(86)) + "=="


def test_evm_addresses_are_public() -> None:
    assert filters.is_public_address(_ADDRESS)
    assert filters.is_public_address(_ADDRESS.lower())
    assert not filters.is_public_address(_EVM_KEY)  # a private key is 32 bytes: kept
    assert not filters.is_public_address(_ADDRESS[2:])  # no 0x: any 40 hex digits (a SHA-1 token...)
    assert not filters.is_public_address(_ADDRESS + "0")
    assert filters.is_not_a_value(_ADDRESS, shannon_entropy(_ADDRESS))


@pytest.mark.parametrize(
    "key",
    [
        "authenticity_token",
        "X-CSRF-Token",
        "csrfmiddlewaretoken",
        "__RequestVerificationToken",
        "csrftoken",
        "_csrf",
        "xsrf-token",
        "antiForgeryToken",
    ],
)
def test_anti_forgery_token_keys(key: str) -> None:
    from lr_ci.secret_rules.engine import _normalized_key

    assert filters.is_anti_forgery_key(_normalized_key(key))


@pytest.mark.parametrize("key", ["WTF_CSRF_SECRET_KEY", "csrf_secret", "api_token", "auth_token", None])
def test_keys_that_sign_csrf_tokens_or_grant_access_are_not_anti_forgery_keys(key: str | None) -> None:
    from lr_ci.secret_rules.engine import _normalized_key

    assert not filters.is_anti_forgery_key(None if key is None else _normalized_key(key))


@pytest.mark.parametrize(
    "text",
    [
        f'{{"token_address": "{_ADDRESS}"}}\n',
        f'const USDC_TOKEN = "{_ADDRESS}";\n',
        f'<input type="hidden" name="authenticity_token" value="{_NONCE}" autocomplete="off" />\n',
        f'<meta name="csrf-token" content="{_NONCE}" />\n',
        f"csrf_token: {_NONCE}\n",
    ],
)
def test_round_three_look_alikes_are_dropped_through_the_engine(text: str) -> None:
    assert _rules_found(text) == []


@pytest.mark.parametrize(
    "text",
    [
        f'PRIVATE_KEY = "{_EVM_KEY}"\n',
        f'WTF_CSRF_SECRET_KEY = "{_NONCE[:40]}"\n',
        f'<add key="ApiToken" value="{_NONCE[:40]}" />\n',
    ],
)
def test_round_three_keeps_real_values_through_the_engine(text: str) -> None:
    assert _rules_found(text) != []


_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_MINT = "".join(_RNG3.choice(_B58) for _ in range(44))
_SOLANA_SECRET = "".join(_RNG3.choice(_B58) for _ in range(88))
_CURSOR = "".join(_RNG3.choice(string.ascii_letters + string.digits + "-_") for _ in range(96))


@pytest.mark.parametrize(
    "key", ["nextPageToken", "NextToken", "continuationToken", "syncToken", "resume_token", "$skiptoken"]
)
def test_cursor_keys(key: str) -> None:
    from lr_ci.secret_rules.engine import _normalized_key

    assert filters.is_cursor_key(_normalized_key(key))


@pytest.mark.parametrize("key", ["refresh_token", "access_token", "session_token", "page_secret", None])
def test_tokens_that_grant_access_are_not_cursors(key: str | None) -> None:
    from lr_ci.secret_rules.engine import _normalized_key

    assert not filters.is_cursor_key(None if key is None else _normalized_key(key))


def test_public_accounts_are_base58_public_keys_under_an_account_key() -> None:
    assert filters.is_public_account(_MINT, "token_mint")
    assert filters.is_public_account(_MINT, "usdc_token_mint")
    assert filters.is_public_account(_MINT[:43], "token_account")
    assert not filters.is_public_account(_MINT, "token")  # the key says token: kept
    assert not filters.is_public_account(_MINT, "secret_key")
    assert not filters.is_public_account(_SOLANA_SECRET, "wallet")  # 64 bytes: a secret key, kept
    assert not filters.is_public_account(None or _MINT, None)


def test_key_ids_are_upper_case_hex_under_a_signing_key() -> None:
    assert filters.is_key_id("BD5D237B60D7A911", "signingkey")
    assert filters.is_key_id("0x3AA5C34371567BD2", "signing_key")
    assert filters.is_key_id("A" * 8 + "0123456789ABCDEF0123456789ABCDEF", "gpg_key")
    assert not filters.is_key_id("bd5d237b60d7a911bd5d237b60d7a911bd5d237b", "signing_key")  # HMAC-style
    assert not filters.is_key_id("BD5D237B60D7A911", "api_key")
    assert not filters.is_key_id("BD5D237B60D7A91", "signingkey")


def test_ec_public_points() -> None:
    point = base64.urlsafe_b64encode(b"\x04" + bytes(_RNG3.randrange(256) for _ in range(64))).decode()
    assert filters.is_ec_public_point(point.rstrip("="))
    assert filters.is_ec_public_point(base64.b64encode(base64.urlsafe_b64decode(point)).decode())
    private = base64.urlsafe_b64encode(bytes(_RNG3.randrange(256) for _ in range(32))).decode()
    assert not filters.is_ec_public_point(private.rstrip("="))
    other = base64.urlsafe_b64encode(b"\x05" + bytes(_RNG3.randrange(256) for _ in range(64))).decode()
    assert not filters.is_ec_public_point(other.rstrip("="))
    assert not filters.is_ec_public_point("B" + "!" * 86)


def test_key_says_no_secret_joins_the_key_checks() -> None:
    assert filters.key_says_no_secret("x", "secret_name")
    assert filters.key_says_no_secret(_CURSOR, "next_page_token")
    assert filters.key_says_no_secret(_MINT, "token_mint")
    assert not filters.key_says_no_secret(_CURSOR, "api_token")
    assert not filters.key_says_no_secret(_CURSOR, None)


@pytest.mark.parametrize(
    "text",
    [
        f'{{"nextPageToken": "{_CURSOR}"}}\n',
        f"NextToken: {_CURSOR}\n",
        f'export const USDC_TOKEN_MINT = new PublicKey("{_MINT}");\n',
        f'{{"tokenMint": "{_MINT}"}}\n',
        "[user]\n\tsigningkey = BD5D237B60D7A911\n",
        "applicationServerKey = '"
        + base64.urlsafe_b64encode(b"\x04" + bytes(range(64))).decode().rstrip("=")
        + "'\n",
    ],
)
def test_cursors_accounts_key_ids_and_points_are_dropped_through_the_engine(text: str) -> None:
    assert _rules_found(text) == []


@pytest.mark.parametrize(
    "text",
    [
        f'{{"refreshToken": "{_CURSOR}"}}\n',
        f'SOLANA_WALLET_SECRET = "{_SOLANA_SECRET}"\n',
        "signing_key = 'bd5d237b60d7a911bd5d237b60d7a911bd5d237b'\n",
        # an unquoted value that starts with b/r/u is read whole (no string-prefix letter dropped)
        "password=bX9kLm2Qp7Rt4vW8zN\n",
    ],
)
def test_access_tokens_wallet_secrets_and_hmac_keys_are_still_found(text: str) -> None:
    assert _rules_found(text) != []


def test_an_unquoted_value_keeps_its_first_letter() -> None:
    """``[@rbu]`` is a string prefix (b"..", r"..", @"..") only before a quote: unquoted, it is the value's
    first letter (``signingkey = BD5D...`` read as ``D5D...`` hid the key id from its filter)."""
    import re

    match = re.search(RULES["generic-secret"].pattern, "\tsigningkey = BD5D237B60D7A911\n")
    assert match is not None and match.group("secret2") == "BD5D237B60D7A911"


@pytest.mark.parametrize(
    "key",
    ["api_token_sha256", "clientSecretChecksum", "tokenFingerprint", "WEBHOOK_SECRET_SHA1", "password_md5"],
)
def test_keys_naming_a_digest_of_a_secret_are_name_keys(key: str) -> None:
    from lr_ci.secret_rules.engine import _normalized_key

    assert filters.is_name_key(_normalized_key(key))


@pytest.mark.parametrize("key", ["sha256_secret", "api_key", "checksum_token", "shared_secret"])
def test_a_secret_named_after_a_digest_word_is_not_a_name_key(key: str) -> None:
    assert not filters.is_name_key(key)


def test_a_digest_under_a_digest_key_is_dropped_and_the_secret_kept_through_the_engine() -> None:
    digest = "".join(_RNG3.choice("0123456789abcdef") for _ in range(64))
    assert _rules_found(f"ADMIN_TOKEN_SHA256={digest}\n") == []
    assert _rules_found(f'{{"apiKeySha256": "{digest}"}}\n') == []
    assert _rules_found(f"ADMIN_TOKEN={_CURSOR[:40]}\n") != []


_HEX32 = "".join(_RNG3.choice("0123456789abcdef") for _ in range(32))


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ("pub" + _HEX32, "client_token"),
        ("pub" + _HEX32, None),
        (_HEX32, "algolia_search_only_key"),
        (_HEX32, "algolia_search_only_api_key"),
        ("6Lc" + _CURSOR[:37], "recaptcha_site_key"),
        (_HEX32, "mixpanel_project_token"),
        (_HEX32, "mixpanel_token"),
    ],
)
def test_public_client_keys(value: str, key: str | None) -> None:
    assert filters.is_public_client_key(value, key)


@pytest.mark.parametrize(
    ("value", "key"),
    [
        (_HEX32, "client_token"),
        (_HEX32, "algolia_admin_key"),
        (_HEX32, "recaptcha_secret_key"),
        ("pub" + _HEX32 + "0", "token"),
        (_HEX32, "mixpanel_api_secret"),
    ],
)
def test_admin_and_secret_keys_are_not_public_client_keys(value: str, key: str | None) -> None:
    assert not filters.is_public_client_key(value, key)


def test_public_client_keys_through_the_engine() -> None:
    assert _rules_found(f"rum:\n  client_token: pub{_HEX32}\n") == []
    assert _rules_found(f"search:\n  algolia_search_only_key: {_HEX32}\n") == []
    assert _rules_found(f"search:\n  algolia_admin_api_key: {_HEX32}\n") != []


_KEY_HEX = "".join(_RNG3.choice("0123456789abcdef") for _ in range(64))


@pytest.mark.parametrize(
    "head",
    [
        b"// RFC 8032 section 7.1, TEST 1\n",
        b"/** NIST SP 800-38D GCM test case 3 */\n",
        b'"""Test vectors for HKDF."""\n',
        b"# Known-answer tests (Wycheproof)\n",
    ],
)
def test_hex_values_in_a_file_citing_test_vectors(head: bytes) -> None:
    assert filters.is_cited_test_vector(_KEY_HEX, head)
    assert filters.is_cited_test_vector(_KEY_HEX.upper(), head)


def test_values_that_are_not_hex_or_pages_that_cite_nothing_are_not_vectors() -> None:
    assert not filters.is_cited_test_vector(_CURSOR[:40], b"// RFC 8032\n")
    assert not filters.is_cited_test_vector(_KEY_HEX, b"// the deploy key, do not share\n")
    assert not filters.is_cited_test_vector(_KEY_HEX, b"// DRFC8032X\n")


def test_a_cited_vector_is_dropped_in_a_test_path_only_through_the_engine() -> None:
    text = f'// RFC 8032 section 7.1, TEST 1\nconst SECRET_KEY: &str = "{_KEY_HEX}";\n'
    assert _rules_found(text, "crates/ed25519/tests/rfc8032.rs") == []
    assert _rules_found(text, "src/keys.rs") != []  # outside tests a citation is no excuse
    plain = f'const SECRET_KEY: &str = "{_KEY_HEX}";\n'
    assert _rules_found(plain, "crates/ed25519/tests/keys.rs") != []


def test_posthog_project_keys_are_public_and_personal_keys_are_not() -> None:
    body = "".join(_RNG3.choice(string.ascii_letters + string.digits) for _ in range(43))
    assert filters.is_public_client_key("phc_" + body, "posthog_key")
    assert not filters.is_public_client_key("phx_" + body, "posthog_key")
    assert _rules_found(f"POSTHOG_KEY = 'phc_{body}'\n") == []


def test_the_tutorials_totp_secret_is_a_documented_example() -> None:
    assert filters.is_documented_example("JBSWY3DPEHPK3PXP")
    assert _rules_found('OTP_SECRET = "JBSWY3DPEHPK3PXP"\n', "app/mfa_demo.py") == []
    assert _rules_found('OTP_SECRET = "KRUGS4ZANFZSA5DIMFXQ"\n', "app/mfa.py") != []


# ---------------------------------------------------------------------------------------------------------
# Round four: classes found in real packages' source distributions (benchmarks/scan_packages.py, dev half)
# ---------------------------------------------------------------------------------------------------------


def _b64url(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


_HEADER = _b64url('{"alg":"HS256","typ":"JWT"}')
_SIGNATURE = "Qm9nVXNTaWduYXR1cmVGb3JUZXN0c19MckNp9x7"
_CLAIMS = _b64url('{"sub":"u-4821","exp":1700000000}')


@pytest.mark.parametrize(
    "value",
    [
        _HEADER,  # a header alone
        _b64url('{"alg":"HS2'),  # a cut header
        _HEADER + "." + _b64url('{"zq":"wv"}'),  # no signature
        _HEADER + "." + _b64url('{"a":"b"}') + "." + _SIGNATURE,  # payload too short for the jwt rule
        _HEADER + "." + _b64url('{"q":"r","s":"tuvwxyz0123"}') + "." + _SIGNATURE,  # one-letter claims
        "Zm9vYmFy." + _CLAIMS + "." + _SIGNATURE,  # junk header
    ],
)
def test_jose_headers_and_malformed_tokens_are_fragments(value: str) -> None:
    assert filters.is_jose_fragment(value)


def test_a_whole_jwt_with_claims_and_values_that_are_no_jose_are_kept() -> None:
    whole = _HEADER + "." + _CLAIMS + "." + _SIGNATURE
    assert not filters.is_jose_fragment(whole)
    assert not filters.is_jose_fragment("Xk9mP2vLq7Rt.Wn4bZ8cY1dHs.Jf6gT3uV0eKa")
    assert not filters.is_jose_fragment("eyJhbGciOiJIUzI1NiJ9".replace("eyJ", "abc"))


def test_a_jose_fragment_under_a_generic_key_is_not_reported() -> None:
    text = 'token = "' + _HEADER + "." + _b64url('{"a":"b"}') + "." + _SIGNATURE + '"\n'
    assert _rules_found(text, "src/app.py") == []


@pytest.mark.parametrize(
    "value",
    [
        "5/m/user",
        "20/m/ip,5/m/key",
        "realms/{realm-name}/protocol/openid-connect/token",
        "ACCESS_TOKEN_{}",
        "header.%s.signature",
        "/users/<user_id>/password",
        "Session.Token:%(name)s",
    ],
)
def test_words_numbers_and_templates_are_not_values(value: str) -> None:
    assert filters.is_words_and_numbers(value)


@pytest.mark.parametrize(
    "value",
    [
        "Xk9mP2vLq7Rt/Wn4bZ8cY1dHs",  # base64 with a slash: parts mix case and digits
        "hR7/kq2+Zp0w",
        "winter-blanket-crowd",  # dashes only: the identifier filter's case, not this one
        "qzvx/brtl/mnkp",  # letter runs that read as no word
        "Winter.2024",  # one word and a number: a weak password, still a password
        "abc123def456",
    ],
)
def test_values_with_generated_parts_are_not_words_and_numbers(value: str) -> None:
    assert not filters.is_words_and_numbers(value)


def test_code_operators_are_expressions_and_symbol_passwords_are_not() -> None:
    assert filters.is_code_expression("+(r||L.ACCESS_TOKEN||")
    assert filters.is_code_expression("a && b")
    assert filters.is_code_expression("(t) => t.secret")
    assert not filters.is_code_expression("p4|Zq&7!vX=9")
    assert not filters.is_code_expression("Xk9mP2vLq7Rt+Wn4bZ8c")


def test_plain_urls_are_addresses_and_urls_with_credentials_are_not() -> None:
    assert filters.is_plain_url("http://[fd00:ec2::254]/latest/api/token")
    assert filters.is_plain_url("https://auth.internal.corp/oauth/token")
    assert not filters.is_plain_url("https://deploy:Xk9mP2vLq7Rt@git.internal.corp/repo")
    assert not filters.is_plain_url("https://hooks.internal.corp/services?token=Xk9mP2vLq7RtWn4b")


def test_a_value_that_spells_its_key_is_a_stand_in() -> None:
    assert filters.echoes_key("awsimdsv2sessiontoken", "aws_imdsv2_session_token")
    assert filters.echoes_key("fake-stripe-api-key-value", "stripe_api_key")
    assert not filters.echoes_key("token", "token")  # too short to judge
    assert not filters.echoes_key("Xk9mP2vLq7RtWn4b", "session_token")
    assert filters.key_says_no_secret("awsimdsv2sessiontoken", "aws_imdsv2_session_token")


def test_snake_case_dollar_variables_are_references() -> None:
    assert filters.is_reference("$ac_pwd")
    assert filters.is_reference("$db_pass_2")
    assert not filters.is_reference("$Xk9mP2vLq_7Rt")


def test_a_bcrypt_salt_is_a_hash_family_value() -> None:
    salt = "$2b$12$" + "Qm9nVXNTYWx0Rm9yVGVzdH"  # 22 characters of bcrypt's base64, made up
    assert filters.is_password_hash(salt)
    assert not filters.is_password_hash("$2b$12$" + "Qm9nVXNT")


def test_a_pem_header_and_footer_around_code_hold_no_key() -> None:
    code = (
        '-----BEGIN RSA PRIVATE KEY-----\\n" + "\\n".join(wrap(private_key, 64)) + "\\n'
        "-----END RSA PRIVATE KEY-----"
    )
    assert filters.is_pem_without_body(code)
    keyish = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIKq9ZtR3vWx8yN2bLm5pQs7dF4gHj6kXc1aE0uYiOp3T\n-----END PRIVATE KEY-----"
    assert not filters.is_pem_without_body(keyish)
    src = (
        "def wrap_key(private_key, heads):\n"
        '    return "-----BEGIN RSA PRIVATE KEY-----\\n" + "\\n".join(wrap(private_key, 64)) '
        '+ "\\n-----END RSA PRIVATE KEY-----\\n"\n'
    )
    assert _rules_found(src, "src/saml/utils.py") == []
    assert _rules_found(keyish, "src/keys.py") == ["private-key"]


def test_a_leading_underscore_camel_name_is_an_identifier() -> None:
    assert filters.is_identifier("_proxySecret")
    assert not filters.is_identifier("_xK9mPvLqRt")


def test_a_value_written_three_times_in_a_test_file_is_its_fixture() -> None:
    value = "Hq7ZxWm2KvRtLp9sNc4Bd"
    once = f'API_TOKEN = "{value}"\n'
    thrice = once + f'client(token="{value}")\nassert seen == "{value}"\n'
    assert _rules_found(thrice, "tests/test_client.py") == []
    assert _rules_found(once, "tests/test_client.py") != []
    assert _rules_found(thrice, "src/client.py") != []  # outside tests a repeated value is still a leak


def test_an_accented_example_pair_is_still_an_example_pair() -> None:
    assert filters.is_example_pair("%C3%BCser", "p%C3%A4ssword")
    assert filters.is_example_pair("üser", "pässwörd")
    assert not filters.is_example_pair("üser", "Xk9mP2vLq7Rt")


_MODULE = '''"""An infrastructure module."""

DOCUMENTATION = r\'\'\'
options:
  api_token:
    description: The token.
\'\'\'

EXAMPLES = r\'\'\'
- name: Create a monitor
  acme.cloud.monitor:
    api_token: "Hq7ZxWm2KvRtLp9sNc4BdQe"
\'\'\'

API_TOKEN = "Wn4bZ8cY1dHsJf6gT3uV0eKaPq"
'''


def test_a_string_named_as_documentation_is_documentation() -> None:
    data = _MODULE.encode()
    assert filters.in_named_doc_string(data, data.index(b"Hq7Zx"))
    assert not filters.in_named_doc_string(data, data.index(b"Wn4bZ"))  # a secret assigned to a name
    found = scan(data, "plugins/modules/monitor.py")
    assert [hit.secret for hit in found] == ["Wn4bZ8cY1dHsJf6gT3uV0eKaPq"]


@pytest.mark.parametrize(
    "value",
    [
        "[System.Net.CredentialCache",
        "[Acme.AccessToken.TokenUtil",
        ":DefaultCredentials",
        ":GetTokenPrivileges(",
        "$Params.",
        "$ProxyPassword",
    ],
)
def test_dotnet_type_literals_members_and_variables_are_code(value: str) -> None:
    assert filters.is_dotnet_code(value)


@pytest.mark.parametrize("value", ["$Xk9mP2vLq7Rt", "[Xk9mP2vLq7Rt", ":Xk9mP2vLq7Rt"])
def test_random_values_after_a_dollar_or_bracket_are_not_dotnet_code(value: str) -> None:
    assert not filters.is_dotnet_code(value)


@pytest.mark.parametrize("value", ["#00d6b2", "#fa3", "#0a0b0c80", ":before", "::after", ":hover"])
def test_css_colours_and_pseudo_classes_are_stylesheet_values(value: str) -> None:
    assert filters.is_css_value(value)
    assert filters.is_not_a_value(value, shannon_entropy(value))


def test_a_random_value_after_a_hash_is_not_a_colour() -> None:
    assert not filters.is_css_value("#Xk9mP2vLq7")
    assert not filters.is_css_value("#00d6b2e")


def test_a_parameter_name_and_equals_sign_is_a_prefix() -> None:
    assert filters.is_parameter_prefix("access_token=")
    assert filters.is_parameter_prefix("?api_key=")
    assert not filters.is_parameter_prefix("access_token=Xk9mP2vLq7Rt")


@pytest.mark.parametrize(
    "value",
    ["list[FleetCredentialDetails]", "dict(str, SecretRule)", "V1SecretVolumeSource", "V2beta1TokenStatus"],
)
def test_type_names_written_as_strings_are_types(value: str) -> None:
    assert filters.is_type_name(value)


def test_random_values_in_brackets_are_not_types() -> None:
    assert not filters.is_type_name("list[Xk9mP2vLq7RtWn4b]")
    assert not filters.is_type_name("V1Xk9mP2vLq7Rt")


def test_powershell_cmdlets_and_hashtables_are_code() -> None:
    assert filters.is_dotnet_code("(ConvertTo-SecureString")
    assert filters.is_dotnet_code("@{type")
    assert filters.is_dotnet_code("$replicaSqlCredential")
    assert filters.is_dotnet_code("[System.IntPtr")


def test_a_url_whose_query_is_words_is_an_address() -> None:
    assert filters.is_plain_url(
        "https://id.example.org/oauth/authorize?scope=wallet:user:read+wallet:user:email"
    )
    assert not filters.is_plain_url("https://id.example.org/cb?token=Xk9mP2vLq7Rt")
    assert not filters.is_plain_url("https://id.example.org/cb?state=Xk9mP2vLq7RtWn4b")


def test_templates_and_routes_with_api_versions_are_words() -> None:
    assert filters.is_words_and_numbers("{}/ocid1/{}")
    assert filters.is_words_and_numbers("v1/objects/encryption-keys")
    assert filters.is_words_and_numbers("resource/v2.2/")


def test_a_document_path_with_indexes_is_an_identifier() -> None:
    assert filters.is_identifier("Jobs[-1].JobId")
    assert filters.is_identifier("items[*].name")
    assert not filters.is_identifier("Xk9m[0]P2vLq7Rt")


def test_the_storage_emulators_account_key_is_a_documented_example() -> None:
    key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
    assert filters.is_documented_example(key)


def test_an_access_key_id_in_a_signed_requests_scope_is_public() -> None:
    key_id = "ASIA" + "QXV4TZ7KM2PLR5WN"  # synthetic
    assert filters.is_signed_request_key_id("/20231001/us-east-1/s3/aws4_request")
    assert not filters.is_signed_request_key_id('", "secret": "x"')
    form = f'{{"name": "x-amz-credential", "value": "{key_id}/20231001/us-east-1/s3/aws4_request"}}\n'
    assert "aws-access-key-id" not in _rules_found(form, "cassettes/upload.json")
    assert "aws-access-key-id" in _rules_found(f'aws_access_key_id = "{key_id}"\n', "deploy/config.py")


def test_an_idempotency_uuid_and_a_cache_key_name_no_secret() -> None:
    uuid = "3f2b8c1e-9a4d-4e7b-b6c2-5d1e8f0a7c93"
    assert filters.key_says_no_secret(uuid, "client_request_token")
    assert filters.key_says_no_secret(uuid, "idempotency_key")
    assert not filters.key_says_no_secret(uuid, "client_token")  # Vault's login token may be a UUID
    assert filters.key_says_no_secret("a3f9c2e18b7d4c6f9e0a1b2c3d4e5f6a7b8c9d0e", "token_cache_key")


def test_real_key_material_in_every_encoding_keeps_its_body() -> None:
    """Keys made at test time (never committed): PEM as is, JSON-escaped, concatenated Java strings and a
    Python triple-quoted string all keep a base64 run, so is_pem_without_body never drops one."""
    rsa = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.rsa")
    ec = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.ec")
    ed25519 = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.ed25519")
    serialization = pytest.importorskip("cryptography.hazmat.primitives.serialization")
    keys = [
        rsa.generate_private_key(65537, 2048),
        ec.generate_private_key(ec.SECP256R1()),
        ed25519.Ed25519PrivateKey.generate(),
    ]
    for key in keys:
        for fmt in (serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.OpenSSH):
            pem = key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()
            lines = pem.strip().split("\n")
            for text in (
                pem,
                '{"private_key": "' + pem.replace("\n", "\\n") + '"}\n',
                "String key =\n" + " +\n".join('    "' + line + '\\n"' for line in lines) + ";\n",
                'KEY = """' + pem + '"""\n',
            ):
                assert "private-key" in _rules_found(text, "tests/fixtures/keys.txt")


def test_a_value_introduced_as_an_example_is_one() -> None:
    assert filters.follows_example_marker("The client secret of the app, e.g.: ")
    assert filters.follows_example_marker('For example, "')
    assert filters.follows_example_marker("Example: `")
    assert not filters.follows_example_marker('client_secret = "')
    assert not filters.follows_example_marker("example_token = '")
    token = "ghp_" + "Qm9nVXNTb2tlbkZvclRlc3RzTHJDaTAxMjM0"
    assert _rules_found(f"The token, e.g.: {token}\n", "src/models.py") == []
    assert filters.context_says_no_secret("ASIAQXV4TZ7KM2PLR5WN", "", "/20231001/us-east-1/s3/aws4_request")


def test_an_example_marker_counts_on_the_value_s_own_line_and_never_for_key_material() -> None:
    """``Example:`` closing the line above says nothing of the next line's value; and a private key is
    found wherever it sits (key material committed on purpose, in docs too, is reported low, not dropped)."""
    assert not filters.follows_example_marker("Example:\n")
    assert not filters.follows_example_marker("for example,\n  ")
    assert filters.follows_example_marker("first line\nFor example: ")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    for text in (f"Example: {pem}", f"For example:\n\n{pem}"):
        assert _rules_found(text, "docs/tls.md") == ["private-key"], text[:20]
