"""``python -m opsapp [--host H] [--port P]``: serve the app; port 0 picks a free port.

Prints ``opsapp listening on http://HOST:PORT`` once the socket is bound (before a slow start is over),
so a test or the demo knows where to reach it.
"""

from __future__ import annotations

import argparse
import socket
import sys

import uvicorn

from opsapp.app import create_app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opsapp")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    # IPPROTO_TCP explicitly: asyncio then sets TCP_NODELAY on accepted connections (no 40 ms Nagle stalls).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(512)
    host, port = sock.getsockname()[:2]
    print(f"opsapp listening on http://{host}:{port}", flush=True)
    config = uvicorn.Config(create_app(), log_level="warning", access_log=False, lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
