"""A labelled corpus for measuring secret detection: realistic files, every secret and look-alike labelled.

Positives are random values in each provider's real format, written the ways teams write them (.env files,
YAML, settings modules, JSON, Dockerfiles, Kubernetes manifests, Terraform, shell, connection strings,
PEM blocks). Negatives are the look-alikes that make scanners noisy: environment lookups, placeholders,
documented example keys, publishable keys, hashes in lock files, UUIDs, code identifiers. Everything is
generated from a seed, so the corpus is the same on every run, and no value was ever issued by a provider.

``build(directory)`` writes the files and returns the labels: (path, line, kind) for each case, where kind
is "secret" or "benign".
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "-_"


@dataclass(frozen=True)
class Case:
    path: str
    line: int
    kind: str  # "secret" or "benign"
    label: str


def _rand(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _password(rng: random.Random) -> str:
    words = ["Ops", "Invoice", "Ledger", "Falcon", "Harbor", "Copper", "Meadow", "Quartz"]
    return (
        rng.choice(words)
        + _rand(rng, ALNUM, rng.randint(4, 8))
        + rng.choice("!#%&*$@")
        + str(rng.randint(10, 99))
    )


def _jwt(rng: random.Random) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    header = part({"alg": "HS256", "typ": "JWT"})
    payload = part({"sub": f"user-{rng.randint(1, 9999)}", "iat": 1_700_000_000 + rng.randint(0, 10**6)})
    return f"{header}.{payload}.{_rand(rng, URLSAFE, 43)}"


def _pem(rng: random.Random, kind: str) -> str:
    body = "\n".join(_rand(rng, B64, 64) for _ in range(rng.randint(4, 10)))
    return f"-----BEGIN {kind}PRIVATE KEY-----\n{body}\n-----END {kind}PRIVATE KEY-----"


# Each generator returns (variable name, value) for a provider secret.
SECRETS: dict[str, Callable[[random.Random], tuple[str, str]]] = {
    "aws-id": lambda r: ("AWS_ACCESS_KEY_ID", "AKIA" + _rand(r, string.ascii_uppercase + "234567", 16)),
    "aws-secret": lambda r: ("AWS_SECRET_ACCESS_KEY", _rand(r, B64, 40)),
    "github": lambda r: ("GITHUB_TOKEN", "ghp_" + _rand(r, ALNUM, 36)),
    "github-fine": lambda r: ("GH_TOKEN", "github_pat_" + _rand(r, ALNUM, 22) + "_" + _rand(r, ALNUM, 59)),
    "gitlab": lambda r: ("GITLAB_TOKEN", "glpat-" + _rand(r, URLSAFE, 20)),
    "npm": lambda r: ("NPM_TOKEN", "npm_" + _rand(r, ALNUM, 36)),
    "pypi": lambda r: ("PYPI_TOKEN", "pypi-AgEIcHlwaS5vcmc" + _rand(r, URLSAFE, 70)),
    "stripe": lambda r: ("STRIPE_SECRET_KEY", "sk_live_" + _rand(r, ALNUM, 99)),
    "stripe-restricted": lambda r: ("STRIPE_API_KEY", "rk_live_" + _rand(r, ALNUM, 24)),
    "stripe-webhook": lambda r: ("STRIPE_WEBHOOK_SECRET", "whsec_" + _rand(r, ALNUM, 32)),
    "sendgrid": lambda r: ("SENDGRID_API_KEY", "SG." + _rand(r, URLSAFE, 22) + "." + _rand(r, URLSAFE, 43)),
    "mailgun": lambda r: ("MAILGUN_API_KEY", "key-" + _rand(r, HEX, 32)),
    "mailgun-new": lambda r: (
        "MAILGUN_KEY",
        _rand(r, HEX, 32) + "-" + _rand(r, HEX, 8) + "-" + _rand(r, HEX, 8),
    ),
    "mailchimp": lambda r: ("MAILCHIMP_API_KEY", _rand(r, HEX, 32) + f"-us{r.randint(1, 21)}"),
    "twilio": lambda r: ("TWILIO_API_KEY", "SK" + _rand(r, HEX, 32)),
    "twilio-token": lambda r: ("TWILIO_AUTH_TOKEN", _rand(r, HEX, 32)),
    "slack-bot": lambda r: (
        "SLACK_BOT_TOKEN",
        f"xoxb-{r.randint(10**9, 10**10)}-{r.randint(10**12, 10**13)}-" + _rand(r, ALNUM, 24),
    ),
    "slack-webhook": lambda r: (
        "SLACK_WEBHOOK_URL",
        "https://hooks.slack.com/services/T"
        + _rand(r, string.ascii_uppercase + string.digits, 8)
        + "/B"
        + _rand(r, string.ascii_uppercase + string.digits, 8)
        + "/"
        + _rand(r, ALNUM, 24),
    ),
    "discord-webhook": lambda r: (
        "DISCORD_WEBHOOK",
        f"https://discord.com/api/webhooks/{r.randint(10**17, 10**18)}/" + _rand(r, URLSAFE, 68),
    ),
    "telegram": lambda r: ("TELEGRAM_BOT_TOKEN", f"{r.randint(10**9, 7 * 10**9)}:AA" + _rand(r, URLSAFE, 33)),
    "openai": lambda r: ("OPENAI_API_KEY", "sk-proj-" + _rand(r, URLSAFE, 64)),
    "anthropic": lambda r: ("ANTHROPIC_API_KEY", "sk-ant-api03-" + _rand(r, URLSAFE, 93)),
    "google": lambda r: ("GOOGLE_API_KEY", "AIza" + _rand(r, URLSAFE, 35)),
    "azure-storage": lambda r: (
        "AZURE_STORAGE_CONNECTION_STRING",
        "DefaultEndpointsProtocol=https;AccountName=opsdata;"
        "AccountKey=" + _rand(r, B64, 86) + "==;EndpointSuffix=core.windows.net",
    ),
    "digitalocean": lambda r: ("DIGITALOCEAN_TOKEN", "dop_v1_" + _rand(r, HEX, 64)),
    "datadog": lambda r: ("DD_API_KEY", _rand(r, HEX, 32)),
    "newrelic": lambda r: (
        "NEW_RELIC_API_KEY",
        "NRAK-" + _rand(r, string.ascii_uppercase + string.digits, 27),
    ),
    "shopify": lambda r: ("SHOPIFY_ACCESS_TOKEN", "shpat_" + _rand(r, HEX, 32)),
    "hf": lambda r: ("HF_TOKEN", "hf_" + _rand(r, string.ascii_letters, 34)),
    "vault": lambda r: ("VAULT_TOKEN", "hvs." + _rand(r, URLSAFE, 90)),
    "postgres-url": lambda r: ("DATABASE_URL", f"postgres://ops:{_password(r)}@db.internal:5432/ops"),
    "mongo-url": lambda r: (
        "MONGO_URL",
        f"mongodb+srv://app:{_rand(r, ALNUM, 16)}@cluster0.x1y2z.mongodb.net/prod",
    ),
    "redis-url": lambda r: ("REDIS_URL", f"redis://default:{_rand(r, ALNUM, 20)}@cache.internal:6379/0"),
    "db-password": lambda r: ("DB_PASSWORD", _password(r)),
    "smtp-password": lambda r: ("SMTP_PASSWORD", _password(r)),
    "django": lambda r: (
        "SECRET_KEY",
        "django-insecure-" + _rand(r, string.ascii_lowercase + string.digits + "!@#%^&*(-_=+)", 50),
    ),
    "jwt-secret": lambda r: ("JWT_SECRET", _rand(r, ALNUM, 32)),
    "api-key": lambda r: ("INTERNAL_API_KEY", _rand(r, ALNUM, 40)),
    "jwt": lambda r: ("SERVICE_JWT", _jwt(r)),
    "client-secret": lambda r: ("OAUTH_CLIENT_SECRET", _rand(r, URLSAFE, 40)),
    "webhook-secret": lambda r: ("WEBHOOK_SIGNING_SECRET", _rand(r, HEX, 64)),
    "encryption-key": lambda r: ("FERNET_KEY", base64.urlsafe_b64encode(r.randbytes(32)).decode()),
}

# Look-alikes: (variable name, value) that are not secrets.
BENIGN: dict[str, Callable[[random.Random], tuple[str, str]]] = {
    "env-ref": lambda r: ("GITHUB_TOKEN", "${GITHUB_TOKEN}"),
    "env-ref-2": lambda r: ("DB_PASSWORD", "${DB_PASSWORD:-}"),
    "placeholder": lambda r: ("STRIPE_SECRET_KEY", "<your-stripe-secret-key>"),
    "changeme": lambda r: ("DB_PASSWORD", "changeme"),
    "xxx": lambda r: ("API_KEY", "xxxxxxxxxxxxxxxxxxxxxxxx"),
    "stars": lambda r: ("SMTP_PASSWORD", "********"),
    "aws-example": lambda r: ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"),
    "aws-example-secret": lambda r: ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    "publishable": lambda r: ("STRIPE_PUBLISHABLE_KEY", "pk_live_" + _rand(r, ALNUM, 99)),
    "publishable-test": lambda r: ("NEXT_PUBLIC_STRIPE_KEY", "pk_test_" + _rand(r, ALNUM, 99)),
    "uuid": lambda r: ("TENANT_ID", str(uuid.UUID(int=r.getrandbits(128)))),
    "sha": lambda r: ("BUILD_SHA", hashlib.sha1(str(r.random()).encode()).hexdigest()),
    "sha256": lambda r: ("ASSET_CHECKSUM", hashlib.sha256(str(r.random()).encode()).hexdigest()),
    "secret-name": lambda r: ("DB_SECRET_NAME", "ops-prod-db-credentials"),
    "token-ttl": lambda r: ("TOKEN_TTL_SECONDS", str(r.choice([300, 3600, 86400]))),
    "password-len": lambda r: ("PASSWORD_MIN_LENGTH", str(r.randint(8, 16))),
    "key-header": lambda r: ("API_KEY_HEADER", "X-Api-Key"),
    "url-no-creds": lambda r: ("API_BASE_URL", "https://api.ops.internal/v2"),
    "url-env-creds": lambda r: ("DATABASE_URL", "postgres://ops:${DB_PASSWORD}@db.internal:5432/ops"),
    "local-db": lambda r: ("TEST_DATABASE_URL", "postgres://postgres:postgres@localhost:5432/test"),
    "dummy": lambda r: ("SENTRY_DSN", ""),
    "bool": lambda r: ("SECRET_ROTATION_ENABLED", "true"),
    "region": lambda r: ("AWS_REGION", "eu-west-1"),
    "bucket": lambda r: ("S3_BUCKET", "ops-invoices-prod"),
    "empty": lambda r: ("SLACK_BOT_TOKEN", ""),
    "doc-token": lambda r: ("GITHUB_TOKEN", "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
    "truncated": lambda r: ("OPENAI_API_KEY", "sk-proj-..."),
    "null": lambda r: ("AUTH_TOKEN", "null"),
    "token-url": lambda r: ("AUTH_TOKEN_URL", "https://auth.ops.internal/oauth/token"),
    "key-path": lambda r: ("SECRET_KEY_PATH", "/etc/ops/secret.key"),
    "cookie-name": lambda r: ("SESSION_TOKEN_COOKIE", "ops_session"),
    "reset-timeout": lambda r: ("PASSWORD_RESET_TIMEOUT", "86400"),
    "template": lambda r: ("CSRF_TOKEN", "{{ csrf_token }}"),
    "i18n": lambda r: ("PASSWORD_LABEL", "auth.password.label"),
    "etag": lambda r: ("CACHE_KEY", hashlib.md5(str(r.random()).encode()).hexdigest()),
    "vault-path": lambda r: ("DB_PASSWORD", "vault:secret/data/ops#db_password"),
    "ssm": lambda r: ("API_KEY", "ssm:/ops/prod/api_key"),
    "kms": lambda r: ("ENCRYPTION_KEY_ID", "alias/ops-prod"),
    "arn": lambda r: (
        "SECRET_ARN",
        f"arn:aws:secretsmanager:eu-west-1:{r.randint(10**11, 10**12)}:secret:ops-db",
    ),
}


class _Writer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.cases: list[Case] = []

    def file(self, path: str, lines: list[tuple[str, str | None, str]]) -> None:
        """Write ``path``; each line is (text, kind or None, label). Multi-line texts label their first line."""
        out: list[str] = []
        for text, kind, label in lines:
            if kind is not None:
                self.cases.append(Case(path, len(out) + 1, kind, label))
            out += text.split("\n")
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("\n".join(out) + "\n")


def _styles(name: str, value: str) -> dict[str, str]:
    """The same assignment in each file style."""
    quoted = json.dumps(value)
    return {
        ".env": f"{name}={value}",
        ".yaml": f"  {name.lower()}: {quoted}",
        ".py": f"{name} = {quoted}",
        ".js": f"  {''.join(p.capitalize() if i else p.lower() for i, p in enumerate(name.split('_')))}: {quoted},",
        ".json": f'  "{name}": {quoted},',
        ".sh": f"export {name}={quoted}",
        ".tfvars": f"{name.lower()} = {quoted}",
        "Dockerfile": f"ENV {name}={quoted}",
    }


_PROLOGUE = {
    ".env": ["# Ops app settings", "APP_ENV=production", "LOG_LEVEL=info"],
    ".yaml": ["service:", "  name: invoices", "  replicas: 2", "env:"],
    ".py": ['"""Settings for the ops app."""', "import os", "", "DEBUG = False"],
    ".js": ["// Runtime configuration", "module.exports = {", "  port: 8080,"],
    ".json": ["{", '  "name": "ops-app",'],
    ".sh": ["#!/bin/sh", "set -eu", "# deploy environment"],
    ".tfvars": ["# terraform variables", 'region = "eu-west-1"'],
    "Dockerfile": ["FROM python:3.12-slim", "WORKDIR /app"],
}
_EPILOGUE = {".js": ["};"], ".json": ['  "version": 1', "}"]}


def build(root: Path, seed: int = 20261129, files_per_style: int = 12) -> list[Case]:
    rng = random.Random(seed)
    writer = _Writer(root)
    secret_kinds = list(SECRETS)
    benign_kinds = list(BENIGN)
    for style in _PROLOGUE:
        for index in range(files_per_style):
            lines: list[tuple[str, str | None, str]] = [(text, None, "") for text in _PROLOGUE[style]]
            for _ in range(rng.randint(6, 12)):
                if rng.random() < 0.45:
                    kind = rng.choice(secret_kinds)
                    name, value = SECRETS[kind](rng)
                    lines.append((_styles(name, value)[style], "secret", kind))
                else:
                    kind = rng.choice(benign_kinds)
                    name, value = BENIGN[kind](rng)
                    lines.append((_styles(name, value)[style], "benign", kind))
            lines += [(text, None, "") for text in _EPILOGUE.get(style, [])]
            name = f"Dockerfile.{index}" if style == "Dockerfile" else f"config_{index}{style}"
            writer.file(f"{style.strip('.')}/{name}", lines)
    _special_files(writer, rng)
    return writer.cases


def _special_files(writer: _Writer, rng: random.Random) -> None:
    """Formats that are not one assignment per line: keys, manifests, code, lock files, docs."""
    for i in range(8):
        writer.file(
            f"keys/deploy_{i}.pem",
            [(_pem(rng, rng.choice(["RSA ", "EC ", "OPENSSH ", ""])), "secret", "pem")],
        )
        writer.file(
            f"keys/deploy_{i}.pub",
            [(f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{_rand(rng, B64, 43)} ops@ci", "benign", "public-key")],
        )
    for i in range(6):
        token = "ghp_" + _rand(rng, ALNUM, 36)
        password = _password(rng)
        writer.file(
            f"k8s/secret_{i}.yaml",
            [
                ("apiVersion: v1", None, ""),
                ("kind: Secret", None, ""),
                ("metadata:", None, ""),
                ("  name: ops-app", None, ""),
                ("type: Opaque", None, ""),
                ("stringData:", None, ""),
                (f"  GITHUB_TOKEN: {token}", "secret", "k8s-token"),
                (f"  DB_PASSWORD: {json.dumps(password)}", "secret", "k8s-password"),
                ("  DB_HOST: db.internal", "benign", "k8s-host"),
            ],
        )
        writer.file(
            f"k8s/deployment_{i}.yaml",
            [
                ("env:", None, ""),
                ("  - name: DB_PASSWORD", None, ""),
                ("    valueFrom:", None, ""),
                ("      secretKeyRef: {name: ops-app, key: DB_PASSWORD}", "benign", "secret-ref"),
                ("  - name: API_TOKEN", None, ""),
                ("    value: $(API_TOKEN)", "benign", "k8s-env-ref"),
            ],
        )
    for i in range(10):
        writer.file(
            f"app/views_{i}.py",
            [
                ("from django import forms", None, ""),
                ("class LoginForm(forms.Form):", None, ""),
                ("    password = forms.CharField(widget=forms.PasswordInput)", "benign", "form-field"),
                ("def login(request):", None, ""),
                ('    password = request.POST["password"]', "benign", "request-field"),
                ('    token = request.headers.get("Authorization", "")', "benign", "header-read"),
                ("    if check_password(password, user.password_hash):", "benign", "comparison"),
                ('        api_key = os.environ["INTERNAL_API_KEY"]', "benign", "environ"),
                (
                    f'        return call("https://api.ops.internal", headers={{"Authorization": "Bearer {_jwt(rng)}"}})',
                    "secret",
                    "jwt-in-code",
                ),
                (f'    client = Client(api_key="{_rand(rng, ALNUM, 32)}")', "secret", "kwarg-key"),
                ("    reset_token = secrets.token_urlsafe(32)", "benign", "generated-token"),
                ('    label = _("Enter your password")', "benign", "ui-string"),
            ],
        )
        writer.file(
            f"web/api_{i}.ts",
            [
                ("const headers = { Authorization: `Bearer ${token}` };", "benign", "template-literal"),
                ("const apiKey = process.env.STRIPE_SECRET_KEY;", "benign", "process-env"),
                (
                    f'const stripe = new Stripe("sk_live_{_rand(rng, ALNUM, 99)}");',
                    "secret",
                    "stripe-in-code",
                ),
                (
                    f'export const publishableKey = "pk_live_{_rand(rng, ALNUM, 99)}";',
                    "benign",
                    "publishable",
                ),
                ("const passwordInput = document.querySelector('#password');", "benign", "dom"),
                (
                    f'const sentryDsn = "https://{_rand(rng, HEX, 32)}@o12345.ingest.sentry.io/678";',
                    "benign",
                    "sentry-dsn",
                ),
            ],
        )
    for i in range(4):
        lock: list[tuple[str, str | None, str]] = [
            ("# This file is automatically @generated by uv.", None, ""),
            ("version = 1", None, ""),
        ]
        for _ in range(40):
            digest = hashlib.sha256(str(rng.random()).encode()).hexdigest()
            lock.append(
                (
                    f'wheels = [{{ url = "https://files.example/pkg.whl", hash = "sha256:{digest}" }}]',
                    "benign",
                    "lock-hash",
                )
            )
        writer.file(f"locks/uv_{i}/uv.lock", lock)
        npm: list[tuple[str, str | None, str]] = [("{", None, ""), ('  "lockfileVersion": 3,', None, "")]
        for _ in range(30):
            integrity = base64.b64encode(hashlib.sha512(str(rng.random()).encode()).digest()).decode()
            npm.append((f'  "integrity": "sha512-{integrity}",', "benign", "npm-integrity"))
        npm.append(("}", None, ""))
        writer.file(f"locks/npm_{i}/package-lock.json", npm)
        writer.file(
            f"locks/go_{i}/go.sum",
            [
                (
                    f"github.com/acme/lib{j} v1.{j}.0 h1:{base64.b64encode(hashlib.sha256(str(rng.random()).encode()).digest()).decode()}",
                    "benign",
                    "go-sum",
                )
                for j in range(20)
            ],
        )
    for i in range(6):
        basic = base64.b64encode(f"ops-bot:{_password(rng)}".encode()).decode()
        writer.file(
            f"scripts/sync_{i}.sh",
            [
                ("#!/bin/sh", None, ""),
                (
                    f'curl -fsS -H "Authorization: Basic {basic}" https://billing.partner.example/api/export',
                    "secret",
                    "basic-auth",
                ),
                (
                    f"curl -fsS -H 'Authorization: Bearer {_rand(rng, URLSAFE, 40)}' https://api.ops.internal/sync",
                    "secret",
                    "bearer-header",
                ),
                (
                    'curl -fsS -H "Authorization: Bearer $OPS_TOKEN" https://api.ops.internal/sync',
                    "benign",
                    "bearer-env",
                ),
                ("printf '%s' \"$DB_PASSWORD\" | psql -h db.internal -U ops", "benign", "psql-env"),
            ],
        )
        writer.file(
            f"web/styles_{i}.css",
            [
                (f".btn-{_rand(rng, HEX, 8)} {{ color: #{_rand(rng, HEX, 6)}; }}", "benign", "css-hash"),
                (
                    f".logo {{ background: url(data:image/png;base64,{_rand(rng, B64, 120)}); }}",
                    "benign",
                    "data-uri",
                ),
            ],
        )
        writer.file(
            f"config/npmrc_{i}/.npmrc",
            [
                (f"//registry.npmjs.org/:_authToken=npm_{_rand(rng, ALNUM, 36)}", "secret", "npmrc"),
                ("@ops:registry=https://npm.pkg.github.com", "benign", "npm-scope"),
            ],
        )
        writer.file(
            f"config/pypirc_{i}/.pypirc",
            [
                ("[pypi]", None, ""),
                ("username = __token__", "benign", "pypirc-user"),
                (f"password = pypi-AgEIcHlwaS5vcmc{_rand(rng, URLSAFE, 70)}", "secret", "pypirc"),
            ],
        )
    for i in range(6):
        writer.file(
            f"docs/setup_{i}.md",
            [
                ("# Setting up the ops app", None, ""),
                (
                    "Set `GITHUB_TOKEN` to a personal access token (it starts with `ghp_`).",
                    "benign",
                    "doc-prose",
                ),
                ("export STRIPE_SECRET_KEY=sk_live_...", "benign", "doc-truncated"),
                ("aws configure set aws_access_key_id AKIAIOSFODNN7EXAMPLE", "benign", "doc-example"),
                ("DATABASE_URL=postgres://USER:PASSWORD@HOST:5432/DB", "benign", "doc-url"),
                ("curl -H 'Authorization: Bearer $TOKEN' https://api.ops.internal", "benign", "doc-curl"),
                (
                    f"Commit {hashlib.sha1(str(rng.random()).encode()).hexdigest()} fixed the login bug.",
                    "benign",
                    "doc-sha",
                ),
            ],
        )


@dataclass(frozen=True)
class Score:
    positives: int
    found: int
    negatives: int
    false_alarms: int
    unlabelled: int
    missed: tuple[Case, ...]
    flagged: tuple[Case, ...]

    @property
    def recall(self) -> float:
        return self.found / self.positives if self.positives else 1.0

    @property
    def false_positive_rate(self) -> float:
        """Flagged look-alikes, plus findings on lines with no label, over all look-alikes."""
        return (self.false_alarms + self.unlabelled) / self.negatives if self.negatives else 0.0


def score(cases: list[Case], flagged_lines: set[tuple[str, int]]) -> Score:
    labelled = {(c.path, c.line) for c in cases}
    missed = tuple(c for c in cases if c.kind == "secret" and (c.path, c.line) not in flagged_lines)
    flagged = tuple(c for c in cases if c.kind == "benign" and (c.path, c.line) in flagged_lines)
    positives = sum(c.kind == "secret" for c in cases)
    return Score(
        positives=positives,
        found=positives - len(missed),
        negatives=sum(c.kind == "benign" for c in cases),
        false_alarms=len(flagged),
        unlabelled=len(flagged_lines - labelled),
        missed=missed,
        flagged=flagged,
    )
