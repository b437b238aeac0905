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


def lr_ci_toml(repo: Repository, scheduled: bool = False) -> str:
    """The commented configuration; ``scheduled``: the uptime workflow is written too (its runs are
    5 minutes apart or more, so the uptime window is widened to fit two of them)."""
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
    parts.append(uptime_table(repo, scheduled))
    return "".join(parts)


UPTIME_BASE_URL = "https://ops.example.com"


def uptime_table(repo: Repository, scheduled: bool) -> str:
    """``[uptime]``: the homepage, the login flow when one is generated, the health endpoint when one was
    found in the source, and where alerts go (commented: the targets need the team's own URLs)."""
    if scheduled:
        window = """# .github/workflows/lr-ci-uptime.yml runs one round every 5 minutes or later: 2 failures
# fit in a 15-minute window, never in a 5-minute one. Running `lr-ci uptime run` as a service
# instead? Set window = "5m": it probes every interval and alerts within minutes.
window = "15m"
"""
    else:
        window = """# From a schedule (cron, GitHub Actions: runs 5 minutes apart or later) set
# window = "15m"; `lr-ci uptime run` as a service probes every interval and keeps this one.
window = "5m"
"""
    parts = [
        f"""
[uptime]
# Uptime monitors: `lr-ci uptime run` as a service (alerts within minutes), or `lr-ci uptime check --once`
# from a scheduler. An alert when a monitor failed `failures` times within `window` (consecutive or not),
# once per outage, and a notice when it recovers. Test the alert path: `lr-ci uptime test-alert`.
state = ".lr-ci/uptime.sqlite"
owner = "ops team <ops@example.com>"   # named in every alert
interval = "60s"
timeout = "10s"
failures = 2
{window}
[[uptime.monitors]]
name = "homepage"
url = "{UPTIME_BASE_URL}/"
status = 200
"""
    ]
    if repo.python_framework in LOGIN_FLOWS:
        parts.append("""
[[uptime.monitors]]
# The [smoke] login flow above, as a monitor: login still works (its credentials masked everywhere).
name = "login"
flow = "login"
interval = "2m"
""")
    else:
        parts.append("""
# Once [smoke] has a login flow, watch it too:
# [[uptime.monitors]]
# name = "login"
# flow = "login"
# interval = "2m"
""")
    if repo.health_path:
        parts.append(f"""
[[uptime.monitors]]
# {repo.health_path} is defined in {repo.health_source}. If it reports its dependencies, name them:
# json = ['$.checks.database == "ok"']
name = "health"
url = "{UPTIME_BASE_URL}{repo.health_path}"
status = 200
max_ms = 2000
""")
    else:
        parts.append(f"""
# No health endpoint found in the source. When the app has one (its database, its queue):
# [[uptime.monitors]]
# name = "health"
# url = "{UPTIME_BASE_URL}/healthz"
# json = ['$.checks.database == "ok"']
""")
    parts.append("""
# Where alerts go: uncomment one or more. Credentials come from the environment (${NAME}), never this file.
# lr-ci's own webhook, signed with HMAC-SHA256 (header X-Lr-Ci-Signature):
# [[uptime.notify]]
# webhook = "https://hooks.example.com/lr-ci"
# secret = "${UPTIME_WEBHOOK_SECRET}"
#
# Slack, Teams, Discord, email, ntfy, PagerDuty... through apprise (pip install 'lr-ci[uptime]'):
# [[uptime.notify]]
# url = "slack://${SLACK_TOKEN_A}/${SLACK_TOKEN_B}/${SLACK_TOKEN_C}/#ops"
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


CACHE_RESTORE = "actions/cache/restore@5a3ec84eff668545956fd18022155c47e93e2684 # v4.2.3"
CACHE_SAVE = "actions/cache/save@5a3ec84eff668545956fd18022155c47e93e2684 # v4.2.3"


def uptime_workflow(repo: Repository, commit: str) -> str:
    """The scheduled uptime workflow: one round every 5 minutes, the state file carried in the Actions
    cache, one run at a time, lr-ci's uptime action pinned to ``commit`` like the other workflows."""
    credentials = ""
    if repo.python_framework in LOGIN_FLOWS:
        credentials = (
            "          # The login monitor's flow reads these (masked in every output and alert).\n"
            "          OPS_USER: ${{ secrets.OPS_USER }}\n"
            "          OPS_PASSWORD: ${{ secrets.OPS_PASSWORD }}\n"
        )
    return f"""# lr-ci uptime from a schedule, written by `lr-ci init --workflows`: one round of every
# [uptime] monitor every 5 minutes, a GitHub issue per incident (commented on reminders, closed on
# recovery), and the alerts of lr-ci.toml's [[uptime.notify]].
#
# Schedules in GitHub Actions are best effort: runs start minutes late, never more often than every
# 5 minutes (hence [uptime] window = "15m"). For alerts within minutes run `lr-ci uptime run` as a service.
# The state file (open incidents, alerts already sent) goes from run to run through the Actions cache; the
# concurrency group queues runs so two never share it.
name: lr-ci uptime

on:
  schedule:
    - cron: "*/5 * * * *"
  workflow_dispatch:

permissions: {{}}

concurrency:
  group: lr-ci-uptime
  cancel-in-progress: false

jobs:
  uptime:
    name: Uptime round
    runs-on: ubuntu-24.04
    timeout-minutes: 10
    environment: uptime # the monitors' and alert targets' credentials are this environment's secrets
    permissions:
      contents: read
      issues: write # one issue per incident, with GITHUB_TOKEN
    steps:
      - uses: {CHECKOUT}
        with:
          persist-credentials: false
      - name: Restore the state file
        uses: {CACHE_RESTORE}
        with:
          path: .lr-ci
          key: lr-ci-uptime-${{{{ github.run_id }}}}-${{{{ github.run_attempt }}}}
          restore-keys: lr-ci-uptime-
      - name: One round of every monitor
        uses: lr-ci/lr-ci/actions/uptime@{pinned(commit)}
        with:
          state: .lr-ci/uptime.sqlite
          github-issues: "true"
        env:
          GITHUB_TOKEN: ${{{{ github.token }}}}
{credentials}          # UPTIME_WEBHOOK_SECRET: ${{{{ secrets.UPTIME_WEBHOOK_SECRET }}}}
      # Saved even when the round failed (an open incident fails the job): the next run must see the
      # incident and the alerts already sent, or it would alert again.
      - name: Save the state file
        if: always()
        uses: {CACHE_SAVE}
        with:
          path: .lr-ci
          key: lr-ci-uptime-${{{{ github.run_id }}}}-${{{{ github.run_attempt }}}}
"""
