"""The offline checks of lr_ci.secret_rules.verify, on values generated here by each provider's algorithm.

Every token below is synthetic: made by these helpers from a seeded random generator, never issued by a
provider. A value whose check holds is VERIFIED, the same value with one character changed is FAILED,
a documented example is EXAMPLE, and a value the check does not cover is UNCHECKED.
"""

from __future__ import annotations

import base64
import json
import random
import zlib

import pytest

from lr_ci.report import Severity
from lr_ci.secret_rules.engine import Rule, RuleSet, default_rules, rule_data, scan
from lr_ci.secret_rules.verify import (
    VERIFIERS,
    Verdict,
    atlassian_crc32,
    base62,
    discord_user_id,
    github_crc32,
    grafana_crc32,
    jwt,
    pypi_macaroon,
    verify,
)

B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
B64URL = B62 + "-_"


def _random(seed: int, alphabet: str, length: int) -> str:
    pick = random.Random(seed)
    return "".join(pick.choice(alphabet) for _ in range(length))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def github_token(prefix: str, seed: int) -> str:
    """A token of GitHub's (and npm's) format: 4-char prefix, 30 random base62, base62 CRC32 of those 30."""
    body = _random(seed, B62, 30)
    return prefix + body + base62(zlib.crc32(body.encode()))


def atlassian_token(prefix: str, seed: int) -> str:
    head = prefix + _random(seed, B64URL, 180) + "="
    return head + f"{zlib.crc32(head.encode()):08X}"


def grafana_token(seed: int) -> str:
    head = "glsa_" + _random(seed, B62, 32)
    return head + "_" + zlib.crc32(head.encode()).to_bytes(4, "little").hex()


def _field(kind: int, value: bytes) -> bytes:
    assert kind < 128 and len(value) < 128 * 128
    length = len(value)
    varint = bytes([length]) if length < 128 else bytes([(length & 0x7F) | 0x80, length >> 7])
    return bytes([kind]) + varint + value


def macaroon(
    location: bytes = b"pypi.org",
    caveats: tuple[bytes, ...] = (b'{"version": 1, "permissions": "user"}',),
    *,
    signature_bytes: int = 32,
    seed: int = 1,
) -> bytes:
    """A macaroon in the v2 binary format, as PyPI issues them (identifier a UUID, caveats JSON)."""
    pick = random.Random(seed)
    identifier = "-".join(
        _random(seed + n, "0123456789abcdef", size) for n, size in enumerate((8, 4, 4, 4, 12))
    )
    data = b"\x02" + _field(1, location) + _field(2, identifier.encode()) + b"\x00"
    for caveat in caveats:
        data += _field(2, caveat) + b"\x00"
    data += b"\x00" + _field(6, bytes(pick.randrange(256) for _ in range(signature_bytes)))
    return data


def pypi_token(data: bytes) -> str:
    return "pypi-" + _b64url(data)


def discord_token(user_id: str, seed: int) -> str:
    first = base64.b64encode(user_id.encode()).decode().rstrip("=")
    return f"{first}.{_random(seed, B64URL, 6)}.{_random(seed + 1, B64URL, 38)}"


def jwt_token(header: object, payload: object, seed: int = 3) -> str:
    parts = [_b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, payload)]
    return ".".join([*parts, _random(seed, B64URL, 43)])


def _changed(token: str, index: int) -> str:
    """``token`` with the character at ``index`` replaced by another of the same class."""
    old = token[index]
    new = "7" if old != "7" and old.isdigit() else ("Q" if old != "Q" else "R")
    if old.islower():
        new = "q" if old != "q" else "r"
    return token[:index] + new + token[index + 1 :]


def test_the_verifier_names_are_those_the_rules_files_use() -> None:
    assert set(VERIFIERS) == {
        "github-crc32",
        "atlassian-crc32",
        "grafana-crc32",
        "pypi-macaroon",
        "discord-user-id",
        "der-private-key",
        "jwt",
    }


def test_base62_is_most_significant_first_and_padded_to_six() -> None:
    assert base62(0) == "000000"
    assert base62(61) == "00000z"
    assert base62(62) == "000010"
    assert base62(2**32 - 1) == "4gfFC3"


def test_github_checksum_matches_the_base62_token_spec_example() -> None:
    """The spec (therootcompany/base62-token.js README) gives ``ghp_`` + body + ``0mLq17``: the algorithm
    re-derives its checksum; the value itself is a documented example, so it is dropped."""
    body, checksum = "zQWBuTSOoRi4A9spHcVY5ncnsDkxkJ", "0mLq17"
    assert base62(zlib.crc32(body.encode())) == checksum
    assert github_crc32("ghp_" + body + checksum) is Verdict.EXAMPLE


def test_githubs_documented_oauth_example_is_an_example_though_its_checksum_fails() -> None:
    body, tail = "16C7e42F292c6912E7710c838347Ae", "178B4a"
    assert base62(zlib.crc32(body.encode())) != tail
    assert github_crc32("gho_" + body + tail) is Verdict.EXAMPLE


@pytest.mark.parametrize("prefix", ["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "npm_"])
@pytest.mark.parametrize("seed", range(5))
def test_github_and_npm_tokens_verify_and_one_changed_character_fails(prefix: str, seed: int) -> None:
    token = github_token(prefix, seed)
    assert github_crc32(token) is Verdict.VERIFIED
    for index in (4, 20, 33, 34, 39):
        assert github_crc32(_changed(token, index)) is Verdict.FAILED


def test_github_tokens_of_other_lengths_or_alphabets_are_unchecked() -> None:
    token = github_token("ghs_", 9)
    assert github_crc32(token + "A") is Verdict.UNCHECKED  # ghs_ tokens may be longer: no check
    assert github_crc32(token[:-1]) is Verdict.UNCHECKED
    assert github_crc32("ghp_" + "x" * 35 + "-") is Verdict.UNCHECKED
    assert github_crc32("github_pat_" + _random(1, B62, 29)) is Verdict.UNCHECKED


def test_a_random_github_shaped_value_fails_the_checksum() -> None:
    """What peers' test data holds: random characters in the token's shape."""
    failed = [github_crc32("ghp_" + _random(seed, B62, 36)) for seed in range(200)]
    assert failed.count(Verdict.FAILED) == 200


@pytest.mark.parametrize("prefix", ["ATATT3xFfGF0", "ATBB", "ATCTT3xFfGN0"])
def test_atlassian_tokens_verify_and_a_changed_character_fails(prefix: str) -> None:
    token = atlassian_token(prefix, 4)
    assert atlassian_crc32(token) is Verdict.VERIFIED
    assert atlassian_crc32(token.replace("=", "%3D")) is Verdict.VERIFIED  # pasted into a URL
    assert atlassian_crc32(_changed(token, 30)) is Verdict.FAILED
    assert atlassian_crc32(token[:-8] + token[-8:].lower()) is Verdict.FAILED  # upper-case hex only
    assert atlassian_crc32(token[:-8] + "ZZZZZZZZ") is Verdict.FAILED


def test_atlassian_values_without_a_known_prefix_are_unchecked() -> None:
    assert atlassian_crc32("ATXX" + _random(2, B62, 40)) is Verdict.UNCHECKED
    assert atlassian_crc32("ATATT3x") is Verdict.UNCHECKED


def test_grafana_service_account_tokens_verify_little_endian() -> None:
    token = grafana_token(5)
    assert grafana_crc32(token) is Verdict.VERIFIED
    big_endian = f"{zlib.crc32(token[:37].encode()):08x}"
    assert big_endian != token[38:]
    assert grafana_crc32(token[:38] + big_endian) is Verdict.FAILED  # the Atlassian rendering is wrong here
    assert grafana_crc32(_changed(token, 10)) is Verdict.FAILED
    assert grafana_crc32(token[:38] + "zzzzzzzz") is Verdict.FAILED
    assert grafana_crc32(token + "0") is Verdict.UNCHECKED
    assert grafana_crc32("glc_" + token[4:]) is Verdict.UNCHECKED


@pytest.mark.parametrize("location", [b"pypi.org", b"test.pypi.org"])
@pytest.mark.parametrize(
    "caveats",
    [
        (),
        (b'{"version": 1, "permissions": "user"}',),
        (
            b'{"version": 1, "permissions": {"projects": ["lr-ci"]}}',
            b'{"nbf": 1700000000, "exp": 1800000000}',
        ),
        (b"x" * 200,),  # a caveat longer than 127 bytes: a two-byte length
    ],
)
def test_pypi_macaroons_naming_pypi_verify(location: bytes, caveats: tuple[bytes, ...]) -> None:
    assert pypi_macaroon(pypi_token(macaroon(location, caveats))) is Verdict.VERIFIED


def test_pypi_values_that_cannot_be_a_macaroon_fail() -> None:
    good = macaroon()
    assert pypi_macaroon(pypi_token(macaroon(b"example.org"))) is Verdict.FAILED
    assert pypi_macaroon(pypi_token(macaroon(signature_bytes=31))) is Verdict.FAILED
    assert pypi_macaroon(pypi_token(good + b"\x00")) is Verdict.FAILED  # bytes after the signature
    assert pypi_macaroon(pypi_token(good[:-5])) is Verdict.FAILED  # cut short
    assert pypi_macaroon(pypi_token(b"\x01" + good[1:])) is Verdict.FAILED  # a v1 version byte
    assert pypi_macaroon("pypi-AgEIcHlwaS5vcmc" + "A" * 120) is Verdict.FAILED  # the prefix, then filler
    assert pypi_macaroon("pypi-" + "!" * 40) is Verdict.FAILED  # not base64
    assert pypi_macaroon("pypi-A") is Verdict.FAILED
    assert pypi_macaroon("pipy-" + pypi_token(good)[5:]) is Verdict.UNCHECKED


@pytest.mark.parametrize("user_id", ["80351110224678912", "1094561029395460234", "10945610293954602345"])
def test_discord_bot_tokens_whose_first_part_is_a_user_id_verify(user_id: str) -> None:
    assert discord_user_id(discord_token(user_id, 6)) is Verdict.VERIFIED


def test_discord_values_whose_first_part_is_no_user_id_fail() -> None:
    assert discord_user_id(discord_token("1234", 6)) is Verdict.FAILED  # too short for a snowflake
    assert discord_user_id(discord_token("0123456789012345678", 6)) is Verdict.FAILED
    assert discord_user_id(discord_token("not-a-number-at-all", 6)) is Verdict.FAILED
    assert (
        discord_user_id("MTIzNDU2Nzg5MDEyMzQ1Njc4OTA!.abcdef.ghijklmnopqrstuvwxyz0123456") is Verdict.FAILED
    )
    assert discord_user_id("no.dots") is Verdict.UNCHECKED


def _der_keys() -> dict[str, bytes]:
    """Private keys as DER in every form the rule reads, made here with cryptography."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519

    none = serialization.NoEncryption()
    der = serialization.Encoding.DER
    pkcs8, legacy = serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL
    keys: dict[str, bytes] = {}
    for bits in (1024, 2048, 3072, 4096):
        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        keys[f"pkcs8-rsa{bits}"] = rsa_key.private_bytes(der, pkcs8, none)
        keys[f"pkcs1-rsa{bits}"] = rsa_key.private_bytes(der, legacy, none)
    dsa_key = dsa.generate_private_key(2048)
    keys["pkcs8-dsa"] = dsa_key.private_bytes(der, pkcs8, none)
    keys["openssl-dsa"] = dsa_key.private_bytes(der, legacy, none)
    keys["pkcs8-x25519"] = x25519.X25519PrivateKey.generate().private_bytes(der, pkcs8, none)
    keys["pkcs8-x448"] = x448.X448PrivateKey.generate().private_bytes(der, pkcs8, none)
    for curve in (ec.SECP256R1(), ec.SECP384R1(), ec.SECP521R1(), ec.SECP256K1()):
        for _ in range(4):  # the first byte of the key shows in the base64 of the fixed bytes before it
            ec_key = ec.generate_private_key(curve)
            keys[f"pkcs8-{curve.name}-{_}"] = ec_key.private_bytes(der, pkcs8, none)
            keys[f"sec1-{curve.name}-{_}"] = ec_key.private_bytes(der, legacy, none)
    keys["pkcs8-ed25519"] = ed25519.Ed25519PrivateKey.generate().private_bytes(der, pkcs8, none)
    keys["pkcs8-ed448"] = ed448.Ed448PrivateKey.generate().private_bytes(der, pkcs8, none)
    return keys


def test_der_private_keys_in_base64_verify_and_cut_or_joined_ones_fail() -> None:
    from lr_ci.secret_rules.verify import der_private_key

    for form, der in _der_keys().items():
        text = base64.b64encode(der).decode()
        assert der_private_key(text) is Verdict.VERIFIED, form
        assert der_private_key(text[:-8]) is Verdict.FAILED, form  # cut short
        assert der_private_key(base64.b64encode(der + der).decode()) is Verdict.FAILED, form  # two joined
    assert der_private_key("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC!!!") is Verdict.FAILED  # not base64
    assert der_private_key(base64.b64encode(b"\x02\x01\x00").decode()) is Verdict.FAILED  # no SEQUENCE


def test_the_shipped_der_key_rule_finds_every_form_and_no_public_key() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    rules = default_rules()
    for form, der in _der_keys().items():
        text = base64.b64encode(der).decode()
        hits = [h for h in scan(f'KEY = "{text}"\n'.encode(), "app/settings.py", rules) if h.secret == text]
        assert [(h.rule.id, h.severity.value) for h in hits] == [("private-key-der-base64", "critical")], form
    text = base64.b64encode(_der_keys()["pkcs8-rsa2048"]).decode()
    wrapped_64 = [text[i : i + 64] for i in range(0, len(text), 64)]
    wrapped_76 = [text[i : i + 76] for i in range(0, len(text), 76)]  # the `base64` command's output
    for name, data in {
        "base64 output": "\n".join(wrapped_76) + "\n",
        "a YAML block": "signing_key: |\n  " + "\n  ".join(wrapped_64) + "\nnext_key: 1\n",
        "JSON escapes": '{"key": "' + "\\n".join(wrapped_64) + '"}\n',
    }.items():
        hits = [
            h for h in scan(data.encode(), "deploy/values.yaml", rules) if h.rule.id.startswith("private")
        ]
        assert [(h.rule.id, h.severity.value) for h in hits] == [("private-key-der-base64", "critical")], name
    for indent in ("", "  ", "      ", "\t"):  # a PEM body is the private-key rule's, once
        pem = f"{indent}-----BEGIN PRIVATE KEY-----\n{indent}" + f"\n{indent}".join(wrapped_64)
        pem += f"\n{indent}-----END PRIVATE KEY-----\n"
        assert [h.rule.id for h in scan(pem.encode(), "deploy/key.yaml", rules)] == ["private-key"], indent
    public = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    spki = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    pkcs1 = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    for der in (spki, pkcs1):
        line = f"PUBLIC_KEY={base64.b64encode(der).decode()}\n".encode()
        assert [h.rule.id for h in scan(line, "app/settings.py", rules)] == []


def test_jwts_with_json_header_and_payload_verify() -> None:
    token = jwt_token(
        {"alg": "RS256", "kid": "k1"}, {"iss": "https://auth.internal", "sub": "svc-7", "exp": 1}
    )
    assert jwt(token) is Verdict.VERIFIED
    assert jwt(token + ".more.parts") is Verdict.VERIFIED  # a JWE has five parts: header and payload lead


def test_jwts_that_do_not_decode_fail() -> None:
    assert jwt(jwt_token({"typ": "JWT"}, {"sub": "x"})) is Verdict.FAILED  # no alg
    assert jwt(jwt_token(["alg"], {"sub": "x"})) is Verdict.FAILED  # a header that is no object
    assert jwt(jwt_token({"alg": "HS256"}, "just a string")) is Verdict.FAILED
    header = _b64url(b'{"alg":"HS256"}')
    assert jwt(f"{header}.eyJub3QganNvbg.{_random(1, B64URL, 40)}") is Verdict.FAILED  # payload not JSON
    assert jwt(f"{header}.eyJ!!!.sig") is Verdict.FAILED
    assert jwt(header + ".eyJzdWIiOiJ4In0") is Verdict.UNCHECKED  # two parts: not a JWT


@pytest.mark.parametrize(
    "payload",
    [
        {"sub": "1234567890", "name": "John Doe", "iat": 1516239022},  # jwt.io
        {"sub": "1234567890", "name": "John Doe", "admin": True, "iat": 1516239022},
        {"iss": "supabase-demo", "role": "anon", "exp": 1983812996},
        {"iss": "joe", "exp": 1300819380, "http://example.com/is_root": True},  # RFC 7519
        {"loggedInAs": "admin", "iat": 1422779638},  # Wikipedia
    ],
)
def test_well_known_example_jwts_are_examples(payload: dict[str, object]) -> None:
    assert jwt(jwt_token({"alg": "HS256", "typ": "JWT"}, payload)) is Verdict.EXAMPLE


def test_verify_dispatches_by_name_and_refuses_an_unknown_one() -> None:
    assert verify("grafana-crc32", grafana_token(1)) is Verdict.VERIFIED
    with pytest.raises(KeyError):
        verify("nope", "x")


def _table(**extra: object) -> dict[str, object]:
    return {
        "id": "t",
        "description": "t",
        "severity": "high",
        "regex": "(?P<secret>ghp_[0-9A-Za-z]{36})",
        "keywords": ["ghp_"],
        **extra,
    }


def test_the_generator_refuses_an_unknown_verifier_name() -> None:
    with pytest.raises(ValueError, match="unknown verify = 'crc64'"):
        rule_data(_table(verify="crc64"))
    assert rule_data(_table(verify="github-crc32"))["verify"] == "github-crc32"


def _rules(verifier: str | None = "github-crc32", *, generic: bool = False) -> RuleSet:
    rule = Rule(
        id="gh",
        description="GitHub token",
        severity=Severity.HIGH,
        pattern=r"(?P<secret>(?:ghp|npm)_[0-9A-Za-z]{36})",
        keywords=("ghp_", "npm_"),
        max_width=40,
        generic=generic,
        verify=verifier,
    )
    return RuleSet((rule,), ())


def test_the_engine_makes_a_verified_token_critical_wherever_it_is() -> None:
    token = github_token("ghp_", 11)
    for path in ("app/settings.py", "tests/test_settings.py", "docs/setup.md"):
        [hit] = scan(f"TOKEN = '{token}'\n".encode(), path, _rules())
        assert (hit.severity, hit.note) == (Severity.CRITICAL, "checksum verified")


def test_the_engine_lowers_a_failed_checksum_and_keeps_the_hit() -> None:
    token = _changed(github_token("npm_", 12), 10)
    [hit] = scan(f"//registry.npmjs.org/:_authToken={token}\n".encode(), ".npmrc", _rules())
    assert hit.severity is Severity.LOW
    assert hit.note == "checksum does not verify: likely an example or test value"
    assert hit.secret == token


def test_the_engine_drops_a_documented_example() -> None:
    example = "ghp_" + "zQWBuTSOoRi4A9spHcVY5ncnsDkxkJ0mLq17"
    assert list(scan(f"token: {example}\n".encode(), "app.yml", _rules())) == []


def test_a_rule_without_a_verifier_keeps_its_severity_outside_test_paths() -> None:
    token = "ghp_" + _random(13, B62, 36)
    [hit] = scan(f"t = '{token}'\n".encode(), "app/settings.py", _rules(None))
    assert (hit.severity, hit.note) == (Severity.HIGH, None)
    [hit] = scan(f"t = '{token}'\n".encode(), "app/tests/fixtures.py", _rules(None))
    assert hit.severity is Severity.LOW


def test_the_shipped_jwt_rule_verifies_and_drops_the_jwt_io_sample() -> None:
    good = jwt_token({"alg": "HS256", "typ": "JWT"}, {"sub": "svc-9", "iat": 1700000000})
    sample = jwt_token(
        {"alg": "HS256", "typ": "JWT"}, {"sub": "1234567890", "name": "John Doe", "iat": 1516239022}
    )
    hits = scan(f"a = '{good}'\nb = '{sample}'\n".encode(), "src/auth.py")
    assert [(h.rule.id, h.line, h.severity) for h in hits] == [("jwt", 1, Severity.CRITICAL)]


def test_a_documented_example_keeps_its_span_from_later_rules() -> None:
    """The jwt.io sample in a bearer header: the jwt rule drops it, and the generic bearer rule, later in
    the rules files, does not report the same value instead."""
    sample = jwt_token(
        {"alg": "HS256", "typ": "JWT"}, {"sub": "1234567890", "name": "John Doe", "iat": 1516239022}
    )
    assert list(scan(f"Authorization: Bearer {sample}\n".encode(), "src/client.py")) == []


def test_every_shipped_rule_with_a_verifier_shows_a_value_that_verifies() -> None:
    """A rule that names a check carries at least one true example whose check holds (critical), so the
    rules file shows what a real token of that format looks like (values made by the provider's algorithm,
    as the helpers above make them)."""
    from lr_ci.secret_rules.engine import default_rules

    verified = [rule for rule in default_rules().rules if rule.verify is not None]
    assert verified, "no shipped rule names a verifier"
    for rule in verified:
        severities = {
            hit.severity
            for example in rule.true_examples
            for hit in scan(example.encode(), "settings.cfg")
            if hit.rule.id == rule.id
        }
        assert Severity.CRITICAL in severities, (rule.id, rule.verify, severities)


def test_a_hit_made_without_a_severity_has_its_rules() -> None:
    """Callers that build hits by hand (tests of the history scan) need not know the policy."""
    from lr_ci.secret_rules.engine import Hit

    rule = _rules().rules[0]
    assert Hit(rule, "ghp_x", 1, 1).severity is Severity.HIGH
    assert Hit(rule, "ghp_x", 1, 1, severity=Severity.LOW).severity is Severity.LOW
