"""The files ``lr-ci init`` writes, as text with comments: a newcomer reads them before running anything."""

from __future__ import annotations

from lr_ci import __version__
from lr_ci.commands.init.detect import Repository

CHECKOUT = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2"

LOGIN_FLOWS = {
    "django": """[[smoke.flows.login.steps]]
name = "login page"
path = "/accounts/login/?next=/"

[[smoke.flows.login.steps]]
name = "sign in"
method = "POST"
# Submits the page's own form: Django's csrfmiddlewaretoken goes back as Django expects.
submit_form = { fields = { username = "${OPS_USER}", password = "${OPS_PASSWORD}" } }
expect = { status = 302, redirect = "/", cookies = { sessionid = { http_only = true } } }
""",
    "flask": """[[smoke.flows.login.steps]]
name = "login page"
path = "/login"

[[smoke.flows.login.steps]]
name = "sign in"
method = "POST"
# Submits the page's own form, Flask-WTF's csrf_token included.
submit_form = { fields = { email = "${OPS_USER}", password = "${OPS_PASSWORD}" } }
expect = { status = 302 }
""",
    "fastapi": """[[smoke.flows.login.steps]]
name = "token"
method = "POST"
path = "/token"
form = { username = "${OPS_USER}", password = "${OPS_PASSWORD}" }
capture = { access_token = { json = "$.access_token" } }

[[smoke.flows.login.steps]]
name = "who am I"
path = "/users/me"
headers = { Authorization = "Bearer {access_token}" }
expect = { status = 200 }
""",
}

GENERIC_LOGIN = """# A login flow, once you know your login page (see `lr-ci smoke --help` and README.md):
# [[smoke.flows.login.steps]]
# path = "/login"
# [[smoke.flows.login.steps]]
# method = "POST"
# submit_form = { fields = { username = "${OPS_USER}", password = "${OPS_PASSWORD}" } }
# expect = { status = [302, 303] }
"""


def lr_ci_toml(repo: Repository) -> str:
    parts = [
        """# lr-ci configuration, written by `lr-ci init`. Every table is optional: a check without one runs
# on its defaults. Validate with `lr-ci config check`; `lr-ci config schema` gives editors completion.
# Secrets never live here: write ${NAME} and the value comes from the environment (masked in all output).

[secrets]
# Works with no settings. Add globs of paths never scanned, e.g. test fixtures with fake keys:
# exclude = ["tests/fixtures/**"]
fail_on = "medium"
"""
    ]
    if repo.has_secrets_baseline:
        parts.append("""# Your detect-secrets baseline is honoured: its audited entries stay quiet.
detect_secrets_baseline = ".secrets.baseline"
""")
    parts.append("""
[smoke]
# Where the deployment answers; `lr-ci smoke --base-url URL` overrides it.
base_url = "https://ops.example.com"
timeout_s = 10

[smoke.flows.homepage]
steps = [{ name = "homepage", path = "/", expect = { status = 200 } }]

""")
    parts.append(LOGIN_FLOWS.get(repo.python_framework or "", GENERIC_LOGIN))
    parts.append("""
[p95]
# Latency gate: `lr-ci p95 --baseline STAGING_URL --candidate PREVIEW_URL` (pip install 'lr-ci[load]').
budget_ms = 300
max_ratio = 1.20
# Core routes (default: GET /). Routes behind a login can reuse a smoke flow: login_flow = "login"
# [[p95.routes]]
# path = "/api/invoices"
# budget_ms = 250
""")
    if repo.build_dir:
        parts.append(f'''
[bundle]
# {repo.bundler} writes its production build to {repo.build_dir}/.
dirs = ["{repo.build_dir}"]
compression = "gzip"

[[bundle.budgets]]
name = "javascript"
files = "**/*.js"
limit = "250 kB"

[[bundle.budgets]]
name = "css"
files = "**/*.css"
limit = "50 kB"
''')
    else:
        parts.append("""
# [bundle]: no frontend build detected (package.json with vite, webpack, next...). When you have one:
# [bundle]
# dirs = ["dist"]
""")
    return "".join(parts)


def pr_workflow(repo: Repository, commit: str) -> str:
    """The pull-request workflow, its lr-ci actions pinned to ``commit`` (this lr-ci's own)."""
    ref = pinned(commit)
    bundle_job = ""
    if repo.build_dir:
        bundle_job = f"""
  bundle:
    name: Bundle size
    runs-on: ubuntu-24.04
    timeout-minutes: 15
    permissions:
      contents: read
      actions: read # to read main's sizes artifact
      pull-requests: write # to comment the size table
    steps:
      - uses: {CHECKOUT}
        with:
          fetch-depth: 0
          persist-credentials: false
      - name: Build
        run: npm ci && npm run build
      - uses: lr-ci/lr-ci/actions/bundle@{ref}
        with:
          baseline-artifact: ${{{{ github.event_name == 'pull_request' && 'bundle-sizes' || '' }}}}
          save-baseline: ${{{{ github.event_name == 'push' && 'sizes.json' || '' }}}}
      - if: github.event_name == 'push'
        uses: actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02 # v4.6.2
        with:
          name: bundle-sizes
          path: sizes.json
"""
    return f"""# lr-ci checks, written by `lr-ci init --workflows`.
name: lr-ci

on:
  pull_request:
  push:
    branches: [main]

permissions: {{}}

concurrency:
  group: lr-ci-${{{{ github.ref }}}}
  cancel-in-progress: true

jobs:
  secrets:
    name: No secrets in the commits
    runs-on: ubuntu-24.04
    timeout-minutes: 10
    permissions:
      contents: read
    steps:
      - uses: {CHECKOUT}
        with:
          fetch-depth: 0
          persist-credentials: false
      - uses: lr-ci/lr-ci/actions/secrets@{ref}

  config:
    name: lr-ci.toml is valid
    runs-on: ubuntu-24.04
    timeout-minutes: 10
    permissions:
      contents: read
    steps:
      - uses: {CHECKOUT}
        with:
          persist-credentials: false
      - uses: lr-ci/lr-ci/actions/config@{ref}
{bundle_job}"""


def pinned(commit: str) -> str:
    """A ``uses:`` ref: the commit, and the version it is, as a comment (what Dependabot and zizmor read)."""
    return f"{commit} # v{__version__}"


def pre_commit(commit: str) -> str:
    """``.pre-commit-config.yaml`` with lr-ci's hooks at ``commit`` (frozen, as ``autoupdate --freeze``)."""
    return PRE_COMMIT.format(rev=f"{commit}  # frozen: v{__version__}")


PRE_COMMIT = """# Written by `lr-ci init --workflows`: secrets stop at commit; history is checked at push.
# Install: pip install pre-commit && pre-commit install --hook-type pre-commit --hook-type pre-push
repos:
  - repo: https://github.com/lr-ci/lr-ci
    rev: {rev}
    hooks:
      - id: lr-secrets
      - id: lr-secrets-history
      - id: lr-config
"""
