"""The honest evaluation corpus of issue 17: labelled secrets and look-alikes, split dev/test before tuning.

Why a second corpus: ``secret_corpus.py`` was written beside the rules and scores 1.000 on them; on data
nobody here wrote recall fell to 0.70. This corpus is written from other sources (the providers' documented
formats as collected in ``/work/research/issue17-providers.md`` sections 1-10, and the syntaxes users write),
without reading the rules, and is split into two halves **before** anyone tunes:

- ``dev``: tune on it, look at its misses and false alarms (``bench_secret_eval.py --half dev --show``);
- ``test``: report it, never look inside (the benchmark refuses ``--show`` for it).

The split is by a stable hash of a *group id*: (provider token type or look-alike family, syntax template).
So the test half holds (provider, syntax) combinations that the dev half does not: a rule tuned to a
provider's dev cases still meets that provider in other file syntaxes, and vice versa.

Every value is generated here from a fixed seed (no real issued token): random bodies in each provider's
alphabet and length, with VALID checksums where the format carries one (GitHub/npm CRC32 base62,
Atlassian/Bitbucket CRC32 hex, Grafana ``glsa_`` little-endian CRC32, PyPI/TestPyPI macaroons, Discord
snowflake ids, bech32 for Age keys), and test-mode keys labelled as secrets (a scanner must find them, at any
severity). Look-alikes are what real repositories hold: UUIDs, hashes, commit SHAs, password hashes under
password keys, data: URIs, lockfile integrity hashes, minified code, placeholders in each provider's own
shape, names of secrets, references, documented example values, example-domain URLs, XML schemas...

A case is (path, line, kind "secret"/"benign", family, label); ``text`` is what stands on that line (the
value itself, or its base64 in a Kubernetes ``data:`` map). A finding counts for a case when it is on the
case's path and line, at any severity; a finding on a line no case labels is a false alarm too.

Round four (``ROUND4_PREFIX``) adds generic secrets in 42 file syntaxes the corpus had no generic group
for (Dockerfile ENV/ARG, systemd units, Apache/nginx configs, C headers, fish/csh/cmd, R, Elixir, Clojure,
Lisp, Tcl, Erlang, VB.NET, Scala, Dart, Perl, Lua, Jenkinsfiles, tables, TSV/CSV, plists, properties,
kubectl, Ansible, SQL, logs, .git-credentials, pip.conf, Composer), each a secret group and a look-alike
group (placeholders, references, names, ids, hashes, paths, URLs under the same keys), split by the same
hash: written after the first test-half run, so those groups measure syntaxes the rules were not fitted to.

Round five (``ROUND5_PREFIX``) adds 40 more: the shapes round four left unread (C++/C#/Java initialiser
pairs, Python triple-quoted values, SQL INSERT/UPDATE rows, Swift/Objective-C ``forKey:`` and Keychain
``kSecValueData``, commands that store a secret: ``gh secret set``, ``heroku config:set``, ``fly secrets
set``, ``vercel env add``, ``doppler secrets set``, Markdown labels, YAML ``!!str`` tags) and syntaxes the
corpus lacked (C pointer and array declarations, Spring ``@Value`` defaults, Ruby ``ENV.fetch`` blocks,
Kotlin ``to`` pairs, JS ``Map`` entries, TOML literal strings, ``aws ssm put-parameter``, secrets piped to
``wrangler``/``gcloud``, ``netlify env:set``, Rust ``String::from``; and, added after the first tuning run,
tools given a password as an argument or directive: ``redis.conf``, ``redis-cli -a``, ``chpasswd``,
``sqlcmd -P``, ``ldapsearch -w``, ``zip -P``, ``wpa_supplicant`` ``psk``, ``rabbitmqctl``, ``mongodump -p``),
each with look-alikes under the same keys and the syntax's own (two names in a pair, a hash in the password
column, ``!secret``/``!vault``).

Round six (``ROUND6_PREFIX``) adds 23 more, written before their rules: the shapes round five's probes found
unread (Go ``cmp.Or(os.Getenv(...), "v")``, ``.pgpass`` lines, pgbouncer ``userlist.txt``, ``npm``/``yarn
config set`` of an auth token, C++ ``std::string`` constructors, triple-quoted keyword arguments, YAML
``!!binary``), command lines (``keytool -storepass``, ``docker run -e``, ``helm --set``, ``kubectl set env``,
``dotnet user-secrets set``, ``firebase functions:config:set``, ``mc alias set``, ``vault write``, ``az
login -p``), and two false-alarm kinds as look-alikes: products' sample passwords in compose files and
playbooks outside example paths (``minio123``, ``Cisco#123``) and a value in an Ansible module's
``EXAMPLES``.

Usage: ``build(root, "dev")`` writes the dev half's files under ``root`` and returns its cases;
``score(cases, found)`` compares with a set of (path, line) findings.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import string
import struct
import zlib
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

SEED = 17
"""Fixed: the corpus is the same bytes on every machine and every run."""

HALVES = ("dev", "test")

DIGITS = string.digits
UPPER = string.ascii_uppercase
LOWER = string.ascii_lowercase
B62 = DIGITS + UPPER + LOWER
B64URL = B62 + "-_"
B64 = B62 + "+/"
HEX = "0123456789abcdef"
HEXU = "0123456789ABCDEF"
B36L = DIGITS + LOWER
B36U = DIGITS + UPPER
B32 = UPPER + "234567"
B32L = LOWER + "234567"
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
LETTERS = UPPER + LOWER
AZURE = B62 + "_~.-"
WORDISH = B62 + "_"
BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
ALPHABETS = {
    "b62": B62,
    "b64url": B64URL,
    "b64": B64,
    "hex": HEX,
    "hexu": HEXU,
    "b36l": B36L,
    "b36u": B36U,
    "b32": B32,
    "b32l": B32L,
    "b58": B58,
    "let": LETTERS,
    "dig": DIGITS,
    "low": LOWER,
    "up": UPPER,
    "azure": AZURE,
    "word": WORDISH,
    "ah": "abcdefgh" + DIGITS,
}


@dataclass(frozen=True)
class Case:
    """One labelled line. ``text`` stands on ``line`` of ``path`` (1-based); ``group`` decides the half."""

    path: str
    line: int
    kind: str  # "secret", "benign", or "any" (beside a secret: a finding there neither counts nor hurts)
    family: str  # provider (secrets) or look-alike family (benign)
    label: str  # what it is, for --show
    text: str
    group: str
    syntax: str


@dataclass
class Score:
    cases: list[Case]
    found_lines: set[tuple[str, int]]
    missed: list[Case] = field(default_factory=list)
    flagged: list[Case] = field(default_factory=list)
    unlabelled: list[tuple[str, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        labelled = {(c.path, c.line) for c in self.cases}
        for case in self.cases:
            hit = (case.path, case.line) in self.found_lines
            if case.kind == "secret" and not hit:
                self.missed.append(case)
            if case.kind == "benign" and hit:
                self.flagged.append(case)
        self.unlabelled = sorted(self.found_lines - labelled)

    @property
    def positives(self) -> int:
        return sum(c.kind == "secret" for c in self.cases)

    @property
    def negatives(self) -> int:
        return sum(c.kind == "benign" for c in self.cases)

    @property
    def found(self) -> int:
        return self.positives - len(self.missed)

    @property
    def recall(self) -> float:
        return self.found / self.positives if self.positives else 1.0

    @property
    def false_alarms(self) -> int:
        return len(self.flagged) + len(self.unlabelled)

    @property
    def false_positive_rate(self) -> float:
        return self.false_alarms / self.negatives if self.negatives else 0.0

    def family_recall(self) -> dict[str, tuple[int, int]]:
        """Per family: (found, total) of the secrets."""
        out: dict[str, list[int]] = {}
        missed = {id(c) for c in self.missed}
        for case in self.cases:
            if case.kind == "secret":
                row = out.setdefault(case.family.split("/")[0], [0, 0])
                row[1] += 1
                row[0] += id(case) not in missed
        return {k: (v[0], v[1]) for k, v in sorted(out.items())}

    def family_false_alarms(self) -> dict[str, tuple[int, int]]:
        """Per look-alike family (placeholders as one): (flagged, total) of the look-alikes."""
        out: dict[str, list[int]] = {}
        flagged = {id(c) for c in self.flagged}
        for case in self.cases:
            if case.kind == "benign":
                row = out.setdefault(case.family.split("/")[0], [0, 0])
                row[1] += 1
                row[0] += id(case) in flagged
        return {k: (v[0], v[1]) for k, v in sorted(out.items())}


def score(cases: list[Case], found: set[tuple[str, int]]) -> Score:
    return Score(cases, found)


def half_of(group: str) -> str:
    """The half a group belongs to: a stable hash (sha256, not Python's salted ``hash``) of its id."""
    return HALVES[hashlib.sha256(group.encode()).digest()[0] & 1]


# --------------------------------------------------------------------------------------------------
# Values: a small spec language. "ghp_{b62:30}" = the literal then 30 random base62 characters;
# "{b62:20-40}" a length in a range; "{uuid}" a random UUID. Checksums are appended by ``post``.

_PIECE = re.compile(r"\{(\w+)(?::(\d+)(?:-(\d+))?)?\}")


def _pieces(spec: str) -> Iterator[tuple[str, str, int, int]]:
    """Yield ("lit", text, 0, 0) and ("gen", alphabet-name, lo, hi) pieces of a spec."""
    pos = 0
    for m in _PIECE.finditer(spec):
        if m.start() > pos:
            yield ("lit", spec[pos : m.start()], 0, 0)
        lo = int(m.group(2) or 0)
        yield ("gen", m.group(1), lo, int(m.group(3) or lo))
        pos = m.end()
    if pos < len(spec):
        yield ("lit", spec[pos:], 0, 0)


def _uuid(rng: random.Random) -> str:
    h = "".join(rng.choice(HEX) for _ in range(32))
    h = h[:12] + "4" + h[13:16] + rng.choice("89ab") + h[17:]
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _random_text(rng: random.Random, alphabet: str, n: int) -> str:
    """Random characters, redrawn until the string has no run of 4 equal characters and, for mixed
    alphabets of 12+ characters, at least two character classes (as real generated tokens have)."""
    while True:
        s = "".join(rng.choice(alphabet) for _ in range(n))
        if re.search(r"(.)\1\1\1", s):
            continue
        if n >= 12 and len(set(alphabet)) > 16:
            classes = sum(any(c in cls for c in s) for cls in (DIGITS, UPPER, LOWER))
            if classes < min(2, sum(any(c in cls for c in alphabet) for cls in (DIGITS, UPPER, LOWER))):
                continue
        return s


def fill(spec: str, rng: random.Random) -> str:
    out = []
    for kind, text, lo, hi in _pieces(spec):
        if kind == "lit":
            out.append(text)
        elif text == "uuid":
            out.append(_uuid(rng))
        else:
            out.append(_random_text(rng, ALPHABETS[text], rng.randint(lo, hi)))
    return "".join(out)


_PLACEHOLDER_STYLES = ("x", "seq", "pair", "zero", "ellipsis", "here", "a")
"""x-runs, sequential characters, "a1b2c3...", zeros, ``prefix...abc123xyz``, ``prefixYourAccessTokenHere``-
style words, and a run of one letter after the prefix (``AIzaaaaaaa...``)."""


def placeholder(spec: str, style: str, provider: str = "") -> str:
    """The spec's shape with every random piece filled by a placeholder pattern (never random).

    ``ellipsis`` and ``here`` keep only the literal prefix: ``sk-ant-...abc123xyz``,
    ``shpat_YourShopifyAccessTokenHere`` (what docs and READMEs write instead of a value)."""
    pieces = list(_pieces(spec))
    prefix = pieces[0][1] if pieces[0][0] == "lit" else ""
    if style == "ellipsis":
        return prefix + ("..." if prefix else "abc123...") + "abc123xyz"
    if style == "here":
        return (
            prefix
            + "Your"
            + "".join(w.capitalize() for w in re.split(r"[^a-z0-9]+", provider.lower()) if w)
            + "AccessTokenHere"
        )
    out: list[str] = []
    for kind, text, _lo, hi in pieces:
        if kind == "lit":
            out.append(text)
            continue
        if text == "uuid":
            out.append(
                {
                    "x": "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
                    "zero": "00000000-0000-0000-0000-000000000000",
                    "a": "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa",
                }.get(style, "12345678-1234-1234-1234-123456789012")
            )
            continue
        alphabet = ALPHABETS[text]
        n = hi
        if style == "a" and "a" in alphabet:
            body = "a" * n
        elif style == "x" and "x" in alphabet:
            body = "x" * n
        elif style == "x" and "X" in alphabet:
            body = "X" * n
        elif style == "pair" and all(c in alphabet for c in "a1b2c3d4"):
            body = ("a1b2c3d4e5f6" * 40)[:n]
        elif style == "zero" and "0" in alphabet:
            body = "0" * n
        else:
            order = "".join(c for c in B36L + UPPER if c in alphabet)
            body = (order * (n // len(order) + 1))[:n]
        out.append(body)
    return "".join(out)


# ---------------------------------------------------------------------------------- checksums


def b62_encode(n: int, width: int) -> str:
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = B62[r] + out
    return out.rjust(width, "0")


def github_crc(token: str) -> str:
    """``ghp_`` + 30 random + base62(CRC32 of the 30), zero-padded to 6 (also npm_)."""
    return token + b62_encode(zlib.crc32(token[4:34].encode()), 6)


def atlassian_crc(token: str) -> str:
    """Everything so far, then CRC32 of it as 8 upper-case hex, big-endian (ATATT, ATBB, ATCTT)."""
    return token + f"{zlib.crc32(token.encode()):08X}"


def grafana_crc(token: str) -> str:
    """``glsa_`` + 32 + ``_`` + CRC32 of the first 37 characters as 4 little-endian bytes in hex."""
    return token + "_" + struct.pack("<I", zlib.crc32(token[:37].encode())).hex()


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def pypi_token(rng: random.Random, location: str) -> str:
    """A macaroon v2 as PyPI issues it: location, UUID identifier, a JSON caveat, 32-byte signature."""
    ident = _uuid(rng).encode()
    caveat = json.dumps({"permissions": "user", "version": 1}).encode()
    if rng.random() < 0.5:
        caveat = json.dumps([3, _uuid(rng)], separators=(",", ":")).encode()
    raw = (
        b"\x02"
        + b"\x01"
        + bytes([len(location)])
        + location.encode()
        + b"\x02"
        + bytes([len(ident)])
        + ident
        + b"\x00"
        + b"\x02"
        + bytes([len(caveat)])
        + caveat
        + b"\x00\x00"
        + b"\x06\x20"
        + rng.randbytes(32)
    )
    return "pypi-" + _b64url(raw)


def discord_bot(rng: random.Random) -> str:
    snowflake = str(rng.randint(10**16, 10**19 - 1))
    part1 = base64.b64encode(snowflake.encode()).decode().rstrip("=")
    part3 = _random_text(rng, B64URL, rng.choice((27, 38)))
    return f"{part1}.{_random_text(rng, B64URL, 6)}.{part3}"


def _bech32_polymod(values: list[int]) -> int:
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if ((top >> i) & 1) else 0
    return chk


def age_key(rng: random.Random) -> str:
    """``AGE-SECRET-KEY-1`` + bech32 of 32 random bytes with a valid checksum, upper-case."""
    hrp = "age-secret-key-"
    acc, bits, data = 0, 0, []
    for b in rng.randbytes(32):
        acc = (acc << 8) | b
        bits += 8
        while bits >= 5:
            bits -= 5
            data.append((acc >> bits) & 31)
    if bits:
        data.append((acc << (5 - bits)) & 31)
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    poly = _bech32_polymod([*expanded, *data, 0, 0, 0, 0, 0, 0]) ^ 1
    checksum = [(poly >> 5 * (5 - i)) & 31 for i in range(6)]
    return (hrp + "1" + "".join(BECH32[d] for d in data + checksum)).upper()


def b64json(obj: object) -> str:
    return base64.b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode()


def jwt(rng: random.Random) -> str:
    header = _b64url(json.dumps({"alg": rng.choice(("HS256", "RS256")), "typ": "JWT"}).encode())
    payload = _b64url(
        json.dumps(
            {
                "sub": _uuid(rng),
                "iss": rng.choice(("https://auth.acme-internal.io", "billing-svc", "https://login.corp.net")),
                "iat": 1_760_000_000 + rng.randint(0, 10**7),
                "exp": 1_790_000_000 + rng.randint(0, 10**7),
                "scope": rng.choice(("admin", "read write", "deploy")),
            }
        ).encode()
    )
    return f"{header}.{payload}.{_b64url(rng.randbytes(32))}"


def pem(rng: random.Random, kind: str) -> list[str]:
    """A PEM block of random base64 (a key's shape; not a valid key)."""
    if kind == "OPENSSH PRIVATE KEY":
        body = base64.b64encode(b"openssh-key-v1\x00" + rng.randbytes(380)).decode()
    elif kind == "PGP PRIVATE KEY BLOCK":
        body = base64.b64encode(b"\x95\x03\xc6\x04" + rng.randbytes(600)).decode()
    else:
        body = base64.b64encode(b"\x30\x82\x04\xa4\x02\x01\x00" + rng.randbytes(700)).decode()
    lines = [f"-----BEGIN {kind}-----"]
    if kind == "PGP PRIVATE KEY BLOCK":
        lines.append("")
    lines += [body[i : i + 64] for i in range(0, len(body), 64)]
    lines.append(f"-----END {kind}-----")
    return lines


def basic_b64(rng: random.Random) -> str:
    return base64.b64encode(f"svc-{_random_text(rng, B36L, 6)}:{password(rng)}".encode()).decode()


_WORDS = (
    "copper falcon harbor marlin violet granite orchid tundra saffron quartz meadow lantern "
    "cobalt juniper canyon walnut ember glacier thistle nimbus"
).split()


def password(rng: random.Random) -> str:
    """A password as people and managers make them: a third are a person's (two words, a symbol, digits:
    ``Copper!Falcon4821``), the rest a manager's (14-28 random characters of mixed classes, some symbols)."""
    if rng.random() < 1 / 3:
        a, b = rng.sample(_WORDS, 2)
        return f"{a.capitalize()}{rng.choice('!#%*-_.+')}{b.capitalize()}{rng.randint(10, 9999)}"
    while True:
        n = rng.randint(14, 28)
        s = "".join(rng.choice(B62 + "_-.!*~+") for _ in range(n))
        mixed = any(c in DIGITS for c in s) and any(c in UPPER for c in s) and any(c in LOWER for c in s)
        if mixed and not re.search(r"(.)\1\1", s):
            return s


# ---------------------------------------------------------------------------------- token types


@dataclass(frozen=True)
class Token:
    """A provider token type. ``gated``: no distinctive prefix, so it only appears beside its keyword.
    ``var``: how people name it (SCREAMING_SNAKE, carrying the provider's name)."""

    provider: str
    kind: str
    family: str
    var: str
    spec: str = ""
    post: str = ""
    gated: bool = False
    test_mode: bool = False
    make: Callable[[random.Random], str] | None = None

    @property
    def key(self) -> str:
        return f"{self.provider}:{self.kind}"

    def value(self, rng: random.Random) -> str:
        if self.make is not None:
            return self.make(rng)
        token = fill(self.spec, rng)
        if self.post == "github":
            token = github_crc(token)
        elif self.post == "atlassian":
            token = atlassian_crc(token)
        elif self.post == "grafana":
            token = grafana_crc(token)
        return token


def _t(provider: str, kind: str, family: str, var: str, spec: str, **kw: object) -> Token:
    return Token(provider, kind, family, var, spec, **kw)  # type: ignore[arg-type]


def _azure_secret(rng: random.Random) -> str:
    head = rng.choice(("~", ".", "-", "")) + _random_text(rng, AZURE, 3)
    return head[:3] + rng.choice(DIGITS) + "Q~" + _random_text(rng, AZURE, 34)


def _azure_storage(rng: random.Random) -> str:
    body = _random_text(rng, B64, 86)
    return body[:52] + "JQQJ9" + rng.choice("9DH") + body[58:] + "=="


def _int_colon_b64(rng: random.Random, prefix: str) -> str:
    raw = str(rng.randint(10**11, 10**12 - 1)).encode() + b":" + rng.randbytes(20)
    return prefix + base64.b64encode(raw).decode()


def _jfrog_ref(rng: random.Random) -> str:
    raw = f"reftkn:01:{rng.randint(10**9, 10**10 - 1)}:{_random_text(rng, B62, 32)}"
    return base64.b64encode(raw.encode()).decode().rstrip("=")


def _sentry_org(rng: random.Random) -> str:
    org = rng.choice(("acme", "globex", "initech"))
    meta = b64json(
        {
            "iat": 1_750_000_000 + rng.randint(0, 10**6),
            "url": "https://sentry.io",
            "region_url": "https://us.sentry.io",
            "org": org,
        }
    ).rstrip("=")
    return f"sntrys_{meta}_{_random_text(rng, B64, 43)}"


def _grafana_cloud(rng: random.Random) -> str:
    return "glc_" + b64json(
        {
            "o": str(rng.randint(10**5, 10**6)),
            "n": "stack-ci-write",
            "k": _random_text(rng, B62, 24),
            "m": {"r": "us"},
        }
    )


def _grafana_legacy(rng: random.Random) -> str:
    return b64json({"k": _random_text(rng, B62, 32), "n": "deploy-bot", "id": rng.randint(1, 9)}).rstrip("=")


def _onepassword_sa(rng: random.Random) -> str:
    return "ops_" + b64json(
        {
            "signInAddress": "acme.1password.com",
            "userAuth": {
                "method": "SRPg-4096",
                "alg": "PBES2g-HS256",
                "iterations": 650000,
                "salt": _b64url(rng.randbytes(16)),
            },
            "email": f"{_random_text(rng, B36L, 12)}@1passwordserviceaccounts.com",
            "srpX": rng.randbytes(32).hex(),
            "muk": {"alg": "A256GCM", "ext": True, "k": _b64url(rng.randbytes(32)), "kty": "oct"},
            "secretKey": "A3-" + _random_text(rng, B36U, 6) + "-" + _random_text(rng, B36U, 6),
        }
    ).rstrip("=")


def _mapbox_secret(rng: random.Random) -> str:
    user = rng.choice(("acme-maps", "fleetview", "geo-team"))
    mid = _b64url(json.dumps({"u": user, "a": _random_text(rng, B36L, 25)}, separators=(",", ":")).encode())
    return f"sk.{mid}.{_random_text(rng, B64URL, 22)}"


def _openai(prefix: str, n: int) -> Callable[[random.Random], str]:
    def make(rng: random.Random) -> str:
        return (
            prefix
            + _random_text(rng, B64URL if n > 20 else B62, n)
            + "T3BlbkFJ"
            + _random_text(rng, B64URL if n > 20 else B62, n)
        )

    return make


def _anthropic(prefix: str) -> Callable[[random.Random], str]:
    def make(rng: random.Random) -> str:
        return prefix + _random_text(rng, B64URL, 93) + "AA"

    return make


def _groq(rng: random.Random) -> str:
    return "gsk_" + _random_text(rng, B62, 20) + "WGdyb3FY" + _random_text(rng, B62, 20)


def _ns(prefix: str) -> Callable[[random.Random], str]:
    """NATS nkey seeds: S + type + base32 (58 characters in all)."""

    def make(rng: random.Random) -> str:
        return prefix + _random_text(rng, B32, 56)

    return make


def _pscale(prefix: str) -> Callable[[random.Random], str]:
    def make(rng: random.Random) -> str:
        return prefix + _random_text(rng, WORDISH, 43)

    return make


def _discord_webhook(rng: random.Random) -> str:
    return f"https://discord.com/api/webhooks/{rng.randint(10**17, 10**18)}/{_random_text(rng, B64URL, 68)}"


def _teams_webhook(rng: random.Random) -> str:
    return (
        f"https://acme.webhook.office.com/webhookb2/{_uuid(rng)}@{_uuid(rng)}/IncomingWebhook/"
        f"{_random_text(rng, HEX, 32)}/{_uuid(rng)}"
    )


def _elastic(rng: random.Random) -> str:
    """Elasticsearch API keys as Kibana shows them: base64 of ``<id>:<key>``."""
    return base64.b64encode(
        f"{_random_text(rng, B64URL, 20)}:{_random_text(rng, B64URL, 22)}".encode()
    ).decode()


TOKENS: tuple[Token, ...] = (
    # 1. cloud and infrastructure
    _t("aws", "access key id", "cloud", "AWS_ACCESS_KEY_ID", "AKIA{b32:16}"),
    _t("aws", "temporary key id", "cloud", "AWS_ACCESS_KEY_ID", "ASIA{b32:16}"),
    _t("aws", "secret access key", "cloud", "AWS_SECRET_ACCESS_KEY", "{b64:40}", gated=True),
    _t("google", "api key", "cloud", "GOOGLE_API_KEY", "AIza{b64url:35}"),
    _t("google", "oauth client secret", "cloud", "GOOGLE_CLIENT_SECRET", "GOCSPX-{b64url:28}"),
    _t("google", "oauth refresh token", "cloud", "GOOGLE_REFRESH_TOKEN", "1//0{b64url:98}"),
    _t("google", "oauth access token", "cloud", "GOOGLE_ACCESS_TOKEN", "ya29.a0{b64url:150}"),
    Token("azure", "client secret", "cloud", "AZURE_CLIENT_SECRET", make=_azure_secret),
    Token("azure", "storage account key", "cloud", "AZURE_STORAGE_KEY", make=_azure_storage),
    _t("azure-devops", "pat", "cloud", "AZURE_DEVOPS_PAT", "{b32l:52}", gated=True),
    _t("alibaba", "access key id", "cloud", "ALIBABA_ACCESS_KEY_ID", "LTAI{b62:20}"),
    _t("alibaba", "access key secret", "cloud", "ALIBABA_ACCESS_KEY_SECRET", "{b62:30}", gated=True),
    _t("yandex", "api key", "cloud", "YANDEX_API_KEY", "AQVN{b64url:36}"),
    _t("digitalocean", "pat", "cloud", "DIGITALOCEAN_TOKEN", "dop_v1_{hex:64}"),
    _t("digitalocean", "oauth token", "cloud", "DIGITALOCEAN_OAUTH_TOKEN", "doo_v1_{hex:64}"),
    _t("cloudflare", "api token", "cloud", "CLOUDFLARE_API_TOKEN", "{b64url:40}", gated=True),
    _t("cloudflare", "global api key", "cloud", "CLOUDFLARE_API_KEY", "{hex:37}", gated=True),
    _t("cloudflare", "origin ca key", "cloud", "CLOUDFLARE_ORIGIN_CA_KEY", "v1.0-{hex:24}-{hex:146}"),
    _t("heroku", "api key", "cloud", "HEROKU_API_KEY", "HRKU-AA{b64url:58}"),
    _t("heroku", "legacy api key", "cloud", "HEROKU_API_KEY", "{uuid}", gated=True),
    _t("flyio", "access token", "cloud", "FLY_API_TOKEN", "fo1_{b64url:43}"),
    _t("flyio", "macaroon", "cloud", "FLY_API_TOKEN", "FlyV1 fm2_{b64:220}"),
    _t("scaleway", "secret key", "cloud", "SCALEWAY_SECRET_KEY", "{uuid}", gated=True),
    _t("scalingo", "api token", "cloud", "SCALINGO_API_TOKEN", "tk-us-{b64url:48}"),
    _t("databricks", "pat", "cloud", "DATABRICKS_TOKEN", "dapi{hex:32}"),
    _t("terraform", "api token", "cloud", "TFE_TOKEN", "{b62:14}.atlasv1.{b62:67}"),
    _t("vault", "service token", "cloud", "VAULT_TOKEN", "hvs.{b64url:95}"),
    _t("vault", "batch token", "cloud", "VAULT_TOKEN", "hvb.{b64url:150}"),
    _t("pulumi", "access token", "cloud", "PULUMI_ACCESS_TOKEN", "pul-{hex:40}"),
    _t("tailscale", "api key", "cloud", "TAILSCALE_API_KEY", "tskey-api-{b62:16}CNTRL-{b62:32}"),
    _t("tailscale", "auth key", "cloud", "TS_AUTHKEY", "tskey-auth-{b62:16}CNTRL-{b62:32}"),
    _t("ngrok", "authtoken", "cloud", "NGROK_AUTHTOKEN", "2{b62:26}_{dig:1}{b62:20}", gated=True),
    _t("openshift", "user token", "cloud", "OPENSHIFT_TOKEN", "sha256~{b64url:43}"),
    _t("castai", "api key", "cloud", "CASTAI_API_TOKEN", "castai_v1_{b62:64}_{b62:8}"),
    _t("infracost", "api token", "cloud", "INFRACOST_API_KEY", "ico-{b62:32}"),
    _t("defined-networking", "api token", "cloud", "DNKEY_API_TOKEN", "dnkey-{b36u:26}-{b32:52}"),
    _t("fastly", "api token", "cloud", "FASTLY_API_TOKEN", "{b64url:32}", gated=True),
    _t("akamai", "client token", "cloud", "AKAMAI_CLIENT_TOKEN", "akab-{b36l:16}-{b36l:16}"),
    _t("netlify", "pat", "cloud", "NETLIFY_AUTH_TOKEN", "nfp_{word:36}"),
    _t("vercel", "token", "cloud", "VERCEL_TOKEN", "{b62:24}", gated=True),
    _t("docker-swarm", "join token", "cloud", "SWARM_JOIN_TOKEN", "SWMTKN-1-{b36l:50}-{b36l:25}"),
    _t("docker-swarm", "unlock key", "cloud", "SWARM_UNLOCK_KEY", "SWMKEY-1-{b62:43}"),
    # 2. source hosting, CI/CD, dev tooling
    _t("github", "classic pat", "source", "GITHUB_TOKEN", "ghp_{b62:30}", post="github"),
    _t("github", "oauth token", "source", "GITHUB_OAUTH_TOKEN", "gho_{b62:30}", post="github"),
    _t("github", "user-to-server token", "source", "GH_USER_TOKEN", "ghu_{b62:30}", post="github"),
    _t("github", "server-to-server token", "source", "GH_APP_TOKEN", "ghs_{b62:30}", post="github"),
    _t("github", "refresh token", "source", "GITHUB_REFRESH_TOKEN", "ghr_{b62:30}", post="github"),
    _t("github", "fine-grained pat", "source", "GITHUB_PAT", "github_pat_{b62:22}_{b62:59}"),
    _t("gitlab", "pat", "source", "GITLAB_TOKEN", "glpat-{b64url:20}"),
    _t("gitlab", "deploy token", "source", "GITLAB_DEPLOY_TOKEN", "gldt-{b64url:20}"),
    _t("gitlab", "runner token", "source", "GITLAB_RUNNER_TOKEN", "glrt-{b64url:20}"),
    _t("gitlab", "pipeline trigger token", "source", "GITLAB_TRIGGER_TOKEN", "glptt-{hex:40}"),
    _t("gitlab", "feed token", "source", "GITLAB_FEED_TOKEN", "glft-{b64url:20}"),
    _t("gitlab", "oauth app secret", "source", "GITLAB_OAUTH_SECRET", "gloas-{hex:64}"),
    _t("gitlab", "agent token", "source", "GITLAB_AGENT_TOKEN", "glagent-{b64url:50}"),
    _t("gitlab", "runner registration token", "source", "GITLAB_REGISTRATION_TOKEN", "GR1348941{b64url:20}"),
    _t("bitbucket", "app password", "source", "BITBUCKET_APP_PASSWORD", "ATBB{b62:24}", post="atlassian"),
    Token(
        "bitbucket-server",
        "http access token",
        "source",
        "BITBUCKET_SERVER_TOKEN",
        make=lambda r: _int_colon_b64(r, "BBDC-"),
    ),
    _t("atlassian", "api token", "source", "JIRA_API_TOKEN", "ATATT3xFfGF0{b64url:171}=", post="atlassian"),
    _t(
        "atlassian",
        "bitbucket access token",
        "source",
        "BITBUCKET_ACCESS_TOKEN",
        "ATCTT3xFfGN0{b64url:171}=",
        post="atlassian",
    ),
    Token("jira-dc", "pat", "source", "JIRA_PAT", make=lambda r: _int_colon_b64(r, ""), gated=True),
    _t("sourcegraph", "access token", "source", "SRC_ACCESS_TOKEN", "sgp_{hex:16}_{hex:40}"),
    _t("circleci", "personal token", "source", "CIRCLECI_TOKEN", "{hex:40}", gated=True),
    _t("buildkite", "api token", "source", "BUILDKITE_API_TOKEN", "bkua_{b36l:40}"),
    _t("travis", "api token", "source", "TRAVIS_API_TOKEN", "{b62:22}", gated=True),
    _t("drone", "token", "source", "DRONECI_TOKEN", "{b62:32}", gated=True),
    _t("harness", "pat", "source", "HARNESS_API_KEY", "pat.{b64url:22}.{b62:24}.{b62:20}"),
    _t("octopus", "api key", "source", "OCTOPUS_API_KEY", "API-{b36u:26}"),
    _t("codecov", "token", "source", "CODECOV_TOKEN", "{uuid}", gated=True),
    _t("sonarqube", "user token", "source", "SONAR_TOKEN", "squ_{hex:40}"),
    _t("sonarcloud", "token", "source", "SONARCLOUD_TOKEN", "{hex:40}", gated=True),
    _t("snyk", "api token", "source", "SNYK_TOKEN", "{uuid}", gated=True),
    _t("jfrog", "api key", "source", "ARTIFACTORY_API_KEY", "AKCp{b62:69}"),
    Token("jfrog", "reference token", "source", "JFROG_ACCESS_TOKEN", make=_jfrog_ref),
    _t("dockerhub", "pat", "source", "DOCKERHUB_TOKEN", "dckr_pat_{b64url:27}"),
    _t("dockerhub", "org access token", "source", "DOCKERHUB_ORG_TOKEN", "dckr_oat_{b64url:32}"),
    _t("postman", "api key", "source", "POSTMAN_API_KEY", "PMAK-{hex:24}-{hex:34}"),
    _t("gitter", "token", "source", "GITTER_TOKEN", "{hex:40}", gated=True),
    _t("chieftools", "pat", "source", "CHIEF_TOOLS_TOKEN", "ctp_{b62:40}"),
    _t("readme", "api key", "source", "README_API_KEY", "rdme_{b36l:70}"),
    _t("prefect", "api key", "source", "PREFECT_API_KEY", "pnu_{b62:36}"),
    # 3. package registries
    _t("npm", "access token", "registry", "NPM_TOKEN", "npm_{b62:30}", post="github"),
    _t("npm", "legacy token", "registry", "NPM_TOKEN", "{uuid}", gated=True),
    Token("pypi", "api token", "registry", "PYPI_API_TOKEN", make=lambda r: pypi_token(r, "pypi.org")),
    Token(
        "testpypi",
        "api token",
        "registry",
        "TEST_PYPI_API_TOKEN",
        make=lambda r: pypi_token(r, "test.pypi.org"),
    ),
    _t("rubygems", "api key", "registry", "GEM_HOST_API_KEY", "rubygems_{hex:48}"),
    _t("nuget", "api key", "registry", "NUGET_API_KEY", "oy2{b36l:43}"),
    _t("clojars", "deploy token", "registry", "CLOJARS_TOKEN", "CLOJARS_{b36l:60}"),
    # 4. payments, commerce, finance
    _t("stripe", "secret key", "payments", "STRIPE_SECRET_KEY", "sk_live_{b62:99}"),
    _t("stripe", "legacy secret key", "payments", "STRIPE_SECRET_KEY", "sk_live_{b62:24}"),
    _t("stripe", "restricted key", "payments", "STRIPE_RESTRICTED_KEY", "rk_live_{b62:99}"),
    _t("stripe", "test secret key", "payments", "STRIPE_TEST_KEY", "sk_test_{b62:99}", test_mode=True),
    _t(
        "stripe",
        "test restricted key",
        "payments",
        "STRIPE_TEST_RESTRICTED_KEY",
        "rk_test_{b62:99}",
        test_mode=True,
    ),
    _t("stripe", "webhook secret", "payments", "STRIPE_WEBHOOK_SECRET", "whsec_{b62:32}"),
    _t("square", "access token", "payments", "SQUARE_ACCESS_TOKEN", "EAAA{b64url:60}"),
    _t("square", "oauth secret", "payments", "SQUARE_OAUTH_SECRET", "sq0csp-{b64url:43}"),
    _t(
        "braintree",
        "access token",
        "payments",
        "BRAINTREE_ACCESS_TOKEN",
        "access_token$production${b36l:16}${hex:32}",
    ),
    _t(
        "braintree",
        "sandbox access token",
        "payments",
        "BRAINTREE_ACCESS_TOKEN",
        "access_token$sandbox${b36l:16}${hex:32}",
        test_mode=True,
    ),
    _t("adyen", "api key", "payments", "ADYEN_API_KEY", "AQE{b62:6}.{b64url:64}"),
    _t("shopify", "admin token", "payments", "SHOPIFY_ACCESS_TOKEN", "shpat_{hex:32}"),
    _t("shopify", "custom app token", "payments", "SHOPIFY_CUSTOM_TOKEN", "shpca_{hex:32}"),
    _t("shopify", "private app token", "payments", "SHOPIFY_PRIVATE_TOKEN", "shppa_{hex:32}"),
    _t("shopify", "shared secret", "payments", "SHOPIFY_SHARED_SECRET", "shpss_{hex:32}"),
    _t(
        "flutterwave",
        "test secret key",
        "payments",
        "FLW_SECRET_KEY",
        "FLWSECK_TEST-{ah:32}-X",
        test_mode=True,
    ),
    _t("gocardless", "access token", "payments", "GOCARDLESS_ACCESS_TOKEN", "live_{b64url:40}", gated=True),
    _t("razorpay", "key id", "payments", "RAZORPAY_KEY_ID", "rzp_live_{b62:14}"),
    _t("razorpay", "test key id", "payments", "RAZORPAY_KEY_ID", "rzp_test_{b62:14}", test_mode=True),
    _t("plaid", "access token", "payments", "PLAID_ACCESS_TOKEN", "access-production-{uuid}"),
    _t(
        "plaid",
        "sandbox access token",
        "payments",
        "PLAID_ACCESS_TOKEN",
        "access-sandbox-{uuid}",
        test_mode=True,
    ),
    _t("coinbase", "api secret", "payments", "COINBASE_API_SECRET", "{b64url:64}", gated=True),
    _t("kraken", "api key", "payments", "KRAKEN_API_KEY", "{b64:88}", gated=True),
    _t("kucoin", "api key", "payments", "KUCOIN_API_KEY", "{hex:24}", gated=True),
    _t("bittrex", "api secret", "payments", "BITTREX_API_SECRET", "{b62:32}", gated=True),
    _t("finicity", "app key", "payments", "FINICITY_APP_KEY", "{hex:32}", gated=True),
    _t("finnhub", "api key", "payments", "FINNHUB_API_KEY", "{b36l:20}", gated=True),
    _t("chargebee", "api key", "payments", "CHARGEBEE_API_KEY", "live_{b62:34}", gated=True),
    _t("duffel", "live token", "payments", "DUFFEL_ACCESS_TOKEN", "duffel_live_{b64url:43}"),
    _t("duffel", "test token", "payments", "DUFFEL_ACCESS_TOKEN", "duffel_test_{b64url:43}", test_mode=True),
    _t("easypost", "production key", "payments", "EASYPOST_API_KEY", "EZAK{b62:54}"),
    _t("easypost", "test key", "payments", "EASYPOST_TEST_KEY", "EZTK{b62:54}", test_mode=True),
    _t("shippo", "live token", "payments", "SHIPPO_API_TOKEN", "shippo_live_{hex:40}"),
    _t("shippo", "test token", "payments", "SHIPPO_API_TOKEN", "shippo_test_{hex:40}", test_mode=True),
    _t("lob", "api key", "payments", "LOB_API_KEY", "live_{hex:35}", gated=True),
    _t("freshbooks", "token", "payments", "FRESHBOOKS_TOKEN", "{b62:64}", gated=True),
    # 5. communication, messaging, e-mail
    _t("slack", "bot token", "messaging", "SLACK_BOT_TOKEN", "xoxb-{dig:12}-{dig:13}-{b62:24}"),
    _t("slack", "user token", "messaging", "SLACK_USER_TOKEN", "xoxp-{dig:12}-{dig:12}-{dig:13}-{hex:32}"),
    _t("slack", "workspace token", "messaging", "SLACK_WORKSPACE_TOKEN", "xoxa-2-{b62:40}"),
    _t("slack", "config token", "messaging", "SLACK_CONFIG_TOKEN", "xoxe.xoxp-1-{b36u:164}"),
    _t("slack", "config refresh token", "messaging", "SLACK_CONFIG_REFRESH_TOKEN", "xoxe-1-{b36u:146}"),
    _t("slack", "app token", "messaging", "SLACK_APP_TOKEN", "xapp-1-A{b36u:10}-{dig:13}-{hex:64}"),
    _t(
        "slack",
        "webhook",
        "messaging",
        "SLACK_WEBHOOK_URL",
        "https://hooks.slack.com/services/T{b36u:10}/B{b36u:10}/{b62:24}",
    ),
    Token("discord", "bot token", "messaging", "DISCORD_BOT_TOKEN", make=discord_bot),
    Token("discord", "webhook", "messaging", "DISCORD_WEBHOOK_URL", make=_discord_webhook),
    _t("telegram", "bot token", "messaging", "TELEGRAM_BOT_TOKEN", "{dig:10}:AA{b64url:33}"),
    Token("teams", "incoming webhook", "messaging", "TEAMS_WEBHOOK_URL", make=_teams_webhook),
    _t("twilio", "auth token", "messaging", "TWILIO_AUTH_TOKEN", "{hex:32}", gated=True),
    _t("sendgrid", "api key", "messaging", "SENDGRID_API_KEY", "SG.{b64url:22}.{b64url:43}"),
    _t("mailgun", "private key", "messaging", "MAILGUN_API_KEY", "key-{hex:32}"),
    _t("mailchimp", "api key", "messaging", "MAILCHIMP_API_KEY", "{hex:32}-us{dig:2}"),
    _t("postmark", "server token", "messaging", "POSTMARK_SERVER_TOKEN", "{uuid}", gated=True),
    _t("brevo", "api key", "messaging", "BREVO_API_KEY", "xkeysib-{hex:64}-{b62:16}"),
    _t("resend", "api key", "messaging", "RESEND_API_KEY", "re_{b58:8}_{b58:24}"),
    _t("messagebird", "api key", "messaging", "MESSAGEBIRD_API_KEY", "{b62:25}", gated=True),
    _t("sendbird", "api token", "messaging", "SENDBIRD_API_TOKEN", "{hex:40}", gated=True),
    _t("mattermost", "access token", "messaging", "MATTERMOST_TOKEN", "{b36l:26}", gated=True),
    _t("intercom", "access token", "messaging", "INTERCOM_ACCESS_TOKEN", "dG9rOj{b64:54}=", gated=True),
    _t("zendesk", "api token", "messaging", "ZENDESK_API_TOKEN", "{b62:40}", gated=True),
    _t(
        "twitter",
        "bearer token",
        "messaging",
        "TWITTER_BEARER_TOKEN",
        "AAAAAAAAAAAAAAAAAAAAAA{b62:30}%2B{b62:24}%3D{b62:30}",
    ),
    _t("twitter", "api secret", "messaging", "TWITTER_API_SECRET", "{b62:50}", gated=True),
    _t("facebook", "page token", "messaging", "FACEBOOK_PAGE_TOKEN", "EAAM{b62:180}"),
    _t("facebook", "app secret", "messaging", "FACEBOOK_APP_SECRET", "{hex:32}", gated=True),
    _t("instagram", "access token", "messaging", "INSTAGRAM_ACCESS_TOKEN", "IGQVJ{b64url:150}"),
    _t("linkedin", "client secret", "messaging", "LINKEDIN_CLIENT_SECRET", "{b62:16}", gated=True),
    _t("twitch", "api token", "messaging", "TWITCH_API_TOKEN", "{b36l:30}", gated=True),
    _t("beamer", "api key", "messaging", "BEAMER_API_KEY", "b_{b64url:44}"),
    # 6. AI and ML
    Token("openai", "project key", "ai", "OPENAI_API_KEY", make=_openai("sk-proj-", 74)),
    Token("openai", "service account key", "ai", "OPENAI_API_KEY", make=_openai("sk-svcacct-", 74)),
    Token("openai", "legacy key", "ai", "OPENAI_API_KEY", make=_openai("sk-", 20)),
    Token("anthropic", "api key", "ai", "ANTHROPIC_API_KEY", make=_anthropic("sk-ant-api03-")),
    Token("anthropic", "admin key", "ai", "ANTHROPIC_ADMIN_KEY", make=_anthropic("sk-ant-admin01-")),
    _t("huggingface", "user token", "ai", "HF_TOKEN", "hf_{let:34}"),
    _t("huggingface", "org token", "ai", "HUGGINGFACE_ORG_TOKEN", "api_org_{let:34}"),
    Token("groq", "api key", "ai", "GROQ_API_KEY", make=_groq),
    _t("perplexity", "api key", "ai", "PERPLEXITY_API_KEY", "pplx-{b62:48}"),
    _t("cohere", "api key", "ai", "COHERE_API_KEY", "{b62:40}", gated=True),
    _t("replicate", "api token", "ai", "REPLICATE_API_TOKEN", "r8_{b62:37}"),
    _t("openrouter", "api key", "ai", "OPENROUTER_API_KEY", "sk-or-v1-{hex:64}"),
    _t("deepseek", "api key", "ai", "DEEPSEEK_API_KEY", "sk-{hex:32}", gated=True),
    _t("elevenlabs", "api key", "ai", "ELEVENLABS_API_KEY", "sk_{hex:48}", gated=True),
    _t("mistral", "api key", "ai", "MISTRAL_API_KEY", "{b62:32}", gated=True),
    _t("pinecone", "api key", "ai", "PINECONE_API_KEY", "pcsk_{b62:6}_{b62:63}"),
    _t("langsmith", "pat", "ai", "LANGSMITH_API_KEY", "lsv2_pt_{hex:32}_{hex:10}"),
    _t("langsmith", "service key", "ai", "LANGCHAIN_API_KEY", "lsv2_sk_{hex:32}_{hex:10}"),
    _t("langfuse", "secret key", "ai", "LANGFUSE_SECRET_KEY", "sk-lf-{uuid}"),
    _t("xai", "api key", "ai", "XAI_API_KEY", "xai-{b62:80}"),
    _t("tavily", "api key", "ai", "TAVILY_API_KEY", "tvly-{b62:32}"),
    # 7. observability
    _t("datadog", "api key", "observability", "DATADOG_API_KEY", "{hex:32}", gated=True),
    _t("datadog", "app key", "observability", "DATADOG_APP_KEY", "{hex:40}", gated=True),
    _t("newrelic", "user api key", "observability", "NEW_RELIC_API_KEY", "NRAK-{b36u:27}"),
    _t("newrelic", "insert key", "observability", "NEW_RELIC_INSERT_KEY", "NRII-{b62:32}"),
    _t("sentry", "user token", "observability", "SENTRY_AUTH_TOKEN", "sntryu_{hex:64}"),
    Token("sentry", "org token", "observability", "SENTRY_AUTH_TOKEN", make=_sentry_org),
    _t("grafana", "service account token", "observability", "GRAFANA_TOKEN", "glsa_{b62:32}", post="grafana"),
    Token("grafana", "cloud token", "observability", "GRAFANA_CLOUD_TOKEN", make=_grafana_cloud),
    Token("grafana", "legacy api key", "observability", "GRAFANA_API_KEY", make=_grafana_legacy),
    _t("dynatrace", "api token", "observability", "DT_API_TOKEN", "dt0c01.{b36u:24}.{b36u:64}"),
    _t("honeycomb", "api key", "observability", "HONEYCOMB_API_KEY", "{hex:32}", gated=True),
    _t("pagerduty", "api key", "observability", "PAGERDUTY_API_KEY", "u+{b64url:18}", gated=True),
    _t("posthog", "personal api key", "observability", "POSTHOG_PERSONAL_API_KEY", "phx_{b62:43}"),
    _t("launchdarkly", "api token", "observability", "LAUNCHDARKLY_ACCESS_TOKEN", "api-{uuid}", gated=True),
    _t("meraki", "api key", "observability", "MERAKI_API_KEY", "{hex:40}", gated=True),
    # 8. databases and data platforms
    Token(
        "planetscale", "service token", "database", "PLANETSCALE_SERVICE_TOKEN", make=_pscale("pscale_tkn_")
    ),
    Token("planetscale", "password", "database", "PLANETSCALE_PASSWORD", make=_pscale("pscale_pw_")),
    Token("planetscale", "oauth token", "database", "PLANETSCALE_OAUTH_TOKEN", make=_pscale("pscale_oauth_")),
    _t("supabase", "management token", "database", "SUPABASE_ACCESS_TOKEN", "sbp_{hex:40}"),
    _t("clickhouse", "api secret", "database", "CLICKHOUSE_KEY_SECRET", "4b1d{b62:38}"),
    _t("confluent", "api secret", "database", "CONFLUENT_API_SECRET", "{b62:64}", gated=True),
    _t("algolia", "admin api key", "database", "ALGOLIA_ADMIN_API_KEY", "{hex:32}", gated=True),
    _t("snowflake", "password", "database", "SNOWFLAKE_PASSWORD", "{b62:20}", gated=True),
    # 9. secrets managers, identity, key material
    Token("1password", "service account token", "identity", "OP_SERVICE_ACCOUNT_TOKEN", make=_onepassword_sa),
    _t(
        "1password",
        "secret key",
        "identity",
        "OP_SECRET_KEY",
        "A3-{b36u:6}-{b36u:6}-{b36u:5}-{b36u:5}-{b36u:5}",
    ),
    _t("doppler", "personal token", "identity", "DOPPLER_TOKEN", "dp.pt.{b62:43}"),
    _t("doppler", "service token", "identity", "DOPPLER_TOKEN", "dp.st.prd.{b62:43}"),
    Token("age", "secret key", "identity", "AGE_SECRET_KEY", make=age_key),
    Token("nats", "user seed", "identity", "NATS_NKEY_SEED", make=_ns("SU")),
    _t("okta", "api token", "identity", "OKTA_API_TOKEN", "00{b64url:40}", gated=True),
    _t("salesforce", "session id", "identity", "SALESFORCE_SESSION_ID", "00D{b62:15}!{b62:96}"),
    Token("jwt", "bearer token", "identity", "AUTH_JWT", make=jwt),
    # 10. SaaS, productivity, content
    _t("linear", "api key", "saas", "LINEAR_API_KEY", "lin_api_{b62:40}"),
    _t("notion", "integration token", "saas", "NOTION_TOKEN", "ntn_{dig:11}{b62:35}"),
    _t("notion", "legacy token", "saas", "NOTION_API_KEY", "secret_{b62:43}"),
    _t("airtable", "pat", "saas", "AIRTABLE_API_KEY", "pat{b62:14}.{hex:64}"),
    _t("asana", "pat", "saas", "ASANA_ACCESS_TOKEN", "2/{dig:16}/{dig:16}:{hex:32}", gated=True),
    _t("figma", "pat", "saas", "FIGMA_TOKEN", "figd_{b64url:40}"),
    _t("hubspot", "private app token", "saas", "HUBSPOT_ACCESS_TOKEN", "pat-na1-{uuid}"),
    _t("contentful", "pat", "saas", "CONTENTFUL_MANAGEMENT_TOKEN", "CFPAT-{b64url:43}"),
    _t("typeform", "pat", "saas", "TYPEFORM_TOKEN", "tfp_{b62:44}_{b62:14}"),
    _t("frameio", "token", "saas", "FRAMEIO_TOKEN", "fio-u-{b64url:64}"),
    Token("mapbox", "secret token", "saas", "MAPBOX_SECRET_TOKEN", make=_mapbox_secret),
    _t("adobe", "client secret", "saas", "ADOBE_CLIENT_SECRET", "p8e-{b62:32}"),
    _t("dropbox", "short-lived token", "saas", "DROPBOX_ACCESS_TOKEN", "sl.u.{b64url:140}"),
    _t("dropbox", "long-lived token", "saas", "DROPBOX_TOKEN", "{b62:11}AAAAAAAAAA{b64url:43}"),
    _t("sidekiq", "gem credentials", "saas", "BUNDLE_GEMS__CONTRIBSYS__COM", "{hex:8}:{hex:8}", gated=True),
    _t("settlemint", "pat", "saas", "SETTLEMINT_TOKEN", "sm_pat_{b62:16}"),
    _t("maxmind", "license key", "saas", "MAXMIND_LICENSE_KEY", "{b62:6}_{b62:29}_mmk"),
    _t("intra42", "client secret", "saas", "FT_CLIENT_SECRET", "s-s4t2ud-{hex:64}"),
    _t("looker", "client secret", "saas", "LOOKER_CLIENT_SECRET", "{b62:24}", gated=True),
    _t("etsy", "api key", "saas", "ETSY_API_KEY", "{b36l:24}", gated=True),
    # more cloud services, connection strings and webhook URLs
    _t(
        "azure-servicebus",
        "connection string",
        "cloud",
        "AZURE_SERVICEBUS_CONNECTION_STRING",
        "Endpoint=sb://acme-prod.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;"
        "SharedAccessKey={b64:43}=",
    ),
    _t(
        "azure-sas",
        "blob sas url",
        "cloud",
        "AZURE_BLOB_SAS_URL",
        "https://acmeprodbackups.blob.core.windows.net/nightly?sv=2022-11-02&ss=b&srt=co&sp=rl"
        "&se=2027-01-01T00:00:00Z&st=2026-01-01T00:00:00Z&spr=https&sig={b64url:43}%3D",
    ),
    _t(
        "azure-cosmosdb",
        "connection string",
        "cloud",
        "COSMOS_CONNECTION_STRING",
        "AccountEndpoint=https://acme-orders.documents.azure.com:443/;AccountKey={b64:86}==;",
    ),
    _t("firebase", "fcm server key", "messaging", "FCM_SERVER_KEY", "AAAA{b64url:7}:APA91b{b64url:134}"),
    _t("cloudinary", "url", "saas", "CLOUDINARY_URL", "cloudinary://{dig:15}:{b64url:27}@acme-media"),
    _t(
        "zapier",
        "webhook",
        "saas",
        "ZAPIER_WEBHOOK_URL",
        "https://hooks.zapier.com/hooks/catch/{dig:7}/{b36l:7}/",
    ),
    _t("render", "api key", "cloud", "RENDER_API_KEY", "rnd_{b62:32}"),
    _t("auth0", "client secret", "identity", "AUTH0_CLIENT_SECRET", "{b64url:64}", gated=True),
    _t("pusher", "app secret", "messaging", "PUSHER_APP_SECRET", "{hex:20}", gated=True),
    _t("mailjet", "api secret", "messaging", "MAILJET_API_SECRET", "{hex:32}", gated=True),
    _t("plivo", "auth token", "messaging", "PLIVO_AUTH_TOKEN", "{b62:40}", gated=True),
    _t("vonage", "api secret", "messaging", "VONAGE_API_SECRET", "{b62:16}", gated=True),
    _t("linode", "pat", "cloud", "LINODE_TOKEN", "{hex:64}", gated=True),
    _t("vultr", "api key", "cloud", "VULTR_API_KEY", "{b36u:36}", gated=True),
    _t("hetzner", "api token", "cloud", "HCLOUD_TOKEN", "{b62:64}", gated=True),
    _t("consul", "acl token", "cloud", "CONSUL_HTTP_TOKEN", "{uuid}", gated=True),
    _t("nomad", "acl token", "cloud", "NOMAD_TOKEN", "{uuid}", gated=True),
    _t("jenkins", "api token", "source", "JENKINS_API_TOKEN", "11{hex:32}", gated=True),
    _t("rollbar", "access token", "observability", "ROLLBAR_ACCESS_TOKEN", "{hex:32}", gated=True),
    _t("bugsnag", "api key", "observability", "BUGSNAG_API_KEY", "{hex:32}", gated=True),
    _t("splunk", "hec token", "observability", "SPLUNK_HEC_TOKEN", "{uuid}", gated=True),
    _t("opsgenie", "api key", "observability", "OPSGENIE_API_KEY", "{uuid}", gated=True),
    Token("elastic", "api key", "observability", "ELASTIC_API_KEY", make=_elastic, gated=True),
)


# ---------------------------------------------------------------------------------- syntaxes


def names(var: str) -> dict[str, str]:
    """The spellings of a variable: AWS_SECRET_ACCESS_KEY, aws_secret_access_key, awsSecretAccessKey,
    AwsSecretAccessKey, aws.secret.access.key, aws-secret-access-key, and the provider word (aws)."""
    words = var.lower().split("_")
    words = [w for w in words if w]
    camel = words[0] + "".join(w.capitalize() for w in words[1:])
    return {
        "UP": var,
        "low": "_".join(words),
        "camel": camel,
        "Pascal": camel[0].upper() + camel[1:],
        "dot": ".".join(words),
        "kebab": "-".join(words),
        "word": words[0],
    }


@dataclass(frozen=True)
class Syntax:
    """A file syntax. ``render`` turns [(names, value)] into the file's lines; every value stands whole on
    the line it is labelled at. ``keyword``: the value stands beside the provider's name (False: the
    value alone on the line, which only prefixed tokens can be found by)."""

    name: str
    path: str
    render: Callable[[list[tuple[dict[str, str], str]]], list[str]]
    keyword: bool = True
    encode: Callable[[str], str] | None = None


def _lines(
    head: list[str], body: Callable[[dict[str, str], str], list[str]], tail: list[str]
) -> Callable[[list[tuple[dict[str, str], str]]], list[str]]:
    def render(items: list[tuple[dict[str, str], str]]) -> list[str]:
        out = list(head)
        for n, v in items:
            out += body(n, v)
        return out + list(tail)

    return render


def _b64(v: str) -> str:
    return base64.b64encode(v.encode()).decode()


SECRET_SYNTAXES: tuple[Syntax, ...] = (
    Syntax(
        "dotenv",
        "{d}/.env",
        _lines(
            ["# local settings", "APP_ENV=production", "LOG_LEVEL=info"],
            lambda n, v: [f"{n['UP']}={v}"],
            ["PORT=8080"],
        ),
    ),
    Syntax(
        "dotenv-quoted",
        "{d}/.env.production",
        _lines(["NODE_ENV=production"], lambda n, v: [f'{n["UP"]}="{v}"'], []),
    ),
    Syntax(
        "shell-export",
        "{d}/scripts/env.sh",
        _lines(
            ["#!/usr/bin/env bash", "set -euo pipefail"],
            lambda n, v: [f"export {n['UP']}='{v}'"],
            ['exec "$@"'],
        ),
    ),
    Syntax(
        "yaml",
        "{d}/config/settings.yaml",
        _lines(
            ["server:", "  port: 8080", "integrations:"],
            lambda n, v: [f"  {n['word']}:", "    enabled: true", f"    {n['low']}: {v}"],
            [],
        ),
    ),
    Syntax(
        "yaml-quoted",
        "{d}/config/app.yml",
        _lines(["app:", "  name: billing"], lambda n, v: [f'  {n["camel"]}: "{v}"'], ["  workers: 4"]),
    ),
    Syntax(
        "compose",
        "{d}/docker-compose.yml",
        _lines(
            ["services:", "  api:", "    image: acme/api:1.4.2", "    environment:"],
            lambda n, v: [f"      - {n['UP']}={v}"],
            ["    ports:", '      - "8080:8080"'],
        ),
    ),
    Syntax(
        "gh-actions",
        "{d}/.github/workflows/deploy.yml",
        _lines(
            ["name: deploy", "on: push", "jobs:", "  deploy:", "    runs-on: ubuntu-latest", "    env:"],
            lambda n, v: [f"      {n['UP']}: {v}"],
            ["    steps:", "      - uses: actions/checkout@v4"],
        ),
    ),
    Syntax(
        "json",
        "{d}/config/settings.json",
        lambda items: [
            "{",
            '  "name": "billing",',
            *[f'  "{n["camel"]}": "{v}",' for n, v in items],
            '  "debug": false',
            "}",
        ],
    ),
    Syntax(
        "json-nested",
        "{d}/appsettings.json",
        lambda items: [
            "{",
            '  "Logging": { "LogLevel": { "Default": "Information" } },',
            *[f'  "{n["Pascal"]}": {{ "ApiKey": "{v}" }},' for n, v in items],
            '  "AllowedHosts": "*"',
            "}",
        ],
    ),
    Syntax(
        "toml",
        "{d}/config.toml",
        _lines(['title = "service"'], lambda n, v: ["", f"[{n['word']}]", f'{n["low"]} = "{v}"'], []),
    ),
    Syntax(
        "ini",
        "{d}/settings.ini",
        _lines(["[server]", "port = 8080"], lambda n, v: ["", f"[{n['word']}]", f"{n['low']} = {v}"], []),
    ),
    Syntax(
        "properties",
        "{d}/src/main/resources/application.properties",
        _lines(["server.port=8080", "spring.application.name=billing"], lambda n, v: [f"{n['dot']}={v}"], []),
    ),
    Syntax(
        "xml-element",
        "{d}/conf/service.xml",
        _lines(
            ['<?xml version="1.0" encoding="UTF-8"?>', "<configuration>"],
            lambda n, v: [f"  <{n['camel']}>{v}</{n['camel']}>"],
            ["</configuration>"],
        ),
    ),
    Syntax(
        "xml-add",
        "{d}/Web.config",
        _lines(
            ['<?xml version="1.0" encoding="utf-8"?>', "<configuration>", "  <appSettings>"],
            lambda n, v: [f'    <add key="{n["Pascal"]}" value="{v}" />'],
            ["  </appSettings>", "</configuration>"],
        ),
    ),
    Syntax(
        "xml-attr",
        "{d}/conf/beans.xml",
        _lines(["<beans>"], lambda n, v: [f'  <property name="{n["camel"]}" value="{v}"/>'], ["</beans>"]),
    ),
    Syntax(
        "hcl",
        "{d}/terraform/main.tf",
        _lines(
            ["terraform {", '  required_version = ">= 1.5"', "}"],
            lambda n, v: ["", f'provider "{n["word"]}" {{', f'  {n["low"]} = "{v}"', "}"],
            [],
        ),
    ),
    Syntax(
        "tfvars",
        "{d}/terraform/prod.tfvars",
        _lines(['region = "eu-west-1"'], lambda n, v: [f'{n["low"]} = "{v}"'], []),
    ),
    Syntax(
        "k8s-secret",
        "{d}/k8s/secret.yaml",
        _lines(
            [
                "apiVersion: v1",
                "kind: Secret",
                "metadata:",
                "  name: app-credentials",
                "type: Opaque",
                "data:",
            ],
            lambda n, v: [f"  {n['low']}: {_b64(v)}"],
            [],
        ),
        encode=_b64,
    ),
    Syntax(
        "k8s-stringdata",
        "{d}/k8s/secret-string.yaml",
        _lines(
            ["apiVersion: v1", "kind: Secret", "metadata:", "  name: app-credentials", "stringData:"],
            lambda n, v: [f"  {n['low']}: {v}"],
            [],
        ),
    ),
    Syntax(
        "python",
        "{d}/app/settings.py",
        _lines(
            ['"""Settings."""', "import os", "", "DEBUG = False"], lambda n, v: [f'{n["UP"]} = "{v}"'], []
        ),
    ),
    Syntax(
        "python-environ",
        "{d}/app/config.py",
        _lines(["import os", ""], lambda n, v: [f'{n["low"]} = os.environ.get("{n["UP"]}", "{v}")'], []),
    ),
    Syntax(
        "python-dict",
        "{d}/app/clients.py",
        _lines(["CLIENTS = {"], lambda n, v: [f'    "{n["low"]}": "{v}",'], ["}"]),
    ),
    Syntax(
        "js",
        "{d}/src/config.js",
        _lines(["'use strict';"], lambda n, v: [f"const {n['camel']} = '{v}';"], ["module.exports = {};"]),
    ),
    Syntax(
        "ts",
        "{d}/src/config.ts",
        _lines(["export const config = {"], lambda n, v: [f'  {n["camel"]}: "{v}",'], ["};"]),
    ),
    Syntax(
        "js-env-default",
        "{d}/src/env.js",
        _lines([], lambda n, v: [f"const {n['camel']} = process.env.{n['UP']} || '{v}';"], []),
    ),
    Syntax(
        "go",
        "{d}/internal/config/config.go",
        _lines(["package config", ""], lambda n, v: [f'var {n["camel"]} = "{v}"'], []),
    ),
    Syntax(
        "go-short",
        "{d}/cmd/main.go",
        _lines(
            ["package main", "", "func main() {"],
            lambda n, v: [f'\t{n["camel"]} := "{v}"', f"\t_ = {n['camel']}"],
            ["}"],
        ),
    ),
    Syntax(
        "java",
        "{d}/src/main/java/com/acme/Config.java",
        _lines(
            ["package com.acme;", "", "public final class Config {"],
            lambda n, v: [f'    private static final String {n["UP"]} = "{v}";'],
            ["}"],
        ),
    ),
    Syntax(
        "csharp",
        "{d}/src/Settings.cs",
        _lines(
            ["namespace Acme;", "public static class Settings {"],
            lambda n, v: [f'    public const string {n["Pascal"]} = "{v}";'],
            ["}"],
        ),
    ),
    Syntax(
        "ruby",
        "{d}/config/initializers/keys.rb",
        _lines([], lambda n, v: [f"ENV['{n['UP']}'] ||= '{v}'"], []),
    ),
    Syntax(
        "php",
        "{d}/config/services.php",
        _lines(["<?php", "return ["], lambda n, v: [f"    '{n['low']}' => '{v}',"], ["];"]),
    ),
    Syntax(
        "log",
        "{d}/logs/app.log",
        _lines(
            ["2026-11-30T10:00:00Z INFO starting worker pid=4242"],
            lambda n, v: [f"2026-11-30T10:00:01Z DEBUG {n['word']} client configured {n['low']}={v}"],
            ["2026-11-30T10:00:02Z INFO ready"],
        ),
    ),
    Syntax(
        "markdown",
        "{d}/NOTES.md",
        _lines(
            ["# Deploy notes", "", "Set these before running the job:", "", "```sh"],
            lambda n, v: [f"export {n['UP']}={v}"],
            ["```"],
        ),
    ),
    Syntax(
        "dockerfile",
        "{d}/Dockerfile",
        _lines(
            ["FROM python:3.12-slim", "WORKDIR /app"],
            lambda n, v: [f"ENV {n['UP']}={v}"],
            ['CMD ["python", "-m", "app"]'],
        ),
    ),
    # prefixed tokens standing alone, beside no keyword
    Syntax(
        "bearer-curl",
        "{d}/scripts/call.sh",
        _lines(
            ["#!/bin/sh"],
            lambda n, v: [f'curl -sS -H "Authorization: Bearer {v}" https://api.internal.acme.io/v1/me'],
            [],
        ),
        keyword=False,
    ),
    Syntax(
        "json-list",
        "{d}/fixtures/tokens.json",
        lambda items: ["[", *[f'  "{v}",' for _n, v in items], '  "end"', "]"],
        keyword=False,
    ),
    Syntax(
        "py-call",
        "{d}/tools/client.py",
        _lines(["from acme import Client", ""], lambda n, v: [f'client = Client("{v}")'], []),
        keyword=False,
    ),
    Syntax(
        "log-header",
        "{d}/logs/http.log",
        _lines(
            [], lambda n, v: [f'2026-11-30 10:00:03 POST /v1/sync headers={{"authorization": "{v}"}}'], []
        ),
        keyword=False,
    ),
)


def _ipynb(n: dict[str, str], v: str) -> list[str]:
    return [
        "   {",
        '   "cell_type": "code",',
        '   "source": [',
        '    "import os\\n",',
        f'    "os.environ[\\"{n["UP"]}\\"] = \\"{v}\\"\\n"',
        "   ]",
        "   },",
    ]


def _long_log(items: list[tuple[dict[str, str], str]]) -> list[str]:
    """A long access log with the values deep inside: line numbers must hold far from the top."""
    out: list[str] = []
    for i, (n, v) in enumerate(items):
        out += [
            f"2026-11-30T10:{(j // 60) % 60:02d}:{j % 60:02d}Z INFO GET /health 200 {j % 7 + 1}ms req={i * 1000 + j:08x}"
            for j in range(700)
        ]
        out.append(f"2026-11-30T11:00:00Z DEBUG {n['word']} client init {n['low']}={v}")
    return [*out, "2026-11-30T11:00:01Z INFO shutting down"]


MORE_SYNTAXES: tuple[Syntax, ...] = (
    Syntax("log-long", "{d}/logs/access.log", _long_log),
    Syntax(
        "spring-default",
        "{d}/src/main/resources/application.yml",
        _lines(
            ["spring:", "  application:", "    name: orders"],
            lambda n, v: [f"{n['word']}:", f"  {n['kebab']}: ${{{n['UP']}:{v}}}"],
            [],
        ),
    ),
    Syntax("rust", "{d}/src/config.rs", _lines([], lambda n, v: [f'pub const {n["UP"]}: &str = "{v}";'], [])),
    Syntax(
        "kotlin",
        "{d}/app/src/main/kotlin/Config.kt",
        _lines(["object Config {"], lambda n, v: [f'    val {n["camel"]} = "{v}"'], ["}"]),
    ),
    Syntax(
        "swift",
        "{d}/Sources/App/Keys.swift",
        _lines(["enum Keys {"], lambda n, v: [f'    static let {n["camel"]} = "{v}"'], ["}"]),
    ),
    Syntax("powershell", "{d}/ops/setup.ps1", _lines([], lambda n, v: [f'$env:{n["UP"]} = "{v}"'], [])),
    Syntax("batch", "{d}/scripts/env.cmd", _lines(["@echo off"], lambda n, v: [f"set {n['UP']}={v}"], [])),
    Syntax(
        "makefile",
        "{d}/Makefile",
        _lines([".PHONY: deploy"], lambda n, v: [f"{n['UP']} ?= {v}"], ["deploy:", "\t./deploy.sh"]),
    ),
    Syntax(
        "requests-header",
        "{d}/app/api_client.py",
        _lines(
            ["import requests", ""],
            lambda n, v: [f'resp = requests.get(URL, headers={{"X-{n["Pascal"]}": "{v}"}}, timeout=10)'],
            [],
        ),
    ),
    Syntax(
        "curl-header",
        "{d}/scripts/sync.sh",
        _lines(
            ["#!/usr/bin/env bash"],
            lambda n, v: [f'curl -fsS -H "X-{n["kebab"]}: {v}" https://hooks.acme-corp.io/sync'],
            [],
        ),
    ),
    Syntax(
        "url-query",
        "{d}/config/endpoints.yaml",
        _lines(
            ["endpoints:"],
            lambda n, v: [f"  {n['word']}: https://api.acme-corp.io/v2/feed?{n['low']}={v}&format=json"],
            [],
        ),
    ),
    Syntax(
        "ipynb",
        "{d}/notebooks/explore.ipynb",
        lambda items: [
            "{",
            ' "cells": [',
            *[ln for n, v in items for ln in _ipynb(n, v)],
            '   {"cell_type": "markdown", "source": []}',
            " ]",
            "}",
        ],
    ),
    Syntax(
        "ansible",
        "{d}/ansible/group_vars/prod.yml",
        _lines(["---"], lambda n, v: [f'{n["low"]}: "{v}"'], ["deploy_user: ansible"]),
    ),
    Syntax(
        "helm-values",
        "{d}/charts/app/values-prod.yaml",
        _lines(["replicaCount: 2", "env:"], lambda n, v: [f"  - name: {n['UP']}", f'    value: "{v}"'], []),
    ),
    Syntax(
        "github-actions-with",
        "{d}/.github/workflows/release.yml",
        _lines(
            ["jobs:", "  release:", "    runs-on: ubuntu-latest", "    steps:"],
            lambda n, v: [
                f"      - uses: acme/{n['kebab']}-action@v2",
                "        with:",
                f"          {n['low']}: {v}",
            ],
            [],
        ),
    ),
    Syntax(
        "terraform-variable",
        "{d}/terraform/variables.tf",
        _lines(
            [],
            lambda n, v: [
                f'variable "{n["low"]}" {{',
                "  type      = string",
                "  sensitive = true",
                f'  default   = "{v}"',
                "}",
            ],
            [],
        ),
    ),
    Syntax(
        "csharp-dictionary",
        "{d}/src/Startup.cs",
        _lines(
            ["var settings = new Dictionary<string, string> {"],
            lambda n, v: [f'    ["{n["Pascal"]}"] = "{v}",'],
            ["};"],
        ),
    ),
    Syntax(
        "yaml-sequence-map",
        "{d}/.circleci/config.yml",
        _lines(
            [
                "version: 2.1",
                "jobs:",
                "  build:",
                "    docker:",
                "      - image: cimg/base:2024.01",
                "        environment:",
            ],
            lambda n, v: [f"          {n['UP']}: {v}"],
            [],
        ),
    ),
    Syntax(
        "bare-in-prose",
        "{d}/docs/runbook.md",
        _lines(
            ["# Runbook", ""],
            lambda n, v: [f"The rotation job failed; the old key `{v}` was still live."],
            [],
        ),
        keyword=False,
    ),
    Syntax(
        "csv",
        "{d}/exports/keys.csv",
        lambda items: [
            "service,created,token",
            *[f"svc-{i},2026-10-0{i + 1},{v}" for i, (_n, v) in enumerate(items)],
        ],
        keyword=False,
    ),
)
"""More syntaxes users write (Spring defaults, notebooks, Helm values, CI configs, other languages)."""

ALL_SYNTAXES = SECRET_SYNTAXES + MORE_SYNTAXES

EXTRA_SYNTAXES: dict[str, tuple[Syntax, ...]] = {
    "npm": (
        Syntax(
            "npmrc",
            "{d}/.npmrc",
            _lines(
                ["registry=https://registry.npmjs.org/"],
                lambda n, v: [f"//registry.npmjs.org/:_authToken={v}"],
                [],
            ),
        ),
    ),
    "pypi": (
        Syntax(
            "pypirc",
            "{d}/.pypirc",
            _lines(
                ["[distutils]", "index-servers =", "    pypi", "    testpypi", ""],
                lambda n, v: ["[pypi]", "username = __token__", f"password = {v}", ""],
                [],
            ),
        ),
    ),
    "github": (
        Syntax(
            "git-credentials",
            "{d}/.git-credentials",
            _lines([], lambda n, v: [f"https://x-access-token:{v}@github.com"], []),
        ),
        Syntax(
            "gh-hosts",
            "{d}/.config/gh/hosts.yml",
            _lines(
                ["github.com:"],
                lambda n, v: [f"    oauth_token: {v}", "    user: acme-bot", "    git_protocol: https"],
                [],
            ),
        ),
    ),
    "dockerhub": (
        Syntax(
            "docker-login-stdin",
            "{d}/ci/push.sh",
            _lines(
                ["#!/bin/sh"], lambda n, v: [f'echo "{v}" | docker login -u acmebot --password-stdin'], []
            ),
        ),
    ),
}
EXTRA_SYNTAXES["testpypi"] = EXTRA_SYNTAXES["pypi"]
"""Syntaxes only one provider's tokens are written in (.npmrc, .pypirc, .git-credentials...)."""


def _generic_secrets() -> list[tuple[str, str, Callable[[random.Random], tuple[list[str], str]]]]:
    """Passwords and keys that only a keyword or a syntax gives away: (label, path, make) where make
    returns (file lines, the text to label) and the labelled line is the first one holding the text."""

    def npmrc_token(rng: random.Random) -> tuple[list[str], str]:
        v = _random_text(rng, B64URL, 40)
        return (
            [
                "registry=https://npm.acme-internal.io/",
                f"//npm.acme-internal.io/:_authToken={v}",
                "always-auth=true",
            ],
            v,
        )

    def npmrc_auth(rng: random.Random) -> tuple[list[str], str]:
        v = basic_b64(rng)
        return (["@acme:registry=https://registry.acme-corp.io/", f"//registry.acme-corp.io/:_auth={v}"], v)

    def pypirc(rng: random.Random) -> tuple[list[str], str]:
        v = password(rng)
        return (
            [
                "[distutils]",
                "index-servers = internal",
                "",
                "[internal]",
                "repository = https://pkgs.acme-corp.io/simple/",
                "username = deploy",
                f"password = {v}",
            ],
            v,
        )

    def nuget(rng: random.Random) -> tuple[list[str], str]:
        v = password(rng)
        return (
            [
                '<?xml version="1.0" encoding="utf-8"?>',
                "<configuration>",
                "  <packageSourceCredentials>",
                "    <AcmeFeed>",
                '      <add key="Username" value="builder" />',
                f'      <add key="ClearTextPassword" value="{v}" />',
                "    </AcmeFeed>",
                "  </packageSourceCredentials>",
                "</configuration>",
            ],
            v,
        )

    def curl_u(rng: random.Random) -> tuple[list[str], str]:
        v = password(rng)
        return (["#!/bin/sh", f"curl -u deploy:{v} https://ci.acme-corp.io/job/release/build"], v)

    def curl_user(rng: random.Random) -> tuple[list[str], str]:
        v = password(rng)
        return (
            [
                "#!/bin/sh",
                f'curl --user "admin:{v}" -X POST https://nexus.acme-corp.io/service/rest/v1/script',
            ],
            v,
        )

    def mysql_p(rng: random.Random) -> tuple[list[str], str]:
        v = password(rng)
        return (["#!/bin/sh", f"mysql -h db.acme-corp.io -u app -p{v} billing < dump.sql"], v)

    def pg_url(rng: random.Random) -> tuple[list[str], str]:
        v = _random_text(rng, B62, rng.randint(16, 28))
        return ([f"DATABASE_URL=postgres://billing:{v}@db-prod.acme-corp.io:5432/billing"], v)

    def mongo_url(rng: random.Random) -> tuple[list[str], str]:
        v = _random_text(rng, B62, rng.randint(16, 28))
        return (
            [
                "mongo:",
                f'  uri: "mongodb+srv://svc_orders:{v}@cluster0.x7k2p.mongodb.net/orders?retryWrites=true"',
            ],
            v,
        )

    def redis_url(rng: random.Random) -> tuple[list[str], str]:
        v = _random_text(rng, B62, rng.randint(20, 32))
        return ([f'REDIS_URL = "redis://:{v}@cache.acme-corp.io:6379/0"'], v)

    def amqp_url(rng: random.Random) -> tuple[list[str], str]:
        v = _random_text(rng, B62, rng.randint(16, 24))
        return ([f"broker_url: amqp://worker:{v}@mq.acme-corp.io:5672/prod"], v)

    def jdbc(rng: random.Random) -> tuple[list[str], str]:
        v = password(rng)
        return (
            [
                "spring.datasource.url=jdbc:postgresql://db.acme-corp.io:5432/app",
                "spring.datasource.username=app",
                f"spring.datasource.password={v}",
            ],
            v,
        )

    def conn_string(rng: random.Random) -> tuple[list[str], str]:
        v = password(rng)
        return (
            [
                "{",
                '  "ConnectionStrings": {',
                f'    "Default": "Server=sql.acme-corp.io;Database=Orders;User Id=orders_app;Password={v};"',
                "  }",
                "}",
            ],
            v,
        )

    def xml_password(rng: random.Random) -> tuple[list[str], str]:
        v = password(rng)
        return (
            [
                "<settings>",
                "  <servers>",
                "    <server>",
                "      <id>acme-releases</id>",
                "      <username>deployer</username>",
                f"      <password>{v}</password>",
                "    </server>",
                "  </servers>",
                "</settings>",
            ],
            v,
        )

    def hcl_password(rng: random.Random) -> tuple[list[str], str]:
        v = password(rng)
        return (
            [
                'resource "azurerm_mssql_server" "main" {',
                '  name                         = "orders-sql"',
                '  administrator_login          = "sqladmin"',
                f'  administrator_login_password = "{v}"',
                "}",
            ],
            v,
        )

    def k8s_password(rng: random.Random) -> tuple[list[str], str]:
        v = _b64(password(rng))
        return (
            [
                "apiVersion: v1",
                "kind: Secret",
                "metadata:",
                "  name: db-creds",
                "type: Opaque",
                "data:",
                "  username: YXBw",
                f"  password: {v}",
            ],
            v,
        )

    def py_password(rng: random.Random) -> tuple[list[str], str]:
        v = password(rng)
        return (
            [
                "import psycopg",
                "",
                f'conn = psycopg.connect(host="db.acme-corp.io", user="app", password="{v}")',
            ],
            v,
        )

    def py_environ(rng: random.Random) -> tuple[list[str], str]:
        v = password(rng)
        return (["import os", "", f'DB_PASSWORD = os.environ.get("DB_PASSWORD", "{v}")'], v)

    def js_secret(rng: random.Random) -> tuple[list[str], str]:
        v = _random_text(rng, B62, 40)
        return (
            [
                "const session = require('express-session');",
                f"app.use(session({{ secret: '{v}', resave: false }}));",
            ],
            v,
        )

    def go_password(rng: random.Random) -> tuple[list[str], str]:
        v = password(rng)
        return (["package db", "", f'const dbPassword = "{v}"'], v)

    def java_password(rng: random.Random) -> tuple[list[str], str]:
        v = password(rng)
        return (["class Db {", f'    private String password = "{v}";', "}"], v)

    def csharp_password(rng: random.Random) -> tuple[list[str], str]:
        v = password(rng)
        return (["var creds = new NetworkCredential(", '    "svc_backup",', f'    "{v}");'], v)

    def env_secret_key(rng: random.Random) -> tuple[list[str], str]:
        v = _random_text(rng, B64URL, 50)
        return (["DJANGO_DEBUG=0", f"DJANGO_SECRET_KEY={v}"], v)

    def yaml_api_key(rng: random.Random) -> tuple[list[str], str]:
        v = _random_text(rng, B62, 32)
        return (["monitoring:", "  endpoint: https://metrics.acme-corp.io", f"  api_key: {v}"], v)

    def log_password(rng: random.Random) -> tuple[list[str], str]:
        v = password(rng)
        return ([f"2026-11-30T10:02:11Z WARN login retry user=svc_sync password={v} attempt=2"], v)

    def ini_password(rng: random.Random) -> tuple[list[str], str]:
        v = password(rng)
        return (["[database]", "host = db.acme-corp.io", "user = reporting", f"password = {v}"], v)

    def toml_token(rng: random.Random) -> tuple[list[str], str]:
        v = _random_text(rng, B62, 36)
        return (["[registry]", 'url = "https://crates.acme-corp.io"', f'token = "{v}"'], v)

    def basic_header(rng: random.Random) -> tuple[list[str], str]:
        v = basic_b64(rng)
        return (
            ["GET /api/v2/reports HTTP/1.1", "Host: reports.acme-corp.io", f"Authorization: Basic {v}"],
            v,
        )

    def pg_pass(rng: random.Random) -> tuple[list[str], str]:
        v = password(rng)
        return ([f"db.acme-corp.io:5432:billing:billing_app:{v}"], v)

    def ps_secure(rng: random.Random) -> tuple[list[str], str]:
        v = password(rng)
        return ([f'$pw = ConvertTo-SecureString "{v}" -AsPlainText -Force'], v)

    def docker_login(rng: random.Random) -> tuple[list[str], str]:
        v = password(rng)
        return (["#!/bin/sh", f"docker login registry.acme-corp.io -u ci-bot -p {v}"], v)

    def camel_token(rng: random.Random) -> tuple[list[str], str]:
        v = _random_text(rng, B62, 40)
        return (["export class Client {", f'  private readonly accessToken = "{v}";', "}"], v)

    def cs_password_prop(rng: random.Random) -> tuple[list[str], str]:
        v = password(rng)
        return (
            [
                'var smtp = new SmtpClient("smtp.acme-corp.io") {',
                f'    Credentials = new NetworkCredential("alerts", "{v}")',
                "};",
            ],
            v,
        )

    def xml_add_password(rng: random.Random) -> tuple[list[str], str]:
        v = password(rng)
        return (
            [
                "<configuration>",
                "  <appSettings>",
                f'    <add key="SmtpPassword" value="{v}" />',
                "  </appSettings>",
                "</configuration>",
            ],
            v,
        )

    def sql_user(rng: random.Random) -> tuple[list[str], str]:
        v = password(rng)
        return (
            [
                "-- reporting role",
                f"CREATE USER reporting WITH PASSWORD '{v}';",
                "GRANT SELECT ON ALL TABLES IN SCHEMA public TO reporting;",
            ],
            v,
        )

    def netrc(rng: random.Random) -> tuple[list[str], str]:
        v = _random_text(rng, B62, 32)
        return ([f"machine api.acme-corp.io login deploy-bot password {v}"], v)

    def docker_config(rng: random.Random) -> tuple[list[str], str]:
        v = basic_b64(rng)
        return (
            [
                "{",
                '  "auths": {',
                '    "registry.acme-corp.io": {',
                f'      "auth": "{v}"',
                "    }",
                "  }",
                "}",
            ],
            v,
        )

    def git_clone(rng: random.Random) -> tuple[list[str], str]:
        v = _random_text(rng, B62, 32)
        return (["#!/bin/sh", f"git clone https://ci-bot:{v}@git.acme-corp.io/platform/infra.git"], v)

    def pgpassword(rng: random.Random) -> tuple[list[str], str]:
        v = password(rng)
        return (["#!/bin/sh", f"PGPASSWORD='{v}' psql -h db.acme-corp.io -U reporting -c 'select 1'"], v)

    def sshpass(rng: random.Random) -> tuple[list[str], str]:
        v = password(rng)
        return (["#!/bin/sh", f"sshpass -p '{v}' ssh ops@bastion.acme-corp.io uptime"], v)

    def openssl_pass(rng: random.Random) -> tuple[list[str], str]:
        v = password(rng)
        return (
            [
                "#!/bin/sh",
                f"openssl pkcs12 -export -in cert.pem -inkey key.pem -out bundle.p12 -passout pass:{v}",
            ],
            v,
        )

    def ldap_bind(rng: random.Random) -> tuple[list[str], str]:
        v = password(rng)
        return (
            [
                "ldap:",
                "  url: ldaps://ldap.acme-corp.io:636",
                "  bind_dn: cn=svc-gitlab,ou=services,dc=acme,dc=io",
                f"  bind_password: '{v}'",
            ],
            v,
        )

    def smtp_url(rng: random.Random) -> tuple[list[str], str]:
        v = _random_text(rng, B62, 20)
        return ([f"EMAIL_URL=smtp+tls://alerts%40acme-corp.io:{v}@smtp.acme-corp.io:587"], v)

    def kotlin_secret(rng: random.Random) -> tuple[list[str], str]:
        v = _random_text(rng, B62, 40)
        return (["object Auth {", f'    const val clientSecret = "{v}"', "}"], v)

    return [
        ("npmrc _authToken", ".npmrc", npmrc_token),
        ("appSettings add SmtpPassword", "src/Web/Web.config", xml_add_password),
        ("SQL CREATE USER PASSWORD", "db/migrations/0042_reporting_role.sql", sql_user),
        (".netrc", "ops/.netrc", netrc),
        ("docker config.json auth", "ci/docker/config.json", docker_config),
        ("git clone with token", "scripts/clone.sh", git_clone),
        ("PGPASSWORD", "scripts/check-db.sh", pgpassword),
        ("sshpass -p", "scripts/uptime.sh", sshpass),
        ("openssl -passout", "scripts/bundle-cert.sh", openssl_pass),
        ("LDAP bind_password", "config/gitlab-ldap.yml", ldap_bind),
        ("SMTP url", "deploy/mail.env", smtp_url),
        ("Kotlin clientSecret", "app/src/main/kotlin/Auth.kt", kotlin_secret),
        ("npmrc _auth", "web/.npmrc", npmrc_auth),
        ("pypirc password", ".pypirc", pypirc),
        ("NuGet ClearTextPassword", "NuGet.Config", nuget),
        ("curl -u", "scripts/trigger.sh", curl_u),
        ("curl --user", "scripts/nexus.sh", curl_user),
        ("mysql -p", "scripts/restore.sh", mysql_p),
        ("postgres url", "deploy/.env", pg_url),
        ("mongodb+srv url", "config/database.yml", mongo_url),
        ("redis url", "app/cache.py", redis_url),
        ("amqp url", "config/celery.yaml", amqp_url),
        ("jdbc properties", "src/main/resources/application-prod.properties", jdbc),
        ("connection string", "src/Api/appsettings.Production.json", conn_string),
        ("maven settings.xml password", "ci/settings.xml", xml_password),
        ("terraform password", "infra/sql.tf", hcl_password),
        ("k8s secret base64 password", "deploy/k8s/db-secret.yaml", k8s_password),
        ("python password kwarg", "app/db.py", py_password),
        ("os.environ.get default", "app/settings.py", py_environ),
        ("express session secret", "server/app.js", js_secret),
        ("go const password", "internal/db/db.go", go_password),
        ("java field password", "src/main/java/Db.java", java_password),
        ("NetworkCredential", "src/Backup/Job.cs", csharp_password),
        ("django secret key", "deploy/prod.env", env_secret_key),
        ("yaml api_key", "config/monitoring.yaml", yaml_api_key),
        ("log line password", "logs/auth.log", log_password),
        ("ini password", "conf/reporting.ini", ini_password),
        ("toml token", ".cargo/credentials.toml", toml_token),
        ("Basic header", "docs-internal/request.http", basic_header),
        (".pgpass", "ops/.pgpass", pg_pass),
        ("ConvertTo-SecureString", "ops/deploy.ps1", ps_secure),
        ("docker login -p", "ci/login.sh", docker_login),
        ("camelCase accessToken field", "src/client.ts", camel_token),
        ("SMTP NetworkCredential", "src/Mail/Sender.cs", cs_password_prop),
    ]


def _private_keys() -> list[tuple[str, str]]:
    return [
        ("RSA PRIVATE KEY", "deploy/id_rsa"),
        ("EC PRIVATE KEY", "certs/server-ec.key"),
        ("PRIVATE KEY", "certs/tls.key"),
        ("OPENSSH PRIVATE KEY", "ops/keys/id_ed25519"),
        ("PGP PRIVATE KEY BLOCK", "release/signing.asc"),
        ("DSA PRIVATE KEY", "legacy/dsa.pem"),
    ]


def _key_pem_file(block: list[str], path: str) -> tuple[list[str], str]:
    return (block, block[0])


def _key_json(block: list[str], path: str) -> tuple[list[str], str]:
    """A cloud service-account JSON: the PEM on one line with escaped newlines."""
    value = "\\n".join(block) + "\\n"
    return (
        [
            "{",
            '  "type": "service_account",',
            '  "project_id": "acme-prod-331207",',
            '  "private_key_id": "' + hashlib.sha1(value.encode()).hexdigest() + '",',
            f'  "private_key": "{value}",',
            '  "client_email": "deployer@acme-prod-331207.iam.gserviceaccount.com"',
            "}",
        ],
        value[:60],
    )


def _key_yaml_block(block: list[str], path: str) -> tuple[list[str], str]:
    return (["tls:", "  enabled: true", "  key: |", *[f"    {ln}" for ln in block], "  port: 8443"], block[0])


def _key_k8s_b64(block: list[str], path: str) -> tuple[list[str], str]:
    value = base64.b64encode(("\n".join(block) + "\n").encode()).decode()
    return (
        [
            "apiVersion: v1",
            "kind: Secret",
            "metadata:",
            "  name: ingress-tls",
            "type: kubernetes.io/tls",
            "data:",
            "  tls.crt: "
            + base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").decode(),
            f"  tls.key: {value}",
        ],
        value,
    )


def _key_code(block: list[str], path: str) -> tuple[list[str], str]:
    first = f'SIGNING_KEY = """{block[0]}'
    return (["# Signing key for the webhook tests", first, *block[1:-1], block[-1] + '"""'], first)


_KEY_SYNTAXES: tuple[tuple[str, Callable[[list[str], str], tuple[list[str], str]]], ...] = (
    ("pem-file", _key_pem_file),
    ("service-account-json", _key_json),
    ("yaml-block", _key_yaml_block),
    ("k8s-tls-base64", _key_k8s_b64),
    ("python-string", _key_code),
)
_KEY_PATHS = {
    "service-account-json": "config/service-account.json",
    "yaml-block": "config/server.yaml",
    "k8s-tls-base64": "deploy/k8s/tls-secret.yaml",
    "python-string": "app/signing.py",
}


# ---------------------------------------------------------------------------------- look-alikes

_DOC_JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
"""The jwt.io example token: the most copied JWT in documentation."""


def _lookalikes() -> list[tuple[str, str, str, Callable[[random.Random], list[tuple[str, str | None]]]]]:
    """Benign families: (family, syntax, path, make) where make returns [(line, labelled text or None)]:
    a line whose text is not None is a labelled look-alike; None lines are plain context."""

    def L(text: str, value: str | None = None) -> tuple[str, str | None]:
        return (text, value)

    def uuids_jenkins(rng: random.Random) -> list[tuple[str, str | None]]:
        out = [
            L("pipeline {"),
            L("  agent any"),
            L("  stages {"),
            L("    stage('Deploy') {"),
            L("      steps {"),
        ]
        for _ in range(4):
            u = _uuid(rng)
            out.append(
                L(
                    f"        withCredentials([usernamePassword(credentialsId: '{u}', usernameVariable: 'USER', passwordVariable: 'PASS')]) {{",
                    u,
                )
            )
            out.append(L("          sh './deploy.sh'"))
            out.append(L("        }"))
        return [*out, L("      }"), L("    }"), L("  }"), L("}")]

    def uuids_json(rng: random.Random) -> list[tuple[str, str | None]]:
        out = [L("[")]
        for _ in range(5):
            u = _uuid(rng)
            out.append(L(f'  {{"request_id": "{u}", "status": 200}},', u))
        return [*out, L('  {"request_id": null}'), L("]")]

    def uuids_yaml(rng: random.Random) -> list[tuple[str, str | None]]:
        out = [L("tenants:")]
        for key in ("tenant_id", "subscription_id", "client_id", "object_id", "installation_id"):
            u = _uuid(rng)
            out.append(L(f"  {key}: {u}", u))
        return out

    def uuids_csproj(rng: random.Random) -> list[tuple[str, str | None]]:
        u = _uuid(rng).upper()
        g = _uuid(rng).upper()
        return [
            L('<Project Sdk="Microsoft.NET.Sdk.Web">'),
            L("  <PropertyGroup>"),
            L(f"    <UserSecretsId>{u}</UserSecretsId>", u),
            L(f"    <ProjectGuid>{{{g}}}</ProjectGuid>", g),
            L("  </PropertyGroup>"),
            L("</Project>"),
        ]

    def hashes_sums(rng: random.Random) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = []
        for _name, n in (("md5", 32), ("sha1", 40), ("sha256", 64), ("sha256", 64), ("sha1", 40)):
            h = _random_text(rng, HEX, n)
            out.append(
                L(f"{h}  dist/acme-cli-{rng.randint(1, 9)}.{rng.randint(0, 20)}.0-linux-amd64.tar.gz", h)
            )
        return out

    def hashes_yaml(rng: random.Random) -> list[tuple[str, str | None]]:
        out = [L("artifacts:")]
        for key, n in (("md5", 32), ("sha1", 40), ("sha256", 64), ("checksum", 64), ("etag", 32)):
            h = _random_text(rng, HEX, n)
            out += [L(f"  - name: bundle-{key}.zip"), L(f"    {key}: {h}", h)]
        return out

    def docker_digest(rng: random.Random) -> list[tuple[str, str | None]]:
        out = [L("services:")]
        for svc in ("api", "worker", "cron"):
            h = _random_text(rng, HEX, 64)
            out += [L(f"  {svc}:"), L(f"    image: ghcr.io/acme/{svc}@sha256:{h}", h)]
        return out

    def commit_shas(rng: random.Random) -> list[tuple[str, str | None]]:
        out = [L("repos:")]
        for repo in (
            "https://github.com/pre-commit/pre-commit-hooks",
            "https://github.com/astral-sh/ruff-pre-commit",
            "https://github.com/psf/black",
        ):
            h = _random_text(rng, HEX, 40)
            out += [
                L(f"  - repo: {repo}"),
                L(f"    rev: {h}  # frozen: v1.2.3", h),
                L("    hooks:"),
                L("      - id: check-yaml"),
            ]
        return out

    def git_log(rng: random.Random) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = [L("# Changelog"), L("")]
        for msg in (
            "fix: retry token refresh",
            "feat: rotate api key on deploy",
            "chore: bump secret scanner",
            "docs: password policy",
        ):
            h = _random_text(rng, HEX, 40)
            out.append(L(f"- {msg} ({h})", h))
        return out

    def gomod(rng: random.Random) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = []
        for mod in ("github.com/acme/auth", "golang.org/x/crypto", "github.com/acme/tokens"):
            h = base64.b64encode(rng.randbytes(32)).decode()
            out.append(L(f"{mod} v1.{rng.randint(0, 9)}.{rng.randint(0, 9)} h1:{h}", h))
        return out

    def bcrypt(rng: random.Random) -> list[tuple[str, str | None]]:
        out = [L("users:")]
        for user in ("admin", "ops", "viewer", "auditor"):
            h = "$2b$12$" + _random_text(rng, B62 + "./", 53)
            out += [L(f"  - name: {user}"), L(f'    password: "{h}"', h)]
        return out

    def argon2(rng: random.Random) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = [L("{"), L('  "users": [')]
        for user in ("alice", "bob", "carol"):
            salt = base64.b64encode(rng.randbytes(16)).decode().rstrip("=")
            h = f"$argon2id$v=19$m=65536,t=3,p=4${salt}${base64.b64encode(rng.randbytes(32)).decode().rstrip('=')}"
            out.append(L(f'    {{"name": "{user}", "password_hash": "{h}"}},', h))
        return [*out, L('    {"name": "guest"}'), L("  ]"), L("}")]

    def sha512crypt(rng: random.Random) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = [L("users:")]
        for user in ("deploy", "backup", "monitor"):
            h = f"$6$rounds=656000${_random_text(rng, B62, 16)}${_random_text(rng, B62 + './', 86)}"
            out += [L(f"  - name: {user}"), L(f"    password: '{h}'", h)]
        return out

    def htpasswd(rng: random.Random) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = []
        for user in ("admin", "grafana", "prom"):
            h = "$apr1$" + _random_text(rng, B62, 8) + "$" + _random_text(rng, B62 + "./", 22)
            out.append(L(f"{user}:{h}", h))
        return out

    def data_uri(rng: random.Random) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = []
        for cls in ("logo", "icon", "spinner"):
            b = "iVBORw0KGgoAAAANSUhEUgAA" + base64.b64encode(rng.randbytes(rng.randint(60, 180))).decode()
            out.append(L(f".{cls} {{ background-image: url(data:image/png;base64,{b}); }}", b))
        return out

    def data_uri_html(rng: random.Random) -> list[tuple[str, str | None]]:
        b = "R0lGODlhAQABAIAAAP" + base64.b64encode(rng.randbytes(90)).decode()
        f = "d09GMgABAAAAA" + base64.b64encode(rng.randbytes(150)).decode()
        return [
            L("<!doctype html>"),
            L(f'<img alt="pixel" src="data:image/gif;base64,{b}">', b),
            L(f"<style>@font-face {{ font-family: x; src: url(data:font/woff2;base64,{f}); }}</style>", f),
        ]

    def integrity_npm(rng: random.Random) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = [
            L("{"),
            L('  "name": "web",'),
            L('  "lockfileVersion": 3,'),
            L('  "packages": {'),
        ]
        for pkg in ("left-pad", "react", "token-utils", "jsonwebtoken", "secret-handshake"):
            i = base64.b64encode(rng.randbytes(64)).decode()
            out += [
                L(f'    "node_modules/{pkg}": {{'),
                L(f'      "version": "1.{rng.randint(0, 9)}.{rng.randint(0, 9)}",'),
                L(f'      "resolved": "https://registry.npmjs.org/{pkg}/-/{pkg}-1.0.0.tgz",'),
                L(f'      "integrity": "sha512-{i}"', i),
                L("    },"),
            ]
        return [*out, L('    "": {}'), L("  }"), L("}")]

    def integrity_yarn(rng: random.Random) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = [L("# yarn lockfile v1"), L("")]
        for pkg in ("ansi-regex", "api-key-auth", "chalk"):
            i = base64.b64encode(rng.randbytes(64)).decode()
            out += [
                L(f'"{pkg}@^5.0.0":'),
                L('  version "5.0.1"'),
                L(f'  resolved "https://registry.yarnpkg.com/{pkg}/-/{pkg}-5.0.1.tgz"'),
                L(f"  integrity sha512-{i}", i),
                L(""),
            ]
        return out

    def integrity_html(rng: random.Random) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = [L("<head>")]
        for lib in ("bootstrap", "jquery"):
            i = base64.b64encode(rng.randbytes(48)).decode()
            out.append(
                L(
                    f'  <script src="https://cdn.example-cdn.net/{lib}.js" integrity="sha384-{i}" crossorigin="anonymous"></script>',
                    i,
                )
            )
        return [*out, L("</head>")]

    def minified(rng: random.Random) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = []
        for _ in range(4):
            a, b, c = (_random_text(rng, LOWER, 1) for _ in range(3))
            body = (
                f'!function({a},{b}){{var {c}={a}.token||{b}.getItem("auth_token"),p={a}.password;'
                f'return {c}?fetch("/api/session",{{headers:{{Authorization:"Bearer "+{c}}},body:JSON.stringify({{password:p,apiKey:{a}.apiKey}})}}):null}}'
                f'(window,localStorage);__webpack_require__.p="/static/chunk.{_random_text(rng, HEX, 20)}.js";'
            )
            out.append(L(body, body[:40]))
        return out

    def minified_sourcemap(rng: random.Random) -> list[tuple[str, str | None]]:
        names = [_random_text(rng, LETTERS, rng.randint(1, 3)) for _ in range(400)]
        code = ";".join(
            f"var {a}=function({b}){{return {b}&&{b}.apiKey?{b}.token:null}}"
            for a, b in zip(names[::2], names[1::2], strict=True)
        )
        mapping = base64.b64encode(
            json.dumps(
                {
                    "version": 3,
                    "sources": ["src/auth.ts"],
                    "names": ["token", "apiKey"],
                    "mappings": "AAAA," * 400,
                }
            ).encode()
            + rng.randbytes(2000)
        ).decode()
        return [
            L(code, code[:30]),
            L(f"//# sourceMappingURL=data:application/json;base64,{mapping}", mapping),
        ]

    def placeholders_generic(rng: random.Random) -> list[tuple[str, str | None]]:
        vals = [
            ("API_KEY", "<your-api-key>"),
            ("SECRET_KEY", "changeme"),
            ("DB_PASSWORD", "your_password_here"),
            ("AUTH_TOKEN", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
            ("CLIENT_SECRET", "YOUR_CLIENT_SECRET"),
            ("ADMIN_PASSWORD", "********"),
            ("ACCESS_TOKEN", "REPLACE_ME"),
            ("SIGNING_KEY", "0123456789abcdef0123456789abcdef"),
            ("WEBHOOK_SECRET", "aaaaaaaaaaaaaaaaaaaaaaaa"),
            ("SESSION_SECRET", "keyboard cat"),
        ]
        rng.shuffle(vals)
        return [L(f"{k}={v}", v) for k, v in vals[:7]]

    def placeholders_yaml(rng: random.Random) -> list[tuple[str, str | None]]:
        vals = [
            ("password", "<password>"),
            ("api_token", "${API_TOKEN}"),
            ("secret", "TODO"),
            ("token", "your-token-here"),
            ("client_secret", "<client-secret>"),
            ("access_key", "YourAccessKeyHere"),
            ("private_token", "insert-token-here"),
            ("password", "password"),
        ]
        rng.shuffle(vals)
        return [L("auth:"), *[L(f"  {k}: {v}", v) for k, v in vals[:6]]]

    def placeholders_py(rng: random.Random) -> list[tuple[str, str | None]]:
        vals = [
            ("SECRET_KEY", "dev"),
            ("SECRET_KEY", "dev-secret-key-change-me"),
            ("API_KEY", "test"),
            ("PASSWORD", "secret"),
            ("TOKEN", "dummy-token"),
            ("STRIPE_KEY", "sk_test_xxxxxxxxxxxxxxxxxxxxxxxx"),
            ("JWT_SECRET", "super-secret"),
        ]
        rng.shuffle(vals)
        return [L(f'{k} = "{v}"', v) for k, v in vals[:6]]

    def names_of_secrets(rng: random.Random) -> list[tuple[str, str | None]]:
        vals = [
            '  "secretName": "NEXUS-GPT4-API-KEY",',
            '  "keyVaultSecret": "prod-db-password",',
            '  "tokenEnvVar": "GITHUB_TOKEN",',
            '  "passwordSecretRef": "orders-db-creds",',
            '  "apiKeyHeader": "X-Api-Key",',
            '  "secretKeyName": "STRIPE_SECRET_KEY",',
            '  "credentialName": "azure-sp-deploy",',
        ]
        rng.shuffle(vals)
        out = [L("{")]
        for v in vals[:6]:
            value = v.split(": ")[1].strip('",')
            out.append(L(v, value))
        return [*out, L('  "version": 1'), L("}")]

    def names_k8s(rng: random.Random) -> list[tuple[str, str | None]]:
        s = rng.choice(("db-creds", "api-credentials", "stripe-secret"))
        return [
            L("env:"),
            L("  - name: DB_PASSWORD"),
            L("    valueFrom:"),
            L("      secretKeyRef:"),
            L(f"        name: {s}", s),
            L("        key: password", "password"),
            L("  - name: API_TOKEN"),
            L("    valueFrom:"),
            L("      secretKeyRef:"),
            L("        name: api-token-secret", "api-token-secret"),
            L("        key: token", "token"),
            L("volumes:"),
            L("  - name: tls"),
            L("    secret:"),
            L(f"      secretName: {s}-tls", f"{s}-tls"),
        ]

    def references_env(rng: random.Random) -> list[tuple[str, str | None]]:
        vals = [
            "DB_PASSWORD=${DB_PASSWORD}",
            "API_TOKEN=$(cat /run/secrets/api_token)",
            "GITHUB_TOKEN=${{ secrets.GITHUB_TOKEN }}",
            "NPM_TOKEN=${NPM_TOKEN:?missing}",
            "SECRET_KEY=`vault kv get -field=secret_key secret/app`",
            "AWS_SECRET_ACCESS_KEY=$(aws configure get aws_secret_access_key)",
            "PASSWORD=$(openssl rand -hex 32)",
            'TOKEN="$(gh auth token)"',
        ]
        rng.shuffle(vals)
        return [L(v, v.split("=", 1)[1]) for v in vals[:7]]

    def references_templates(rng: random.Random) -> list[tuple[str, str | None]]:
        vals = [
            ("password", "{{ .Values.db.password }}"),
            ("apiKey", "{{ .Values.apiKey | b64enc }}"),
            ("token", '{{ vault "secret/data/ci" "token" }}'),
            ("client_secret", "{{ lookup('env', 'CLIENT_SECRET') }}"),
            ("secret", "%NUGET_PASSWORD%"),
            ("auth_token", "@AUTH_TOKEN@"),
        ]
        rng.shuffle(vals)
        return [L(f"  {k}: {v}", v) for k, v in vals[:5]]

    def references_code(rng: random.Random) -> list[tuple[str, str | None]]:
        vals = [
            'password = os.environ["DB_PASSWORD"]',
            "const apiKey = process.env.STRIPE_SECRET_KEY;",
            'token := os.Getenv("GITHUB_TOKEN")',
            'String secret = System.getenv("CLIENT_SECRET");',
            'var apiKey = Environment.GetEnvironmentVariable("API_KEY");',
            "secret_key = settings.SECRET_KEY",
            "password = get_password(user)",
            "def login(username, password=None):",
            "    token: str | None = None",
            "password = None",
        ]
        rng.shuffle(vals)
        return [L(v, v.split("=", 1)[-1].strip() if "=" in v else v.strip()) for v in vals[:8]]

    def references_secret_manager(rng: random.Random) -> list[tuple[str, str | None]]:
        acct = "".join(rng.choice(DIGITS) for _ in range(12))
        vals = [
            f"arn:aws:secretsmanager:us-east-1:{acct}:secret:prod/db-password-{_random_text(rng, B62, 6)}",
            f"arn:aws:ssm:eu-west-1:{acct}:parameter/prod/api/token",
            "projects/acme-prod/secrets/stripe-api-key/versions/latest",
            "https://acme-kv.vault.azure.net/secrets/db-password/",
            "vault:secret/data/billing#api_key",
            "op://Engineering/GitHub/token",
        ]
        out = [L("secrets:")]
        for i, v in enumerate(vals):
            out.append(L(f"  item{i}_secret: {v}", v))
        return out

    def documented_examples(rng: random.Random) -> list[tuple[str, str | None]]:
        vals = [
            ("aws_access_key_id", "AKIAIOSFODNN7EXAMPLE"),
            ("aws_secret_access_key", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
            ("github_token", "gho_16C7e42F292c6912E7710c838347Ae178B4a"),
            ("slack_token", "xoxb-not-a-real-token-this-will-not-work"),
            ("jwt", _DOC_JWT),
        ]
        return [L("[default]"), *[L(f"{k} = {v}", v) for k, v in vals]]

    def doc_jwt_md(rng: random.Random) -> list[tuple[str, str | None]]:
        return [
            L("# Authentifizierung"),
            L(""),
            L("Senden Sie das Token im Header, zum Beispiel:"),
            L(""),
            L(f"    Authorization: Bearer {_DOC_JWT}", _DOC_JWT),
            L(""),
            L(
                "Die Signatur wird mit dem geheimen Schlüssel `your-256-bit-secret` geprüft.",
                "your-256-bit-secret",
            ),
        ]

    def basic_not_secret(rng: random.Random) -> list[tuple[str, str | None]]:
        vals = [
            "Authorization: Basic dXNlcjpwYXNzd29yZA==",  # user:password
            "Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l",  # RFC 7617's aladdin:opensesame
            "Authorization: Basic <base64(user:pass)>",
            "Authorization: Basic ${BASIC_CREDENTIALS}",
            "Authorization: Basic Zm9vOmJhcg==",  # foo:bar
            "Authorization: Basic YWRtaW46YWRtaW4=",  # admin:admin
        ]
        return [
            L("## Calling the API"),
            L(""),
            L("```http"),
            *[L(v, v.split("Basic ")[1]) for v in vals],
            L("```"),
        ]

    def example_urls(rng: random.Random) -> list[tuple[str, str | None]]:
        vals = [
            "postgres://user:password@localhost:5432/mydb",
            "mysql://root:secret@127.0.0.1:3306/test",
            "https://username:password@example.com/path",
            "redis://:mypassword@localhost:6379/0",
            "mongodb://admin:admin@db.example:27017",
            "amqp://guest:guest@localhost:5672/",
            "https://alice:s3cr3t@api.example.org/v1",
        ]
        return [L("## Connection strings"), L(""), *[L(f"- `{v}`", v) for v in vals]]

    def xml_schema(rng: random.Random) -> list[tuple[str, str | None]]:
        return [
            L('<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">'),
            L('  <xs:element name="password" type="xs:string"/>', 'name="password"'),
            L('  <xs:element name="apiKey" type="xs:string" minOccurs="0"/>', 'name="apiKey"'),
            L('  <xs:attribute name="secretToken" type="xs:string" use="required"/>', 'name="secretToken"'),
            L('  <xs:element name="clientSecret" type="tns:SecretType"/>', 'name="clientSecret"'),
            L("</xs:schema>"),
        ]

    def prose_non_ascii(rng: random.Random) -> list[tuple[str, str | None]]:
        vals = [
            "パスワード: 管理画面で設定してください",
            "Passwort: Ihr persönliches Kennwort hier eingeben",
            "contraseña: la que usted elija al registrarse",
            "密码：请使用您自己的密码",
            "mot de passe : celui reçu par courriel",
            "токен: получите его в личном кабинете",
        ]
        return [L(v, v.split(":")[-1].split("：")[-1].strip()) for v in vals]

    def iam_ids(rng: random.Random) -> list[tuple[str, str | None]]:
        out = [L("principals:")]
        for prefix in ("AIDA", "AROA", "AGPA", "ANPA"):
            v = prefix + _random_text(rng, B32, 16)
            out.append(L(f"  - id: {v}", v))
        return out

    def public_ids(rng: random.Random) -> list[tuple[str, str | None]]:
        cid = f"{rng.randint(10**11, 10**12)}-{_random_text(rng, B36L, 32)}.apps.googleusercontent.com"
        sid = "AC" + _random_text(rng, HEX, 32)
        return [
            L("oauth:"),
            L(f"  client_id: {cid}", cid),
            L("twilio:"),
            L(f"  account_sid: {sid}", sid),
            L(f"  messaging_service_sid: MG{_random_text(rng, HEX, 32)}", "MG"),
        ]

    def version_numbers(rng: random.Random) -> list[tuple[str, str | None]]:
        out = [L("[versions]")]
        for lib in ("token-bucket", "secretstorage", "keyring", "passlib"):
            v = f"{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 99)}"
            out.append(L(f'{lib} = "{v}"', v))
        return out

    def css_colors_ids(rng: random.Random) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = []
        for _ in range(5):
            v = _random_text(rng, B62, 12)
            out.append(L(f'<div id="token-row-{v}" class="secret-field" data-key="{v}"></div>', v))
        return out

    def ssh_public(rng: random.Random) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = []
        for user in ("alice@laptop", "deploy@ci", "bob@workstation"):
            if rng.random() < 0.5:
                v = "AAAAC3NzaC1lZDI1NTE5AAAAI" + base64.b64encode(rng.randbytes(32)).decode().rstrip("=")
                out.append(L(f"ssh-ed25519 {v} {user}", v))
            else:
                v = "AAAAB3NzaC1yc2EAAAADAQABAAABgQ" + base64.b64encode(rng.randbytes(380)).decode()
                out.append(L(f"ssh-rsa {v} {user}", v))
        return out

    def public_pem(rng: random.Random) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = []
        for kind in ("PUBLIC KEY", "CERTIFICATE"):
            body = base64.b64encode(b"\x30\x82\x01\x22" + rng.randbytes(290)).decode()
            out.append(L(f"-----BEGIN {kind}-----", f"-----BEGIN {kind}-----"))
            out += [L(body[i : i + 64]) for i in range(0, len(body), 64)]
            out.append(L(f"-----END {kind}-----"))
        return out

    def public_key_yaml(rng: random.Random) -> list[tuple[str, str | None]]:
        v = "AAAAC3NzaC1lZDI1NTE5AAAAI" + base64.b64encode(rng.randbytes(32)).decode().rstrip("=")
        jwk = _b64url(rng.randbytes(256))
        return [
            L("users:"),
            L("  - name: deploy"),
            L(f"    ssh_public_key: ssh-ed25519 {v} deploy@ci", v),
            L("jwks:"),
            L("  - kty: RSA"),
            L("    e: AQAB"),
            L(f"    n: {jwk}", jwk),
        ]

    def sops(rng: random.Random) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = []
        for key in ("db_password", "api_token", "stripe_secret_key"):
            data = base64.b64encode(rng.randbytes(rng.randint(12, 40))).decode()
            iv = base64.b64encode(rng.randbytes(32)).decode()
            tag = base64.b64encode(rng.randbytes(16)).decode()
            v = f"ENC[AES256_GCM,data:{data},iv:{iv},tag:{tag},type:str]"
            out.append(L(f"{key}: {v}", v))
        return [*out, L("sops:"), L("    version: 3.8.1")]

    def ansible_vault(rng: random.Random) -> list[tuple[str, str | None]]:
        hexes = rng.randbytes(160).hex()
        rows = [hexes[i : i + 80] for i in range(0, len(hexes), 80)]
        return [
            L("db_password: !vault |", "!vault"),
            L("  $ANSIBLE_VAULT;1.1;AES256", "$ANSIBLE_VAULT"),
            *[L("  " + r, r) for r in rows],
            L("db_user: app"),
        ]

    def sealed_secret(rng: random.Random) -> list[tuple[str, str | None]]:
        v1 = "AgB" + base64.b64encode(rng.randbytes(300)).decode()
        v2 = "AgC" + base64.b64encode(rng.randbytes(300)).decode()
        return [
            L("apiVersion: bitnami.com/v1alpha1"),
            L("kind: SealedSecret"),
            L("metadata:"),
            L("  name: db-creds"),
            L("spec:"),
            L("  encryptedData:"),
            L(f"    password: {v1}", v1),
            L(f"    api_token: {v2}", v2),
        ]

    def stripe_object_ids(rng: random.Random) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = [L("const fixtures = {")]
        for key, prefix in (
            ("customer", "cus_"),
            ("paymentIntent", "pi_"),
            ("price", "price_1"),
            ("product", "prod_"),
            ("event", "evt_1"),
            ("charge", "ch_3"),
        ):
            v = prefix + _random_text(rng, B62, 24 if prefix.endswith("1") or prefix.endswith("3") else 14)
            out.append(L(f"  {key}: '{v}',", v))
        return [*out, L("};")]

    def slack_ids(rng: random.Random) -> list[tuple[str, str | None]]:
        return [
            L("slack:"),
            L(f"  channel_id: C{_random_text(rng, B36U, 10)}", "channel_id"),
            L(f"  bot_user_id: U{_random_text(rng, B36U, 10)}", "bot_user_id"),
            L(f"  app_id: A{_random_text(rng, B36U, 10)}", "app_id"),
            L(f"  team_id: T{_random_text(rng, B36U, 8)}", "team_id"),
        ]

    def correlation_ids(rng: random.Random) -> list[tuple[str, str | None]]:
        ulid = "01H" + _random_text(rng, "0123456789ABCDEFGHJKMNPQRSTVWXYZ", 23)
        nano = _random_text(rng, B64URL, 21)
        sha = _random_text(rng, HEX, 40)
        trace = _random_text(rng, HEX, 32)
        return [
            L(f'2026-11-30T10:00:05Z INFO payment accepted idempotency_key="{ulid}"', ulid),
            L(f"2026-11-30T10:00:05Z INFO cache hit cache_key={sha}", sha),
            L(f"2026-11-30T10:00:06Z INFO request done trace_id={trace} status=200", trace),
            L(f"2026-11-30T10:00:06Z INFO upload stored object_key=uploads/{nano}.png", nano),
        ]

    def i18n_json(rng: random.Random) -> list[tuple[str, str | None]]:
        rows = [
            ("password_reset_token_expired", "Your password reset link has expired."),
            ("api_key_label", "API key"),
            ("secret_hint", "Keep this secret: anyone with it can act as you."),
            ("token_copied", "Token copied to clipboard"),
            ("passwordTooShort", "Password must be at least 12 characters"),
        ]
        return [L("{"), *[L(f'  "{k}": "{v}",', v) for k, v in rows], L('  "ok": "OK"'), L("}")]

    def i18n_po(rng: random.Random) -> list[tuple[str, str | None]]:
        return [
            L('msgid "API key"'),
            L('msgstr "Clé d’API"', "Clé d’API"),
            L(""),
            L('msgid "Enter your password"'),
            L('msgstr "Introduzca su contraseña"', "Introduzca su contraseña"),
            L(""),
            L('msgid "Access token"'),
            L('msgstr "Zugriffstoken"', "Zugriffstoken"),
        ]

    def json_schema(rng: random.Random) -> list[tuple[str, str | None]]:
        return [
            L("{"),
            L('  "type": "object",'),
            L('  "properties": {'),
            L('    "password": { "type": "string", "minLength": 12, "writeOnly": true },', '"password"'),
            L('    "apiKey": { "type": "string", "pattern": "^[A-Za-z0-9]{32}$" },', '"apiKey"'),
            L('    "clientSecret": { "$ref": "#/definitions/Secret" }', '"clientSecret"'),
            L("  }"),
            L("}"),
        ]

    def basic_http(rng: random.Random) -> list[tuple[str, str | None]]:
        return [
            L("### Log in (example credentials from the docs)"),
            L("GET https://api.example.com/v1/me"),
            L("Authorization: Basic dXNlcm5hbWU6cGFzc3dvcmQ=", "dXNlcm5hbWU6cGFzc3dvcmQ="),
            L(""),
            L("### With a variable"),
            L("GET https://api.example.com/v1/me"),
            L("Authorization: Basic {{basicAuth}}", "{{basicAuth}}"),
        ]

    def references_actions(rng: random.Random) -> list[tuple[str, str | None]]:
        return [
            L("jobs:"),
            L("  publish:"),
            L("    runs-on: ubuntu-latest"),
            L("    env:"),
            L("      NPM_TOKEN: ${{ secrets.NPM_TOKEN }}", "${{ secrets.NPM_TOKEN }}"),
            L("      PYPI_API_TOKEN: ${{ secrets.PYPI_API_TOKEN }}", "${{ secrets.PYPI_API_TOKEN }}"),
            L("    steps:"),
            L("      - uses: actions/setup-node@v4"),
            L("        with:"),
            L("          token: ${{ github.token }}", "${{ github.token }}"),
        ]

    def references_terraform(rng: random.Random) -> list[tuple[str, str | None]]:
        return [
            L('resource "aws_db_instance" "main" {'),
            L('  username = "app"'),
            L("  password = var.db_password", "var.db_password"),
            L("}"),
            L('resource "kubernetes_secret" "api" {'),
            L("  data = {"),
            L(
                "    token = data.aws_secretsmanager_secret_version.api.secret_string",
                "data.aws_secretsmanager",
            ),
            L("    password = random_password.db.result", "random_password.db.result"),
            L("  }"),
            L("}"),
        ]

    def test_urls(rng: random.Random) -> list[tuple[str, str | None]]:
        return [
            L("import pytest"),
            L(""),
            L(
                'DATABASE_URL = "postgres://postgres:postgres@localhost:5432/test_db"',
                "postgres:postgres@localhost",
            ),
            L('REDIS_URL = "redis://:testpass@127.0.0.1:6379/1"', ":testpass@127.0.0.1"),
            L('BROKER = "amqp://guest:guest@localhost:5672//"', "guest:guest@localhost"),
        ]

    def aws_docs_python(rng: random.Random) -> list[tuple[str, str | None]]:
        return [
            L("import boto3"),
            L(""),
            L("client = boto3.client("),
            L("    's3',"),
            L("    aws_access_key_id='AKIAIOSFODNN7EXAMPLE',", "AKIAIOSFODNN7EXAMPLE"),
            L(
                "    aws_secret_access_key='wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            ),
            L(")"),
        ]

    def lockfile_hashes(rng: random.Random) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = []
        for pkg in ("cryptography", "keyring", "requests"):
            h1, h2 = _random_text(rng, HEX, 64), _random_text(rng, HEX, 64)
            out += [
                L("[[package]]"),
                L(f'name = "{pkg}"'),
                L('version = "1.0.0"'),
                L("files = ["),
                L(f'    {{file = "{pkg}-1.0.0-py3-none-any.whl", hash = "sha256:{h1}"}},', h1),
                L(f'    {{file = "{pkg}-1.0.0.tar.gz", hash = "sha256:{h2}"}},', h2),
                L("]"),
            ]
        return out

    def lfs_pointer(rng: random.Random) -> list[tuple[str, str | None]]:
        h = _random_text(rng, HEX, 64)
        return [
            L("version https://git-lfs.github.com/spec/v1"),
            L(f"oid sha256:{h}", h),
            L(f"size {rng.randint(10**4, 10**8)}"),
        ]

    def gpg_fingerprints(rng: random.Random) -> list[tuple[str, str | None]]:
        fp = _random_text(rng, HEXU, 40)
        kid = fp[-16:]
        return [
            L("signing:"),
            L(f"  key_fingerprint: {fp}", fp),
            L(f"  key_id: 0x{kid}", kid),
            L("  keyserver: hkps://keys.openpgp.org"),
        ]

    def docs_prose_passwords(rng: random.Random) -> list[tuple[str, str | None]]:
        user = rng.choice(("admin", "demo", "root"))
        pw = rng.choice(("admin123", "demo", "changeme", "password1"))
        return [
            L("## Getting started"),
            L(""),
            L(f"Open http://localhost:8080 and log in as `{user}` with the password `{pw}`.", f"`{pw}`"),
            L(
                f"The default password is `{pw}`; change it after the first login.",
                f"default password is `{pw}`",
            ),
            L(f"    docker run -e ADMIN_PASSWORD={pw} -p 8080:8080 acme/app", f"ADMIN_PASSWORD={pw}"),
        ]

    def docs_repeated_example(rng: random.Random) -> list[tuple[str, str | None]]:
        key = "demo_" + _random_text(rng, B36L, 20)
        return [
            L("# Quickstart"),
            L(""),
            L("Every request in this guide uses the sandbox key below."),
            L(""),
            L(f"    export ACME_API_KEY={key}", key),
            L(""),
            L(f'    curl -H "X-Api-Key: {key}" https://sandbox.acme.example/v1/ping', key),
            L(""),
            L(f'    client = acme.Client(api_key="{key}")', key),
        ]

    def docs_framework_hex(rng: random.Random) -> list[tuple[str, str | None]]:
        # FastAPI's tutorial key and the Flask docs' example key: public documentation values.
        fastapi = "09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7"
        flask = "192b9bdd22ab9ed4d12e236c78afcb9a393ec15f71bbf5dc987d54727823bcbf"
        return [
            L("## Signing tokens"),
            L(""),
            L("```python"),
            L(f'SECRET_KEY = "{fastapi}"', fastapi),
            L('ALGORITHM = "HS256"'),
            L("```"),
            L(""),
            L(f"For Flask, `app.secret_key = '{flask}'` works the same way.", flask),
        ]

    def vendored_spec_examples(rng: random.Random) -> list[tuple[str, str | None]]:
        # Values printed in RFC 6749, 6750 and 7617 examples.
        return [
            L('"""Examples from the OAuth 2.0 and HTTP Basic RFCs, used by the parser tests."""'),
            L(
                'CLIENT_CREDENTIALS = "client_id=s6BhdRkqt3&client_secret=7Fjfp0ZBr1KtDRbnfVdmIw"',
                "7Fjfp0ZBr1KtDRbnfVdmIw",
            ),
            L('BEARER = "Authorization: Bearer mF_9.B5f-4.1JqM"', "mF_9.B5f-4.1JqM"),
            L('BASIC = "Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="', "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
            L('REFRESH_TOKEN = "tGzv3JOkF0XG5Qx2TlKWIA"', "tGzv3JOkF0XG5Qx2TlKWIA"),
            L('AUTH_CODE = "SplxlOBeZQQYbYS6WxSbIA"', "SplxlOBeZQQYbYS6WxSbIA"),
        ]

    def unsigned_test_jwt(rng: random.Random) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = [L("import pytest"), L("")]
        for user in ("alice", "bob"):
            header = _b64url(b'{"alg":"none","typ":"JWT"}')
            payload = _b64url(json.dumps({"sub": user, "role": "tester"}, separators=(",", ":")).encode())
            t = f"{header}.{payload}."
            out.append(L(f'UNSIGNED_{user.upper()} = "{t}"', t))
        return out

    def test_fixture_names(rng: random.Random) -> list[tuple[str, str | None]]:
        vals = [
            "def test_rejects_bad_password(client):\n",
            '    resp = client.post("/login", json={"username": "alice", "password": "wrong-password"})',
            '    assert resp.json()["error"] == "invalid_token"',
            '    token = make_token(user="alice")',
            '    headers = {"Authorization": f"Bearer {token}"}',
        ]
        return [
            L(vals[0].rstrip()),
            L(vals[1], "wrong-password"),
            L(vals[2], "invalid_token"),
            L(vals[3], "make_token"),
            L(vals[4], "{token}"),
        ]

    return [
        ("public-key", "authorized_keys", "ops/ssh/authorized_keys", ssh_public),
        ("public-key", "pem", "certs/public.pem", public_pem),
        ("public-key", "yaml", "config/keys.yaml", public_key_yaml),
        ("encrypted", "sops", "secrets/prod.enc.yaml", sops),
        ("encrypted", "ansible-vault", "ansible/group_vars/prod/vault.yml", ansible_vault),
        ("encrypted", "sealed-secret", "deploy/k8s/sealed-db.yaml", sealed_secret),
        ("identifier", "stripe-object-ids", "web/src/fixtures.ts", stripe_object_ids),
        ("identifier", "slack-ids", "config/slack.yaml", slack_ids),
        ("identifier", "log-ids", "logs/payments.log", correlation_ids),
        ("identifier", "gpg", "release/signing.yaml", gpg_fingerprints),
        ("prose", "i18n-json", "web/src/locales/en.json", i18n_json),
        ("prose", "gettext", "locale/fr/LC_MESSAGES/app.po", i18n_po),
        ("xml-schema", "json-schema", "schemas/credentials.schema.json", json_schema),
        ("basic-header", "http-file", "api/requests.http", basic_http),
        ("reference", "gh-actions", ".github/workflows/publish.yml", references_actions),
        ("reference", "terraform", "infra/db.tf", references_terraform),
        ("example-url", "test-settings", "tests/settings_test.py", test_urls),
        ("documented-example", "boto3", "examples/s3_upload.py", aws_docs_python),
        ("integrity", "poetry.lock", "poetry.lock", lockfile_hashes),
        ("hash", "lfs-pointer", "assets/model.bin.lfs", lfs_pointer),
        ("placeholder", "docs-prose", "docs/getting-started.md", docs_prose_passwords),
        ("documented-example", "docs-repeated", "docs/quickstart.md", docs_repeated_example),
        ("documented-example", "framework-docs", "docs/security/tokens.md", docs_framework_hex),
        (
            "documented-example",
            "vendored-rfc",
            "vendor/oauthlib/tests/rfc_examples.py",
            vendored_spec_examples,
        ),
        ("documented-example", "unsigned-test-jwt", "tests/auth/test_tokens.py", unsigned_test_jwt),
        ("uuid", "jenkinsfile", "ci/Jenkinsfile", uuids_jenkins),
        ("uuid", "json", "data/requests.json", uuids_json),
        ("uuid", "yaml", "config/azure-ids.yaml", uuids_yaml),
        ("uuid", "csproj", "src/Api/Api.csproj", uuids_csproj),
        ("hash", "sha256sums", "release/SHA256SUMS", hashes_sums),
        ("hash", "yaml", "release/artifacts.yaml", hashes_yaml),
        ("hash", "image-digest", "deploy/docker-compose.pinned.yml", docker_digest),
        ("commit-sha", "pre-commit", ".pre-commit-config.yaml", commit_shas),
        ("commit-sha", "changelog", "CHANGELOG.md", git_log),
        ("hash", "go.sum-like", "tools/deps.txt", gomod),
        ("password-hash", "bcrypt-yaml", "config/users.yaml", bcrypt),
        ("password-hash", "argon2-json", "fixtures/users.json", argon2),
        ("password-hash", "sha512crypt-yaml", "ansible/group_vars/all/users.yml", sha512crypt),
        ("password-hash", "htpasswd", "deploy/nginx/.htpasswd", htpasswd),
        ("data-uri", "css", "web/static/app.css", data_uri),
        ("data-uri", "html", "web/templates/base.html", data_uri_html),
        ("integrity", "package-lock", "web/package-lock.json", integrity_npm),
        ("integrity", "yarn.lock", "web/yarn.lock", integrity_yarn),
        ("integrity", "sri-html", "web/templates/cdn.html", integrity_html),
        ("minified", "js", "web/static/app.min.js", minified),
        ("minified", "js-bundle", "web/dist/main.js", minified),
        ("minified", "source-map", "web/dist/vendor.js", minified_sourcemap),
        ("placeholder", "dotenv", ".env.example", placeholders_generic),
        ("placeholder", "dotenv-sample", "deploy/sample.env", placeholders_generic),
        ("placeholder", "yaml", "config/auth.yaml", placeholders_yaml),
        ("placeholder", "python", "app/defaults.py", placeholders_py),
        ("secret-name", "json", "infra/keyvault.json", names_of_secrets),
        ("secret-name", "k8s", "deploy/k8s/deployment.yaml", names_k8s),
        ("reference", "dotenv", "deploy/runtime.env", references_env),
        ("reference", "template", "charts/app/values.yaml", references_templates),
        ("reference", "code", "app/config_loader.py", references_code),
        ("reference", "secret-manager", "config/secret-refs.yaml", references_secret_manager),
        ("documented-example", "aws-credentials", "docs/aws/credentials", documented_examples),
        ("documented-example", "ini", "config/credentials.sample", documented_examples),
        ("documented-example", "jwt-markdown", "docs/de/auth.md", doc_jwt_md),
        ("basic-header", "markdown", "docs/api.md", basic_not_secret),
        ("example-url", "markdown", "docs/connections.md", example_urls),
        ("example-url", "readme", "README.md", example_urls),
        ("xml-schema", "xsd", "schemas/credentials.xsd", xml_schema),
        ("prose", "markdown", "docs/i18n/glossary.md", prose_non_ascii),
        ("identifier", "iam-ids", "iam/principals.yaml", iam_ids),
        ("identifier", "public-ids", "config/public.yaml", public_ids),
        ("identifier", "versions", "gradle/libs.versions.toml", version_numbers),
        ("identifier", "html-ids", "web/templates/table.html", css_colors_ids),
        ("code", "test", "tests/test_login.py", test_fixture_names),
    ]


ROUND3_PREFIX = "lookalike3-"
"""Directory prefix of the round-three look-alike groups (new families added after the first test-half
run): the test-half files outside it are the ones scored before, kept byte for byte (tests assert it)."""


def _lookalikes_round3() -> list[
    tuple[str, str, str, Callable[[random.Random], list[tuple[str, str | None]]]]
]:
    """Round three's benign families, written from what real repositories hold and the issue's list of
    false-alarm causes (public object ids, resource ids, digests, crypto test vectors, signatures in
    fixtures, fonts in CSS, password policy prose in many languages, schemas, IaC declarations without
    values, CI references, named fake tokens of mock servers, ids in logs, minified object keys). Same
    shape as ``_lookalikes``: (family, syntax, path, make) with make -> [(line, labelled text or None)]."""

    def L(text: str, value: str | None = None) -> tuple[str, str | None]:
        return (text, value)

    def twilio_sids(rng: random.Random) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = [L("# Twilio resources (public ids, the auth token is in Vault)")]
        for key, prefix in (
            ("account_sid", "AC"),
            ("messaging_service_sid", "MG"),
            ("phone_number_sid", "PN"),
            ("verify_service_sid", "VA"),
        ):
            v = prefix + _random_text(rng, HEX, 32)
            out.append(L(f"TWILIO_{key.upper()}={v}", v))
        return out

    def google_client_ids(rng: random.Random) -> list[tuple[str, str | None]]:
        num = "".join(rng.choice(DIGITS) for _ in range(12))
        cid = f"{num}-{_random_text(rng, B36L, 32)}.apps.googleusercontent.com"
        key_id = _random_text(rng, HEX, 40)
        return [
            L("<script>"),
            L("  window.googleConfig = {"),
            L(f"    clientId: '{cid}',", cid),
            L("    scope: 'openid email profile',"),
            L(f"    keyId: '{key_id}',", key_id),
            L("  };"),
            L("</script>"),
        ]

    def arns(rng: random.Random) -> list[tuple[str, str | None]]:
        acct = "".join(rng.choice(DIGITS) for _ in range(12))
        sm = f"arn:aws:secretsmanager:eu-west-1:{acct}:secret:prod/db/password-{_random_text(rng, B62, 6)}"
        kms = f"arn:aws:kms:eu-west-1:{acct}:key/{_uuid(rng)}"
        role = f"arn:aws:iam::{acct}:role/github-deploy-token-exchange"
        ssm = f"arn:aws:ssm:eu-west-1:{acct}:parameter/app/api_key"
        return [
            L("{"),
            L('  "Version": "2012-10-17",'),
            L('  "Statement": [{'),
            L('    "Effect": "Allow",'),
            L('    "Action": ["secretsmanager:GetSecretValue", "kms:Decrypt", "ssm:GetParameter"],'),
            L(f'    "Resource": ["{sm}",', sm),
            L(f'                 "{kms}",', kms),
            L(f'                 "{ssm}"],', ssm),
            L(f'    "Principal": {{"AWS": "{role}"}}', role),
            L("  }]"),
            L("}"),
        ]

    def azure_resource_ids(rng: random.Random) -> list[tuple[str, str | None]]:
        sub = _uuid(rng)
        kv = f"https://kv-prod-{_random_text(rng, B36L, 6)}.vault.azure.net/secrets/DbPassword/{_random_text(rng, HEX, 32)}"
        rid = f"/subscriptions/{sub}/resourceGroups/rg-prod/providers/Microsoft.KeyVault/vaults/kv-prod"
        return [
            L("resource:"),
            L(f"  id: {rid}", rid),
            L(f"  secret_uri: {kv}", kv),
            L(f"  tenant_id: {_uuid(rng)}"),
        ]

    def gcp_resource_ids(rng: random.Random) -> list[tuple[str, str | None]]:
        proj = f"acme-prod-{''.join(rng.choice(DIGITS) for _ in range(6))}"
        sa = f"deployer@{proj}.iam.gserviceaccount.com"
        ver = f"projects/{proj}/secrets/stripe-api-key/versions/{rng.randint(1, 40)}"
        key_id = _random_text(rng, HEX, 40)
        return [
            L('resource "google_secret_manager_secret_iam_member" "reader" {'),
            L(f'  secret_id = "{ver}"', ver),
            L(f'  member    = "serviceAccount:{sa}"', sa),
            L("}"),
            L(f"# service account key id (public, listed by gcloud): {key_id}", key_id),
        ]

    def ssh_fingerprints(rng: random.Random) -> list[tuple[str, str | None]]:
        fp = _random_text(rng, B64, 43)
        md5 = ":".join(_random_text(rng, HEX, 2) for _ in range(16))
        hostkey = "AAAAC3NzaC1lZDI1NTE5AAAAI" + _random_text(rng, B64, 43)
        return [
            L("## Verify the deploy host"),
            L(""),
            L(f"The host key fingerprint is `SHA256:{fp}` (ED25519).", fp),
            L(f"Older clients print `MD5:{md5}`.", md5),
            L(""),
            L(f"    deploy.acme.io ssh-ed25519 {hostkey}", hostkey),
        ]

    def gpg_public_block(rng: random.Random) -> list[tuple[str, str | None]]:
        body = [_random_text(rng, B64, 64) for _ in range(5)]
        return [
            L("-----BEGIN PGP PUBLIC KEY BLOCK-----"),
            L(""),
            *[L(b, b) for b in body],
            L("=" + _random_text(rng, B64, 4)),
            L("-----END PGP PUBLIC KEY BLOCK-----"),
        ]

    def image_digests_k8s(rng: random.Random) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = [L("spec:"), L("  containers:")]
        for name in ("app", "token-refresher", "secrets-sidecar"):
            h = _random_text(rng, HEX, 64)
            out += [L(f"    - name: {name}"), L(f"      image: registry.acme.io/{name}@sha256:{h}", h)]
        return out

    def sri_csp(rng: random.Random) -> list[tuple[str, str | None]]:
        h1 = _random_text(rng, B64, 43) + "="
        nonce = _random_text(rng, B64, 22) + "=="
        h2 = _random_text(rng, B64, 64)
        return [
            L("add_header Content-Security-Policy"),
            L(f"  \"script-src 'self' 'sha256-{h1}' 'nonce-{nonce}'; object-src 'none'\";", h1),
            L(f'<script nonce="{nonce}" src="/app.js"></script>', nonce),
            L(f'<link rel="stylesheet" href="/app.css" integrity="sha384-{h2}">', h2),
        ]

    def crypto_vectors(rng: random.Random) -> list[tuple[str, str | None]]:
        # The shapes of the RFC 4231 / NIST vectors tests carry: hex keys, data and expected MACs.
        key = _random_text(rng, HEX, 40)
        mac = _random_text(rng, HEX, 64)
        iv = _random_text(rng, HEX, 32)
        ct = _random_text(rng, HEX, 64)
        return [
            L("# HMAC-SHA-256 test case 2 (RFC 4231) and AES-CBC (NIST SP 800-38A) vectors"),
            L("VECTORS = ["),
            L("    {"),
            L(f'        "key": bytes.fromhex("{key}"),', key),
            L('        "data": b"what do ya want for nothing?",'),
            L(f'        "expected": "{mac}",', mac),
            L(f'        "iv": "{iv}",', iv),
            L(f'        "ciphertext": "{ct}",', ct),
            L("    },"),
            L("]"),
        ]

    def signature_fixtures(rng: random.Random) -> list[tuple[str, str | None]]:
        sig = _random_text(rng, HEX, 64)
        ts = rng.randint(1_600_000_000, 1_700_000_000)
        ed = _random_text(rng, B64, 86) + "=="
        return [
            L("describe('webhook signature', () => {"),
            L(f"  const header = 't={ts},v1={sig}';", sig),
            L(f"  const expectedSignature = '{ed}';", ed),
            L("  it('accepts a valid signature', () => { expect(verify(body, header)).toBe(true); });"),
            L("});"),
        ]

    def css_fonts(rng: random.Random) -> list[tuple[str, str | None]]:
        font = "d09GMgABAAAAA" + _random_text(rng, B64, 180)
        img = "iVBORw0KGgoAAAANSUhEUgAA" + _random_text(rng, B64, 120)
        return [
            L("@font-face {"),
            L('  font-family: "Inter";'),
            L(f'  src: url(data:font/woff2;charset=utf-8;base64,{font}) format("woff2");', font),
            L("}"),
            L(f".icon-key {{ background-image: url('data:image/png;base64,{img}'); }}", img),
        ]

    def i18n_yaml_many(rng: random.Random) -> list[tuple[str, str | None]]:
        rows = [
            ("de", "password", "Passwort vergessen?"),
            ("es", "api_token", "Token de acceso personal"),
            ("pt", "secret", "Chave secreta do cliente"),
            ("it", "password_confirmation", "Conferma la password"),
            ("ja", "password", "パスワードを入力してください"),
            ("ru", "token", "Токен доступа истёк"),
            ("pl", "secret_key", "Klucz tajny"),
        ]
        out: list[tuple[str, str | None]] = []
        for lang, key, text in rows:
            out += [L(f"{lang}:"), L(f'  {key}: "{text}"', text)]
        return out

    def password_policy(rng: random.Random) -> list[tuple[str, str | None]]:
        return [
            L("PASSWORD_VALIDATION_MESSAGES = {"),
            L('    "too_short": "Password must be at least 12 characters long.",', "at least 12"),
            L('    "no_digit": "Password must contain a digit (0-9).",', "a digit"),
            L('    "common": "This password is too common: Passw0rd!",', "Passw0rd!"),
            L('    "pattern": "^(?=.*[A-Z])(?=.*\\\\d)[A-Za-z\\\\d@$!%*?&]{12,64}$",', "(?=.*[A-Z])"),
            L("}"),
            L(
                'AUTH_PASSWORD_VALIDATORS = [{"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"}]'
            ),
        ]

    def openapi_yaml(rng: random.Random) -> list[tuple[str, str | None]]:
        return [
            L("components:"),
            L("  securitySchemes:"),
            L("    ApiKeyAuth:"),
            L("      type: apiKey"),
            L("      in: header"),
            L("      name: X-API-Key", "X-API-Key"),
            L("  schemas:"),
            L("    Login:"),
            L("      properties:"),
            L("        password:"),
            L("          type: string", "type: string"),
            L("          format: password", "format: password"),
            L("          example: hunter2-example", "hunter2-example"),
        ]

    def graphql_schema(rng: random.Random) -> list[tuple[str, str | None]]:
        return [
            L("input LoginInput {"),
            L("  email: String!"),
            L("  password: String!", "String!"),
            L("}"),
            L("type AuthPayload {"),
            L("  accessToken: String!", "accessToken"),
            L("  refreshToken: String", "refreshToken"),
            L("}"),
            L("type Mutation { resetPassword(token: ID!, newPassword: String!): Boolean }", "newPassword"),
        ]

    def sql_schema(rng: random.Random) -> list[tuple[str, str | None]]:
        return [
            L("CREATE TABLE users ("),
            L("  id BIGSERIAL PRIMARY KEY,"),
            L("  password_hash VARCHAR(255) NOT NULL,", "VARCHAR(255)"),
            L("  api_token CHAR(64) UNIQUE,", "CHAR(64)"),
            L("  secret_key_salt BYTEA NOT NULL DEFAULT gen_random_bytes(16)", "gen_random_bytes"),
            L(");"),
            L("CREATE INDEX idx_users_api_token ON users (api_token);", "idx_users_api_token"),
        ]

    def terraform_sensitive(rng: random.Random) -> list[tuple[str, str | None]]:
        return [
            L('variable "db_password" {'),
            L("  type        = string"),
            L('  description = "Master password for the RDS cluster"', "Master password for the RDS cluster"),
            L("  sensitive   = true"),
            L("}"),
            L('output "api_token" {'),
            L("  value     = random_password.api_token.result", "random_password.api_token.result"),
            L("  sensitive = true"),
            L("}"),
        ]

    def helm_values(rng: random.Random) -> list[tuple[str, str | None]]:
        return [
            L("auth:"),
            L('  password: ""', '""'),
            L('  existingSecret: ""  # name of a Secret holding the password'),
            L("  secretKey: {{ .Values.global.secretKey | quote }}", ".Values.global.secretKey"),
            L('  apiToken: {{ required "apiToken is required" .Values.apiToken }}', ".Values.apiToken"),
            L("redis:"),
            L("  password: ~", "~"),
        ]

    def ci_references(rng: random.Random) -> list[tuple[str, str | None]]:
        return [
            L("publish:"),
            L("  stage: deploy"),
            L("  script:"),
            L('    - docker login -u gitlab-ci-token -p "$CI_JOB_TOKEN" "$CI_REGISTRY"', "$CI_JOB_TOKEN"),
            L(
                '    - curl --header "JOB-TOKEN: ${CI_JOB_TOKEN}" "${CI_API_V4_URL}/projects"',
                "${CI_JOB_TOKEN}",
            ),
            L('    - echo "//registry.npmjs.org/:_authToken=${NPM_TOKEN}" > .npmrc', "${NPM_TOKEN}"),
            L("  variables:"),
            L("    SONAR_TOKEN: $SONARQUBE_TOKEN", "$SONARQUBE_TOKEN"),
        ]

    def mock_tokens(rng: random.Random) -> list[tuple[str, str | None]]:
        return [
            L("// WireMock stubs: fixed fake credentials the mock server accepts"),
            L('const FAKE_ACCESS_TOKEN = "fake-access-token-for-tests";', "fake-access-token-for-tests"),
            L('const MOCK_API_KEY = "mock_api_key_0000";', "mock_api_key_0000"),
            L('const DUMMY_SECRET = "dummy-client-secret";', "dummy-client-secret"),
            L('const TEST_PASSWORD = "test-password-123";', "test-password-123"),
            L("stubFor(post('/oauth/token').willReturn(okJson({ access_token: FAKE_ACCESS_TOKEN })));"),
        ]

    def session_logs(rng: random.Random) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = []
        for i in range(5):
            sid = _random_text(rng, B62, 32)
            u = _uuid(rng)
            line = (
                f"2026-11-30 10:0{i}:12,381 INFO  [http-nio-8080-exec-{i}] {u} GET /api/orders {sid} 200 12ms"
            )
            out.append(L(line, sid))
        return out

    def minified_keys(rng: random.Random) -> list[tuple[str, str | None]]:
        parts = []
        for k in ("token", "apiKey", "secret", "password"):
            parts.append(f"{k}:{rng.choice('abcdefghijklmnopqrstuvwxyz')}.{k}")
        js = (
            "!function(e){var t={" + ",".join(parts) + "};function n(r){return t[r]||e.headers"
            '["x-csrf-token"]}e.exports={getToken:n,refreshToken:function(){return n("token")}}}(module);'
        )
        return [L(js, "token:")]

    def lockfile_sums(rng: random.Random) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = [L("[[package]]")]
        for name in ("secret-sauce", "token-bucket", "password-hash"):
            h = _random_text(rng, HEX, 64)
            out += [
                L(f'name = "{name}"'),
                L(f'version = "{rng.randint(0, 3)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}"'),
                L('source = "registry+https://github.com/rust-lang/crates.io-index"'),
                L(f'checksum = "{h}"', h),
            ]
        return out

    def test_password_hashes(rng: random.Random) -> list[tuple[str, str | None]]:
        salt = _random_text(rng, B64, 22)
        pb = f"pbkdf2_sha256$600000${salt}${_random_text(rng, B64, 43)}="
        scrypt = f"scrypt:32768:8:1${_random_text(rng, B62, 16)}${_random_text(rng, HEX, 64)}"
        return [
            L("@pytest.fixture"),
            L("def user(db):"),
            L(f'    return User.objects.create(username="alice", password="{pb}")', pb),
            L(f'FLASK_USER_PASSWORD_HASH = "{scrypt}"', scrypt),
        ]

    def cert_thumbprints(rng: random.Random) -> list[tuple[str, str | None]]:
        t = _random_text(rng, HEXU, 40)
        s = _random_text(rng, HEXU, 32)
        return [
            L("<configuration>"),
            L("  <system.serviceModel>"),
            L(
                f'    <certificate findValue="{t}" storeLocation="LocalMachine" x509FindType="FindByThumbprint" />',
                t,
            ),
            L(f"    <serialNumber>{s}</serialNumber>", s),
            L("  </system.serviceModel>"),
            L("</configuration>"),
        ]

    def public_keys_ts(rng: random.Random) -> list[tuple[str, str | None]]:
        dd = "pub" + _random_text(rng, HEX, 32)
        mb = (
            "pk.eyJ1IjoiYWNtZSIsImEiOiJ" + _random_text(rng, B64URL, 22) + "." + _random_text(rng, B64URL, 22)
        )
        alg = _random_text(rng, HEX, 32)
        mix = _random_text(rng, HEX, 32)
        site = "6Lc" + _random_text(rng, B64URL, 37)
        return [
            L("// Browser SDK keys: public by design (shipped in every page)"),
            L("export const publicConfig = {"),
            L(f"  datadogClientToken: '{dd}',", dd),
            L(f"  mapboxAccessToken: '{mb}',", mb),
            L(f"  algoliaSearchOnlyApiKey: '{alg}',", alg),
            L(f"  mixpanelProjectToken: '{mix}',", mix),
            L(f"  recaptchaSiteKey: '{site}',", site),
            L("};"),
        ]

    def public_keys_env(rng: random.Random) -> list[tuple[str, str | None]]:
        dd = "pub" + _random_text(rng, HEX, 32)
        mb = (
            "pk.eyJ1IjoiYWNtZSIsImEiOiJ" + _random_text(rng, B64URL, 22) + "." + _random_text(rng, B64URL, 22)
        )
        alg = _random_text(rng, HEX, 32)
        site = "6Le" + _random_text(rng, B64URL, 37)
        return [
            L("# exposed to the browser bundle"),
            L(f"NEXT_PUBLIC_DD_CLIENT_TOKEN={dd}", dd),
            L(f"NEXT_PUBLIC_MAPBOX_TOKEN={mb}", mb),
            L(f"NEXT_PUBLIC_ALGOLIA_SEARCH_KEY={alg}", alg),
            L(f"VITE_RECAPTCHA_SITE_KEY={site}", site),
        ]

    def contracts_json(rng: random.Random) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = [L("{")]
        for key in ("token_address", "tokenAddress", "rewardToken", "stakingTokenAddress"):
            v = "0x" + _random_text(rng, HEX + "ABCDEF", 40)
            out.append(L(f'  "{key}": "{v}",', v))
        tx = "0x" + _random_text(rng, HEX, 64)
        out.append(L(f'  "deployTransactionHash": "{tx}",', tx))
        return [*out, L(f'  "chainId": {rng.choice((1, 10, 137, 8453))}'), L("}")]

    def hardhat_ts(rng: random.Random) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = [L('import { ethers } from "hardhat";')]
        for name in ("USDC_TOKEN", "WETH_TOKEN", "GOVERNANCE_TOKEN_ADDRESS"):
            v = "0x" + _random_text(rng, HEX + "ABCDEF", 40)
            out.append(L(f'const {name} = "{v}";', v))
        return [*out, L("const token = await ethers.getContractAt('IERC20', USDC_TOKEN);")]

    def csrf_html(rng: random.Random) -> list[tuple[str, str | None]]:
        meta = _random_text(rng, B64, 86) + "=="
        field_ = _random_text(rng, B64, 86) + "=="
        dj = _random_text(rng, B62, 64)
        return [
            L("<!-- saved page, fixture for the login flow -->"),
            L(f'<meta name="csrf-token" content="{meta}" />', meta),
            L('<form action="/users/sign_in" method="post">'),
            L(
                f'  <input type="hidden" name="authenticity_token" value="{field_}" autocomplete="off" />',
                field_,
            ),
            L(f'  <input type="hidden" name="csrfmiddlewaretoken" value="{dj}">', dj),
            L("</form>"),
        ]

    def csrf_cassette(rng: random.Random) -> list[tuple[str, str | None]]:
        x = _random_text(rng, B64URL, 43)
        c = _random_text(rng, B62, 32)
        return [
            L("interactions:"),
            L("- request:"),
            L("    headers:"),
            L("      X-CSRF-Token:"),
            L(f"      - {x}", x),
            L("  response:"),
            L("    headers:"),
            L("      Set-Cookie:"),
            L(f"      - csrftoken={c}; Path=/; SameSite=Lax", c),
        ]

    def jwks(rng: random.Random) -> list[tuple[str, str | None]]:
        kid = _random_text(rng, B64URL, 43)
        n = _random_text(rng, B64URL, 342)
        x5t = _random_text(rng, B64URL, 27)
        return [
            L("{"),
            L('  "keys": [{'),
            L('    "kty": "RSA", "use": "sig", "alg": "RS256",'),
            L(f'    "kid": "{kid}",', kid),
            L(f'    "x5t": "{x5t}",', x5t),
            L(f'    "n": "{n}",', n),
            L('    "e": "AQAB"'),
            L("  }]"),
            L("}"),
        ]

    def kubeconfig_ca(rng: random.Random) -> list[tuple[str, str | None]]:
        ca = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSU" + _random_text(rng, B64, 200)
        bundle = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSU" + _random_text(rng, B64, 160)
        return [
            L("apiVersion: v1"),
            L("clusters:"),
            L("- cluster:"),
            L(f"    certificate-authority-data: {ca}", ca),
            L("    server: https://k8s.acme.io"),
            L("  name: prod"),
            L("webhooks:"),
            L("- clientConfig:"),
            L(f"    caBundle: {bundle}", bundle),
        ]

    def postman(rng: random.Random) -> list[tuple[str, str | None]]:
        return [
            L("{"),
            L(
                '  "auth": {"type": "bearer", "bearer": [{"key": "token", "value": "{{access_token}}"}]},',
                "{{access_token}}",
            ),
            L('  "variable": ['),
            L(
                '    {"key": "client_secret", "value": "{{CLIENT_SECRET}}", "type": "secret"},',
                "{{CLIENT_SECRET}}",
            ),
            L('    {"key": "api_key", "value": "", "type": "secret"}', '"api_key"'),
            L("  ]"),
            L("}"),
        ]

    def engine_ids(rng: random.Random) -> list[tuple[str, str | None]]:
        g = _random_text(rng, HEX, 32)
        p1 = _random_text(rng, HEXU, 24)
        p2 = _random_text(rng, HEXU, 24)
        team = _random_text(rng, B36U, 10)
        return [
            L("fileFormatVersion: 2"),
            L(f"guid: {g}", g),
            L(f"# pbxproj: {p1} /* KeychainTokenStore.swift in Sources */ = {{fileRef = {p2}; }};", p1),
            L(f"DEVELOPMENT_TEAM = {team};", team),
        ]

    def rails_credentials_enc(rng: random.Random) -> list[tuple[str, str | None]]:
        v = f"{_random_text(rng, B64, 300)}=--{_random_text(rng, B64, 22)}==--{_random_text(rng, B64, 22)}=="
        return [L(v, v)]

    def oauth_test_values(rng: random.Random) -> list[tuple[str, str | None]]:
        rows = [("STATE", 32), ("CODE_VERIFIER", 43), ("CODE_CHALLENGE", 43), ("NONCE", 22)]
        out: list[tuple[str, str | None]] = [L("# PKCE round trip (RFC 7636 section 4)")]
        for name, n in rows:
            v = _random_text(rng, B64URL, n)
            out.append(L(f'{name} = "{v}"', v))
        return out

    def settings_names(rng: random.Random) -> list[tuple[str, str | None]]:
        return [
            L("TOKEN_EXPIRY_SECONDS=3600", "3600"),
            L("PASSWORD_MIN_LENGTH=12", "12"),
            L("SECRET_ROTATION_DAYS=90", "90"),
            L("API_KEY_HEADER=X-Api-Key", "X-Api-Key"),
            L("DB_PASSWORD_FILE=/run/secrets/db_password", "/run/secrets/db_password"),
            L("AUTH_TOKEN_TTL=15m", "15m"),
        ]

    def k8s_secret_refs(rng: random.Random) -> list[tuple[str, str | None]]:
        return [
            L("env:"),
            L("  - name: DB_PASSWORD"),
            L("    valueFrom:"),
            L("      secretKeyRef:"),
            L("        name: db-credentials", "db-credentials"),
            L("        key: password", "key: password"),
            L("  - name: API_TOKEN"),
            L("    valueFrom: {secretKeyRef: {name: api, key: token}}", "secretKeyRef"),
        ]

    def notebook_png(rng: random.Random) -> list[tuple[str, str | None]]:
        png = "iVBORw0KGgoAAAANSUhEUgAA" + _random_text(rng, B64, 400)
        return [
            L("{"),
            L(' "cells": [{"cell_type": "code", "outputs": [{"data": {'),
            L(f'   "image/png": "{png}"', png),
            L('  }}], "source": ["token_counts = df.tokens.value_counts()"]}]', "token_counts"),
            L("}"),
        ]

    def ldif_ssha(rng: random.Random) -> list[tuple[str, str | None]]:
        raw = bytes(rng.randrange(256) for _ in range(24))
        inner = b"{SSHA}" + base64.b64encode(raw)
        dbl = base64.b64encode(inner).decode()
        single = "{SSHA}" + base64.b64encode(bytes(rng.randrange(256) for _ in range(24))).decode()
        return [
            L("dn: uid=alice,ou=people,dc=acme,dc=io"),
            L("objectClass: inetOrgPerson"),
            L(f"userPassword:: {dbl}", dbl),
            L(""),
            L("dn: uid=bob,ou=people,dc=acme,dc=io"),
            L(f"userPassword: {single}", single),
        ]

    def spring_encoded(rng: random.Random) -> list[tuple[str, str | None]]:
        bc = "{bcrypt}$2a$10$" + _random_text(rng, B62 + "./", 53)
        pb = "{pbkdf2}" + _random_text(rng, HEX, 80)
        return [
            L("@Bean UserDetailsService users() {"),
            L(
                f'  return new InMemoryUserDetailsManager(User.withUsername("admin").password("{bc}").build());',
                bc,
            ),
            L(f'  String encoded = "{pb}";', pb),
            L("}"),
        ]

    def keycloak_export(rng: random.Random) -> list[tuple[str, str | None]]:
        h = _random_text(rng, B64, 86) + "=="
        salt = _random_text(rng, B64, 22) + "=="
        return [
            L("{"),
            L('  "credentials": [{'),
            L('    "type": "password",'),
            L(f'    "hashedSaltedValue": "{h}",', h),
            L(f'    "salt": "{salt}",', salt),
            L('    "hashIterations": 27500,'),
            L('    "algorithm": "pbkdf2-sha256"'),
            L("  }]"),
            L("}"),
        ]

    def jwt_io_java(rng: random.Random) -> list[tuple[str, str | None]]:
        sample = (
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwia"
            "WF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
        )
        return [
            L("class JwtParserTest {"),
            L(f'  static final String TOKEN = "{sample}";', sample),
            L("}"),
        ]

    def dev_defaults(rng: random.Random) -> list[tuple[str, str | None]]:
        rows = [
            ("SECRET_KEY", "dev-only-insecure-key-change-me"),
            ("SESSION_SECRET", "keyboard cat"),
            ("JWT_SECRET", "super-secret-jwt-key-for-dev"),
            ("APP_SECRET", "not-a-real-secret"),
            ("ADMIN_PASSWORD", "admin"),
            ("COOKIE_SECRET", "cookie-secret-dev"),
        ]
        return [L("# local development only"), *[L(f"{k} = '{v}'", v) for k, v in rows]]

    def compose_test(rng: random.Random) -> list[tuple[str, str | None]]:
        return [
            L("services:"),
            L("  db:"),
            L("    environment:"),
            L("      POSTGRES_PASSWORD: postgres", "postgres"),
            L("      MYSQL_ROOT_PASSWORD: root", "root"),
            L("      RABBITMQ_DEFAULT_PASS: guest", "guest"),
            L("      DATABASE_URL: postgres://postgres:postgres@db:5432/app_test", "postgres:postgres@db"),
            L("      REDIS_URL: redis://:testpass@localhost:6379/0", "testpass"),
            L("      MINIO_SECRET_KEY: minioadmin", "minioadmin"),
        ]

    def docs_french(rng: random.Random) -> list[tuple[str, str | None]]:
        return [
            L("# Authentification"),
            L(""),
            L("Définissez `API_TOKEN=votre-jeton-ici` dans le fichier `.env`.", "votre-jeton-ici"),
            L("Puis `mot_de_passe: motdepasse123` dans `config.yml`.", "motdepasse123"),
            L("Le champ `secret` accepte `<votre-secret>`.", "<votre-secret>"),
        ]

    def hmac_fixture(rng: random.Random) -> list[tuple[str, str | None]]:
        sig = _random_text(rng, HEX, 64)
        exp = _random_text(rng, HEX, 64)
        return [
            L("{"),
            L('  "secret": "whsec_test_secret",', "whsec_test_secret"),
            L('  "payload": "{\\"id\\": \\"evt_1\\"}",'),
            L(f'  "signature": "sha256={sig}",', sig),
            L(f'  "expected_hmac": "{exp}"', exp),
            L("}"),
        ]

    def go_crypto_test(rng: random.Random) -> list[tuple[str, str | None]]:
        k = _random_text(rng, HEX, 64)
        w = _random_text(rng, HEX, 64)
        return [
            L("package hkdf"),
            L(""),
            L("// Test vectors from RFC 5869 appendix A."),
            L("var vectors = []struct{ ikm, salt, okm string }{"),
            L(f'\t{{ikm: "{k}", salt: "000102030405060708090a0b0c", okm: "{w}"}},', k),
            L("}"),
        ]

    def ts_aes_spec(rng: random.Random) -> list[tuple[str, str | None]]:
        k = _random_text(rng, HEX, 64)
        arr = ", ".join(str(rng.randrange(256)) for _ in range(32))
        return [
            L("describe('aes-gcm', () => {"),
            L(f"  const key = Buffer.from('{k}', 'hex');", k),
            L(f"  const rawKey = new Uint8Array([{arr}]);", arr[:20]),
            L("});"),
        ]

    def ci_refs_many(rng: random.Random) -> list[tuple[str, str | None]]:
        sha = _random_text(rng, HEX, 40)
        return [
            L("env:"),
            L("  GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}", "${{ secrets.GITHUB_TOKEN }}"),
            L("  NPM_TOKEN: ${{ secrets.NPM_TOKEN || '' }}", "${{ secrets.NPM_TOKEN || '' }}"),
            L("  CODECOV_TOKEN: ${{ vars.CODECOV_TOKEN }}", "${{ vars.CODECOV_TOKEN }}"),
            L("steps:"),
            L(f"  - uses: actions/checkout@{sha} # v4.1.1", sha),
            L("    with:"),
            L("      token: ${{ steps.app-token.outputs.token }}", "${{ steps.app-token.outputs.token }}"),
        ]

    def azure_pipelines(rng: random.Random) -> list[tuple[str, str | None]]:
        return [
            L("variables:"),
            L("  - group: prod-secrets"),
            L("steps:"),
            L("  - script: echo $(System.AccessToken) | az devops login", "$(System.AccessToken)"),
            L("    env:"),
            L("      AZURE_DEVOPS_EXT_PAT: $(System.AccessToken)", "AZURE_DEVOPS_EXT_PAT"),
            L("      ARM_CLIENT_SECRET: $(armClientSecret)", "$(armClientSecret)"),
        ]

    def jenkins_credentials(rng: random.Random) -> list[tuple[str, str | None]]:
        return [
            L("environment {"),
            L("  AWS_SECRET_ACCESS_KEY = credentials('aws-secret-key')", "credentials('aws-secret-key')"),
            L("  SONAR_TOKEN = credentials('sonar-token')", "credentials('sonar-token')"),
            L("}"),
            L(
                'sh \'echo "$DOCKERHUB_PASSWORD" | docker login -u "$DOCKERHUB_USER" --password-stdin\'',
                "--password-stdin",
            ),
        ]

    def orm_models(rng: random.Random) -> list[tuple[str, str | None]]:
        return [
            L("protected $hidden = ['password', 'remember_token'];", "'remember_token'"),
            L("protected $casts = ['password' => 'hashed'];", "'hashed'"),
            L("$table->string('api_token', 80)->unique()->nullable();", "'api_token'"),
            L('t.string "encrypted_password", default: "", null: false', "encrypted_password"),
            L('t.string "reset_password_token"', "reset_password_token"),
            L("  apiToken     String  @unique @default(cuid())", "@default(cuid())"),
        ]

    def i18n_cjk_rtl(rng: random.Random) -> list[tuple[str, str | None]]:
        rows = [
            ("password", "密码"),
            ("token_expired", "令牌已过期"),
            ("secret_key", "密钥"),
            ("api_key_hint", "请输入您的 API 密钥"),
            ("password_ar", "كلمة المرور"),
            ("token_ko", "액세스 토큰"),
        ]
        return [L("{"), *[L(f'  "{k}": "{v}",', v) for k, v in rows], L('  "ok": "确定"'), L("}")]

    def minified_chunk(rng: random.Random) -> list[tuple[str, str | None]]:
        js = (
            'var o={apiKey:n.apiKey||"",authToken:t.authToken,password:e.password||void 0,'
            'secret:"__SECRET__",token:r?r.token:null,clientSecret:i.clientSecret};'
        )
        return [L(js, "apiKey:n.apiKey")]

    def debug_log(rng: random.Random) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = []
        for i in range(4):
            sid = _random_text(rng, B62, 40)
            rid = _random_text(rng, B64URL, 22)
            out.append(
                L(f"2026-11-30T10:00:0{i}Z DEBUG refreshing token for user={i + 40} session={sid}", sid)
            )
            out.append(
                L(f"2026-11-30T10:00:0{i}Z INFO  Token refreshed, expiry 3600s, request_id={rid}", rid)
            )
        return out

    def page_tokens_json(rng: random.Random) -> list[tuple[str, str | None]]:
        nxt = _random_text(rng, B64URL, 120)
        cont = _random_text(rng, B64, 60) + "=="
        sync = _random_text(rng, B62, 24)
        return [
            L("{"),
            L('  "files": [],'),
            L(f'  "nextPageToken": "{nxt}",', nxt),
            L(f'  "continuationToken": "{cont}",', cont),
            L(f'  "syncToken": "{sync}"', sync),
            L("}"),
        ]

    def page_tokens_cli(rng: random.Random) -> list[tuple[str, str | None]]:
        nxt = "eyJ" + _random_text(rng, B64, 90) + "=="
        skip = _random_text(rng, B64URL, 64)
        resume = _random_text(rng, B62, 40)
        return [
            L("# aws s3api list-objects-v2 --bucket acme-logs --max-items 2"),
            L(f"NextToken: {nxt}", nxt),
            L(f"next_page_token: {skip}", skip),
            L(f"resume_token: {resume}", resume),
        ]

    def solana_ts(rng: random.Random) -> list[tuple[str, str | None]]:
        mint = _random_text(rng, B58, 44)
        prog = _random_text(rng, B58, 43)
        stake = _random_text(rng, B58, 44)
        return [
            L('import { PublicKey } from "@solana/web3.js";'),
            L(f'export const USDC_TOKEN_MINT = new PublicKey("{mint}");', mint),
            L(f'export const TOKEN_PROGRAM = "{prog}";', prog),
            L(f'const rewardTokenMint = "{stake}";', stake),
        ]

    def solana_json(rng: random.Random) -> list[tuple[str, str | None]]:
        rows = [("tokenMint", 44), ("tokenAccount", 44), ("authorityPubkey", 43)]
        out: list[tuple[str, str | None]] = [L("{")]
        for key, n in rows:
            v = _random_text(rng, B58, n)
            out.append(L(f'  "{key}": "{v}",', v))
        return [*out, L('  "cluster": "mainnet-beta"'), L("}")]

    def gitconfig_signing(rng: random.Random) -> list[tuple[str, str | None]]:
        kid = _random_text(rng, HEXU, 16)
        ssh = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + _random_text(rng, B64, 43)
        return [
            L("[user]"),
            L("\tname = Alice Example"),
            L(f"\tsigningkey = {kid}", kid),
            L("[commit]"),
            L("\tgpgsign = true"),
            L('[user "ssh"]'),
            L(f"\tsigningKey = {ssh}", ssh),
        ]

    def release_signing_yaml(rng: random.Random) -> list[tuple[str, str | None]]:
        fp = _random_text(rng, HEXU, 40)
        kid = "0x" + _random_text(rng, HEXU, 16)
        ssh = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ" + _random_text(rng, B64, 200)
        return [
            L("signing:"),
            L(f"  gpg_key: {fp}", fp),
            L(f"  signing_key: {kid}", kid),
            L(f'  ssh_signing_key: "{ssh}"', ssh),
        ]

    def vapid_ts(rng: random.Random) -> list[tuple[str, str | None]]:
        point = _b64url(b"\x04" + bytes(rng.randrange(256) for _ in range(64)))
        return [
            L("const registration = await navigator.serviceWorker.ready;"),
            L(f"const applicationServerKey = '{point}';", point),
            L("await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey });"),
        ]

    def vapid_env(rng: random.Random) -> list[tuple[str, str | None]]:
        point = _b64url(b"\x04" + bytes(rng.randrange(256) for _ in range(64)))
        comp = base64.b64encode(bytes([2 + rng.randrange(2)]) + bytes(rng.randrange(256) for _ in range(32)))
        return [
            L(f"PUSH_SERVER_KEY={point}", point),
            L(f"ECDSA_VERIFY_KEY={comp.decode()}", comp.decode()),
        ]

    def digest_keys_yaml(rng: random.Random) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = [
            L("# what the server stores: digests of the credentials, never the values")
        ]
        for key in ("api_token_sha256", "secret_checksum", "refresh_token_fingerprint", "password_md5"):
            v = _random_text(rng, HEX, 32 if key.endswith("md5") else 64)
            out.append(L(f"{key}: {v}", v))
        return out

    def digest_keys_py(rng: random.Random) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = [L("# expected digests of the fixture credentials")]
        for key in ("TOKEN_SHA1", "CLIENT_SECRET_SHA512", "API_KEY_THUMBPRINT"):
            n = {"TOKEN_SHA1": 40, "CLIENT_SECRET_SHA512": 128, "API_KEY_THUMBPRINT": 40}[key]
            v = _random_text(rng, HEX, n)
            out.append(L(f'{key} = "{v}"', v))
        return out

    def digest_keys_json(rng: random.Random) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = [L("{")]
        for key, n in (("apiKeySha256", 64), ("clientSecretChecksum", 64), ("tokenFingerprint", 64)):
            v = _random_text(rng, HEX, n)
            out.append(L(f'  "{key}": "{v}",', v))
        return [*out, L('  "algorithm": "sha256"'), L("}")]

    def digest_keys_env(rng: random.Random) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = [L("# pinned digests, checked at start-up")]
        for key, n in (("ADMIN_TOKEN_SHA256", 64), ("WEBHOOK_SECRET_SHA1", 40), ("LICENSE_KEY_MD5", 32)):
            v = _random_text(rng, HEX, n)
            out.append(L(f"{key}={v}", v))
        return out

    def public_keys_yaml(rng: random.Random) -> list[tuple[str, str | None]]:
        dd = "pub" + _random_text(rng, HEX, 32)
        mb = (
            "pk.eyJ1IjoiYWNtZSIsImEiOiJ" + _random_text(rng, B64URL, 22) + "." + _random_text(rng, B64URL, 22)
        )
        alg = _random_text(rng, HEX, 32)
        mix = _random_text(rng, HEX, 32)
        return [
            L("# web/config/public.yaml: shipped to the browser"),
            L("rum:"),
            L(f"  client_token: {dd}", dd),
            L("maps:"),
            L(f"  mapbox_public_token: {mb}", mb),
            L("search:"),
            L(f"  algolia_search_only_key: {alg}", alg),
            L("analytics:"),
            L(f"  mixpanel_project_token: {mix}", mix),
        ]

    def mock_tokens_py(rng: random.Random) -> list[tuple[str, str | None]]:
        return [
            L("# responses' mock server: the fixed fake credentials it accepts"),
            L('FAKE_TOKEN = "fake-token"', "fake-token"),
            L('MOCK_SECRET = "mock-secret-value"', "mock-secret-value"),
            L('STUB_API_KEY = "stub-api-key-for-tests"', "stub-api-key-for-tests"),
            L('DUMMY_PASSWORD = "dummy_password_123"', "dummy_password_123"),
            L(
                'responses.add(responses.POST, TOKEN_URL, json={"access_token": "fake-access-token"})',
                "fake-access-token",
            ),
        ]

    def rust_rfc_vectors(rng: random.Random) -> list[tuple[str, str | None]]:
        sk = _random_text(rng, HEX, 64)
        pk = _random_text(rng, HEX, 64)
        sig = _random_text(rng, HEX, 128)
        return [
            L("// RFC 8032 section 7.1, TEST 1 (Ed25519)"),
            L(f'const SECRET_KEY: &str = "{sk}";', sk),
            L(f'const PUBLIC_KEY: &str = "{pk}";', pk),
            L(f'const SIGNATURE: &str = "{sig}";', sig),
        ]

    def java_test_vectors(rng: random.Random) -> list[tuple[str, str | None]]:
        key = _random_text(rng, HEX, 32)
        nonce = _random_text(rng, HEX, 24)
        tag = _random_text(rng, HEX, 32)
        return [
            L("/** NIST SP 800-38D GCM test vector, test case 3. */"),
            L("class AesGcmVectorsTest {"),
            L(f'  static final String KEY = "{key}";', key),
            L(f'  static final String NONCE = "{nonce}";', nonce),
            L(f'  static final String EXPECTED_TAG = "{tag}";', tag),
            L("}"),
        ]

    def public_keys_json(rng: random.Random) -> list[tuple[str, str | None]]:
        ph = "phc_" + _random_text(rng, B62, 43)
        dd = "pub" + _random_text(rng, HEX, 32)
        return [
            L("{"),
            L(f'  "posthogKey": "{ph}",', ph),
            L(f'  "datadogRumClientToken": "{dd}",', dd),
            L('  "posthogHost": "https://eu.i.posthog.com"'),
            L("}"),
        ]

    def totp_python(rng: random.Random) -> list[tuple[str, str | None]]:
        return [
            L("import pyotp"),
            L(""),
            L("# the base32 secret every TOTP tutorial uses (Google Authenticator's wiki)"),
            L('OTP_SECRET = "JBSWY3DPEHPK3PXP"', "JBSWY3DPEHPK3PXP"),
            L("assert pyotp.TOTP(OTP_SECRET).verify(pyotp.TOTP(OTP_SECRET).now())"),
        ]

    return [
        ("public-client-key", "json", "web/public/runtime-config.json", public_keys_json),
        ("documented-example3", "totp-python", "app/mfa_demo.py", totp_python),
        ("crypto-vector", "rust", "crates/ed25519/tests/rfc8032.rs", rust_rfc_vectors),
        ("crypto-vector", "java", "src/test/java/acme/crypto/AesGcmVectorsTest.java", java_test_vectors),
        ("public-client-key", "yaml", "web/config/public.yaml", public_keys_yaml),
        ("mock-token", "python", "tests/mocks/oauth_server.py", mock_tokens_py),
        ("digest-key", "json", "config/digests.json", digest_keys_json),
        ("digest-key", "dotenv", "deploy/digests.env", digest_keys_env),
        ("digest-key", "yaml", "config/stored-digests.yaml", digest_keys_yaml),
        ("digest-key", "python", "tests/expected_digests.py", digest_keys_py),
        ("pagination-token", "api-json", "tests/fixtures/drive_files_list.json", page_tokens_json),
        ("pagination-token", "cli-output", "docs/cli/list-objects.yaml", page_tokens_cli),
        ("blockchain-id", "solana-ts", "app/constants/solana.ts", solana_ts),
        ("blockchain-id", "solana-json", "config/solana.json", solana_json),
        ("public-key3", "gitconfig-signing", "dotfiles/.gitconfig", gitconfig_signing),
        ("public-key3", "release-signing-yaml", "release/signing-keys.yaml", release_signing_yaml),
        ("public-key3", "web-push-vapid", "web/src/push.ts", vapid_ts),
        ("public-key3", "ec-points-env", "config/push.env", vapid_env),
        ("password-hash3", "ldif-ssha", "ldap/users.ldif", ldif_ssha),
        ("password-hash3", "spring-encoded", "src/main/java/acme/SecurityConfig.java", spring_encoded),
        ("password-hash3", "keycloak-export", "keycloak/realm-export.json", keycloak_export),
        ("documented-example3", "jwt-io-java", "src/test/java/acme/JwtParserTest.java", jwt_io_java),
        ("placeholder3", "dev-defaults-py", "config/settings_dev.py", dev_defaults),
        ("test-data", "compose-test", "docker-compose.test.yml", compose_test),
        ("placeholder3", "docs-french", "docs/fr/authentification.md", docs_french),
        ("crypto-vector", "hmac-fixture-json", "tests/fixtures/webhook_hmac.json", hmac_fixture),
        ("crypto-vector", "go-rfc-vectors", "hkdf/hkdf_test.go", go_crypto_test),
        ("crypto-vector", "ts-aes-spec", "web/src/crypto/aes.spec.ts", ts_aes_spec),
        ("ci-reference", "gha-expressions", ".github/workflows/release.yml", ci_refs_many),
        ("ci-reference", "azure-pipelines", "azure-pipelines.yml", azure_pipelines),
        ("ci-reference", "jenkins-credentials", "ci/Jenkinsfile.deploy", jenkins_credentials),
        ("schema", "orm-models", "app/Models/schema_notes.txt", orm_models),
        ("prose3", "i18n-cjk-rtl", "web/src/locales/intl.json", i18n_cjk_rtl),
        ("minified3", "webpack-chunk", "web/dist/chunk-auth.js", minified_chunk),
        ("log-id", "debug-log", "logs/auth-debug.log", debug_log),
        ("public-client-key", "browser-config-ts", "web/src/public-config.ts", public_keys_ts),
        ("public-client-key", "next-public-env", "web/.env.production", public_keys_env),
        ("blockchain-id", "contracts-json", "deployments/mainnet.json", contracts_json),
        ("blockchain-id", "hardhat-ts", "scripts/deploy.ts", hardhat_ts),
        ("csrf-token", "saved-html", "spec/fixtures/pages/login.html", csrf_html),
        ("csrf-token", "vcr-cassette", "spec/cassettes/login.yml", csrf_cassette),
        ("public-key3", "jwks", "web/public/.well-known/jwks.json", jwks),
        ("public-key3", "kubeconfig-ca", "deploy/kubeconfig.yaml", kubeconfig_ca),
        ("reference3", "postman", "api/acme.postman_collection.json", postman),
        ("object-id", "engine-ids", "game/Assets/Player.prefab.meta", engine_ids),
        ("encrypted3", "rails-credentials", "config/credentials.yml.enc", rails_credentials_enc),
        ("crypto-vector", "pkce-test-values", "tests/test_pkce.py", oauth_test_values),
        ("declaration", "settings-numbers", "config/auth.env", settings_names),
        ("declaration", "k8s-secret-key-ref", "deploy/k8s/api.yaml", k8s_secret_refs),
        ("binary-data", "notebook-png", "notebooks/tokens.ipynb", notebook_png),
        ("object-id", "twilio-sids", "config/twilio.env", twilio_sids),
        ("object-id", "google-client-id", "web/templates/login.html", google_client_ids),
        ("resource-id", "aws-arn-policy", "iam/policies/app-read-secrets.json", arns),
        ("resource-id", "azure-ids", "config/azure-resources.yaml", azure_resource_ids),
        ("resource-id", "gcp-ids", "infra/gcp/secrets.tf", gcp_resource_ids),
        ("public-key3", "ssh-fingerprints", "docs/ops/ssh-hosts.md", ssh_fingerprints),
        ("public-key3", "pgp-public-block", "KEYS.asc", gpg_public_block),
        ("digest", "k8s-image-digest", "deploy/k8s/pod.yaml", image_digests_k8s),
        ("digest", "sri-csp-nonce", "deploy/nginx/csp.conf", sri_csp),
        ("digest", "cargo-lock", "Cargo.lock", lockfile_sums),
        ("crypto-vector", "python-vectors", "tests/crypto/test_vectors.py", crypto_vectors),
        ("crypto-vector", "signature-fixtures", "web/src/__tests__/webhook.test.ts", signature_fixtures),
        ("crypto-vector", "thumbprint-config", "src/Service/Web.config", cert_thumbprints),
        ("crypto-vector", "test-password-hashes", "tests/conftest.py", test_password_hashes),
        ("binary-data", "css-fonts", "web/static/fonts.css", css_fonts),
        ("prose3", "i18n-yaml-many", "config/locales/auth.yml", i18n_yaml_many),
        ("prose3", "password-policy", "app/validators.py", password_policy),
        ("schema", "openapi", "api/openapi.yaml", openapi_yaml),
        ("schema", "graphql", "api/schema.graphql", graphql_schema),
        ("schema", "sql", "db/migrations/001_users.sql", sql_schema),
        ("declaration", "terraform-sensitive", "infra/variables.tf", terraform_sensitive),
        ("declaration", "helm-values", "charts/api/values.yaml", helm_values),
        ("declaration", "gitlab-ci", ".gitlab-ci.yml", ci_references),
        ("mock-token", "wiremock", "test/mocks/oauth.js", mock_tokens),
        ("log-id", "session-log", "logs/access.log", session_logs),
        ("minified3", "object-keys", "web/dist/auth.min.js", minified_keys),
    ]


# ---------------------------------------------------------------------------------- building

# ---------------------------------------------------------------------------------- round four: syntaxes

ROUND4_PREFIX = "gsyntax4-"
"""Directory prefix of round four's groups: generic secrets and their look-alikes in file syntaxes the
corpus had no generic group for (added after the first test-half run, so the test-half files outside this
prefix and ``ROUND3_PREFIX`` are the ones scored before, kept byte for byte)."""

_ROUND4_KEYS = (
    "DB_PASSWORD",
    "API_TOKEN",
    "CLIENT_SECRET",
    "SMTP_PASSWORD",
    "AUTH_TOKEN",
    "PAYMENTS_API_KEY",
    "WEBHOOK_SECRET",
    "ADMIN_PASSWORD",
    "ACCESS_TOKEN",
    "SIGNING_KEY",
)
"""The keys round four's files write, spelled per syntax (``names``): what people name generic secrets."""

_ROUND4_FIXED = "fixed"
"""A syntax whose key is the syntax itself (``IDENTIFIED BY``, a URL's password, ``Authorization``)."""


def _r4_names(var: str) -> dict[str, str]:
    """``names`` plus ``Title`` (``Api Token``): keys with spaces, as JSON exports and tables write them."""
    n = names(var)
    n["Title"] = " ".join(w.capitalize() for w in var.lower().split("_"))
    return n


def _round4_syntaxes() -> list[tuple[str, str, str, Callable[[dict[str, str], str], list[str]]]]:
    """(syntax, path, key style, frame): frame renders one (names, value) into the lines that hold it. Written
    from what the real files look like: Dockerfiles, unit files, web-server configs, C headers, shells other
    than sh, R, Elixir, Clojure, Lisp, Tcl, Erlang, VB.NET, tables, plists, SQL, kubectl, Ansible."""
    return [
        (
            "dockerfile-env-space",
            "Dockerfile",
            "",
            lambda n, v: ["FROM python:3.12-slim", f"ENV {n['UP']} {v}"],
        ),
        (
            "dockerfile-arg",
            "docker/Dockerfile.build",
            "",
            lambda n, v: ["FROM node:20", f"ARG {n['UP']}={v}"],
        ),
        (
            "systemd-environment",
            "deploy/app.service",
            "",
            lambda n, v: ["[Service]", "User=app", f'Environment="{n["UP"]}={v}"', "ExecStart=/usr/bin/app"],
        ),
        (
            "apache-setenv",
            "conf/httpd-app.conf",
            "",
            lambda n, v: ["<VirtualHost *:443>", f"  SetEnv {n['UP']} {v}"],
        ),
        (
            "nginx-set",
            "conf/nginx/app.conf",
            "",
            lambda n, v: ["location /api/ {", f'    set ${n["low"]} "{v}";', "}"],
        ),
        ("c-define", "src/config.h", "", lambda n, v: ["#pragma once", f'#define {n["UP"]} "{v}"']),
        ("fish-set", "scripts/env.fish", "", lambda n, v: [f"set -gx {n['UP']} {v}"]),
        ("csh-setenv", "scripts/env.csh", "", lambda n, v: ["#!/bin/csh", f"setenv {n['UP']} {v}"]),
        ("setx", "scripts/setup.cmd", "", lambda n, v: ["@echo off", f'setx {n["UP"]} "{v}"']),
        ("r-assign", "analysis/setup.R", "", lambda n, v: ["library(httr)", f'{n["low"]} <- "{v}"']),
        ("r-sys-setenv", "analysis/.Rprofile", "", lambda n, v: [f'Sys.setenv({n["UP"]} = "{v}")']),
        (
            "elixir-attribute",
            "lib/app/client.ex",
            "",
            lambda n, v: ["defmodule App.Client do", f'  @{n["low"]} "{v}"'],
        ),
        (
            "clojure-edn",
            "resources/config.edn",
            "",
            lambda n, v: ['{:db {:host "db.internal"', f'      :{n["kebab"]} "{v}"}}}}'],
        ),
        ("elisp-setq", "init.el", "", lambda n, v: [f'(setq {n["kebab"]} "{v}")']),
        ("tcl-set", "scripts/deploy.tcl", "", lambda n, v: [f'set {n["low"]} "{v}"']),
        (
            "erlang-tuple",
            "config/sys.config",
            "",
            lambda n, v: ["[{app, [", f'  {{{n["low"]}, "{v}"}}', "]}]."],
        ),
        (
            "vbnet-const",
            "src/Settings.vb",
            "",
            lambda n, v: [f'    Private Const {n["Pascal"]} As String = "{v}"'],
        ),
        (
            "scala-val",
            "src/main/scala/Config.scala",
            "",
            lambda n, v: [f'  lazy val {n["camel"]}: String = "{v}"'],
        ),
        ("dart-const", "lib/config.dart", "", lambda n, v: [f"const String {n['camel']} = '{v}';"]),
        ("perl-my", "lib/App/Config.pm", "", lambda n, v: ["use strict;", f"my ${n['low']} = '{v}';"]),
        ("lua-local", "scripts/config.lua", "", lambda n, v: [f'local {n["low"]} = "{v}"']),
        (
            "jenkinsfile-environment",
            "Jenkinsfile",
            "",
            lambda n, v: ["pipeline {", "  environment {", f"    {n['UP']} = '{v}'", "  }"],
        ),
        (
            "markdown-table",
            "ops/runbook.md",
            "",
            lambda n, v: ["| Setting | Value |", "| --- | --- |", f"| `{n['UP']}` | `{v}` |"],
        ),
        ("tsv-row", "ops/settings.tsv", "", lambda n, v: ["name\tvalue", f"{n['UP']}\t{v}"]),
        ("csv-key-value", "ops/settings.csv", "", lambda n, v: ["key,value", f"{n['UP']},{v}"]),
        (
            "plist",
            "App/Info.plist",
            "",
            lambda n, v: ["<dict>", f"  <key>{n['Pascal']}</key>", f"  <string>{v}</string>", "</dict>"],
        ),
        ("properties-space", "conf/app.properties", "", lambda n, v: [f"{n['dot']} {v}"]),
        ("properties-colon", "conf/service.properties", "", lambda n, v: [f"{n['dot']} : {v}"]),
        (
            "kubectl-from-literal",
            "scripts/secrets.sh",
            "",
            lambda n, v: [f"kubectl create secret generic app --from-literal={n['low']}={v}"],
        ),
        ("json-spaced-key", "config/vendors.json", "", lambda n, v: ["{", f'  "{n["Title"]}": "{v}"', "}"]),
        ("yaml-flow-map", "config/db.yml", "", lambda n, v: [f"credentials: {{user: app, {n['low']}: {v}}}"]),
        (
            "toml-inline-table",
            "config/app.toml",
            "",
            lambda n, v: [f'db = {{ user = "app", {n["low"]} = "{v}" }}'],
        ),
        (
            "ansible-inline-args",
            "roles/db/tasks/main.yml",
            "",
            lambda n, v: ["- name: create the user", f"  mysql_user: name=app {n['low']}={v} priv=*.*:ALL"],
        ),
        ("yaml-block-scalar", "config/secrets.yml", "", lambda n, v: [f"{n['low']}: >-", f"  {v}"]),
        (
            "json-escaped-string",
            "fixtures/payload.json",
            "",
            lambda n, v: [f'{{"config": "{{\\"{n["low"]}\\": \\"{v}\\"}}"}}'],
        ),
        (
            "sql-identified-by",
            "db/users.sql",
            _ROUND4_FIXED,
            lambda n, v: [f"CREATE USER 'app'@'%' IDENTIFIED BY '{v}';"],
        ),
        (
            "sql-alter-role",
            "db/roles.sql",
            _ROUND4_FIXED,
            lambda n, v: [f"ALTER ROLE app_rw WITH LOGIN PASSWORD '{v}';"],
        ),
        (
            "authorization-token-scheme",
            "scripts/api.sh",
            _ROUND4_FIXED,
            lambda n, v: [f'wget --header="Authorization: token {v}" https://api.acme-corp.io/v1/me'],
        ),
        (
            "curl-v-dump",
            "logs/curl-debug.txt",
            _ROUND4_FIXED,
            lambda n, v: [
                "> GET /v1/orders HTTP/1.1",
                "> Host: api.acme-corp.io",
                f"> Authorization: Bearer {v}",
            ],
        ),
        (
            "git-credentials",
            ".git-credentials",
            _ROUND4_FIXED,
            lambda n, v: [f"https://deploy:{v}@git.acme-corp.io"],
        ),
        (
            "pip-conf-index-url",
            "pip.conf",
            _ROUND4_FIXED,
            lambda n, v: ["[global]", f"index-url = https://deploy:{v}@pypi.acme-corp.io/simple/"],
        ),
        (
            "composer-auth-json",
            "auth.json",
            _ROUND4_FIXED,
            lambda n, v: [
                '{"http-basic": {"repo.acme-corp.io": {',
                '  "username": "deploy",',
                f'  "password": "{v}"}}}}}}',
            ],
        ),
    ]


def _round4_value(rng: random.Random, var: str) -> str:
    """A password for a password key, else a random token (24-40 base62 characters)."""
    if "PASSWORD" in var:
        return password(rng)
    return _random_text(rng, B62, rng.randint(24, 40))


_ROUND4_LOOKALIKES = ("placeholder", "reference", "secret-name", "identifier", "password-hash", "path", "url")
"""What stands under the same keys and is no secret: placeholders, references to a secret, the secret's
name, an id, a password's hash, a file path, an endpoint (the key changes as people spell those)."""


def _round4_lookalike(rng: random.Random, kind: str, var: str) -> tuple[str, str]:
    """(key, value) of one look-alike of ``kind`` for the secret key ``var``."""
    n = names(var)
    if kind == "placeholder":
        v = rng.choice(
            ("<your-{k}>", "REPLACE_ME", "changeme", "xxxxxxxxxxxxxxxx", "your-{k}-here", "********", "TODO")
        )
        return var, v.format(k=n["kebab"])
    if kind == "reference":
        v = rng.choice(
            ("${{{u}}}", "{{{{ .Values.{c} }}}}", "%{u}%", "$({u})", "{{{{ {l} }}}}", "${{env:{u}}}")
        )
        return var, v.format(u=var, c=n["camel"], l=n["low"])
    if kind == "secret-name":
        return f"{var}_NAME", f"acme/prod/{n['kebab']}"
    if kind == "identifier":
        return f"{var}_ID", _uuid(rng)
    if kind == "password-hash":
        return f"{var}_HASH", "$2b$12$" + _random_text(rng, B62 + "./", 53)
    if kind == "path":
        return f"{var}_FILE", f"/run/secrets/{n['low']}"
    return f"{var}_URL", f"https://vault.acme-corp.io/v1/secret/data/{n['kebab']}"


def _round4_groups() -> Iterator[tuple[str, str, _File]]:
    """Round four's groups: per syntax one secret group (``secret|generic4|<syntax>``, a generic secret
    under a key of ``_ROUND4_KEYS``) and one look-alike group (``benign|syntax-lookalike4|<syntax>``, every
    kind of ``_ROUND4_LOOKALIKES`` under the same keys), ``GENERIC_VARIANTS`` files each."""
    syntaxes = [(syntax, path, style, frame, None, None) for syntax, path, style, frame in _round4_syntaxes()]
    return _syntax_round_groups(
        4, ROUND4_PREFIX, syntaxes, {_ROUND4_FIXED: "DB_PASSWORD"}, ("placeholder", "reference"), set()
    )


# ---------------------------------------------------------------------------------- round five: syntaxes

ROUND5_PREFIX = "gsyntax5-"
"""Directory prefix of round five's groups: the shapes of "a key near a value" round four left unread
(initialiser pairs, triple-quoted values, SQL rows, Apple key/value stores, commands that store a secret,
Markdown labels, YAML tags) and more syntaxes real repositories hold (C declarations, Spring defaults, Ruby
fetch blocks, Kotlin/JS pairs, TOML literal strings, piped secret stores): written before any rule for them,
split by the same hash."""

_ROUND5_SSM = "SecureString"


_Frame = Callable[[dict[str, str], str], list[str]]
_Extras = Callable[[random.Random, dict[str, str], _Frame], list[tuple[list[str], str]]]
"""A syntax's own look-alikes: (lines, the text labelled) from a generator, the key's names and the frame."""


def _r5_extras_pair(rng: random.Random, n: dict[str, str], frame: _Frame) -> list[tuple[list[str], str]]:
    """Pairs that hold no secret: two names, a format string, a translated label."""
    label = rng.choice(("Mot de passe", "Jeton API", "Clave secreta", "Geheimer Schluessel"))
    return [(frame(n, v), v) for v in (n["UP"], "Bearer %s", label)]


def _r5_extras_hash(rng: random.Random, n: dict[str, str], frame: _Frame) -> list[tuple[list[str], str]]:
    """A password's hash stored under the password's own column or key."""
    value = "$2b$12$" + _random_text(rng, B62 + "./", 53)
    return [(frame(n, value), value)]


def _r5_extras_yaml_tags(rng: random.Random, n: dict[str, str], frame: _Frame) -> list[tuple[list[str], str]]:
    """Other YAML tags under the same key: a Home Assistant ``!secret`` reference, an Ansible vault, a
    CloudFormation ``!Ref``, an environment lookup: none holds the secret."""
    vault = "$ANSIBLE_VAULT;1.1;AES256"
    return [
        (["app:", f"  {n['low']}: !secret {n['low']}"], f"!secret {n['low']}"),
        (
            ["app:", f"  {n['low']}: !vault |", f"    {vault}", "    " + _random_text(rng, HEX, 64)],
            "!vault |",
        ),
        (["app:", f"  {n['low']}: !Ref {n['Pascal']}Parameter"], f"!Ref {n['Pascal']}Parameter"),
        (["app:", f"  {n['low']}: !env_var {n['UP']}"], f"!env_var {n['UP']}"),
    ]


def _round5_syntaxes() -> list[tuple[str, str, str, _Frame, _Extras | None]]:
    """(syntax, path, key style, frame, extra look-alike values): as round four, plus values that stand in
    the same frame under the same key and are no secret (two names, a hash in the password column...)."""
    return [
        (
            "cpp-initializer-pair",
            "src/config.cpp",
            "",
            lambda n, v: [
                "static const std::map<std::string, std::string> kDefaults = {",
                f'    {{"{n["low"]}", "{v}"}},',
                "};",
            ],
            _r5_extras_pair,
        ),
        (
            "csharp-collection-initializer",
            "src/Defaults.cs",
            "",
            lambda n, v: [
                "var defaults = new Dictionary<string, string>",
                "{",
                f'    {{ "{n["Pascal"]}", "{v}" }},',
                "};",
            ],
            _r5_extras_pair,
        ),
        (
            "java-array-pair",
            "src/main/java/io/acme/Defaults.java",
            "",
            lambda n, v: ["static final String[][] DEFAULTS = {", f'    {{"{n["dot"]}", "{v}"}},', "};"],
            _r5_extras_pair,
        ),
        ("python-triple-single", "app/settings.py", "", lambda n, v: [f"{n['UP']} = '''{v}'''"], None),
        (
            "python-triple-double",
            "app/clients/acme.py",
            "",
            lambda n, v: ["class AcmeClient:", f'    {n["low"]} = """{v}"""'],
            None,
        ),
        (
            "sql-insert-values",
            "db/seed.sql",
            "",
            lambda n, v: [
                f"INSERT INTO service_accounts (name, email, {n['low']}) VALUES ('app', 'app@acme-corp.io', '{v}');"
            ],
            _r5_extras_hash,
        ),
        (
            "sql-update-set",
            "db/migrations/0042_rotate.sql",
            "",
            lambda n, v: [f"UPDATE service_accounts SET {n['low']} = '{v}' WHERE name = 'app';"],
            _r5_extras_hash,
        ),
        (
            "swift-userdefaults-set",
            "App/Sources/Session.swift",
            "",
            lambda n, v: [f'UserDefaults.standard.set("{v}", forKey: "{n["camel"]}")'],
            None,
        ),
        (
            "objc-setobject-forkey",
            "App/Sources/Session.m",
            "",
            lambda n, v: [
                f'[[NSUserDefaults standardUserDefaults] setObject:@"{v}" forKey:@"{n["camel"]}"];'
            ],
            None,
        ),
        (
            "swift-keychain-value-data",
            "App/Sources/Keychain.swift",
            _ROUND4_FIXED,
            lambda n, v: [
                "let query: [String: Any] = [",
                "    kSecClass as String: kSecClassGenericPassword,",
                '    kSecAttrAccount as String: "app",',
                f'    kSecValueData as String: "{v}".data(using: .utf8)!,',
                "]",
            ],
            None,
        ),
        (
            "gh-secret-set-body",
            "scripts/bootstrap.sh",
            "",
            lambda n, v: [f'gh secret set {n["UP"]} --repo acme-corp/api --body "{v}"'],
            None,
        ),
        (
            "gh-secret-set-short",
            ".github/scripts/sync-secrets.sh",
            "",
            lambda n, v: [f"gh secret set {n['UP']} -b {v}"],
            None,
        ),
        (
            "heroku-config-set",
            "scripts/heroku-setup.sh",
            "",
            lambda n, v: [f"heroku config:set {n['UP']}={v} --app acme-api"],
            None,
        ),
        (
            "fly-secrets-set",
            "scripts/fly-deploy.sh",
            "",
            lambda n, v: [f'fly secrets set {n["UP"]}="{v}" -a acme-api'],
            None,
        ),
        (
            "vercel-env-add-stdin",
            "scripts/vercel-env.sh",
            "",
            lambda n, v: [f'echo -n "{v}" | vercel env add {n["UP"]} production'],
            None,
        ),
        (
            "doppler-secrets-set",
            "scripts/doppler.sh",
            "",
            lambda n, v: [f'doppler secrets set {n["UP"]} "{v}" --project acme --config prd'],
            None,
        ),
        (
            "markdown-bold-label",
            "ops/handover.md",
            "",
            lambda n, v: ["## Staging", "", f"**{n['Title']}:** {v}"],
            None,
        ),
        (
            "markdown-list-code",
            "ops/access.md",
            "",
            lambda n, v: ["Staging access:", "", f"- {n['Title']}: `{v}`"],
            None,
        ),
        (
            "yaml-str-tag",
            "config/app.yml",
            "",
            lambda n, v: ["app:", f"  {n['low']}: !!str {v}"],
            _r5_extras_yaml_tags,
        ),
        # more syntaxes real repositories hold
        (
            "c-pointer-const",
            "src/keys.c",
            "",
            lambda n, v: ['#include "keys.h"', f'static const char *{n["low"]} = "{v}";'],
            None,
        ),
        (
            "c-char-array",
            "firmware/main/config.c",
            "",
            lambda n, v: [f'static const char {n["low"]}[] = "{v}";'],
            None,
        ),
        (
            "spring-value-default",
            "src/main/java/io/acme/ApiClient.java",
            "",
            lambda n, v: [f'    @Value("${{acme.{n["kebab"]}:{v}}}")', f"    private String {n['camel']};"],
            None,
        ),
        (
            "ruby-fetch-block",
            "config/initializers/acme.rb",
            "",
            lambda n, v: [f'ACME_{n["UP"]} = ENV.fetch("{n["UP"]}") {{ "{v}" }}'],
            None,
        ),
        (
            "kotlin-mapof-to",
            "app/src/main/kotlin/Defaults.kt",
            "",
            lambda n, v: [f'val defaults = mapOf("{n["camel"]}" to "{v}")'],
            _r5_extras_pair,
        ),
        (
            "js-map-entries",
            "src/defaults.js",
            "",
            lambda n, v: [f'export const defaults = new Map([["{n["camel"]}", "{v}"]]);'],
            _r5_extras_pair,
        ),
        (
            "toml-literal-multiline",
            "config/acme.toml",
            "",
            lambda n, v: ["[acme]", f"{n['low']} = '''{v}'''"],
            None,
        ),
        (
            "aws-ssm-put-parameter",
            "scripts/ssm.sh",
            "",
            lambda n, v: [
                f'aws ssm put-parameter --name /acme/prod/{n["kebab"]} --type {_ROUND5_SSM} --value "{v}" --overwrite'
            ],
            None,
        ),
        (
            "wrangler-secret-stdin",
            "scripts/cf-secrets.sh",
            "",
            lambda n, v: [f"printf '%s' '{v}' | npx wrangler secret put {n['UP']}"],
            None,
        ),
        (
            "gcloud-secrets-stdin",
            "scripts/gcp-secrets.sh",
            "",
            lambda n, v: [f'echo -n "{v}" | gcloud secrets versions add {n["kebab"]} --data-file=-'],
            None,
        ),
        (
            "netlify-env-set",
            "scripts/netlify.sh",
            "",
            lambda n, v: [f"netlify env:set {n['UP']} {v}"],
            None,
        ),
        (
            "rust-string-from",
            "src/config.rs",
            "",
            lambda n, v: [f'    let {n["low"]} = String::from("{v}");'],
            None,
        ),
        # tools that take a password as an argument or a directive, under no key (added after round five's
        # first tuning run: syntaxes found missing by hand, written before their rule)
        (
            "redis-conf-requirepass",
            "redis/redis.conf",
            _ROUND4_FIXED,
            lambda n, v: ["bind 127.0.0.1", "port 6379", f"requirepass {v}"],
            None,
        ),
        (
            "redis-cli-auth",
            "scripts/flush-cache.sh",
            _ROUND4_FIXED,
            lambda n, v: [f"redis-cli -h cache.acme-corp.io -a {v} FLUSHDB"],
            None,
        ),
        (
            "dockerfile-chpasswd",
            "docker/Dockerfile.ssh",
            _ROUND4_FIXED,
            lambda n, v: ["FROM ubuntu:24.04", f'RUN echo "root:{v}" | chpasswd'],
            None,
        ),
        (
            "sqlcmd-password",
            "scripts/restore.cmd",
            _ROUND4_FIXED,
            lambda n, v: [f"sqlcmd -S db.acme-corp.io -U sa -P {v} -i restore.sql"],
            None,
        ),
        (
            "ldapsearch-bind",
            "scripts/ldap-users.sh",
            _ROUND4_FIXED,
            lambda n, v: [
                f'ldapsearch -x -H ldap://ldap.acme-corp.io -D "cn=admin,dc=acme,dc=io" -w {v} -b "dc=acme,dc=io"'
            ],
            None,
        ),
        (
            "zip-password",
            "scripts/backup.sh",
            _ROUND4_FIXED,
            lambda n, v: [f"zip -r -P {v} backup.zip dump/"],
            None,
        ),
        (
            "wpa-psk",
            "firmware/wpa_supplicant.conf",
            _ROUND4_FIXED,
            lambda n, v: ["network={", '    ssid="acme-office"', f'    psk="{v}"', "}"],
            None,
        ),
        (
            "rabbitmq-add-user",
            "docker/rabbitmq/init.sh",
            _ROUND4_FIXED,
            lambda n, v: [
                f"rabbitmqctl add_user app {v}",
                'rabbitmqctl set_permissions -p / app ".*" ".*" ".*"',
            ],
            None,
        ),
        (
            "mongodump-password",
            "scripts/mongo-backup.sh",
            _ROUND4_FIXED,
            lambda n, v: [f'mongodump --uri "mongodb://db.acme-corp.io:27017" -u app -p {v} --out /backups'],
            None,
        ),
    ]


_ROUND5_COMMAND_LOOKALIKES = ("placeholder", "reference")
"""A command's look-alikes: the value it stores is a secret whatever its key is named, so the only things
that stand there and are no secret are placeholders and references (``"$TOKEN"``, ``$(cat f)``)."""

_ROUND5_COMMANDS = {
    "gh-secret-set-body",
    "gh-secret-set-short",
    "heroku-config-set",
    "fly-secrets-set",
    "vercel-env-add-stdin",
    "doppler-secrets-set",
    "aws-ssm-put-parameter",
    "wrangler-secret-stdin",
    "gcloud-secrets-stdin",
    "netlify-env-set",
}


def _round5_groups() -> Iterator[tuple[str, str, _File]]:
    """Round five's groups, as round four's: per syntax a secret group (``secret|generic5|<syntax>``) and a
    look-alike group (``benign|syntax-lookalike5|<syntax>``: the kinds of ``_ROUND4_LOOKALIKES`` under the
    same keys, and the syntax's own look-alikes), ``GENERIC_VARIANTS`` files each."""
    syntaxes = [(*syntax, None) for syntax in _round5_syntaxes()]
    return _syntax_round_groups(
        5,
        ROUND5_PREFIX,
        syntaxes,
        {_ROUND4_FIXED: "DB_PASSWORD"},
        _ROUND5_COMMAND_LOOKALIKES,
        _ROUND5_COMMANDS,
    )


# ---------------------------------------------------------------------------------- round six: syntaxes

ROUND6_PREFIX = "gsyntax6-"
"""Directory prefix of round six's groups: the shapes round five's probes found unread (Go ``cmp.Or``
fallbacks, ``.pgpass`` lines, pgbouncer ``userlist.txt``, ``npm``/``yarn config set`` of an auth token, C++
``std::string`` constructors, triple-quoted keyword arguments, YAML ``!!binary`` values), more command lines
real repositories hold (``keytool -storepass``, ``docker run -e``, ``helm --set``, ``kubectl set env``,
``dotnet user-secrets set``, ``firebase functions:config:set``, ``mc alias set``, ``vault write``, ``az
login -p``), and two kinds of false alarm: products' sample passwords in compose files and playbooks
outside an example path, and values inside an Ansible module's ``EXAMPLES`` string. Written before any rule
for them, split by the same hash."""

_ROUND6_TOKEN = "token"
"""A syntax whose key is the syntax itself and whose value is a token (an auth token, a secret key)."""

_ROUND6_PRODUCTS = (
    "mysql",
    "postgres",
    "mongo",
    "redis",
    "minio",
    "rabbitmq",
    "grafana",
    "keycloak",
    "jenkins",
)
"""Products whose images and quick starts ship a sample password spelled after them (``minio123``)."""

_ROUND6_VENDORS = ("cisco", "juniper", "arista", "vagrant", "ubuntu", "oracle")
"""Vendors and boxes whose lab playbooks carry their default password (``Cisco#123``, ``vagrant``)."""


def _r6_extras_compose(rng: random.Random, n: dict[str, str], frame: _Frame) -> list[tuple[list[str], str]]:
    """Sample passwords of a product's image, under that image's own variables: the product's name with a
    short number, the word ``example``, the product's name alone."""
    product = rng.choice(_ROUND6_PRODUCTS)
    values = [
        (f"{product.upper()}_ROOT_PASSWORD", f"{product}{rng.choice(('1', '12', '123', '2024'))}"),
        (f"{product.upper()}_PASSWORD", "example"),
        (f"{product.upper()}_ADMIN_PASSWORD", product),
        (
            f"{product.upper()}_DEFAULT_PASS",
            f"{product.capitalize()}{rng.choice('!#@')}{rng.randint(1, 999)}",
        ),
    ]
    return [(frame(_r4_names(key), value), value) for key, value in values]


def _r6_extras_playbook(rng: random.Random, n: dict[str, str], frame: _Frame) -> list[tuple[list[str], str]]:
    """A lab playbook's vendor default: the vendor's name, a symbol and a short number (``Cisco#123``)."""
    vendor = rng.choice(_ROUND6_VENDORS)
    values = [
        ("ANSIBLE_PASSWORD", f"{vendor.capitalize()}{rng.choice('#@!')}{rng.randint(1, 999)}"),
        ("ANSIBLE_BECOME_PASSWORD", f"{vendor}{rng.randint(1, 99)}"),
        ("ANSIBLE_SSH_PASS", vendor),
    ]
    return [(frame(_r4_names(key), value), value) for key, value in values]


def _r6_extras_module_examples(
    rng: random.Random, n: dict[str, str], frame: _Frame
) -> list[tuple[list[str], str]]:
    """A random value under the same key inside the module's ``EXAMPLES`` string: the module's usage
    documentation, as a docstring is."""
    value = _random_text(rng, B62, rng.randint(24, 40))
    lines = [
        "EXAMPLES = r'''",
        "- name: Create the integration",
        "  acme.cloud.integration:",
        f"    {n['low']}: {value}",
        "    state: present",
        "'''",
    ]
    return [(lines, value)]


def _r6_extras_userlist(rng: random.Random, n: dict[str, str], frame: _Frame) -> list[tuple[list[str], str]]:
    """What pgbouncer's userlist holds instead of a password: PostgreSQL's md5 and SCRAM-SHA-256 hashes."""
    md5 = "md5" + _random_text(rng, HEX, 32)
    scram = (
        "SCRAM-SHA-256$4096:"
        + _random_text(rng, B64, 22)
        + "==$"
        + _random_text(rng, B64, 43)
        + "=:"
        + _random_text(rng, B64, 43)
        + "="
    )
    return [(frame(n, md5), md5), (frame(n, scram), scram)]


_Encode = Callable[[str], str]


def _round6_syntaxes() -> list[tuple[str, str, str, _Frame, _Extras | None, _Encode | None]]:
    """(syntax, path, key style, frame, extra look-alike values, encoding of the value on the line)."""
    return [
        (
            "go-cmp-or-getenv",
            "internal/config/config.go",
            "",
            lambda n, v: [
                "func Load() Config {",
                f'\t{n["camel"]} := cmp.Or(os.Getenv("{n["UP"]}"), "{v}")',
                f"\treturn Config{{{n['Pascal']}: {n['camel']}}}",
                "}",
            ],
            None,
            None,
        ),
        (
            "pgpass-line",
            ".pgpass",
            _ROUND4_FIXED,
            lambda n, v: ["# hostname:port:database:username:password", f"db.acme-corp.io:5432:app:app:{v}"],
            None,
            None,
        ),
        (
            "pgpass-wildcards",
            "deploy/postgres/pgpass",
            _ROUND4_FIXED,
            lambda n, v: ["localhost:5432:*:postgres:postgres", f"*:*:*:replicator:{v}"],
            None,
            None,
        ),
        (
            "pgbouncer-userlist",
            "pgbouncer/userlist.txt",
            _ROUND4_FIXED,
            lambda n, v: [f'"app" "{v}"'],
            _r6_extras_userlist,
            None,
        ),
        (
            "npm-config-set-authtoken",
            "scripts/publish.sh",
            _ROUND6_TOKEN,
            lambda n, v: ["#!/bin/sh", f"npm config set //npm.acme-corp.io/:_authToken {v}", "npm publish"],
            None,
            None,
        ),
        (
            "yarn-config-set-npmauthtoken",
            ".github/scripts/yarn-publish.sh",
            _ROUND6_TOKEN,
            lambda n, v: [f'yarn config set npmAuthToken "{v}"', "yarn npm publish"],
            None,
            None,
        ),
        (
            "cpp-string-paren",
            "src/client.cpp",
            "",
            lambda n, v: ["void Client::init() {", f'    std::string {n["low"]}("{v}");', "}"],
            None,
            None,
        ),
        (
            "cpp-string-brace",
            "src/defaults.hpp",
            "",
            lambda n, v: ["namespace acme {", f'const std::string k{n["Pascal"]}{{"{v}"}};', "}"],
            None,
            None,
        ),
        (
            "python-triple-kwarg-double",
            "app/db.py",
            _ROUND4_FIXED,
            lambda n, v: [f'conn = psycopg2.connect(host="db.acme-corp.io", user="app", password="""{v}""")'],
            None,
            None,
        ),
        (
            "python-triple-kwarg-single",
            "app/clients.py",
            "",
            lambda n, v: [f"client = AcmeClient(base_url=BASE_URL, {n['low']}='''{v}''')"],
            None,
            None,
        ),
        (
            "yaml-binary-tag",
            "config/credentials.yml",
            "",
            lambda n, v: ["acme:", f"  {n['low']}: !!binary {_b64(v)}"],
            None,
            _b64,
        ),
        (
            "compose-environment",
            "deploy/docker-compose.yml",
            "",
            lambda n, v: ["services:", "  app:", "    environment:", f"      {n['UP']}: {v}"],
            _r6_extras_compose,
            None,
        ),
        (
            "ansible-playbook-vars",
            "playbooks/routers.yml",
            "",
            lambda n, v: ["- hosts: routers", "  vars:", f"    {n['low']}: {v}"],
            _r6_extras_playbook,
            None,
        ),
        (
            "ansible-module-code",
            "plugins/modules/integration.py",
            "",
            lambda n, v: [
                'DOCUMENTATION = r"""',
                "module: integration",
                '"""',
                "",
                f'DEFAULT_{n["UP"]} = "{v}"',
            ],
            _r6_extras_module_examples,
            None,
        ),
        # more command lines real repositories hold
        (
            "keytool-storepass",
            "scripts/keystore.sh",
            _ROUND4_FIXED,
            lambda n, v: [
                f"keytool -importkeystore -srckeystore app.p12 -destkeystore app.jks -storepass {v}"
            ],
            None,
            None,
        ),
        (
            "docker-run-env",
            "scripts/run-local.sh",
            "",
            lambda n, v: [f"docker run -d --name api -e {n['UP']}={v} acme/api:1.4"],
            None,
            None,
        ),
        (
            "helm-set-space",
            "deploy/install.sh",
            "",
            lambda n, v: [f"helm upgrade --install api acme/api --set auth.{n['camel']}={v}"],
            None,
            None,
        ),
        (
            "kubectl-set-env",
            "deploy/rotate.sh",
            "",
            lambda n, v: [f"kubectl set env deployment/api {n['UP']}={v}"],
            None,
            None,
        ),
        (
            "dotnet-user-secrets-set",
            "tools/setup-secrets.ps1",
            "",
            lambda n, v: [f'dotnet user-secrets set "Acme:{n["Pascal"]}" "{v}"'],
            None,
            None,
        ),
        (
            "firebase-functions-config-set",
            "functions/scripts/config.sh",
            "",
            lambda n, v: [f'firebase functions:config:set acme.{n["low"]}="{v}"'],
            None,
            None,
        ),
        (
            "mc-alias-set",
            "scripts/minio.sh",
            _ROUND6_TOKEN,
            lambda n, v: [f"mc alias set acme https://s3.acme-corp.io acme-uploader {v}"],
            None,
            None,
        ),
        (
            "vault-write-password",
            "scripts/vault-users.sh",
            _ROUND4_FIXED,
            lambda n, v: [f"vault write auth/userpass/users/app password={v} policies=app"],
            None,
            None,
        ),
        (
            "az-login-service-principal",
            "scripts/azure-login.sh",
            _ROUND6_TOKEN,
            lambda n, v: [
                f"az login --service-principal -u 3f1c2b7e-0a9d-4e6b-8c5f-2d7e9a1b4c60 -p {v} --tenant acme-corp.io"
            ],
            None,
            None,
        ),
    ]


_ROUND6_COMMANDS = {
    "npm-config-set-authtoken",
    "yarn-config-set-npmauthtoken",
    "keytool-storepass",
    "docker-run-env",
    "helm-set-space",
    "kubectl-set-env",
    "dotnet-user-secrets-set",
    "firebase-functions-config-set",
    "mc-alias-set",
    "vault-write-password",
    "az-login-service-principal",
    "pgpass-line",
    "pgpass-wildcards",
    "pgbouncer-userlist",
}
"""Syntaxes whose value is a secret whatever its key is named: their look-alikes are placeholders and
references only, as round five's commands (and the syntax's own: the hashes in pgbouncer's userlist)."""


def _round6_groups() -> Iterator[tuple[str, str, _File]]:
    """Round six's groups, as round five's (``secret|generic6|<syntax>``, ``benign|syntax-lookalike6|<syntax>``),
    with a value written encoded where the syntax encodes it (YAML ``!!binary``: the base64 is labelled)."""
    return _syntax_round_groups(
        6,
        ROUND6_PREFIX,
        _round6_syntaxes(),
        {_ROUND4_FIXED: "DB_PASSWORD", _ROUND6_TOKEN: "API_TOKEN"},
        _ROUND5_COMMAND_LOOKALIKES,  # the key is fixed: an id there may be a secret
        _ROUND6_COMMANDS,
    )


def _syntax_round_groups(
    number: int,
    prefix: str,
    syntaxes: Iterable[tuple[str, str, str, _Frame, _Extras | None, _Encode | None]],
    fixed_keys: dict[str, str],
    fixed_kinds: tuple[str, ...],
    commands: Collection[str],
) -> Iterator[tuple[str, str, _File]]:
    """The groups of one round of syntaxes (four, five, six): per syntax ``GENERIC_VARIANTS`` files of a
    secret group (``secret|generic<number>|<syntax>``) and as many of a look-alike group
    (``benign|syntax-lookalike<number>|<syntax>``) under the same keys.

    A style in ``fixed_keys`` writes every value under that one key, and its look-alikes (as a command's
    in ``commands``) are only ``fixed_kinds``: there an id may be a secret. A command's references are
    shell ones. ``extras`` add a syntax's own look-alikes; ``encode`` writes a value as the syntax encodes
    it (the encoded text is what is labelled)."""
    for i, (syntax, path, style, frame, extras, encode) in enumerate(syntaxes):
        enc: _Encode = encode or (lambda v: v)
        for variant in range(GENERIC_VARIANTS):
            var = fixed_keys.get(style, _ROUND4_KEYS[(i + variant) % len(_ROUND4_KEYS)])
            d = f"{prefix}secret-{syntax}-{variant}"
            rng = _rng(d)
            value = _round4_value(rng, var)
            labels = [(enc(value), "secret", f"generic/syntax{number}", f"generic secret ({syntax})", 0)]
            yield (
                f"secret|generic{number}|{syntax}",
                syntax,
                _File(f"{d}/{path}", frame(_r4_names(var), value), labels),
            )
        for variant in range(GENERIC_VARIANTS):
            var = _ROUND4_KEYS[(i + variant + 3) % len(_ROUND4_KEYS)]
            d = f"{prefix}lookalike-{syntax}-{variant}"
            rng = _rng(d)
            kinds = fixed_kinds if style in fixed_keys or syntax in commands else _ROUND4_LOOKALIKES
            lines: list[str] = []
            labels = []
            for kind in kinds:
                key, value = _round4_lookalike(rng, kind, var)
                if kind == "reference" and syntax in commands:
                    value = rng.choice(("$" + var, "$(cat .secrets/" + names(var)["low"] + ")"))
                lines += frame(_r4_names(key), value)
                labels.append((enc(value), "benign", f"{kind}{number}", f"{kind} ({syntax})", 0))
            for extra_lines, label in extras(rng, _r4_names(var), frame) if extras else []:
                lines += extra_lines
                labels.append((label, "benign", f"syntax{number}", f"no secret ({syntax})", 0))
            yield (f"benign|syntax-lookalike{number}|{syntax}", syntax, _File(f"{d}/{path}", lines, labels))


SYNTAXES_PER_TOKEN = 7
"""How many file syntaxes each token type is written in (of the ~38): groups to split, not values."""
PLACEHOLDERS_PER_TOKEN = 4
GENERIC_VARIANTS = 6
LOOKALIKE_VARIANTS = 6
PLACEHOLDER_SYNTAXES = ("dotenv", "yaml", "json", "python", "markdown", "ts", "xml-add", "hcl")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@dataclass
class _File:
    path: str
    lines: list[str]
    labels: list[tuple[str, str, str, str, int]]  # (text, kind, family, label, line or 0: search for it)


def _rng(*parts: str) -> random.Random:
    """A generator seeded by the seed and a name (string seeds hash with sha512: the same on every run and
    machine). One per token type and per file, so adding a provider or a syntax changes no other value."""
    return random.Random("|".join((str(SEED), *parts)))


def _groups() -> Iterator[tuple[str, str, _File]]:
    """Every group's file: (group id, syntax, file). Each file's values come from a generator of its
    own (``_rng``), so the corpus does not depend on which half is built or on the order of the tables."""
    by_name = {s.name: s for s in ALL_SYNTAXES}
    keyworded = [s for s in ALL_SYNTAXES if s.keyword]
    bare = [s for s in ALL_SYNTAXES if not s.keyword]
    for token in TOKENS:
        pool = keyworded + ([] if token.gated else bare)
        chosen = _rng("syntaxes", token.key).sample(pool, SYNTAXES_PER_TOKEN) + list(
            EXTRA_SYNTAXES.get(token.provider, ())
        )
        for syntax in chosen:
            n = names(token.var)
            d = f"{_slug(token.provider)}-{_slug(token.kind)}-{syntax.name}"
            rng = _rng(d)
            items = [(n, token.value(rng)) for _ in range(2)]
            path = syntax.path.format(d=d)
            label = f"{token.provider} {token.kind}" + (" (test mode)" if token.test_mode else "")
            enc = syntax.encode or (lambda v: v)
            labels = [(enc(v), "secret", f"{token.family}/{token.provider}", label, 0) for _n, v in items]
            yield (
                f"secret|{token.provider}|{syntax.name}",
                syntax.name,
                _File(path, syntax.render(items), labels),
            )
        # placeholders in the token's own shape
        if token.spec:
            first = sum(map(ord, token.key)) % len(_PLACEHOLDER_STYLES)
            styles = [
                _PLACEHOLDER_STYLES[(first + i) % len(_PLACEHOLDER_STYLES)]
                for i in range(PLACEHOLDERS_PER_TOKEN)
            ]
            for style in styles:
                syntax = by_name[
                    PLACEHOLDER_SYNTAXES[
                        (len(token.key) + _PLACEHOLDER_STYLES.index(style)) % len(PLACEHOLDER_SYNTAXES)
                    ]
                ]
                value = placeholder(token.spec, style, token.provider)
                tail = {"github": "xxxxxx", "atlassian": "XXXXXXXX", "grafana": "_xxxxxxxx"}.get(
                    token.post, ""
                )
                if style not in ("ellipsis", "here"):
                    value += tail if style == "x" else tail.replace("x", "0").replace("X", "0")
                n = names(token.var)
                d = f"{_slug(token.provider)}-{_slug(token.kind)}-placeholder-{style}"
                path = syntax.path.format(d=d)
                labels = [
                    (
                        value,
                        "benign",
                        f"placeholder/{token.provider}",
                        f"{token.provider} {token.kind} placeholder ({style})",
                        0,
                    )
                ]
                yield (
                    f"benign|placeholder/{token.provider}|{syntax.name}",
                    syntax.name,
                    _File(path, syntax.render([(n, value)]), labels),
                )
    for label, path, make in _generic_secrets():
        for variant in range(GENERIC_VARIANTS):
            full = f"generic-{_slug(label)}-{variant}/{path}"
            lines, text = make(_rng(full))
            labels = [(text, "secret", "generic/" + _slug(label), label, 0)]
            yield (f"secret|generic|{label}", label, _File(full, lines, labels))
    for kind, path in _private_keys():
        for syntax_name, make_key in _KEY_SYNTAXES:
            for variant in range(2):
                d = f"keys-{_slug(kind)}-{syntax_name}-{variant}"
                lines, text = make_key(pem(_rng(d), kind), path)
                where = path if syntax_name == "pem-file" else _KEY_PATHS[syntax_name]
                labels = [(text, "secret", f"key-material/{_slug(kind)}", f"{kind} ({syntax_name})", 0)]
                if syntax_name == "service-account-json":
                    # The key's id beside the key: a finding there is neither needed nor a false alarm.
                    labels.append(('"private_key_id"', "any", f"key-material/{_slug(kind)}", "key id", 0))
                if syntax_name == "yaml-block":
                    # The block scalar's key, where a scanner may report the block: neither needed nor false.
                    labels.append(("key: |", "any", f"key-material/{_slug(kind)}", "block key", 0))
                yield (f"secret|key:{kind}|{syntax_name}", syntax_name, _File(f"{d}/{where}", lines, labels))
    for family, syntax_name, path, make_rows in _lookalikes():
        for variant in range(LOOKALIKE_VARIANTS):
            d = f"lookalike-{_slug(family)}-{_slug(syntax_name)}-{variant}"
            rows = make_rows(_rng(d))
            lines = [r[0] for r in rows]
            labels = [
                (r[1], "benign", family, f"{family} ({syntax_name})", i)
                for i, r in enumerate(rows, 1)
                if r[1] is not None
            ]
            yield (f"benign|{family}|{syntax_name}", syntax_name, _File(f"{d}/{path}", lines, labels))
    for family, syntax_name, path, make_rows in _lookalikes_round3():
        for variant in range(LOOKALIKE_VARIANTS):
            d = f"{ROUND3_PREFIX}{_slug(family)}-{_slug(syntax_name)}-{variant}"
            rows = make_rows(_rng(d))
            lines = [r[0] for r in rows]
            labels = [
                (r[1], "benign", family, f"{family} ({syntax_name})", i)
                for i, r in enumerate(rows, 1)
                if r[1] is not None
            ]
            yield (f"benign|{family}|{syntax_name}", syntax_name, _File(f"{d}/{path}", lines, labels))
    yield from _round4_groups()
    yield from _round5_groups()
    yield from _round6_groups()


_CRLF_SUFFIXES = (".cs", ".config", ".ps1", ".cmd", ".csproj", ".http")


def _encode(path: str, lines: list[str]) -> bytes:
    """The file's bytes: CRLF line ends where Windows tools write them (C#, .config, PowerShell, batch),
    and a UTF-8 byte-order mark on .config files as Visual Studio saves them."""
    lower = path.lower()
    end = "\r\n" if lower.endswith(_CRLF_SUFFIXES) else "\n"
    data = (end.join(lines) + end).encode("utf-8")
    return b"\xef\xbb\xbf" + data if lower.endswith(".config") else data


def all_groups() -> list[tuple[str, str, _File]]:
    return list(_groups())


def build(root: Path, half: str) -> list[Case]:
    """Write the files of one half (``dev`` or ``test``) under ``root``; return its labelled cases."""
    if half not in HALVES:
        raise ValueError(f"half must be one of {HALVES}, not {half!r}")
    cases: list[Case] = []
    seen: set[str] = set()
    for group, syntax, f in all_groups():
        if half_of(group) != half:
            continue
        if f.path in seen:
            raise ValueError(f"two groups write {f.path}")
        seen.add(f.path)
        target = root / f.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_encode(f.path, f.lines))
        used: set[int] = set()
        for text, kind, family, label, at in f.labels:
            line = at or next(i for i, ln in enumerate(f.lines, 1) if text in ln and i not in used)
            used.add(line)
            cases.append(Case(f.path, line, kind, family, label, text, group, syntax))
    return cases


BATCH = 120
"""Top-level folders per lr-ci call: a report lists at most 1,000 findings, so the corpus is scanned in
batches (``scan_in_batches``) and a batch that still overflows is split again."""


def scan_in_batches(
    root: Path,
    scan: Callable[[list[str]], list[dict[str, object]]],
    unreadable: list[str] | None = None,
) -> set[tuple[str, int]]:
    """Every (path, line) lr-ci finds under ``root``: ``scan(folders)`` runs ``lr-ci secrets FOLDERS
    --format json`` from ``root`` and returns the report's findings. A batch whose report says findings
    were left out (rule ``findings-not-listed``) is split in two and scanned again.

    ``scan`` raises ValueError when the report is not JSON (seen: lr-ci's output redaction masking a
    whitespace-only line of a PGP key block everywhere, indentation included). Such a batch is split
    too; a single folder whose report cannot be read is appended to ``unreadable`` and counts as found
    nothing, which is what a user of that report gets."""
    found: set[tuple[str, int]] = set()
    names = sorted(p.name for p in root.iterdir())
    todo = [names[i : i + BATCH] for i in range(0, len(names), BATCH)]
    while todo:
        batch = todo.pop()
        try:
            findings = scan(batch)
        except ValueError:
            if len(batch) > 1:
                todo += [batch[: len(batch) // 2], batch[len(batch) // 2 :]]
            elif unreadable is not None:
                unreadable.append(batch[0])
            continue
        if len(batch) > 1 and any(f.get("rule") == "findings-not-listed" for f in findings):
            todo += [batch[: len(batch) // 2], batch[len(batch) // 2 :]]
            continue
        for f in findings:
            loc = f.get("location")
            if isinstance(loc, dict) and loc.get("path") is not None and loc.get("line") is not None:
                found.add((str(loc["path"]), int(loc["line"])))
    return found


def providers(cases: Iterable[Case]) -> set[str]:
    return {
        c.family.split("/", 1)[1]
        for c in cases
        if c.kind == "secret" and not c.family.startswith(("generic/", "key-material/"))
    }
