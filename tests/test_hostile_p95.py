"""Issue 11, the p95 gate: hostile locustfiles, options, configs and baselines, and the cluster's exposure.

Every test runs lr-ci in a bounded subprocess (tests/helpers/hostile.py) and asserts the exit code, one clear
``error:`` line (never a traceback), no credential in any output format, and for the input that could run
without bound (a locustfile whose import never ends) the process tree's peak memory. Runs that load a
target are kept to about a second of load.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from helpers.hostile import (
    PEAK_RSS_LIMIT,
    Measured,
    all_format_outputs,
    assert_one_clear_line,
    lr_ci_argv,
    run_measured,
)

pytestmark = pytest.mark.slow

TINY = """
[p95]
rate = 20
users = 2
rounds = 1
round_seconds = 1.0
warmup_seconds = 0.2
min_samples = 5
confirm = false
seed = 3
"""
UNREACHABLE = "http://127.0.0.1:9"
SECRET = "cluster-secret-0123456789abcdef"


def p95(
    tmp_path: Path,
    *args: str,
    config: str = TINY,
    env: dict[str, str] | None = None,
    timeout_s: float = 60.0,
) -> Measured:
    """``lr-ci --config ... p95 --format json ARGS`` in ``tmp_path``, every other format written too."""
    path = tmp_path / "lr-ci.toml"
    path.write_text(config)
    return run_measured(
        ["--config", str(path), "p95", "--format", "json", *args],
        cwd=tmp_path,
        env=env,
        timeout_s=timeout_s,
        outputs=all_format_outputs(tmp_path),
    )


def with_locustfile(tmp_path: Path, source: str, extra: str = "") -> str:
    (tmp_path / "lf.py").write_text(source)
    return TINY + 'locustfile = "lf.py"\n' + extra


def assert_error_report(result: Measured) -> None:
    """Exit 2 is the report's "error" status in every format written (never a pass)."""
    assert result.code == 2, (result.code, result.err)
    assert json.loads(result.out)["status"] == "error"
    assert json.loads(result.files["json"])["status"] == "error"


# -- 1. SystemExit and friends never make a pass -------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "said"),
    [
        ("raise SystemExit(0)\n", "SystemExit: 0"),
        ("import sys\nsys.exit()\n", "SystemExit"),
        ("raise KeyboardInterrupt\n", "KeyboardInterrupt"),
        ("class Odd(BaseException):\n    pass\nraise Odd('odd')\n", "Odd: odd"),
        ("import os\nos._exit(0)\n", "importing it ended the process"),
    ],
    ids=["SystemExit-0", "sys.exit", "KeyboardInterrupt", "BaseException", "os._exit"],
)
def test_a_locustfile_that_exits_on_import_is_exit_2(tmp_path: Path, source: str, said: str) -> None:
    config = with_locustfile(tmp_path, source)
    result = p95(tmp_path, "--candidate", UNREACHABLE, "--save-baseline", "b.json", config=config)
    assert_error_report(result)
    assert_one_clear_line(result, mentions=["locustfile lf.py", said])
    assert not (tmp_path / "b.json").exists()


TASK = """
from locust import HttpUser, constant, task

class Raiser(HttpUser):
    wait_time = constant(0.05)

    @task
    def boom(self):
        self.client.get("/")
        {raise_it}
"""


@pytest.mark.parametrize(
    "raise_it",
    ["raise SystemExit(0)", "raise KeyboardInterrupt", "raise ValueError('bad parse')"],
    ids=["SystemExit", "KeyboardInterrupt", "ValueError"],
)
def test_a_task_that_raises_is_exit_2_naming_the_line(tmp_path: Path, opsapp_url: str, raise_it: str) -> None:
    """Decided: any exception escaping a task (SystemExit included) is exit 2, the locustfile is broken."""
    config = with_locustfile(tmp_path, TASK.format(raise_it=raise_it))
    result = p95(tmp_path, "--candidate", opsapp_url, "--save-baseline", "b.json", config=config)
    assert_error_report(result)
    line = assert_one_clear_line(result, mentions=["locustfile lf.py", "a task raised", "lf.py:10 in boom"])
    assert raise_it.split()[1].split("(", maxsplit=1)[0] in line
    assert not (tmp_path / "b.json").exists()


def test_a_locustfile_that_sends_nothing_is_never_a_pass(tmp_path: Path) -> None:
    source = (
        "from locust import HttpUser, constant, task\n\n"
        "class Idle(HttpUser):\n"
        "    wait_time = constant(0.05)\n\n"
        "    @task\n"
        "    def nothing(self):\n"
        "        pass\n"
    )
    config = with_locustfile(tmp_path, source)
    result = p95(tmp_path, "--candidate", UNREACHABLE, "--save-baseline", "b.json", config=config)
    assert_error_report(result)
    assert_one_clear_line(result, mentions=["no request reached the candidate", "locustfile lf.py"])
    assert not (tmp_path / "b.json").exists()


# -- 2. a locustfile's import is bounded -----------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "while True:\n    pass\n",
        # One C call that never ends and never lets another thread run: only a process boundary stops it.
        "import itertools\nsum(itertools.count())\n",
        "import time\ntime.sleep(10**6)\n",
    ],
    ids=["busy-loop", "gil-holding-c-loop", "sleep"],
)
def test_a_locustfile_whose_import_never_ends_is_exit_2_in_bounded_time_and_memory(
    tmp_path: Path, source: str
) -> None:
    config = with_locustfile(tmp_path, source, "locustfile_timeout_s = 1.5\n")
    started = time.monotonic()
    result = p95(
        tmp_path, "--candidate", UNREACHABLE, "--save-baseline", "b.json", config=config, timeout_s=30
    )
    assert time.monotonic() - started < 15
    assert_error_report(result)
    assert_one_clear_line(result, mentions=["locustfile lf.py", "did not finish within 1.5 s"])
    assert result.peak_rss <= PEAK_RSS_LIMIT, result.peak_rss


@pytest.mark.parametrize(
    "source",
    ["hog = []\nwhile True:\n    hog.append(bytearray(1 << 20))\n", "x = ' ' * 10**10\n"],
    ids=["growing", "one-huge-allocation"],
)
def test_a_locustfile_whose_import_takes_all_memory_is_exit_2_within_the_bound(
    tmp_path: Path, source: str
) -> None:
    config = with_locustfile(tmp_path, source, "locustfile_timeout_s = 20\n")
    result = p95(
        tmp_path, "--candidate", UNREACHABLE, "--save-baseline", "b.json", config=config, timeout_s=30
    )
    assert_error_report(result)
    assert_one_clear_line(
        result, mentions=["locustfile lf.py", "its import needs more than 128 MiB of memory"]
    )
    assert result.peak_rss <= PEAK_RSS_LIMIT, result.peak_rss


def test_a_task_that_never_yields_is_exit_2_in_bounded_time(tmp_path: Path) -> None:
    """A task's busy loop never gives the load process back to gevent: the round's watchdog ends it."""
    source = (
        "from locust import HttpUser, constant, task\n\n"
        "class Spinner(HttpUser):\n"
        "    wait_time = constant(0.05)\n\n"
        "    @task\n"
        "    def spin(self):\n"
        "        while True:\n"
        "            pass\n"
    )
    config = with_locustfile(tmp_path, source)
    result = p95(
        tmp_path,
        "--candidate",
        UNREACHABLE,
        "--save-baseline",
        "b.json",
        config=config,
        env={"LR_CI_P95_ROUND_GRACE": "1.5"},
        timeout_s=30,
    )
    assert result.code == 2, result.err
    assert_one_clear_line(result, mentions=["locustfile lf.py: a round of load did not end within 1.7 s"])
    assert result.peak_rss <= PEAK_RSS_LIMIT, result.peak_rss


# -- 3. no credential of a URL is written down ------------------------------------------------------------


def test_save_baseline_writes_no_userinfo_or_query_credential(tmp_path: Path, opsapp_url: str) -> None:
    host = opsapp_url.split("://", 1)[1]
    password, token = "Pa55-w0rd-in-userinfo", "t0ken-in-the-query-string"
    candidate = f"http://ops-user:{password}@{host}/?access_token={token}"
    result = p95(tmp_path, "--candidate", candidate, "--save-baseline", "b.json")
    assert result.code == 0, result.err
    stored = (tmp_path / "b.json").read_text()
    assert json.loads(stored)["url"] == f"http://{host}/"
    for leaked in (password, token, "ops-user"):
        assert leaked not in stored
        assert leaked not in result.everything, leaked


def test_a_url_credential_is_masked_in_a_failing_run(tmp_path: Path) -> None:
    """Findings carry the candidate's URL: without its userinfo, in every format."""
    password = "An0ther-Pa55word"
    candidate = f"http://u:{password}@127.0.0.1:9"
    result = p95(tmp_path, "--candidate", candidate, "--save-baseline", "b.json")
    assert result.code == 1, result.err
    assert password not in result.everything
    assert json.loads(result.out)["findings"][0]["location"]["url"] == "http://127.0.0.1:9"
    assert password not in (tmp_path / "b.json").read_text()


def test_a_bad_url_with_a_credential_is_exit_2_without_it(tmp_path: Path) -> None:
    result = p95(tmp_path, "--candidate", "ftp://u:S3cret-Pass@host")
    assert_error_report(result)
    assert_one_clear_line(result, mentions=["--candidate-url", "expected an http:// or https:// URL"])
    assert "S3cret-Pass" not in result.everything


# -- 4. the master's exposure --------------------------------------------------------------------------


def _listening_addresses(pid: int) -> set[str]:
    """The local addresses of the TCP sockets ``pid`` listens on (from /proc, no tool needed)."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        return set()
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as handle:
            for row in handle.read().splitlines()[1:]:
                fields = row.split()
                if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                    found.add(fields[1].split(":")[0])
    return found


def test_local_workers_master_listens_on_loopback_only(tmp_path: Path, opsapp_url: str) -> None:
    (tmp_path / "lr-ci.toml").write_text(TINY)
    command = [
        *lr_ci_argv(),
        "--config",
        str(tmp_path / "lr-ci.toml"),
        "p95",
        "--candidate",
        opsapp_url,
        "--save-baseline",
        "b.json",
        "--workers",
        "1",
    ]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent / "src")}
    master = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    seen: set[str] = set()
    try:
        deadline = time.monotonic() + 60
        while master.poll() is None and time.monotonic() < deadline:
            seen |= _listening_addresses(master.pid)
            time.sleep(0.05)
        _, err = master.communicate(timeout=60)
    finally:
        if master.poll() is None:
            master.kill()
            master.wait()
    assert master.returncode == 0, err
    # 0100007F is 127.0.0.1 (little-endian hex); an IPv6 or 0.0.0.0 listener would show up too.
    assert seen and seen <= {"0100007F"}, seen


def test_a_master_needs_the_cluster_secret(tmp_path: Path) -> None:
    result = p95(tmp_path, "--candidate", UNREACHABLE, "--save-baseline", "b.json", "--master")
    assert_error_report(result)
    assert_one_clear_line(result, mentions=["--master needs LR_CI_P95_CLUSTER_SECRET"])


def test_a_worker_needs_the_cluster_secret(tmp_path: Path) -> None:
    result = p95(tmp_path, "--worker", "--master-port", "9", env={"LR_CI_P95_CLUSTER_SECRET": "short"})
    assert_error_report(result)
    assert_one_clear_line(result, mentions=["--worker needs LR_CI_P95_CLUSTER_SECRET", "at least 16"])


def test_a_worker_without_the_secret_stops_the_run_before_it_gets_anything(
    tmp_path: Path, opsapp_url: str
) -> None:
    """A stranger that reaches the master's port is challenged, fails, and the master stops (exit 2)."""
    from helpers.asgi_server import unused_port_url

    port = unused_port_url().rsplit(":", 1)[1].rstrip("/")
    (tmp_path / "worker.toml").write_text(TINY)
    stranger = subprocess.Popen(
        [*lr_ci_argv(), "--config", "worker.toml", "p95", "--worker", "--master-port", port],
        cwd=tmp_path,
        env={**os.environ, "LR_CI_P95_CLUSTER_SECRET": "not-the-masters-secret-at-all"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        result = p95(
            tmp_path,
            "--candidate",
            opsapp_url,
            "--save-baseline",
            "b.json",
            "--master",
            "--master-bind",
            "127.0.0.1",
            "--master-port",
            port,
            env={"LR_CI_P95_CLUSTER_SECRET": SECRET, "LR_CI_P95_WORKER_WAIT": "20"},
        )
    finally:
        stranger.kill()
        stranger.wait()
    assert_error_report(result)
    assert_one_clear_line(result, mentions=["joined without proving LR_CI_P95_CLUSTER_SECRET"])
    assert SECRET not in result.everything
    assert not (tmp_path / "b.json").exists()


@pytest.mark.parametrize("bind", ["127.0.0.1", "192.0.2.1"], ids=["port-in-use", "not-this-machine"])
def test_a_master_address_it_cannot_take_is_exit_2_naming_it(tmp_path: Path, bind: str) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = p95(
            tmp_path,
            "--candidate",
            UNREACHABLE,
            "--save-baseline",
            "b.json",
            "--master",
            "--master-bind",
            bind,
            "--master-port",
            port,
            env={"LR_CI_P95_CLUSTER_SECRET": SECRET},
        )
    assert_error_report(result)
    assert_one_clear_line(
        result, mentions=[f"--master-bind {bind} --master-port {port}: cannot listen there"]
    )


@pytest.mark.parametrize("host", ["not a host!", "999.1.1.1", ""])
def test_a_worker_with_a_master_it_cannot_name_is_exit_2(tmp_path: Path, host: str) -> None:
    result = p95(
        tmp_path,
        "--worker",
        "--master-host",
        host,
        "--master-port",
        "9",
        env={"LR_CI_P95_CLUSTER_SECRET": SECRET},
    )
    assert_error_report(result)
    assert_one_clear_line(result, mentions=[f"--master-host {host!r} --master-port 9: cannot resolve"])


# -- 5. bad options, config values and baselines ---------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--workers", "-3"], "--workers -3"),
        (["--rounds", "0"], "--rounds 0"),
        (["--master-port", "99999"], "--master-port 99999"),
        (["--master-port", "-1"], "--master-port -1"),
        (["--expect-workers", "0"], "--expect-workers 0"),
        (["--rate", "nan"], "--rate nan"),
        (["--rate", "inf"], "--rate inf"),
        (["--rate", "-5"], "--rate -5"),
        (["--round-seconds", "nan"], "--round-seconds nan"),
        (["--round-seconds", "-1"], "--round-seconds -1"),
        (["--master-bind", "every-interface"], "--master-bind 'every-interface'"),
    ],
)
def test_a_bad_option_is_exit_2_naming_it(tmp_path: Path, args: list[str], option: str) -> None:
    result = p95(tmp_path, "--candidate", UNREACHABLE, "--save-baseline", "b.json", *args)
    assert_error_report(result)
    assert_one_clear_line(result, mentions=[option])


@pytest.mark.parametrize(
    ("setting", "where"),
    [
        ("rate = nan", "p95.rate: Input should be a finite number"),
        ("rate = inf", "p95.rate: Input should be a finite number"),
        ("rate = -1", "p95.rate: Input should be greater than 0"),
        ("rate = true", "p95.rate: Input should be a valid number"),
        ('rate = "60"', "p95.rate: Input should be a valid number"),
        ("users = true", "p95.users: Input should be a valid integer"),
        ("users = 2.5", "p95.users: Input should be a valid integer"),
        ("round_seconds = -inf", "p95.round_seconds: Input should be a finite number"),
        ("timeout_s = nan", "p95.timeout_s: Input should be a finite number"),
        ("max_error_rate = 2", "p95.max_error_rate: Input should be less than or equal to 1"),
        ("alpha = 0", "p95.alpha: Input should be greater than 0"),
        ("budget_ms = true", "p95.budget_ms: Input should be a valid number"),
        ("locustfile_timeout_s = 0", "p95.locustfile_timeout_s: Input should be greater than 0"),
        ("confirm = 1", "p95.confirm: Input should be a valid boolean"),
        ('[[p95.routes]]\npath = "/"\nweight = 1.5', "p95.routes.0.weight: Input should be a valid integer"),
        ('[[p95.routes]]\npath = "/"\nbudget_ms = nan', "p95.routes.0.budget_ms: Input should be a finite"),
        (
            '[[p95.routes]]\npath = "https://other.example/x"',
            "p95.routes.0.path: Value error, 'https://other",
        ),
    ],
)
def test_a_bad_config_value_is_exit_2_at_its_line(tmp_path: Path, setting: str, where: str) -> None:
    config = "[p95]\n" + setting + "\n"
    line = config.count("\n", 0, config.index(setting.splitlines()[-1])) + 1
    result = p95(tmp_path, "--candidate", UNREACHABLE, "--save-baseline", "b.json", config=config)
    assert_error_report(result)
    assert_one_clear_line(result, mentions=[f"lr-ci.toml:{line}: {where}"])


def _baseline(**route: object) -> dict[str, object]:
    fields: dict[str, object] = {"requests": 10, "errors": 0, "rounds": [{"900": 10}], **route}
    return {
        "schema": "lr-ci.p95-baseline/1",
        "created_at": "2026-12-01T00:00:00Z",
        "url": "http://x",
        "routes": {"homepage": {k: v for k, v in fields.items() if v is not None}},
    }


@pytest.mark.parametrize(
    ("document", "where"),
    [
        (_baseline(requests=True), "routes.homepage.requests: Input should be a valid integer"),
        (_baseline(rounds="1,2,3"), "routes.homepage.rounds: Input should be a valid list"),
        (_baseline(rounds=[{"900": True}]), "routes.homepage.rounds.0.900: Input should be a valid integer"),
        (_baseline(rounds=[{"900": -4}]), "routes.homepage.rounds.0.900: Input should be greater than"),
        (_baseline(rounds=[{"x": 1}]), "routes.homepage.rounds.0.x.[key]: String should match pattern"),
        (_baseline(rounds=[{"99999999": 1}]), "routes.homepage.rounds.0.99999999.[key]"),
        (_baseline(rounds=[]), "routes.homepage.rounds: List should have at least 1 item"),
        (_baseline(errors=None), "routes.homepage.errors: Field required"),
        ({"schema": "lr-ci.p95-baseline/1", "created_at": "x", "url": "x"}, "routes: Field required"),
        ({**_baseline(), "routes": ["homepage"]}, "routes: Input should be a valid dictionary"),
    ],
)
def test_a_baseline_with_wrong_types_is_exit_2_naming_the_field(
    tmp_path: Path, document: dict[str, object], where: str
) -> None:
    (tmp_path / "stored.json").write_text(json.dumps(document))
    result = p95(tmp_path, "--candidate", UNREACHABLE, "--baseline-file", "stored.json")
    assert_error_report(result)
    assert_one_clear_line(result, mentions=["stored.json: the p95 baseline is not valid", where])


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                if text.encode() in handle.read():
                    found.append(int(pid))
        except OSError:
            continue
    return found


def test_a_real_ctrl_c_is_exit_130_and_stops_the_workers(tmp_path: Path, opsapp_url: str) -> None:
    """Only a real SIGINT is an interruption (a KeyboardInterrupt raised by a locustfile is exit 2)."""
    import signal

    config = tmp_path / "lr-ci.toml"
    config.write_text(TINY.replace("rounds = 1", "rounds = 20"))
    command = [*lr_ci_argv(), "--config", str(config), "p95", "--candidate", opsapp_url, "--workers", "1"]
    master = subprocess.Popen(
        [*command, "--save-baseline", "b.json"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        # SIGINT as from a terminal (a test runner may have it ignored, which children inherit).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
    )
    try:
        deadline = time.monotonic() + 30
        # Interrupt once the worker runs (it names the config file on its command line).
        while len(_processes_mentioning(str(config))) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        master.send_signal(signal.SIGINT)
        _, err = master.communicate(timeout=45)
    finally:
        if master.poll() is None:
            master.kill()
            master.wait()
    assert master.returncode == 130, err
    assert "Traceback" not in err and "aborted" in err
    deadline = time.monotonic() + 10
    while _processes_mentioning(str(config)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _processes_mentioning(str(config))


# Round 2.


def test_a_redirect_to_another_host_gets_no_login_credential(tmp_path: Path) -> None:
    """requests resent the login's cookies (set for no domain) and a route's X-Api-Key to any host."""
    from helpers.asgi_server import serve
    from helpers.hostile_servers import _answer, recording_app

    seen_there: list[dict[str, Any]] = []
    token, session = "t0k3n-from-login-123", "s3ss10n-cookie-456"

    def home(other: str) -> Any:
        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                return
            if scope["path"] == "/login":
                body = json.dumps({"token": token}).encode()
                await _answer(send, 200, body, [(b"set-cookie", f"sid={session}; Path=/".encode())])
            else:
                await _answer(send, 302, b"", [(b"location", f"{other}/landing".encode())])

        return app

    config = (
        TINY
        + 'login_flow = "login"\nroutes = [{ path = "/r", headers = { X-Api-Key = "{api_token}" } }]\n'
        + '[smoke.flows.login]\nsteps = [{ path = "/login", capture = { api_token = { json = "$.token" } } }]\n'
    )
    with serve(recording_app(seen_there)) as other, serve(home(other)) as url:
        result = p95(tmp_path, "--candidate", url, "--save-baseline", "b.json", config=config)
    assert result.code == 0, result.err
    assert seen_there, "the redirect was followed"
    for request in seen_there:
        assert "x-api-key" not in request["headers"] and "cookie" not in request["headers"], request
    assert token not in result.everything and session not in result.everything


@pytest.mark.parametrize("option", ["--baseline-file", "--save-baseline", "--save-baseline-folder"])
def test_a_baseline_path_that_is_not_a_regular_file_is_exit_2_before_any_load(
    tmp_path: Path, option: str
) -> None:
    """A FIFO hung the run for ever; a folder to save to failed only after the whole measurement."""
    fifo = tmp_path / "baseline.fifo"
    os.mkfifo(fifo)
    path = tmp_path if option.endswith("-folder") else fifo
    flag = option.removesuffix("-folder")
    result = p95(tmp_path, "--candidate", UNREACHABLE, flag, str(path), timeout_s=20)
    assert result.code == 2, result.everything
    assert_one_clear_line(result, mentions=[flag, "not a regular file"])
    assert result.seconds < 10


def test_an_endless_body_is_drained_not_held(tmp_path: Path) -> None:
    """requests held every body whole before locust timed it: two users on an endless one took 987 MiB."""
    from helpers.hostile_servers import endless_body, raw_server

    with raw_server(endless_body) as url:
        result = p95(tmp_path, "--candidate", url, "--save-baseline", "b.json")
    assert result.code == 1, result.everything  # every request failed: over the error rate
    assert "error rate" in result.everything
    assert result.peak_rss <= PEAK_RSS_LIMIT, result.peak_rss
