"""``[uptime]`` in lr-ci.toml, and the :class:`~lr_ci.checks.uptime.plan.Plan` built from it.

```toml
[uptime]
state = ".lr-ci/uptime.sqlite"   # relative to the config file's folder; --state overrides
owner = "ops team <ops@example.com>"
interval = "60s"                 # defaults of every monitor: seconds, or "90s" / "5m" / "1h" / "2d"
failures = 2
window = "5m"

[[uptime.monitors]]
name = "homepage"
url = "https://ops.example.com/"

[[uptime.notify]]
url = "slack://${SLACK_TOKEN_A}/${SLACK_TOKEN_B}/${SLACK_TOKEN_C}/#ops"
```

Why it is shaped this way:

- **One model, checked twice.** The pydantic model refuses what one table can say is wrong (a monitor
  with two kinds or none, a key of another kind of probe, a JSON condition that does not parse, a bad
  duration): ``lr-ci config check`` finds those too. What needs the whole table, the environment or
  another table (the rule with the table's defaults, duplicate names, an unknown ``[smoke]`` flow, an
  apprise URL apprise cannot use, a literal password) is judged by one function, :func:`plan_problems`:
  :func:`build_plan` raises the first before anything starts, as a :class:`~lr_ci.errors.SettingError`
  the run turns into exit 2 at that monitor's line, and ``lr-ci config check`` lists them all (the
  registry's ``validate``: :func:`config_problems`).
- **An impossible rule is refused, never run.** A monitor whose rule can never fire would stay silent
  through every outage for months: :meth:`Rule.problem` says why, at the monitor's line.
- **Credentials come from the environment, and only from there.** ``password`` and ``secret`` must be a
  ``${NAME}`` reference (a literal one would be committed with the file); every expanded value is
  registered with the run's redactor by the loader, and so are the parts of URLs that carry credentials
  (userinfo, apprise tokens) and credential headers, so no report, log, alert or state row shows them.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema

from lr_ci.config import SETTINGS_CONFIG
from lr_ci.errors import FieldError, LrCiError, RunEnvironmentSettingError, SettingError
from lr_ci.flows.model import HttpUrl

if TYPE_CHECKING:
    from lr_ci.checks.smoke.settings import SmokeSettings
    from lr_ci.checks.uptime.notify import Sent
    from lr_ci.checks.uptime.plan import Plan, PlannedMonitor, ProbeKind
    from lr_ci.checks.uptime.rule import Rule
    from lr_ci.checks.uptime.state import Delivery
    from lr_ci.config import ConfigFile
    from lr_ci.redact import Redactor

T = TypeVar("T")

MAX_DURATION_S = 366 * 86_400.0
"""No duration of a monitor is longer than a year: a bigger number is a typo (milliseconds for seconds)."""
CONTROL_NAME = "(control)"
"""The control target's name in the state file: parentheses keep it apart from any monitor's name."""
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0}
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*\Z")
_ENV_ONLY = re.compile(r"(?:\$\{[A-Za-z_][A-Za-z0-9_]*\})+\Z")
"""A credential's value as the file may hold it: ``${NAME}`` references only (``${USER_PART}${KEY}`` too)."""
_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+\Z")


def parse_duration(value: object) -> float:
    """Seconds from a number or a string ``"90s"`` / ``"5m"`` / ``"1h"`` / ``"2d"``; ValueError saying why
    not (the loader turns it into exit 2 at the key)."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string such as '90s', '5m', '1h', '2d'")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(
                f"{value[:40]!r} is not a duration: write a number of seconds or '90s', '5m', '1h', '2d'"
            )
        seconds = float(match[1]) * _UNITS[match[2]]
    else:
        raise ValueError("a duration is a number of seconds or a string such as '90s', '5m', '1h', '2d'")
    if not math.isfinite(seconds) or seconds <= 0 or seconds > MAX_DURATION_S:
        raise ValueError(f"a duration is above 0 and at most a year, not {seconds:g} s")
    return seconds


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0},
                {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*[smhd]\s*$"},
            ]
        }
    ),
]
"""Seconds: a number, or a string with a unit (``"90s"``, ``"5m"``, ``"1h"``, ``"2d"``)."""
Count = Annotated[int, Field(ge=1, le=10_000, strict=True)]
Name = Annotated[str, Field(min_length=1, max_length=200, strict=True)]


def _condition(text: str) -> str:
    from lr_ci.checks.uptime.probes import JsonCondition

    JsonCondition.parse(text)  # ValueError says why
    return text


def _host_port(text: str) -> str:
    host, _port = split_host_port(text, 1)
    if not host:
        raise ValueError(f"{text[:80]!r}: write host:port (the port may be left out)")
    return text


def _listen(text: str) -> str:
    from lr_ci.checks.uptime.listener import parse_listen

    parse_listen(text)  # ValueError says why
    return text


def split_host_port(text: str, default_port: int) -> tuple[str, int]:
    """``"mail.example.com:587"`` -> (host, port); ``[::1]:25`` for IPv6; the port defaults."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, ""
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65_536:
        raise ValueError(f"{text[:80]!r}: the port must be a number from 1 to 65535")
    return host, int(port_text)


Kind = Literal["url", "flow", "smtp", "tls"]
KINDS: tuple[Kind, ...] = ("url", "flow", "smtp", "tls")
_KIND_NAMES = {"url": "HTTP", "flow": "flow", "smtp": "SMTP", "tls": "TLS"}
_KIND_KEYS: dict[str, tuple[Kind, ...]] = {
    "method": ("url",),
    "status": ("url",),
    "body_contains": ("url",),
    "json": ("url",),
    "max_ms": ("url",),
    "headers": ("url",),
    "verify": ("url", "flow"),
    "starttls": ("smtp",),
    "implicit_tls": ("smtp",),
    "username": ("smtp",),
    "password": ("smtp",),
    "mail_from": ("smtp",),
    "rcpt_to": ("smtp",),
    "send_data": ("smtp",),
    "ca_file": ("smtp", "tls"),
    "min_days": ("tls",),
}
"""Which kinds of monitor each probe key applies to: a key of another kind is a mistake, said at once."""


@dataclass(frozen=True, kw_only=True)
class MonitorSettings:
    """One ``[[uptime.monitors]]``: exactly one of ``url``, ``flow``, ``smtp``, ``tls`` says its kind."""

    __pydantic_config__ = SETTINGS_CONFIG

    name: Name
    """Unique; alerts, reports and the state file name the monitor by it."""
    url: HttpUrl | None = None
    """An HTTP probe of this URL."""
    flow: Annotated[str | None, Field(min_length=1, strict=True)] = None
    """A flow of ``[smoke]`` used as a monitor (logs in every interval, its credentials masked)."""
    smtp: Annotated[str | None, AfterValidator(lambda v: v if v is None else _host_port(v))] = None
    """An SMTP probe of ``host:port`` (port 587 by default, 465 with ``implicit_tls``)."""
    tls: Annotated[str | None, AfterValidator(lambda v: v if v is None else _host_port(v))] = None
    """A TLS certificate probe of ``host:port`` (port 443 by default)."""
    owner: Annotated[str | None, Field(strict=True)] = None
    """Named in alerts (default: ``[uptime] owner``)."""
    interval: Duration | None = None
    timeout: Duration | None = None
    failures: Count | None = None
    window: Duration | None = None
    recover_after: Count | None = None
    renotify: Duration | None = None
    # HTTP
    method: Annotated[str | None, Field(pattern=r"^[A-Za-z]+$", strict=True)] = None
    """HTTP method (default GET)."""
    status: Annotated[int, Field(ge=100, le=599)] | list[Annotated[int, Field(ge=100, le=599)]] | None = None
    """The status (or statuses) that count as up (default 200)."""
    body_contains: Annotated[str | None, Field(strict=True)] = None
    json: list[Annotated[str, AfterValidator(_condition)]] | None = None
    """Conditions on the JSON body, e.g. ``$.checks.database == "ok"``."""
    max_ms: Annotated[float | None, Field(gt=0, le=MAX_DURATION_S * 1000)] = None
    """Slower than this is a failure."""
    headers: dict[str, str] | None = None
    """Request headers; values may be ``${NAME}`` (masked everywhere)."""
    verify: bool | str | None = None
    """Verify TLS (default true), or the path of a CA bundle to trust, or false."""
    # SMTP
    starttls: Literal["required", "optional", "off"] | None = None
    implicit_tls: bool | None = None
    """TLS from the first byte (SMTPS, port 465 by default)."""
    username: Annotated[str | None, Field(strict=True)] = None
    password: Annotated[str | None, Field(strict=True)] = None
    """Must be ``${NAME}``: credentials come from environment variables."""
    mail_from: Annotated[str | None, Field(strict=True)] = None
    rcpt_to: Annotated[str | None, Field(strict=True)] = None
    """A sink address the server must accept (RCPT TO)."""
    send_data: bool | None = None
    """Also send a small test message to ``rcpt_to``."""
    ca_file: Annotated[str | None, Field(strict=True)] = None
    """A PEM file of CA certificates to trust (relative to the config file's folder)."""
    # TLS
    min_days: Annotated[float | None, Field(ge=0, le=3650)] = None
    """Fail when the certificate expires in fewer days (default 14)."""

    @property
    def kind(self) -> Kind:
        return next(k for k in KINDS if getattr(self, k) is not None)

    def __post_init__(self) -> None:
        given = [k for k in KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            said = " and ".join(given) if given else "none of them"
            raise ValueError(
                f"monitor {self.name!r}: give exactly one of url, flow, smtp, tls (it has {said})"
            )
        kind = given[0]
        for key, kinds in _KIND_KEYS.items():
            if getattr(self, key) is not None and kind not in kinds:
                applies = " and ".join(_KIND_NAMES[k] for k in kinds)
                raise FieldError(
                    key, f"applies to {applies} monitors; {self.name!r} is a {_KIND_NAMES[kind]} monitor"
                )


@dataclass(frozen=True, kw_only=True)
class ControlSettings:
    """``[uptime.control]``: a target declared always up; when it fails too, the monitor lost its network."""

    __pydantic_config__ = SETTINGS_CONFIG

    url: HttpUrl
    """Probed like an HTTP monitor that passes on any HTTP answer (status < 500)."""
    interval: Duration | None = None
    """Default: the smallest monitor interval."""
    timeout: Duration | None = None
    """Default: that monitor's timeout."""


@dataclass(frozen=True, kw_only=True)
class NotifySettings:
    """One ``[[uptime.notify]]``: one of ``url`` (apprise), ``webhook`` (signed), ``github_issues``."""

    __pydantic_config__ = SETTINGS_CONFIG

    name: Annotated[str | None, Field(min_length=1, max_length=200, strict=True)] = None
    """A label for reports and the outbox (default: derived from the URL, without credentials)."""
    url: Annotated[str | None, Field(min_length=1, strict=True)] = None
    """Any apprise URL: slack://, msteams://, discord://, mailto://, ntfy://, pagerduty://, json://, ..."""
    webhook: HttpUrl | None = None
    """lr-ci's webhook: a JSON POST signed with HMAC-SHA256 (header X-Lr-Ci-Signature)."""
    secret: Annotated[str | None, Field(strict=True)] = None
    """The webhook's signing secret: must be ``${NAME}``."""
    github_issues: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")] | bool | None = None
    """``owner/repo``, or true for ``GITHUB_REPOSITORY``: one issue per incident (token: GITHUB_TOKEN)."""
    labels: list[str] = field(default_factory=list)
    """Labels of the issues opened (github_issues)."""
    timeout: Duration = 10.0
    """Per delivery attempt."""

    def __post_init__(self) -> None:
        given = [k for k in ("url", "webhook", "github_issues") if getattr(self, k) not in (None, False)]
        if len(given) != 1:
            said = " and ".join(given) if given else "none of them"
            raise ValueError(f"give exactly one of url, webhook, github_issues (this target has {said})")
        if self.secret is not None and given[0] != "webhook":
            raise FieldError("secret", "only a webhook target is signed with a secret")
        if given[0] == "webhook" and self.secret is None:
            raise FieldError("webhook", 'a webhook needs a secret = "${NAME}" to sign its requests with')
        if self.labels and given[0] != "github_issues":
            raise FieldError("labels", "labels apply to github_issues targets only")


@dataclass(frozen=True, kw_only=True)
class UptimeSettings:
    __pydantic_config__ = SETTINGS_CONFIG

    state: Annotated[str, Field(min_length=1, strict=True)] = ".lr-ci/uptime.sqlite"
    """The SQLite state file, relative to the config file's folder; ``--state`` overrides."""
    owner: Annotated[str | None, Field(strict=True)] = None
    """The owner alerts name (a monitor's ``owner`` overrides)."""
    base_url: HttpUrl | None = None
    """Where flow monitors run (else ``[smoke] base_url``); ``--base-url`` overrides."""
    interval: Duration = 60.0
    """A probe starts every interval (each monitor may override this and every default below)."""
    timeout: Duration = 10.0
    """A probe is stopped after this; never longer than the interval."""
    failures: Count = 2
    """Alert when at least this many probes failed within ``window``, consecutive or not."""
    window: Duration = 300.0
    recover_after: Count = 2
    """Consecutive successes that close an incident (the recovery notice says how long it lasted)."""
    renotify: Duration | None = None
    """A reminder this often while an incident is open (unset: none)."""
    retention: Duration = 2 * 86_400.0
    """Raw results are kept this long, then folded into hourly aggregates."""
    listen: Annotated[
        str | None, Field(strict=True), AfterValidator(lambda v: v if v is None else _listen(v))
    ] = None
    """``lr-ci uptime run`` serves /metrics and the live page here (``127.0.0.1:9310``; no authentication);
    ``--listen`` overrides. Unset: no listener."""
    control: ControlSettings | None = None
    monitors: list[MonitorSettings] = field(default_factory=list)
    notify: list[NotifySettings] = field(default_factory=list)


# -- the plan ----------------------------------------------------------------------------------------------


def _where(*loc: str | int) -> tuple[str | int, ...]:
    return ("uptime", *loc)


def _literal_credential(raw: Mapping[str, Any], loc: tuple[str | int, ...], key: str) -> SettingError | None:
    """A ``password`` / ``secret`` written in the file instead of read from the environment."""
    section: Any = raw
    for part in loc[1:]:
        try:
            section = section[part]
        except (KeyError, IndexError, TypeError):
            return None
    value = section.get(key) if isinstance(section, dict) else None
    if isinstance(value, str) and not _ENV_ONLY.match(value):
        return SettingError(
            (*loc, key),
            f'credentials come from environment variables: write {key} = "${{NAME}}" and set NAME '
            "(a value in the file would be committed with it)",
        )
    return None


def _resolve(path: str, folder: Path) -> str:
    candidate = Path(path).expanduser()
    return str(candidate if candidate.is_absolute() else folder / candidate)


def build_plan(
    settings: UptimeSettings,
    *,
    config: ConfigFile,
    smoke: SmokeSettings | None,
    redactor: Redactor,
    github_issues: bool = False,
    environ: Mapping[str, str] | None = None,
) -> Plan:
    """The plan the runners take: every probe bound to its settings, rules checked, targets built.

    Every problem is a :class:`SettingError` at the key's line (or an :class:`LrCiError` for an option),
    raised before anything is probed, stored or sent: the first of :func:`plan_problems`, the one function
    that judges what the table's model cannot (``lr-ci config check`` lists the same problems).
    """
    from lr_ci.checks.uptime.monitor import Monitor
    from lr_ci.checks.uptime.plan import Plan, PlannedMonitor

    environ = os.environ if environ is None else environ
    raw: Mapping[str, Any] = config.tables.get("uptime", {})
    problems = plan_problems(settings, raw=raw, smoke=smoke, github_issues=github_issues, environ=environ)
    if problems:
        raise problems[0]
    folder = config.path.resolve().parent if config.path is not None else Path.cwd()
    mask = redactor.scrub_text

    context = _Context(settings, smoke, redactor, folder)
    planned: list[PlannedMonitor] = []
    for index, monitor in enumerate(settings.monitors):
        rule = monitor_rule(monitor, settings)
        probe, target, kind = _bind_probe(monitor, rule, _where("monitors", index), context)
        owner = monitor.owner if monitor.owner is not None else settings.owner
        planned.append(PlannedMonitor(Monitor(monitor.name, probe, owner), rule, kind, mask(target)))

    control = _control(settings, planned, redactor) if settings.control is not None else None
    targets = _targets(settings, redactor, github_issues, environ)
    state = Path(_resolve(settings.state, folder))

    def notify(delivery: Delivery) -> Sent:
        from lr_ci.checks.uptime import notify as notifier

        target = targets.get(delivery.target)
        if target is None:
            return notifier.Sent(
                False, f"{delivery.target}: no such notification target in the config any more"
            )
        return notifier.deliver(delivery, target, mask)

    return Plan(
        monitors=tuple(planned),
        control=control,
        targets=tuple(targets),
        notify=notify,
        mask=mask,
        state_path=state,
        retention_s=settings.retention,
    )


def plan_problems(
    settings: UptimeSettings,
    *,
    raw: Mapping[str, Any],
    smoke: SmokeSettings | None,
    environ: Mapping[str, str],
    flows_known: bool = True,
    github_issues: bool = False,
) -> list[LrCiError]:
    """Every problem of ``[uptime]`` that its model cannot see alone, in the order a run meets them.

    The one place these are judged: :func:`build_plan` raises the first, ``lr-ci config check`` lists
    them all (:func:`config_problems`). Each monitor: a second monitor of one name, the control target's
    name, a literal ``password``, a rule that cannot fire once the table's defaults apply, a flow
    ``[smoke]`` does not define, a flow monitor without a base URL; then the control target's rule; then
    the notification targets: an apprise URL apprise cannot use, a literal webhook ``secret``, a GitHub
    issues target without its repository or token, two targets of one name. ``raw`` is the table as
    written (before ``${NAME}`` is read), where a literal credential shows; ``smoke`` is ``[smoke]``
    (None: no flows), ``flows_known`` False when ``[smoke]`` is invalid itself (its flows are unknown, so
    no flow name is judged). Problems of the machine or command line rather than of the file are
    :class:`RunEnvironmentSettingError`; ``--github-issues`` (``github_issues``) without what it needs is
    an :class:`LrCiError` naming the option.
    """
    problems: list[LrCiError] = []
    seen: dict[str, int] = {}
    rules: list[Rule] = []
    for index, monitor in enumerate(settings.monitors):
        loc = _where("monitors", index)
        if monitor.name in seen:
            problems.append(
                SettingError(
                    (*loc, "name"),
                    f"two monitors are named {monitor.name!r} (also monitor {seen[monitor.name] + 1})",
                )
            )
        elif monitor.name == CONTROL_NAME:
            problems.append(SettingError((*loc, "name"), f"{CONTROL_NAME!r} is the control target's name"))
        else:
            seen[monitor.name] = index
        if monitor.password is not None:
            literal = _literal_credential(raw, loc, "password")
            if literal is not None:
                problems.append(literal)
        rule = monitor_rule(monitor, settings)
        problem = rule.problem()
        if problem is not None:
            problems.append(SettingError(loc, f"monitor {monitor.name!r}: {problem}"))
        else:
            rules.append(rule)
        if monitor.flow is not None and flows_known:
            problems += _flow_problems(monitor.flow, loc, settings, smoke)
    if settings.control is not None:
        problem = _control_rule(settings, rules).problem()
        if problem is not None:
            problems.append(SettingError(_where("control"), f"the control target: {problem}"))
    problems += _target_problems(settings, raw, github_issues, environ)
    return problems


def config_problems(config: ConfigFile, tables: Mapping[str, object | None]) -> list[SettingError]:
    """``[uptime]``'s cross-table validation for ``lr-ci config check`` (the registry's ``validate``):
    :func:`plan_problems` of the validated tables, with this machine's environment. None of a run's
    options is given here, so a problem an option could solve (no base URL: ``--base-url``) is one of the
    run's environment, a warning there."""
    from lr_ci.checks.smoke.settings import SmokeSettings

    settings = tables.get("uptime")
    if not isinstance(settings, UptimeSettings):
        return []
    smoke = tables.get("smoke")
    raw = config.tables.get("uptime", {})
    found = plan_problems(
        settings,
        raw=raw if isinstance(raw, Mapping) else {},
        smoke=smoke if isinstance(smoke, SmokeSettings) else None,
        flows_known=smoke is not None,
        environ=os.environ,
    )
    return [problem for problem in found if isinstance(problem, SettingError)]


def monitor_rule(monitor: MonitorSettings, settings: UptimeSettings) -> Rule:
    """The monitor's alert rule: its own values over the table's defaults."""
    from lr_ci.checks.uptime.rule import Rule

    interval = _pick(monitor.interval, settings.interval)
    failures = _pick(monitor.failures, settings.failures)
    window = _pick(monitor.window, settings.window)
    if monitor.window is None and monitor.interval is not None and (failures - 1) * interval >= window:
        # The table's window is a default for monitors at the table's pace: a monitor that sets a
        # slower interval of its own (a certificate checked hourly) gets a window its failures fit in.
        window = failures * interval
    return Rule(
        interval=interval,
        timeout=_pick(monitor.timeout, settings.timeout),
        failures=failures,
        window=window,
        recover_after=_pick(monitor.recover_after, settings.recover_after),
        renotify=monitor.renotify if monitor.renotify is not None else settings.renotify,
    )


def _flow_problems(
    flow: str, loc: tuple[str | int, ...], settings: UptimeSettings, smoke: SmokeSettings | None
) -> list[LrCiError]:
    """A flow monitor needs its flow in ``[smoke]`` and a base URL to run it at."""
    if smoke is None or flow not in smoke.flows:
        known = ", ".join(sorted(smoke.flows)) if smoke is not None and smoke.flows else "none"
        return [SettingError((*loc, "flow"), f"no flow named {flow!r} in [smoke] (its flows: {known})")]
    if (settings.base_url or smoke.base_url) is None:
        return [
            RunEnvironmentSettingError(
                (*loc, "flow"),
                "a flow monitor needs a base URL: set [uptime] base_url or [smoke] base_url (or --base-url)",
            )
        ]
    return []


def _control_rule(settings: UptimeSettings, rules: Sequence[Rule]) -> Rule:
    """The control target's rule: probed at least as often as the most frequent monitor (so the alert
    bound holds with it, ``rule.py``), failing at its first failure."""
    from lr_ci.checks.uptime.rule import Rule

    control = settings.control
    assert control is not None
    fastest = min(rules, key=lambda rule: rule.interval, default=None)
    interval = control.interval or (fastest.interval if fastest else settings.interval)
    timeout = control.timeout or (fastest.timeout if fastest else settings.timeout)
    return Rule(interval=interval, timeout=timeout, failures=1, window=interval)


def _target_problems(
    settings: UptimeSettings, raw: Mapping[str, Any], github_issues: bool, environ: Mapping[str, str]
) -> list[LrCiError]:
    """The notification targets' problems; their ids as :func:`_targets` gives them, each once."""
    problems: list[LrCiError] = []
    names: set[str] = set()

    def add(name: str, loc: tuple[str | int, ...]) -> None:
        if name in names:
            problems.append(
                SettingError(
                    loc, f'two notification targets are called {name!r}: give each a different name = "..."'
                )
            )
        names.add(name)

    for loc, entry in _senders(settings):
        if entry.url is not None:
            from lr_ci.checks.uptime import notify  # only then: `config check` of a file without any

            problem = notify.apprise_url_problem(entry.url)
            if problem is not None:
                # apprise not installed here is the machine's problem; a URL apprise refuses, the file's
                missing = problem.endswith(notify.APPRISE_MISSING)
                kind = RunEnvironmentSettingError if missing else SettingError
                problems.append(kind((*loc, "url"), problem))
                continue
        else:
            literal = _literal_credential(raw, loc, "secret")
            if literal is not None:
                problems.append(literal)
                continue
        add(entry.name or _sender_id(entry), loc)
    for loc, github_entry in _github_entries(settings, github_issues):
        repository = _github_repository(github_entry, environ)
        if repository is None:
            problems.append(_github_problem(loc, github_entry, "GITHUB_REPOSITORY is not set to owner/repo"))
            continue
        if not environ.get("GITHUB_TOKEN", ""):
            problems.append(
                _github_problem(loc, github_entry, "GITHUB_TOKEN is not set (the issues are opened with it)")
            )
            continue
        name = _github_name(github_entry, repository)
        if github_entry is None and name in names:
            continue  # --github-issues for the repository [uptime.notify] already names
        add(name, loc)
    return problems


def _pick(value: T | None, default: T) -> T:
    """A monitor's own value, else the table's default."""
    return default if value is None else value


BoundProbe = tuple[Callable[[], Any], str, "ProbeKind"]
"""The monitor's probe as a closure over its settings, what it probes (for reports), its kind."""


@dataclass(frozen=True)
class _Context:
    """What binding a probe needs beside the monitor's own keys."""

    settings: UptimeSettings
    smoke: SmokeSettings | None
    redactor: Redactor
    folder: Path


def _bind_probe(
    monitor: MonitorSettings, rule: Rule, loc: tuple[str | int, ...], context: _Context
) -> BoundProbe:
    binders = {"url": _http_probe, "flow": _flow_probe, "smtp": _smtp_probe, "tls": _tls_probe}
    return binders[monitor.kind](monitor, rule.timeout, loc, context)


def _http_probe(
    monitor: MonitorSettings, timeout: float, loc: tuple[str | int, ...], context: _Context
) -> BoundProbe:
    from lr_ci.checks.uptime import probes
    from lr_ci.config import CREDENTIAL_NAME
    from lr_ci.flows.urls import userinfo_credentials, without_userinfo

    assert monitor.url is not None
    redactor, mask = context.redactor, context.redactor.scrub_text
    for credential in userinfo_credentials(monitor.url):
        redactor.add_credential(credential)
    headers = dict(monitor.headers or {})
    for header, value in headers.items():
        if CREDENTIAL_NAME.search(header) or header.lower() in ("cookie", "proxy-authorization"):
            redactor.add_credential(value)
            scheme, _, token = value.partition(" ")
            if token and scheme.isalpha():
                redactor.add_credential(token)
    status = monitor.status if monitor.status is not None else 200
    verify = monitor.verify if monitor.verify is not None else True
    http = probes.HttpProbe(
        monitor.url,
        method=(monitor.method or "GET").upper(),
        status=tuple(status) if isinstance(status, list) else status,
        body_contains=monitor.body_contains,
        json=tuple(probes.JsonCondition.parse(c) for c in monitor.json or ()),
        max_ms=monitor.max_ms,
        headers=headers,
        timeout_s=timeout,
        verify=_resolve(verify, context.folder) if isinstance(verify, str) else verify,
    )
    return (lambda: probes.probe_http(http, mask)), without_userinfo(monitor.url), "http"


def _flow_probe(
    monitor: MonitorSettings, timeout: float, loc: tuple[str | int, ...], context: _Context
) -> BoundProbe:
    from lr_ci.checks.uptime import probes
    from lr_ci.flows.urls import userinfo_credentials, without_userinfo

    smoke, redactor = context.smoke, context.redactor
    assert monitor.flow is not None and smoke is not None  # plan_problems: the flow and a base URL exist
    base_url = context.settings.base_url or smoke.base_url
    assert base_url is not None
    for credential in userinfo_credentials(base_url):
        redactor.add_credential(credential)
    verify: bool | str = smoke.verify_tls if smoke.ca_bundle is None else smoke.ca_bundle
    if monitor.verify is not None:
        verify = (
            _resolve(monitor.verify, context.folder) if isinstance(monitor.verify, str) else monitor.verify
        )
    flow = probes.FlowProbe(monitor.flow, base_url, timeout_s=timeout, verify=verify)
    flows = smoke
    target = f"{without_userinfo(base_url)} (flow {monitor.flow})"
    return (lambda: probes.probe_flow(flow, flows, redactor)), target, "flow"


def _smtp_probe(
    monitor: MonitorSettings, timeout: float, loc: tuple[str | int, ...], context: _Context
) -> BoundProbe:
    from lr_ci.checks.uptime import probes

    assert monitor.smtp is not None
    mask = context.redactor.scrub_text
    host, port = split_host_port(monitor.smtp, 465 if monitor.implicit_tls else 587)
    extra: dict[str, Any] = {}
    if monitor.implicit_tls:
        extra["implicit_tls"] = True
    if monitor.password:
        context.redactor.add_credential(monitor.password)
    smtp = probes.SmtpProbe(
        host,
        port,
        starttls=monitor.starttls or "required",
        username=monitor.username,
        password=monitor.password,
        mail_from=monitor.mail_from or "lr-ci-uptime@localhost",
        rcpt_to=monitor.rcpt_to,
        send_data=bool(monitor.send_data),
        timeout_s=timeout,
        ca_file=_resolve(monitor.ca_file, context.folder) if monitor.ca_file else None,
        **extra,
    )
    return (lambda: probes.probe_smtp(smtp, mask)), f"smtp://{host}:{port}", "smtp"


def _tls_probe(
    monitor: MonitorSettings, timeout: float, loc: tuple[str | int, ...], context: _Context
) -> BoundProbe:
    from lr_ci.checks.uptime import probes

    assert monitor.tls is not None
    mask = context.redactor.scrub_text
    host, port = split_host_port(monitor.tls, 443)
    tls = probes.TlsProbe(
        host,
        port,
        min_days=monitor.min_days if monitor.min_days is not None else 14.0,
        timeout_s=timeout,
        ca_file=_resolve(monitor.ca_file, context.folder) if monitor.ca_file else None,
    )
    return (lambda: probes.probe_tls(tls, mask)), f"tls://{host}:{port}", "tls"


def _control(
    settings: UptimeSettings, planned: Sequence[PlannedMonitor], redactor: Redactor
) -> PlannedMonitor:
    """The always-up target: an HTTP probe that passes on any answer below 500, probed at least as often as
    the most frequent monitor (so the alert bound holds with it, ``rule.py``)."""
    from lr_ci.checks.uptime import probes
    from lr_ci.checks.uptime.monitor import Monitor
    from lr_ci.checks.uptime.plan import PlannedMonitor
    from lr_ci.flows.urls import userinfo_credentials, without_userinfo

    control = settings.control
    assert control is not None
    rule = _control_rule(settings, [monitor.rule for monitor in planned])  # plan_problems: it can fire
    timeout = rule.timeout
    for credential in userinfo_credentials(control.url):
        redactor.add_credential(credential)
    http = probes.HttpProbe(control.url, status=tuple(range(100, 500)), timeout_s=timeout)
    mask = redactor.scrub_text
    return PlannedMonitor(
        Monitor(CONTROL_NAME, lambda: probes.probe_http(http, mask)),
        rule,
        "http",
        mask(without_userinfo(control.url)),
    )


def _targets(
    settings: UptimeSettings, redactor: Redactor, github_issues: bool, environ: Mapping[str, str]
) -> dict[str, Any]:
    """Target id -> what :func:`notify.deliver` sends to; ids unique and free of credentials (the
    targets :func:`plan_problems` found nothing wrong with, in the same order)."""
    targets: dict[str, Any] = {}
    for _loc, entry in _senders(settings):
        targets[entry.name or _sender_id(entry)] = _sender(entry, redactor)
    for _loc, github_entry in _github_entries(settings, github_issues):
        repository = _github_repository(github_entry, environ)
        assert repository is not None
        name = _github_name(github_entry, repository)
        if github_entry is None and name in targets:
            continue  # --github-issues for the repository [uptime.notify] already names
        targets[name] = _github_target(github_entry, repository, redactor, environ)
    return targets


def _senders(settings: UptimeSettings) -> list[tuple[tuple[str | int, ...], NotifySettings]]:
    """The apprise URL and webhook targets with their places in the table."""
    entries = [(_where("notify", index), entry) for index, entry in enumerate(settings.notify)]
    return [(loc, entry) for loc, entry in entries if entry.github_issues in (None, False)]


def _github_entries(
    settings: UptimeSettings, github_issues: bool
) -> list[tuple[tuple[str | int, ...], NotifySettings | None]]:
    """The GitHub issues targets, after the others: each ``github_issues`` entry, then ``--github-issues``
    (None)."""
    entries: list[tuple[tuple[str | int, ...], NotifySettings | None]] = [
        (_where("notify", index), entry)
        for index, entry in enumerate(settings.notify)
        if entry.github_issues not in (None, False)
    ]
    if github_issues:
        entries.append((_where(), None))
    return entries


def _sender_id(entry: NotifySettings) -> str:
    """The default id of an apprise URL (its scheme) or a signed webhook (its host)."""
    from urllib.parse import urlsplit

    from lr_ci.checks.uptime import notify

    if entry.url is not None:
        return notify.public(entry.url)
    assert entry.webhook is not None
    split = urlsplit(entry.webhook)
    return f"webhook:{split.hostname}{f':{split.port}' if split.port else ''}"


def _sender(entry: NotifySettings, redactor: Redactor) -> Any:
    """The target of an apprise URL or a signed webhook; its credentials registered with the redactor."""
    from lr_ci.checks.uptime import notify
    from lr_ci.flows.urls import userinfo_credentials

    if entry.url is not None:
        redactor.add_credential(entry.url)  # its tokens from ${NAME} are registered by the loader
        return notify.AppriseTarget(entry.url, timeout_s=entry.timeout)
    assert entry.webhook is not None and entry.secret is not None
    redactor.add_credential(entry.secret)
    for credential in userinfo_credentials(entry.webhook):
        redactor.add_credential(credential)
    return notify.WebhookTarget(entry.webhook, entry.secret, timeout_s=entry.timeout)


def _github_repository(entry: NotifySettings | None, environ: Mapping[str, str]) -> str | None:
    """``owner/repo`` of a GitHub issues target (``true`` and ``--github-issues``: GITHUB_REPOSITORY), or
    None when the environment does not say."""
    repository = entry.github_issues if entry is not None else True
    if repository is True:
        repository = environ.get("GITHUB_REPOSITORY", "")
        return repository if _REPOSITORY.match(repository) else None
    return str(repository)


def _github_name(entry: NotifySettings | None, repository: str) -> str:
    return entry.name if entry is not None and entry.name else f"github:{repository}"


def _github_target(
    entry: NotifySettings | None, repository: str, redactor: Redactor, environ: Mapping[str, str]
) -> Any:
    """A GitHub issues target: ``[[uptime.notify]] github_issues`` or ``--github-issues``."""
    from lr_ci.checks.uptime import notify

    token = environ["GITHUB_TOKEN"]  # plan_problems: it is set
    redactor.add_credential(token)
    labels = tuple(entry.labels) if entry is not None else ("uptime",)
    api_url = environ.get("GITHUB_API_URL") or "https://api.github.com"  # GitHub Enterprise sets it
    return notify.GithubIssuesTarget(repository, token, labels=labels, api_url=api_url)


def _github_problem(loc: tuple[str | int, ...], entry: NotifySettings | None, problem: str) -> LrCiError:
    """What the environment lacks for a GitHub issues target: a problem of the machine, not of the file."""
    if entry is None:
        return LrCiError(f"--github-issues: {problem}")
    return RunEnvironmentSettingError((*loc, "github_issues"), problem)
