"""Generic secret detection that reads real syntaxes (issue 17): a keyword near a value, in each syntax.

The rules are data (``rules/80-code.toml``, ``81-markup.toml``, ``82-command-line.toml``, ``90-generic.toml``)
and their own examples are walked by ``tests/test_secret_rules.py``; this file holds the issue's syntaxes as
a spec, scanned under the file names they live in (a ``.py`` file is code: an unquoted value there is an
expression, not a secret), the look-alikes the issue names, the severity policy of generic rules, and the
engine's ``decode = "base64"`` (the Kubernetes ``Secret`` values), tested by calling ``_decoded`` directly.

Every value is synthetic, made for these tests.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import pytest

from helpers.cli import Cli
from lr_ci.report import Severity
from lr_ci.secret_rules import engine
from lr_ci.secret_rules.engine import Rule, RuleSet, _decoded, _rule, default_rules, rule_data, scan

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

RULES_DIR = Path(engine.__file__).parent / "rules"
TOKEN = "Zq3Wm8Kx4Vn7Rt5Jp2Ls9Hd6"
PASSWORD = "Vq8rT2mWx5Lp"
B64_PASSWORD = base64.b64encode(PASSWORD.encode()).decode()
B64_PAIR = base64.b64encode(f"deploy:{PASSWORD}".encode()).decode()
B64_TOKEN = base64.b64encode(TOKEN.encode()).decode()
B64_CHANGEME = base64.b64encode(b"changeme").decode()
BCRYPT = "$2b$12$" + "Vq8rT2mWx5LpZ3nK7yB4cOa1b2c3d4e5f6g7h8i9j0kLmNoPqRsTu"

# (what the issue names, file name, content, the rule expected, the secret it must report)
FOUND: list[tuple[str, str, str, str, str]] = [
    # code assignment forms
    ("python", "app/settings.py", f'OPS_API_TOKEN = "{TOKEN}"\n', "generic-secret", TOKEN),
    (
        "python kwarg",
        "app/db.py",
        f'connect(host="db", password="{PASSWORD}")\n',
        "generic-password",
        PASSWORD,
    ),
    ("python annotation", "app/config.py", f'    api_key: str = "{TOKEN}"\n', "generic-secret", TOKEN),
    ("js const", "src/config.js", f"const stripeKey = '{TOKEN}';\n", "generic-secret", TOKEN),
    (
        "ts object literal",
        "src/config.ts",
        f'export const config = {{ slackBotToken: "{TOKEN}" }};\n',
        "generic-secret",
        TOKEN,
    ),
    ("ts annotation", "src/config.ts", f"const apiToken: string = '{TOKEN}';\n", "generic-secret", TOKEN),
    ("go :=", "cmd/main.go", f'\tgithubToken := "{TOKEN}"\n', "generic-secret", TOKEN),
    ("go struct field", "cmd/main.go", f'\tcfg := Config{{APIKey: "{TOKEN}"}}\n', "generic-secret", TOKEN),
    ("go backquote", "cmd/main.go", f"\tvar apiToken string = `{TOKEN}`\n", "generic-secret", TOKEN),
    (
        "java",
        "src/Main.java",
        f'private static final String SENDGRID_KEY = "{TOKEN}";\n',
        "generic-secret",
        TOKEN,
    ),
    ("kotlin", "src/Main.kt", f'val apiToken: String = "{TOKEN}"\n', "generic-secret", TOKEN),
    ("c# var", "src/Startup.cs", f'var apiKey = "{TOKEN}";\n', "generic-secret", TOKEN),
    ("c# verbatim", "src/Startup.cs", f'var smtpPassword = @"{PASSWORD}";\n', "generic-password", PASSWORD),
    ("c# attribute", "src/Startup.cs", f'[Webhook(Secret = "{TOKEN}")]\n', "generic-secret", TOKEN),
    ("c# dictionary", "src/Startup.cs", f'    ["OpsApiToken"] = "{TOKEN}",\n', "generic-secret", TOKEN),
    ("rust", "src/config.rs", f'pub const OPS_API_TOKEN: &str = "{TOKEN}";\n', "generic-secret", TOKEN),
    ("ruby ||=", "config/keys.rb", f"ENV['OPS_API_KEY'] ||= '{TOKEN}'\n", "generic-secret", TOKEN),
    ("php", "wp-config.php", f"define('DB_PASSWORD', '{PASSWORD}');\n", "generic-password", PASSWORD),
    ("shell export", "scripts/env.sh", f"export OPS_API_TOKEN={TOKEN}\n", "generic-secret", TOKEN),
    ("powershell", "deploy.ps1", f'$apiKey = "{TOKEN}"\n', "generic-secret", TOKEN),
    ("powershell env", "deploy.ps1", f"$env:OPS_API_TOKEN = '{TOKEN}'\n", "generic-secret", TOKEN),
    (
        "notebook",
        "explore.ipynb",
        f'    "os.environ[\\"OPS_API_KEY\\"] = \\"{TOKEN}\\"\\n",\n',
        "generic-secret",
        TOKEN,
    ),
    # a literal default is the secret
    (
        "os.environ.get",
        "app/settings.py",
        f'KEY = os.environ.get("OPS_API_KEY", "{TOKEN}")\n',
        "generic-secret",
        TOKEN,
    ),
    (
        "os.getenv",
        "app/settings.py",
        f"pw = os.getenv('DB_PASSWORD', '{PASSWORD}')\n",
        "generic-password",
        PASSWORD,
    ),
    (
        "decouple",
        "app/settings.py",
        f'PW = config("DB_PASSWORD", default="{PASSWORD}")\n',
        "generic-password",
        PASSWORD,
    ),
    (
        "process.env ||",
        "src/config.js",
        f'const k = process.env.OPS_API_KEY || "{TOKEN}";\n',
        "generic-secret",
        TOKEN,
    ),
    (
        "shell ${X:-v}",
        "docker-compose.yml",
        f"      - DB_PASSWORD=${{DB_PASSWORD:-{PASSWORD}}}\n",
        "generic-password",
        PASSWORD,
    ),
    # config formats
    (".env", ".env", f"OPS_API_TOKEN={TOKEN}\n", "generic-secret", TOKEN),
    ("yaml", "config/app.yml", f"ops:\n  api_token: {TOKEN}\n", "generic-secret", TOKEN),
    ("json", "appsettings.json", f'{{"Ops": {{"ApiKey": "{TOKEN}"}}}}\n', "generic-secret", TOKEN),
    ("toml", "config.toml", f'[ops]\napi_token = "{TOKEN}"\n', "generic-secret", TOKEN),
    ("ini", "settings.ini", f"[db]\npassword = {PASSWORD}\n", "generic-password", PASSWORD),
    (
        "properties",
        "application.properties",
        f"spring.datasource.password={PASSWORD}\n",
        "generic-password",
        PASSWORD,
    ),
    ("hcl", "main.tf", f'  administrator_login_password = "{PASSWORD}"\n', "generic-password", PASSWORD),
    (
        "terraform default",
        "variables.tf",
        f'variable "ops_api_token" {{\n  type = string\n  default = "{TOKEN}"\n}}\n',
        "terraform-variable-default",
        TOKEN,
    ),
    (
        "xml element",
        "settings.xml",
        f"<server><password>{PASSWORD}</password></server>\n",
        "xml-secret-element",
        PASSWORD,
    ),
    (
        "xml dotted element",
        "pom.xml",
        f"<db.password>{PASSWORD}</db.password>\n",
        "xml-secret-element",
        PASSWORD,
    ),
    (
        "xml add key/value",
        "Web.config",
        f'<add key="ApiKey" value="{TOKEN}"/>\n',
        "xml-secret-attribute",
        TOKEN,
    ),
    (
        "xml attribute",
        "app.config",
        f'<connection host="db" password="{PASSWORD}" />\n',
        "generic-password",
        PASSWORD,
    ),
    (
        "nuget ClearTextPassword",
        "NuGet.config",
        f'<packageSourceCredentials><ops><add key="ClearTextPassword" value="{PASSWORD}" /></ops></packageSourceCredentials>\n',
        "xml-secret-attribute",
        PASSWORD,
    ),
    (".npmrc _authToken", ".npmrc", f"//npm.ops.internal/:_authToken={TOKEN}\n", "npmrc-auth-token", TOKEN),
    (
        ".npmrc _password",
        ".npmrc",
        f"//npm.ops.internal/:_password={B64_PASSWORD}\n",
        "npmrc-auth",
        B64_PASSWORD,
    ),
    (".npmrc _auth", ".npmrc", f"_auth={B64_PAIR}\n", "npmrc-auth", B64_PAIR),
    (
        ".pypirc",
        ".pypirc",
        f"[ops]\nrepository = https://pypi.ops.internal\nusername = ci\npassword = {PASSWORD}\n",
        "generic-password",
        PASSWORD,
    ),
    (
        "docker config.json",
        ".docker/config.json",
        f'{{"auths": {{"r.ops.internal": {{"auth": "{B64_PAIR}"}}}}}}\n',
        "docker-config-auth",
        B64_PAIR,
    ),
    (
        "kubernetes Secret data",
        "k8s/secret.yaml",
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: ops\ntype: Opaque\ndata:\n  DB_PASSWORD: {B64_PASSWORD}\n",
        "kubernetes-secret-data",
        B64_PASSWORD,
    ),
    (
        "kubernetes Secret stringData",
        "k8s/secret.yaml",
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: ops\nstringData:\n  api_token: {TOKEN}\n",
        "generic-secret",
        TOKEN,
    ),
    (
        "kubernetes env list",
        "k8s/deploy.yaml",
        f'      env:\n        - name: OPS_API_TOKEN\n          value: "{TOKEN}"\n',
        "kubernetes-env-value",
        TOKEN,
    ),
    (
        ".netrc",
        ".netrc",
        f"machine api.ops.internal login ci password {PASSWORD}\n",
        "netrc-password",
        PASSWORD,
    ),
    # URLs and command lines
    (
        "url",
        "app/settings.py",
        f'DB = "postgres://ops:{PASSWORD}@db.internal:5432/ops"\n',
        "url-credentials",
        PASSWORD,
    ),
    (
        "url without user",
        "app/cache.py",
        f'REDIS = "redis://:{PASSWORD}@cache.internal:6379/0"\n',
        "url-credentials",
        PASSWORD,
    ),
    (
        "curl -u",
        "scripts/call.sh",
        f"curl -u deploy:{PASSWORD} https://ci.ops.internal/api\n",
        "curl-user-password",
        PASSWORD,
    ),
    (
        "curl --user",
        "scripts/call.sh",
        f"curl -s --user 'deploy:{PASSWORD}' https://ci.ops.internal\n",
        "curl-user-password",
        PASSWORD,
    ),
    (
        "mysql -p'..'",
        "scripts/dump.sh",
        f"mysqldump -u backup -p'{PASSWORD}' ops > ops.sql\n",
        "mysql-password-option",
        PASSWORD,
    ),
    (
        "mysql -p",
        "scripts/dump.sh",
        f"mysql -u root -p{PASSWORD} ops < dump.sql\n",
        "mysql-password-option",
        PASSWORD,
    ),
    (
        "sshpass -p",
        "scripts/up.sh",
        f"sshpass -p '{PASSWORD}' ssh ops@10.0.0.7 uptime\n",
        "sshpass-password",
        PASSWORD,
    ),
    (
        "--password=",
        "scripts/deploy.sh",
        f"wget --http-password={PASSWORD} https://repo.ops.internal/x\n",
        "cli-secret-option",
        PASSWORD,
    ),
    (
        "--token",
        "scripts/deploy.sh",
        f"ops-cli deploy --token {TOKEN} --env prod\n",
        "cli-secret-option",
        TOKEN,
    ),
    (
        "docker login -p",
        "ci/login.sh",
        f"docker login r.ops.internal -u ci -p {PASSWORD}\n",
        "registry-login-password",
        PASSWORD,
    ),
    (
        "ConvertTo-SecureString",
        "deploy.ps1",
        f'$pw = ConvertTo-SecureString "{PASSWORD}" -AsPlainText -Force\n',
        "powershell-plaintext-securestring",
        PASSWORD,
    ),
    (
        "NetworkCredential",
        "src/Job.cs",
        f'var c = new NetworkCredential(\n    "svc",\n    "{PASSWORD}");\n',
        "credential-constructor",
        PASSWORD,
    ),
    # logs
    (
        "log password=",
        "logs/app.log",
        f"2026-01-04 10:00:02 WARN login user=ops password={PASSWORD} ip=10.0.0.7\n",
        "generic-password",
        PASSWORD,
    ),
    ("log token:", "logs/app.log", f"2026-01-04 10:00:03 DEBUG token: {TOKEN}\n", "generic-secret", TOKEN),
    (
        "log json",
        "logs/app.log",
        f'{{"level": "debug", "access_token": "{TOKEN}"}}\n',
        "generic-secret",
        TOKEN,
    ),
    (
        "log bearer",
        "logs/http.log",
        f"2026-01-04 10:00:04 > Authorization: Bearer {TOKEN}\n",
        "bearer-token-header",
        TOKEN,
    ),
    # round two (issue 17, fp2): each syntax the issue names, in two more spellings written for this file
    (
        "xml attributes",
        "web.config",
        f'<add key="DbPassword" value="{PASSWORD}" enabled="true" />\n',
        "xml-secret-attribute",
        PASSWORD,
    ),
    (
        "xml element with attributes",
        "settings.xml",
        f'<password encrypted="false">{PASSWORD}</password>\n',
        "xml-secret-element",
        PASSWORD,
    ),
    (
        "xml CDATA",
        "app.xml",
        f"<Password><![CDATA[{PASSWORD}]]></Password>\n",
        "xml-secret-element",
        PASSWORD,
    ),
    (
        "xml on several lines",
        "app.xml",
        f"<connection>\n  <password>\n    {PASSWORD}\n  </password>\n</connection>\n",
        "xml-secret-element-lines",
        PASSWORD,
    ),
    (
        "xml on several lines, tabs and attributes",
        "pom.xml",
        f'<server>\n\t<apiToken type="plain">\n\t\t{TOKEN}\n\t</apiToken>\n</server>\n',
        "xml-secret-element-lines",
        TOKEN,
    ),
    (
        "hcl resource block",
        "main.tf",
        f'resource "mysql_user" "app" {{\n  user     = "app"\n  password = "{PASSWORD}"\n}}\n',
        "generic-password",
        PASSWORD,
    ),
    (
        "hcl provider block",
        "main.tf",
        f'provider "datadog" {{\n  api_key = "{TOKEN}"\n}}\n',
        "generic-secret",
        TOKEN,
    ),
    (
        "curl --user=u:p",
        "deploy.sh",
        f"curl --user=deploy:{PASSWORD} https://ops.internal/api\n",
        "curl-user-password",
        PASSWORD,
    ),
    (
        'curl -u "u:p"',
        "deploy.sh",
        f'curl -s -u "deploy:{PASSWORD}" -X POST https://ops.internal/api\n',
        "curl-user-password",
        PASSWORD,
    ),
    (
        "log line password: X",
        "app.log",
        f"2026-01-04 10:00:01 INFO login user=ops password: {PASSWORD} status=ok\n",
        "generic-password",
        PASSWORD,
    ),
    (
        "log line token=X",
        "server.log",
        f"[2026-01-04T10:00:01Z] DEBUG auth token={TOKEN} for user ops\n",
        "generic-secret",
        TOKEN,
    ),
    (
        "json log line",
        "app.log",
        f'{{"level":"debug","msg":"login","password":"{PASSWORD}"}}\n',
        "generic-password",
        PASSWORD,
    ),
    (
        "camelCase provider token, TypeScript",
        "app.ts",
        f'const stripeToken = "{TOKEN}";\n',
        "generic-secret",
        TOKEN,
    ),
    (
        "camelCase provider token, Kotlin",
        "Api.kt",
        f'private val mailgunToken: String = "{TOKEN}"\n',
        "generic-secret",
        TOKEN,
    ),
    (
        "camelCase provider token, Swift",
        "Api.swift",
        f'let sendbirdToken = "{TOKEN}"\n',
        "generic-secret",
        TOKEN,
    ),
    (
        "PascalCase provider token, C#",
        "Api.cs",
        f'private const string TwilioToken = "{TOKEN}";\n',
        "generic-secret",
        TOKEN,
    ),
    (
        "os.getenv single quotes",
        "settings.py",
        f"api_key = os.getenv('OPS_API_KEY', '{TOKEN}')\n",
        "generic-secret",
        TOKEN,
    ),
    (
        "os.environ.get single quotes",
        "settings.py",
        f"password = os.environ.get('DB_PASSWORD', '{PASSWORD}')\n",
        "generic-password",
        PASSWORD,
    ),
    (
        "ENV.fetch default",
        "config.rb",
        f"token = ENV.fetch('OPS_TOKEN', '{TOKEN}')\n",
        "generic-secret",
        TOKEN,
    ),
    ("setter, Java", "Db.java", f'dataSource.setPassword("{PASSWORD}");\n', "secret-setter-call", PASSWORD),
    (
        "builder, Java",
        "Client.java",
        f'OpsClient.builder().withApiKey("{TOKEN}").build();\n',
        "secret-setter-call",
        TOKEN,
    ),
    ("setter, Python", "seed.py", f"admin.set_password('{PASSWORD}')\n", "secret-setter-call", PASSWORD),
    ("Dockerfile ENV", "Dockerfile", f"ENV DB_PASSWORD={PASSWORD}\n", "generic-password", PASSWORD),
    ("Dockerfile ARG", "Dockerfile", f"ARG NPM_TOKEN={TOKEN}\n", "generic-secret", TOKEN),
    ("Windows set", "run.bat", f"set DB_PASSWORD={PASSWORD}\n", "generic-password", PASSWORD),
    (
        "JVM system property",
        "run.sh",
        f"java -Dspring.datasource.password={PASSWORD} -jar app.jar\n",
        "generic-password",
        PASSWORD,
    ),
]

# Look-alikes: values that are not secrets in the syntaxes above (the list, and references).
NOT_FOUND: list[tuple[str, str, str]] = [
    (
        "jenkins credentialsId",
        "Jenkinsfile",
        "withCredentials([string(credentialsId: 'c7d3f0e2-9b41-4c55-a1e8-3f6d2b9a7c10', variable: 'TOKEN')]) {\n",
    ),
    ("jenkins credentialsId yaml", "ci.yml", "credentialsId: 'a1b2c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d'\n"),
    ("name of a secret", "values.yaml", 'apiKeySecret: "NEXUS-GPT4-API-KEY"\n'),
    ("name of a secret as option", "ci.sh", "ops-cli deploy --token NEXUS-GPT4-API-KEY\n"),
    ("xml schema element", "schema.xsd", '<xs:element name="password" type="xs:string"/>\n'),
    ("xml schema attribute", "schema.xsd", '<xs:attribute name="apiKey" type="xs:string" use="required"/>\n'),
    ("command substitution", "env.sh", "export OPS_API_TOKEN=$(vault kv get -field=token secret/ops)\n"),
    ("backquote command", "env.sh", "OPS_API_TOKEN=`cat /run/secrets/ops-token`\n"),
    ("quoted command substitution", "env.sh", 'DB_PASSWORD="$(cat /run/secrets/db)"\n'),
    ("helm template", "values.yaml", 'password: "{{ .Values.db.password }}"\n'),
    ("github expression", "ci.yml", "token: ${{ secrets.GITHUB_TOKEN }}\n"),
    ("shell variable", "env.sh", "DB_PASSWORD=${DB_PASSWORD}\n"),
    ("environ lookup", "settings.py", 'api_key = os.environ["OPS_API_KEY"]\n'),
    ("getenv without default", "settings.py", 'api_key = os.getenv("OPS_API_KEY")\n'),
    ("empty default", "settings.py", 'api_key = os.environ.get("OPS_API_KEY", "")\n'),
    ("process.env", "config.js", "const apiKey = process.env.OPS_API_KEY;\n"),
    ("unquoted expression in code", "settings.py", "api_token = load_token_from_vault_or_fail()\n"),
    ("password hash key", "users.yml", 'passwordHash: "Zq3Wm8Kx4Vn7Rt5Jp2Ls9Hd6"\n'),
    ("token url", ".env", "OPS_TOKEN_URL=https://auth.ops.internal/oauth/token\n"),
    ("api key id", ".env", f"OPS_API_KEY_ID={TOKEN}\n"),
    ("publishable key", ".env", f"STRIPE_PUBLISHABLE_KEY={TOKEN}\n"),
    ("cache key", "settings.py", f'cache_key = "{TOKEN}"\n'),
    ("i18n prose", "en.json", '"passwordHint": "Use at least twelve characters and a symbol",\n'),
    ("password prompt", "login.py", 'password = getpass("Password for ops: ")\n'),
    (
        "k8s valueFrom",
        "deploy.yaml",
        "        - name: OPS_API_TOKEN\n          valueFrom:\n            secretKeyRef: {name: ops, key: token}\n",
    ),
    ("k8s ConfigMap data", "cm.yaml", f"apiVersion: v1\nkind: ConfigMap\ndata:\n  mode: {B64_PASSWORD}\n"),
    (
        "sealed secret",
        "sealed.yaml",
        "kind: SealedSecret\nspec:\n  encryptedData:\n    password: Ag" + "Zq3Wm8Kx4Vn7Rt5J" * 24 + "\n",
    ),
    (
        "docker password-stdin",
        "login.sh",
        'echo "$PW" | docker login -u ci --password-stdin r.ops.internal\n',
    ),
    ("mysql prompt", "dump.sh", "mysql -u root -p ops\n"),
    ("mysql port", "dump.sh", "mysql -h db -P 3306 -u root\n"),
    ("curl variables", "call.sh", 'curl -u "$CI_USER:$CI_PASSWORD" https://ci.ops.internal\n'),
    ("argparse option", "cli.py", 'parser.add_argument("--token", help="API token")\n'),
    ("npmrc variable", ".npmrc", "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n"),
    ("nuget variable", "NuGet.config", '<add key="ClearTextPassword" value="%NUGET_PASSWORD%" />\n'),
    (
        "terraform no default",
        "variables.tf",
        'variable "ops_api_token" {\n  type      = string\n  sensitive = true\n}\n',
    ),
    ("annotation string", "keys.py", '    private_key: "Optional[crypto.Ed25519PrivateKey]" = None,\n'),
    # round two (fp2): classes found scanning third-party code on this machine (site-packages, /usr/lib, /usr/share)
    ("private type name", "backend.py", '    private_key: "_OpsPrivateKey",\n'),
    ("regex as a value", "plugin.py", "    secret = r'([a-z0-9]{40})'\n"),
    ("regex group as a value", "lexer.py", "    _token = r'(?:[%s]+|%s)' % (_punct, _core)\n"),
    ("keyboard mash in an example", "client.py", "        'oauth_token_secret': 'jhsdkfa8734hgl',\n"),
    ("foreign placeholder words", "auth.py", "handler.add_password(user='klem', passwd='geheim$passwort')\n"),
    ("anonymous FTP password", "Ftp.pm", "     $pass = 'anonymous@'\n"),
    ("Perl method call", "Cwd.pm", "    $pwd = Ops::GetCwd();\n"),
    ("Perl hash element", "Sasl.pm", "  $self->callback(pass => $opt{password}) if exists $opt{password};\n"),
    ("C++ member assignment", "scanner.tcc", "   _M_token = _S_token_ord_char;\n"),
    ("timestamp under a pass key", "Result.pm", "    last_pass_time => '1319328376.08815',\n"),
    ("key file path", "openssl.cnf", "private_key = $dir/private/cakey.pem# The private key\n"),
    ("source path with a line", "build.log", "token=../../source4/auth/unix_token.c:133\n"),
    (
        "label in a blanked catalog",
        "django.mo",
        "Close Confirm password: Currently: Database error\n",
    ),
]


@pytest.mark.parametrize(("syntax", "path", "text", "rule_id", "secret"), FOUND, ids=[f[0] for f in FOUND])
def test_each_syntax_is_read(syntax: str, path: str, text: str, rule_id: str, secret: str) -> None:
    hits = scan(text.encode(), path)
    assert [(h.rule.id, h.secret) for h in hits] == [(rule_id, secret)], syntax


@pytest.mark.parametrize(("what", "path", "text"), NOT_FOUND, ids=[n[0] for n in NOT_FOUND])
def test_look_alikes_are_not_reported(what: str, path: str, text: str) -> None:
    hits = scan(text.encode(), path)
    assert [(h.rule.id, h.secret) for h in hits] == [], what


def test_a_provider_name_makes_a_key_of_key() -> None:
    """``stripeKey``/``SENDGRID_KEY`` are keys because a provider is named; ``sort_key`` is not."""
    for key in (
        "stripeKey",
        "SENDGRID_KEY",
        "mapboxAccessKey",
        "mixpanel_admin_key",
        "OPENAI_KEY",
        "twilioKey",
    ):
        hits = scan(f'{key} = "{TOKEN}"\n'.encode(), "config.env")
        assert [h.rule.id for h in hits] == ["generic-secret"], key
    for key in ("sort_key", "cache_key", "primary_key", "keyboard_key", "lookup_key", "stripe_public_key"):
        assert scan(f'{key} = "{TOKEN}"\n'.encode(), "config.env") == [], key


def _generic_tables() -> list[tuple[str, dict[str, object]]]:
    """(file name, rule table) of every rule in the generic rules files (80-89, 90-generic)."""
    tables = []
    for path in sorted(RULES_DIR.glob("*.toml")):
        if path.name.startswith(("8", "9")):
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            tables += [(path.name, table) for table in data.get("rules", [])]
    return tables


def test_generic_rules_are_medium_at_most_except_credentials_in_urls_and_headers() -> None:
    """A key says what a value is, nothing checks the value: medium. A password in a URL, a connection
    string or a Basic header is a credential by its syntax: high. None is critical."""
    high = {"url-credentials", "connection-string-password", "basic-auth-header"}
    tables = _generic_tables()
    assert len(tables) >= 20
    for name, table in tables:
        expected = Severity.HIGH if table["id"] in high else Severity.MEDIUM
        assert Severity(table["severity"]) == expected, (name, table["id"])


def test_no_rule_is_named_for_one_framework() -> None:
    """SECRET_KEY is every framework's: the rule for it names none (it fired as "Django" on Flask code)."""
    ids = {rule.id for rule in default_rules().rules}
    assert "django-secret-key" not in ids and "rails-secret-key-base" not in ids
    for text in ("SECRET_KEY = 'c1714Fd439ab6Kq2Wm8Zx4Vn7Rt5Jp3Ls9Qa'\n", f"secret_key_base: {TOKEN * 2}\n"):
        [hit] = scan(text.encode(), "config.env")
        assert hit.rule.id == "framework-secret-key" and "Django" not in hit.rule.description


def test_generic_rules_keywords_are_specific() -> None:
    """A keyword runs the rule's regex on its line: a short common word would run it on every line.

    The new syntaxes' keywords are at least 4 characters; the broad rules keep the words they always had
    (``key``, ``pwd``), which a provider name or a bigger word cannot replace.
    """
    for name, table in _generic_tables():
        keywords = table.get("keywords", [])  # (a rule scoped to file names may have none)
        assert isinstance(keywords, list) and (keywords or table.get("paths")), (name, table["id"])
        for keyword in keywords:
            assert len(keyword) >= 4 or keyword in {"key", "pwd", "://"}, (name, table["id"], keyword)


# --- decode = "base64" -------------------------------------------------------------------------------------


def test_decoded_returns_printable_text_or_nothing() -> None:
    assert _decoded(B64_PASSWORD) == PASSWORD
    assert _decoded(B64_PASSWORD.rstrip("=")) == PASSWORD  # without its padding
    assert _decoded(base64.urlsafe_b64encode(b"ops>>??~~pw").decode()) == "ops>>??~~pw"
    assert _decoded(base64.b64encode("pässwörd-ü".encode()).decode()) == "pässwörd-ü"
    assert _decoded(base64.b64encode(b"line1\nline2\t!").decode()) == "line1\nline2\t!"
    assert _decoded(base64.b64encode(bytes(range(0, 256, 7))).decode()) is None  # binary: encrypted data
    assert _decoded(base64.b64encode(b"ops\x00pw\x1b[0m").decode()) is None  # control characters
    assert _decoded("frontend") is None  # a word read as base64 is noise
    assert _decoded("abcde") is None  # no base64 has 4n+1 characters
    assert _decoded("not base64!") is None
    assert _decoded("ab+c_d") is None  # both alphabets at once
    assert _decoded("") is None


def _decode_rule(**extra: object) -> Rule:
    table = {
        "id": "b64",
        "description": "a base64 value",
        "severity": "medium",
        "regex": r"\bb64val: (?P<secret>[A-Za-z0-9+/=]{4,64})",
        "keywords": ["b64val"],
        "generic": True,
        "decode": "base64",
        **extra,
    }
    return _rule(rule_data(table))


def test_a_decode_rule_judges_the_decoded_text_and_points_at_the_encoded_value() -> None:
    rules = RuleSet((_decode_rule(entropy=2.5),), default_rules().placeholders)
    text = f"x: 1\n  b64val: {B64_PASSWORD}\n"
    [hit] = scan(text.encode(), "a.yaml", rules)
    assert (hit.secret, hit.line, hit.column) == (
        B64_PASSWORD,
        2,
        text.splitlines()[1].index(B64_PASSWORD) + 1,
    )
    placeholder = base64.b64encode(b"changeme").decode()  # judged as "changeme": a placeholder
    low_entropy = base64.b64encode(b"aaaaaaab").decode()  # judged as text of entropy 0.5
    binary = base64.b64encode(bytes(range(200, 240))).decode()
    for value in (placeholder, low_entropy, binary, "frontend"):
        assert scan(f"b64val: {value}\n".encode(), "a.yaml", rules) == [], value


def test_an_unknown_decoder_is_refused_when_rules_load() -> None:
    with pytest.raises(ValueError, match="b64: unknown decode 'rot13'"):
        _decode_rule(decode="rot13")
    assert _decode_rule().decode == "base64"
    assert all(rule.decode in (None, "base64") for rule in default_rules().rules)


def test_kubernetes_secret_values_are_reported_encoded_and_only_in_secrets(tmp_path: Path, cli: Cli) -> None:
    """End to end: the finding names the line of the base64 value, never prints it or what it encodes."""
    manifest = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: ops\ntype: Opaque\ndata:\n"
        f"  username: {base64.b64encode(b'ops-bot').decode()}\n"
        f"  password: {B64_PASSWORD}\n"
        f"  api-token: {base64.b64encode(TOKEN.encode()).decode()}\n"
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ops\ndata:\n  LOG_LEVEL: info\n"
    )
    (tmp_path / "secret.yaml").write_text(manifest)
    result = cli("secrets", str(tmp_path), "--format", "json")
    assert result.code == 1
    findings = result.json()["findings"]
    assert sorted((f["rule"], f["location"]["line"], f["severity"]) for f in findings) == [
        ("kubernetes-secret-data", 8, "medium"),
        ("kubernetes-secret-data", 9, "medium"),
    ]
    for secret in (B64_PASSWORD, PASSWORD, TOKEN):
        assert secret not in result.out and secret not in json.dumps(findings)


# --- gaps that need a filter shared by every rule (the filters' slice: /work/wt-gfilter) -----------------


def test_base64_of_a_placeholder_under_a_password_key_is_not_reported() -> None:
    """The Kubernetes rule drops it (it judges the decoded text); generic-password still sees the encoded."""
    text = f"kind: Secret\ndata:\n  password: {base64.b64encode(b'password').decode()}\n"
    assert scan(text.encode(), "secret.yaml") == []


def test_a_letters_only_token_under_a_secret_key_is_reported() -> None:
    assert scan(b'OPS_API_TOKEN = "api_org_HqZxWmKvRtLpYnBcDfGjSaEuIoPtReWq"\n', "config.env") != []


# --- round four: syntaxes read by their general shape ------------------------------------------------------
# A key word, a separator other than `=`/`:` (white space after a directive, `<-`, a table border, a CSV
# comma, `=` after an option, the line under the key), then the value. The cases below are syntaxes no rule
# names: each is found by the shape the rule reads, not by a rule for its syntax.

SHAPES: list[tuple[str, str, str, str, str]] = [
    ("Dockerfile legacy ENV", "Dockerfile", f"ENV OPS_API_TOKEN {TOKEN}\n", "generic-key-value-line", TOKEN),
    (
        "Apache SetEnv",
        "conf/site.conf",
        f"    SetEnv DB_PASSWORD {PASSWORD}\n",
        "generic-key-value-line",
        PASSWORD,
    ),
    (
        "systemd Environment=",
        "app.service",
        f"Environment=DB_PASSWORD={PASSWORD} LOG_LEVEL=info\n",
        "option-key-value-pair",
        PASSWORD,
    ),
    (
        "ECS task definition",
        "task-def.json",
        f'{{"name": "DB_PASSWORD", "value": "{PASSWORD}"}}\n',
        "name-value-pair",
        PASSWORD,
    ),
    (
        "HTML meta",
        "index.html",
        f'<meta name="ops-api-token" content="{TOKEN}">\n',
        "name-value-pair",
        TOKEN,
    ),
    (
        "az --name --value",
        "deploy.sh",
        f'az keyvault secret set --vault-name kv --name db-password --value "{PASSWORD}"\n',
        "name-value-pair",
        PASSWORD,
    ),
    (
        "Gradle DSL call",
        "build.gradle",
        f"credentials {{\n    password '{PASSWORD}'\n}}\n",
        "generic-key-value-line",
        PASSWORD,
    ),
    ("csh setenv", "env.csh", f"setenv OPS_API_TOKEN {TOKEN}\n", "generic-key-value-line", TOKEN),
    ("fish set -gx", "config.fish", f"set -gx OPS_API_TOKEN {TOKEN}\n", "generic-key-value-line", TOKEN),
    ("C #define", "src/keys.h", f'#define OPS_API_KEY "{TOKEN}"\n', "generic-key-value-line", TOKEN),
    (
        "Objective-C #define",
        "src/Keys.m",
        f'#define kOpsApiToken @"{TOKEN}"\n',
        "generic-key-value-line",
        TOKEN,
    ),
    ("C++ pair", "src/main.cpp", f'm = {{{{"api_token", "{TOKEN}"}}}};\n', "literal-pair-secret", TOKEN),
    ("Emacs Lisp setq", "init.el", f'(setq ops-api-token "{TOKEN}")\n', "generic-key-value-line", TOKEN),
    ("Scheme define", "config.scm", f'(define ops-api-token "{TOKEN}")\n', "generic-key-value-line", TOKEN),
    ("Clojure keyword", "config.edn", f'{{:db-password "{PASSWORD}"}}\n', "generic-key-value-line", PASSWORD),
    (
        "Capistrano set",
        "config/deploy.rb",
        f"set :db_password, '{PASSWORD}'\n",
        "generic-key-value-line",
        PASSWORD,
    ),
    ("Elixir attribute", "lib/client.ex", f'  @api_token "{TOKEN}"\n', "generic-key-value-line", TOKEN),
    ("Tcl set", "deploy.tcl", f'set ops_api_token "{TOKEN}"\n', "generic-key-value-line", TOKEN),
    ("nginx set", "nginx.conf", f'    set $ops_api_token "{TOKEN}";\n', "generic-key-value-line", TOKEN),
    ("Windows setx", "setup.cmd", f'setx OPS_API_TOKEN "{TOKEN}"\n', "generic-key-value-line", TOKEN),
    ("properties, space", "app.properties", f"db.password {PASSWORD}\n", "generic-key-value-line", PASSWORD),
    ("R <-", "setup.R", f'ops_api_token <- "{TOKEN}"\n', "generic-key-value-line", TOKEN),
    (
        "Markdown table",
        "ops/runbook.md",
        f"| `OPS_API_TOKEN` | `{TOKEN}` |\n",
        "generic-key-value-line",
        TOKEN,
    ),
    ("TSV row", "ops/keys.tsv", f"OPS_API_TOKEN\t{TOKEN}\n", "generic-key-value-line", TOKEN),
    ("CSV row", "ops/keys.csv", f"OPS_API_TOKEN,{TOKEN}\n", "generic-key-value-line", TOKEN),
    (
        "kubectl --from-literal",
        "deploy.sh",
        f"kubectl create secret generic ops --from-literal=db_password={PASSWORD}\n",
        "option-key-value-pair",
        PASSWORD,
    ),
    (
        "docker --env=",
        "run.sh",
        f"docker run --env=OPS_API_TOKEN={TOKEN} ops/app\n",
        "option-key-value-pair",
        TOKEN,
    ),
    (
        "Authorization: token",
        "api.sh",
        f'wget --header="Authorization: token {TOKEN}" https://api.ops.internal/\n',
        "authorization-scheme-token",
        TOKEN,
    ),
    (
        "MySQL IDENTIFIED BY",
        "db/users.sql",
        f"CREATE USER 'ops'@'%' IDENTIFIED BY '{PASSWORD}';\n",
        "sql-password-literal",
        PASSWORD,
    ),
    (
        "PostgreSQL PASSWORD",
        "db/roles.sql",
        f"ALTER ROLE ops_rw WITH LOGIN PASSWORD '{PASSWORD}';\n",
        "sql-password-literal",
        PASSWORD,
    ),
    (
        "plist",
        "App/Info.plist",
        f"<dict>\n  <key>OpsApiToken</key>\n  <string>{TOKEN}</string>\n</dict>\n",
        "plist-key-value",
        TOKEN,
    ),
    (
        "YAML block scalar",
        "config/app.yml",
        f"ops_api_token: >-\n  {TOKEN}\n",
        "yaml-block-scalar-secret",
        TOKEN,
    ),
    ("spaced JSON key", "vendors.json", f'{{"Payments Api Key": "{TOKEN}"}}\n', "spaced-key-secret", TOKEN),
    # round five: the shapes round four left unread
    (
        "C# collection initialiser",
        "src/Defaults.cs",
        f'var d = new Dictionary<string, string> {{ {{ "ApiKey", "{TOKEN}" }} }};\n',
        "literal-pair-secret",
        TOKEN,
    ),
    (
        "Java array of pairs",
        "src/Defaults.java",
        f'static final String[][] DEFAULTS = {{{{"db.password", "{PASSWORD}"}}}};\n',
        "literal-pair-secret",
        PASSWORD,
    ),
    (
        "JS Map entries",
        "src/defaults.js",
        f'new Map([["apiToken", "{TOKEN}"]]);\n',
        "literal-pair-secret",
        TOKEN,
    ),
    (
        "Kotlin to",
        "src/Defaults.kt",
        f'val d = mapOf("apiToken" to "{TOKEN}")\n',
        "literal-pair-secret",
        TOKEN,
    ),
    ("Python '''", "app/settings.py", f"OPS_API_TOKEN = '''{TOKEN}'''\n", "triple-quoted-secret", TOKEN),
    (
        'Python """',
        "app/client.py",
        f'    db_password = """{PASSWORD}"""\n',
        "triple-quoted-secret",
        PASSWORD,
    ),
    ("TOML literal string", "config/ops.toml", f"api_token = '''{TOKEN}'''\n", "triple-quoted-secret", TOKEN),
    (
        "SQL INSERT",
        "db/seed.sql",
        f"INSERT INTO users (name, email, password) VALUES ('ops', 'ops@ops.internal', '{PASSWORD}');\n",
        "sql-insert-secret",
        PASSWORD,
    ),
    (
        "SQL UPDATE",
        "db/rotate.sql",
        f"UPDATE users SET password = '{PASSWORD}' WHERE name = 'ops';\n",
        "sql-password-literal",
        PASSWORD,
    ),
    (
        "Swift UserDefaults",
        "App/Session.swift",
        f'UserDefaults.standard.set("{TOKEN}", forKey: "apiToken")\n',
        "value-for-key-secret",
        TOKEN,
    ),
    (
        "Objective-C setObject:forKey:",
        "App/Session.m",
        f'[defaults setObject:@"{TOKEN}" forKey:@"apiToken"];\n',
        "value-for-key-secret",
        TOKEN,
    ),
    (
        "Keychain kSecValueData",
        "App/Keychain.swift",
        f'    kSecValueData as String: "{PASSWORD}".data(using: .utf8)!,\n',
        "value-for-key-secret",
        PASSWORD,
    ),
    (
        "gh secret set --body",
        "bootstrap.sh",
        f'gh secret set OPS_DEPLOY --body "{TOKEN}"\n',
        "secret-store-command",
        TOKEN,
    ),
    (
        "gh secret set -b",
        "bootstrap.sh",
        f"gh secret set OPS_DEPLOY -b {TOKEN}\n",
        "secret-store-command",
        TOKEN,
    ),
    (
        "heroku config:set",
        "heroku.sh",
        f"heroku config:set STRIPE={TOKEN} --app ops-api\n",
        "secret-store-command",
        TOKEN,
    ),
    ("fly secrets set", "fly.sh", f"fly secrets set UPSTREAM={TOKEN}\n", "secret-store-command", TOKEN),
    (
        "vercel env add",
        "vercel.sh",
        f'echo -n "{TOKEN}" | vercel env add OPS_UPSTREAM production\n',
        "secret-piped-to-store",
        TOKEN,
    ),
    (
        "doppler secrets set",
        "doppler.sh",
        f'doppler secrets set OPS_UPSTREAM="{TOKEN}"\n',
        "secret-store-command",
        TOKEN,
    ),
    ("Markdown bold label", "ops/notes.txt", f"**API key:** {TOKEN}\n", "markdown-label-secret", TOKEN),
    ("Markdown code span", "ops/notes.txt", f"- Password: `{PASSWORD}`\n", "markdown-label-secret", PASSWORD),
    ("YAML !!str", "config/app.yml", f"api_token: !!str {TOKEN}\n", "yaml-tagged-secret", TOKEN),
    # round five: more syntaxes real repositories hold
    ("C pointer", "src/keys.c", f'static const char *api_token = "{TOKEN}";\n', "c-string-secret", TOKEN),
    ("C array", "src/keys.c", f'static const char api_token[] = "{TOKEN}";\n', "c-string-secret", TOKEN),
    (
        "Spring @Value default",
        "src/Client.java",
        f'    @Value("${{ops.api-token:{TOKEN}}}")\n',
        "lookup-default-secret",
        TOKEN,
    ),
    (
        "Ruby ENV.fetch block",
        "config/ops.rb",
        f'TOKEN = ENV.fetch("OPS_API_TOKEN") {{ "{TOKEN}" }}\n',
        "lookup-default-secret",
        TOKEN,
    ),
    (
        "aws ssm put-parameter",
        "ssm.sh",
        f'aws ssm put-parameter --name /ops/upstream --type SecureString --value "{TOKEN}"\n',
        "secret-store-command",
        TOKEN,
    ),
    (
        "Kotlin ?: fallback",
        "src/Config.kt",
        f'val token = System.getenv("OPS_API_TOKEN") ?: "{TOKEN}"\n',
        "lookup-default-secret",
        TOKEN,
    ),
    (
        "Python or fallback",
        "app/settings.py",
        f'token = os.environ.get("OPS_API_TOKEN") or "{TOKEN}"\n',
        "lookup-default-secret",
        TOKEN,
    ),
    (
        "dict triple-quoted",
        "app/settings.py",
        f'cfg = {{\n    "api_token": """{TOKEN}""",\n}}\n',
        "triple-quoted-secret",
        TOKEN,
    ),
    (
        "SQL VALUES on the next line",
        "db/seed.sql",
        f"INSERT INTO users (name, password)\nVALUES ('ops', '{PASSWORD}');\n",
        "sql-insert-secret",
        PASSWORD,
    ),
    (
        "MySQL IDENTIFIED WITH",
        "db/users.sql",
        f"CREATE USER 'ops'@'%' IDENTIFIED WITH caching_sha2_password BY '{PASSWORD}';\n",
        "sql-password-literal",
        PASSWORD,
    ),
    (
        "MySQL GRANT",
        "db/users.sql",
        f"GRANT ALL ON ops.* TO 'ops'@'%' IDENTIFIED BY '{PASSWORD}';\n",
        "sql-password-literal",
        PASSWORD,
    ),
    (
        "MySQL SET PASSWORD",
        "db/users.sql",
        f"SET PASSWORD FOR 'ops'@'localhost' = PASSWORD('{PASSWORD}');\n",
        "sql-password-literal",
        PASSWORD,
    ),
    (
        "kubectl literal under any name",
        "deploy.sh",
        f"kubectl create secret generic ops --from-literal=stripe={TOKEN}\n",
        "secret-store-command",
        TOKEN,
    ),
    (
        "macOS security -w",
        "setup.sh",
        f'security add-generic-password -a ops -s ops-api -w "{TOKEN}"\n',
        "secret-store-command",
        TOKEN,
    ),
    (
        "registry login --password-stdin",
        "ci.sh",
        f'echo "{PASSWORD}" | docker login -u ci --password-stdin registry.ops.internal\n',
        "secret-piped-to-store",
        PASSWORD,
    ),
    ("redis.conf requirepass", "redis.conf", f"requirepass {PASSWORD}\n", "tool-password-argument", PASSWORD),
    (
        "redis-cli -a",
        "flush.sh",
        f"redis-cli -h cache.ops.internal -a {PASSWORD} FLUSHDB\n",
        "tool-password-argument",
        PASSWORD,
    ),
    (
        "sqlcmd -P",
        "restore.cmd",
        f"sqlcmd -S db -U sa -P {PASSWORD} -i r.sql\n",
        "tool-password-argument",
        PASSWORD,
    ),
    ("zip -P", "backup.sh", f"zip -r -P {PASSWORD} backup.zip dump/\n", "tool-password-argument", PASSWORD),
    (
        "ldapsearch -w",
        "ldap.sh",
        f'ldapsearch -x -D "cn=admin,dc=ops" -w {PASSWORD} -b "dc=ops"\n',
        "tool-password-argument",
        PASSWORD,
    ),
    (
        "rabbitmqctl add_user",
        "init.sh",
        f"rabbitmqctl add_user ops {PASSWORD}\n",
        "tool-password-argument",
        PASSWORD,
    ),
    (
        "wpa_supplicant psk",
        "wpa_supplicant.conf",
        f'  psk="{PASSWORD}"\n',
        "tool-password-argument",
        PASSWORD,
    ),
    (
        "Dockerfile chpasswd",
        "Dockerfile",
        f'RUN echo "root:{PASSWORD}" | chpasswd\n',
        "tool-password-argument",
        PASSWORD,
    ),
    (
        "wrangler secret put",
        "cf.sh",
        f"printf '%s' '{TOKEN}' | npx wrangler secret put OPS_UPSTREAM\n",
        "secret-piped-to-store",
        TOKEN,
    ),
    # round six: the last shapes read
    (
        "Go cmp.Or fallback",
        "internal/config/config.go",
        f'\tapiToken := cmp.Or(os.Getenv("OPS_API_TOKEN"), "{TOKEN}")\n',
        "lookup-default-secret",
        TOKEN,
    ),
    (".pgpass line", ".pgpass", f"db.ops.internal:5432:ops:ops_rw:{PASSWORD}\n", "pgpass-password", PASSWORD),
    (".pgpass wildcards", "deploy/pgpass", f"*:*:*:replicator:{PASSWORD}\n", "pgpass-password", PASSWORD),
    (
        ".pgpass other port",
        ".pgpass",
        f"db.ops.internal:15432:ops:ops_rw:{PASSWORD}\n",
        "pgpass-password",
        PASSWORD,
    ),
    (
        "pgbouncer userlist.txt",
        "pgbouncer/userlist.txt",
        f'"ops" "{PASSWORD}"\n',
        "pgbouncer-userlist-password",
        PASSWORD,
    ),
    (
        "npm config set _authToken",
        "publish.sh",
        f"npm config set //npm.ops.internal/:_authToken {TOKEN}\n",
        "npmrc-auth-token",
        TOKEN,
    ),
    (
        "yarn config set npmAuthToken",
        "publish.sh",
        f"yarn config set npmAuthToken {TOKEN}\n",
        "generic-key-value-line",
        TOKEN,
    ),
    (
        "C++ std::string constructor",
        "src/client.cpp",
        f'    std::string api_token("{TOKEN}");\n',
        "c-string-secret",
        TOKEN,
    ),
    (
        "C++ std::string braces",
        "src/defaults.hpp",
        f'const std::string kOpsApiKey{{"{TOKEN}"}};\n',
        "c-string-secret",
        TOKEN,
    ),
    (
        "triple-quoted keyword argument",
        "app/db.py",
        f'conn = connect(host="db.ops.internal", password="""{PASSWORD}""")\n',
        "triple-quoted-secret",
        PASSWORD,
    ),
    (
        "triple-single-quoted keyword argument",
        "app/clients.py",
        f"client = OpsClient(base_url=BASE_URL, api_token='''{TOKEN}''')\n",
        "triple-quoted-secret",
        TOKEN,
    ),
    (
        "YAML !!binary",
        "config/credentials.yml",
        f"ops:\n  api_token: !!binary {B64_TOKEN}\n",
        "yaml-binary-secret",
        B64_TOKEN,
    ),
    (
        "keytool -storepass",
        "keystore.sh",
        f"keytool -importkeystore -srckeystore ops.p12 -destkeystore ops.jks -storepass {PASSWORD}\n",
        "cli-secret-option",
        PASSWORD,
    ),
    (
        "dotnet user-secrets set",
        "setup-secrets.ps1",
        f'dotnet user-secrets set "Ops:ApiToken" "{TOKEN}"\n',
        "secret-store-command",
        TOKEN,
    ),
    (
        "mc alias set",
        "minio.sh",
        f"mc alias set ops https://s3.ops.internal ops-uploader {TOKEN}\n",
        "secret-store-command",
        TOKEN,
    ),
]
"""(syntax, file name, content, rule, secret)."""

UNREAD_SHAPES: list[tuple[str, str, str, str]] = []
"""Shapes no rule reads yet, each for a stated reason (docs/secrets.md, "What the generic rules read"). The
last one, pgbouncer's `userlist.txt` (`"user" "password"`: only the file's name says what it is), is read
since rules may be scoped to file names (`paths`)."""

SHAPE_LOOK_ALIKES: list[tuple[str, str, str]] = [
    ("ENV reference", "Dockerfile", "ENV OPS_API_TOKEN ${OPS_API_TOKEN}\n"),
    ("ENV a file", "Dockerfile", "ENV OPS_API_TOKEN_FILE /run/secrets/ops_api_token\n"),
    ("ENV a version", "Dockerfile", "ENV OPS_API_TOKEN_VERSION 2.14.1\n"),
    ("table of names", "ops/runbook.md", "| Token | Description |\n"),
    ("table placeholder", "ops/runbook.md", "| `OPS_API_TOKEN` | `<your-api-token>` |\n"),
    ("table id", "ops/runbook.md", "| `OPS_API_TOKEN_ID` | `3f1c2b7e-0a9d-4e6b-8c5f-2d7e9a1b4c60` |\n"),
    ("prose", "README.md", "Rotate the API key regularly and keep the token 12345 characters long\n"),
    ("prose with a quote", "README.md", f"The password '{PASSWORD}' is only in the vault\n"),
    ("SQL column", "db/schema.sql", "  password VARCHAR(255) NOT NULL,\n  api_token CHAR(64)\n"),
    ("package list", "lists/pypi.tsv", "AWSSDK.SecurityToken\t4.0.101.10\tApache-2.0\n"),
    ("services", "etc/services", "passwd-server\t752/udp\t\tpasswd_server\n"),
    ("lower-case word", "syntax/php.vim", "openssl_x509_check_private_key openssl_x509_checkpurpose\n"),
    ("code expression", "app/auth.py", "    return hmac(signing_key, payload1)\n"),
    ("SQL placeholder", "db/users.sql", "CREATE USER 'ops'@'%' IDENTIFIED BY '<password>';\n"),
    ("SQL bind parameter", "db/users.sql", "CREATE USER ops IDENTIFIED BY :new_password;\n"),
    (
        "Authorization reference",
        "api.sh",
        'curl -H "Authorization: token $GITHUB_TOKEN" https://api.ops.internal/\n',
    ),
    (
        "kubectl reference",
        "deploy.sh",
        'kubectl create secret generic ops --from-literal=db_password="$DB_PASSWORD"\n',
    ),
    ("plist identifier", "Info.plist", "<key>CFBundleIdentifier</key>\n<string>io.ops.OpsApp</string>\n"),
    ("YAML block script", "ci.yml", f"run: |\n  echo {TOKEN}\n"),
    ("YAML multi-line key block", "app.yml", f"signing_key: |\n  {TOKEN}\n  {TOKEN[::-1]}\n"),
    ("spaced key i18n", "fr.json", '{"Enter API Key": "Saisissez la clé API"}\n'),
    (
        "name/value reference",
        "task-def.json",
        '{"name": "DB_PASSWORD", "valueFrom": "arn:aws:ssm:eu-west-1:1:parameter/db"}\n',
    ),
    ("name/value not a secret", "task-def.json", f'{{"name": "LOG_LEVEL", "value": "{TOKEN}"}}\n'),
    ("systemd credential path", "app.service", "Environment=OPS_API_TOKEN=%d/ops_api_token\n"),
    # round five
    ("pair of two names", "src/main.cpp", '    {"api_token", "API_TOKEN"},\n'),
    ("pair with a format string", "src/main.cpp", '    {"api_token", "Bearer %s"},\n'),
    ("pair of i18n labels", "src/Labels.cs", '    { "Password", "Mot de passe" },\n'),
    ("Python tuple pair", "app/choices.py", f'    ("DB_PASSWORD", "{PASSWORD}"),\n'),
    ("docstring", "app/client.py", f'def rotate():\n    """{TOKEN}"""\n'),
    (
        "SQL hash in the password column",
        "db/seed.sql",
        f"INSERT INTO users (name, password) VALUES ('ops', '{BCRYPT}');\n",
    ),
    ("SQL bind parameters", "db/seed.sql", "INSERT INTO users (name, password) VALUES (?, ?);\n"),
    (
        "SQL value at another column",
        "db/seed.sql",
        f"INSERT INTO users (password, name) VALUES (?, '{PASSWORD}');\n",
    ),
    (
        "forKey: not a secret",
        "App/Session.swift",
        f'UserDefaults.standard.set("{TOKEN}", forKey: "lastDocument")\n',
    ),
    ("forKey: a variable", "App/Session.swift", 'UserDefaults.standard.set(token, forKey: "apiToken")\n'),
    ("gh secret set reference", "bootstrap.sh", 'gh secret set OPS_API_TOKEN --body "$OPS_API_TOKEN"\n'),
    ("gh secret set from a file", "bootstrap.sh", "gh secret set OPS_API_TOKEN < .secrets/ops_api_token\n"),
    ("heroku config:set a setting", "heroku.sh", "heroku config:set LOG_LEVEL=debug --app ops-api\n"),
    ("piped reference", "vercel.sh", 'echo -n "$OPS_API_TOKEN" | vercel env add OPS_API_TOKEN production\n'),
    ("Markdown label placeholder", "ops/notes.txt", "**API key:** `<your-api-key>`\n"),
    ("Markdown label reference", "ops/notes.txt", "- Password: `$DB_PASSWORD`\n"),
    ("Markdown label name", "ops/notes.txt", "**Token:** `OPS_API_TOKEN`\n"),
    ("YAML !secret", "configuration.yaml", "api_password: !secret api_password\n"),
    ("YAML !vault", "group_vars/all.yml", "api_token: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n"),
    ("YAML !env_var", "config/app.yml", "smtp_password: !env_var SMTP_PASSWORD\n"),
    ("shell :? is no default", ".env", "NPM_TOKEN=${NPM_TOKEN:?missing}\n"),
    ("lookup fallback reference", "src/Config.kt", 'val token = System.getenv("OPS_API_TOKEN") ?: ""\n'),
    (
        "kubectl literal reference",
        "deploy.sh",
        'kubectl create secret generic ops --from-literal=stripe="$STRIPE"\n',
    ),
    ("security prompts for it", "setup.sh", "security add-generic-password -a ops -s ops-api -w\n"),
    (
        "registry login reference",
        "ci.sh",
        'echo "$CI_REGISTRY_PASSWORD" | docker login -u ci --password-stdin r.ops.internal\n',
    ),
    ("MySQL GRANT without a password", "db/users.sql", "GRANT SELECT ON ops.* TO 'reporting'@'%';\n"),
    ("redis-cli reference", "flush.sh", 'redis-cli -a "$REDIS_PASSWORD" FLUSHDB\n'),
    ("redis-cli prompts", "flush.sh", "redis-cli --askpass FLUSHDB\n"),
    ("mongosh prompts", "mongo.sh", "mongosh -u ops -p --authenticationDatabase admin\n"),
    ("net user prompts", "setup.cmd", "net user svc_ops * /add\n"),
    ("chpasswd reference", "Dockerfile", 'RUN echo "root:${ROOT_PASSWORD}" | chpasswd\n'),
    ("redis.conf sample", "redis.conf", "# requirepass foobared\n"),
    # round six
    (
        "cmp.Or of two lookups",
        "config.go",
        '\tapiToken := cmp.Or(os.Getenv("OPS_API_TOKEN"), os.Getenv("LEGACY_OPS_TOKEN"))\n',
    ),
    ("cmp.Or of a setting", "config.go", f'\tregion := cmp.Or(os.Getenv("OPS_REGION"), "{TOKEN}")\n'),
    (".pgpass example pair", ".pgpass", "localhost:5432:*:postgres:postgres\n"),
    (".pgpass reference", ".pgpass", "db.ops.internal:5432:ops:ops_rw:$PGPASSWORD\n"),
    (".pgpass line in another file", "deploy/hosts.txt", f"db.ops.internal:5432:ops:ops_rw:{PASSWORD}\n"),
    ("userlist line in another file", "pgbouncer/users.txt", f'"ops" "{PASSWORD}"\n'),
    ("userlist md5 hash", "pgbouncer/userlist.txt", '"ops" "md5a3f9c2e7b1d5c8f4a6e0b2d7c9f1a3e5"\n'),
    ("a port mapping", "run.sh", "docker run -p 127.0.0.1:5432:5432 postgres:16\n"),
    (
        "npm config set reference",
        "publish.sh",
        'npm config set //npm.ops.internal/:_authToken "$NPM_TOKEN"\n',
    ),
    ("std::string from getenv", "client.cpp", '    std::string api_token(std::getenv("OPS_API_TOKEN"));\n'),
    ("std::string of a header name", "client.cpp", '    std::string api_token_header("X-Ops-Api-Token");\n'),
    ("triple-quoted kwarg placeholder", "app/db.py", 'conn = connect(password="""changeme""")\n'),
    ("!!binary of a placeholder", "config/app.yml", f"api_token: !!binary {B64_CHANGEME}\n"),
    (
        "!!binary image",
        "config/app.yml",
        "logo: !!binary iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk\n",
    ),
    (
        "!!binary bytes, not text",
        "config/app.yml",
        "db_password: !!binary /9j/4AAQSkZJRgABAQAAAQABAAD/2wBD\n",
    ),
    (
        "keytool storepass from env",
        "keystore.sh",
        "keytool -list -keystore ops.jks -storepass:env KEYSTORE_PASSWORD\n",
    ),
    ("keytool's default storepass", "keystore.sh", "keytool -list -keystore cacerts -storepass changeit\n"),
    (
        "mc alias references",
        "minio.sh",
        'mc alias set ops https://s3.ops.internal "$MINIO_ACCESS_KEY" "$MINIO_SECRET_KEY"\n',
    ),
    ("mc alias sample", "minio.sh", "mc alias set local http://localhost:9000 minioadmin minioadmin\n"),
    (
        "dotnet user-secrets reference",
        "setup.ps1",
        'dotnet user-secrets set "Ops:ApiToken" "$env:OPS_API_TOKEN"\n',
    ),
    ("compose sample password", "deploy/docker-compose.yml", "      MINIO_ROOT_PASSWORD: minio123\n"),
    ("playbook lab password", "playbooks/routers.yml", "    ansible_password: Cisco#123\n"),
    ("playbook box password", "playbooks/dev.yml", "    ansible_become_password: vagrant\n"),
    (
        "a module's EXAMPLES",
        "plugins/modules/integration.py",
        f"EXAMPLES = r'''\n- ops.cloud.integration:\n    api_token: {TOKEN}\n'''\n",
    ),
]


@pytest.mark.parametrize(
    ("syntax", "path", "text", "rule_id", "secret"),
    [s for s in SHAPES if s[3]],
    ids=[s[0] for s in SHAPES if s[3]],
)
def test_a_key_and_a_value_apart_are_read_by_their_shape(
    syntax: str, path: str, text: str, rule_id: str, secret: str
) -> None:
    hits = scan(text.encode(), path)
    assert [(h.rule.id, h.secret) for h in hits] == [(rule_id, secret)], syntax


@pytest.mark.parametrize(("what", "path", "text"), SHAPE_LOOK_ALIKES, ids=[s[0] for s in SHAPE_LOOK_ALIKES])
def test_the_same_shapes_holding_no_secret_are_not_reported(what: str, path: str, text: str) -> None:
    assert [(h.rule.id, h.secret) for h in scan(text.encode(), path)] == [], what


def test_every_shape_is_read() -> None:
    """No shape is left unread but those ``UNREAD_SHAPES`` names, each with its reason."""
    assert all(rule for _s, _p, _t, rule, _v in SHAPES)


def test_the_shapes_left_unread_are_still_unread() -> None:
    """When a rule reads one of them, it moves to ``SHAPES`` (none is left today)."""
    for what, path, text, _secret in UNREAD_SHAPES:
        assert [h.secret for h in scan(text.encode(), path)] == [], what


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("docs/handover.md", Severity.LOW),
        ("ops/handover.md", Severity.LOW),
        ("ops/notes.txt", Severity.MEDIUM),
    ],
)
def test_a_markdown_label_is_low_in_docs_and_medium_elsewhere(path: str, expected: Severity) -> None:
    """A label in documentation is most likely an example (the example-path policy makes it low); the same
    label in a notes file or a ticket template is a pasted secret, medium as every generic rule."""
    for text in (f"**API key:** {TOKEN}\n", f"- Password: `{PASSWORD}`\n"):
        [hit] = scan(text.encode(), path)
        assert (hit.rule.id, hit.severity) == ("markdown-label-secret", expected), (path, text)


def test_a_command_that_stores_a_secret_needs_no_key_word() -> None:
    """``gh secret set`` says its value is a secret: a name such as OPS_DEPLOY or STRIPE (no key word) is
    enough, while the same value after ``gh variable set`` is a setting."""
    assert [h.rule.id for h in scan(f"gh secret set OPS_DEPLOY -b {TOKEN}\n".encode(), "a.sh")] == [
        "secret-store-command"
    ]
    assert scan(f"gh variable set OPS_DEPLOY -b {TOKEN}\n".encode(), "a.sh") == []
