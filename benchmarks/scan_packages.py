"""Findings of an lr-ci on the source distributions of well-known packages: real code nobody tuned on.

Issue 17's held-out measurements are peers' test cases and the full histories of well-known open-source
repositories; the labelled corpus is hand-written and three tuning rounds on it left its unseen half at
1.4-1.9% false alarms. Real packages are the large body of code, docs, tests and configs nobody here wrote:
apart from key material committed on purpose (a test TLS key, a provider's documented test-mode key) almost
every finding in them is false, so the count per half, rule, severity and 10 MB says how often the filters let
a false alarm through.

The PACKAGES are split into a dev half and a test half by a hash of the package name, decided before any
finding is looked at. Tune on the dev half only; run the test half for aggregate counts only.

Usage:
    python benchmarks/scan_packages.py --download [--cache DIR]      # once: fetch and unpack every package
    python benchmarks/scan_packages.py --half dev --lr-ci PATH [--show]
    python benchmarks/scan_packages.py --half test --lr-ci PATH      # aggregates only; --show is refused

``--show`` (dev only) prints rule, severity, path, line and the line around the finding with the value
masked: never the secret (a real package might hold a real one).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

# fmt: off
#: PyPI projects (source distributions; a wheel when no sdist builds its metadata here).
PYPI: tuple[str, ...] = (
    # web frameworks and servers
    "django", "flask", "fastapi", "starlette", "werkzeug", "tornado", "aiohttp", "sanic", "falcon",
    "pyramid", "bottle", "quart", "litestar", "uvicorn", "gunicorn", "hypercorn", "channels",
    "djangorestframework", "django-allauth", "django-oauth-toolkit", "django-environ", "django-storages",
    "flask-login", "flask-security-too", "flask-jwt-extended", "flask-wtf", "wtforms", "itsdangerous",
    "jinja2", "mako", "markupsafe", "graphene", "strawberry-graphql", "ariadne", "connexion", "dash",
    "streamlit", "gradio", "websockets", "python-socketio", "python-multipart",
    # auth, crypto, JWT
    "pyjwt", "python-jose", "authlib", "oauthlib", "requests-oauthlib", "passlib", "bcrypt", "argon2-cffi",
    "cryptography", "pyopenssl", "paramiko", "pynacl", "pycryptodome", "jwcrypto", "josepy", "ecdsa", "rsa",
    "pyotp", "keyring", "msal", "google-auth", "google-auth-oauthlib", "python-keycloak", "social-auth-core",
    "hvac", "certifi", "trustme", "truststore", "asyncssh", "fido2", "webauthn", "itsdangerous",
    "python3-saml", "pysaml2", "ldap3", "kerberos", "pyspnego", "gssapi", "scramp",
    # cloud SDKs
    "boto3", "botocore", "s3transfer", "aiobotocore", "moto", "azure-identity", "azure-core",
    "azure-storage-blob", "azure-keyvault-secrets", "google-cloud-storage", "google-cloud-secret-manager",
    "google-api-core", "google-api-python-client", "oci", "openstacksdk", "python-novaclient", "kubernetes",
    "docker", "pulumi", "digitalocean", "linode-api4", "hcloud", "cloudflare",
    # HTTP clients and networking
    "requests", "httpx", "urllib3", "httpcore", "h11", "h2", "requests-toolbelt", "treq", "pycurl",
    "responses", "respx", "vcrpy", "betamax", "httpretty", "requests-mock", "pysocks", "dnspython",
    # databases, ORMs, caches, queues
    "sqlalchemy", "alembic", "psycopg", "psycopg2", "asyncpg", "pymysql", "mysqlclient", "aiomysql",
    "pymongo", "motor", "mongoengine", "redis", "aioredis", "cassandra-driver", "elasticsearch",
    "opensearch-py", "neo4j", "peewee", "pony", "tortoise-orm", "sqlmodel", "databases", "records",
    "clickhouse-driver", "snowflake-connector-python", "pyodbc", "oracledb", "influxdb-client", "celery",
    "kombu", "amqp", "pika", "aio-pika", "rq", "dramatiq", "huey", "kafka-python", "confluent-kafka",
    "nats-py", "paho-mqtt", "pymemcache", "pylibmc", "sqlparse", "dataset",
    # platforms, ops, CLIs
    "apache-airflow", "prefect", "dagster", "luigi", "ansible-core", "ansible", "salt", "fabric", "invoke",
    "pyinfra", "python-terraform", "docker-compose", "pre-commit", "tox", "nox", "click", "typer", "rich",
    "httpie", "awscli", "s3cmd", "gsutil", "mlflow", "wandb", "dvc", "sentry-sdk", "datadog", "newrelic",
    "opentelemetry-sdk", "prometheus-client", "supervisor", "fabric2", "buildbot", "jenkinsapi",
    "python-jenkins", "python-gitlab", "pygithub", "gitpython", "dulwich",
    # testing, docs, notebooks
    "pytest", "hypothesis", "faker", "factory-boy", "mimesis", "tox-gh-actions", "sphinx", "mkdocs",
    "mkdocs-material", "docutils", "pdoc", "jupyter-server", "notebook", "jupyterlab", "nbconvert",
    "nbformat", "ipython", "jupyterhub", "oauthenticator", "voila", "pelican", "nikola", "mkdocstrings",
    # service SDKs
    "twilio", "stripe", "sendgrid", "slack-sdk", "slack-bolt", "openai", "anthropic", "cohere", "mailchimp3",
    "mailgun", "postmarker", "plivo", "vonage", "telethon", "python-telegram-bot", "discord-py", "tweepy",
    "praw", "shopifyapi", "paypalrestsdk", "braintree", "square", "adyen", "hubspot-api-client",
    "simple-salesforce", "jira", "atlassian-python-api", "pygitlab", "zenpy", "intercom-python",
    "segment-analytics-python", "mixpanel", "posthog", "algoliasearch", "pinecone",
    "airtable-python-wrapper", "notion-client", "dropbox", "box-sdk-gen", "pysftp", "smbprotocol",
    "huggingface-hub", "transformers", "langchain-core", "llama-index-core", "google-generativeai",
    "mistralai", "replicate", "groq", "pusher", "firebase-admin", "supabase", "auth0-python", "okta",
    "onelogin", "duo-client", "pyfcm", "apns2", "boxsdk",
    # misc well-known libraries with configs, fixtures, docs
    "pydantic", "pydantic-settings", "python-dotenv", "dynaconf", "environs", "hydra-core", "omegaconf",
    "pyyaml", "toml", "tomlkit", "configobj", "marshmallow", "attrs", "cattrs", "arrow", "pendulum",
    "scrapy", "beautifulsoup4", "lxml", "selenium", "playwright", "locust", "pandas", "numpy",
    "scikit-learn", "matplotlib", "bokeh", "sympy", "networkx", "pillow", "setuptools", "pip", "poetry",
    "hatch", "twine", "virtualenv", "pipenv", "black", "ruff", "mypy", "pylint", "bandit", "safety",
    "detect-secrets", "semgrep", "checkov", "trufflehog3", "yamllint", "ansible-lint",
)

#: npm packages (``npm pack`` tarballs).
NPM: tuple[str, ...] = (
    "express", "koa", "fastify", "hapi", "@hapi/hapi", "next", "nuxt", "@nestjs/core", "socket.io",
    "jsonwebtoken", "jose", "passport", "passport-jwt", "passport-google-oauth20", "bcryptjs", "bcrypt",
    "node-forge", "crypto-js", "jwks-rsa", "oauth4webapi", "openid-client", "next-auth", "@auth/core",
    "axios", "node-fetch", "got", "undici", "superagent", "request", "nock", "msw", "aws-sdk",
    "@aws-sdk/client-s3", "@azure/identity", "@google-cloud/storage", "firebase", "firebase-admin", "pg",
    "mysql2", "mongodb", "mongoose", "redis", "ioredis", "sequelize", "typeorm", "prisma", "knex", "bull",
    "bullmq", "amqplib", "kafkajs", "stripe", "twilio", "@sendgrid/mail", "@slack/web-api", "openai",
    "@anthropic-ai/sdk", "discord.js", "nodemailer", "dotenv", "config", "convict", "webpack", "vite",
    "eslint", "jest", "mocha", "cypress", "puppeteer", "docusaurus", "@octokit/rest", "algoliasearch",
    "@sentry/node", "posthog-js", "mixpanel", "@supabase/supabase-js", "auth0", "@okta/okta-auth-js",
    "keycloak-js", "plaid", "@mailchimp/mailchimp_marketing",
)


# fmt: on


def half_of(name: str) -> str:
    """``dev`` or ``test`` from a hash of the package's name alone: fixed before any finding is seen."""
    return "dev" if hashlib.sha256(name.encode()).digest()[0] % 2 == 0 else "test"


def packages() -> list[tuple[str, str]]:
    """(ecosystem, name) for every package, once each."""
    seen: dict[tuple[str, str], None] = {}
    for name in PYPI:
        seen[("pypi", name)] = None
    for name in NPM:
        seen[("npm", name)] = None
    return list(seen)


def slug(ecosystem: str, name: str) -> str:
    """The package's folder name in the cache (``pypi-django``, ``npm-@aws-sdk+client-s3``)."""
    return f"{ecosystem}-{name.replace('/', '+')}"


def _unpack(archive: Path, into: Path) -> None:
    """Unpack a .tar.gz/.tgz/.zip/.whl without following links out of ``into``."""
    into.mkdir(parents=True, exist_ok=True)
    if archive.name.endswith((".zip", ".whl")):
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(into)
    else:
        with tarfile.open(archive) as tf:
            tf.extractall(into, filter="data")


def _quiet(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a download command, its output captured (a failure is reported by the caller)."""
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False, timeout=300)


def download_one(cache: Path, ecosystem: str, name: str) -> str:
    """Fetch and unpack one package into ``cache/src/<slug>`` (kept when present); says what happened."""
    dest = cache / "src" / slug(ecosystem, name)
    if dest.is_dir():
        return "cached"
    tmp = cache / "dl" / slug(ecosystem, name)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    kind = "sdist"
    if ecosystem == "npm":
        run = _quiet(["npm", "pack", name, "--silent"], tmp)
        kind = "npm"
    else:
        # No build isolation: an sdist's metadata is built with the backends installed beside pip (creating a
        # fresh build environment per package costs ~30 s); an sdist that cannot be prepared falls back to its
        # wheel (code without the tests and docs, still real code).
        base = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(tmp)]
        run = _quiet([*base, "--no-binary", ":all:", "--no-build-isolation", name], tmp)
        if not any(tmp.iterdir()):
            run = _quiet([*base, "--only-binary", ":all:", name], tmp)
            kind = "wheel"
    archives = list(tmp.iterdir())
    if not archives:
        return f"FAILED ({run.stderr.strip().splitlines()[-1:] if run.stderr else ''})"
    try:
        _unpack(archives[0], dest)
    except (tarfile.TarError, zipfile.BadZipFile, OSError) as exc:
        shutil.rmtree(dest, ignore_errors=True)
        return f"FAILED unpack ({exc})"
    shutil.rmtree(tmp, ignore_errors=True)
    return kind


def download(cache: Path, jobs: int) -> None:
    """Fetch every package once (parallel: mostly network time)."""
    todo = packages()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        outcomes = pool.map(lambda p: (p, download_one(cache, *p)), todo)
        for (ecosystem, name), outcome in outcomes:
            print(f"{ecosystem:5} {name:36} {outcome}", flush=True)


def size_of(path: Path) -> int:
    """Bytes of the regular files under ``path``."""
    return sum(
        os.path.getsize(os.path.join(root, f))
        for root, _, files in os.walk(path)
        for f in files
        if os.path.isfile(os.path.join(root, f)) and not os.path.islink(os.path.join(root, f))
    )


def scan(lr_ci: str, root: Path, path: str = ".") -> list[dict[str, Any]]:
    """The findings of ``lr-ci secrets PATH --format json`` run in the package's folder ``root``, as a user
    runs it in a checkout (paths in the report, and what they say about tests and docs, are relative to
    it); a folder at the report's cap is split by child."""
    program = os.path.abspath(lr_ci) if os.sep in lr_ci else lr_ci  # run from the package's folder
    run = subprocess.run(
        [program, "secrets", path, "--format", "json"], cwd=root, check=False, capture_output=True, text=True
    )
    try:
        findings: list[dict[str, Any]] = json.loads(run.stdout)["findings"]
    except (ValueError, KeyError):
        return []
    for finding in findings:
        finding["location"]["root"] = str(root)  # paths are the package's; context() reads them from here
    folder = root / path
    if len(findings) >= 990 and folder.is_dir():
        children = sorted(child for child in folder.iterdir() if not child.is_symlink())
        return [f for child in children for f in scan(lr_ci, root, child.relative_to(root).as_posix())]
    return findings


#: Rules whose value is key material (a private key in a test/docs path is committed on purpose).
_KEY_MATERIAL = ("private-key", "age-secret-key", "putty", "pgp-private", "ssh-")


def on_purpose(finding: dict[str, Any]) -> str | None:
    """Why a finding is a correct find, else None: key material in a test/docs/example path (a test TLS
    key), or a provider's documented test-mode key (a rule that says test/sandbox in its id or message)."""
    from lr_ci.secret_rules.severity import is_example_path

    rule = str(finding["rule"])
    if rule.startswith(_KEY_MATERIAL) and is_example_path(str(finding["location"]["path"])):
        return "key material in a test/docs path"
    message = str(finding.get("message", "")).lower()
    if "-test-" in rule or rule.endswith("-test") or "test-mode" in message or "sandbox" in message:
        return "a documented test-mode key"
    return None


def shown(finding: dict[str, Any]) -> str:
    """The finding's path as the package folder's name, then the path inside it."""
    where = finding["location"]
    return f"{os.path.basename(where.get('root', ''))}/{where['path']}"


def context(finding: dict[str, Any]) -> str:
    """The finding's line with the value masked from its column on: never the secret itself."""
    where = finding["location"]
    try:
        with open(os.path.join(where.get("root", ""), where["path"]), "rb") as fh:
            for number, raw in enumerate(fh, 1):
                if number == where["line"]:
                    line = raw.decode("utf-8", "replace").rstrip("\n")
                    break
            else:
                return ""
    except OSError:
        return ""
    col = max(int(where["column"]) - 1, 0)
    preview = str(finding.get("data", {}).get("secret_preview", ""))
    length = int(preview.rsplit("(", 1)[1].split(maxsplit=1)[0]) if "chars)" in preview else len(line) - col
    start = max(col - 80, 0)
    tail = line[col + length : col + length + 60]
    return f"{line[start:col]}«{length} chars»{tail}".strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cache", default=str(Path.home() / ".cache" / "lr-ci-bench" / "packages"))
    parser.add_argument("--download", action="store_true", help="fetch and unpack every package (once)")
    parser.add_argument("--jobs", type=int, default=2, help="parallel downloads or scans")
    parser.add_argument("--lr-ci", default=str(Path(sys.executable).with_name("lr-ci")))
    parser.add_argument("--half", choices=("dev", "test"))
    parser.add_argument("--show", action="store_true", help="dev only: every finding, its value masked")
    parser.add_argument(
        "--packages", help="dev only: a comma-separated subset of the half (a quick re-check)"
    )
    parser.add_argument("--list", action="store_true", help="print the packages of each half and exit")
    args = parser.parse_args()
    cache = Path(args.cache).expanduser()
    if args.list:
        for ecosystem, name in packages():
            print(half_of(name), ecosystem, name)
        return 0
    if args.download:
        download(cache, args.jobs)
        return 0
    if not args.half:
        parser.error("--half dev|test (or --download)")
    if (args.show or args.packages) and args.half != "dev":
        parser.error("--show is for the dev half only: the test half is measured, never looked at")
    chosen = [
        (e, n) for e, n in packages() if half_of(n) == args.half and (cache / "src" / slug(e, n)).is_dir()
    ]
    if args.packages:
        wanted = set(args.packages.split(","))
        chosen = [(e, n) for e, n in chosen if n in wanted or slug(e, n) in wanted]
    roots = [cache / "src" / slug(e, n) for e, n in chosen]
    total_bytes = sum(size_of(root) for root in roots)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(lambda root: scan(args.lr_ci, root), roots))
    findings: list[dict[str, Any]] = [f for found in results for f in found]
    per_package = Counter({root.name: len(found) for root, found in zip(roots, results, strict=True)})
    purposeful = [(f, why) for f in findings for why in [on_purpose(f)] if why]
    purposeful_ids = {id(f) for f, _ in purposeful}
    false = [f for f in findings if id(f) not in purposeful_ids]
    mb = total_bytes / 1e6
    print(f"half {args.half}: {len(chosen)} packages, {mb:.1f} MB")
    print(
        f"findings: {len(findings)}  on purpose: {len(purposeful)}  other (almost surely false): {len(false)}"
    )
    print(f"other per 10 MB: {len(false) / mb * 10 if mb else 0:.2f}")
    print("other by severity:", dict(sorted(Counter(f["severity"] for f in false).items())))
    failing = [f for f in false if f["severity"] in ("medium", "high", "critical")]
    print(
        f"other at medium+ (fails the default gate): {len(failing)}  per 10 MB: {len(failing) / mb * 10 if mb else 0:.2f}"
    )
    if args.half == "test":
        return 0
    print(
        "on purpose by family:", dict(Counter(f"{f['rule']}: {why}" for f, why in purposeful).most_common())
    )
    print("other by rule:", dict(Counter(f["rule"] for f in false).most_common()))
    print("per package:", {k: v for k, v in per_package.most_common() if v})
    if args.show:
        for f, why in sorted(
            purposeful, key=lambda fw: (fw[0]["location"]["path"], fw[0]["location"]["line"])
        ):
            path = shown(f)
            print(f"on-purpose {f['severity']:8} {f['rule']:28} {path}:{f['location']['line']}  ({why})")
        for f in sorted(false, key=lambda f: (f["rule"], f["location"]["path"], f["location"]["line"])):
            where = f["location"]
            path = shown(f)
            print(f"{f['severity']:8} {f['rule']:28} {path}:{where['line']}  {context(f)[:220]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
