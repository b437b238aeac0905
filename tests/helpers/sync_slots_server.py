"""A real HTTP server on 127.0.0.1 with exactly N worker slots, like gunicorn's sync workers.

Each slot handles one request at a time; its service time is a ``time.sleep`` (CPU contention on a busy
test machine does not change it); a request that finds every slot busy waits for one, so a burst queues.
Run as ``python tests/helpers/sync_slots_server.py --slots 4 --service-ms 20``: it prints ``listening on URL`` and
serves until killed. :func:`start_sync_slots` starts one in its own process (its threads never compete
with the test's own reference client for the test process's interpreter lock).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

START_TIMEOUT_S = 20.0


def serve(slots: int, service_ms: float) -> None:
    free_slots = threading.BoundedSemaphore(slots)
    body = b"ok\n"

    class SlotHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a load generator's connection pool expects
        # Headers and body leave in two writes: with Nagle's algorithm the body would wait for the
        # client's delayed ACK (40 ms on Linux) now and then, a latency that is not the service time.
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            with free_slots:  # held for the whole request: a slot serves one request at a time
                time.sleep(service_ms / 1000.0)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256  # the listen backlog: connections wait, never refused

    server = Server(("127.0.0.1", 0), SlotHandler)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


@dataclass
class SyncSlotsServer:
    url: str
    process: subprocess.Popen[str]

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)
        if self.process.stdout:
            self.process.stdout.close()


def start_sync_slots(slots: int, service_ms: float) -> SyncSlotsServer:
    """Start a server in its own process; returns once it listens."""
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__)), "--slots", str(slots), "--service-ms", str(service_ms)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()  # bounded: the server prints this line first, or exits
    if not line.startswith("listening on "):
        process.kill()
        raise RuntimeError(f"sync slots server did not start: {line!r}")
    return SyncSlotsServer(line.removeprefix("listening on "), process)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--slots", type=int, required=True)
    parser.add_argument("--service-ms", type=float, required=True)
    arguments = parser.parse_args()
    serve(arguments.slots, arguments.service_ms)
