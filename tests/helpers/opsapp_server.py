"""Start the sample ops app (examples/opsapp) on a free loopback port, in its own process, and stop it."""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import time
from dataclasses import dataclass

import httpx

from helpers.cli import ROOT

OPSAPP_DIR = ROOT / "examples" / "opsapp"
START_TIMEOUT_S = 30.0


@dataclass
class RunningApp:
    url: str
    process: subprocess.Popen[str]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        for stream in (self.process.stdout, self.process.stderr):
            if stream:
                stream.close()


def start_opsapp(wait_ready: bool = True, **knobs: object) -> RunningApp:
    """Start the app with ``OPSAPP_<KNOB>`` set from ``knobs``; returns once it listens (and answers).

    ``port`` is not a knob but the port to listen on: 0 (the default) picks a free one; a given port
    restarts an app that was stopped there (the whole app down, then back where its monitors probe)."""
    port = knobs.pop("port", 0)
    env = {**os.environ, "PYTHONPATH": str(OPSAPP_DIR), "PYTHONUNBUFFERED": "1"}
    env.update({f"OPSAPP_{name.upper()}": str(value) for name, value in knobs.items()})
    process = subprocess.Popen(
        [sys.executable, "-m", "opsapp", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    if not selector.select(timeout=START_TIMEOUT_S):
        process.kill()
        raise RuntimeError("opsapp did not start listening in time")
    line = process.stdout.readline().strip()
    if not line.startswith("opsapp listening on "):
        process.kill()
        raise RuntimeError(
            f"opsapp failed to start: {line!r} {process.stderr.read() if process.stderr else ''}"
        )
    app = RunningApp(line.removeprefix("opsapp listening on "), process)
    if wait_ready:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                httpx.get(f"{app.url}/healthz", timeout=2.0)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    app.stop()
                    raise
                time.sleep(0.05)
    return app
