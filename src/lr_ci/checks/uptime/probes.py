"""The probes: one function per kind of target, settings in, one :class:`ProbeResult` out.

Why they are shaped this way:

- **Never raise for the target.** A refused connection, a hang, a 500, a bad certificate or a mail server
  that drops the line is the *answer* a monitor exists to record: it comes back as ``ok=False`` with an
  error class the rule and the report can group by (``refused``, ``timeout``, ``status``...). Only a bug in
  lr-ci raises; the round driver (``monitor.py``) still records even that as a failure.
- **Bounded by the timeout, whole.** The alert bound (``failures * interval + timeout``, ``rule.py``) holds
  only when a probe cannot outlive its timeout: HTTP goes through :func:`lr_ci._http.deadline` (a server
  that trickles a byte a second is cut too), flows get the run deadline, SMTP and TLS sockets get the time
  left before every step.
- **Masked text only.** ``error`` is a short sentence that went through ``mask`` (the run's
  :class:`~lr_ci.redact.Redactor`) and has the probe's own credentials replaced, so neither the store, the
  alert nor a log can carry an SMTP password or a flow's session token.
- **Settings are plain frozen dataclasses.** The ``[uptime]`` config layer (next) builds them after it has
  expanded ``${NAME}`` values; here they are values, so tests construct them directly.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import re
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from lr_ci.flows import _jsonpath

if TYPE_CHECKING:
    from lr_ci.flows.runner import FlowSet
    from lr_ci.redact import Redactor

MAX_ERROR_CHARS = 200
DEFAULT_TIMEOUT_S = 10.0
MAX_BODY_BYTES = 1 << 20
"""Bytes of a probed response body read at most: health pages are small; the rest is not read."""

Mask = Callable[[str], str]


def _keep(text: str) -> str:
    return text


@dataclass(frozen=True)
class ProbeResult:
    """What one probe saw. ``status`` is the HTTP status or the SMTP reply code that decided it (None when
    no answer came); ``error_class`` a short word to group failures by; ``error`` a masked sentence;
    ``elapsed_s`` the probe's own duration; ``detail`` numbers a report can show (a TLS probe's days
    left)."""

    ok: bool
    elapsed_s: float
    status: int | None = None
    error_class: str | None = None
    error: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


def _short(text: str, mask: Mask, secrets: tuple[str, ...] = ()) -> str:
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    text = " ".join(mask(text).split())
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def _failed(
    started: float,
    error_class: str,
    error: str,
    mask: Mask,
    *,
    status: int | None = None,
    secrets: tuple[str, ...] = (),
    detail: Mapping[str, Any] | None = None,
) -> ProbeResult:
    return ProbeResult(
        False,
        time.monotonic() - started,
        status,
        error_class,
        _short(error, mask, secrets),
        dict(detail or {}),
    )


# -- HTTP ------------------------------------------------------------------------------------------------

_CONDITION = re.compile(r"^\s*(?P<path>\$\S*)\s*(?P<op>==|!=|<=|>=|<|>)\s*(?P<value>.+?)\s*$")


@dataclass(frozen=True)
class JsonCondition:
    """``$.checks.database == "ok"``: a JSON path, an operator and a JSON literal."""

    path: str
    op: str
    value: Any

    @classmethod
    def parse(cls, text: str) -> JsonCondition:
        """Read a condition; ValueError saying why not (the config layer turns it into exit 2 at the key)."""
        match = _CONDITION.match(text)
        if match is None:
            raise ValueError(
                f'{text!r} is not a condition: write PATH OP VALUE, e.g. $.checks.database == "ok" '
                f"(OP one of == != < <= > >=, VALUE a JSON literal)"
            )
        path, op, raw = match["path"], match["op"], match["value"]
        try:
            _jsonpath.steps(path)
        except _jsonpath.PathError as exc:
            raise ValueError(str(exc)) from None
        try:
            value = json.loads(raw)
        except ValueError:
            raise ValueError(f'{text!r}: {raw} is not a JSON literal (quote strings: "ok")') from None
        if op in ("<", "<=", ">", ">=") and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ValueError(f"{text!r}: {op} compares numbers, and {raw} is not one")
        return cls(path, op, value)

    def problem(self, document: Any) -> str | None:
        """Why ``document`` does not satisfy the condition, or None."""
        try:
            actual = _jsonpath.get(document, self.path)
        except LookupError:
            return f"{self.path} is missing"
        shown = json.dumps(actual)[:60]
        if self.op in ("==", "!="):
            holds = (actual == self.value) == (self.op == "==")
        elif isinstance(actual, bool) or not isinstance(actual, (int, float)):
            return f"{self.path} is {shown}, not a number"
        else:
            holds = {
                "<": actual < self.value,
                "<=": actual <= self.value,
                ">": actual > self.value,
                ">=": actual >= self.value,
            }[self.op]
        return None if holds else f"{self.path} is {shown}, expected {self.op} {json.dumps(self.value)}"


@dataclass(frozen=True)
class HttpProbe:
    url: str
    method: str = "GET"
    status: int | tuple[int, ...] = 200
    body_contains: str | None = None
    json: tuple[JsonCondition, ...] = ()
    max_ms: float | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = DEFAULT_TIMEOUT_S
    verify: bool | str | ssl.SSLContext = True
    max_body_bytes: int = MAX_BODY_BYTES
    follow_redirects: bool = False


def probe_http(settings: HttpProbe, mask: Mask = _keep) -> ProbeResult:
    """One request through :mod:`lr_ci._http`, bounded whole by the timeout; then status, body text, JSON
    conditions and ``max_ms``, in that order (the first broken one is the error)."""
    import httpx

    from lr_ci import _http
    from lr_ci.flows.runner import json_body
    from lr_ci.flows.urls import userinfo_credentials

    started = time.monotonic()
    secrets = tuple(userinfo_credentials(settings.url))
    options = _http.ClientOptions(
        timeout_s=settings.timeout_s,
        verify=_verify(settings.verify),
        follow_redirects=settings.follow_redirects,
    )
    try:
        with _http.deadline(started + settings.timeout_s), _http.client(options) as client:
            request = client.build_request(settings.method, settings.url, headers=dict(settings.headers))
            response = client.send(request, stream=True)
            _http.read_capped(response, settings.max_body_bytes)
    except httpx.HTTPError as exc:
        error_class = _http_error_class(exc)
        return _failed(
            started, error_class, _http.describe_error(exc, settings.timeout_s), mask, secrets=secrets
        )
    elapsed = time.monotonic() - started
    code = response.status_code
    wanted = settings.status if isinstance(settings.status, tuple) else (settings.status,)
    if code not in wanted:
        expected = " or ".join(str(s) for s in wanted)
        return _failed(started, "status", f"HTTP {code}, expected {expected}", mask, status=code)
    if settings.body_contains is not None and settings.body_contains not in response.text:
        return _failed(
            started, "body", f"the body does not contain {settings.body_contains!r}", mask, status=code
        )
    if settings.json:
        try:
            document = json_body(response)
        except ValueError as exc:
            return _failed(started, "json", str(exc), mask, status=code)
        for condition in settings.json:
            problem = condition.problem(document)
            if problem is not None:
                return _failed(started, "json", problem, mask, status=code)
    if settings.max_ms is not None and elapsed * 1000 > settings.max_ms:
        return _failed(
            started,
            "slow",
            f"answered in {elapsed * 1000:.0f} ms, over max_ms {settings.max_ms:g}",
            mask,
            status=code,
        )
    return ProbeResult(True, elapsed, code)


@functools.cache
def _system_context() -> ssl.SSLContext:
    """The system's CA certificates, loaded once per process: building a context reads the whole bundle
    (milliseconds), which 500 HTTPS monitors would otherwise pay on every probe."""
    return ssl.create_default_context()


def _verify(verify: bool | str | ssl.SSLContext) -> bool | str | ssl.SSLContext:
    return _system_context() if verify is True else verify


def _http_error_class(exc: Exception) -> str:
    import httpx

    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    text = str(exc).lower()
    if isinstance(exc, httpx.ConnectError):
        if "refused" in text:
            return "refused"
        if "certificate" in text or "ssl" in text or "tls" in text:
            return "tls"
        return "connect"
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        return "protocol"
    return "http"


# -- flows -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlowProbe:
    flow: str
    base_url: str
    timeout_s: float = DEFAULT_TIMEOUT_S
    verify: bool | str | ssl.SSLContext = True


def probe_flow(settings: FlowProbe, flows: FlowSet, redactor: Redactor | None = None) -> ProbeResult:
    """The smoke flow ``settings.flow`` from ``flows`` (a :class:`~lr_ci.flows.runner.FlowSet`, e.g. the
    ``[smoke]`` settings) run once, the whole flow bounded by the timeout. Values it captures (a session
    token, a CSRF token) are registered with ``redactor`` as credentials before any text leaves, so an
    alert about a broken login never shows the password or the session."""
    from dataclasses import replace

    from lr_ci import _http
    from lr_ci.flows.runner import RunOptions, run_flow
    from lr_ci.flows.urls import userinfo_credentials

    started = time.monotonic()
    options = RunOptions(
        base_url=settings.base_url,
        client=_http.ClientOptions(timeout_s=settings.timeout_s, verify=_verify(settings.verify)),
        deadline=started + settings.timeout_s,
    )
    mask: Mask = _keep
    if redactor is not None:
        from lr_ci.redact import Redactor

        for credential in userinfo_credentials(settings.base_url):
            redactor.add_credential(credential)
        # What this run captures (a session, a CSRF token: new on every run) is masked by a redactor of
        # this probe only. Added to the monitor's redactor, two values a probe would pile up for as long as
        # the monitor runs, and each one recompiles its credential pattern, in time that grows with their
        # number: 0.6 s after 50 login probes, 6 s after 500 (benchmarks/bench_uptime.py found it).
        captured = Redactor()
        run_mask = redactor.scrub_text

        def mask(text: str) -> str:
            return captured.scrub_text(run_mask(text))

        # Response text is masked before it is cut into a message, as in `lr-ci smoke`.
        options = replace(
            options,
            on_secret=captured.add_credential,
            scrub=mask,
            reach=lambda: max(redactor.reach, captured.reach),
        )
    if settings.flow not in flows.flows:
        return _failed(started, "config", f"no flow named {settings.flow!r}", mask)
    result = run_flow(flows, settings.flow, options)
    elapsed = time.monotonic() - started
    broken = next((step for step in result.steps if step.status in ("fail", "error")), None)
    if broken is None:
        return ProbeResult(True, elapsed, None, detail={"steps": len(result.steps)})
    lowered = broken.message.lower()
    error_class = (
        "timeout"
        if "timed out" in lowered or "deadline" in lowered or "time budget" in lowered
        else "refused"
        if "refused" in lowered
        else "flow"
    )
    return _failed(
        started,
        error_class,
        f"step {broken.name}: {broken.message}",
        mask,
        status=broken.response_status,
        detail={"step": mask(broken.name)},
    )


# -- SMTP ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpProbe:
    host: str
    port: int = 587
    starttls: Literal["required", "optional", "off"] = "required"
    username: str | None = None
    password: str | None = None
    mail_from: str = "lr-ci-uptime@localhost"
    rcpt_to: str | None = None
    """The sink address the server must accept (RCPT TO); None stops after EHLO/STARTTLS/AUTH."""
    send_data: bool = False
    """Also send a small test message (DATA) to ``rcpt_to``, proving the server queues mail."""
    timeout_s: float = DEFAULT_TIMEOUT_S
    ca_file: str | None = None
    """A PEM file of CA certificates to trust for STARTTLS instead of the system's (an internal CA)."""
    server_name: str | None = None
    """The name the certificate must match (default ``host``)."""
    helo_name: str | None = None
    implicit_tls: bool = False
    """TLS from the first byte (SMTPS, port 465), verified against ``ca_file``/``server_name`` as STARTTLS
    is; ``starttls`` is then not asked (the line is already encrypted)."""


class _SmtpStepError(Exception):
    def __init__(self, error_class: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.error_class = error_class
        self.status = status


def probe_smtp(settings: SmtpProbe, mask: Mask = _keep) -> ProbeResult:
    """Connect, EHLO, STARTTLS, AUTH, MAIL FROM / RCPT TO the sink, optionally DATA, QUIT; every socket
    operation bounded by the time left. The password and user never appear in the error text (smtplib
    does not echo them, and they are replaced before ``mask`` in case a server does)."""
    started = time.monotonic()
    secrets = tuple(s for s in (settings.password, settings.username) if s)
    session = _SmtpSession(settings, started + settings.timeout_s)
    try:
        session.converse()
    except Exception as exc:
        failure = _smtp_failure(exc, session.step, settings.timeout_s)
        if failure is None:
            raise
        error_class, message, status = failure
        return _failed(started, error_class, message, mask, status=status, secrets=secrets)
    finally:
        session.close()
    return ProbeResult(True, time.monotonic() - started, 250)


class _SmtpSession:
    """One SMTP conversation; ``step`` names where it is, for the error text."""

    def __init__(self, settings: SmtpProbe, at: float) -> None:
        self.settings = settings
        self.at = at
        self.step = "connect"
        self.smtp: smtplib.SMTP | None = None

    def _left(self) -> float:
        remaining = self.at - time.monotonic()
        if remaining <= 0:
            raise _SmtpStepError("timeout", f"timed out after {self.settings.timeout_s:g} s ({self.step})")
        return remaining

    def _at(self, step: str) -> smtplib.SMTP:
        """Enter ``step`` with the socket bounded by the time left."""
        self.step = step
        assert self.smtp is not None
        if self.smtp.sock is not None:
            self.smtp.sock.settimeout(self._left())
        return self.smtp

    def converse(self) -> None:
        settings = self.settings
        if settings.implicit_tls:
            # SMTPS: the handshake is part of connecting; a server that speaks plain SMTP there answers
            # the ClientHello with its banner, which fails the handshake (error class ``tls``).
            self.step = "connect (implicit TLS)"
            self.smtp = smtplib.SMTP_SSL(
                timeout=self._left(),
                local_hostname=settings.helo_name,
                context=_tls_context(settings.ca_file),
            )
        else:
            self.smtp = smtplib.SMTP(timeout=self._left(), local_hostname=settings.helo_name)
        # The name TLS verifies the certificate against (smtplib sets it only when the constructor
        # connects, which would leave ``step`` unknown on failure).
        self.smtp._host = settings.server_name or settings.host  # type: ignore[attr-defined]
        self.smtp.connect(settings.host, settings.port)
        code, reply = self._at("EHLO").ehlo()
        if code != 250:
            raise _SmtpStepError("protocol", f"EHLO refused: {code} {_text(reply)}", code)
        if settings.starttls != "off" and not settings.implicit_tls:
            self._starttls()
        if settings.username is not None or settings.password is not None:
            smtp = self._at("AUTH")
            if not smtp.has_extn("auth"):
                raise _SmtpStepError("auth", "the server does not offer AUTH")
            self._login(smtp)
        if settings.rcpt_to is not None:
            code, reply = self._at("MAIL FROM").mail(settings.mail_from)
            if code != 250:
                raise _SmtpStepError("rejected", f"MAIL FROM refused: {code} {_text(reply)}", code)
            code, reply = self._at("RCPT TO").rcpt(settings.rcpt_to)
            if code not in (250, 251):
                raise _SmtpStepError("rejected", f"RCPT TO refused: {code} {_text(reply)}", code)
            if settings.send_data:
                self._at("DATA").data(_test_message(settings))
        smtp = self._at("QUIT")
        with contextlib.suppress(smtplib.SMTPException, OSError):
            smtp.quit()  # the checks passed; a server that drops the line on QUIT still works
        self.smtp = None

    def _login(self, smtp: smtplib.SMTP) -> None:
        """AUTH PLAIN (or LOGIN) once. ``smtplib.login`` tries every mechanism in turn after a refusal,
        and a server that stalls a client after a failed attempt makes a wrong password look like a hang."""
        offered = smtp.esmtp_features.get("auth", "").upper().split()
        mechanism = next((m for m in ("PLAIN", "LOGIN") if m in offered), None)
        if mechanism is None:
            raise _SmtpStepError("auth", f"the server offers no AUTH lr-ci speaks (PLAIN, LOGIN): {offered}")
        smtp.user, smtp.password = self.settings.username or "", self.settings.password or ""
        method = smtp.auth_plain if mechanism == "PLAIN" else smtp.auth_login
        smtp.auth(mechanism, method, initial_response_ok=True)

    def _starttls(self) -> None:
        smtp = self._at("STARTTLS")
        if not smtp.has_extn("starttls"):
            if self.settings.starttls == "required":
                raise _SmtpStepError("starttls", "the server does not offer STARTTLS (required)")
            return
        smtp.starttls(context=_tls_context(self.settings.ca_file))
        self._at("EHLO after STARTTLS").ehlo()

    def close(self) -> None:
        if self.smtp is not None:
            self.smtp.close()
            self.smtp = None


def _smtp_failure(exc: Exception, step: str, timeout_s: float) -> tuple[str, str, int | None] | None:
    """(error class, message, reply code) of an SMTP probe's failure; None for an exception that is a bug."""
    if isinstance(exc, _SmtpStepError):
        return exc.error_class, str(exc), exc.status
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return "auth", f"AUTH refused: {exc.smtp_code} {_text(exc.smtp_error)}", exc.smtp_code
    if isinstance(exc, smtplib.SMTPResponseException):
        return "rejected", f"{step} refused: {exc.smtp_code} {_text(exc.smtp_error)}", exc.smtp_code
    if isinstance(exc, smtplib.SMTPServerDisconnected) and "timed out" in str(exc):
        return "timeout", f"timed out after {timeout_s:g} s ({step})", None
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "protocol", f"{step}: the server closed the connection ({exc})", None
    if isinstance(exc, smtplib.SMTPException):
        return "protocol", f"{step}: {exc}", None
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "tls", f"{step}: certificate not accepted: {exc.verify_message or exc}", None
    if isinstance(exc, ssl.SSLError):
        return "tls", f"{step}: TLS failed: {exc.reason or exc}", None
    if isinstance(exc, TimeoutError):
        return "timeout", f"timed out after {timeout_s:g} s ({step})", None
    if isinstance(exc, ConnectionRefusedError):
        return "refused", "connection refused", None
    if isinstance(exc, OSError):
        return "connect", f"{step}: {exc.strerror or exc}", None
    return None


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def _tls_context(ca_file: str | None) -> ssl.SSLContext:
    if ca_file is None:
        return _system_context()
    from lr_ci import _http

    return _http.ca_bundle(ca_file)


def _test_message(settings: SmtpProbe) -> bytes:
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = settings.rcpt_to or ""
    message["Subject"] = "lr-ci uptime probe"
    message["Date"] = formatdate()
    message["Message-ID"] = make_msgid("lr-ci-uptime")
    message.set_content("A test message from lr-ci uptime's SMTP probe. It can be discarded.\n")
    return message.as_bytes()


# -- TLS -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TlsProbe:
    host: str
    port: int = 443
    min_days: float = 14.0
    """Fail when the certificate expires in fewer days than this."""
    timeout_s: float = DEFAULT_TIMEOUT_S
    ca_file: str | None = None
    server_name: str | None = None


def probe_tls(settings: TlsProbe, mask: Mask = _keep, now: Callable[[], float] = time.time) -> ProbeResult:
    """Connect, handshake (the chain and the name verified), and compare the days until the certificate's
    ``notAfter`` with ``min_days``: the alert comes weeks before browsers start refusing the site."""
    started = time.monotonic()
    at = started + settings.timeout_s
    try:
        context = _tls_context(settings.ca_file)
        with socket.create_connection((settings.host, settings.port), timeout=settings.timeout_s) as raw:
            raw.settimeout(max(0.001, at - time.monotonic()))
            with context.wrap_socket(raw, server_hostname=settings.server_name or settings.host) as tls:
                certificate = tls.getpeercert()
    except ssl.SSLCertVerificationError as exc:
        return _failed(started, "tls", f"certificate not accepted: {exc.verify_message or exc}", mask)
    except ssl.SSLError as exc:
        return _failed(started, "tls", f"TLS failed: {exc.reason or exc}", mask)
    except TimeoutError:
        return _failed(started, "timeout", f"timed out after {settings.timeout_s:g} s", mask)
    except ConnectionRefusedError:
        return _failed(started, "refused", "connection refused", mask)
    except OSError as exc:
        return _failed(started, "connect", f"cannot connect: {exc.strerror or exc}", mask)
    not_after = (certificate or {}).get("notAfter")
    if not isinstance(not_after, str):
        return _failed(started, "tls", "the server sent no certificate", mask)
    days = (ssl.cert_time_to_seconds(not_after) - now()) / 86_400
    detail = {"days_left": math.floor(days * 10) / 10, "not_after": not_after}
    if days < settings.min_days:
        return _failed(
            started,
            "expiring",
            f"the certificate expires in {days:.1f} days ({not_after}), under min_days {settings.min_days:g}",
            mask,
            detail=detail,
        )
    return ProbeResult(True, time.monotonic() - started, None, detail=detail)
