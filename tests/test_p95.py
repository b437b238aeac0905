"""lr-ci p95 end to end: locust against two instances of the sample app, in a subprocess.

The command runs in its own process: locust monkey-patches the standard library with gevent, which must
not reach the test process. Runs are short (about 8 s each); the gate's statistics are tested on synthetic
samples in test_p95_stats.py and measured at full length in benchmarks/bench_p95.py.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from helpers.cli import ROOT, lr_ci_executable
from helpers.load_sensitive import LOAD_SENSITIVE
from helpers.opsapp_server import RunningApp

pytestmark = pytest.mark.slow

SHORT = """
[p95]
rate = 40
users = 8
rounds = 2
round_seconds = 1.5
warmup_seconds = 0.5
min_samples = 30
confirm = true
seed = 7
"""


def p95(
    tmp_path: Path, *args: str, config: str = SHORT, env: dict[str, str] | None = None
) -> tuple[int, Any, str]:
    path = tmp_path / "lr-ci.toml"
    path.write_text(config)
    done = subprocess.run(
        [lr_ci_executable(), "--config", str(path), "p95", "--format", "json", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, **(env or {})},
    )
    report = json.loads(done.stdout) if done.stdout.strip().startswith("{") else None
    return done.returncode, report, done.stderr


@LOAD_SENSITIVE
def test_identical_builds_pass(opsapp: Callable[..., RunningApp], tmp_path: Path) -> None:
    a, b = opsapp(latency_ms=20, jitter_ms=5), opsapp(latency_ms=20, jitter_ms=5)
    # Short rounds on a busy test machine are noisy: the confirmation (on in SHORT) keeps the gate quiet.
    code, report, err = p95(
        tmp_path,
        "--baseline",
        a.url,
        "--candidate",
        b.url,
    )
    assert code == 0, (err, report)
    route = report["metrics"]["routes"]["homepage"]
    assert route["verdict"] == "pass" and route["samples"]["candidate"] >= 30
    assert report["metrics"]["achieved_rps"]["candidate"] > 30


@LOAD_SENSITIVE
def test_a_slowed_candidate_fails_with_the_numbers(opsapp: Callable[..., RunningApp], tmp_path: Path) -> None:
    a, b = opsapp(latency_ms=20, jitter_ms=5), opsapp(latency_ms=40, jitter_ms=10)
    code, report, err = p95(
        tmp_path,
        "--baseline",
        a.url,
        "--candidate",
        b.url,
    )
    assert code == 1, (err, report)
    finding = report["findings"][0]
    assert finding["rule"] == "p95-regression" and "confirmed on re-measurement" in finding["message"]
    assert report["metrics"]["routes"]["homepage"]["ratio"] > 1.5


@LOAD_SENSITIVE
def test_warn_mode_reports_without_failing(opsapp: Callable[..., RunningApp], tmp_path: Path) -> None:
    a, b = opsapp(latency_ms=20, jitter_ms=5), opsapp(latency_ms=40, jitter_ms=10)
    code, report, _ = p95(
        tmp_path, "--baseline", a.url, "--candidate", b.url, config=SHORT + 'mode = "warn"\n'
    )
    assert code == 0 and report["findings"][0]["rule"] == "p95-regression"


def test_errors_under_load_fail(opsapp: Callable[..., RunningApp], tmp_path: Path) -> None:
    a, b = opsapp(), opsapp(error_rate=0.5)
    config = (
        SHORT
        + '[[p95.routes]]\npath = "/api/invoices"\nheaders = { Authorization = "Bearer opsapp-demo-token" }\n'
    )
    code, report, err = p95(tmp_path, "--baseline", a.url, "--candidate", b.url, config=config)
    assert code == 1, err
    finding = report["findings"][0]
    assert (
        finding["rule"] == "p95-errors"
        and "first error" in finding["message"]
        and "500" in finding["message"]
    )


def test_an_unreachable_candidate_fails_clearly(opsapp: Callable[..., RunningApp], tmp_path: Path) -> None:
    from helpers.asgi_server import unused_port_url

    a = opsapp()
    code, report, _ = p95(tmp_path, "--baseline", a.url, "--candidate", unused_port_url())
    assert code == 1
    message = report["findings"][0]["message"]
    assert "error rate 100.0%" in message and "first error" in message


@LOAD_SENSITIVE
def test_stored_baseline(opsapp: Callable[..., RunningApp], tmp_path: Path) -> None:
    app = opsapp(latency_ms=20, jitter_ms=5)
    stored = tmp_path / "p95-baseline.json"
    code, _, err = p95(tmp_path, "--candidate", app.url, "--save-baseline", str(stored))
    assert code == 0, err
    document = json.loads(stored.read_text())
    assert document["schema"] == "lr-ci.p95-baseline/1" and len(document["routes"]["homepage"]["rounds"]) == 2
    code, report, err = p95(tmp_path, "--candidate", app.url, "--baseline-file", str(stored))
    assert code == 0, (err, report)
    assert report["metrics"]["routes"]["homepage"]["baseline_p95_ms"] is not None


@LOAD_SENSITIVE
def test_routes_behind_login_reuse_the_smoke_flow(opsapp: Callable[..., RunningApp], tmp_path: Path) -> None:
    a, b = opsapp(), opsapp()
    login_flow = (
        (ROOT / "examples" / "opsapp" / "lr-ci.toml").read_text().split("[[smoke.flows.approve-invoice")[0]
    )
    config = (
        SHORT
        + 'login_flow = "login"\n[[p95.routes]]\npath = "/dashboard"\n'
        + login_flow.replace('base_url = "http://127.0.0.1:8000"\n', "")
    )
    env = {"OPS_USER": "ops", "OPS_PASSWORD": "ops-demo-password"}
    code, report, err = p95(tmp_path, "--baseline", a.url, "--candidate", b.url, config=config, env=env)
    assert code == 0, (err, report)
    assert report["metrics"]["routes"]["GET /dashboard"]["error_rate"]["candidate"] == 0.0
    assert "ops-demo-password" not in json.dumps(report) + err


@pytest.mark.parametrize(
    ("config", "args", "message"),
    [
        ("[p95]\nrounds = 'many'\n", ["--candidate", "http://127.0.0.1:9"], "lr-ci.toml:2: p95.rounds"),
        ("[p95]\n", [], "no candidate url"),
        ("[p95]\n", ["--candidate", "ftp://x"], "expected an http:// or https:// URL"),
        (
            "[p95]\n",
            ["--candidate", "http://127.0.0.1:9", "--baseline-file", "/nonexistent.json"],
            "cannot read the p95 baseline",
        ),
        ("[p95]\nlogin_flow = 'nope'\n", ["--candidate", "http://127.0.0.1:9"], "no such flow in [smoke]"),
        (
            "[p95]\nlocustfile = 'missing.py'\n",
            ["--candidate", "http://127.0.0.1:9", "--save-baseline", "b.json"],
            "locustfile missing.py: ",
        ),
        (
            "[p95]\nlocustfile = 'broken.py'\n",
            ["--candidate", "http://127.0.0.1:9", "--save-baseline", "b.json"],
            "locustfile broken.py: NameError: name 'undefined_name' is not defined",
        ),
        (
            "[p95]\nlocustfile = 'empty.py'\n",
            ["--candidate", "http://127.0.0.1:9", "--save-baseline", "b.json"],
            "locustfile empty.py: defines no User class",
        ),
    ],
)
def test_bad_input_is_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config: str, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)  # a locustfile's path is relative to the working directory
    (tmp_path / "broken.py").write_text("from locust import HttpUser\nundefined_name\n")
    (tmp_path / "empty.py").write_text("X = 1\n")
    code, _, err = p95(tmp_path, *args, config=config)
    assert code == 2 and message in err, err


API_LOGIN = """
[[p95.routes]]
path = "/"
name = "homepage"
[[p95.routes]]
path = "/api/invoices"
headers = { Authorization = "Bearer {token}" }

[[smoke.flows.api.steps]]
method = "POST"
path = "/api/token"
json = { username = "${OPS_USER}", password = "${OPS_PASSWORD}" }
capture = { token = { json = "$.token" } }
"""


@LOAD_SENSITIVE
def test_distributed_mode_with_two_local_workers(opsapp: Callable[..., RunningApp], tmp_path: Path) -> None:
    """Workers are re-aimed every round, with each side's own login (a bearer token captured per side)."""
    a, b = opsapp(latency_ms=20, jitter_ms=5), opsapp(latency_ms=40, jitter_ms=10)
    config = SHORT.replace("min_samples = 30", "min_samples = 20") + 'login_flow = "api"\n' + API_LOGIN
    env = {"OPS_USER": "ops", "OPS_PASSWORD": "ops-demo-password"}
    code, report, err = p95(
        tmp_path, "--baseline", a.url, "--candidate", b.url, "--workers", "2", config=config, env=env
    )
    assert code == 1, (err, report)
    routes = report["metrics"]["routes"]
    assert routes["homepage"]["verdict"] == "regression" and routes["homepage"]["samples"]["candidate"] >= 20
    assert routes["GET /api/invoices"]["error_rate"] == {"baseline": 0.0, "candidate": 0.0}
    assert 30 <= report["metrics"]["achieved_rps"]["candidate"] <= 50
    assert "ops-demo-password" not in json.dumps(report) + err


def unused_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_master_without_workers_says_how_to_start_them(
    opsapp: Callable[..., RunningApp], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = opsapp()
    config = SHORT
    code, _, err = p95(
        tmp_path,
        "--candidate",
        app.url,
        "--save-baseline",
        str(tmp_path / "b.json"),
        "--master",
        "--master-port",
        str(unused_port()),
        config=config,
        env={"LR_CI_P95_WORKER_WAIT": "1", "LR_CI_P95_CLUSTER_SECRET": "a-cluster-secret-of-32-chars-xx"},
    )
    assert code == 2 and "locust workers joined" in err and "--worker" in err
    assert "a-cluster-secret" not in err


LOCUSTFILE = (
    "from locust import HttpUser, constant_throughput, task\n\n"
    "class Ops(HttpUser):\n"
    "    wait_time = constant_throughput(5)\n\n"
    "    @task(3)\n"
    "    def health(self):\n"
    "        self.client.get('/healthz', name='health')\n\n"
    "    @task\n"
    "    def home(self):\n"
    "        self.client.get('/', name='home')\n"
)


@LOAD_SENSITIVE
def test_a_users_locustfile(opsapp: Callable[..., RunningApp], tmp_path: Path) -> None:
    a, b = opsapp(), opsapp()
    locustfile = tmp_path / "locustfile.py"
    locustfile.write_text(LOCUSTFILE)
    config = SHORT.replace("min_samples = 30", "min_samples = 10") + f'locustfile = "{locustfile}"\n'
    code, report, err = p95(tmp_path, "--baseline", a.url, "--candidate", b.url, config=config)
    assert code == 0, (err, report)
    assert set(report["metrics"]["routes"]) == {"health", "home"}


@LOAD_SENSITIVE
def test_a_users_locustfile_on_two_local_workers(opsapp: Callable[..., RunningApp], tmp_path: Path) -> None:
    """The workers load the same locustfile (from the same config); the master names routes by request."""
    a, b = opsapp(latency_ms=20, jitter_ms=5), opsapp(latency_ms=40, jitter_ms=10)
    locustfile = tmp_path / "locustfile.py"
    locustfile.write_text(LOCUSTFILE)
    config = SHORT.replace("min_samples = 30", "min_samples = 10") + f'locustfile = "{locustfile}"\n'
    code, report, err = p95(
        tmp_path, "--baseline", a.url, "--candidate", b.url, "--workers", "2", config=config
    )
    assert code == 1, (err, report)
    routes = report["metrics"]["routes"]
    assert set(routes) == {"health", "home"}
    assert routes["health"]["verdict"] == "regression" and routes["health"]["samples"]["candidate"] >= 10
