"""False-alarm filters shared by every rule: a candidate value in, a verdict out (True: not a secret).

The engine (:func:`lr_ci.secret_rules.engine._accept`) runs these on each regex match that survived the
rule's own checks, so they run only where a rule already matched, never over the content: each is a few
compiled regexes or one linear pass over a value of at most a few hundred characters.

Two families, because a provider rule and a generic rule fail differently:

- every rule (provider rules too, :func:`is_placeholder_or_example`): placeholders measured over the
  token's *body* (the value with the rule's own fixed text removed, :func:`token_body`), names
  (:func:`is_identifier`), documented example values (AWS's, GitHub's, the OAuth RFCs', jwt.io's sample),
  ``Basic`` values that are not base64 or decode to an example pair, credentials in URLs to reserved
  example domains or with example pairs;
- generic rules only (a key name near a value, :func:`is_not_a_value`, :func:`is_name_key`,
  :func:`is_id_under_id_key`): references instead of values, password hashes, ciphertext, placeholder
  words (in other languages too, and base64-encoded), prose, regular expressions, numbers, file paths,
  keyboard mash, and character-class-aware entropy floors. The classes of the second round were found
  by scanning third-party code and docs (site-packages, /usr/lib, /usr/share), where almost every
  finding is false. The third round's (the evaluation corpus's new look-alike families, tuned on its dev
  half) read the key and the value together (:func:`key_says_no_secret`): digests of a secret under
  ``*_sha256``/``*_checksum`` keys, anti-forgery nonces, listing cursors, public on-chain accounts and
  EVM addresses, GPG key ids, EC public points, browser SDKs' public keys, and hex test vectors in test
  files that cite their spec (:func:`is_cited_test_vector`, asked by the engine's page-level check).
  The fourth round's came from the source distributions of ~400 well-known PyPI and npm packages
  (``benchmarks/scan_packages.py``, tuned on its dev half of the packages only): JOSE headers and malformed
  JWTs (:func:`is_jose_fragment`), words and numbers and templates with holes (:func:`is_words_and_numbers`),
  code read as a value (:func:`is_code_expression`, :func:`is_dotnet_code`, :func:`is_type_name`,
  :func:`is_parameter_prefix`, :func:`is_css_value`), URLs that carry no credential (:func:`is_plain_url`),
  values that spell their key (:func:`echoes_key`), PEM headers around code (:func:`is_pem_without_body`),
  an access key id in a signed request's scope (:func:`is_signed_request_key_id`) and strings named as
  documentation (``EXAMPLES = r'''...``, :func:`in_named_doc_string`).

Each filter says what it catches and why it cannot drop a real token: a provider's random body has no
structure (runs, sequences, periods, words) over most of its length, and a generic value that is a word,
a name, a reference or a hash is not a credential whoever wrote it.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any

# ---------------------------------------------------------------------------------------------------------
# Token bodies: a rule's fixed text is not evidence of a placeholder
# ---------------------------------------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def fixed_texts(pattern: str) -> tuple[str, ...]:
    """The literal runs (two characters or more) a rule's regex requires inside the secret, longest first,
    lower-cased.

    ``ghp_``, ``sk_live_``, Twitter's 22 ``A``s (``A{22}``), Dropbox's ten, Telegram's ``:AA``, the ``==``
    that ends an Azure storage key: text the provider's format fixes, so a filter looking for runs or
    words must not count it. Read from the parsed regex, so a new rule needs nothing declared; only the
    ``secret``/``secret2`` groups are read when the regex has them (a generic rule's ``token`` key name is
    not part of its value).
    """
    import importlib
    import sys

    parser = importlib.import_module("re._parser" if sys.version_info >= (3, 11) else "sre_parse")
    constants = importlib.import_module("re._constants" if sys.version_info >= (3, 11) else "sre_constants")
    found: set[str] = set()
    try:
        parsed = parser.parse(pattern)
    except re.error:  # pragma: no cover - the loader compiled every rule already
        return ()
    names = parsed.state.groupdict
    wanted = {names[n] for n in ("secret", "secret2") if n in names}

    def keep(run: list[str], inside: bool) -> None:
        text = "".join(run)
        if inside and len(text) >= 2:
            found.add(text.lower())

    def walk(items: Any, inside: bool) -> None:
        run: list[str] = []
        for op, arg in items:
            if op is constants.LITERAL:
                run.append(chr(arg))
                continue
            if op in (constants.MAX_REPEAT, constants.MIN_REPEAT):
                low, high, sub = arg
                body = list(sub)
                if low == high and len(body) == 1 and body[0][0] is constants.LITERAL:
                    run.append(chr(body[0][1]) * low)
                    continue
                keep(run, inside)
                run = []
                walk(sub, inside)
                continue
            keep(run, inside)
            run = []
            if op is constants.SUBPATTERN:
                walk(arg[-1], inside or arg[0] in wanted)
            elif op is constants.BRANCH:
                for alternative in arg[1]:
                    walk(alternative, inside)
        keep(run, inside)

    walk(parsed, not wanted)
    return tuple(sorted(found, key=len, reverse=True))


def token_body(value: str, pattern: str) -> str:
    """``value`` with the fixed text of the rule's regex cut out (each cut a NUL, so runs do not join).

    A fixed text of four characters or more is cut wherever it is (``T3BlbkFJ`` inside an OpenAI key,
    Twitter's ``A`` run); a shorter one only at the value's start or end (``gh``, ``==``), where a prefix
    or a suffix is, so that two letters of a random body are never mistaken for it.
    """
    lowered = value.lower()
    for text in fixed_texts(pattern):
        size = len(text)
        if size < 4:
            if lowered.startswith(text):
                value, lowered = "\0" * size + value[size:], "\0" * size + lowered[size:]
            if lowered.endswith(text) and len(lowered) > size:
                value, lowered = value[:-size] + "\0" * size, lowered[:-size] + "\0" * size
            continue
        at = lowered.find(text)
        while at >= 0:
            value = value[:at] + "\0" * size + value[at + size :]
            lowered = lowered[:at] + "\0" * size + lowered[at + size :]
            at = lowered.find(text, at + size)
    return value


# ---------------------------------------------------------------------------------------------------------
# Placeholders (every rule): structure over the body, filler words inside it
# ---------------------------------------------------------------------------------------------------------

# Steps between neighbours that a person typing a filler makes: same character, next or previous one.
_MIN_STRUCTURED = 8
_STRUCTURE_SHARE = 0.6


def _cased(*words: str) -> str:
    """``words`` as an alternation in the three casings people write (``dummy``, ``Dummy``, ``DUMMY``;
    ``TokenHere`` for a camel pair): a random body spells a word in mixed case (``DuMmy``) far more often
    than in one of these (found: one random ``ghp_`` token in 12,000 held ``DuMmy``)."""
    variants: list[str] = []
    for word in words:
        camel = "".join(part[:1].upper() + part[1:] for part in word.split(" "))
        plain = word.replace(" ", "")
        variants += [plain, plain[:1].upper() + plain[1:], plain.upper(), camel]
    return "|".join(sorted(set(variants), key=len, reverse=True))


_FILLER_WORDS = re.compile(
    "(?:"
    + _cased("example", "sample", "dummy", "placeholder", "change me", "replace me", "key here", "token here")
    + "|"
    + _cased("secret here", "password here", "test123", "abc123", "a1b2c3", "1a2b3c")
    + r")|(?i:your[_\-]|[_\-]here\b|change_me|replace_me|fake[_\-]|[_\-]fake)"
    + r"|xxxx|XXXX|(?:1234-){2}|(?:0000-){2}"
)
# YourAccessToken, YOUR_KEY, TOKEN_A/TOKEN_B (case matters: AGE-SECRET-KEY-1 is an age key's real prefix).
_YOUR = re.compile(r"Your[A-Z]|YOUR_|(?:TOKEN|SECRET|PASSWORD|KEY)_[A-Z0-9]\b")


def structured_share(body: str) -> float:
    """The share of neighbouring characters that repeat or count (``aaaa``, ``abcd``, ``4321``, ``a1b2``).

    The larger of two shares: steps of -1, 0 or +1 between neighbours (``aaaa``, ``abcd``, ``4321``), and
    steps of 0 or +1 between characters two apart (``a1b2c3``, ``abab``). A random body over 16 or more
    symbols scores well under 0.4 (each step has at most a 3-in-16 chance); a filler scores near 1.
    Differences are taken with ``map`` over the code points, at C speed: this runs on every match.
    """
    from operator import sub

    points = [ord(c) for c in body if c != "\0"] if "\0" in body else list(map(ord, body))
    size = len(points)
    if size < 3:
        return 0.0
    steps = list(map(sub, points[1:], points))
    near = steps.count(0) + steps.count(1) + steps.count(-1)
    twos = list(map(sub, points[2:], points))
    paired = twos.count(0) + twos.count(1)
    return max(near / (size - 1), paired / (size - 2))


def is_structured_filler(body: str) -> bool:
    """A body mostly made of repeats and counts: ``aaaaaaaa``, ``abcd1234``, ``a1b2c3d4``, ``123456789``.

    Measured over the token body (:func:`token_body`), so ``AAAAAAAAAA`` in a Dropbox token or the 22
    ``A``s of a Twitter bearer token, fixed by the format, do not count; a body under 8 characters is
    never judged. Safe because a random body scores far below the 0.6 share (tested on random values of
    every common alphabet).
    """
    chars = body.replace("\0", "")
    size = len(chars)
    if size < _MIN_STRUCTURED:
        return False
    share = structured_share(body)
    if chars.isdigit():  # ten symbols: a random step repeats or counts half the time
        return size >= 12 and share >= 0.9
    if _HEX_CHARS.match(chars):
        return size >= 12 and share >= 0.8
    return share >= _STRUCTURE_SHARE


def has_filler_word(body: str) -> bool:
    """A filler written inside a token: ``example``, ``sample``, ``your_``, ``...TokenHere``, ``xxxx``.

    Words of five letters or more (or a word with its separator) over the body only, so a prefix like
    ``sk_test_`` never counts; the chance of one in a random 40-character body is about one in a million.
    ``a1b2c3`` and ``abc123`` are the fillers of the issue's examples (``shpat_a1b2c3d4...``,
    ``sk-ant-...abc123xyz``).
    """
    return _FILLER_WORDS.search(body) is not None or _YOUR.search(body) is not None


# ---------------------------------------------------------------------------------------------------------
# Documentation examples (every rule)
# ---------------------------------------------------------------------------------------------------------

_EXAMPLE_HOST = re.compile(
    r"(?i)(?:^|\.)(?:example\.(?:com|org|net)|[a-z0-9\-]{1,63}\.(?:example|test|invalid|localhost))\.?$"
    r"|(?:^|\.)(?:example|test|invalid|localhost)\.?$"
)
_EXAMPLE_PAIRS = frozenset(
    (user, password)
    for user, password in (
        ("user", "password"),
        ("username", "password"),
        ("user", "pass"),
        ("admin", "admin"),
        ("admin", "password"),
        ("root", "root"),
        ("test", "test"),
        ("foo", "bar"),
        ("aladdin", "open sesame"),
        ("aladdin", "opensesame"),
        ("user", "secret"),
        ("guest", "guest"),
        ("demo", "demo"),
    )
)


def is_example_host(host: str) -> bool:
    """A host reserved for documentation or tests (RFC 2606, RFC 6761): never a real service.

    ``example.com``/``.org``/``.net`` and their subdomains, and any name under ``.example``, ``.test``,
    ``.invalid`` or ``.localhost``. A password in a URL to such a host was written for a reader; bare
    ``localhost`` is not included (a real local service's password is still a password).
    """
    host = host.split(":", 1)[0].strip("[]")
    if host.lower() == "localhost":
        return False
    return _EXAMPLE_HOST.search(host) is not None


def is_example_pair(user: str, password: str) -> bool:
    """``user:password``, ``admin:admin``, ``Aladdin:open sesame``...: the pairs manuals and RFCs print,
    or a password that is the user name (a local default such as ``postgres:postgres``). Percent-encoding
    and accents are taken off first (``%C3%BCser:p%C3%A4ssword``, an IRI test's ``üser:pässword``)."""
    if "%" in user or "%" in password:
        from urllib.parse import unquote

        user, password = unquote(user), unquote(password)
    if not (user + password).isascii():
        user, password = _unaccented(user), _unaccented(password)  # üser:pässword, an IRI test's pair
    user, password = user.lower(), password.lower()
    return user == password or (user, password) in _EXAMPLE_PAIRS or is_placeholder_word(password)


def _unaccented(text: str) -> str:
    """``text`` with its accents taken off (``pässword`` -> ``password``): NFKD, combining marks dropped."""
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def is_example_basic(value: str) -> bool:
    """A ``Basic`` credential that is no credential: not valid base64, no ``user:password`` inside, or an
    example pair (RFC 7617's ``Aladdin:open sesame``, ``user:password``, ``admin:admin``).

    Real clients always send ``base64(user ":" password)``; anything else is prose or a template.
    """
    import base64
    import binascii

    text = value.strip()
    if len(text) % 4:
        text += "=" * (-len(text) % 4)
    try:
        decoded = base64.b64decode(text, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return True
    user, colon, password = decoded.partition(":")
    if not colon or not password or not decoded.isprintable():
        return True
    return is_example_pair(user, password)


# Values a provider's own documentation prints as its example (the research notes name them): reported by
# nobody, since every reader of the docs has them.
_DOCUMENTED = frozenset(
    (
        "AKIAIOSFODNN7EXAMPLE",  # AWS
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",  # AWS
        "gho_16C7e42F292c6912E7710c838347Ae178B4a",  # GitHub's OAuth docs (its checksum does not verify)
        # RFC 6749 (OAuth 2.0): access and refresh token, code, client secret, Basic client credentials
        "2YotnFZFEjr1zCsicMWpAA",
        "tGzv3JOkF0XG5Qx2TlKWIA",
        "SplxlOBeZQQYbYS6WxSbIA",
        "7Fjfp0ZBr1KtDRbnfVdmIw",
        "czZCaGRSa3F0MzpnWDFmQmF0M2JW",
        # RFC 5849 (OAuth 1.0): consumer key and secret, tokens and their secrets
        "dpf43f3p2l4k3l03",
        "kd94hf93k423kf44",
        "hh5s93j4hdidpola",
        "hdhd0244k9j7ao03",
        "nnch734d00sl2jdk",
        "pfkkdhi9sl3r4s00",
        # Azurite's and the Azure Storage Emulator's account key, the same on every machine (Microsoft's docs)
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
        "JBSWY3DPEHPK3PXP",  # the base32 TOTP secret of Google Authenticator's wiki and every TOTP tutorial
        # The Google API keys of firebase-android-sdk's tests and samples, copied into every app built on it
        # (gitleaks allowlists the same list)
        "AIzaSyAnLA7NfeLquW1tJFpx_eQCxoX-oo6YyIs",
        "AIzaSyCkEhVjf3pduRDt6d1yKOMitrUEke8agEM",
        "AIzaSyDMAScliyLx7F0NPDEJi1QmyCgHIAODrlU",
        "AIzaSyD3asb-2pEZVqMkmL6M9N6nHZRR_znhrh0",
        "AIzayDNSXIbFmlXbIE6mCzDLQAqITYefhixbX4A",
        "AIzaSyAdOS2zB6NCsk1pCdZ4-P6GBdi_UUPwX7c",
        "AIzaSyASWm6HmTMdYWpgMnjRBjxcQ9CKctWmLd4",
        "AIzaSyANUvH9H9BsUccjsu2pCmEkOPjjaXeDQgY",
        "AIzaSyA5_iVawFQ8ABuTZNUdcwERLJv_a_p4wtM",
        "AIzaSyA4UrcGxgwQFTfaI3no3t7Lt1sjmdnP5sQ",
        "AIzaSyDSb51JiIcB6OJpwwMicseKRhhrOq1cS7g",
        "AIzaSyBF2RrAIm4a0mO64EShQfqfd2AFnzAvvuU",
        "AIzaSyBcE-OOIbhjyR83gm4r2MFCu4MJmprNXsw",
        "AIzaSyB8qGxt4ec15vitgn44duC5ucxaOi4FmqE",
        "AIzaSyA8vmApnrHNFE0bApF4hoZ11srVL_n0nvY",
        "6fe4476ee5a1832882e326b506d14126",  # the search-only Algolia key yarn ships, public by design
        "key-3ax6xnjp29jd6fds4gc373sgvjxteol0",  # Mailgun's API documentation
        # the cleartext passwords of Microsoft's nuget.config reference
        "33f!!lloppa",
        "hal+9ooo_da!sY",
    )
)


def is_documented_example(value: str) -> bool:
    """A value a provider's documentation or an RFC prints as its example (AWS's ``AKIAIOSFODNN7EXAMPLE``,
    GitHub's ``gho_16C7e42F…``, RFC 6749's ``2YotnFZFEjr1zCsicMWpAA``): public by construction, vendored
    with every OAuth library, and never issued to anyone."""
    return value in _DOCUMENTED


# jwt.io's sample and its relatives: the payload every tutorial copies.
_EXAMPLE_JWT_CLAIMS = re.compile(r'"(?:sub|id|user_?id)"\s*:\s*"?1234567890"?|"name"\s*:\s*"John Doe"')


def is_example_jwt(value: str) -> bool:
    """A JWT whose payload is jwt.io's sample (``"sub": "1234567890"``, ``"name": "John Doe"``).

    That token is printed on jwt.io and copied into countless docs and tests (the issue's third cause,
    36 findings); its payload is what marks it, whatever key signed it.
    """
    import base64
    import binascii

    parts = value.split(".")
    if len(parts) < 2 or not parts[0].startswith("eyJ") or len(parts[1]) > 4096:
        return False
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = base64.urlsafe_b64decode(payload).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return False
    return _EXAMPLE_JWT_CLAIMS.search(claims) is not None or _placeholder_claims(claims)


def _placeholder_claims(claims: str) -> bool:
    """A JWT payload of placeholder words only (PyJWT's README signs ``{"some": "payload"}``): a library's
    usage example. A real token's claims name a subject, an issuer, a time or an id, never only stop words."""
    import json

    try:
        payload = json.loads(claims)
    except ValueError:
        return False
    if not isinstance(payload, dict) or not payload or len(payload) > 8:
        return False
    words = [*payload, *(v for v in payload.values() if isinstance(v, str))]
    if len(words) != 2 * len(payload):
        return False  # a number (an expiry, an id) or an object among the values: claims, not a placeholder
    return all(is_placeholder_word(word) for word in words)


# ---------------------------------------------------------------------------------------------------------
# Generic values: references, names, hashes, words, prose, entropy
# ---------------------------------------------------------------------------------------------------------

_REFERENCE = re.compile(
    r"""(?x)
    ^\$\{.{0,200}\}$ | ^\$[A-Z_][A-Z0-9_]{0,64}$                   # ${VAR}, $VAR
    | \$\( | \{\{ | \}\}                                                  # $(cmd), {{ x }}
    | ^`[^`]{0,200}`$ | ^%[A-Za-z_][\w]{0,100}%$ | ^@[A-Z_][A-Z0-9_]{0,100}@$  # `cmd`, %VAR%, @VAR@
    | (?i:os\.environ|getenv|environ\.get|process\.env|import\.meta\.env)
    | ^arn:aws: | ^projects/[^/]{1,100}/secrets/
    | ^(?i:vault|ssm|awssm|gcpsm|azkv|keyvault|op|sm|doppler|secret|secrets|env):
    | (?i:keyvault|secretsmanager|secretKeyRef) | ^ref\+
    | ^\$[A-Za-z_][\w]{0,64}(?:->|-$|\{|::|\[)                            # $self->x, $opt{k}, $CPAN::Config
    | ^q[qrw]?\{                                                        # Perl's qq{...}: an expression
    """
)
# ``$`` and a snake_case name (``$ac_pwd``, ``$db_pass``): an underscore between lower-case parts is how a
# script names a variable; a password that starts with ``$`` is not written in snake_case.
_SNAKE_VARIABLE = re.compile(r"^\$[a-z][a-z0-9]{0,30}(?:_[a-z0-9]{1,30}){1,6}$")
_VARIABLE = re.compile(r"^(?:\$[a-z_]{1,30}(?:[A-Z][a-z]{2,30}){0,6}|@[a-z_][a-z_.]{0,60}@)$")
# A command that fetches the secret (the value of a backtick or $(...) substitution, or a shell alias).
_FETCH = re.compile(
    r"^(?:vault|aws|gcloud|az|op|kubectl|pass|gopass|security|doppler|sops|cat|echo|printenv|bw|lpass|"
    r"secret-tool|keyring|infisical|chamber|heroku|gh)\s{1,8}[a-z\-]"
)
# A type annotation written as a string: ``private_key: "Optional[ec.EllipticCurvePrivateKey]" = None``.
_ANNOTATION = re.compile(
    r"^(?:typing\.)?(?:Optional|Union|List|Dict|Tuple|Set|Type|Callable|Sequence|Mapping|Iterable|Literal|"
    r"Annotated|ClassVar|Final)\["
)
_CALL = re.compile(r"^(?:new\s+)?[A-Za-z_$][\w$.]{0,100}\([^()]{0,100}\)$")
_NOTHING = frozenset("none null nil undefined nan true false empty".split())


def is_reference(value: str) -> bool:
    """A value that says where a secret comes from rather than holding it.

    ``${VAR}``, ``$VAR``, ``{{ x }}``, ``$(cmd)``, backticks, ``%VAR%``, ``@VAR@``, ``os.environ[...]``,
    ``getenv``, ``process.env.X``, secret-manager paths and ARNs (``arn:aws:secretsmanager:``,
    ``projects/p/secrets/s``, ``vault:``, ``ssm:``, ``op://``, Key Vault), a function call
    (``get_password()``), and ``None``/``null``/``nil``/``undefined``: none of these is the secret.
    """
    value = value.strip()
    if value.lower() in _NOTHING or _REFERENCE.search(value) is not None or _CALL.match(value) is not None:
        return True
    if _FETCH.match(value) or _ANNOTATION.match(value):
        return True
    if _SNAKE_VARIABLE.match(value):
        return True  # $ac_pwd, $db_pass: a snake_case variable of the shell, PHP or Perl
    # $var, $dbPassword, @var@: a variable of the shell, PHP or Perl, when its name reads as words.
    return _VARIABLE.match(value) is not None and _wordlike(value)


# A name segment: a word, CamelCase words, an ACRONYM (with a short number, P95, GPT4), or a short number.
_SEGMENT = (
    r"(?:[A-Z]?[a-z]{2,30}(?:[A-Z][a-z]{1,30}){0,6}|[A-Z]{2,16}(?:[A-Z][a-z]{1,30}){0,6})\d{0,3}|\d{1,4}"
)
_WORD_ONLY = re.compile(r"^_{0,2}(?:[A-Z]?[a-z]{1,40}|[A-Z]{2,40})$")  # word, Word, WORD
_NAME = re.compile(rf"^[@/$_]?_?(?:{_SEGMENT})(?:(?:[_\-./:]|::)(?:{_SEGMENT})){{1,24}}[/]?$")
_CAMEL_WORDS = re.compile(r"^[A-Z]?[a-z]{2,30}(?:[A-Z][a-z]{2,30}){1,6}$")
_LONG_WORD = re.compile(r"[A-Za-z]{4}")
# A private type name (``_RSAPrivateKey``, ``_EllipticCurvePrivateKey``): an optional acronym, then words.
_TYPE_NAME = re.compile(r"^_{1,2}(?:[A-Z]{2,6}(?=[A-Z][a-z]))?(?:[A-Z][a-z]{2,30}){1,8}$")
# A C++/Perl member or enum name (``_S_token_ord_char``, ``:_Stop_state_ref``): prefixed, lower-case words.
_MEMBER_NAME = re.compile(
    r"^:{0,2}_{1,2}(?:[A-Za-z]{1,2}|[A-Z]?[a-z]{2,30})_[a-z]{2,30}(?:_[a-z0-9]{1,30}){0,8}$"
)
# An env-var name: upper-case parts joined by _ or - (each part checked in is_identifier; a nested repeat
# here took 8 ms to compile, a cost on every start-up that meets a match).
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9]{0,30}[_\-][A-Z0-9_\-]{1,200}$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# ... and an idempotency token: a UUID the client makes up so a retried request is not applied twice
# (AWS's ClientRequestToken, idempotency keys): it names a request, it authenticates nothing.
_ID_KEY = re.compile(
    r"(?:^|_)(?:id|ids|uuid|guid)$|credentials_?id|with_?credentials|client_?request_?token$|idempotency_?(?:key|token)$"
)
# Keys that name a secret's attributes, not the secret: SECRET_NAME, token_url, CLUSTER_SECRET_ENV, and its
# digests (api_token_sha256, clientSecretChecksum, tokenFingerprint: what a server stores instead of it)...
_NAME_KEY = re.compile(
    r"_(?:name|names|url|uri|urls|path|paths|file|files|dir|arn|ref|env|var|variable|type|length|size|"
    r"header|alias|version|expiry|expires|ttl|field|param|label|prefix|suffix|format|hash|digest|"
    r"sha|sha1|sha224|sha256|sha384|sha512|md5|crc|crc32|checksum|fingerprint|thumbprint|cache_?key)$"
)


def is_identifier(value: str) -> bool:
    """A name rather than a value: ``LR_CI_P95_CLUSTER_SECRET``, ``NEXUS-GPT4-API-KEY``,
    ``ops.database.password``, ``secret/data/ops``, ``xs:string``, ``bench-webhook-signing-secret-5309``.

    Every segment must be a word, CamelCase words, an acronym or a short number: a random credential has
    segments like ``Xk9mP2vLq`` (case and digits mixed inside) and never passes.
    """
    value = value.strip().rstrip(":.,;!?")
    if len(value) > 200:
        return False
    if "[" in value:
        value = _INDEX.sub("", value)  # Jobs[-1].JobId, items[*].name: a path into a document
    if _TYPE_NAME.match(value) or _MEMBER_NAME.match(value):
        return _wordlike(value)  # _RSAPrivateKey, _S_token_ord_char, :_Stop_state_ref: a type or member
    if _WORD_ONLY.match(value):
        return _wordlike(value)
    if _ENV_NAME.match(value):
        # A licence key (``X7K2M-9QPLR-3J8WD``) has this shape too: a name is mostly words.
        parts = re.split(r"[_\-]", value)
        if not all(parts) or any(len(p) > 30 for p in parts):
            return False
        words = sum(1 for p in parts if len(p) >= 2 and p.isalpha())
        mixed = any(len(p) > 6 and not p.isalpha() for p in parts)  # API-OJ8N2R2S8M53HR4L: a key
        return words * 2 >= len(parts) and not mixed and _wordlike(value)
    if _CAMEL_WORDS.match(value.lstrip("_")):
        return _wordlike(value)  # proxySecret, _proxySecret: a private attribute's name
    return _NAME.match(value) is not None and _LONG_WORD.search(value) is not None and _wordlike(value)


_RUN = re.compile(r"[A-Z]?[a-z]{1,40}|[A-Z]{1,40}(?![a-z])")
_INDEX = re.compile(r"\[(?:-?\d{1,3}|\*)\]")
_VOWEL = re.compile(r"[aeiouyAEIOUY]")
_CONSONANTS = re.compile(r"[^aeiouyAEIOUY]{5}")


def _wordlike(value: str) -> bool:
    """Whether every letter run of ``value`` reads as a word (a vowel, no five consonants in a row) or a
    short acronym: ``signing``, ``Cluster``, ``GPT``; random letters (``DvlCdnxq``, ``TQPMHN``) do not."""
    for run in _RUN.findall(value):
        if len(run) < 3 or (run.isupper() and len(run) <= 5):
            continue
        if not _VOWEL.search(run) or _CONSONANTS.search(run):
            return False
    return True


def reads_as_words(value: str) -> bool:
    """Whether the letters of ``value`` read as words: half of them in runs of 3 or more (``getPassword``,
    ``ops.database.password``, ``TokenMalformedSdJwt``: acronyms without vowels count). Random mixed case
    (``HqZxWmKvRtLp``) changes case every one or two letters, so its runs are short: a token, not a name."""
    runs = _RUN.findall(value)
    letters = sum(len(run) for run in runs)
    long = sum(len(run) for run in runs if len(run) >= 3)
    return long * 2 >= letters


def is_id_under_id_key(value: str, key: str | None) -> bool:
    """A UUID under a key that says id/uuid/guid (``credentialsId``, ``client_id``, ``withCredentials``).

    Jenkins stores a credential's *id* as a UUID; the secret lives in Jenkins. A UUID under ``api_key`` is
    still reported (Heroku's legacy keys are UUIDs).
    """
    return key is not None and _UUID.match(value.strip()) is not None and _ID_KEY.search(key) is not None


def is_name_key(key: str | None) -> bool:
    """A key that names an attribute of a secret (``SECRET_NAME``, ``token_url``, ``CLUSTER_SECRET_ENV``,
    ``password_hash``), whose value is a name, a URL, a path or a hash: never the secret itself.

    ``key`` is the normalized key (``db_password`` form, :func:`lr_ci.secret_rules.engine._normalized_key`).
    """
    return key is not None and _NAME_KEY.search(key) is not None


_ENCRYPTED = re.compile(
    r"^(?:ENC\[(?:AES256_GCM|PKCS7|GPGME),|\$ANSIBLE_VAULT;|-----BEGIN PGP MESSAGE|vault:v\d{1,3}:"
    r"|AQICAH[A-Za-z0-9+/]{40}|Ag[ABC][A-Za-z0-9+/]{100})"
)


def is_encrypted(value: str) -> bool:
    """Ciphertext committed on purpose: SOPS ``ENC[AES256_GCM,...]``, ``$ANSIBLE_VAULT;``, a PGP message,
    Vault transit ``vault:v1:``, an AWS KMS blob (``AQICAH...``), a Sealed Secrets value (``AgA``/``AgB``/
    ``AgC`` and hundreds of base64 characters). Only its private key opens it; storing it in git is what
    these tools are for."""
    return _ENCRYPTED.match(value) is not None


_HASH = re.compile(
    r"""^(?:
    \$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}                          # bcrypt
    | \$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{22}                        # bcrypt's salt: no password in it
    | \$argon2(?:id|i|d)\$[^\s]{10,300}                           # argon2
    | \$[156]\$(?:rounds=\d{1,9}\$)?[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{22,86}  # md5/sha-crypt
    | \$(?:y|gy|7|sha1|md5|apr1|scrypt|pbkdf2(?:-sha\d{1,3})?)\$[^\s]{8,300}
    | (?:pbkdf2_sha\d{1,3}|argon2|bcrypt_sha256|bcrypt|scrypt|sha1|md5)\$[^\s]{8,300}  # Django
    | (?:pbkdf2|scrypt):[^\s]{8,300}                              # Werkzeug
    | \{(?:SSHA|SHA|SSHA256|SSHA512|MD5|SMD5|CRYPT|PBKDF2[-\w]{0,12}|ARGON2)\}[^\s]{4,300}  # LDAP
    | \*[0-9A-Fa-f]{40}                                            # MySQL's mysql_native_password
    | md5[0-9a-f]{32}                                              # PostgreSQL's md5 (of password and user)
    | SCRAM-SHA-256\$\d{1,7}:[A-Za-z0-9+/=]{8,64}\$[A-Za-z0-9+/=]{20,64}:[A-Za-z0-9+/=]{20,64}  # PostgreSQL
    )$""",
    re.VERBOSE,
)


def is_password_hash(value: str) -> bool:
    """A stored password hash (bcrypt ``$2b$``, ``$argon2id$``, crypt ``$6$``/``$5$``/``$1$``, Django's
    ``pbkdf2_sha256$``, Werkzeug's ``scrypt:``, LDAP's ``{SSHA}``, MySQL's ``*`` and 40 hex digits,
    PostgreSQL's ``md5…`` and ``SCRAM-SHA-256$…``): what a system keeps instead of the password. It is
    not a leaked password (the issue's second cause, 41 findings)."""
    return _HASH.match(value.strip()) is not None


# Values people write where a secret will go, or as a local default: a small English/programming stop list.
_STOP_WORDS = frozenset(
    """
    dev devel develop development local localhost prod production staging stage test tests testing qa demo
    secret secrets secretkey secret_key password passwords passwd pass pwd passphrase token tokens apikey
    key keys private public credential credentials auth login logon user username users admin administrator
    root guest default defaults example examples sample samples dummy fake mock mocked stub placeholder
    changeme change change_me changeit replaceme replace todo tbd fixme xxx foo bar baz qux foobar hello
    world helloworld welcome letmein qwerty asdf hunter keyboard cat keyboardcat opensesame sesame monkey
    dragon master super supersecret topsecret mysecret my your our the this that some any value values
    string str text none null nil undefined empty blank required optional unknown hidden masked redacted
    insecure unsafe notsecret notasecret notreal not real ignore ignored unused invalid valid abc abcd
    abcdef xyz one two three test123 pass123 admin123 secret123 password123 s3cr3t p4ss p4ssw0rd passw0rd
    yes no ok true false on off enabled disabled config settings app application service server client
    api web site db database a an is blah my_secret my_password mypassword mysecretpassword secretpassword
    anonymous nobody payload
    geheim parole passwort kennwort motdepasse contrasena senha segreto wachtwoord salasana haslo secreto
    clave
    """.split()
) | frozenset(
    # Products, images and lab boxes whose quick starts, compose files and playbooks ship a sample password
    # spelled after them (MINIO_ROOT_PASSWORD: minio123, ansible_password: Cisco#123, vagrant): a product's
    # name with a short number is its documented default, found in every copy of its example. A password
    # with any part that is not such a name (Cisco#123Xk9, a second word) is kept.
    """
    mysql mariadb postgres postgresql pgsql psql mongo mongodb redis minio minioadmin rabbitmq rabbit elastic
    elasticsearch kibana opensearch grafana prometheus keycloak jenkins tomcat nexus sonar sonarqube gitlab
    gitea airflow superset metabase wordpress drupal joomla nextcloud owncloud odoo zabbix nagios splunk
    oracle sqlserver mssql neo4j couchdb cassandra influxdb vagrant ubuntu debian centos fedora raspberry
    cisco juniper arista fortinet mikrotik ansible docker openstack vmware proxmox
    """.split()
)
_DIGIT_RUNS = re.compile(r"\d{1,64}")
_LEET = str.maketrans("013457@$!", "oieastasi")
_AFFIX = re.compile(r"^[\W_]{0,3}(?P<core>.{2,64}?)(?:\\x[0-9a-fA-F]{2}|\\[nrt0])?[\W_\d]{0,6}$")
_WORD_SPLIT = re.compile(r"[\s_\-.:/|()$@#+&,]+")


def is_placeholder_word(value: str) -> bool:
    """A value that is a stop word or a few of them joined (``dev``, ``keyboard cat``, ``s3cr3t``,
    ``supersecret``, ``mysecretpassword``, ``Password123!``, ``my-dev-secret``), leetspeak undone and a
    short number or punctuation after it allowed.

    These are the values the issue's first cause counted (81 findings): local defaults and tutorial
    values, and products' sample passwords (``minio123``, ``Cisco#123``: a product's name and a short
    number). A real credential has at least one part that is not in the list.
    """
    text = value.strip().lower()
    if not text or len(text) > 64:
        return False
    if text in _STOP_WORDS:
        return True
    match = _AFFIX.match(text)
    core = match.group("core") if match else text
    if len(core) > 40 or len(_DIGIT_RUNS.findall(core)) > 2 or len(core) - len(core.lstrip("0123456789")) > 3:
        return False  # digits inside: not a word, even in leetspeak (p4ssw0rd has two)
    candidates = {core, core.translate(_LEET)} if any(c.isalpha() for c in core) else {core}
    for candidate in candidates:
        parts = [p for p in _WORD_SPLIT.split(candidate) if p]
        if parts and all(p in _STOP_WORDS or _joined_stop_words(p) for p in parts):
            return True
    return False


def _joined_stop_words(text: str) -> bool:
    """Whether ``text`` (at most 40 letters) splits into stop words (``mysecretpassword``): a DP, O(n*12)."""
    if len(text) > 40 or not text.isalpha():
        return False
    size = len(text)
    reachable = [True] + [False] * size
    for end in range(2, size + 1):
        for start in range(max(0, end - 13), end - 1):
            if reachable[start] and text[start:end] in _STOP_WORDS:
                reachable[end] = True
                break
    return reachable[size]


# A regular expression as a value (``secret = r'([a-z0-9]{64})'``, ``_token = r'(?:[%s]+|%s)'``): a group
# construct, a character class with a quantifier, or an escape class (a detector's own source is full of
# them).
_REGEX_SYNTAX = re.compile(
    r"\(\?(?:[:=!]|<[=!]|P<)|\[[^\]]{1,40}\](?:[*+?]|\{\d{1,3}(?:,\d{0,3})?\})|\\[dwsDWS][*+?{]"
)


def is_regex_pattern(value: str) -> bool:
    """A regular expression rather than a secret: ``(?:key|pwd|token)``, ``([a-f0-9]{48})``, ``\\d+``.

    Secret scanners, lexers and validators assign patterns to variables named ``secret``, ``password`` or
    ``token``. A credential holding ``(?:`` or ``[a-z]{2}`` is not something a generator or a person makes.
    """
    return _REGEX_SYNTAX.search(value) is not None


_NUMBER = re.compile(r"^[+\-]?\d{1,32}(?:[.,:_\-]\d{1,32}){0,6}$")


def is_number(value: str) -> bool:
    """A number, a timestamp or a version (``1219328376.07815``, ``3.14``, ``2024-01-01``): digits only."""
    return _NUMBER.match(value) is not None


# A file a key lives in (``$dir/private/cakey.pem``, ``../certs/server.key``, ``~/.ssh/id_rsa``).
_FILE_PATH = re.compile(
    r"^(?:[~.$]{1,3}[\w{}()]{0,40})?(?:/[\w.\-{}$]{1,100}){1,20}\.[A-Za-z]{1,10}(?::\d{1,6}|#)?$"
    r"|^(?:\.{1,2}|~)/[\w.\-/]{1,200}$"
)


def is_file_path(value: str) -> bool:
    """A path to a file (a key file, a source file with a line number) rather than what the file holds.

    A path has a ``/`` before a name with an extension, or starts with ``./``, ``../``, ``~/``: base64
    secrets have ``/`` but no ``.``, so ``abc/def.pem`` cannot be one.
    """
    return _FILE_PATH.match(value) is not None


_HOME_ROW = frozenset("asdfghjkl")


def is_keyboard_mash(value: str) -> bool:
    """Letters typed along the keyboard's home row with a few digits (``askfjh234as9sd8``, ``lsdajfh923874``):
    the example values of API docstrings (OAuth tokens in ``requests-oauthlib``, ``oauthlib``).

    At least 6 home-row letters and 70% of the letters from it, lower case only. A random lower-case
    value draws from those 9 letters a third of the time, so 70% of 6 or more is a 1-in-50 case at worst
    and rarer as the value grows (tested on random values); mixed-case keys are never judged.
    """
    if not value.isascii() or not value.isalnum() or value.lower() != value or len(value) > 40:
        return False
    letters = [c for c in value if c.isalpha()]
    home = sum(1 for c in letters if c in _HOME_ROW)
    return home >= 6 and home * 10 >= len(letters) * 7


_FOREIGN_WORD = re.compile(r"^(?:(?![A-Za-z0-9])[^\W\d_]){3,200}[.!?。！？]?$")
_WORD = re.compile(r"^[^\W\d_]{1,40}[.,;:!?'\"]{0,2}$")


def is_prose(value: str) -> bool:
    """Words and spaces rather than a credential: ``the password is hunter2``, `` lines, endless HTTP
    bodies, ``, a sentence in any script (non-ASCII prose).

    A value that starts or ends with a space is a span of text between two quotes or backticks; a value
    of several words, most of them made only of letters, is a sentence; letters outside ASCII with a
    space between them are prose in another language. Passphrases of plain words are dropped with them:
    a generic rule cannot tell one from a sentence.
    """
    if value != value.strip() and value.strip():
        return True
    if not value.isascii() and _FOREIGN_WORD.match(value):
        return (
            True  # パスワードを入力してください: a word or a sentence in another script, no ASCII key in it
        )
    words = value.split()
    if len(words) < 2:
        return False
    wordy = sum(1 for w in words if _WORD.match(w))
    if wordy >= 2 and wordy * 3 >= len(words) * 2:
        return True
    return not value.isascii() and sum(1 for c in value if c.isalpha() and not c.isascii()) >= 2


_HEX = re.compile(r"^(?=.{0,300}[a-fA-F])(?:[0-9a-f\-]{16,300}|[0-9A-F\-]{16,300})$")
_HEX_CHARS = re.compile(r"^(?:[0-9a-f]{1,300}|[0-9A-F]{1,300})$")
_MIXED = re.compile(r"(?=.{0,300}[a-z])(?=.{0,300}[A-Z])(?=.{0,300}[0-9])")
_BASE64ISH = re.compile(r"^[A-Za-z0-9+/_\-]{20,300}={0,2}$")


def expected_entropy(size: int, alphabet: int) -> float:
    """About the Shannon entropy (bits per character) of a random string of ``size`` symbols drawn from
    ``alphabet``: log2 of the expected number of distinct symbols in it."""
    if size <= 1:
        return 0.0
    distinct = alphabet * (1 - (1 - 1 / alphabet) ** size)
    return math.log2(max(distinct, 1.0))


def entropy_floor(value: str) -> float | None:
    """The lowest entropy a random value of this character class and length has, or None (no class floor).

    A flat floor cannot serve every class: 32 hex characters top out at 4 bits per character, a 40-char
    base64 string reaches 5, a 12-char password 3.6. So the floor is a share of what a random value of the
    same class and length has: hex (dashes allowed, a UUID) 0.7 of the 16-symbol figure, mixed-case
    alphanumerics (base64, base62) 0.75 of the 62-symbol one. ``deadbeefdeadbeef`` and ``AbAbAbAb1...``
    fall under it, random keys of that class stay above it (tested). Other values (a password with
    symbols, lower-case alphanumerics with a prefix) keep only the rule's own floor.
    """
    size = len(value)
    if _HEX.match(value):
        return 0.7 * expected_entropy(size, 16)
    if _BASE64ISH.match(value) and _MIXED.search(value):
        return 0.75 * expected_entropy(size, 62)
    return None


def is_below_entropy_floor(value: str, entropy: float) -> bool:
    """Whether ``value`` (of Shannon ``entropy``) is less random than its class allows (see
    :func:`entropy_floor`)."""
    floor = entropy_floor(value)
    return floor is not None and entropy < floor


_STRICT_BASE64 = re.compile(r"^(?:[A-Za-z0-9+/]{4}){1,21}(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$")


def is_encoded_placeholder(value: str) -> bool:
    """Base64 of a placeholder word (``cGFzc3dvcmQ=`` is ``password``, ``Y2hhbmdlbWU=`` is ``changeme``): a
    Kubernetes ``Secret`` or a Basic value read by a generic rule before anything decodes it."""
    import base64
    import binascii

    if len(value) < 8 or not _STRICT_BASE64.match(value):
        return False
    try:
        text = base64.b64decode(value, validate=True).decode("ascii")
    except (binascii.Error, ValueError):
        return False
    return text.isprintable() and is_placeholder_word(text)


_EVM_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def is_public_address(value: str) -> bool:
    """An EVM account or contract address (``0x`` + 20 bytes in hex): public by design, on chain for
    anyone to read, even under a key that says token (``token_address``, ``USDC_TOKEN``: an ERC-20 token's
    contract). A private key is 32 bytes (64 hex digits) and is never this shape, so it stays reported."""
    return _EVM_ADDRESS.match(value) is not None


_ANTI_FORGERY_KEY = re.compile(
    r"(?:^|_)(?:(?:csrf|xsrf)(?:_?token|middlewaretoken)?|authenticity_token|anti_?forgery_token"
    r"|request_verification_token)$"
)


def is_anti_forgery_key(key: str | None) -> bool:
    """A key that names an anti-forgery token (``csrf_token``, ``X-CSRF-Token``, ``authenticity_token``,
    ``csrfmiddlewaretoken``, ASP.NET's ``__RequestVerificationToken``): a per-session nonce a server
    writes into every form it renders, found in saved pages, test fixtures and HTTP cassettes. It proves
    a request came from the site's own form; it grants no access and dies with the session. The key
    must END with the token: the key that signs such tokens (``WTF_CSRF_SECRET_KEY``) stays a secret.

    ``key`` is the normalized key (``db_password`` form)."""
    return key is not None and _ANTI_FORGERY_KEY.search(key) is not None


_CURSOR_KEY = re.compile(
    r"(?:^|_)(?:next(?:_page)?|page|continuation|sync|resume|skip|delta|change|pagination)_?token$"
)


def is_cursor_key(key: str | None) -> bool:
    """A key that names a position in a listing (``nextPageToken``, AWS's ``NextToken``,
    ``continuationToken``, ``syncToken``, ``resume_token``, Azure's ``$skiptoken``): an opaque cursor the
    API hands out with every page, found in recorded responses and CLI output. It reads the next page of
    a listing the caller could already read; it authenticates nothing.

    ``key`` is the normalized key (``db_password`` form)."""
    return key is not None and _CURSOR_KEY.search(key) is not None


_ACCOUNT_HEAD = re.compile(r"(?:^|_)(?:mint|pubkey|account|program|wallet|owner|authority|address)$")
_BASE58_PUBLIC = re.compile(r"^[1-9A-HJ-NP-Za-km-z]{32,44}$")


def is_public_account(value: str, key: str | None) -> bool:
    """A base58 32-byte public key (32-44 characters: a Solana mint, token account or program) under a key
    whose last word says it names an account (``tokenMint``, ``USDC_TOKEN_MINT``, ``tokenAccount``): on
    chain, public. A Solana secret key is 64 bytes (87-88 base58 characters) and stays reported, as does
    any value of this shape under a key that ends with token, secret or key."""
    return (
        key is not None and _ACCOUNT_HEAD.search(key) is not None and _BASE58_PUBLIC.match(value) is not None
    )


_KEY_ID_KEY = re.compile(r"(?:^|_)(?:signing_?key|gpg_?key|pgp_?key|key_?id|fingerprint)$")
_KEY_ID = re.compile(r"^(?:0x)?(?:[0-9A-F]{8}|[0-9A-F]{16}|[0-9A-F]{40})$")


def is_key_id(value: str, key: str | None) -> bool:
    """An OpenPGP key id or fingerprint (8, 16 or 40 upper-case hex digits, maybe ``0x``) under a key that
    names which key signs (git's ``user.signingkey``, ``gpg_key``, ``key_id``): it points at a key in a
    keyring, it is not one. Lower-case hex (how HMAC signing secrets are written) stays reported."""
    return key is not None and _KEY_ID_KEY.search(key) is not None and _KEY_ID.match(value) is not None


_PUBLIC_CLIENT_KEY = re.compile(r"(?:^|_)(?:search_only(?:_api)?_key|site_?key|mixpanel(?:_project)?_token)$")
_PUBLIC_CLIENT_TOKEN = re.compile(r"^(?:pub[0-9a-f]{32}|phc_[A-Za-z0-9]{32,64})$")


def is_public_client_key(value: str, key: str | None) -> bool:
    """A key a browser SDK ships in every page, public by its provider's design: a search-only key
    (Algolia's ``searchOnlyApiKey``), a CAPTCHA site key (reCAPTCHA, hCaptcha, Turnstile), a Mixpanel
    project token, a Datadog browser client token (``pub`` + 32 hex) or a PostHog project key (``phc_``;
    its personal keys are ``phx_``). Each provider's docs say it is
    not a secret; the matching admin/secret keys have other names and stay reported.

    ``key`` is the normalized key (``db_password`` form)."""
    if _PUBLIC_CLIENT_TOKEN.match(value):
        return True
    return key is not None and _PUBLIC_CLIENT_KEY.search(key) is not None


_VECTOR_CITATION = re.compile(
    rb"(?i)\b(?:RFC[ \-]?\d{3,5}|NIST|FIPS[ \-]?\d{2,3}|SP[ \-]?800-\d{2,3}|test[ _\-]?vectors?|"
    rb"known[ \-]answer|KAT|Wycheproof|CAVP)\b"
)
_HEX_VALUE = re.compile(r"^(?:0x)?(?:[0-9a-f]{16,512}|[0-9A-F]{16,512})$")
VECTOR_CITATION_BYTES = 4096
"""How much of a test file's start is read for a test-vector citation (the header comment or docstring)."""


def is_cited_test_vector(value: str, data: bytes) -> bool:
    """A hex value in a test file whose head cites a published test vector (``RFC 8032 section 7.1``,
    ``NIST SP 800-38D``, ``test vectors``, ``known answer``, Wycheproof, CAVP): the key, IV or expected
    MAC of a vector everyone can read in the spec, not a credential. Only the first
    :data:`VECTOR_CITATION_BYTES` of ``data`` (the file) are read, without a copy; the caller only asks
    for test paths, where vectors live."""
    return (
        _HEX_VALUE.match(value) is not None
        and _VECTOR_CITATION.search(data, 0, VECTOR_CITATION_BYTES) is not None
    )


# ---------------------------------------------------------------------------------------------------------
# Round four: classes found in the source distributions of well-known packages (benchmarks/scan_packages.py)
# ---------------------------------------------------------------------------------------------------------

_JOSE_HEAD = re.compile(r"^eyJ[A-Za-z0-9_\-]{2,1024}$")
_JWT_SHAPE = re.compile(r"^eyJ[A-Za-z0-9_\-]{10,1024}\.eyJ[A-Za-z0-9_\-]{10,8192}\.[A-Za-z0-9_\-]{16,1024}$")


def _json_object_prefix(segment: str) -> dict[str, Any] | None:
    """The JSON object a base64url segment encodes, or None (a truncated object counts as ``{}``)."""
    import base64
    import binascii
    import json

    body = segment[: len(segment) - len(segment) % 4] if len(segment) % 4 == 1 else segment
    try:
        text = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return None
    if not text.startswith("{"):
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return {}  # a cut header: still a JOSE header's start
    return parsed if isinstance(parsed, dict) else None


def is_jose_fragment(value: str) -> bool:
    """A JOSE header, or a token built on one that is not a whole JWT: ``eyJhbGciOiJIUzI1NiJ9`` alone, a
    header and a payload without a signature, a payload of one-letter claims (``{"a": "b"}``), a
    placeholder signature, a header swapped for junk before a real payload: what a JWT library's tests feed
    to its parser.

    A header says which algorithm signs (``{"alg": "HS256"}``), public by design; a whole JWT is the jwt
    rule's to report (it runs first and owns the span), so a generic rule that still sees one is looking
    at a fragment or a malformed token. A whole, well-formed JWT with real claims is kept.
    """
    parts = value.split(".")
    if len(parts) > 5 or not any(
        _JOSE_HEAD.match(p) and _json_object_prefix(p) is not None for p in parts[:2]
    ):
        return False
    if not _JWT_SHAPE.match(value) or len(parts) != 3:
        return True
    claims = _json_object_prefix(parts[1])
    return claims is None or all(len(name) <= 1 for name in claims)


# A template's hole: ``{}``, ``{0}``, ``{realm-name}``, ``%s``, ``%(name)s``, ``<user_id>``.
_HOLE = re.compile(r"\{[A-Za-z0-9_\-]{0,40}\}|%(?:\([A-Za-z_]\w{0,40}\))?[sdr]|<[A-Za-z_][\w\-]{0,40}>")
_PART = re.compile(r"[A-Za-z0-9]+")
_API_VERSION = re.compile(r"^v\d{1,2}(?:alpha|beta)?\d{0,2}$")
_LISTING_SEPARATOR = re.compile(r"[/.,:;%{}<>()\s]")


def is_words_and_numbers(value: str) -> bool:
    """A value made of words and short numbers around punctuation, or a template with holes: a rate limit
    (``5/m/user``, ``20/m/ip,5/m/key``), a route (``realms/{realm-name}/protocol/openid-connect/token``), a
    format string (``ACCESS_TOKEN_{}``, ``header.%s.signature``).

    Every alphanumeric part must be a number of at most 4 digits, a word in one case that reads as one
    (a vowel, no five consonants in a row), or at most 3 letters; at least two parts are letters, one of
    them a word of 4 letters or more (``Winter.2024``, one word and a number, may be a password: kept).
    Without a template hole the value must also hold a separator other than ``-``/``_`` (those are the
    identifiers' filter's): a generated secret's parts mix case and digits and never all pass.
    """
    if len(value) > 200:
        return False
    if _HOLE.search(value) is not None:
        return True  # a template: code fills the holes, the literal is never the secret
    text = value
    if not _LISTING_SEPARATOR.search(text):
        return False
    parts = _PART.findall(text)
    if not parts:
        return False
    word = False
    for part in parts:
        if part.isdigit():
            if len(part) > 4:
                return False
            continue
        if _API_VERSION.match(part):
            continue  # v1, v2beta1: a route's API version
        if not part.isalpha() or not (part.islower() or part.isupper() or part.istitle()):
            return False
        if len(part) >= 4:
            if not _wordlike(part):
                return False
            word = True
    if word and sum(1 for p in parts if not p.isdigit()) >= 2:
        return True  # one word and a number (Winter.2024) may be a person's password: kept
    # A rate limit or a ratio of short parts only (``20/m/ip,5/m/key``): numbers and letters never mixed.
    return len(parts) >= 3 and any(p.isdigit() for p in parts) and not all(p.isdigit() for p in parts)


_CSS_VALUE = re.compile(r"^#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$|^:{1,2}[a-z][a-z\-]{1,30}$")


def is_css_value(value: str) -> bool:
    """A CSS colour (``#00d6b2``) or pseudo-class (``:before``) under a custom property or selector that
    happens to hold a keyword (``--test-pass-color``, ``.test.pass:before``): a stylesheet, not a secret."""
    return _CSS_VALUE.match(value) is not None


_PARAMETER_PREFIX = re.compile(r"^[?&]?[A-Za-z_][\w\-.]{0,40}=$")


def is_parameter_prefix(value: str) -> bool:
    """A query or form parameter's name and ``=`` with no value (``access_token=``, ``?api_key=``): the start
    of a string that code completes with the real value at run time."""
    return _PARAMETER_PREFIX.match(value) is not None


_TYPE_EXPRESSION = re.compile(
    r"^(?:list|dict|set|tuple|frozenset|List|Dict|Set|Tuple|Optional|Sequence|Mapping|Iterable|Array|Map)"
    r"[\[(<][\w., \[\]()<>]{1,200}[\])>]$"
)
# A generated API client's type: an API version, then CamelCase words (V1SecretVolumeSource, V2beta1Status).
_VERSIONED_TYPE = re.compile(
    r"^V\d{1,2}(?:alpha|beta)?\d{0,2}(?:[A-Z][a-z]{1,30}|[A-Z]{2,6}(?=[A-Z]|$)){1,10}$"
)


def is_type_name(value: str) -> bool:
    """A type written as a string: a generated model's attribute map (``'tokens': 'list[Token]'``,
    ``'secrets': 'dict(str, SecretRule)'``, ``"secret": "V1SecretVolumeSource"``). Its names must read as
    words, so a random value in brackets is not one."""
    if _TYPE_EXPRESSION.match(value) or _VERSIONED_TYPE.match(value):
        return reads_as_words(value) and _long_runs_wordlike(value)
    return False


_SIGNED_REQUEST_SCOPE = re.compile(r"^/\d{8}/[\w\-]{1,40}/[\w\-]{1,40}/(?:aws4|goog4)_request")


def is_signed_request_key_id(after: str) -> bool:
    """Whether the text right ``after`` an access key id is a signed request's credential scope
    (``AKIA.../20231001/us-east-1/s3/aws4_request``): the id every presigned URL and browser upload form
    carries in clear text (``X-Amz-Credential``), next to a signature, never next to the secret key. A
    recorded upload (an HTTP cassette) holds one per request."""
    return _SIGNED_REQUEST_SCOPE.match(after) is not None


_SAYS_EXAMPLE = re.compile(r"(?i)(?:\be\.g\.|\bfor example|\bexample)[ \t]{0,3}[:,]?[ \t]{0,3}[\"'`(]?$")


def follows_example_marker(before: str) -> bool:
    """Whether the text right ``before`` a value on its line says the value is an example (``e.g.:``,
    ``for example,``, ``Example: "...``): a description in generated docs or a docstring writing out
    what a value looks like. A leaked token is not introduced as an example."""
    return _SAYS_EXAMPLE.search(before[-40:].rpartition("\n")[2]) is not None


def context_says_no_secret(value: str, before: str, after: str) -> bool:
    """Every rule's check of the line around a match: an example marker right ``before`` it
    (:func:`follows_example_marker`), or an access key id followed by a signed request's scope ``after``
    it (:func:`is_signed_request_key_id`)."""
    if value[:1] == "A" and is_signed_request_key_id(after):
        return True
    return follows_example_marker(before)


_PLAIN_URL = re.compile(
    r"^[a-z][a-z0-9+.\-]{1,20}://(?:\[[0-9a-fA-F:.]{2,45}\]|[^:/@\s\[\]?#]{1,253})(?::\d{1,5})?"
    r"(?:/[^\s@?#]{0,500})?(?P<query>\?[^\s@#]{1,500})?$"
)
_SECRET_PARAMETER = re.compile(r"(?i)token|key|secret|sig|passw|pwd|auth|code|credential|session")
_QUERY_WORD = re.compile(r"^(?:[A-Za-z]{1,30}|\d{1,10})$")


def is_plain_url(value: str) -> bool:
    """A URL with no user, password or secret in its query (``https://[fd00:ec2::254]/latest/api/token``,
    ``https://id.example.org/oauth/authorize?scope=wallet:user:read``): an address, whatever its key says
    (``TOKEN_URL_IPV6``, ``authorization``). A credential in a URL sits in its user info or in a query
    parameter named for it (``token=``, ``sig=``, ``key=``), or is a value that is not words."""
    match = _PLAIN_URL.match(value)
    if match is None:
        return False
    query = match.group("query")
    if not query:
        return True
    for pair in query[1:].split("&"):
        name, _, content = pair.partition("=")
        if _SECRET_PARAMETER.search(name):
            return False
        if not all(_QUERY_WORD.match(part) for part in re.split(r"[:+,.%20\-_/]+", content) if part):
            return False
    return True


_CODE_OPERATOR = re.compile(r"\|\||&&|=>|===|!==|\+\(|\)\s{0,2}[+?:]")


def is_code_expression(value: str) -> bool:
    """Code the generic syntax read as a quoted value: ``+(r||L.ACCESS_TOKEN||`` in minified JavaScript,
    ``a && b``. Logical operators, arrows and strict comparisons are not characters a token generator or
    a person picking a password writes in sequence."""
    return _CODE_OPERATOR.search(value) is not None


def echoes_key(value: str, key: str | None) -> bool:
    """A value that spells its own key (``AWS_IMDSV2_SESSION_TOKEN = "awsimdsv2sessiontoken"``,
    ``api_key: API_KEY``): a test's stand-in that says which slot it fills. Compared on letters and digits
    only, case folded; the value must be 8 characters or more."""
    if key is None:
        return False
    letters = "".join(c for c in value.lower() if c.isalnum())
    name = "".join(c for c in key.lower() if c.isalnum())
    return len(letters) >= 8 and (letters == name or (len(name) >= 8 and name in letters))


_PEM_HEAD = re.compile(r"^-----BEGIN[ A-Z0-9]{0,40}-----")
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/=]{24}")


def is_pem_without_body(value: str) -> bool:
    """A PEM header and footer with code between them, no base64 body: ``"-----BEGIN RSA PRIVATE
    KEY-----\n" + "\n".join(wrap(key, 64)) + "\n-----END RSA PRIVATE KEY-----"`` (a library that re-wraps
    a key), ``.replace('-----BEGIN...', '')`` calls. Key material has lines of 64 base64 characters (the
    shortest key, Ed25519's PKCS#8, is 64 in one run); a body without a run of 24 holds no key."""
    if not _PEM_HEAD.match(value):
        return False
    body = value[value.find("-----", 10) + 5 : value.rfind("-----END")]
    return _BASE64_RUN.search(body) is None


# A Python name that says its string is documentation: EXAMPLES, DOCUMENTATION, RETURN (every Ansible
# module's three), USAGE, HELP, EPILOG, __doc__, and names ending in them (CLI_EXAMPLES, API_DOC).
_DOC_STRING_NAME = re.compile(
    rb"^[ \t]{0,40}(?:__doc__|(?:[A-Z][A-Z0-9]{0,30}_){0,4}(?:EXAMPLES?|DOCUMENTATION|DOCS?|RETURN|USAGE|"
    rb"HELP|EPILOG|SAMPLES?))[ \t]{0,4}=[ \t]{0,4}[rRuUbB]{0,2}$"
)


def in_named_doc_string(data: bytes, offset: int) -> bool:
    """Whether ``offset`` of Python source ``data`` is inside a triple-quoted string assigned to a name that
    says it is documentation (``EXAMPLES = r'''``, ``DOCUMENTATION``, ``RETURN``, ``USAGE``, ``HELP``): a
    module's usage examples and sample return values, written for a reader, like a docstring.

    The last triple quote of one kind before ``offset`` (an odd count: it opens) must start its line after
    the name and ``=``, and a closing quote must follow ``offset``. A string assigned to any other name
    (``KEY = ...``) is not documentation and its secrets stay reported."""
    for quote in (b'"""', b"'''"):
        if data.count(quote, 0, offset) % 2 == 0:
            continue
        opening = data.rfind(quote, 0, offset)
        line_start = data.rfind(b"\n", 0, opening) + 1
        if _DOC_STRING_NAME.match(data[line_start:opening]) and data.find(quote, offset) >= 0:
            return True
    return False


# PowerShell and .NET code read as a value: a type literal (``[System.Net.CredentialCache``,
# ``[Ansible.AccessToken.TokenUtil``) or a static member after ``]::`` (``:DefaultCredentials``,
# ``:GetTokenPrivileges(``), a variable (``$Params.``, ``$ProxyPassword``).
_TYPE_LITERAL = re.compile(
    r"^\[[A-Za-z_]\w{0,60}(?:\.[A-Za-z_]\w{0,60}){0,12}\]?$|^:{1,2}[A-Z]\w{0,80}(?:\(.{0,80})?$"
)
# A PowerShell cmdlet name (Verb-Noun), maybe after the parenthesis of its call: ``(ConvertTo-SecureString``.
_CMDLET = re.compile(r"^\(?[A-Z][A-Za-z]{1,20}-[A-Z][A-Za-z]{1,40}$")
_PS_VARIABLE = re.compile(r"^\$[A-Za-z_]\w{0,60}(?:\.\w{0,60}){0,6}\.?$")


def is_dotnet_code(value: str) -> bool:
    """A .NET type literal, a static member or a PowerShell variable read as a value (see above): code
    that fetches or builds the secret. A random value has no ``[Namespace.Type`` shape; a variable must
    read as words (``$ProxyPassword``; ``$Xk9mP2vLq`` does not)."""
    if _CMDLET.match(value) or value.startswith(("@{", "@(")):
        return True  # (ConvertTo-SecureString, @{ type = 'str' }: a cmdlet call, a hashtable
    if _TYPE_LITERAL.match(value) or _PS_VARIABLE.match(value):
        return reads_as_words(value) and _long_runs_wordlike(value)
    return False


def _long_runs_wordlike(value: str) -> bool:
    """Whether every letter run of 4 or more reads as a word (``Sql``, ``Ptr``: short runs are not judged)."""
    return all(_wordlike(run) for run in _RUN.findall(value) if len(run) >= 4)


def key_says_no_secret(value: str, key: str | None) -> bool:
    """Whether a generic candidate's key says its value is no secret: the key names an attribute of a
    secret (:func:`is_name_key`), a UUID id (:func:`is_id_under_id_key`), an anti-forgery nonce
    (:func:`is_anti_forgery_key`), a listing's cursor (:func:`is_cursor_key`), a public on-chain account
    (:func:`is_public_account`), a key's id (:func:`is_key_id`) or a browser SDK's public key
    (:func:`is_public_client_key`). ``key`` is normalized or None."""
    if is_public_client_key(value, key):
        return True
    return key is not None and (
        echoes_key(value, key)
        or is_name_key(key)
        or is_id_under_id_key(value, key)
        or is_anti_forgery_key(key)
        or is_cursor_key(key)
        or is_public_account(value, key)
        or is_key_id(value, key)
    )


def is_ec_public_point(value: str) -> bool:
    """An uncompressed elliptic-curve public point: base64 or base64url of 65 bytes starting with 0x04
    (a Web Push VAPID ``applicationServerKey``, a P-256 verification key). The matching private key is
    32 bytes, so it never has this shape."""
    if len(value) not in (87, 88) or value[0] != "B":
        return False
    import base64
    import binascii

    try:
        raw = base64.urlsafe_b64decode(value.replace("+", "-").replace("/", "_") + "=" * (-len(value) % 4))
    except (ValueError, binascii.Error):
        return False
    return len(raw) == 65 and raw[0] == 4


def is_not_a_value(value: str, entropy: float) -> bool:
    """Whether a generic rule's candidate (of Shannon ``entropy``) is anything but a literal secret: a
    reference, a name, a password hash, ciphertext, prose, a placeholder word, or less random than its
    character class allows. The generic rules' shared filter, cheapest checks first."""
    return (
        is_reference(value)
        or is_code_expression(value)
        or is_dotnet_code(value)
        or is_css_value(value)
        or is_parameter_prefix(value)
        or is_type_name(value)
        or is_plain_url(value)
        or is_jose_fragment(value)
        or is_words_and_numbers(value)
        or is_public_address(value)
        or is_ec_public_point(value)
        or is_identifier(value)
        or is_number(value)
        or is_file_path(value)
        or is_regex_pattern(value)
        or is_password_hash(value)
        or is_encrypted(value)
        or is_prose(value)
        or is_placeholder_word(value)
        or is_keyboard_mash(value)
        or is_encoded_placeholder(value)
        or is_below_entropy_floor(value, entropy)
    )


def _is_filler_body(body: str) -> bool:
    return is_structured_filler(body) or has_filler_word(body)


def is_placeholder_or_example(
    value: str, pattern: str, user: str | None = None, host: str | None = None, basic: bool = False
) -> bool:
    """Every rule's shared filter: a placeholder measured over the token body (the value without the
    fixed text of the rule's ``pattern``), a documented example value or jwt.io's sample, an example pair
    or reserved host when the match has a ``user``/``host``, and (``basic``: the value follows ``Basic``)
    a Basic credential that is none."""
    if value.startswith("-----BEGIN") and is_pem_without_body(value):
        return True  # code that wraps a key in its header and footer, no key in it
    if is_documented_example(value) or is_identifier(value):
        return True  # a name (dev-secret-key-change-in-production) matched by a keyword rule's shape
    # The body is cut only when the whole value looks like a filler (rare for a real token): reading a
    # rule's fixed text parses its regex, a cost paid once per rule and only when needed.
    if _is_filler_body(value) and _is_filler_body(token_body(value, pattern)):
        return True
    if value.startswith("eyJ") and is_example_jwt(value):
        return True
    if user is not None and is_example_pair(user, value):
        return True  # postgres://postgres:postgres@..., user:password@: a local default or a manual's
    if host is not None and is_example_host(host):
        return True
    return basic and is_example_basic(value)
